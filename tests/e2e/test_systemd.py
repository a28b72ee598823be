"""
systemd without systemd: socket activation through Debian's
systemd-socket-activate (LISTEN_FDS, fd 3; TCP and a unix socket behind the
real nginx), and Type=notify readiness through a unix datagram socket of
the test's own, read the way systemd reads it (SO_PASSCRED: the sender's
pid must be the main process).  The unit files of examples/systemd/ are
checked with systemd-analyze verify.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import MAIN_TEMPLATE, server_env
from e2elib import (APPS_DIR, READY_TIMEOUT, REPO, Proc, fcgi_request,
                    free_port, http_request, start_nginx, tail, wait_tcp,
                    wait_unix_socket, wait_until)

APP_ARGS = ['--chdir', APPS_DIR, '--module', 'gateway_app']
STATUS_LINE = re.compile(r'^(\d+) workers?(?:, (\d+) busy, (\d+) requests)?$')
SYSTEMD_DIR = REPO / 'examples' / 'systemd'


def socket_activate_binary():
    for candidate in (shutil.which('systemd-socket-activate'),
                      '/usr/bin/systemd-socket-activate'):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip('systemd-socket-activate is not installed (Debian package '
                'systemd)')


class NotifyListener:
    """
    A NOTIFY_SOCKET: a unix datagram socket that records every message
    with the sender's pid (SCM_CREDENTIALS), as systemd does.
    """

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []  # (monotonic time, sender pid, text)

    def _receive(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(struct.calcsize('iII')))
        except (socket.timeout, BlockingIOError):
            return False
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack('iII', payload[:12])[0]
        self.messages.append((time.monotonic(), pid,
                              data.decode('utf-8', 'replace')))
        return True

    def wait_for(self, predicate, timeout, after=0):
        """The first message (index >= after) that predicate accepts,
        waiting up to timeout s; (index, message) or (None, None)."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(after, len(self.messages)):
                if predicate(self.messages[i][2]):
                    return i, self.messages[i]
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self._receive(min(left, 0.2))

    def texts(self):
        return [m[2] for m in self.messages]

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp):
    listener = NotifyListener(tmp / 'notify.sock')
    yield listener
    listener.close()


def start_notified(start_server, tmp, listener, extra=()):
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock] + APP_ARGS
                        + list(extra),
                        env=server_env({'NOTIFY_SOCKET': listener.path}))
    return proc, sock


def _status_ok(text):
    return text.startswith('STATUS=')


# ------------------------------------------------------------ Type=notify

def test_ready_status_stopping(start_server, tmp, notify):
    proc, sock = start_notified(start_server, tmp, notify,
                                ['--processes', '2'])
    i, ready = notify.wait_for(lambda t: t == 'READY=1', READY_TIMEOUT)
    assert ready is not None, ('no READY=1 within %.0f s; got %r\n%s'
                               % (READY_TIMEOUT, notify.texts(),
                                  proc.log_text()))
    # the socket answers once READY=1 is out
    resp = fcgi_request(sock, '/hello')
    assert resp.status == 200, (resp, proc.log_text())
    for _ in range(4):
        assert fcgi_request(sock, '/hello').status == 200

    # the application's children do not inherit NOTIFY_SOCKET
    env = json.loads(fcgi_request(sock, '/os-environ').body)
    assert env['NOTIFY_SOCKET'] is None, env

    # STATUS= lines: "N workers, B busy, R requests"; the count follows
    def enough_requests(text):
        match = STATUS_LINE.match(text[7:]) if _status_ok(text) else None
        return bool(match and match.group(3) and int(match.group(3)) >= 6)

    _, counted = notify.wait_for(enough_requests, 5)
    statuses = [t[7:] for t in notify.texts() if _status_ok(t)]
    assert statuses, notify.texts()
    for line in statuses:
        assert STATUS_LINE.match(line), 'bad STATUS=%r' % line
    assert counted is not None, 'no STATUS with >= 6 requests: %r' % (
        statuses,)
    assert STATUS_LINE.match(counted[2][7:]).group(1) == '2'

    proc.stop(signal.SIGTERM)
    assert proc.returncode == 0, tail(proc.log_path)
    _, stopping = notify.wait_for(lambda t: t == 'STOPPING=1', 5, after=i)
    assert stopping is not None, notify.texts()
    # only the main process speaks (NotifyAccess=main), never a worker
    senders = {m[1] for m in notify.messages}
    assert senders == {proc.pid}, (senders, proc.pid)
    assert notify.texts().count('READY=1') == 1, notify.texts()


