"""
The process manager under load, through the real nginx: a worker killed
with SIGKILL, requests that kill their worker (replaced at once), SIGTERM
and SIGQUIT to the master, max-requests and reload-on-rss recycling, pm
dynamic and ondemand, the crash-loop back-off, pidfile, SIGUSR1,
uid/gid/chown-socket, wsgi.multiprocess.  The app is
tests/apps/pool_app.py; the load is tests/e2e/loadgen.py's client threads.
Failed-request counts are printed (pytest -s shows them).  The tests wait
on what a user sees (log lines, pids, answers), with bounds taken from the
configuration under test; the pool's arithmetic (how many workers, when,
the back-off's steps) is unit-tested in tests/unit/test_pool_rules.c.
"""

import os
import pwd
import grp
import re
import signal
import stat
import tempfile
import time
from pathlib import Path

import pytest

from conftest import MAIN_TEMPLATE, Stack, server_env
from e2elib import (APPS_DIR, fcgi_request, http_request, log_size,
                    wait_children, wait_for_log, wait_unix_socket,
                    wait_until)
from loadgen import Load, lines, proc_uid

APP = ['--chdir', APPS_DIR, '--module', 'pool_app']


@pytest.fixture
def pool_stack(request, tmp, server_cmd, nginx_bin):
    """Starts pool_app behind nginx with extra args; stopped at the end."""
    def start(args, name='pool', env=None):
        static = tmp / 'static'
        static.mkdir(exist_ok=True)
        stack = Stack(tmp / name, server_cmd, APP + [str(a) for a in args],
                      MAIN_TEMPLATE, static, server_env(env))
        request.addfinalizer(stack.stop)
        return stack
    return start


def get(stack, path):
    resp = http_request(stack.port, 'GET', path)
    assert resp.status == 200, (resp, stack.logs())
    return resp.text


def children(stack, count, timeout=10.0):
    """Waits until the master has exactly count children; returns them."""
    return wait_children(stack.server, count, timeout, logs=stack.logs)


def stop_during_request(stack, started, sig, timeout):
    """A /slow?t=8 request; once it runs (the app wrote to started), sig
    to the master, which must exit 0 within timeout s: the seconds the
    stop took.  The request is over when this returns."""
    load = Load(stack.port, '/slow?t=8', threads=1, count=1)
    assert wait_until(lambda: lines(started), 10), stack.logs()
    began = time.monotonic()
    os.kill(stack.server.pid, sig)
    status = stack.server.wait(timeout)
    took = time.monotonic() - began
    load.join()
    assert status == 0, (status, stack.logs())
    return took


# ------------------------------------------------------------ deaths

def test_kill9_worker_under_load(pool_stack):
    """SIGKILL of a worker in a load run: only the requests it had in
    flight fail (at most its threads), the pool is whole again."""
    threads = 2
    stack = pool_stack(['--processes', 2, '--threads', threads])
    kids = children(stack, 2)
    load = Load(stack.port, '/slow?t=0.1', threads=4, count=40)
    load.wait_done(12)
    killed = time.monotonic()
    os.kill(kids[0], signal.SIGKILL)
    replaced = wait_until(lambda: len(stack.server.children()) == 2 and
                          kids[0] not in stack.server.children(), 5)
    took = time.monotonic() - killed
    results = load.join()
    failed = load.failures()
    print('\nkill -9 under load: %d requests, %d failed: %s; replaced '
          'in %.2f s' % (len(results), len(failed), [f[0] for f in failed],
                         took))
    assert replaced and took < 1.5, (took, stack.logs())
    assert len(results) == 4 * 40
    assert len(failed) <= threads, (failed, stack.logs())
    assert all(f[0] == 502 for f in failed), failed
    new = children(stack, 2)
    assert kids[0] not in new, (kids, new)
    log = stack.server.log_text()
    assert 'was killed by signal 9' in log, log
    if failed:
        assert 'it was serving GET /slow?t=0.1' in log, log


def crash_request(sock, n):
    """GET /crash?n=N straight to fcgi-wsgi: the worker serving it dies,
    the connection closes (or is reset: the dead worker had not read all
    of it) with no answer.  Returns when it closed."""
    try:
        resp = fcgi_request(sock, '/crash', query='n=%d' % n)
    except ConnectionResetError:
        return time.monotonic()
    except AssertionError as e:
        assert 'closed before END_REQUEST' in str(e), e
        return time.monotonic()
    raise AssertionError('/crash?n=%d was answered: %r' % (n, resp))


