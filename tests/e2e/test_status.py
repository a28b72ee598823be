"""
The status and ping pages (the OpenMetrics page parsed by
prometheus_client: the request-duration histogram and the status classes
count the requests sent) and the access log (the combined format by
default), through the real nginx (stock fastcgi_params: the page's path
arrives as SCRIPT_NAME), with tests/apps/slow_app.py behind, as 1 process
of 1 thread and as 2 of 2.

What "accepted conn" counts: every request the pool began, ping and status
requests included, the status request that reports it too.  So after a
status request that says A, N more requests and another status request
say A + N + 1.
"""

import json
import os
import re
import signal
import threading
import time

import pytest

from conftest import slow_app_stack, status_json
from e2elib import (APPS_DIR, fcgi_request, free_port, http_request,
                    log_since, log_size, wait_tcp, wait_until)

APP = ['--chdir', APPS_DIR, '--module', 'slow_app']

JSON_FIELDS = {
    'pool': str, 'start_time': int, 'start_since': int,
    'accepted_conn': int, 'idle_processes': int, 'active_processes': int,
    'total_processes': int, 'max_active_processes': int,
    'max_children_reached': int, 'slow_requests': int,
    'harakiri_kills': int, 'threads_per_process': int, 'workers': list,
}
WORKER_FIELDS = {
    'worker': int, 'pid': int, 'state': str, 'start_time': int,
    'start_since': int, 'requests': int, 'threads': list,
}
THREAD_FIELDS = ('thread', 'state', 'request_method', 'request_uri',
                 'request_duration_us', 'last_request_duration_us')

# One sample: name{labels} value (every sample here has labels).
OM_SAMPLE = re.compile(
    r'^(fcgi_wsgi_[a-zA-Z0-9_]+)\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)\} '
    r'(-?[0-9]+(?:\.[0-9]+)?)$')
OM_COMMENT = re.compile(r'^# (HELP|TYPE) (fcgi_wsgi_[a-zA-Z0-9_]+) (.+)$')

# The combined format: ADDR - USER [TIME] "METHOD URI PROTO" STATUS BYTES
# "REFERER" "USER-AGENT"
ACCESS_LINE = re.compile(
    r'^(\S+) - (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(\S+) (\S+) (\S+)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$')


def make_site(request, tmp, server_cmd, processes, threads):
    """slow_app behind nginx with every page and the access log on."""
    stack = slow_app_stack(request, tmp, server_cmd, processes, threads,
                           ['--status-path', '/fcgi-status',
                            '--ping-path', '/ping', '--pool-name', 'e2e',
                            '--access-log', tmp / 'access.log'])
    stack.access_log = tmp / 'access.log'
    wait_workers(stack)
    return stack


@pytest.fixture
def site(request, tmp, server_cmd, nginx_bin, shape):
    return make_site(request, tmp, server_cmd, *shape)


def wait_workers(stack, timeout=10.0):
    """Waits until every worker is on the page and accepting."""
    def ready():
        ready.page = status_json(stack)
        states = [w['state'] for w in ready.page['workers']]
        return (len(states) == stack.processes
                and all(s in ('idle', 'busy') for s in states))

    wait_until(ready, timeout, lambda: (ready.page, stack.logs()), step=0.1)
    return ready.page


def test_ping(site):
    resp = http_request(site.port, 'GET', '/ping')
    assert resp.status == 200, (resp, site.logs())
    assert resp.body == b'pong'
    assert resp.header('Content-Type') == 'text/plain; charset=utf-8'
    head = http_request(site.port, 'HEAD', '/ping')
    assert head.status == 200 and head.body == b''
    # a path that only starts like the page's is the application's
    resp = http_request(site.port, 'GET', '/pingx')
    assert resp.body == b'hello\n', resp


def test_accepted_counts_every_request(site):
    before = status_json(site)['accepted_conn']
    n = 12
    for _ in range(n - 2):
        assert http_request(site.port, 'GET', '/pid').status == 200
    assert http_request(site.port, 'GET', '/ping').status == 200
    assert http_request(site.port, 'GET', '/missing').status == 404
    page = status_json(site)
    assert page['accepted_conn'] == before + n + 1, page


