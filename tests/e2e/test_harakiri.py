"""
harakiri and slowlog through the real nginx, with tests/apps/slow_app.py
behind (1 process of 1 thread, and 2 of 2): a request stuck past the
harakiri limit has its worker's Python stacks logged (naming the view
that was running), its worker killed and replaced, nginx answers 502 for
that request alone; a request past slowlog has its stacks logged once and
completes; two workers stuck at once log their stacks as two whole
blocks.
"""

import re
import threading
import time

from conftest import slow_app_stack, status_json
from e2elib import (APPS_DIR, http_request, log_since, log_size,
                    wait_children, wait_until)

APP = ['--chdir', APPS_DIR, '--module', 'slow_app']
HARAKIRI_LINE = re.compile(
    r'harakiri: worker (\d+) pid (\d+): GET /stuck running for '
    r'(\d+\.\d) s \(limit 2 s\): its Python stacks follow')


def make_site(request, tmp, server_cmd, processes, threads, args):
    stack = slow_app_stack(request, tmp, server_cmd, processes, threads,
                           ['--status-path', '/fcgi-status'] + args)
    wait_children(stack.server, processes, 10, logs=stack.logs)
    return stack


def wait_log(stack, mark, pattern, timeout=10.0):
    """The log since mark, once pattern is in it (bounded)."""
    def text():
        got = log_since(stack.server_log, mark)
        return got if re.search(pattern, got) else None

    return wait_until(text, timeout, lambda: (pattern, stack.logs()))


def test_harakiri_kills_and_replaces(request, tmp, server_cmd, nginx_bin,
                                     shape):
    site = make_site(request, tmp, server_cmd, *shape, ['--harakiri', 2])
    kids = site.server.children()
    mark = log_size(site.server_log)

    started = time.monotonic()
    resp = http_request(site.port, 'GET', '/stuck', timeout=30)
    took = time.monotonic() - started
    assert resp.status == 502, (resp, site.logs())
    assert 2.0 <= took < 6.0, (took, site.logs())

    text = wait_log(site, mark, r'was killed by signal 9')
    match = HARAKIRI_LINE.search(text)
    assert match, text
    victim = int(match.group(2))
    assert victim in kids, (victim, kids)
    assert 2.0 <= float(match.group(3)) < 3.0, match.group(0)
    # the stacks follow the line, and name the view that was stuck
    stacks = text[match.end():]
    assert re.search(r'File ".*slow_app\.py", line \d+ in stuck_view',
                     stacks), text
    assert 'in application' in stacks, text
    assert text.count('harakiri: worker') == 1, text
    assert re.search(r'worker \d+ \(pid %d\) was killed by signal 9 '
                     r'\(Killed\) after [\d.]+ s; it was serving GET /stuck'
                     % victim, text), text

    # replaced; every request after it is served
    new = wait_children(site.server, len(kids), 10, exclude=[victim],
                        logs=site.logs)
    for _ in range(10):
        resp = http_request(site.port, 'GET', '/pid')
        assert resp.status == 200, (resp, site.logs())
        assert int(resp.text) in new, (resp.text, new)
    page = status_json(site)
    assert page['harakiri_kills'] == 1, page
    assert victim not in [w['pid'] for w in page['workers']], page


def running_for(stack, uri):
    """Seconds the request for uri has been running, from the status page
    (None when it is not running)."""
    for worker in status_json(stack)['workers']:
        for thread in worker['threads']:
            if thread.get('request_uri') == uri:
                return thread['request_duration_us'] / 1e6
    return None


def test_harakiri_lets_the_other_threads_finish(request, tmp, server_cmd,
                                                nginx_bin):
    """One process of two threads: the request running beside the stuck
    one (within the limit itself) completes before the worker is killed;
    requests that come meanwhile wait for the replacement and are
    served."""
    limit = 4
    site = make_site(request, tmp, server_cmd, 1, 2, ['--harakiri', limit])
    [victim] = site.server.children()
    mark = log_size(site.server_log)
    results = {}

    def get(name, path):
        results[name] = http_request(site.port, 'GET', path, timeout=30)

    stuck = threading.Thread(target=get, args=('stuck', '/stuck'))
    stuck.start()
    # the request beside starts once the stuck one is half-way to the
    # limit, and lasts 3/4 of the limit: it still runs when the stuck one
    # passes the limit (by up to limit/4), and ends before its own limit
    # (with limit/4 to spare)
    assert wait_until(lambda: (running_for(site, '/stuck') or 0) >=
                      limit / 2, limit), site.logs()
    beside = threading.Thread(
        target=get, args=('beside', '/slow?seconds=%g' % (limit * 3 / 4)))
    beside.start()
    wait_log(site, mark, r'harakiri: worker 1 pid %d' % victim,
             timeout=limit)
    after = threading.Thread(target=get, args=('after', '/pid'))
    after.start()
    for t in (stuck, beside, after):
        t.join(30)
    text = log_since(site.server_log, mark)
    assert results['stuck'].status == 502, (results, text)
    assert results['beside'].status == 200, (results, text)
    assert results['beside'].body == b'slow done\n'
    assert results['after'].status == 200, (results, text)
    assert int(results['after'].text) != victim
    assert ('harakiri: worker 1 pid %d stops accepting; it is killed once '
            'its 1 other request(s) finish' % victim) in text, text
    assert re.search(r'in stuck_view', text), text