def test_request_crashes_replaced_at_once(start_server, tmp):
    """Ten requests that kill their worker, in a burst (each sent as soon
    as the one before has killed its worker, so that each is the request
    its worker was serving): each worker is replaced at once (no
    crash-loop back-off for workers that were ready and serving), so a
    normal request is answered within a second of the last crash, and each
    death's log line names the request."""
    sock = tmp / 'crash.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--processes', 2]
                        + APP)
    wait_unix_socket(proc, sock)
    assert fcgi_request(sock, '/pid').status == 200, proc.log_text()
    mark = log_size(proc.log_path)

    closed = [crash_request(sock, n) for n in range(10)]
    last_crash = closed[-1]
    resp = fcgi_request(sock, '/pid')
    answered = time.monotonic()
    print('\n10 request crashes in %.2f s; the next request answered '
          '%.3f s after the last' % (last_crash - min(closed),
                                      answered - last_crash))
    assert resp.status == 200, (resp, proc.log_text())
    assert answered - last_crash < 1.0, (answered - last_crash,
                                         proc.log_text())

    needles = ['it was serving GET /crash?n=%d (' % n for n in range(10)]
    log = wait_for_log([proc.log_path], [mark], needles, timeout=10)
    for needle in needles:
        assert needle in log, (needle, log[-3000:])
    assert log.count('was killed by signal 9 (Killed)') == 10, log
    assert 'crash loop' not in log, log
    assert 'without serving a request' not in log, log
    assert wait_until(lambda: len(proc.children()) == 2, 10), \
        proc.log_text()
    assert proc.alive(), proc.log_text()
    assert proc.stop() == 0, proc.log_text()


def test_sigterm_under_load_finishes_requests(pool_stack, tmp):
    """SIGTERM with requests running: all of them complete (200), the
    master exits 0 and removes its socket file."""
    started = tmp / 'started'
    stack = pool_stack(['--processes', 2, '--threads', 2],
                       env={'POOL_APP_STARTED': str(started)})
    children(stack, 2)
    load = Load(stack.port, '/slow?t=1', threads=4, count=1)
    assert wait_until(lambda: len(lines(started)) == 4, 10), (
        lines(started), stack.logs())
    began = time.monotonic()
    os.kill(stack.server.pid, signal.SIGTERM)
    status = stack.server.wait(15)
    results = load.join()
    print('\nSIGTERM under load: %d requests, %d failed, stop took %.2f s'
          % (len(results), len(load.failures()), time.monotonic() - began))
    assert [r[0] for r in results] == [200] * 4, (results, stack.logs())
    assert status == 0, (status, stack.logs())
    assert not stack.socket.exists(), 'socket file left behind'


def test_sigquit_stops_at_once(pool_stack, tmp):
    started = tmp / 'started'
    stack = pool_stack(['--processes', 2],
                       env={'POOL_APP_STARTED': str(started)})
    kids = children(stack, 2)
    took = stop_during_request(stack, started, signal.SIGQUIT, 5)
    assert took < 4, 'SIGQUIT took %.1f s' % took
    for pid in kids:
        assert not os.path.exists('/proc/%d/status' % pid) or \
            'zombie' in Path('/proc/%d/status' % pid).read_text(), pid
    assert not stack.socket.exists()


def test_worker_shutdown_timeout_bounds_a_stop(pool_stack, tmp):
    """A request longer than worker-shutdown-timeout does not hold the
    stop: the worker gives up on it after the timeout."""
    started = tmp / 'started'
    stack = pool_stack(['--processes', 1, '--worker-shutdown-timeout', 1],
                       env={'POOL_APP_STARTED': str(started)})
    took = stop_during_request(stack, started, signal.SIGTERM, 10)
    assert 1 <= took < 4, 'stop took %.1f s' % took
    assert 'still running after 1 s' in stack.server.log_text()


# --------------------------------------------------------- recycling

def test_max_requests_rotates_workers(pool_stack):
    stack = pool_stack(['--processes', 1, '--max-requests', 5])
    pids = []
    for _ in range(20):
        pids.append(int(get(stack, '/pid')))
    runs = [pids[0]]
    for pid in pids[1:]:
        if pid != runs[-1]:
            runs.append(pid)
    print('\nmax-requests=5, 20 requests: pids %s' % runs)
    assert len(set(pids)) >= 4, (pids, stack.logs())
    assert 'max-requests: 5 requests served' in stack.server.log_text()


