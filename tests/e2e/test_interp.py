"""
The embedded interpreter as a user sets it up: `home` (a virtualenv made with
python3 -m venv, with and without --system-site-packages), `chdir`,
`pythonpath`, `env`, and wsgi.errors reaching the server log.  Through the
real nginx, with tests/apps/interp_app.py reporting what it sees.
"""

import subprocess
import sysconfig
from pathlib import Path

import pytest

from conftest import MAIN_TEMPLATE, Stack, server_env
from e2elib import APPS_DIR, PYTHON, http_request, wait_until


def make_venv(path, system_site):
    args = [PYTHON, '-m', 'venv', '--without-pip']
    if system_site:
        args.append('--system-site-packages')
    subprocess.run(args + [str(path)], check=True, timeout=120)
    site = subprocess.run(
        [str(path / 'bin' / 'python3'), '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    Path(site).mkdir(parents=True, exist_ok=True)
    (Path(site) / 'fw_venv_only.py').write_text('VALUE = 1\n')
    return path


def serve(tmp, server_cmd, name, args, module='interp_app'):
    stack = Stack(tmp / name, server_cmd,
                  ['--chdir', APPS_DIR, '--module', module] + args,
                  MAIN_TEMPLATE, tmp, server_env())
    return stack


def ask(stack):
    r = http_request(stack.port, 'GET', '/')
    assert r.status == 200, (r, stack.logs())
    return r.json()


@pytest.fixture
def stack_of(request, tmp, server_cmd, nginx_bin):
    def start(name, args, module='interp_app'):
        stack = serve(tmp, server_cmd, name, args, module)
        request.addfinalizer(stack.stop)
        return stack
    return start


def test_no_home_is_the_system_python(stack_of):
    seen = ask(stack_of('plain', []))
    assert seen['prefix'] == '/usr'
    assert seen['django'] is True
    assert seen['venv_only'] is False


def test_home_venv_isolated(tmp, stack_of):
    venv = make_venv(tmp / 'venv-isolated', system_site=False)
    seen = ask(stack_of('isolated', ['--home', venv]))
    assert seen['prefix'] == str(venv)
    assert seen['base_prefix'] == '/usr'
    assert seen['venv_only'] is True
    # exactly as venv/bin/python: Debian's dist-packages are not visible
    assert seen['django'] is False
    bin_python = subprocess.run(
        [str(venv / 'bin' / 'python3'), '-c',
         'import sys, json; print(json.dumps(sys.path))'],
        check=True, capture_output=True, text=True, timeout=60).stdout
    import json
    expected = [p for p in json.loads(bin_python) if p]
    got = [p for p in seen['path'] if p != str(APPS_DIR)]
    assert got == expected


def test_home_venv_with_system_site_packages(tmp, stack_of):
    venv = make_venv(tmp / 'venv-system', system_site=True)
    seen = ask(stack_of('system', ['--home', venv]))
    assert seen['prefix'] == str(venv)
    assert seen['venv_only'] is True
    assert seen['django'] is True


def test_chdir_first_then_pythonpath_and_env(tmp, stack_of):
    extra1, extra2 = tmp / 'p1', tmp / 'p2'
    extra1.mkdir()
    extra2.mkdir()
    stack = stack_of('paths', ['--pythonpath', extra1, '--pythonpath', extra2,
                               '--env', 'FW_TEST_A=alpha',
                               '--env', 'FW_TEST_B=b=c'])
    seen = ask(stack)
    assert seen['cwd'] == str(APPS_DIR)
    assert seen['path'][:3] == [str(APPS_DIR), str(extra1), str(extra2)]
    assert seen['env'] == {'FW_TEST_A': 'alpha', 'FW_TEST_B': 'b=c'}
    assert 'interp_app: wsgi.errors works' in stack.server.log_text()


def test_wsgi_flags_tell_the_truth(stack_of):
    seen = ask(stack_of('one-thread', []))
    assert (seen['multithread'], seen['multiprocess'], seen['run_once']) == \
        (False, False, False)
    seen = ask(stack_of('threads', ['--threads', '4']))
    assert seen['multithread'] is True


def test_worker_imports_no_more_than_the_app(stack_of):
    """A worker's modules are the ones a plain interpreter has once it has
    imported the app, and gc (gc.freeze after the import): nothing the
    server would make every worker carry (traceback alone pulls in re,
    enum, tokenize...: 1.3 MiB).  The first exception is still logged with
    its whole traceback."""
    plain = subprocess.run(
        [PYTHON, '-c', 'import sys; sys.path.insert(0, %r); '
         'import modules_app; print("\\n".join(sys.modules))'
         % str(APPS_DIR)],
        check=True, capture_output=True, text=True, timeout=60).stdout.split()
    stack = stack_of('modules', [], module='modules_app')
    r = http_request(stack.port, 'GET', '/')
    assert r.status == 200, (r, stack.logs())
    extra = set(r.body.decode().split()) - set(plain)
    assert extra <= {'gc'}, extra

    r = http_request(stack.port, 'GET', '/raise')
    assert r.status == 500, (r, stack.logs())
    wait_until(lambda: 'ValueError: modules_app raised on purpose'
               in stack.server.log_text(), 10, 'the traceback in the log')
    log = stack.server.log_text()
    assert 'Traceback (most recent call last):' in log
    assert "raise ValueError('modules_app raised on purpose')" in log