def test_json_fields(site):
    page = status_json(site)
    for name, kind in JSON_FIELDS.items():
        assert isinstance(page[name], kind), (name, page)
    assert page['pool'] == 'e2e'
    assert page['threads_per_process'] == site.threads
    assert page['total_processes'] == site.processes, page
    assert (page['idle_processes'] + page['active_processes']
            == page['total_processes']), page
    assert page['active_processes'] >= 1, page  # this request's worker
    assert page['max_active_processes'] >= 1, page
    assert page['start_since'] >= 0
    assert abs(page['start_time'] + page['start_since'] - time.time()) < 5
    # a unix socket: the kernel tells the queue through sock_diag
    for name in ('listen_queue', 'max_listen_queue', 'listen_queue_len'):
        assert page[name] is None or isinstance(page[name], int), page
    if page['listen_queue_len'] is not None:
        assert page['listen_queue_len'] > 0, page
        assert 0 <= page['listen_queue'] <= page['max_listen_queue'], page

    kids = site.server.children()
    assert sorted(w['pid'] for w in page['workers']) == kids, (page, kids)
    me = []
    for w in page['workers']:
        for name, kind in WORKER_FIELDS.items():
            assert isinstance(w[name], kind), (name, w)
        assert w['rss_bytes'] > 1024 * 1024, w
        assert len(w['threads']) == site.threads, w
        for t in w['threads']:
            assert set(THREAD_FIELDS) <= set(t), t
            if t['state'] == 'busy':
                me.append((w, t))
    # the status request itself is the one running request
    assert len(me) == 1, page
    w, t = me[0]
    assert w['state'] == 'busy'
    assert (t['request_method'], t['request_uri']) == (
        'GET', '/fcgi-status?json'), t


def test_running_request_shown(request, tmp, server_cmd, nginx_bin):
    """A slow request appears with its method, URI and a growing
    duration; once over, it is the thread's last duration.  (One process
    of two threads: the status request is served beside it.)"""
    site = make_site(request, tmp, server_cmd, 1, 2)
    done = []
    slow = threading.Thread(target=lambda: done.append(
        http_request(site.port, 'GET', '/slow?seconds=1.5')))
    slow.start()
    def running():
        for w in status_json(site)['workers']:
            for t in w['threads']:
                if (t['request_uri'] == '/slow?seconds=1.5'
                        and t['request_duration_us'] > 300000):
                    return w, t
        return None

    try:
        seen = wait_until(running, 5, site.logs, step=0.1)
        assert seen[0]['state'] == 'busy'
        assert seen[1]['request_method'] == 'GET'
    finally:
        slow.join(20)
    assert done and done[0].status == 200, done
    lasts = [t['last_request_duration_us']
             for w in status_json(site)['workers'] for t in w['threads']]
    assert any(1500000 <= d < 5000000 for d in lasts), lasts


def test_plain(site):
    resp = http_request(site.port, 'GET', '/fcgi-status')
    assert resp.status == 200, (resp, site.logs())
    assert resp.header('Content-Type') == 'text/plain; charset=utf-8'
    assert resp.header('Cache-Control', '').startswith('no-cache')
    head, _, workers = resp.text.partition('\n\n')
    fields = dict(line.split(':', 1) for line in head.splitlines())
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields['pool'] == 'e2e', resp.text
    for key in ('start time', 'start since', 'accepted conn',
                'listen queue', 'max listen queue', 'listen queue len',
                'idle processes', 'active processes', 'total processes',
                'max active processes', 'max children reached',
                'slow requests', 'harakiri kills'):
        assert key in fields, (key, resp.text)
    assert int(fields['total processes']) == site.processes, resp.text
    pids = re.findall(r'^pid: +(\d+)$', workers, re.M)
    assert sorted(int(p) for p in pids) == site.server.children(), resp.text
    assert len(re.findall(r'^thread: +\d+: (?:busy|idle)', workers,
                          re.M)) == site.processes * site.threads
    assert 'busy, GET /fcgi-status for ' in workers, resp.text
    assert re.search(r'^rss: +\d+ kB$', workers, re.M), resp.text


