"""
bench/fcgi-load, the bench's FastCGI load generator (built here from its
source), against fcgi-wsgi serving bench/hello.py: byte for byte the answer
`cgi-fcgi -bind -connect` (libfcgi-bin) gets for the same params and body
(bench/check_fcgi_load.py, which `make bench` runs on every FastCGI peer),
over a unix socket and TCP; and what it counts: requests, statuses, errors
by kind, latency percentiles, kept connections, stalled ones, and a server
closing kept connections.
"""

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from e2elib import (APPS_DIR, REPO, FcgiReader, fcgi_record, free_port,
                    wait_tcp, wait_unix_socket)

sys.path.insert(0, str(REPO / 'bench'))
import check_fcgi_load  # noqa: E402
from benchlib import parse_fcgi_load  # noqa: E402

BENCH = REPO / 'bench'
RUN_TIMEOUT = 60
FCGI_STDOUT, FCGI_END_REQUEST = 6, 3


@pytest.fixture(scope='module')
def fcgi_load(tmp_path_factory):
    """bench/fcgi-load.c compiled as the Makefile does."""
    out = tmp_path_factory.mktemp('fcgi-load') / 'fcgi-load'
    done = subprocess.run(
        ['cc', '-std=c11', '-D_POSIX_C_SOURCE=200809L', '-Wall', '-Wextra',
         '-Werror', '-Wshadow', '-Wstrict-prototypes',
         '-Wmissing-prototypes', '-Wformat=2', '-O2', '-o', str(out),
         str(BENCH / 'fcgi-load.c')], capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope='module')
def cgi_fcgi():
    if not shutil.which('cgi-fcgi'):
        pytest.skip('cgi-fcgi is not installed (Debian package libfcgi-bin)')


def start_hello(start_server, tmp, kind, app=('--chdir', BENCH, '--module',
                                              'hello')):
    """fcgi-wsgi with 2 processes on a unix socket or a TCP port; the
    target fcgi-load and cgi-fcgi take."""
    if kind == 'unix':
        sock = tmp / 'load.sock'
        proc = start_server(['--socket', 'unix:%s' % sock, '--processes',
                             '2'] + list(app))
        wait_unix_socket(proc, sock)
        return proc, 'unix:%s' % sock
    port = free_port()
    proc = start_server(['--socket', '127.0.0.1:%d' % port, '--processes',
                         '2'] + list(app))
    wait_tcp(proc, port)
    return proc, '127.0.0.1:%d' % port


