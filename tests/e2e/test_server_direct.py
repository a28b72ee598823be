"""
./fcgi-wsgi without nginx, through a minimal FastCGI client (e2elib): the
socket forms, the lifecycle (ready, SIGTERM/SIGINT, stale and left-over
socket files, socket mode), --pythonpath, --home, --processes, and a
listener inherited on fd 0 from spawn-fcgi.
"""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import server_env
from e2elib import (APPS_DIR, FCGI_PARAMS, FCGI_STDIN, PYTHON, READY_TIMEOUT,
                    REPO, FcgiReader, Proc, at_once, fcgi_begin,
                    fcgi_cgi_params, fcgi_connect, fcgi_params, fcgi_request,
                    fcgi_request_bytes, fcgi_stream, free_port, random_body,
                    sha256, wait_children, wait_tcp, wait_unix_socket,
                    wait_until)

APP = ['--chdir', APPS_DIR, '--module', 'validator_app']


def start_unix(start_server, tmp, extra=(), name='app.sock'):
    sock = tmp / name
    proc = start_server(['--socket', 'unix:%s' % sock] + APP + list(extra))
    wait_unix_socket(proc, sock)
    return proc, sock


def hello(address):
    resp = fcgi_request(address, '/hello')
    assert resp.status == 200, resp
    assert resp.body == b'hello from validator_app\n'
    return resp


@pytest.mark.parametrize('form', ['port-only', 'host-port'])
def test_tcp_socket_forms(start_server, form):
    port = free_port()
    value = ':%d' % port if form == 'port-only' else '127.0.0.1:%d' % port
    proc = start_server(['--socket', value] + APP)
    wait_tcp(proc, port)
    hello(('127.0.0.1', port))


def test_plain_path_socket_form(start_server, tmp):
    sock = tmp / 'plain.sock'
    proc = start_server(['--socket', str(sock)] + APP)
    wait_unix_socket(proc, sock)
    hello(sock)


def test_cgi_style_path_info(start_server, tmp):
    """Web servers other than nginx send SCRIPT_NAME + PATH_INFO."""
    _, sock = start_unix(start_server, tmp)
    resp = fcgi_request(sock, '/environ', extra={'SCRIPT_NAME': '',
                                                 'PATH_INFO': '/environ'})
    assert resp.status == 200, resp
    env = json.loads(resp.body)
    assert env['PATH_INFO'] == '/environ' and env['SCRIPT_NAME'] == ''


def test_body_and_keep_conn(start_server, tmp):
    """Two requests on one connection (FCGI_KEEP_CONN), with bodies."""
    _, sock = start_unix(start_server, tmp)
    conn = fcgi_connect(sock)
    try:
        for i, size in enumerate((100_000, 1_000_000)):
            data = random_body(size, seed=b'%d' % i)
            try:
                resp = fcgi_request(sock, '/read-n', query='size=8192',
                                    method='POST', body=data, sock=conn,
                                    keep_conn=True, request_id=i + 1)
            except (OSError, AssertionError) as e:
                pytest.fail('request %d on a FCGI_KEEP_CONN connection: %r '
                            '(the server closed the connection after the '
                            'previous request)' % (i + 1, e))
            assert resp.status == 200, resp
            assert json.loads(resp.body)['sha256'] == sha256(data)
    finally:
        conn.close()


def lines_body():
    parts = [b'short\n', b'\n', b'crlf line\r\n', b'x' * 70_000 + b'\n']
    parts += [b'line %d %s\n' % (i, b'y' * (i * 37 % 500))
              for i in range(300)]
    return b''.join(parts) + b'no newline at the end'


@pytest.mark.parametrize('path,query,size', [
    ('/read-n', 'size=1000', 100_000),
    ('/read-n', 'size=1', 3000),
    ('/read-n', 'size=65536', 5 * 1024 * 1024),
    ('/read-n', 'size=10', 0),
    ('/readline', '', None),
    ('/readline-size', '', None),
    ('/iter', '', None),
    ('/readlines', '', None),
])
def test_body_reading_shapes(start_server, tmp, path, query, size):
    """wsgi.input read every way the validator allows, straight over
    FastCGI (no web server adding HTTP_CONTENT_* headers)."""
    proc, sock = start_unix(start_server, tmp,
                            ['--logto', tmp / 'app.log'])
    data = lines_body() if size is None else random_body(size)
    resp = fcgi_request(sock, path, query=query, method='POST', body=data)
    assert resp.status == 200, (resp, proc.log_text(),
                                (tmp / 'app.log').read_text())
    info = json.loads(resp.body)
    assert info['length'] == len(data) and info['sha256'] == sha256(data)
    log = (tmp / 'app.log').read_text()
    assert 'Traceback' not in log and 'Warning' not in log, log


