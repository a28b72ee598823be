"""
The FastCGI wire under attack (issue 7): ./fcgi-wsgi with
tests/apps/wire_app.py, no web server, raw FastCGI bytes over a unix
socket and over TCP.  One test per attack of the issue, each asserting
what a robust server does: the request answered, the worker alive and
idle (CPU from /proc/PID/stat), its fds released (/proc/PID/fd, polled
with a deadline), the log free of crashes, timeouts and limits enforced
with a FastCGI answer rather than a reset.

Every wait has a deadline (WAIT, FW_E2E_WIRE_WAIT, 5 s by default) so a
server that hangs fails fast; the file runs in about a minute.
"""

import json
import os
import random
import re
import select
import signal
import socket
import threading
import time

import pytest

from conftest import server_env
from e2elib import (APPS_DIR, FCGI_ABORT_REQUEST, FCGI_CANT_MPX_CONN,
                    FCGI_DATA, FCGI_END_REQUEST, FCGI_FILTER,
                    FCGI_GET_VALUES_RESULT, FCGI_PARAMS,
                    FCGI_REQUEST_COMPLETE, FCGI_STDIN, FCGI_STDOUT,
                    FCGI_UNKNOWN_ROLE, FCGI_UNKNOWN_TYPE, FcgiReader, Proc,
                    REPO, ServerMissing, fcgi_begin, fcgi_cgi_params,
                    fcgi_get_values, fcgi_pairs, fcgi_params,
                    fcgi_parse_pairs, fcgi_record, fcgi_request_bytes,
                    fcgi_stream, free_port, proc_cpu_seconds, proc_fds,
                    proc_table, random_body, server_argv, sha256, tail,
                    wait_tcp, wait_unix_socket, wait_until)

WAIT = float(os.environ.get('FW_E2E_WIRE_WAIT', '5'))
APP = ['--chdir', APPS_DIR, '--module', 'wire_app']
# What the master logs when a worker dies, and what a dying process prints.
CRASH_SIGNS = ('killed by signal', 'exited with status', 'stack smashing',
               'crash loop', 'Segmentation fault', 'core dumped')
# CPU seconds a worker may use in IDLE_WINDOW seconds of "doing nothing".
IDLE_WINDOW = 2.0
IDLE_CPU_MAX = 0.2
KNOWN_VALUES = (b'FCGI_MAX_CONNS', b'FCGI_MAX_REQS', b'FCGI_MPXS_CONNS')


# ---------------------------------------------------------------- server

class WireServer:
    """
    ./fcgi-wsgi serving wire_app on a unix socket or 127.0.0.1:PORT, its
    log in dir/server.log; dir/app is WIRE_APP_DIR (the app's call and
    close() records).  prefix: a command the server runs under (prlimit).
    """

    def __init__(self, dir, transport, args=(), processes=1, prefix=(),
                 env=None, probe=True):
        self.dir = dir
        self.app_dir = dir / 'app'
        self.app_dir.mkdir()
        self.log_path = dir / 'server.log'
        if transport == 'unix':
            self.address = dir / 'wire.sock'
            spec = 'unix:%s' % self.address
        else:
            self.address = ('127.0.0.1', free_port())
            spec = '%s:%d' % self.address
        argv = (list(prefix) + server_argv() + ['--socket', spec] + APP
                + ['--processes', str(processes)] + [str(a) for a in args])
        self.proc = Proc(argv, self.log_path, cwd=REPO,
                         env=server_env(dict(env or {},
                                             WIRE_APP_DIR=str(self.app_dir))),
                         name='fcgi-wsgi')
        try:
            if transport == 'unix':
                wait_unix_socket(self.proc, self.address)
            else:
                wait_tcp(self.proc, self.address[1])
            wait_until(lambda: not self.proc.alive() or
                       len(self.proc.children()) >= processes, WAIT)
            assert self.proc.alive() and \
                len(self.proc.children()) >= processes, (
                    'not %d workers after %.0f s:\n%s'
                    % (processes, WAIT, self.log()))
            self.pids = self.proc.children()
            for _ in range(processes if probe else 0):
                answer = self.request('/pid')
                assert answer.status == 200, (answer, self.log())
        except BaseException:
            self.proc.stop()
            raise

    def log(self):
        return '--- server log %s:\n%s' % (self.log_path,
                                           tail(self.log_path, 4000))

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        with open(self.log_path, 'rb') as f:
            f.seek(offset)
            return f.read().decode('utf-8', 'replace')

    def connect(self, rcvbuf=None):
        """A connected socket; rcvbuf: its receive buffer's size, set
        before it connects (a TCP window shrunk after the handshake makes
        loopback crawl: segments of its 32 KiB MSS no longer fit)."""
        tcp = isinstance(self.address, tuple)
        sock = socket.socket(socket.AF_INET if tcp else socket.AF_UNIX,
                             socket.SOCK_STREAM)
        try:
            sock.settimeout(WAIT)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.connect(self.address if tcp else str(self.address))
            if tcp:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            raise
        return sock

    def request(self, path='/hello', timeout=WAIT, **kw):
        """One whole request on a new connection: an FcgiAnswer."""
        with self.connect() as sock:
            sock.sendall(fcgi_request_bytes(path, **kw))
            return answer_of(FcgiReader(sock), 1, timeout, self,
                             'GET %s' % path)

    def calls(self):
        try:
            return (self.app_dir / 'calls').read_text().splitlines()
        except OSError:
            return []

    def closed_records(self):
        try:
            text = (self.app_dir / 'closed').read_text()
        except OSError:
            return []
        return [json.loads(line) for line in text.splitlines()]

    def assert_intact(self, what):
        """No worker died (same pids, no crash in the log), master up."""
        log = tail(self.log_path, 200000)
        signs = [s for s in CRASH_SIGNS if s in log]
        now = self.proc.children()
        assert self.proc.alive() and not signs and now == self.pids, (
            '%s: the pool is not intact: crash signs %s in the log, '
            'workers %s before, %s now\n%s'
            % (what, signs, self.pids, now, self.log()))

    def worker(self):
        assert len(self.pids) == 1, self.pids
        return self.pids[0]

    def stop(self):
        self.proc.stop()