def test_max_requests_delta_spreads_limits(pool_stack):
    """Each worker's limit is max-requests + 0..delta: runs of one pid are
    5 to 10 long (the last one may be cut)."""
    stack = pool_stack(['--processes', 1, '--max-requests', 5,
                        '--max-requests-delta', 5])
    pids = [int(get(stack, '/pid')) for _ in range(40)]
    runs = []
    for pid in pids:
        if runs and runs[-1][0] == pid:
            runs[-1][1] += 1
        else:
            runs.append([pid, 1])
    assert len(runs) >= 4, runs
    for _, length in runs[:-1]:
        assert 5 <= length <= 10, runs


def test_reload_on_rss(pool_stack):
    stack = pool_stack(['--processes', 1, '--reload-on-rss', 60])
    first = int(get(stack, '/pid'))
    assert int(get(stack, '/pid')) == first
    assert int(get(stack, '/alloc?mb=80')) == first
    later = wait_until(lambda: int(get(stack, '/pid')) != first, 10)
    assert later, stack.logs()
    assert 'reload-on-rss: RSS' in stack.server.log_text()


# ---------------------------------------------------------------- pm

def test_dynamic_grows_and_shrinks(pool_stack):
    stack = pool_stack(['--pm', 'dynamic', '--max-children', 4,
                        '--min-spare-servers', 1, '--max-spare-servers', 2,
                        '--start-servers', 1])
    children(stack, 1)
    load = Load(stack.port, '/slow?t=0.5', threads=4, count=8)
    peak = wait_until(lambda: len(stack.server.children()) >= 4, 15)
    seen = len(stack.server.children())
    results = load.join()
    assert peak, 'grew to %d workers only\n%s' % (seen, stack.logs())
    assert all(r[0] == 200 for r in results), results
    # idle now: shrinks to max-spare-servers, one a second
    shrunk = wait_until(lambda: len(stack.server.children()) <= 2, 10)
    print('\npm dynamic: peak %d workers, then %d'
          % (seen, len(stack.server.children())))
    assert shrunk, (stack.server.children(), stack.logs())
    assert len(stack.server.children()) >= 1
    get(stack, '/pid')


def test_dynamic_max_children_reached(pool_stack):
    stack = pool_stack(['--pm', 'dynamic', '--max-children', 2,
                        '--min-spare-servers', 1, '--max-spare-servers', 1])
    load = Load(stack.port, '/slow?t=0.4', threads=4, count=4)
    results = load.join()
    assert all(r[0] == 200 for r in results), results
    assert 'reached max-children (2)' in stack.server.log_text()


def test_ondemand_starts_from_zero(pool_stack, tmp):
    """pm ondemand: no worker until a request comes; a connection that
    finds every worker busy gets a new one, up to max-children; the one
    past that waits (the master logs that the pool is full) and is served
    by a worker that frees; idle workers leave after idle-timeout."""
    max_children, idle_timeout = 3, 2
    hold = 6  # seconds each of the max_children requests keeps its worker
    started = tmp / 'started'
    stack = pool_stack(['--pm', 'ondemand', '--max-children', max_children,
                        '--idle-timeout', idle_timeout],
                       env={'POOL_APP_STARTED': str(started)})
    # the harness's readiness probe (a connect) is a connection too: its
    # worker leaves after idle-timeout (+ a few master ticks)
    assert wait_until(lambda: stack.server.children() == [],
                      idle_timeout + 5), (stack.server.children(),
                                          stack.logs())
    began = time.monotonic()
    pid = int(get(stack, '/pid'))
    print('\npm ondemand: first request from zero workers took %.3f s'
          % (time.monotonic() - began))
    assert stack.server.children() == [pid], stack.logs()

    # max_children requests at once: each in a worker of its own
    mark = log_size(stack.server_log)
    load = Load(stack.port, '/slow?t=%d' % hold, threads=max_children,
                count=1)
    assert wait_until(lambda: len(lines(started)) == max_children,
                      hold), (lines(started), stack.logs())
    assert len(set(lines(started))) == max_children, lines(started)
    # one more finds the pool full: it waits, no worker is forked for it
    extra = Load(stack.port, '/pid', threads=1, count=1)
    needle = 'reached max-children (%d)' % max_children
    text = wait_for_log([stack.server_log], [mark], [needle], timeout=hold)
    assert needle in text, stack.logs()
    assert len(stack.server.children()) == max_children, (
        stack.server.children(), stack.logs())
    results = load.join() + extra.join()
    assert [r[0] for r in results] == [200] * (max_children + 1), results
    assert int(results[-1][1]) in map(int, lines(started)), results

    # idle for idle-timeout: back to none
    assert wait_until(lambda: stack.server.children() == [],
                      idle_timeout + 5), (stack.server.children(),
                                          stack.logs())