def test_reload_reloading_then_ready(start_server, tmp, notify):
    proc, sock = start_notified(start_server, tmp, notify)
    i, ready = notify.wait_for(lambda t: t == 'READY=1', READY_TIMEOUT)
    assert ready is not None, (notify.texts(), proc.log_text())

    os.kill(proc.pid, signal.SIGHUP)
    j, reloading = notify.wait_for(lambda t: t.startswith('RELOADING=1'), 5,
                                   after=i + 1)
    if reloading is None:
        pytest.skip('no RELOADING=1 within 5 s of SIGHUP: is the reload '
                    'implemented? log:\n%s' % proc.log_text())
    assert re.match(r'^RELOADING=1\nMONOTONIC_USEC=\d+$', reloading[2]), \
        reloading
    k, ready_again = notify.wait_for(lambda t: t == 'READY=1', READY_TIMEOUT,
                                     after=j + 1)
    assert ready_again is not None, (notify.texts(), proc.log_text())
    assert fcgi_request(sock, '/hello').status == 200
    # the same main process before and after (a reload re-executes it)
    assert {m[1] for m in notify.messages} == {proc.pid}
    proc.stop(signal.SIGTERM)
    assert notify.wait_for(lambda t: t == 'STOPPING=1', 5, after=k)[1]


def test_no_notify_socket_no_noise(start_server, tmp):
    """Without NOTIFY_SOCKET nothing is sent and nothing is logged."""
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock] + APP_ARGS)
    wait_unix_socket(proc, sock)
    assert fcgi_request(sock, '/hello').status == 200
    proc.stop()
    assert 'NOTIFY' not in tail(proc.log_path)


def test_unusable_notify_socket_still_serves(start_server, tmp):
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock] + APP_ARGS,
                        env=server_env({'NOTIFY_SOCKET':
                                        str(tmp / 'nobody-listens')}))
    wait_unix_socket(proc, sock)
    assert fcgi_request(sock, '/hello').status == 200
    proc.stop()
    assert proc.returncode == 0
    log = tail(proc.log_path)
    # the failed send is logged once, not once per message
    assert log.count('NOTIFY_SOCKET') == 1, log


# ------------------------------------------------------ socket activation

def socket_activated(tmp, server_cmd, listen, extra_env=(), args=()):
    argv = [socket_activate_binary(), '-l', str(listen),
            '-E', 'PYTHONDONTWRITEBYTECODE=1']
    for item in extra_env:
        argv += ['-E', item]
    argv += ['--'] + server_cmd + [str(a) for a in APP_ARGS] + list(args)
    return Proc(argv, tmp / 'server.log', env=server_env(),
                name='systemd-socket-activate+fcgi-wsgi')


def test_socket_activation_tcp(tmp, server_cmd):
    port = free_port()
    proc = socket_activated(tmp, server_cmd, '127.0.0.1:%d' % port)
    try:
        wait_tcp(proc, port)
        # the first connection makes systemd-socket-activate exec us
        resp = fcgi_request(('127.0.0.1', port), '/hello')
        assert resp.status == 200, (resp, proc.log_text())
        assert resp.body == b'hello from gateway_app\n'
        # the application's children do not inherit the LISTEN_* variables
        env = json.loads(fcgi_request(('127.0.0.1', port),
                                      '/os-environ').body)
        for name in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):
            assert env[name] is None, env
    finally:
        assert proc.stop() == 0, tail(proc.log_path)