@pytest.fixture
def wire(tmp):
    """wire(transport, args=..., processes=..., prefix=...): a
    WireServer, stopped when the test ends."""
    started = []
    try:
        server_argv()
    except ServerMissing as e:
        pytest.skip(str(e))

    def start(transport='unix', *args, **kw):
        sub = tmp / ('s%d' % len(started))
        sub.mkdir()
        server = WireServer(sub, transport, *args, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


TRANSPORTS = ['unix', 'tcp']


# ---------------------------------------------------------------- helpers

def answer_of(reader, rid, timeout, server, what):
    """The response for rid read within timeout s, or a failure that says
    what happened (timeout, reset, EOF) with the server's log."""
    started = time.monotonic()
    try:
        return reader.response(rid, started + timeout)
    except TimeoutError:
        problem = 'no END_REQUEST within %.1f s (the server hangs)' % timeout
    except ConnectionResetError:
        problem = ('connection reset after %.2f s'
                   % (time.monotonic() - started))
    except AssertionError as e:
        problem = '%s (after %.2f s)' % (e, time.monotonic() - started)
    raise AssertionError('%s: %s; workers now %s (were %s)\n%s' % (
        what, problem, server.proc.children(), server.pids, server.log()))


def idle_cpu(pids, window=IDLE_WINDOW):
    """CPU seconds the pids used together during window s (a measurement
    window, not a wait for something to happen)."""
    before = [proc_cpu_seconds(p) or 0.0 for p in pids]
    time.sleep(window)  # the measurement window itself
    after = [proc_cpu_seconds(p) or 0.0 for p in pids]
    return sum(after) - sum(before)


def fd_count(pids):
    return sum(len(proc_fds(p)) for p in pids)


def wait_fds(pids, target, timeout):
    """Polls until the pids hold target fds together (bounded); returns
    the last count seen."""
    wait_until(lambda: fd_count(pids) <= target, timeout)
    return fd_count(pids)


def get_values_result(records):
    """The pairs of the GET_VALUES_RESULT records among records."""
    pairs = []
    for rtype, rid, content in records:
        if rtype == FCGI_GET_VALUES_RESULT and rid == 0:
            pairs += fcgi_parse_pairs(content)
    return pairs


def assert_get_values_answer(pairs, asked, what):
    """Each known name asked is answered, nothing unknown; values are
    decimal and FCGI_MPXS_CONNS is 0 (one request per connection)."""
    names = {n for n, _ in pairs}
    want = {n for n in asked if n in KNOWN_VALUES}
    assert names == want, '%s: GET_VALUES_RESULT named %s, expected %s' % (
        what, sorted(names), sorted(want))
    for name, value in pairs:
        assert value.isdigit(), (what, name, value)
        if name == b'FCGI_MPXS_CONNS':
            assert value == b'0', (what, value)


def wait_get_values_result(reader, others, timeout):
    """The GET_VALUES_RESULT pairs among others, or read on (bounded)
    until one comes; [] if none came."""
    pairs = get_values_result(others)
    deadline = time.monotonic() + timeout
    while not pairs:
        try:
            rec = reader.record(deadline)
        except (TimeoutError, ConnectionResetError):
            return []
        if rec is None:
            return []
        pairs = get_values_result([rec])
    return pairs


def echo_body(answer, data, what):
    assert answer.status == 200, (what, answer)
    info = json.loads(answer.body)
    assert info['length'] == len(data) and info['sha256'] == sha256(data), (
        '%s: the app read %d bytes (sha256 %s), sent %d (%s)' % (
            what, info['length'], info['sha256'][:16], len(data),
            sha256(data)[:16]))
    return info


def send_slowly(sock, data, step, pause=0.0):
    """data in pieces of step bytes, pause s apart (the attack's pace)."""
    for i in range(0, len(data), step):
        sock.sendall(data[i:i + step])
        if pause:
            time.sleep(pause)  # stimulus: a slow client


def closed_within(socks, started, timeout):
    """Waits (bounded) until the peer closes each socket; returns the
    time after started at which each saw EOF or a reset (None: still
    open at the deadline)."""
    deadline = started + timeout
    when = [None] * len(socks)
    open_ = {s.fileno(): i for i, s in enumerate(socks)}
    poller = select.poll()
    for fd in open_:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while open_:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, _ in poller.poll(left * 1000):
            i = open_[fd]
            try:
                data = socks[i].recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b''
            except BlockingIOError:
                continue
            if not data:
                when[i] = time.monotonic() - started
                poller.unregister(fd)
                del open_[fd]
    return when


def timeout_logged(server, offset, timeout=3.0):
    """Polls (bounded) the log written since offset for a line about a
    timeout (it may come just after the close, or batched)."""
    return wait_until(lambda: re.search(r'time.?out|timed out',
                                        server.log_since(offset),
                                        re.IGNORECASE), timeout)


# ------------------------------------------------- attack 1: GET_VALUES

ASKED = [b'FCGI_MPXS_CONNS'] * 200 + [b'FCGI_MAX_CONNS', b'FCGI_MAX_REQS',
                                      b'FW_NO_SUCH_VALUE']


def get_values_attack(placement, body=b''):
    """
    The bytes of an ordinary request (POST /echo with body, or a GET) with
    a GET_VALUES record naming FCGI_MPXS_CONNS 200 times placed where
    placement says: 'in-stdin' (after PARAMS), 'mid-params', 'mid-body'.
    """
    gv = fcgi_get_values(ASKED)
    params = fcgi_params(fcgi_cgi_params(
        '/echo', 'POST' if body else 'GET',
        body_length=len(body) if body else None))
    head = fcgi_begin(1, keep_conn=True)
    if placement == 'mid-params':
        half = len(params) // 2
        return (head + fcgi_record(FCGI_PARAMS, 1, params[:half]) + gv
                + fcgi_record(FCGI_PARAMS, 1, params[half:])
                + fcgi_record(FCGI_PARAMS, 1)
                + fcgi_stream(FCGI_STDIN, 1, body))
    if placement == 'mid-body':
        half = len(body) // 2
        return (head + fcgi_stream(FCGI_PARAMS, 1, params)
                + fcgi_record(FCGI_STDIN, 1, body[:half]) + gv
                + fcgi_stream(FCGI_STDIN, 1, body[half:]))
    return (head + fcgi_stream(FCGI_PARAMS, 1, params) + gv
            + fcgi_stream(FCGI_STDIN, 1, body))


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_get_values_alone(wire, transport):
    """GET_VALUES (id 0) on its own connection: answered with each known
    name asked, no unknown one; the worker lives; a request still works."""
    server = wire(transport)
    with server.connect() as sock:
        sock.sendall(fcgi_get_values(ASKED))
        reader = FcgiReader(sock)
        try:
            rec = reader.record(time.monotonic() + WAIT)
        except (TimeoutError, ConnectionResetError) as e:
            rec = e
        assert isinstance(rec, tuple), (
            'no GET_VALUES_RESULT: %r; workers %s (were %s)\n%s' % (
                rec, server.proc.children(), server.pids, server.log()))
    assert_get_values_answer(get_values_result([rec]), ASKED, 'alone')
    assert server.request('/hello').status == 200
    server.assert_intact('GET_VALUES alone')


@pytest.mark.parametrize('placement', ['in-stdin', 'mid-params',
                                       'mid-body'])
@pytest.mark.parametrize('transport', TRANSPORTS)
def test_get_values_inside_a_request(wire, transport, placement):
    """The 4 KB remote crash: GET_VALUES naming FCGI_MPXS_CONNS 200 times
    inside a request.  The request is answered, the management record
    too, no worker dies; the kept connection serves one more request."""
    server = wire(transport)
    body = random_body(20000) if placement == 'mid-body' else b''
    with server.connect() as sock:
        sock.sendall(get_values_attack(placement, body))
        reader = FcgiReader(sock)
        answer = answer_of(reader, 1, WAIT, server, placement)
        echo_body(answer, body, placement)
        pairs = wait_get_values_result(reader, answer.others, WAIT)
        assert pairs, ('no GET_VALUES_RESULT for the record sent %s\n%s'
                       % (placement, server.log()))
        assert_get_values_answer(pairs, ASKED, placement)
        sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        again = answer_of(reader, 1, WAIT, server, 'the next request')
        assert again.status == 200 and again.body == b'hello\n', again
    server.assert_intact('GET_VALUES %s' % placement)


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_get_values_burst(wire, transport):
    """Ten such requests at once (the issue: the pool empty for ~7 s):
    each answered, then a normal request answered at once."""
    server = wire(transport, processes=2)
    socks = [server.connect() for _ in range(10)]
    try:
        for sock in socks:
            sock.sendall(get_values_attack('in-stdin'))
        for i, sock in enumerate(socks):
            answer = answer_of(FcgiReader(sock), 1, WAIT, server,
                               'burst connection %d' % i)
            assert answer.status == 200, answer
    finally:
        for sock in socks:
            sock.close()
    started = time.monotonic()
    answer = server.request('/hello')
    took = time.monotonic() - started
    assert answer.status == 200 and took < 1.0, (
        'a request after the burst took %.2f s' % took, server.log())
    server.assert_intact('GET_VALUES burst')


# --------------------------------- attack 2: a partial record, then close

@pytest.mark.parametrize('transport', TRANSPORTS)
def test_partial_record_then_close(wire, transport):
    """Three bytes of a header (and other cuts mid-record), then close:
    the worker stays idle (was 100% CPU) and closes the fd (was never)."""
    server = wire(transport)
    worker = server.worker()
    baseline = fd_count([worker])
    request = fcgi_request_bytes('/echo', 'POST', body=b'x' * 100)
    cuts = [3, 8, 8 + 4, len(request) - 9]  # header, content, padding, ...
    for cut in cuts:
        with server.connect() as sock:
            sock.sendall(request[:cut])
    cpu = idle_cpu([worker])
    fds = wait_fds([worker], baseline, 3.0)
    assert cpu < IDLE_CPU_MAX and fds <= baseline, (
        'after %d connections closed mid-record: the worker used %.2f s '
        'of CPU in %.0f s (max %.1f) and holds %d fds (%d before)\n%s' % (
            len(cuts), cpu, IDLE_WINDOW, IDLE_CPU_MAX, fds, baseline,
            server.log()))
    assert server.request('/hello').status == 200
    server.assert_intact('partial records')


# --------------------------------- attack 3: PARAMS 256 bytes at a time

def test_params_written_slowly(wire):
    """~59 KB of PARAMS written 256 bytes at a time over a unix socket
    (was a deadlock: the server only peeked and its queue filled): the
    request is answered with the value whole, the worker idle after."""
    server = wire('unix')
    big = 'v' * 58000
    data = fcgi_request_bytes('/env', extra={'HTTP_X_BIG': big})
    with server.connect() as sock:
        sock.settimeout(WAIT)
        started = time.monotonic()
        try:
            send_slowly(sock, data, 256)
        except socket.timeout:
            pytest.fail('the server stopped reading: %d bytes in 256-byte '
                        'writes blocked for %.0f s (deadlock)\n%s'
                        % (len(data), WAIT, server.log()))
        answer = answer_of(FcgiReader(sock), 1, WAIT, server, 'slow PARAMS')
    assert answer.status == 200, answer
    assert json.loads(answer.body)['HTTP_X_BIG'] == big
    took = time.monotonic() - started
    cpu = idle_cpu([server.worker()])
    assert cpu < IDLE_CPU_MAX, (
        'the worker used %.2f s of CPU in %.0f s after a slow PARAMS (the '
        'request took %.2f s)\n%s' % (cpu, IDLE_WINDOW, took, server.log()))
    server.assert_intact('slow PARAMS')


# ------------------------------------ attack 4: pipelined requests

@pytest.mark.parametrize('shape', ['two', 'three', 'request+get_values'])
@pytest.mark.parametrize('transport', TRANSPORTS)
def test_pipelined_requests(wire, transport, shape):
    """Whole requests in one write on a FCGI_KEEP_CONN connection, each
    with request id 1 as nginx and Apache number them (was: the second
    lost, the connection silent): all answered, in order."""
    server = wire(transport)
    count = {'two': 2, 'three': 3, 'request+get_values': 1}[shape]
    bodies = [random_body(1000 + 7000 * i, seed=b'pipe%d' % i)
              for i in range(count)]
    data = b''.join(fcgi_request_bytes('/echo', 'POST', body=b,
                                       keep_conn=True) for b in bodies)
    if shape == 'request+get_values':
        data += fcgi_get_values([b'FCGI_MPXS_CONNS', b'FCGI_MAX_REQS'])
    with server.connect() as sock:
        sock.sendall(data)
        reader = FcgiReader(sock)
        others = []
        for i, body in enumerate(bodies):
            answer = answer_of(reader, 1, WAIT, server,
                               'pipelined request %d of %d' % (i + 1, count))
            echo_body(answer, body, 'pipelined request %d' % (i + 1))
            others += answer.others
        if shape == 'request+get_values':
            pairs = wait_get_values_result(reader, others, WAIT)
            assert pairs, 'no GET_VALUES_RESULT\n%s' % server.log()
            assert_get_values_answer(
                pairs, [b'FCGI_MPXS_CONNS', b'FCGI_MAX_REQS'], shape)
    server.assert_intact('pipelining')


# --------------------------------------- attack 5: silent connections

@pytest.mark.parametrize('transport', TRANSPORTS)
def test_silent_connections_cost_nothing(wire, transport):
    """200 connections that send nothing (was: the next request waited
    5 s): the next request is as fast as without them, the worker idle."""
    server = wire(transport)
    times = []
    for _ in range(5):
        started = time.monotonic()
        server.request('/hello')
        times.append(time.monotonic() - started)
    base = sorted(times)[2]
    silent = [server.connect() for _ in range(200)]
    try:
        started = time.monotonic()
        answer = server.request('/hello', timeout=10)
        took = time.monotonic() - started
        cpu = idle_cpu([server.worker()], 1.0)
    finally:
        for sock in silent:
            sock.close()
    assert answer.status == 200
    assert took < 0.5 and took < base + 0.3, (
        'with 200 silent connections a request took %.3f s (%.3f s '
        'without)\n%s' % (took, base, server.log()))
    assert cpu < IDLE_CPU_MAX / 2, (
        'with 200 silent connections open the worker used %.2f s of CPU '
        'in 1 s' % cpu)
    server.assert_intact('silent connections')


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_socket_timeout_closes_silent_connections(wire, transport):
    """socket-timeout 3: connections that say nothing, or stop inside
    their PARAMS, are closed after ~3 s (not before 2.5, not after 5),
    and it is logged; the pool serves on."""
    server = wire(transport, ['--socket-timeout', '3'])
    offset = server.log_size()
    partial = fcgi_request_bytes('/hello')[:30]
    socks = [server.connect() for _ in range(20)]
    for _ in range(5):
        sock = server.connect()
        sock.sendall(partial)
        socks.append(sock)
    started = time.monotonic()
    try:
        when = closed_within(socks, started, 3 + 2 + 0.5)
    finally:
        for sock in socks:
            sock.close()
    late = [w for w in when if w is None or w > 5.0]
    early = [w for w in when if w is not None and w < 2.5]
    assert not late and not early, (
        'socket-timeout 3: %d of %d connections still open after 5 s, %d '
        'closed before 2.5 s; close times %s\n%s' % (
            len(late), len(socks), len(early),
            ['-' if w is None else '%.1f' % w for w in when], server.log()))
    assert timeout_logged(server, offset), (
        'the timeouts were not logged\n%s' % server.log())
    assert server.request('/hello').status == 200
    server.assert_intact('socket-timeout')


def test_request_sent_while_the_thread_was_busy_is_served(wire):
    """keepalive-timeout 2, one thread.  A web server keeps a connection
    after a first request; the thread then serves a 3 s stream on another,
    and meanwhile the kept connection brings its next request.  When the
    thread comes back, the kept connection's idle deadline has passed, but
    its web server did speak: the request is served, not closed as idle
    (which nginx would have answered with a 502)."""
    server = wire('unix', ['--keepalive-timeout', '2', '--threads', '1'])
    offset = server.log_size()
    with server.connect() as kept, server.connect() as busy:
        kept_reader = FcgiReader(kept)
        kept.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        first = answer_of(kept_reader, 1, WAIT, server, 'the first request')
        assert first.status == 200, first
        busy.sendall(fcgi_request_bytes('/slow-stream',
                                        query='n=30&interval=0.1'))
        assert wait_until(lambda: any(c.startswith('/slow-stream')
                                      for c in server.calls()), WAIT)
        kept.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        stream = answer_of(FcgiReader(busy), 1, 3 + WAIT, server,
                           'the 3 s stream')
        assert stream.status == 200 and stream.body.count(b'chunk') == 30
        hello = answer_of(kept_reader, 1, WAIT, server,
                          'the request sent while the thread was busy')
        assert hello.status == 200 and hello.body == b'hello\n', hello
    assert 'keepalive-timeout' not in server.log_since(offset), server.log()
    server.assert_intact('a request that waited for the thread')


def test_keepalive_timeout_closes_idle_kept_connection(wire):
    """keepalive-timeout 2: a kept connection idle after its answer is
    closed after ~2 s; one used again within the timeout is served."""
    keepalive = 2
    server = wire('tcp', ['--keepalive-timeout', keepalive,
                          '--socket-timeout', '30'])
    idle, used = server.connect(), server.connect()
    try:
        readers = [FcgiReader(idle), FcgiReader(used)]
        for sock, reader in zip((idle, used), readers):
            sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
            answer_of(reader, 1, WAIT, server, 'kept request')
        started = time.monotonic()
        time.sleep(keepalive / 2)  # stimulus: idle, well inside the timeout
        used.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        again = answer_of(readers[1], 1, WAIT, server,
                          'a kept connection used again after %g s'
                          % (keepalive / 2))
        assert again.status == 200
        when = closed_within([idle], started, keepalive + 2.5)[0]
    finally:
        idle.close()
        used.close()
    assert when is not None and keepalive - 0.5 <= when <= keepalive + 2, (
        'keepalive-timeout %d: the idle kept connection was closed after '
        '%s s\n%s' % (keepalive, when, server.log()))
    server.assert_intact('keepalive-timeout')


def test_slow_steady_sender_is_served(wire):
    """socket-timeout 1 bounds the wait for the NEXT bytes: a body sent
    one byte every 0.2 s (3 s in all) is read whole and answered."""
    server = wire('unix', ['--socket-timeout', '1'])
    body = b'slow but steady'
    head = (fcgi_begin(1) + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
        fcgi_cgi_params('/echo', 'POST', body_length=len(body)))))
    with server.connect() as sock:
        sock.sendall(head)
        try:
            for i in range(len(body)):
                time.sleep(0.2)  # stimulus: a byte every 0.2 s
                sock.sendall(fcgi_record(FCGI_STDIN, 1, body[i:i + 1]))
            sock.sendall(fcgi_record(FCGI_STDIN, 1))
        except OSError as e:
            pytest.fail('the server dropped a steady sender: %r\n%s'
                        % (e, server.log()))
        answer = answer_of(FcgiReader(sock), 1, WAIT, server,
                           'a slow steady sender')
    echo_body(answer, body, 'slow steady sender')
    server.assert_intact('slow sender')


