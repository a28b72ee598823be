"""
Fixtures of the end-to-end tests: a private temp dir, the demo Django
project prepared in it (migrate, collectstatic, an admin user), and
"stacks": ./fcgi-wsgi on a unix socket with the real nginx in front,
rendered from examples/nginx.  Everything started is stopped by pid at
teardown, even when a test fails; every phase of a test runs under an alarm.

Run from the repository root:
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
Environment: FW_E2E_NO_SKIP=1 (a skip fails), FW_E2E_SERVER (a command
replacing ./fcgi-wsgi), FW_E2E_ALLOW_ROOT=0 (as root, do not add
--allow-root, which is added when the binary's --help names it),
FW_E2E_KEEP=1 (keep the temp dir and its logs), FW_E2E_TEST_TIMEOUT (s).
"""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

import e2elib
from e2elib import (APPS_DIR, DJANGO_DIR, NGINX_DIR, PYTHON, REPO, Proc,
                    http_request, needed, server_argv, start_nginx,
                    wait_unix_socket)

TEST_TIMEOUT = int(os.environ.get('FW_E2E_TEST_TIMEOUT', '120'))
MAIN_TEMPLATE = NGINX_DIR / 'fcgi-wsgi.conf.in'
MOUNT_TEMPLATE = NGINX_DIR / 'fcgi-wsgi-mount.conf.in'


class PhaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise PhaseTimeout('test phase took longer than %d s '
                       '(FW_E2E_TEST_TIMEOUT)' % TEST_TIMEOUT)


def _timed_phase():
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _timed_phase()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _timed_phase()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield from _timed_phase()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With FW_E2E_NO_SKIP=1 (make test-e2e), a skip is a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get('FW_E2E_NO_SKIP') == '1':
        report.outcome = 'failed'
        report.longrepr = 'skipped, and FW_E2E_NO_SKIP=1 forbids it: %s' % (
            report.longrepr,)


def pytest_sessionfinish(session, exitstatus):
    e2elib.stop_all()


def server_env(extra=None):
    """The environment of the processes under test: ours, made predictable."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONHOME', 'PYTHONPATH', 'PYTHONSTARTUP',
                        'DJANGO_SETTINGS_MODULE')
           and not k.startswith('DEMO_')}
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env.update(extra or {})
    return env


@pytest.fixture(scope='session')
def session_tmp():
    path = Path(tempfile.mkdtemp(prefix='fw-e2e-', dir='/tmp'))
    yield path
    if os.environ.get('FW_E2E_KEEP'):
        print('\nfw-e2e: kept %s' % path)
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tmp(session_tmp):
    """A short per-test dir (unix socket paths must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix='t-', dir=session_tmp))
    return path


@pytest.fixture(scope='session')
def server_cmd():
    return needed(server_argv)


@pytest.fixture(scope='session')
def nginx_bin():
    return needed(e2elib.nginx_binary)