def load(fcgi_load, *args):
    """fcgi-load's exit status and its parsed line (and the raw text)."""
    done = subprocess.run([str(fcgi_load)] + [str(a) for a in args],
                          capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    result = parse_fcgi_load(done.stdout)
    assert result is not None, (done.stdout, done.stderr)
    result['text'] = done.stdout
    return done.returncode, result


def field(result, name):
    for kv in result['text'].split():
        key, _, value = kv.partition('=')
        if key == name:
            return value
    raise AssertionError('%s not in %r' % (name, result['text']))


@pytest.mark.parametrize('kind', ['unix', 'tcp'])
def test_same_bytes_as_cgi_fcgi(fcgi_load, cgi_fcgi, start_server, tmp,
                                kind):
    """Every request of the check (GET, a query and 30 headers, POSTs of
    64 and 200 KiB, 1 MiB, a stream): fcgi-load's -o = cgi-fcgi's stdout,
    and both hold what was asked for."""
    proc, target = start_hello(start_server, tmp, kind)
    results = check_fcgi_load.check(fcgi_load, target)
    problems = ['%s: %s' % (name, problem) for name, _, problem in results
                if problem is not None]
    assert not problems, '\n'.join(problems) + '\n' + proc.log_text()
    assert len(results) == len(check_fcgi_load.CASES)


def test_check_tells_a_difference(fcgi_load, cgi_fcgi, start_server, tmp):
    """The check can fail: a param only fcgi-load sends shows in /echo."""
    proc, target = start_hello(start_server, tmp, 'unix')
    ours, theirs, problem = check_fcgi_load.compare_one(
        fcgi_load, target, {'uri': '/echo'}, b'', tmp,
        extra_params=None)
    assert problem is None, problem
    params = check_fcgi_load.params_of(fcgi_load, ['-u', '/echo'])
    params[b'HTTP_X_ONLY_CGI_FCGI'] = b'1'
    done = subprocess.run(['cgi-fcgi', '-bind', '-connect', target[5:]],
                          env=params, capture_output=True,
                          timeout=RUN_TIMEOUT)
    assert done.stdout != ours and b'HTTP_X_ONLY_CGI_FCGI=1' in done.stdout


@pytest.mark.parametrize('keep', [False, True])
def test_counts(fcgi_load, start_server, tmp, keep):
    """-n requests over -c connections: each answered once, all 200, the
    STDOUT bytes those of one answer times n, percentiles in order; with
    -k fcgi-wsgi keeps every connection (no reconnect)."""
    proc, target = start_hello(start_server, tmp, 'unix')
    one = tmp / 'one.out'
    status, first = load(fcgi_load, '-n', 1, '-o', one, target)
    assert status == 0 and first['ok'] == 1, first['text']
    args = ['-n', 500, '-c', 8] + (['-k'] if keep else []) + [target]
    status, result = load(fcgi_load, *args)
    assert status == 0, result['text']
    assert result['requests'] == 500 and result['ok'] == 500, result['text']
    assert field(result, 'status') == '200:500', result['text']
    assert result['errors'] == 0 and result['stalled'] == 0, result['text']
    assert result['reconnects'] == 0, result['text']
    assert result['stdout_bytes'] == 500 * len(one.read_bytes()), (
        result['text'])
    assert field(result, 'keep') == ('1' if keep else '0')
    times = [int(field(result, k)) for k in
             ('p50_us', 'p90_us', 'p99_us', 'p999_us', 'max_us')]
    assert 0 < times[0] and times == sorted(times), result['text']


def test_statuses_and_bodies(fcgi_load, start_server, tmp):
    """Answers other than 200 are counted by status, and as errors; -b
    sends a body the app reads whole."""
    proc, target = start_hello(start_server, tmp, 'unix',
                               ('--chdir', APPS_DIR, '--module', 'wire_app'))
    status, result = load(fcgi_load, '-n', 20, '-c', 2, '-u', '/no-such',
                          target)
    assert field(result, 'status') == '404:20', result['text']
    assert result['ok'] == 0 and result['errors'] == 20, result['text']
    out = tmp / 'echo.out'
    status, result = load(fcgi_load, '-n', 1, '-b', 70000, '-u', '/echo',
                          '-o', out, target)
    assert status == 0 and result['ok'] == 1, result['text']
    assert b'"length": 70000' in out.read_bytes(), out.read_bytes()[:300]


def test_nobody_listening(fcgi_load, tmp):
    """No socket: connect errors, nothing answered, exit status 1."""
    status, result = load(fcgi_load, '-d', 0.3, '-c', 2,
                          'unix:%s' % (tmp / 'none.sock'))
    assert status == 1 and result['requests'] == 0, result['text']
    assert int(field(result, 'connect')) > 0, result['text']
    assert result['stalled'] == 2, result['text']


def test_silent_server_stalls(fcgi_load, tmp):
    """A socket that accepts (the kernel's queue) and never answers: every
    request times out, every connection counts as stalled."""
    path = tmp / 'silent.sock'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(16)
        status, result = load(fcgi_load, '-d', 1, '-t', 0.3, '-c', 4,
                              'unix:%s' % path)
    assert status == 1 and result['requests'] == 0, result['text']
    assert int(field(result, 'timeout')) >= 4, result['text']
    assert result['stalled'] == 4, result['text']


def test_server_closing_kept_connections(fcgi_load, tmp):
    """A responder that answers one request per connection whatever
    FCGI_KEEP_CONN says (as uWSGI does): with -k each request after the
    first on a connection meets a closed one and goes again on a new one,
    counted as a reconnect, not an error."""
    path = tmp / 'closing.sock'
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    answer = (fcgi_record(FCGI_STDOUT, 1, b'Status: 200 OK\r\n\r\nhi')
              + fcgi_record(FCGI_STDOUT, 1)
              + fcgi_record(FCGI_END_REQUEST, 1, struct.pack('!IB3x', 0, 0)))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            with conn:
                reader = FcgiReader(conn)
                deadline = time.monotonic() + 10
                while True:  # up to the empty STDIN record
                    record = reader.record(deadline)
                    if record is None or (record[0] == 5 and not record[2]):
                        break
                if record is not None:
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        status, result = load(fcgi_load, '-n', 50, '-c', 2, '-k',
                              'unix:%s' % path)
    finally:
        stop.set()
        thread.join(10)
        listener.close()
    assert status == 0 and result['ok'] == 50, result['text']
    assert result['errors'] == 0, result['text']
    assert result['reconnects'] >= 40, result['text']