def test_stalled_sender_is_dropped(wire):
    """socket-timeout 1: a body that stops coming is dropped after ~1 s
    (logged) and the worker serves the next request."""
    server = wire('unix', ['--socket-timeout', '1'])
    offset = server.log_size()
    data = fcgi_begin(1) + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
        fcgi_cgi_params('/echo', 'POST', body_length=1000)))
    data += fcgi_record(FCGI_STDIN, 1, b'x' * 10)
    with server.connect() as sock:
        sock.sendall(data)
        started = time.monotonic()
        when = closed_within([sock], started, 1 + 2)[0]
    assert when is not None and when >= 0.5, (
        'socket-timeout 1: a stalled body was %s\n%s' % (
            'never dropped' if when is None else
            'dropped after %.2f s' % when, server.log()))
    assert timeout_logged(server, offset), (
        'the timeout was not logged\n%s' % server.log())
    started = time.monotonic()
    assert server.request('/hello').status == 200
    assert time.monotonic() - started < 1.0
    server.assert_intact('stalled sender')


@pytest.mark.parametrize('chunk', [1 << 20, 4096, 'file'])
def test_client_that_never_reads(wire, chunk):
    """socket-timeout 2: a client that never reads its 50 MiB answer is
    given up after ~2 s and the worker serves the next request; in 1 MiB
    chunks (written with the GIL released), in 4 KiB ones (each tried
    without waiting first, write_nowait, until the socket is full), and
    as a file through wsgi.file_wrapper (sendfile)."""
    server = wire('unix', ['--socket-timeout', '2'])
    hog = server.connect()
    try:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.sendall(
            fcgi_request_bytes('/file', query='size=%d' % (50 << 20))
            if chunk == 'file' else
            fcgi_request_bytes('/big', query='mib=50&chunk=%d' % chunk))
        # the worker has begun writing: the answer's first bytes wait in
        # the socket the client does not read
        assert select.select([hog], [], [], WAIT)[0], server.log()
        started = time.monotonic()
        answer = server.request('/hello', timeout=2 + 4)
        took = time.monotonic() - started
        assert answer.status == 200 and took <= 2 + 3, took
        # what the server wrote before it gave up, then EOF (or a reset)
        got, closed = 0, False
        deadline = time.monotonic() + 3
        hog.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                chunk = hog.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += len(chunk)
        assert closed and got < 50 * 1024 * 1024, (
            'the connection of the client that never read: %s, %d bytes '
            'could still be read\n%s' % ('closed' if closed else 'open',
                                          got, server.log()))
    finally:
        hog.close()
    server.assert_intact('a client that never reads')