@pytest.mark.parametrize('chunk,padding', [
    (1, 255), (4093, 255), (16384, 0), (65535, 0), (65535, 255)])
def test_body_records_with_padding(start_server, tmp, chunk, padding):
    """A body in STDIN records of odd sizes, with no padding or the most
    there can be: read whole, byte for byte (the content goes straight
    into the app's buffer, and the padding and the next header come in
    the same read)."""
    proc, sock = start_unix(start_server, tmp)
    data = random_body(40_000 if chunk == 1 else 300_000)
    params = fcgi_cgi_params('/read-n', 'POST', 'size=65536', len(data))
    conn = fcgi_connect(sock)
    try:
        conn.sendall(fcgi_begin() +
                     fcgi_stream(FCGI_PARAMS, 1, fcgi_params(params)) +
                     fcgi_stream(FCGI_STDIN, 1, data, padding, chunk))
        resp = FcgiReader(conn).response(1, time.monotonic() + 30)
    finally:
        conn.close()
    assert resp.status == 200, (resp, proc.log_text())
    info = json.loads(resp.body)
    assert info['length'] == len(data) and info['sha256'] == sha256(data)


def minor_faults(pid):
    with open('/proc/%d/stat' % pid) as f:
        return int(f.read().rsplit(')', 1)[1].split()[7])


def test_large_bodies_reuse_the_heap(start_server, tmp):
    """A Django view that reads 64 KiB bodies (bench/djbench, /upload/):
    a request holds its body in reference cycles until a garbage
    collection frees a batch of them at once.  The worker keeps that heap
    for the next requests rather than handing it back to the kernel and
    faulting it in again, 16 pages a request.  Counted in the worker's
    minor faults."""
    sock = tmp / 'upload.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--chdir',
                         REPO / 'bench', '--module', 'djbench.wsgi'])
    wait_unix_socket(proc, sock)
    body = random_body(64 * 1024)

    def post(n):
        for i in range(n):
            resp = fcgi_request(str(sock), '/upload/', method='POST',
                                body=body)
            assert (resp.status, resp.body) == (200, b'65536\n'), (i, resp)

    post(100)  # the heap grows to its working size
    worker = wait_children(proc, 1, READY_TIMEOUT)[0]
    before = minor_faults(worker)
    post(300)
    assert proc.children() == [worker], proc.log_text()
    faults = minor_faults(worker) - before
    assert faults < 300, '%d minor faults in 300 requests' % faults


def rss_anon_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('RssAnon:'):
                return int(line.split()[1])
    raise AssertionError('no RssAnon for %d' % pid)


KEPT = 256                  # connections held open at once
KEPT_KIB_EACH = 9           # memory each may cost the worker, KiB


def test_kept_connections_cost_little_memory(start_server, tmp):
    """A worker holding 256 connections that nginx keeps open
    (FCGI_KEEP_CONN), each having served a request, grows by less than
    9 KiB of memory for each (7.3 measured): the 16 KiB input buffer of
    a connection is not touched beyond what was read into it (zeroed, it
    cost 11.0 KiB a connection).  Every connection then serves a second
    request."""
    proc, sock = start_unix(start_server, tmp, ['--processes', '1'])
    worker = wait_children(proc, 1, READY_TIMEOUT)[0]
    for _ in range(20):  # the worker's own first-request allocations
        hello(sock)
    before = rss_anon_kib(worker)
    socks = [fcgi_connect(str(sock)) for _ in range(KEPT)]
    try:
        readers = [FcgiReader(s) for s in socks]
        deadline = time.monotonic() + 30

        def one_request_each():
            for s, reader in zip(socks, readers):
                s.sendall(fcgi_request_bytes('/hello', keep_conn=True))
                answer = reader.response(1, deadline)
                assert answer.body == b'hello from validator_app\n', answer

        one_request_each()
        grown = rss_anon_kib(worker) - before
        one_request_each()
        assert proc.children() == [worker], proc.log_text()
    finally:
        for s in socks:
            s.close()
    assert grown < KEPT * KEPT_KIB_EACH, (
        '%d kept connections: the worker grew by %d KiB (%.1f each)'
        % (KEPT, grown, grown / KEPT))


def test_unread_body(start_server, tmp):
    """The application answers without reading a 5 MiB body."""
    _, sock = start_unix(start_server, tmp)
    for path in ('/hello', '/error-before', '/hello'):
        resp = fcgi_request(sock, path, method='POST',
                            body=random_body(5 * 1024 * 1024))
        assert resp.status in (200, 500), resp