def test_slowlog_logs_once_and_completes(request, tmp, server_cmd,
                                         nginx_bin, shape):
    site = make_site(request, tmp, server_cmd, *shape, ['--slowlog', 1])
    kids = site.server.children()
    mark = log_size(site.server_log)

    resp = http_request(site.port, 'GET', '/slow?seconds=2.5', timeout=30)
    assert resp.status == 200, (resp, site.logs())
    assert resp.body == b'slow done\n'
    # the master logs while the request runs (at 1 s of its 2.5): the line
    # is in the log by the answer, and so would be a second one, logged by
    # a tick in the 1.5 s between (a slot that is no longer busy is never
    # logged)
    text = log_since(site.server_log, mark)
    lines = re.findall(r'slowlog: worker \d+ pid (\d+): GET '
                       r'/slow\?seconds=2\.5 running for (\d+\.\d) s '
                       r'\(slowlog 1 s\): its Python stacks follow', text)
    assert len(lines) == 1, text
    assert int(lines[0][0]) in kids
    assert 1.0 <= float(lines[0][1]) < 2.0, lines
    assert re.search(r'File ".*slow_app\.py", line \d+ in slow_view', text)
    assert 'killed' not in text, text
    assert site.server.children() == kids  # nobody was killed

    page = status_json(site)
    assert page['slow_requests'] == 1, page
    assert page['harakiri_kills'] == 0, page
    resp = http_request(site.port, 'GET', '/pid')
    assert resp.status == 200 and int(resp.text) in kids


def test_harakiri_option_checks(server_cmd, tmp):
    from conftest import run_server
    done = run_server(server_cmd, APP + ['--socket', 'unix:%s/s' % tmp,
                                         '--harakiri', '-1'])
    assert done.returncode == 2, done
    assert 'harakiri' in done.stderr, done
    done = run_server(server_cmd, APP + ['--socket', 'unix:%s/s' % tmp,
                                         '--status-path', 'fcgi-status'])
    assert done.returncode == 2, done
    assert "expected a URL path such as /fcgi-status" in done.stderr, done


def test_two_dumps_at_once_never_interleave(request, tmp, server_cmd,
                                            nginx_bin):
    """Two workers stuck at once: their stacks come out as two whole
    blocks, one per worker, each written at once."""
    site = make_site(request, tmp, server_cmd, 2, 1, ['--harakiri', 2])
    kids = site.server.children()
    mark = log_size(site.server_log)
    results = []
    stuck = [threading.Thread(target=lambda: results.append(
        http_request(site.port, 'GET', '/stuck', timeout=30)))
        for _ in range(2)]
    for t in stuck:
        t.start()
    for t in stuck:
        t.join(30)
    assert [r.status for r in results] == [502, 502], (results, site.logs())
    text = wait_log(site, mark, r'(?s)was killed by signal 9.*was killed '
                    r'by signal 9')
    assert len(HARAKIRI_LINE.findall(text)) == 2, text
    # consecutive lines of one pid form a run; a line of the other worker
    # in the middle of a dump would split it into more runs than two
    runs = []
    for line in text.splitlines():
        match = re.search(r'\[worker \d+ pid (\d+)\] STACK ', line)
        pid = int(match.group(1)) if match else None
        if pid is not None and (not runs or runs[-1][0] != pid
                                or runs[-1][2]):
            runs.append([pid, [], False])
        if pid is not None:
            runs[-1][1].append(line)
        elif runs:
            runs[-1][2] = True  # closed by a line of another kind
    assert sorted(r[0] for r in runs) == sorted(kids), (runs, text)
    for pid, lines, _ in runs:
        block = '\n'.join(lines)
        assert 'in stuck_view' in block, block
        assert 'most recent call first' in block, block