def _read_answer_slowly(sock, rid, gv_every, gv_max, deadline):
    """Reads rid's answer 4 KiB a read, sending a GET_VALUES record each
    gv_every bytes of STDOUT (at most gv_max), then reads on until every
    one is answered: (stdout, GET_VALUES records sent, answers read)."""
    reader = FcgiReader(sock, recv_size=4096)
    stdout = bytearray()
    sent = answered = 0
    ended = False
    while not ended or answered < sent:
        if not ended and sent < gv_max and len(stdout) >= sent * gv_every:
            sock.sendall(fcgi_get_values([b'FCGI_MAX_CONNS']))
            sent += 1
        rec = reader.record(deadline)
        assert rec is not None, 'EOF after %d bytes of STDOUT' % len(stdout)
        rtype, rec_id, content = rec
        if rtype == FCGI_STDOUT and rec_id == rid and not ended:
            stdout += content
        elif rtype == FCGI_GET_VALUES_RESULT and rec_id == 0:
            pairs = fcgi_parse_pairs(content)
            assert [n for n, _ in pairs] == [b'FCGI_MAX_CONNS'] and \
                pairs[0][1].isdigit(), content
            answered += 1
        elif rtype == FCGI_END_REQUEST and rec_id == rid and not ended:
            ended = True
        else:
            raise AssertionError('record %d (id %d, %d bytes) after %d bytes '
                                 'of STDOUT' % (rtype, rec_id, len(content),
                                                len(stdout)))
    return bytes(stdout), sent, answered


@pytest.mark.parametrize('lead', [0, 8192])
@pytest.mark.parametrize('transport', TRANSPORTS)
def test_big_answer_read_slowly_with_management_records(wire, transport,
                                                        lead):
    """A 4 MiB answer written straight from the app's 1 MiB chunks (up to
    16 records a system call; random bytes, so that a byte out of place
    shows), each after a chunk of `lead` bytes that
    waits in the answer buffer and goes first; the client reads 4 KiB at a
    time (its socket small), so the server waits for room again and again,
    and sends a GET_VALUES record every 16 KiB it reads, which the server
    answers while it waits.  The answer comes whole and in order, every
    record framed, each GET_VALUES answered between records, and the kept
    connection serves on."""
    server = wire(transport)
    mib = 4
    with server.connect(rcvbuf=4096 if transport == 'unix' else 65536) as sock:
        sock.sendall(fcgi_request_bytes(
            '/big', query='mib=%d&lead=%d&noise=1' % (mib, lead),
            keep_conn=True))
        try:
            stdout, sent, answered = _read_answer_slowly(
                sock, 1, 16 * 1024, 256, time.monotonic() + 6 * WAIT)
        except (AssertionError, TimeoutError, ConnectionResetError) as e:
            raise AssertionError('%r\n%s' % (e, server.log()))
        head, _, body = stdout.partition(b'\r\n\r\n')
        assert head.startswith(b'Status: 200 '), head
        want = b''.join(b'\xcd' * lead + random.Random(i).randbytes(1 << 20)
                        for i in range(mib))
        assert len(body) == len(want) and body == want, (
            'the answer: %d bytes, %s; expected %d' % (
                len(body), 'the same' if body == want[:len(body)] else
                'differs from byte %d' % next(
                    i for i, (a, b) in enumerate(zip(body, want)) if a != b),
                len(want)))
        assert sent >= 64 and answered == sent, (sent, answered)
        sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        again = answer_of(FcgiReader(sock), 1, WAIT, server,
                          'the next request')
        assert again.status == 200 and again.body == b'hello\n', again
    server.assert_intact('a big answer read slowly')


