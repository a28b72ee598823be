"""
Reloads under load, through the real nginx: SIGHUP and touch-reload serve
the code deployed on disk with zero failed requests, with the app imported
in the master or in each worker (lazy-apps); new code that does not import
and a configuration that does not load leave the old workers serving; a
reload re-reads the configuration file.  The app is a copy of
tests/apps/pool_app.py in the test's temp dir, changed in place.
"""

import os
import signal
import time

import pytest

from conftest import MAIN_TEMPLATE, Stack, server_env
from e2elib import (APPS_DIR, http_request, log_since, log_size,
                    wait_children, wait_for_log, wait_until)
from loadgen import Load

MODES = {'preload': [], 'lazy': ['--lazy-apps']}


def deploy(app_dir, version, broken=False):
    """Writes pool_app.py with VERSION = version into app_dir."""
    text = (APPS_DIR / 'pool_app.py').read_text()
    text = text.replace("VERSION = 'v1'", 'VERSION = %r' % version)
    if broken:
        text += '\nraise RuntimeError("deployed broken on purpose")\n'
    app_dir.mkdir(exist_ok=True)
    tmp = app_dir / 'pool_app.py.new'
    tmp.write_text(text)
    os.rename(tmp, app_dir / 'pool_app.py')


@pytest.fixture
def reload_stack(request, tmp, server_cmd, nginx_bin):
    def start(args, name='reload', leading_args=(), cwd=None):
        app_dir = tmp / 'app'
        if not (app_dir / 'pool_app.py').exists():
            deploy(app_dir, 'v1')
        static = tmp / 'static'
        static.mkdir(exist_ok=True)
        stack = Stack(tmp / name, server_cmd,
                      ['--chdir', app_dir, '--module', 'pool_app']
                      + [str(a) for a in args], MAIN_TEMPLATE, static,
                      server_env(), leading_args=leading_args,
                      **({'cwd': cwd} if cwd is not None else {}))
        request.addfinalizer(stack.stop)
        stack.app_dir = app_dir
        return stack
    return start


def version(stack):
    resp = http_request(stack.port, 'GET', '/version')
    assert resp.status == 200, (resp, stack.logs())
    return resp.text.split()[0]


def workers(stack, count, timeout=15.0):
    return wait_children(stack.server, count, timeout, logs=stack.logs)


def reload_under_load(stack, trigger, new_version='v2'):
    """Load, deploy new_version, trigger(), more load: returns the load's
    results and the workers before."""
    before = workers(stack, 2)
    load = Load(stack.port, '/slow?t=0.05', threads=4, count=400,
                duration=8)
    load.wait_done(40)
    deploy(stack.app_dir, new_version)
    trigger()
    assert wait_until(lambda: version(stack) == new_version, 15), \
        stack.logs()
    load.wait_done(load.done() + 80)
    results = load.stop()
    return results, before


@pytest.mark.parametrize('mode', sorted(MODES))
def test_sighup_under_load_serves_new_code(reload_stack, mode):
    stack = reload_stack(['--processes', 2, '--threads', 2] + MODES[mode])
    assert version(stack) == 'v1'
    results, before = reload_under_load(
        stack, lambda: os.kill(stack.server.pid, signal.SIGHUP))
    failed = [r for r in results if r[0] != 200]
    print('\nSIGHUP under load (%s): %d requests, %d failed'
          % (mode, len(results), len(failed)))
    assert failed == [], (failed[:5], stack.logs())
    assert stack.server.alive()
    after = workers(stack, 2)
    assert not set(before) & set(after), (before, after)
    bodies = {r[1].split()[0] for r in results}
    assert bodies == {'v1', 'v2'}, bodies


@pytest.mark.parametrize('mode', sorted(MODES))
def test_touch_reload_under_load(reload_stack, tmp, mode):
    trigger = tmp / 'reload.trigger'
    trigger.write_text('')
    stack = reload_stack(['--processes', 2, '--touch-reload', trigger]
                         + MODES[mode])

    def touch():
        later = time.time() + 1
        os.utime(trigger, (later, later))

    results, before = reload_under_load(stack, touch)
    failed = [r for r in results if r[0] != 200]
    print('\ntouch-reload under load (%s): %d requests, %d failed'
          % (mode, len(results), len(failed)))
    assert failed == [], (failed[:5], stack.logs())
    assert 'touch-reload %s' % trigger in stack.server.log_text()
    assert not set(before) & set(workers(stack, 2))