def test_multiprocess_flag(start_server, tmp):
    cases = [(['--processes', 1], 'multiprocess=False multithread=False'),
             (['--processes', 2, '--threads', 2],
              'multiprocess=True multithread=True'),
             (['--pm', 'ondemand', '--max-children', 3],
              'multiprocess=True multithread=False'),
             (['--pm', 'dynamic', '--max-children', 1,
               '--max-spare-servers', 1],
              'multiprocess=False multithread=False')]
    for i, (args, want) in enumerate(cases):
        sock = tmp / ('m%d.sock' % i)
        proc = start_server(['--socket', 'unix:%s' % sock] + APP + args,
                            log_name='m%d.log' % i)
        wait_unix_socket(proc, sock)
        resp = fcgi_request(sock, '/flags')
        assert resp.body.decode() == want, (args, resp, proc.log_text())
        proc.stop()


# ------------------------------------------------------- crash loops

CRASH_LOOP_LINE = re.compile(
    r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*crash loop: (\d+) '
    r'workers in a row died before they were ready; next start in (\d+) s$',
    re.M)


def log_seconds(stamp):
    """A log line's "2026-12-07 04:20:14.123" as seconds."""
    return time.mktime(time.strptime(stamp[:19], '%Y-%m-%d %H:%M:%S')) + \
        int(stamp[20:]) / 1000


@pytest.mark.parametrize('mode', ['lazy-import', 'preload-fork'])
def test_crash_loop_backs_off(start_server, tmp, mode):
    """Workers that die before they are ready: after 5 in a row the master
    logs a crash loop and pauses 1 s, then 2 s after the next round dies
    (each pause as long as it says, with one round of workers between:
    no respawn storm), stays up, and stops cleanly.  The whole sequence
    (1, 2, 4 ... 30 s) is unit-tested in test_pool_rules.c."""
    processes = 2
    pauses = [1, 2]
    sock = tmp / 'crash.sock'
    args = ['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
            '--module', 'exit_at_import', '--processes', processes]
    env = server_env({'EXIT_AT': 'import' if mode == 'lazy-import'
                      else 'fork'})
    if mode == 'lazy-import':
        args.append('--lazy-apps')
    proc = start_server(args, env=env)
    wait_unix_socket(proc, sock)

    def found():
        found.text = proc.log_text()
        return len(CRASH_LOOP_LINE.findall(found.text)) >= len(pauses)

    # bound: the pauses, and time to fork and lose the rounds between
    assert wait_until(found, sum(pauses) + 10), found.text
    loops = list(CRASH_LOOP_LINE.finditer(found.text))[:len(pauses)]
    print('\ncrash loop (%s): %s' % (mode, [m.group(0) for m in loops]))
    assert [int(m.group(3)) for m in loops] == pauses, found.text
    assert int(loops[0].group(2)) == 5, found.text
    # the second back-off began once the first had passed (the log has
    # milliseconds: 1 ms of rounding)
    gap = log_seconds(loops[1].group(1)) - log_seconds(loops[0].group(1))
    assert gap >= pauses[0] - 0.002, (gap, found.text)
    # between them, the rest of one round and one new round died, no more
    between = found.text[loops[0].end():loops[1].start()]
    assert 1 <= between.count('exited with status 3') <= 2 * processes, \
        found.text
    assert proc.alive(), found.text
    assert proc.stop() == 0, proc.log_text()