def _wmem_max():
    with open('/proc/sys/net/core/wmem_max') as f:
        return int(f.read())


@pytest.mark.parametrize('wrap', ['file', 'bytesio'])
@pytest.mark.parametrize('sndbuf', ['default', '0'])
def test_unread_answer_does_not_hold_the_worker(wire, sndbuf, wrap):
    """One worker of one thread (unix socket).  A web server asks for an
    answer of 1 MiB (less if net.core.wmem_max is smaller: the kernel caps
    socket-sndbuf there) and reads nothing yet; another asks for /hello.
    With socket-sndbuf at its default (1 MiB), the worker hands the whole
    answer to the kernel: /hello is answered at once, and the first then
    reads its answer whole.  With socket-sndbuf 0 the kernel's default
    buffer (208 KiB) cannot hold it: the thread waits for room until
    socket-timeout (2 s) closes the first connection, which is logged and
    leaves its answer cut short; only then is /hello answered.  From a file
    (sendfile(2) between record headers) and from a BytesIO (the app's
    8 KiB chunks)."""
    size = min(1 << 20, _wmem_max())
    args = ['--socket-timeout', '2', '--threads', '1']
    if sndbuf != 'default':
        args += ['--socket-sndbuf', sndbuf]
    server = wire('unix', args)
    offset = server.log_size()
    with server.connect() as first, server.connect() as second:
        first.sendall(fcgi_request_bytes(
            '/file', query='size=%d&wrap=%s' % (size, wrap)))
        started = time.monotonic()
        second.sendall(fcgi_request_bytes('/hello'))
        hello = answer_of(FcgiReader(second), 1, 2 + WAIT, server,
                          '/hello after an unread answer')
        waited = time.monotonic() - started
        assert hello.status == 200 and hello.body == b'hello\n', hello
        reader = FcgiReader(first)
        if sndbuf == 'default':
            assert waited < 1.5, (
                '/hello waited %.1f s behind an unread answer of %d bytes'
                '\n%s' % (waited, size, server.log()))
            answer = answer_of(reader, 1, WAIT, server, 'the unread answer')
            assert answer.status == 200, answer
            assert answer.body == _file_bytes(size), (
                'the answer: %d bytes of %d' % (len(answer.body), size))
        else:
            assert waited >= 1.5 and timeout_logged(server, offset), (
                '/hello answered after %.1f s, socket-timeout 2\n%s'
                % (waited, server.log()))
            with pytest.raises(AssertionError, match='closed before'):
                reader.response(1, time.monotonic() + WAIT)
    server.assert_intact('an unread answer')


def _file_bytes(size):
    """The bytes of wire_app's /file?size=size."""
    return random.Random(size).randbytes(size)


def _read_syscalls(pid):
    """syscr of /proc/pid/io: the process's read-like system calls."""
    with open('/proc/%d/io' % pid) as f:
        return int(next(line for line in f
                        if line.startswith('syscr:')).split()[1])


@pytest.mark.parametrize('case', ['whole', 'after-a-read', 'content-length',
                                  'not-a-file'])
@pytest.mark.parametrize('transport', TRANSPORTS)
def test_file_wrapper_sends_the_file(wire, transport, case):
    """wsgi.file_wrapper over an open file: the server sends the file
    itself (sendfile(2) between record headers), from where the app left
    it (after reading 100 bytes through Python's buffer: tell(), not the
    descriptor's position), no more than the Content-Length the app gave,
    read 4 KiB at a time by a client that sends GET_VALUES records
    meanwhile; over a BytesIO (no fileno) it is iterated as before.  The
    answer is byte for byte the file's; the kept connection serves on."""
    server = wire(transport)
    size = 4 << 20
    query, want = {
        'whole': ('size=%d' % size, _file_bytes(size)),
        'after-a-read': ('size=%d&skip=100' % size, _file_bytes(size)[100:]),
        'content-length': ('size=%d&skip=100&length=70000' % size,
                           _file_bytes(size)[100:70100]),
        'not-a-file': ('size=%d&wrap=bytesio' % size, _file_bytes(size)),
    }[case]
    with server.connect(rcvbuf=4096 if transport == 'unix' else 65536) as sock:
        sock.sendall(fcgi_request_bytes('/file', query=query,
                                        keep_conn=True))
        try:
            stdout, sent, answered = _read_answer_slowly(
                sock, 1, 16 * 1024, 256, time.monotonic() + 6 * WAIT)
        except (AssertionError, TimeoutError, ConnectionResetError) as e:
            raise AssertionError('%s: %r\n%s' % (case, e, server.log()))
        head, _, body = stdout.partition(b'\r\n\r\n')
        assert head.startswith(b'Status: 200 '), head
        assert len(body) == len(want) and body == want, (
            '%s: %d bytes, expected %d; %s' % (
                case, len(body), len(want),
                'a prefix' if want.startswith(body) else 'they differ'))
        assert answered == sent, (sent, answered)
        sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        again = answer_of(FcgiReader(sock), 1, WAIT, server,
                          'the next request')
        assert again.status == 200 and again.body == b'hello\n', again
    server.assert_intact('file_wrapper %s' % case)


@pytest.mark.parametrize('sendfile', ['sendfile', 'disable-sendfile'])
def test_file_wrapper_file_is_not_read_through_python(wire, sendfile):
    """A 4 MiB file through wsgi.file_wrapper(f, 8192): the worker makes
    far fewer read-like system calls than the 512 that reading it 8 KiB
    at a time takes (sendfile: one a 64 KiB record); with
    disable-sendfile it reads it through the wrapper, 8 KiB a call."""
    server = wire('unix', ['--disable-sendfile'] if sendfile != 'sendfile'
                  else [])
    size = 4 << 20
    before = _read_syscalls(server.pids[0])
    answer = server.request('/file', query='size=%d' % size)
    calls = _read_syscalls(server.pids[0]) - before
    assert answer.status == 200 and answer.body == _file_bytes(size), (
        answer.status, len(answer.body), server.log())
    if sendfile == 'sendfile':
        assert calls < size // 8192 // 2, (
            '%d read-like system calls for a 4 MiB file' % calls)
    else:
        assert calls >= size // 8192, (
            'disable-sendfile: %d read-like system calls for a 4 MiB file'
            % calls)


