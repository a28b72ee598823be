"""
Start-up errors, running ./fcgi-wsgi directly: a bad configuration is one
line "fcgi-wsgi: ..." and exit 2; an application that cannot be imported is
its Python traceback and exit 1, before anything is served.  As root,
without uid or allow-root, it refuses to serve (exit 2, saying how).
"""

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import run_server, server_env
from e2elib import (APPS_DIR, Proc, fcgi_request, needed,
                    server_binary_argv, wait_unix_socket)
from loadgen import proc_uid


def app_args(tmp, module):
    return ['--socket', 'unix:%s' % (tmp / 'app.sock'), '--chdir', APPS_DIR,
            '--module', module]


def output(done):
    return done.stdout + done.stderr


def assert_one_line_error(done, *needles):
    text = output(done)
    lines = [line for line in text.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, text)
    assert len(lines) == 1, 'expected one line, got:\n%s' % text
    assert lines[0].startswith('fcgi-wsgi: '), lines[0]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]


def assert_not_served(tmp):
    assert not os.path.exists(tmp / 'app.sock'), \
        'the socket was left behind'


# ------------------------------------------------ the application

# module: what the output must say (each line of a traceback shown where
# it adds something; for a missing module, only its name)
BROKEN_APPS = {
    # the module itself is missing: the error names it (a traceback made
    # only of importlib's frames would add nothing)
    'no_such_module_xyz': ['ModuleNotFoundError',
                           "No module named 'no_such_module_xyz'"],
    # the module imports something missing: the traceback shows where
    'broken_import': ['Traceback', 'broken_import.py", line 6',
                      "No module named 'no_such_dependency_xyz'"],
    'broken_syntax': ['SyntaxError', 'broken_syntax.py'],
    'broken_nocallable': ['application', 'broken_nocallable'],
    'broken_nocallable:no_such_app': ['no_such_app'],
    'broken_raises': ['Traceback',
                      'RuntimeError: broken_raises: refusing to import'],
}


@pytest.mark.parametrize('module', list(BROKEN_APPS))
def test_application_that_cannot_load(server_cmd, tmp, module):
    """Exit 1 before anything is served, the output saying why."""
    done = run_server(server_cmd, app_args(tmp, module))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    for needle in BROKEN_APPS[module]:
        assert needle in text, (needle, text)
    assert_not_served(tmp)


# ------------------------------------------------ the configuration

def write_ini(tmp, text, name='app.ini'):
    path = tmp / name
    path.write_text(text)
    return path


def test_unknown_ini_key(server_cmd, tmp):
    ini = write_ini(tmp, '[fcgi-wsgi]\n'
                         'socket = unix:%s\n'
                         'module = validator_app\n'
                         '\n'
                         'no_such_key = 1\n' % (tmp / 'app.sock'))
    done = run_server(server_cmd, [ini])
    assert_one_line_error(done, '%s:5' % ini, 'no_such_key')
    assert_not_served(tmp)


def test_unknown_ini_key_via_ini_option(server_cmd, tmp):
    ini = write_ini(tmp, '[uwsgi]\nmodule = x\nbogus-option = on\n',
                    name='other.conf')
    done = run_server(server_cmd, ['--ini', ini, '--socket',
                                   'unix:%s' % (tmp / 'app.sock')])
    assert_one_line_error(done, '%s:3' % ini, 'bogus-option')


@pytest.mark.parametrize('value', [
    ':99999', 'localhost:notaport', 'justaword', 'unix:',
    'unix:/tmp/' + 'x' * 200, '127.0.0.1:0',
])
def test_bad_socket_value(server_cmd, tmp, value):
    done = run_server(server_cmd, ['--socket', value, '--chdir', APPS_DIR,
                                   '--module', 'validator_app'])
    assert_one_line_error(done, 'socket')


def test_http_option_in_uwsgi_ini(server_cmd, tmp):
    ini = write_ini(tmp, '[uwsgi]\n'
                         'chdir = %s\n'
                         'module = validator_app\n'
                         'http = :8000\n' % APPS_DIR)
    done = run_server(server_cmd, [ini])
    line = assert_one_line_error(done, '%s:4' % ini, 'fastcgi')
    low = line.lower()
    assert 'web server' in low or 'nginx' in low, (
        'the message should say FastCGI needs a web server in front: %s'
        % line)


