"""
uwsgi.ini files as projects write them (tests/uwsgi-corpus/, its README
says how each is written): every one either starts and serves a request,
or stops before serving with one line that names the cause, asserted
exactly.  Each file is run as it is, its tokens filled with local paths,
./fcgi-wsgi alone on its socket (the FastCGI requests are the test's).
"""

import getpass
import re
import shutil
from pathlib import Path

import pytest

from conftest import run_server
from e2elib import (DJANGO_DIR, REPO, Proc, fcgi_request, free_port,
                    wait_tcp, wait_unix_socket)
from test_interp import make_venv

CORPUS = REPO / 'tests' / 'uwsgi-corpus'
FILES = sorted(CORPUS.glob('*.ini'))
# a log line: "2026-01-01 10:00:00.000 [master pid 12] ERROR message"
LOG_LINE = re.compile(r'^\S+ \S+ \[[^\]]+\] (ERROR|WARN|INFO|DEBUG) (.*)$')


class Case:
    """One corpus file: its header read, its tokens filled in a temp dir."""

    def __init__(self, path, run_dir, venv):
        self.name = path.stem
        self.run_dir = run_dir
        self.ini = run_dir / path.name
        self.port = free_port()
        self.tokens = {
            '{{INI}}': str(self.ini), '{{RUN}}': str(run_dir),
            '{{SOCKET}}': str(run_dir / (self.name + '.sock')),
            '{{PORT}}': str(self.port), '{{DJANGO}}': str(DJANGO_DIR),
            '{{CORPUS}}': str(CORPUS), '{{VENV}}': str(venv),
            '{{USER}}': getpass.getuser(),
        }
        text = path.read_text()
        self.ini.write_text(self.fill(text))
        include = CORPUS / 'include'
        (run_dir / 'include').mkdir(exist_ok=True)
        for inc in include.glob('*.ini'):
            (run_dir / 'include' / inc.name).write_text(
                self.fill(inc.read_text()))
        self.args = [str(self.ini)]
        self.env = {}
        self.expect = None
        self.expect_log = []
        for line in text.splitlines():
            if not line.startswith('# '):
                break
            key, _, value = line[2:].partition(': ')
            value = self.fill(value)
            if key == 'run':
                self.args = value.split()
            elif key == 'env':
                name, _, val = value.partition('=')
                self.env[name] = val
            elif key == 'expect':
                self.expect = value
            elif key == 'expect-log':
                self.expect_log.append(value)
        assert self.expect, '%s: no "# expect:" line' % path

    def fill(self, text):
        for token, value in self.tokens.items():
            text = text.replace(token, value)
        return text


@pytest.fixture(scope='module')
def corpus_venv(session_tmp):
    """A virtualenv seeing Debian's packages (Django), for {{VENV}}."""
    return make_venv(session_tmp / 'corpus-venv', system_site=True)


def log_messages(text):
    """(level, message) of each log line of the server's output."""
    found = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            found.append((m.group(1), m.group(2)))
    return found


def check_serves(case, server_cmd, env):
    """Starts the file, asks PATH over FastCGI: 200 and TEXT in the body."""
    words = case.expect.split(' ', 2)[1:]
    tcp = words[0] == 'tcp'
    if tcp:
        words = case.expect.split(' ', 3)[2:]
    path, text = words
    proc = Proc(server_cmd + case.args, case.run_dir / 'server.log',
                cwd=case.run_dir, env=env, name='fcgi-wsgi')
    try:
        if tcp:
            address = ('127.0.0.1', case.port)
            wait_tcp(proc, case.port)
        else:
            address = case.tokens['{{SOCKET}}']
            wait_unix_socket(proc, Path(address))
        resp = fcgi_request(address, path)
        body = resp.body.decode(errors='replace')
        assert resp.status == 200, (case.name, resp, proc.log_text())
        assert text in body, (case.name, text, body)
    finally:
        status = proc.stop()
    log = (case.run_dir / 'server.log').read_text()
    assert status == 0, (case.name, status, log)
    messages = log_messages(log)
    errors = [m for level, m in messages if level == 'ERROR']
    assert not errors, (case.name, errors)
    for want in case.expect_log:
        assert any(want in line for line in log.splitlines()), (
            case.name, want, log)


def check_fails(case, server_cmd, env):
    """Runs the file to its end: exit N, and LINE its one error line."""
    m = re.match(r'exit (\d): (.*)$', case.expect)
    assert m, (case.name, case.expect)
    status, want = int(m.group(1)), m.group(2)
    done = run_server(server_cmd, case.args, cwd=case.run_dir, env=env)
    text = done.stdout + done.stderr
    assert done.returncode == status, (case.name, done.returncode, text)
    if status == 2:
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines == [want], (case.name, lines)
    else:
        errors = [msg for level, msg in log_messages(text)
                  if level == 'ERROR']
        assert errors == [want], (case.name, errors, text)
    assert not Path(case.tokens['{{SOCKET}}']).exists(), (
        case.name, 'the socket was left behind')


def test_the_corpus_is_big_enough():
    assert len(FILES) >= 15, [f.name for f in FILES]


@pytest.mark.parametrize('path', FILES, ids=[f.stem for f in FILES])
def test_uwsgi_ini_as_it_is(path, tmp, server_cmd, django_env, corpus_venv):
    case = Case(path, tmp, corpus_venv)
    env = dict(django_env)
    env.update(case.env)
    if case.expect.startswith('serves '):
        check_serves(case, server_cmd, env)
    else:
        check_fails(case, server_cmd, env)
    shutil.rmtree(tmp, ignore_errors=True)