@pytest.mark.parametrize('sndbuf', ['default', '0'])
def test_file_wrapper_file_that_shrinks_while_sent(wire, sndbuf):
    """The file is truncated to 1 MiB while the server sends its 8 MiB
    (the client reads nothing until then): the record under way cannot be
    completed, so the connection is closed before END_REQUEST, the log
    says why, and the worker serves the next request.  What came before
    is at most the 1 MiB left, or what the socket's buffer held when the
    file shrank (socket-sndbuf: 1 MiB by default, which the kernel
    doubles; 0: the kernel's 208 KiB)."""
    server = wire('unix', [] if sndbuf == 'default' else
                  ['--socket-sndbuf', sndbuf])
    held = 2 * min(1 << 20, _wmem_max()) if sndbuf == 'default' else 0
    offset = server.log_size()
    with server.connect(rcvbuf=4096) as sock:
        sock.sendall(fcgi_request_bytes(
            '/file', query='size=%d&wrap=shrink' % (8 << 20)))
        # the server has begun: the answer's first bytes wait unread
        assert select.select([sock], [], [], WAIT)[0], server.log()
        (server.app_dir / 'go').write_text('1')
        assert wait_until(lambda: (server.app_dir / 'shrunk').exists(),
                          WAIT), server.log()
        reader = FcgiReader(sock)
        stdout, ended, closed = b'', False, False
        deadline = time.monotonic() + 3 * WAIT
        while not (ended or closed):
            try:
                rec = reader.record(deadline)
            except (AssertionError, ConnectionResetError):
                closed = True  # mid-record, as it must be
                break
            if rec is None:
                closed = True
            elif rec[0] == FCGI_STDOUT:
                stdout += rec[2]
            elif rec[0] == FCGI_END_REQUEST:
                ended = True
    assert closed and not ended and (
        len(stdout) <= max(1 << 20, held) + 4096), (
        'a file that shrank: %s after %d bytes' % (
            'END_REQUEST' if ended else 'closed', len(stdout)))
    assert wait_until(lambda: 'wsgi.file_wrapper: the file ended after'
                      in server.log_since(offset), WAIT), server.log()
    assert server.request('/hello').status == 200
    server.assert_intact('a file that shrank while sent')


def _send_body_in_background(sock, rid, size):
    """Sends `size` body bytes as STDIN records (then the empty one) from a
    thread; returns (thread, result): result['sent'] bytes, result['error']
    the exception that stopped it (None: all sent)."""
    result = {'sent': 0, 'error': None}
    record = fcgi_record(FCGI_STDIN, rid, b'u' * 65528)

    def run():
        try:
            while result['sent'] < size:
                sock.sendall(record)
                result['sent'] += 65528
            sock.sendall(fcgi_record(FCGI_STDIN, rid, b''))
        except OSError as e:
            result['error'] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize('mib', [8, 100])
def test_unread_body_drain_bound(wire, mib):
    """An app that answers without reading a big body, on a kept
    connection: the rest of the body is drained without a thread and the
    connection serves on (8 MiB); past the drain bound (64 MiB) the
    connection is closed instead, after the answer (100 MiB)."""
    server = wire('unix')
    size = mib << 20
    sock = server.connect()
    try:
        sock.sendall(fcgi_begin(1, keep_conn=True) + fcgi_stream(
            FCGI_PARAMS, 1, fcgi_params(fcgi_cgi_params(
                '/hello', 'POST', body_length=size))))
        thread, result = _send_body_in_background(sock, 1, size)
        reader = FcgiReader(sock)
        answer = answer_of(reader, 1, WAIT, server, 'unread %d MiB' % mib)
        assert answer.status == 200, answer
        thread.join(WAIT)
        assert not thread.is_alive(), 'the body sender is stuck'
        if mib == 8:
            assert result['error'] is None, result
            sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
            again = answer_of(reader, 1, WAIT, server, 'after the drain')
            assert again.status == 200, again
        else:
            assert result['error'] is not None and result['sent'] < size, (
                'a %d MiB body nobody reads was drained whole: %s\n%s'
                % (mib, result, server.log()))
            assert 'nobody reads' in server.log_since(0), server.log()
    finally:
        sock.close()
    server.assert_intact('an unread %d MiB body' % mib)


@pytest.mark.parametrize('rule,env,allowed', [
    (['--allowed-clients', '127.0.0.1'], None, True),
    (['--allowed-clients', '10.0.0.0/8,::1'], None, False),
    ([], {'FCGI_WEB_SERVER_ADDRS': '127.0.0.1'}, True),
    ([], {'FCGI_WEB_SERVER_ADDRS': '10.1.2.3'}, False),
], ids=['allowed-clients-match', 'allowed-clients-other',
        'web-server-addrs-match', 'web-server-addrs-other'])
def test_allowed_clients(wire, rule, env, allowed):
    """TCP peers outside allowed-clients (or FCGI_WEB_SERVER_ADDRS) are
    closed at accept, unanswered, and logged at most once a second with a
    count; peers inside are served."""
    server = wire('tcp', rule, env=env, probe=False)
    refused = 0
    for _ in range(20):
        with server.connect() as sock:
            sock.sendall(fcgi_request_bytes('/hello'))
            try:
                answer = FcgiReader(sock).response(1, time.monotonic() + WAIT)
            except (ConnectionResetError, AssertionError):
                refused += 1
                continue
            assert allowed and answer.status == 200, answer
    if allowed:
        assert refused == 0, server.log()
        return
    assert refused == 20, server.log()
    assert not server.calls(), server.calls()
    wait_until(lambda: 'refused a connection from 127.0.0.1'
               in server.log_since(0), 3, server.log)
    lines = server.log_since(0).count('refused a connection')
    assert 1 <= lines <= 3, ('%d refusal lines for 20 connections in about '
                             'a second\n%s' % (lines, server.log()))
    server.assert_intact('refused clients')


def test_graceful_stop_finishes_requests_under_way(wire):
    """SIGTERM while a request is half sent: the worker stops accepting
    but serves that request when the rest arrives, then leaves; a kept
    idle connection is closed at once."""
    server = wire('unix')
    whole = fcgi_request_bytes('/hello')
    half = server.connect()
    idle = server.connect()
    try:
        idle.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        assert answer_of(FcgiReader(idle), 1, WAIT, server,
                         'kept').status == 200
        half.sendall(whole[:20])
        worker = server.worker()
        offset = server.log_size()
        os.kill(worker, signal.SIGTERM)
        wait_until(lambda: 'graceful stop' in server.log_since(offset),
                   WAIT, server.log, step=0.02)
        idle.settimeout(WAIT)
        assert idle.recv(100) == b'', 'the idle kept connection stays open'
        time.sleep(0.2)  # stimulus: the rest comes late, as from a slow
        # web server
        half.sendall(whole[20:])
        answer = answer_of(FcgiReader(half), 1, WAIT, server,
                           'half sent at SIGTERM')
        assert answer.status == 200, answer
        wait_until(lambda: worker not in [
            pid for pid, _, _, _ in proc_table()], WAIT,
            'the worker does not leave', step=0.02)
    finally:
        half.close()
        idle.close()


# ----------------------------------------------- attack 6: the fd limit

def test_fd_limit(wire):
    """RLIMIT_NOFILE 256 and 400 silent connections (was: accept: Too many
    open files, all service stopped): no spin, no endless EMFILE log, a
    real request answered, the oldest idle connections closed first."""
    server = wire('unix', prefix=['prlimit', '--nofile=256:256', '--'])
    offset = server.log_size()
    socks = []
    try:
        for _ in range(400):
            socks.append(server.connect())
        cpu = idle_cpu([server.worker()])
        emfile = server.log_since(offset).count('Too many open files')
        started = time.monotonic()
        answer = server.request('/hello', timeout=WAIT)
        took = time.monotonic() - started
        oldest = closed_within(socks[:1], time.monotonic(), 1.0)[0]
    finally:
        for sock in socks:
            sock.close()
    assert cpu < IDLE_CPU_MAX and emfile <= 5, (
        'at the fd limit: %.2f s of CPU in %.0f s, %d "Too many open '
        'files" lines\n%s' % (cpu, IDLE_WINDOW, emfile, server.log()))
    assert answer.status == 200 and took < 3.0, (
        'at the fd limit a request got status %d after %.2f s (the app '
        'needs fds too: connections must leave it a reserve)\n%s'
        % (answer.status, took, server.log()))
    assert oldest is not None, (
        'the oldest idle connection was not closed to make room\n%s'
        % server.log())
    server.assert_intact('fd limit')


# ------------------------------------------------- attack 7: spec-valid