def test_missing_module_option(server_cmd, tmp):
    done = run_server(server_cmd, ['--socket',
                                   'unix:%s' % (tmp / 'app.sock')])
    assert_one_line_error(done, 'module')


def test_unknown_command_line_option(server_cmd, tmp):
    done = run_server(server_cmd, app_args(tmp, 'validator_app')
                      + ['--no-such-option', '1'])
    assert_one_line_error(done, 'no-such-option')


def test_missing_ini_file(server_cmd, tmp):
    done = run_server(server_cmd, [tmp / 'absent.ini'])
    assert_one_line_error(done, 'absent.ini')


def test_help_exits_0(server_cmd):
    done = run_server(server_cmd, ['--help'])
    assert done.returncode == 0, output(done)
    text = output(done)
    for option in ('--socket', '--module', '--chdir', '--mount'):
        assert option in text, text


# ------------------------------------------------ root

ROOT_REFUSED = ('fcgi-wsgi: refusing to serve as root: set uid = www-data '
                '(and gid), or allow-root = true / --allow-root to run as '
                'root anyway')
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='needs root')


@pytest.fixture
def binary_cmd():
    """The server's command without the --allow-root the tests add."""
    return needed(server_binary_argv)


@pytest.fixture
def open_dir():
    """A directory in /tmp that any user may use (for uid = nobody)."""
    path = Path(tempfile.mkdtemp(prefix='fw-root-', dir='/tmp'))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_root
@pytest.mark.parametrize('extra', [[], ['--gid', 'nogroup'],
                                   ['--allow-root=false']])
def test_root_without_uid_is_refused(binary_cmd, tmp, extra):
    """php-fpm's rule: no serving as root by accident; one line that says
    how, exit 2, nothing bound."""
    done = run_server(binary_cmd, app_args(tmp, 'pool_app') + extra)
    line = assert_one_line_error(done, 'root')
    assert line == ROOT_REFUSED, line
    assert_not_served(tmp)


@needs_root
def test_root_refused_from_an_ini_file(binary_cmd, tmp):
    ini = write_ini(tmp, '[uwsgi]\nsocket = unix:%s\nchdir = %s\n'
                         'module = pool_app\nprocesses = 2\n'
                         % (tmp / 'app.sock', APPS_DIR))
    done = run_server(binary_cmd, [ini])
    assert assert_one_line_error(done, 'root') == ROOT_REFUSED
    assert_not_served(tmp)


@needs_root
def test_uid_root_is_refused(binary_cmd, tmp):
    done = run_server(binary_cmd, app_args(tmp, 'pool_app')
                      + ['--uid', 'root'])
    assert_one_line_error(done, 'refusing to serve as root (uid = root)',
                          'allow-root')
    assert_not_served(tmp)


def serve_and_ask(argv, dir, want_uid):
    """Starts argv (its socket: dir/app.sock), asks /pid, checks that the
    master and the worker that answered run as want_uid, stops it."""
    sock = dir / 'app.sock'
    proc = Proc(argv, dir / 'server.log', env=server_env(),
                name='fcgi-wsgi')
    try:
        wait_unix_socket(proc, sock)
        resp = fcgi_request(sock, '/pid')
        assert resp.status == 200, (resp, proc.log_text())
        worker = int(resp.body)
        assert proc_uid(proc.pid) == want_uid, proc.log_text()
        assert proc_uid(worker) == want_uid, proc.log_text()
        assert 'refusing' not in proc.log_text()
    finally:
        status = proc.stop()
    assert status == 0, proc.log_text()


@needs_root
@pytest.mark.parametrize('how', ['--allow-root', '-R', 'ini'])
def test_allow_root_serves_as_root(binary_cmd, tmp, how):
    args = app_args(tmp, 'pool_app')
    if how == 'ini':
        args.append(write_ini(tmp, '[fcgi-wsgi]\nallow-root = true\n'))
    else:
        args.append(how)
    serve_and_ask(binary_cmd + [str(a) for a in args], tmp, 0)


@needs_root
def test_uid_nobody_serves_as_nobody(binary_cmd, open_dir):
    ini = write_ini(open_dir, '[fcgi-wsgi]\nsocket = unix:%s\nchdir = %s\n'
                              'module = pool_app\nuid = nobody\n'
                              % (open_dir / 'app.sock', APPS_DIR))
    serve_and_ask(binary_cmd + [str(ini)], open_dir,
                  pwd.getpwnam('nobody').pw_uid)