def test_lazy_import_error_at_first_start_exits_1(start_server, tmp):
    """lazy-apps, an app that raises at import: as without lazy-apps, the
    traceback and exit status 1, no back-off loop."""
    sock = tmp / 'broken.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                         '--module', 'broken_raises', '--lazy-apps',
                         '--processes', 2])
    status = proc.wait(15)
    log = proc.log_text()
    assert status == 1, (status, log)
    assert 'RuntimeError: broken_raises: refusing to import' in log, log
    assert not sock.exists()


# ------------------------------------------------- pidfile, SIGUSR1

def test_pidfile_written_and_removed(start_server, tmp):
    sock = tmp / 'p.sock'
    pidfile = tmp / 'run' / 'fw.pid'
    pidfile.parent.mkdir()
    proc = start_server(['--socket', 'unix:%s' % sock, '--pidfile', pidfile]
                        + APP)
    wait_unix_socket(proc, sock)
    assert wait_until(pidfile.exists, 5), proc.log_text()
    assert pidfile.read_text() == '%d\n' % proc.pid
    assert proc.stop() == 0
    assert not pidfile.exists(), 'pidfile left behind'


def test_sigusr1_reopens_logs(start_server, tmp):
    """logrotate's way: rename the log, SIGUSR1 to the master; the master
    and every worker write to a new file at the original path."""
    sock = tmp / 'l.sock'
    log = tmp / 'app.log'
    proc = start_server(['--socket', 'unix:%s' % sock, '--logto', log,
                         '--processes', 2] + APP)
    wait_unix_socket(proc, sock)
    kids = wait_children(proc, 2, 10)
    rotated = tmp / 'app.log.1'
    os.rename(log, rotated)
    os.kill(proc.pid, signal.SIGUSR1)
    assert wait_until(lambda: log.exists() and log.read_text().count(
        'SIGUSR1: log reopened') >= 3, 10), (
        log.read_text() if log.exists() else 'no new log',
        rotated.read_text())
    text = log.read_text()
    assert '[master pid %d]' % proc.pid in text, text
    for pid in kids:
        assert 'pid %d]' % pid in text, text
    assert 'log reopened' not in rotated.read_text()
    assert proc.stop() == 0


# ------------------------------------------------ uid, gid, chown

@pytest.mark.skipif(os.geteuid() != 0, reason='needs root')
def test_uid_gid_and_chown_socket(start_server):
    nobody = pwd.getpwnam('nobody')
    nogroup = grp.getgrgid(nobody.pw_gid)
    # a directory that nobody may use (the test's temp dir is private)
    base = Path(tempfile.mkdtemp(prefix='fw-uid-', dir='/tmp'))
    try:
        os.chmod(base, 0o777)
        sock = base / 'uid.sock'
        pidfile = base / 'uid.pid'
        proc = start_server(['--socket', 'unix:%s' % sock, '--uid', 'nobody',
                             '--gid', nogroup.gr_name, '--chown-socket',
                             'nobody:%s' % nogroup.gr_name, '--pidfile',
                             pidfile, '--processes', 2] + APP)
        wait_unix_socket(proc, sock)
        st = os.stat(sock)
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nogroup.gr_gid)
        assert stat.S_IMODE(st.st_mode) == 0o660
        kids = wait_children(proc, 2, 10)
        for pid in [proc.pid] + kids:
            assert proc_uid(pid) == nobody.pw_uid, pid
        resp = fcgi_request(sock, '/pid')
        assert resp.status == 200, (resp, proc.log_text())
        # a reload: the new master image runs as nobody already
        os.kill(proc.pid, signal.SIGHUP)
        assert wait_until(lambda: len(proc.children()) == 2 and not
                          set(kids) & set(proc.children()), 10), \
            proc.log_text()
        for pid in [proc.pid] + proc.children():
            assert proc_uid(pid) == nobody.pw_uid, pid
        assert fcgi_request(sock, '/pid').status == 200
        assert 'pidfile' not in proc.log_text(), proc.log_text()
        assert proc.stop() == 0, proc.log_text()
        assert not sock.exists()
        assert not pidfile.exists()
    finally:
        for p in base.iterdir():
            p.unlink()
        base.rmdir()


def test_unknown_uid_is_a_config_error(start_server, tmp):
    proc = start_server(['--socket', 'unix:%s' % (tmp / 'x.sock'), '--uid',
                         'no-such-user-fw'] + APP)
    assert proc.wait(10) == 2
    assert "uid: no such user 'no-such-user-fw'" in proc.log_text()