def case_begin_padding(server, sock, reader):
    """BEGIN_REQUEST with 8 and 255 bytes of padding."""
    for padding in (8, 255):
        sock.sendall(fcgi_begin(1, keep_conn=True, padding=padding)
                     + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
                         fcgi_cgi_params('/hello')))
                     + fcgi_record(FCGI_STDIN, 1))
        answer = answer_of(reader, 1, WAIT, server, 'padding %d' % padding)
        assert answer.body == b'hello\n', answer


def padding_case(padding):
    def case(server, sock, reader):
        body = random_body(3000, seed=b'pad')
        request = fcgi_request_bytes('/echo', 'POST', body=body,
                                     padding=padding)
        # an ABORT for an id never begun and a DATA record, padded too,
        # just before the empty STDIN record that ends the request
        end = fcgi_record(FCGI_STDIN, 1, b'', padding)
        assert request.endswith(end)
        sock.sendall(fcgi_get_values([b'FCGI_MPXS_CONNS'], padding)
                     + request[:-len(end)]
                     + fcgi_record(FCGI_ABORT_REQUEST, 5, b'', padding)
                     + fcgi_record(FCGI_DATA, 1, b'data', padding) + end)
        answer = answer_of(reader, 1, WAIT, server, 'padding %d' % padding)
        echo_body(answer, body, 'padding %d' % padding)
        assert get_values_result(answer.others), answer.others
    case.__doc__ = 'padding %d on every record type' % padding
    return case


def case_byte_by_byte(server, sock, reader):
    """One request sent one byte per write: split at every byte."""
    body = random_body(200, seed=b'bytes')
    send_slowly(sock, fcgi_request_bytes('/echo', 'POST', body=body), 1,
                0.001)
    echo_body(answer_of(reader, 1, WAIT, server, 'byte by byte'), body,
              'byte by byte')


def case_data_records(server, sock, reader):
    """FCGI_DATA records of the active request: ignored (responder)."""
    body = random_body(5000, seed=b'data')
    sock.sendall(fcgi_begin(1)
                 + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(fcgi_cgi_params(
                     '/echo', 'POST', body_length=len(body))))
                 + fcgi_record(FCGI_DATA, 1, b'not the body')
                 + fcgi_record(FCGI_STDIN, 1, body[:1000])
                 + fcgi_stream(FCGI_DATA, 1, b'data stream')
                 + fcgi_stream(FCGI_STDIN, 1, body[1000:]))
    echo_body(answer_of(reader, 1, WAIT, server, 'DATA'), body, 'DATA')


def case_inactive_id_records(server, sock, reader):
    """Records for request id 7, never begun: ignored (spec 3.3)."""
    body = random_body(4000, seed=b'inactive')
    noise = (fcgi_stream(FCGI_PARAMS, 7, fcgi_params({'X': 'y'}))
             + fcgi_record(FCGI_STDIN, 7, b'not for us')
             + fcgi_record(FCGI_DATA, 7, b'nor this'))
    sock.sendall(noise + fcgi_begin(1)
                 + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(fcgi_cgi_params(
                     '/echo', 'POST', body_length=len(body))))
                 + noise + fcgi_record(FCGI_STDIN, 1, body) + noise
                 + fcgi_record(FCGI_STDIN, 1))
    answer = answer_of(reader, 1, WAIT, server, 'inactive ids')
    echo_body(answer, body, 'records for an inactive id')
    assert not [r for r in answer.others if r[1] == 7], answer.others


def case_abort_inactive_id(server, sock, reader):
    """ABORT_REQUEST for id 9, never begun, before and inside a request:
    ignored, the request completes."""
    abort = fcgi_record(FCGI_ABORT_REQUEST, 9)
    sock.sendall(abort + fcgi_begin(1) + abort
                 + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
                     fcgi_cgi_params('/hello'))) + abort
                 + fcgi_record(FCGI_STDIN, 1))
    answer = answer_of(reader, 1, WAIT, server, 'ABORT of an inactive id')
    assert answer.body == b'hello\n', answer
    assert answer.protocol_status == FCGI_REQUEST_COMPLETE, answer


def case_second_request_id(server, sock, reader):
    """BEGIN_REQUEST for id 2 while id 1 is active: END_REQUEST
    FCGI_CANT_MPX_CONN for id 2, and id 1 still answered."""
    body = random_body(2000, seed=b'mpx')
    sock.sendall(fcgi_begin(1)
                 + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(fcgi_cgi_params(
                     '/echo', 'POST', body_length=len(body))))
                 + fcgi_record(FCGI_STDIN, 1, body[:500])
                 + fcgi_request_bytes('/hello', request_id=2)
                 + fcgi_stream(FCGI_STDIN, 1, body[500:]))
    answer = answer_of(reader, 1, WAIT, server, 'request 1 beside 2')
    echo_body(answer, body, 'the first request')
    refused = [r for r in answer.others if r[1] == 2]
    if not refused:  # it may come after request 1's END_REQUEST
        rec = reader.record(time.monotonic() + WAIT)
        refused = [rec] if rec else []
    assert refused and refused[0][0] == FCGI_END_REQUEST, refused
    assert refused[0][2][4] == FCGI_CANT_MPX_CONN, refused
    assert len(refused) == 1, 'id 2 got more than END_REQUEST: %r' % refused


def role_case(role):
    def case(server, sock, reader):
        sock.sendall(fcgi_begin(1, role=role, keep_conn=True)
                     + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
                         fcgi_cgi_params('/hello')))
                     + fcgi_record(FCGI_STDIN, 1))
        answer = answer_of(reader, 1, WAIT, server, 'role %d' % role)
        assert answer.protocol_status == FCGI_UNKNOWN_ROLE, (
            'role %d: END_REQUEST protocolStatus %d, stdout %r' % (
                role, answer.protocol_status, answer.raw[:200]))
        sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        again = answer_of(reader, 1, WAIT, server, 'after role %d' % role)
        assert again.body == b'hello\n', again
    case.__doc__ = 'role %d: END_REQUEST FCGI_UNKNOWN_ROLE' % role
    return case


def case_unknown_management_type(server, sock, reader):
    """A management record of an unknown type: FCGI_UNKNOWN_TYPE."""
    sock.sendall(fcgi_record(42, 0, b'what is this'))
    rec = reader.record(time.monotonic() + WAIT)
    assert rec is not None and rec[:2] == (FCGI_UNKNOWN_TYPE, 0), rec
    assert rec[2][0] == 42, rec
    sock.sendall(fcgi_request_bytes('/hello'))
    assert answer_of(reader, 1, WAIT, server, 'after it').body == b'hello\n'


def case_nul_and_equals(server, sock, reader):
    """A value with a NUL byte and a name containing '=' reach the app
    whole (libfcgi cut the one and split the other)."""
    params = fcgi_cgi_params('/env')
    pairs = list(params.items()) + [
        ('FW_NUL_VALUE', b'before\0after'),
        ('FW_NAME=WITH=EQUALS', 'value=with=equals')]
    sock.sendall(fcgi_begin(1) + fcgi_stream(FCGI_PARAMS, 1,
                                             fcgi_pairs(pairs))
                 + fcgi_record(FCGI_STDIN, 1))
    env = json.loads(answer_of(reader, 1, WAIT, server, 'NUL and =').body)
    assert env.get('FW_NUL_VALUE') == 'before\0after', env.get(
        'FW_NUL_VALUE')
    assert env.get('FW_NAME=WITH=EQUALS') == 'value=with=equals', sorted(
        k for k in env if k.startswith('FW_'))


def case_params_60k(server, sock, reader):
    """60 KB of params with the default buffer-size: served whole."""
    big = 'p' * 60000
    sock.sendall(fcgi_request_bytes('/env', extra={'HTTP_X_BIG': big}))
    env = json.loads(answer_of(reader, 1, WAIT, server, '60 KB').body)
    assert env.get('HTTP_X_BIG') == big