@pytest.mark.parametrize('mode', sorted(MODES))
def test_broken_code_keeps_the_old_workers(reload_stack, mode):
    """New code that raises at import: the reload fails, the old workers
    keep serving v1 (no request fails); the fixed code then reloads."""
    stack = reload_stack(['--processes', 2] + MODES[mode])
    before = workers(stack, 2)
    load = Load(stack.port, '/slow?t=0.05', threads=2, count=400,
                duration=20)
    load.wait_done(20)
    deploy(stack.app_dir, 'v2', broken=True)
    mark = log_size(stack.server_log)
    os.kill(stack.server.pid, signal.SIGHUP)
    # The reload has failed for good once the new master image says so
    # (it imports the app: it cannot, and forks nothing), or, lazy, once
    # the new workers, each failing at import, have made the crash-loop
    # guard back off twice (1 s, then 2 s): a whole back-off has passed
    # with the old workers serving.
    if mode == 'lazy':
        needle, times, bound = 'crash loop:', 2, 1 + 10
    else:
        needle, times, bound = 'reload failed (see above)', 1, 10
    assert wait_until(lambda: 'deployed broken on purpose'
                      in stack.server.log_text(), 10), stack.logs()
    assert wait_until(lambda: log_since(stack.server_log, mark).count(
        needle) >= times, bound), stack.logs()
    assert version(stack) == 'v1'
    for pid in before:
        assert os.path.exists('/proc/%d' % pid), (pid, stack.logs())
    deploy(stack.app_dir, 'v3')
    os.kill(stack.server.pid, signal.SIGHUP)
    assert wait_until(lambda: version(stack) == 'v3', 15), stack.logs()
    results = load.stop()
    failed = [r for r in results if r[0] != 200]
    print('\nbroken deploy then fixed (%s): %d requests, %d failed'
          % (mode, len(results), len(failed)))
    assert failed == [], (failed[:5], stack.logs())
    assert wait_until(lambda: not any(os.path.exists('/proc/%d' % p)
                                      for p in before), 10)


def test_invalid_config_keeps_serving(reload_stack, tmp):
    ini = tmp / 'app.ini'
    ini.write_text('[fcgi-wsgi]\nprocesses = 2\n')
    stack = reload_stack([], leading_args=[ini])
    before = workers(stack, 2)
    ini.write_text('[fcgi-wsgi]\nprocesses = two\n')
    os.kill(stack.server.pid, signal.SIGHUP)
    assert wait_until(lambda: 'reload cancelled' in stack.server.log_text(),
                      10), stack.logs()
    log = stack.server.log_text()
    assert "processes: expected a whole number" in log, log
    assert sorted(stack.server.children()) == sorted(before)
    assert version(stack) == 'v1'


def test_reload_rereads_the_config(reload_stack, tmp):
    """The ini file, named relative to the directory the server was
    started in (it chdirs to the app): the reload finds it again."""
    ini = tmp / 'app.ini'
    ini.write_text('[fcgi-wsgi]\nprocesses = 2\n')
    stack = reload_stack([], leading_args=['app.ini'], cwd=tmp)
    workers(stack, 2)
    ini.write_text('[fcgi-wsgi]\nprocesses = 3\n')
    os.kill(stack.server.pid, signal.SIGHUP)
    workers(stack, 3)
    assert version(stack) == 'v1'
    assert wait_until(lambda: 'reload: generation 1 serving with 3 worker(s)'
                      in stack.server.log_text(), 10), stack.logs()


def test_reload_of_a_socket_inherited_on_fd0(start_server, tmp):
    """spawn-fcgi style: the listening socket is fd 0; a reload keeps it
    (and leaves the socket file, which is not ours, alone at exit)."""
    import socket as socketlib
    path = tmp / 'fd0.sock'
    listener = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    try:
        proc = start_server(['--chdir', APPS_DIR, '--module', 'pool_app',
                             '--processes', 2], stdin=listener.fileno())
    finally:
        listener.close()
    from e2elib import fcgi_request
    assert wait_until(lambda: len(proc.children()) == 2, 10), \
        proc.log_text()
    before = proc.children()
    os.kill(proc.pid, signal.SIGHUP)
    assert wait_until(lambda: len(proc.children()) == 2 and not
                      set(before) & set(proc.children()), 10), \
        proc.log_text()
    assert fcgi_request(path, '/pid').status == 200
    assert proc.stop() == 0
    assert path.exists(), 'removed a socket file it did not create'


def test_sigterm_during_reload_stops(reload_stack):
    """A stop wins over a reload in progress: exit 0, nothing left."""
    stack = reload_stack(['--processes', 2, '--lazy-apps'])
    workers(stack, 2)
    mark = log_size(stack.server_log)
    os.kill(stack.server.pid, signal.SIGHUP)
    # the reload under way: the master re-executes itself
    needle = 'SIGHUP: reload: re-executing'
    assert needle in wait_for_log([stack.server_log], [mark], [needle],
                                  timeout=10), stack.logs()
    os.kill(stack.server.pid, signal.SIGTERM)
    assert stack.server.wait(15) == 0, stack.logs()
    assert not stack.socket.exists()
    assert stack.server.group_members() == []