@pytest.fixture(scope='session')
def django_env(session_tmp):
    """
    The demo project made ready in the temp dir, as examples/run-demo.sh
    does: a database with the admin user admin/admin, the static files.
    Returns the environment the server needs (DEMO_* variables).
    """
    check = subprocess.run([PYTHON, '-c', 'import django'],
                           capture_output=True, timeout=60)
    if check.returncode != 0:
        pytest.skip('%s cannot import django (install python3-django)'
                    % PYTHON)
    root = session_tmp / 'django'
    root.mkdir()
    (root / 'upload-tmp').mkdir()
    env = server_env({
        'DEMO_DB': str(root / 'db.sqlite3'),
        'DEMO_STATIC_ROOT': str(root / 'static'),
        'DEMO_UPLOAD_TMP': str(root / 'upload-tmp'),
        'DJANGO_SUPERUSER_PASSWORD': 'admin',
    })
    for args in (['migrate', '--noinput', '-v', '0'],
                 ['collectstatic', '--noinput', '-v', '0'],
                 ['createsuperuser', '--noinput', '--username', 'admin',
                  '--email', 'admin@example.com']):
        done = subprocess.run([PYTHON, 'manage.py'] + args, cwd=DJANGO_DIR,
                              env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, 'manage.py %s failed:\n%s%s' % (
            ' '.join(args), done.stdout, done.stderr)
    del env['DJANGO_SUPERUSER_PASSWORD']
    return env


class Stack:
    """
    ./fcgi-wsgi on a unix socket in dir, and nginx in front of it on a free
    port.  server_log is everything the server wrote (stdout and stderr).
    """

    def __init__(self, dir, server_cmd, server_args, template, static_root,
                 env, leading_args=(), cwd=REPO):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / 'app.sock'
        self.server_log = self.dir / 'server.log'
        self.server = None
        self.nginx = None
        try:
            self.server = Proc(
                server_cmd + [str(a) for a in leading_args]
                + ['--socket', 'unix:%s' % self.socket]
                + [str(a) for a in server_args],
                self.server_log, cwd=cwd, env=env, name='fcgi-wsgi')
            wait_unix_socket(self.server, self.socket)
            self.nginx, self.port = start_nginx(
                template, self.dir / 'nginx', self.socket, static_root)
        except BaseException:
            self.stop()
            raise
        self.nginx_error_log = self.dir / 'nginx' / 'error.log'

    def logs(self):
        """The server's and nginx's logs, for assertion messages."""
        return '--- server log %s:\n%s\n--- nginx error log:\n%s' % (
            self.server_log, e2elib.tail(self.server_log),
            e2elib.tail(self.dir / 'nginx' / 'error.log', 3000))

    def stop(self):
        if self.nginx is not None:
            self.nginx.stop()
        if self.server is not None:
            self.server.stop()


def _stack(request, name, session_tmp, server_cmd, args, template,
           static_root, env, prefix=''):
    stack = Stack(session_tmp / name, server_cmd, args, template,
                  static_root, env)
    request.addfinalizer(stack.stop)
    stack.prefix = prefix  # where the application is, for webservers.CHECKS
    return stack


DJANGO_ARGS = ['--chdir', DJANGO_DIR, '--module', 'config.wsgi',
               '--env', 'DEMO_GREETING=hello from --env']


@pytest.fixture(scope='session')
def django_site(request, session_tmp, server_cmd, nginx_bin, django_env):
    """The demo project behind nginx, at http://127.0.0.1:PORT/."""
    return _stack(request, 'site', session_tmp, server_cmd, DJANGO_ARGS,
                  MAIN_TEMPLATE, django_env['DEMO_STATIC_ROOT'], django_env)


@pytest.fixture(scope='module')
def mount_site(request, session_tmp, server_cmd, nginx_bin, django_env):
    """The demo project under /app/ (--mount /app, nginx location /app/)."""
    return _stack(request, 'mount', session_tmp, server_cmd,
                  DJANGO_ARGS + ['--mount', '/app'], MOUNT_TEMPLATE,
                  django_env['DEMO_STATIC_ROOT'], django_env, prefix='/app')


@pytest.fixture(scope='module')
def validator_site(request, session_tmp, server_cmd, nginx_bin):
    """
    tests/apps/validator_app.py behind nginx; its --logto log is
    stack.app_log (server_log still gets what goes to stdout/stderr), its
    --access-log stack.access_log (e2elib.clean_request).
    """
    name = 'validator'
    app_log = session_tmp / name / 'app.log'
    access_log = session_tmp / name / 'access.log'
    (session_tmp / name).mkdir()
    empty_static = session_tmp / name / 'static'
    empty_static.mkdir()
    stack = _stack(request, name, session_tmp, server_cmd,
                   ['--chdir', APPS_DIR, '--module', 'validator_app',
                    '--logto', app_log, '--access-log', access_log],
                   MAIN_TEMPLATE, empty_static, server_env())
    stack.app_log, stack.access_log = app_log, access_log
    return stack


# The pool shapes (processes, threads) the observability tests run in.
SHAPES = [(1, 1), (2, 2)]


@pytest.fixture(params=SHAPES, ids=['%dx%d' % s for s in SHAPES])
def shape(request):
    return request.param


def slow_app_stack(request, tmp, server_cmd, processes, threads, args):
    """
    tests/apps/slow_app.py behind nginx as processes x threads, with args
    (the status page at /fcgi-status among them, for status_json); stopped
    when the test ends.  The stack knows its processes and threads.
    """
    static = tmp / 'static'
    static.mkdir(exist_ok=True)
    stack = Stack(tmp / 'site', server_cmd,
                  ['--chdir', APPS_DIR, '--module', 'slow_app',
                   '--processes', processes, '--threads', threads]
                  + list(args), MAIN_TEMPLATE, static, server_env())
    request.addfinalizer(stack.stop)
    stack.processes, stack.threads = processes, threads
    return stack


def status_json(stack, path='/fcgi-status'):
    """The status page of a Stack as JSON (checked: 200, its type)."""
    resp = http_request(stack.port, 'GET', path + '?json')
    assert resp.status == 200, (resp, stack.logs())
    assert resp.header('Content-Type') == 'application/json', resp.headers
    return resp.json()


def run_server(server_cmd, args, cwd=REPO, env=None, timeout=30):
    """
    Runs ./fcgi-wsgi to completion (start-up errors): a CompletedProcess.
    Bounded: after timeout s it is killed (its group too) and that fails.
    """
    argv = server_cmd + [str(a) for a in args]
    popen = subprocess.Popen(argv, cwd=cwd, env=env or server_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        out, err = popen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = popen.communicate(timeout=10)
        raise AssertionError(
            '%s still running after %d s (expected it to exit); output: '
            '%r %r' % (' '.join(argv), timeout, out, err))
    finally:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return subprocess.CompletedProcess(argv, popen.returncode, out, err)


@pytest.fixture
def start_server(server_cmd, tmp):
    """
    Starts ./fcgi-wsgi with the given args (no nginx); returns the Proc.
    All of them are stopped by pid when the test ends.
    """
    started = []

    def start(args, env=None, cwd=REPO, log_name='server.log', stdin=None):
        proc = Proc(server_cmd + [str(a) for a in args], tmp / log_name,
                    cwd=cwd, env=env or server_env(), stdin=stdin,
                    name='fcgi-wsgi')
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