SPEC_CASES = [
    ('begin-padding', case_begin_padding),
    ('padding-0', padding_case(0)),
    ('padding-1', padding_case(1)),
    ('padding-3', padding_case(3)),
    ('padding-255', padding_case(255)),
    ('byte-by-byte', case_byte_by_byte),
    ('data-records', case_data_records),
    ('inactive-id', case_inactive_id_records),
    ('abort-inactive-id', case_abort_inactive_id),
    ('second-id', case_second_request_id),
    ('filter-role', role_case(FCGI_FILTER)),
    ('unknown-role', role_case(77)),
    ('unknown-type', case_unknown_management_type),
    ('nul-and-equals', case_nul_and_equals),
    ('params-60k', case_params_60k),
]


@pytest.mark.parametrize('case', [c for _, c in SPEC_CASES],
                         ids=[name for name, _ in SPEC_CASES])
@pytest.mark.parametrize('transport', TRANSPORTS)
def test_spec_valid_input(wire, transport, case):
    """Spec-valid FastCGI the old reader refused (reset, no answer)."""
    server = wire(transport)
    with server.connect() as sock:
        try:
            case(server, sock, FcgiReader(sock))
        except (TimeoutError, ConnectionResetError, BrokenPipeError) as e:
            pytest.fail('%s: %r; workers %s (were %s)\n%s' % (
                case.__doc__, e, server.proc.children(), server.pids,
                server.log()))
    server.assert_intact(case.__doc__)


def test_params_over_buffer_size(wire):
    """100 KB of params with buffer-size 65536: Status 431 and
    END_REQUEST (was a reset), the app not called."""
    server = wire('unix', ['--buffer-size', '65536'])
    data = fcgi_request_bytes('/hello', extra={'HTTP_X_HUGE': 'h' * 100000})
    with server.connect() as sock:
        sock.sendall(data)
        answer = answer_of(FcgiReader(sock), 1, WAIT, server,
                           '100 KB of params')
    assert answer.status == 431, answer
    assert '/hello' not in server.calls(), server.calls()
    assert server.request('/hello').status == 200
    server.assert_intact('params over buffer-size')


# ------------------------------------------------------ limit-post

def test_limit_post_by_content_length(wire):
    """CONTENT_LENGTH 1 GiB above limit-post: 413 at once, before any
    body byte is sent (so none was read into memory), app not called."""
    server = wire('unix', ['--limit-post', '1000000'])
    data = fcgi_begin(1) + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
        fcgi_cgi_params('/echo', 'POST', body_length=1 << 30)))
    with server.connect() as sock:
        sock.sendall(data)
        answer = answer_of(FcgiReader(sock), 1, 2.0, server,
                           'CONTENT_LENGTH over limit-post')
    assert answer.status == 413, answer
    assert not [c for c in server.calls() if c.startswith('/echo')], (
        server.calls())
    server.assert_intact('limit-post')


def test_limit_post_without_content_length(wire):
    """A body without CONTENT_LENGTH growing past limit-post: 413, app
    not called."""
    server = wire('unix', ['--limit-post', '1000000'])
    body = random_body(2_000_000, seed=b'limit')
    data = fcgi_request_bytes('/echo', 'POST', body=body,
                              content_length=False)
    with server.connect() as sock:
        def send():
            try:
                sock.sendall(data)
            except OSError:
                pass  # the server may stop reading once it has answered
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = answer_of(FcgiReader(sock), 1, WAIT, server,
                           'a length-less body over limit-post')
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(WAIT)
    assert answer.status == 413, answer
    assert not [c for c in server.calls() if c.startswith('/echo')], (
        server.calls())
    server.assert_intact('limit-post, no CONTENT_LENGTH')


# -------------------------------------- bodies without CONTENT_LENGTH

@pytest.mark.parametrize('size', [10 * 1024, 3 * 1024 * 1024],
                         ids=['10KB', '3MiB'])
@pytest.mark.parametrize('length', ['missing', 'empty', 'minus-one'])
def test_body_without_content_length(wire, length, size):
    """A chunked upload passed on without a usable CONTENT_LENGTH (Apache
    mod_proxy_fcgi, nginx without request buffering, Caddy's -1): the app
    sees CONTENT_LENGTH = the real size and wsgi.input_terminated, and
    reading CONTENT_LENGTH bytes as Django does gets the whole body (was:
    an empty body).  Above post-buffering (1 MiB) it waits in a temp
    file."""
    server = wire('unix', ['--post-buffering', '1048576'])
    body = random_body(size, seed=b'%d' % size)
    extra = {'missing': {}, 'empty': {'CONTENT_LENGTH': ''},
             'minus-one': {'CONTENT_LENGTH': '-1'}}[length]
    extra['CONTENT_TYPE'] = 'application/octet-stream'
    with server.connect() as sock:
        sock.sendall(fcgi_request_bytes('/echo', 'POST', body=body,
                                        extra=extra, content_length=False))
        answer = answer_of(FcgiReader(sock), 1, WAIT, server, length)
    assert answer.status == 200, answer
    info = json.loads(answer.body)
    seen = {k: info[k] for k in ('content_length', 'input_terminated',
                                 'length')}
    assert seen == {'content_length': str(size), 'input_terminated': True,
                    'length': size}, (
        'CONTENT_LENGTH %s: the app saw %s' % (length, seen))
    echo_body(answer, body, 'CONTENT_LENGTH %s' % length)
    if size > 1024 * 1024:
        spilled = [f for f in info['deleted_files'] if 'memfd:' not in f]
        assert spilled, ('a %d-byte body above post-buffering is not in an '
                         'unlinked temp file: %s' % (size,
                                                     info['deleted_files']))
    server.assert_intact('no CONTENT_LENGTH')


# -------------------------------------------------- ABORT_REQUEST

@pytest.mark.parametrize('transport', TRANSPORTS)
@pytest.mark.parametrize('n,interval', [(100, 0.1), (1000, 0.0002)],
                         ids=['slow', 'faster-than-the-look'])
def test_abort_while_streaming(wire, transport, n, interval):
    """ABORT_REQUEST while the app streams (n chunks, interval s apart;
    was never read): END_REQUEST within 0.5 s, the iterable's close()
    called before its last chunk, the same kept connection served on.
    The worker looks for what the web server sent at most once a
    millisecond: chunks 0.2 ms apart must still see the abort."""
    server = wire(transport)
    with server.connect() as sock:
        sock.sendall(fcgi_request_bytes(
            '/slow-stream', query='n=%d&interval=%g' % (n, interval),
            keep_conn=True))
        reader = FcgiReader(sock)
        chunks = b''
        deadline = time.monotonic() + WAIT
        while chunks.partition(b'\r\n\r\n')[2].count(b'\n') < 3:
            rec = reader.record(deadline)
            assert rec is not None, 'closed while streaming\n' + server.log()
            if rec[0] == FCGI_STDOUT:
                chunks += rec[2]
        sock.sendall(fcgi_record(FCGI_ABORT_REQUEST, 1))
        aborted = time.monotonic()
        answer = answer_of(reader, 1, 3.0, server, 'after ABORT_REQUEST')
        took = time.monotonic() - aborted
        assert took < 0.5, (
            'END_REQUEST came %.2f s after ABORT_REQUEST\n%s'
            % (took, server.log()))
        closed = wait_until(server.closed_records, 2)
        assert closed and 3 <= closed[0]['sent'] < n, (
            'close() of the aborted iterable: %r' % closed)
        sock.sendall(fcgi_request_bytes('/hello', keep_conn=True))
        again = answer_of(reader, 1, 2.0, server, 'after the abort')
        assert again.body == b'hello\n', (answer, again)
    server.assert_intact('ABORT_REQUEST')
