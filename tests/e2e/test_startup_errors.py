"""
Start-up errors, running ./fcgi-wsgi directly: a bad configuration is one
line "fcgi-wsgi: ..." and exit 2; an application that cannot be imported is
its Python traceback and exit 1, before anything is served.
"""

import os

import pytest

from conftest import run_server
from e2elib import APPS_DIR


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

def test_missing_module(server_cmd, tmp):
    """The module itself is missing: the error names it (a traceback made
    only of importlib's frames would add nothing)."""
    done = run_server(server_cmd, app_args(tmp, 'no_such_module_xyz'))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    assert 'ModuleNotFoundError' in text, text
    assert "No module named 'no_such_module_xyz'" in text, text
    assert_not_served(tmp)


def test_missing_dependency(server_cmd, tmp):
    """The module imports something missing: the traceback shows where."""
    done = run_server(server_cmd, app_args(tmp, 'broken_import'))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    assert 'Traceback' in text, text
    assert 'broken_import.py", line 6' in text, text
    assert "No module named 'no_such_dependency_xyz'" in text, text
    assert_not_served(tmp)


def test_syntax_error(server_cmd, tmp):
    done = run_server(server_cmd, app_args(tmp, 'broken_syntax'))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    assert 'SyntaxError' in text, text
    assert 'broken_syntax.py' in text, text
    assert_not_served(tmp)


def test_missing_callable(server_cmd, tmp):
    done = run_server(server_cmd, app_args(tmp, 'broken_nocallable'))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    assert 'application' in text, text
    assert 'broken_nocallable' in text, text
    assert_not_served(tmp)


def test_missing_named_callable(server_cmd, tmp):
    done = run_server(server_cmd,
                      app_args(tmp, 'broken_nocallable:no_such_app'))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    assert 'no_such_app' in text, text
    assert_not_served(tmp)


def test_exception_at_import(server_cmd, tmp):
    done = run_server(server_cmd, app_args(tmp, 'broken_raises'))
    text = output(done)
    assert done.returncode == 1, (done.returncode, text)
    assert 'Traceback' in text, text
    assert 'RuntimeError: broken_raises: refusing to import' in text, text
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