def test_survives_connect_and_close(start_server, tmp):
    """Clients that connect and leave without a request (probes): the
    request after them is answered by the same worker, none died."""
    proc, sock = start_unix(start_server, tmp)
    kids = wait_children(proc, 1, READY_TIMEOUT)
    for _ in range(3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(sock))
    # the worker takes connections in the order they came: the answer
    # comes after it has seen the probes
    hello(sock)
    assert proc.alive(), proc.log_text()
    assert proc.children() == kids, (kids, proc.log_text())
    assert 'exited' not in proc.log_text() and \
        'killed' not in proc.log_text(), proc.log_text()


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_and_removes_socket(start_server, tmp, sig):
    proc, sock = start_unix(start_server, tmp, ['--processes', '2'])
    hello(sock)
    os.kill(proc.pid, sig)
    status = proc.wait(10)
    assert status is not None, 'still running 10 s after %s' % sig.name
    assert status == 0, (status, proc.log_text())
    assert not os.path.exists(sock), 'socket file left behind'
    wait_until(lambda: not proc.group_members(), 5,
               lambda: 'workers left running: %s' % proc.group_members())


def test_stale_socket_is_replaced(start_server, tmp):
    sock = tmp / 'stale.sock'
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # the file stays, nobody listens: a crashed server's
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    proc, _ = start_unix(start_server, tmp, name='stale.sock')
    hello(sock)


def test_chmod_socket(start_server, tmp):
    _, sock = start_unix(start_server, tmp, ['--chmod-socket', '600'])
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    _, sock2 = start_unix(start_server, tmp, name='default.sock')
    assert stat.S_IMODE(os.stat(sock2).st_mode) == 0o660


def test_pythonpath(start_server, tmp):
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--chdir', tmp,
                         '--pythonpath', APPS_DIR,
                         '--module', 'validator_app'])
    wait_unix_socket(proc, sock)
    hello(sock)


def test_home_virtualenv(start_server, tmp):
    """--home VENV: a module installed only in the venv is importable and
    sys.prefix is the venv."""
    venv = tmp / 'venv'
    done = subprocess.run([PYTHON, '-m', 'venv', '--without-pip', venv],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.skip('cannot make a venv: %s' % done.stderr)
    site = subprocess.run(
        [venv / 'bin' / 'python', '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        capture_output=True, text=True, timeout=60).stdout.strip()
    with open(os.path.join(site, 'venv_only_app.py'), 'w') as f:
        f.write('import sys\n\n\n'
                'def application(environ, start_response):\n'
                '    start_response("200 OK", '
                '[("Content-Type", "text/plain")])\n'
                '    return [sys.prefix.encode()]\n')
    sock = tmp / 'venv.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--home', venv,
                         '--module', 'venv_only_app'])
    wait_unix_socket(proc, sock)
    resp = fcgi_request(sock, '/')
    assert resp.status == 200, (resp, proc.log_text())
    assert os.path.realpath(resp.body.decode()) == os.path.realpath(venv)


def test_processes_and_respawn(start_server, tmp):
    proc, sock = start_unix(start_server, tmp, ['--processes', '3'])
    kids = wait_children(proc, 3, 5)
    os.kill(kids[0], signal.SIGKILL)
    wait_children(proc, 3, 10, exclude=kids[:1])
    for _ in range(6):
        hello(sock)


def test_spawn_fcgi_inherited_socket(start_server, server_cmd, tmp):
    """spawn-fcgi binds the socket and execs fcgi-wsgi with it on fd 0
    (-n: no fork, so the pid is fcgi-wsgi's)."""
    spawn = shutil.which('spawn-fcgi') or '/usr/bin/spawn-fcgi'
    if not os.access(spawn, os.X_OK):
        pytest.skip('spawn-fcgi is not installed')
    sock = tmp / 'spawn.sock'
    proc = Proc([spawn, '-n', '-s', sock, '-M', '0660', '--'] + server_cmd
                + [str(a) for a in APP], tmp / 'spawn.log',
                env=server_env(), name='spawn-fcgi')
    try:
        wait_unix_socket(proc, sock)
        hello(sock)
    finally:
        proc.stop()


def test_threads_serve_in_parallel(start_server, tmp):
    """--threads 2 in one process: two 1 s requests overlap, and the
    environ says wsgi.multithread."""
    _, sock = start_unix(start_server, tmp, ['--threads', '2'])
    env = json.loads(fcgi_request(sock, '/environ').body)
    assert env['wsgi.multithread'] is True, env

    def one():
        return fcgi_request(sock, '/stream', query='n=3&delay=0.5')

    results, elapsed = at_once(one, one)
    assert all(r is not None and r.status == 200 for r in results), \
        results
    assert elapsed < 1.8, 'two 1 s requests took %.2f s' % elapsed