def test_socket_activation_unix_behind_nginx(tmp, server_cmd, nginx_bin):
    sock = tmp / 'sd.sock'
    static = tmp / 'static'
    static.mkdir()
    proc = socket_activated(tmp, server_cmd, sock,
                            args=['--processes', '2'])
    nginx = None
    try:
        wait_until(sock.exists, READY_TIMEOUT, proc.log_text)
        nginx, port = start_nginx(MAIN_TEMPLATE, tmp / 'nginx', sock, static)
        resp = http_request(port, 'GET', '/hello')
        assert resp.status == 200, (resp, proc.log_text(),
                                    tail(tmp / 'nginx' / 'error.log'))
        assert resp.body == b'hello from gateway_app\n'
        resp = http_request(port, 'POST', '/echo', body=b'x' * 100000,
                            headers={'Content-Type': 'text/plain'})
        assert resp.status == 200 and b'"length": 100000' in resp.body
    finally:
        if nginx is not None:
            nginx.stop()
        assert proc.stop() == 0, tail(proc.log_path)
    # the socket file is systemd's: fcgi-wsgi leaves it where it was
    assert sock.is_socket(), 'fcgi-wsgi removed the socket systemd made'


def test_socket_option_wins_over_activation(tmp, server_cmd):
    port = free_port()
    own = tmp / 'own.sock'
    proc = socket_activated(tmp, server_cmd, '127.0.0.1:%d' % port,
                            args=['--socket', 'unix:%s' % own])
    try:
        wait_tcp(proc, port)
        with socket.create_connection(('127.0.0.1', port), timeout=5):
            pass  # wakes systemd-socket-activate: it execs fcgi-wsgi
            wait_unix_socket(proc, own)
        assert fcgi_request(own, '/hello').status == 200
        assert ('socket is set: the 1 socket(s) systemd passed are not '
                'served') in proc.log_text()
    finally:
        proc.stop()


def test_socket_activation_and_notify(tmp, server_cmd, notify):
    port = free_port()
    proc = socket_activated(tmp, server_cmd, '127.0.0.1:%d' % port,
                            extra_env=['NOTIFY_SOCKET=%s' % notify.path])
    try:
        wait_tcp(proc, port)
        assert fcgi_request(('127.0.0.1', port), '/hello').status == 200
        _, ready = notify.wait_for(lambda t: t == 'READY=1', READY_TIMEOUT)
        assert ready is not None and ready[1] == proc.pid, notify.texts()
    finally:
        proc.stop()
    assert notify.wait_for(lambda t: t == 'STOPPING=1', 5)[1]


# ------------------------------------------------------------ unit files

def systemd_analyze():
    binary = shutil.which('systemd-analyze') or '/usr/bin/systemd-analyze'
    if not os.access(binary, os.X_OK):
        pytest.skip('systemd-analyze is not installed (package systemd)')
    return binary


def verify_units(dir, *names):
    """systemd-analyze verify: exit 0 and not one warning."""
    done = subprocess.run([systemd_analyze(), 'verify'] +
                          [str(Path(dir) / n) for n in names],
                          capture_output=True, text=True, timeout=60,
                          cwd=dir)
    assert done.returncode == 0 and done.stderr.strip() == '', (
        done.returncode, done.stdout, done.stderr)


def test_example_units_verify(tmp, server_cmd):
    """examples/systemd/ as shipped, with ExecStart= pointing at the
    binary under test (the example says /usr/local/bin/fcgi-wsgi)."""
    for name in ('fcgi-wsgi.service', 'fcgi-wsgi.socket'):
        text = (SYSTEMD_DIR / name).read_text()
        (tmp / name).write_text(text.replace('/usr/local/bin/fcgi-wsgi',
                                             server_cmd[0]))
    service = (tmp / 'fcgi-wsgi.service').read_text()
    assert 'Type=notify' in service
    assert 'ExecReload=/bin/kill -HUP $MAINPID' in service
    assert 'NotifyAccess=main' in service
    verify_units(tmp, 'fcgi-wsgi.socket', 'fcgi-wsgi.service')