def test_openmetrics(site):
    resp = http_request(site.port, 'GET', '/fcgi-status?openmetrics')
    assert resp.status == 200, (resp, site.logs())
    assert resp.header('Content-Type').startswith(
        'application/openmetrics-text; version=1.0.0'), resp.headers
    text = resp.text
    assert text.endswith('# EOF\n'), text[-200:]
    described = {}
    samples = {}
    for line in text.splitlines()[:-1]:
        comment = OM_COMMENT.match(line)
        if comment:
            described.setdefault(comment.group(2), set()).add(
                comment.group(1))
            continue
        sample = OM_SAMPLE.match(line)
        assert sample, 'not name{labels} value: %r' % line
        name = sample.group(1)
        family = re.sub(r'_(total|bucket|count|sum)$', '', name)
        assert described.get(family) == {'HELP', 'TYPE'}, (
            'no HELP and TYPE before %r' % line)
        assert 'pool="e2e"' in sample.group(2), line
        samples.setdefault(name, []).append(float(sample.group(3)))
    assert samples['fcgi_wsgi_accepted_connections_total'][0] >= 1
    assert samples['fcgi_wsgi_total_processes'] == [site.processes]
    assert len(samples['fcgi_wsgi_worker_requests_total']) == site.processes
    assert len(samples['fcgi_wsgi_request_duration_seconds']) == (
        site.processes * site.threads)

    try:
        from prometheus_client.openmetrics.parser import \
            text_string_to_metric_families
    except ImportError:
        return  # python3-prometheus-client (make deps) checks more
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families['fcgi_wsgi_accepted_connections'].type == 'counter'
    assert families['fcgi_wsgi_worker_rss_bytes'].type == 'gauge'


def request_figures(stack):
    """The application's figures on the OpenMetrics page, parsed by
    prometheus_client: (buckets by le, count, sum, responses by code)."""
    from prometheus_client.openmetrics.parser import \
        text_string_to_metric_families
    resp = http_request(stack.port, 'GET', '/fcgi-status?openmetrics')
    assert resp.status == 200, (resp, stack.logs())
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    hist = families['fcgi_wsgi_request_seconds']
    assert hist.type == 'histogram'
    buckets = {s.labels['le']: s.value for s in hist.samples
               if s.name.endswith('_bucket')}
    [count] = [s.value for s in hist.samples if s.name.endswith('_count')]
    [total] = [s.value for s in hist.samples if s.name.endswith('_sum')]
    responses = families['fcgi_wsgi_responses']
    assert responses.type == 'counter'
    codes = {s.labels['code']: s.value for s in responses.samples
             if s.name.endswith('_total')}
    return buckets, count, total, codes


def test_histogram_counts_requests(site):
    """Every request of the application is counted once in the duration
    histogram (Prometheus's buckets) and in its status class; the ping and
    status pages are not."""
    b0, n0, s0, c0 = request_figures(site)
    assert list(b0) == ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25',
                        '0.5', '1.0', '2.5', '5.0', '10.0', '+Inf'], b0
    assert sorted(c0) == ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'], c0
    sent = ([('/slow?seconds=0.3', 200)] * 2 + [('/pid', 200)] * 5
            + [('/missing', 404), ('/ping', 200)])
    for path, status in sent:
        resp = http_request(site.port, 'GET', path)
        assert resp.status == status, (resp, site.logs())
    b1, n1, s1, c1 = request_figures(site)
    delta = {le: b1[le] - b0[le] for le in b0}
    assert n1 - n0 == 8, (n0, n1)
    assert delta['+Inf'] == 8, delta
    assert delta['10.0'] == 8, delta  # none took 10 s
    assert delta['0.25'] <= 6, delta  # the two slow ones took 0.3 s
    values = [b1[le] for le in b1]
    assert values == sorted(values), b1  # cumulative
    assert s1 - s0 >= 0.6, (s0, s1)
    assert {code: c1[code] - c0[code] for code in c0} == {
        '1xx': 0, '2xx': 7, '3xx': 0, '4xx': 1, '5xx': 0, 'other': 0}
    page = status_json(site)
    assert page['responses']['2xx'] == c1['2xx'] and \
        page['request_seconds_count'] == n1, page


