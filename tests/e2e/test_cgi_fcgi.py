"""
fcgi-wsgi driven by an independent FastCGI client: `cgi-fcgi -bind
-connect SOCKET` from libfcgi-bin, as a CGI web server would run it (the
request in its environment, the body on its stdin, the response on its
stdout), over a unix socket and over TCP, against tests/apps/wire_app.py.
"""

import hashlib
import json
import shutil
import subprocess
import threading

import pytest

from e2elib import (APPS_DIR, free_port, random_body, sha256,
                    wait_children, wait_tcp, wait_unix_socket)

APP = ['--chdir', APPS_DIR, '--module', 'wire_app']
RUN_TIMEOUT = 20


@pytest.fixture(scope='module')
def cgi_fcgi():
    path = shutil.which('cgi-fcgi') or '/usr/bin/cgi-fcgi'
    if not shutil.which(path):
        pytest.skip('cgi-fcgi is not installed (Debian package libfcgi-bin)')
    return path


@pytest.fixture(params=['unix', 'tcp'])
def served(request, start_server, tmp):
    """fcgi-wsgi with wire_app on a unix socket or TCP, 2 processes, both
    started: (proc, the connName cgi-fcgi takes)."""
    if request.param == 'unix':
        sock = tmp / 'cgi.sock'
        proc = start_server(['--socket', 'unix:%s' % sock, '--processes',
                             '2'] + APP)
        wait_unix_socket(proc, sock)
        conn = str(sock)
    else:
        port = free_port()
        proc = start_server(['--socket', '127.0.0.1:%d' % port,
                             '--processes', '2'] + APP)
        wait_tcp(proc, port)
        conn = '127.0.0.1:%d' % port
    wait_children(proc, 2, 10)
    return proc, conn


class CgiResult:
    def __init__(self, done):
        self.returncode = done.returncode
        self.stderr = done.stderr
        head, _, self.body = done.stdout.partition(b'\r\n\r\n')
        self.headers = {}
        for line in head.decode('latin-1').split('\r\n'):
            name, _, value = line.partition(':')
            self.headers[name.strip().lower()] = value.strip()
        self.status = int(self.headers.get('status', '200').split()[0])
        self.raw = done.stdout

    def __repr__(self):
        return '<cgi-fcgi exit %s: %r %r>' % (self.returncode,
                                               self.raw[:300],
                                               self.stderr[:300])


def run(cgi_fcgi, conn, path, method='GET', query='', body=b'', env=None):
    """One request through cgi-fcgi: its environment is the request (CGI
    variables only, plus PATH), its stdin the body."""
    environ = {'PATH': '/usr/bin:/bin', 'GATEWAY_INTERFACE': 'CGI/1.1',
               'REQUEST_METHOD': method, 'SCRIPT_NAME': '',
               'PATH_INFO': path, 'QUERY_STRING': query,
               'REQUEST_URI': path + ('?' + query if query else ''),
               'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
               'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
               'HTTP_HOST': '127.0.0.1'}
    if body:
        environ['CONTENT_LENGTH'] = str(len(body))
        environ['CONTENT_TYPE'] = 'application/octet-stream'
    environ.update(env or {})
    done = subprocess.run([cgi_fcgi, '-bind', '-connect', conn],
                          input=body, capture_output=True, env=environ,
                          timeout=RUN_TIMEOUT)
    return CgiResult(done)


def test_get(cgi_fcgi, served):
    proc, conn = served
    result = run(cgi_fcgi, conn, '/hello')
    assert result.returncode == 0 and result.status == 200, (
        result, proc.log_text())
    assert result.body == b'hello\n', result
    assert result.headers['content-type'] == 'text/plain', result.headers
    assert result.headers['content-length'] == '6', result.headers


def test_not_found(cgi_fcgi, served):
    proc, conn = served
    result = run(cgi_fcgi, conn, '/no-such-page')
    assert result.status == 404 and result.body == b'not found\n', result


def test_environment_reaches_the_app(cgi_fcgi, served):
    """What cgi-fcgi forwards (its whole environment) is the environ."""
    proc, conn = served
    result = run(cgi_fcgi, conn, '/env', query='a=1&b=%C3%A9',
                 env={'HTTP_X_CUSTOM': 'custom value',
                      'HTTP_AUTHORIZATION': 'Basic dXNlcjpwYXNz'})
    assert result.status == 200, (result, proc.log_text())
    env = json.loads(result.body)
    assert env['QUERY_STRING'] == 'a=1&b=%C3%A9'
    assert env['HTTP_X_CUSTOM'] == 'custom value'
    assert env['HTTP_AUTHORIZATION'] == 'Basic dXNlcjpwYXNz'
    assert env['REQUEST_METHOD'] == 'GET' and env['PATH_INFO'] == '/env'
    assert env['PATH'] == '/usr/bin:/bin'


@pytest.mark.parametrize('size', [1, 70_000, 3 * 1024 * 1024])
def test_post_body(cgi_fcgi, served, size):
    """A body on cgi-fcgi's stdin (CONTENT_LENGTH bytes) arrives whole."""
    proc, conn = served
    data = random_body(size, seed=b'cgi-fcgi %d' % size)
    result = run(cgi_fcgi, conn, '/echo', 'POST', body=data)
    assert result.status == 200, (result, proc.log_text())
    info = json.loads(result.body)
    assert (info['length'], info['sha256']) == (len(data), sha256(data))
    assert info['content_length'] == str(size)


def test_streamed_response(cgi_fcgi, served):
    proc, conn = served
    result = run(cgi_fcgi, conn, '/stream', query='n=5&delay=0.02')
    assert result.status == 200, result
    assert result.body.count(b'\n') == 5, result
    big = run(cgi_fcgi, conn, '/big', query='mib=4')
    assert big.status == 200 and len(big.body) == 4 * 1024 * 1024, (
        big.status, len(big.body))
    assert hashlib.sha256(big.body).hexdigest() == sha256(
        b'\xab' * (4 * 1024 * 1024))


def test_many_clients(cgi_fcgi, served):
    """40 cgi-fcgi runs, 8 at a time: every one answered, no worker
    replaced."""
    proc, conn = served
    workers = proc.children()
    results = []

    def client(i):
        data = random_body(1000 + i * 997, seed=b'many %d' % i)
        result = run(cgi_fcgi, conn, '/echo', 'POST', body=data)
        ok = (result.status == 200
              and json.loads(result.body)['sha256'] == sha256(data))
        results.append((i, ok, result))

    for start in range(0, 40, 8):
        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(start, start + 8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(RUN_TIMEOUT + 5)
    bad = [(i, r) for i, ok, r in results if not ok]
    assert len(results) == 40 and not bad, (len(results), bad[:3],
                                            proc.log_text())
    assert proc.children() == workers, (workers, proc.children(),
                                        proc.log_text())