def access_lines(stack, count, timeout=5.0):
    """Waits until the access log has count lines; returns them parsed."""
    def read():
        try:
            return stack.access_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    wait_until(lambda: len(read()) >= count, timeout)
    lines = read()
    parsed = []
    for line in lines:
        match = ACCESS_LINE.match(line)
        assert match, 'access log line %r' % line
        parsed.append(match.groups())
    return parsed


def test_access_log(site):
    before = len(access_lines(site, 0, timeout=0))
    expect = [('GET', '/pid', 200, None)] * 5 + [
        ('GET', '/missing', 404, len(b'no such page\n')),
        ('GET', '/bytes?n=100000', 200, 100000),  # the direct write path
        ('POST', '/bytes?n=3', 200, 3),
        ('GET', '/ping', 200, 4),
    ]
    bodies = []
    for method, uri, status, _ in expect:
        resp = http_request(site.port, method, uri,
                            headers={'User-Agent': 'e2e-agent'},
                            body=b'x' * 10 if method == 'POST' else None)
        assert resp.status == status, (resp, site.logs())
        bodies.append(resp.body)
    lines = access_lines(site, before + len(expect))[before:]
    assert len(lines) == len(expect), lines
    kids = site.server.children()
    for (method, uri, status, size), body, line in zip(expect, bodies,
                                                       lines):
        addr, user, when, l_method, l_uri, proto, l_status, l_bytes, \
            referer, agent = line
        assert (addr, user, referer) == ('127.0.0.1', '-', '-'), line
        assert agent == 'e2e-agent', line
        assert (l_method, l_uri, proto) == (method, uri, 'HTTP/1.1'), line
        assert int(l_status) == status, line
        assert int(l_bytes) == (size if size is not None else len(body)), (
            line, body)
        assert abs(time.mktime(time.strptime(when, '%d/%b/%Y:%H:%M:%S %z'))
                   - time.time()) < 60, line


def test_access_log_reopened_on_sigusr1(site):
    assert http_request(site.port, 'GET', '/pid').status == 200
    access_lines(site, 1)
    rotated = site.access_log.with_name('access.log.1')
    os.rename(site.access_log, rotated)
    mark = log_size(site.server_log)
    os.kill(site.server.pid, signal.SIGUSR1)
    # the master and each worker say so
    wait_until(lambda: log_since(site.server_log, mark).count(
        'SIGUSR1: log reopened') >= site.processes + 1, 5, site.logs)
    for _ in range(4):
        assert http_request(site.port, 'GET', '/pid?after').status == 200
    lines = access_lines(site, 4)
    assert [l[4] for l in lines] == ['/pid?after'] * 4, lines
    assert '/pid?after' not in rotated.read_text()


def test_tcp_socket_reports_its_backlog(start_server, tmp):
    """Over TCP the kernel's TCP_INFO gives the queue and the backlog."""
    port = free_port()
    server = start_server(APP + ['--socket', '127.0.0.1:%d' % port,
                                 '--status-path', '/st'])
    wait_tcp(server, port)

    def ready():
        ready.resp = fcgi_request(('127.0.0.1', port), '/st', query='json')
        page = json.loads(ready.resp.body)
        return page if page['workers'] and \
            page['workers'][0]['state'] != 'starting' else None

    page = wait_until(ready, 10, server.log_text, step=0.1)
    resp = ready.resp
    assert resp.status == 200, resp
    assert page['pool'] == 'slow_app', page  # the module by default
    assert isinstance(page['listen_queue'], int), page
    assert page['listen_queue_len'] > 0, page
