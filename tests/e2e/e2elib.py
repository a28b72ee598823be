"""
Helpers of the end-to-end tests: start and stop processes by pid, wait until
they are ready (bounded), render the nginx templates of examples/nginx, talk
HTTP (http.client) and FastCGI (a minimal client) to them.

Rules kept everywhere: every wait has a deadline, every process started is
stopped by its pid (SIGTERM, bounded wait, SIGKILL of the process group it
leads), servers listen on 127.0.0.1 or unix sockets only.
"""

import hashlib
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = '/usr/bin/python3'
DJANGO_DIR = REPO / 'examples' / 'django'
NGINX_DIR = REPO / 'examples' / 'nginx'
APPS_DIR = REPO / 'tests' / 'apps'
STYLE_CSS = DJANGO_DIR / 'demo' / 'static' / 'demo' / 'style.css'

READY_TIMEOUT = float(os.environ.get('FW_E2E_READY_TIMEOUT', '15'))
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 20.0

# Every Proc started and not yet reaped: the session's last resort.
RUNNING = []


class ServerMissing(Exception):
    """The binary under test or a web server is not installed / built."""


def server_binary_argv():
    """The command of the server under test, as built (or FW_E2E_SERVER)."""
    override = os.environ.get('FW_E2E_SERVER')
    if override:
        argv = shlex.split(override)
        return [str(REPO / a) if not os.path.isabs(a)
                and (REPO / a).exists() else a for a in argv]
    binary = REPO / 'fcgi-wsgi'
    if not os.access(binary, os.X_OK):
        raise ServerMissing('%s is not built (run make)' % binary)
    return [str(binary)]


_HAS_ALLOW_ROOT = {}


def allow_root_args():
    """
    ['--allow-root'] when the tests run as root, since fcgi-wsgi refuses to
    serve as root without a uid (php-fpm's -R); [] otherwise, with
    FW_E2E_ALLOW_ROOT=0, or for a binary whose --help lacks the option (one
    from before it, through FW_E2E_SERVER).
    """
    if os.geteuid() != 0 or os.environ.get('FW_E2E_ALLOW_ROOT') == '0':
        return []
    argv = tuple(server_binary_argv())
    if argv not in _HAS_ALLOW_ROOT:
        done = subprocess.run(list(argv) + ['--help'], capture_output=True,
                              text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
        _HAS_ALLOW_ROOT[argv] = '--allow-root' in done.stdout
    return ['--allow-root'] if _HAS_ALLOW_ROOT[argv] else []


def server_argv():
    """The command that starts the server under test (allow_root_args
    included: every test starts it through this)."""
    return server_binary_argv() + allow_root_args()


def find_binary(name, package=None):
    """The path of an installed program, or ServerMissing."""
    for candidate in (shutil.which(name), '/usr/sbin/' + name,
                      '/usr/bin/' + name):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServerMissing('%s is not installed (Debian package %s)'
                        % (name, package or name))


def nginx_binary():
    return find_binary('nginx')


def needed(find, *args):
    """find(*args) (find_binary, say), or the test skipped with what is
    missing when it raises ServerMissing."""
    import pytest
    try:
        return find(*args)
    except ServerMissing as e:
        pytest.skip(str(e))


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tail(path, limit=6000):
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return '(no log %s: %s)' % (path, e.strerror)
    text = data[-limit:].decode('utf-8', 'replace')
    return ('...' if len(data) > limit else '') + text


class Proc:
    """
    A process started in its own session, its output in a log file.  stop()
    ends it by pid: SIGTERM (or the signal given), a bounded wait, then
    SIGKILL of the process group it leads (its own children included).
    """

    def __init__(self, argv, log_path, cwd=None, env=None, stdin=None,
                 name=None):
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self.log_path = Path(log_path)
        self.log = open(self.log_path, 'ab')
        try:
            self.popen = subprocess.Popen(
                self.argv, cwd=cwd, env=env,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True)
        except BaseException:
            self.log.close()
            raise
        self.pid = self.popen.pid
        self.returncode = None
        RUNNING.append(self)

    def alive(self):
        return self.popen.poll() is None

    def log_text(self):
        self.log.flush()
        return tail(self.log_path)

    def wait(self, timeout):
        """The exit status, or None if still running after timeout s."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """
        Stops the process; returns its exit status (negative: killed by
        that signal).  Always leaves neither it nor its group running.
        """
        try:
            if self.popen.poll() is None:
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    pass
                if self.wait(timeout) is None:
                    self.kill_group()
                    self.wait(5)
            self.returncode = self.popen.poll()
            return self.returncode
        finally:
            self.kill_group()
            if self in RUNNING:
                RUNNING.remove(self)
            self.log.close()

    def kill_group(self):
        """SIGKILL to whatever is left of the process group this leads."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            self.wait(5)

    def group_members(self):
        """Pids still in this process's group (its workers, say)."""
        return [pid for pid, _, pgid, _ in proc_table() if pgid == self.pid]

    def children(self):
        """Live direct children of this process."""
        return sorted(pid for pid, ppid, _, _ in proc_table()
                      if ppid == self.pid)


def _proc_stats(cmdline=False):
    """(pid, the fields of /proc/PID/stat after the command name, its
    cmdline or None) of every process that is still there."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            stat = Path('/proc', entry, 'stat').read_text()
            cmd = (Path('/proc', entry, 'cmdline').read_bytes()
                   if cmdline else None)
        except OSError:
            continue
        yield int(entry), stat.rsplit(')', 1)[1].split(), cmd


def proc_table():
    """(pid, ppid, pgid, cmdline) of every live (not zombie) process."""
    return [(pid, int(fields[1]), int(fields[2]),
             cmd.replace(b'\0', b' ').decode('utf-8', 'replace'))
            for pid, fields, cmd in _proc_stats(cmdline=True)
            if fields[0] != 'Z']


def stop_all():
    """Stops every Proc still running (end of session, or an interrupt)."""
    for proc in list(RUNNING):
        proc.stop(timeout=5)


# ---------------------------------------------------------------- waits
# Every test waits on an event (a log line, a pid, the status page, a
# socket) through wait_until, bounded by a timeout that the test derives
# from the configuration under test; never sleep-then-count.

def wait_until(predicate, timeout, what=None, step=0.05):
    """
    Polls predicate every step s until it returns a true value, which is
    returned, or timeout s have passed.  Then: with what (a text, or a
    function that returns one, called at that moment), an AssertionError
    saying what did not happen; without, the last (false) value.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            break
        time.sleep(step)
    if not value and what is not None:
        raise AssertionError('not within %.1f s: %s' % (
            timeout, what() if callable(what) else what))
    return value


def wait_children(proc, count, timeout, exclude=(), logs=None):
    """
    Waits until proc (a Proc or anything with a pid) has exactly count
    live children, none of them in exclude; returns them (sorted).
    Fails saying which it has, with logs() (default: proc's log).
    """
    def kids():
        now = sorted(pid for pid, ppid, _, _ in proc_table()
                     if ppid == proc.pid)
        return now if len(now) == count and not set(now) & set(exclude) \
            else None

    def what():
        now = sorted(pid for pid, ppid, _, _ in proc_table()
                     if ppid == proc.pid)
        return '%d children of %d (not %s): %s\n%s' % (
            count, proc.pid, list(exclude), now,
            logs() if logs else proc.log_text())

    return wait_until(kids, timeout, what)


def at_once(*calls):
    """
    Runs the calls (functions without arguments) in threads started
    together; returns (their results, in the order of calls, None for one
    that raised or did not end; the seconds until the last one ended).
    Bounded: each call is waited for HTTP_TIMEOUT + 10 s at most.
    """
    results = [None] * len(calls)

    def run(i):
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,), daemon=True)
               for i in range(len(calls))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(HTTP_TIMEOUT + 10)
    return results, time.monotonic() - start


def _fail_not_ready(proc, what, extra_logs=()):
    status = proc.popen.poll()
    state = ('exited with status %s' % status if status is not None
             else 'still running, not ready after %.0f s' % READY_TIMEOUT)
    logs = '\n'.join('--- %s:\n%s' % (p, tail(p)) for p in extra_logs)
    raise AssertionError('%s (%s) %s: %s\n--- log %s:\n%s\n%s' % (
        proc.name, ' '.join(proc.argv), state, what, proc.log_path,
        proc.log_text(), logs))


def _accepts(connect):
    try:
        connect()
        return True
    except OSError:
        return False


def _wait_accepting(proc, connect, timeout):
    """Waits until connect() succeeds or proc ends: whether it did."""
    return wait_until(lambda: not proc.alive() or _accepts(connect),
                      timeout) and proc.alive()


def wait_unix_socket(proc, path, timeout=READY_TIMEOUT):
    """Waits until path is a socket that accepts; fails with the log."""
    def connect():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(str(path))

    if not _wait_accepting(proc, connect, timeout):
        _fail_not_ready(proc, 'no socket at %s' % path)


def wait_tcp(proc, port, host='127.0.0.1', timeout=READY_TIMEOUT,
             extra_logs=()):
    """Waits until host:port accepts; fails with the log."""
    def connect():
        socket.create_connection((host, port), timeout=1).close()

    if not _wait_accepting(proc, connect, timeout):
        _fail_not_ready(proc, 'nothing accepts on %s:%d' % (host, port),
                        extra_logs)


def render_nginx(template, out, port, socket_path, static_root, tmpdir):
    """Renders an examples/nginx template with its own render.sh."""
    subprocess.run(
        ['sh', str(NGINX_DIR / 'render.sh'), str(template), str(out),
         str(port), str(socket_path), str(static_root), str(tmpdir)],
        check=True, timeout=30)
    return out


def start_nginx(template, tmpdir, socket_path, static_root):
    """Renders template in tmpdir, starts nginx: returns (proc, port)."""
    binary = nginx_binary()
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    conf = tmpdir / 'nginx.conf'
    for _ in range(5):
        port = free_port()
        render_nginx(template, conf, port, socket_path, static_root, tmpdir)
        proc = Proc([binary, '-p', tmpdir, '-e', tmpdir / 'error.log',
                     '-c', conf], tmpdir / 'nginx.out', name='nginx')
        try:
            wait_tcp(proc, port, extra_logs=[tmpdir / 'error.log'])
            return proc, port
        except AssertionError:
            proc.stop()
            if 'Address already in use' not in tail(tmpdir / 'error.log'):
                raise
    raise AssertionError('nginx: no free port after 5 tries')


# ------------------------------------------------- web server skeletons
# The first lines of the minimal configurations some tests (and the bench,
# and tests/diff/capture.py) write around what they test: format() them
# with dir, port, for nginx **nginx_vars(dir), for Apache
# modules=apache_modules(...): everything in dir, 127.0.0.1:port.

NGINX_HEAD = '''\
{user}
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections {connections}; }}
'''
# inside http { }: nginx's temp files in dir too
NGINX_TEMP_PATHS = '''\
    client_body_temp_path {dir}/client_body;
    fastcgi_temp_path {dir}/fastcgi;
    proxy_temp_path {dir}/proxy;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
'''


def nginx_user():
    """NGINX_HEAD's {user}: as root, nginx's workers stay root (they must
    reach the test's private temp dir); else nothing."""
    return 'user root;' if os.geteuid() == 0 else ''


def nginx_vars(dir, connections=64):
    """NGINX_HEAD's fields: {dir}, {user} and {connections} (one worker's
    worker_connections: a test's few, or the bench's load)."""
    return dict(dir=dir, user=nginx_user(), connections=connections)


APACHE_MODULES_DIR = '/usr/lib/apache2/modules'
APACHE_HEAD = '''\
ServerRoot "{dir}"
ServerName localhost
Listen 127.0.0.1:{port}
PidFile "{dir}/httpd.pid"
ErrorLog "{dir}/error.log"
LogLevel warn
User nobody
Group nogroup
{modules}
TypesConfig /etc/mime.types
'''
LIGHTTPD_HEAD = '''\
server.document-root = "{dir}/docroot"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.upload-dirs = ( "{dir}/upload" )
'''


def apache_modules(names):
    """The LoadModule lines of Debian's modules named (mod_NAME.so)."""
    return '\n'.join('LoadModule %s_module %s/mod_%s.so'
                     % (m, APACHE_MODULES_DIR, m) for m in names)


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), as received
        self.body = body

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode('utf-8', 'replace')

    def json(self):
        import json
        return json.loads(self.body.decode('utf-8'))

    def __repr__(self):
        return '<Response %d %s, %d bytes: %r>' % (
            self.status, self.reason, len(self.body), self.body[:300])


def http_request(port, method, path, headers=None, body=None,
                 timeout=HTTP_TIMEOUT, encode_chunked=False):
    """One request on a fresh connection to 127.0.0.1:port."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=encode_chunked)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, resp.getheaders(), data)
    finally:
        conn.close()


class Browser:
    """Keeps cookies between requests to one port, like a browser."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, headers=None, body=None, **kw):
        headers = dict(headers or {})
        if self.cookies:
            headers['Cookie'] = '; '.join(
                '%s=%s' % kv for kv in self.cookies.items())
        resp = http_request(self.port, method, path, headers, body, **kw)
        for value in resp.header_all('Set-Cookie'):
            name, _, rest = value.partition('=')
            self.cookies[name.strip()] = rest.split(';', 1)[0]
        return resp

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, fields=None, files=None, headers=None):
        if files:
            content_type, body = multipart(fields or {}, files)
        else:
            from urllib.parse import urlencode
            content_type = 'application/x-www-form-urlencoded'
            body = urlencode(fields or {}).encode()
        headers = dict(headers or {})
        headers['Content-Type'] = content_type
        return self.request('POST', path, headers=headers, body=body)


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(html):
    match = CSRF_INPUT.search(html)
    assert match, 'no csrfmiddlewaretoken in the page:\n%s' % html[:2000]
    return match.group(1)


def multipart(fields, files):
    """(content type, body) of a multipart/form-data request."""
    boundary = 'fw-e2e-' + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"'
                      '\r\n\r\n' % (boundary, name)).encode()
                     + str(value).encode() + b'\r\n')
    for name, (filename, data, ctype) in files.items():
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"; '
                      'filename="%s"\r\nContent-Type: %s\r\n\r\n'
                      % (boundary, name, filename, ctype)).encode()
                     + data + b'\r\n')
    parts.append(('--%s--\r\n' % boundary).encode())
    return 'multipart/form-data; boundary=%s' % boundary, b''.join(parts)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def random_body(size, seed=b'fcgi-wsgi'):
    """size bytes that are not all alike and contain every byte value."""
    block = b''.join(hashlib.sha256(seed + i.to_bytes(4, 'big')).digest()
                     for i in range(2048))
    block += bytes(range(256)) + b'\r\n\n\0'
    return (block * (size // len(block) + 1))[:size]


def stream_lines(port, path, timeout=HTTP_TIMEOUT):
    """
    GETs path and reads the body line by line as it arrives: a list of
    (time.time() at arrival, line).  Also returns the response headers.
    """
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        lines = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = resp.readline()
            if not line:
                break
            lines.append((time.time(), line.decode('utf-8', 'replace')))
        return resp.status, resp.getheaders(), lines
    finally:
        conn.close()


PRODUCED_AT = re.compile(r'produced_at=([\d.]+)')


def assert_streamed(lines, n, delay, unbuffered=True, logs=''):
    """
    lines (stream_lines) of a response of n lines produced delay s apart,
    each saying produced_at=TIME: unbuffered, each reached the client as
    it was produced (the first before the last was produced, none 1 s
    late); else the web server held them all until the end.
    """
    assert len(lines) == n, (lines, logs)
    produced = [float(PRODUCED_AT.search(line).group(1))
                for _, line in lines]
    first_arrival, last_produced = lines[0][0], produced[-1]
    if not unbuffered:
        assert first_arrival >= last_produced, (
            'a line was passed on before the response ended: %s' % lines)
        return
    # the app sleeps delay s between lines: (n-1)*delay s in all
    assert first_arrival < last_produced - delay, (
        'the first line arrived at %.3f, the last was produced at %.3f: the '
        'response was held back\n%s' % (first_arrival, last_produced, logs))
    for (arrived, _), made in zip(lines, produced):
        assert arrived - made < 1.0, (
            'a line arrived %.3f s after it was produced' % (arrived - made))


def log_since(path, offset):
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def wait_for_log(paths, offsets, needles, timeout=5.0):
    """
    Polls the logs (bounded) until all needles appear after the offsets;
    returns the new text of all of them together.
    """
    def text():
        return ''.join(log_since(p, o) for p, o in zip(paths, offsets))

    wait_until(lambda: all(n in text() for n in needles), timeout, step=0.1)
    return text()


# What must never be in the logs of a request served well: a breach of
# PEP 3333 seen by wsgiref.validate, a traceback, a leaked iterable.
BAD_WORDS = ('Warning', 'Traceback', 'AssertionError', 'Exception ignored',
             'without being closed')


def log_marks(site):
    """Where the logs of site (server_log, app_log, access_log: the
    server started with --logto app_log --access-log access_log) end."""
    return [log_size(p)
            for p in (site.server_log, site.app_log, site.access_log)]


def assert_clean_request(site, marks, method, uri, timeout=5.0):
    """
    Waits for the access-log line of method uri after marks (the worker
    writes it once it is done with the request: the iterable closed,
    whatever the request logged written), then fails if the server's or
    the app's log gained any of BAD_WORDS since marks.
    """
    needle = '"%s %s ' % (method, uri)
    done = wait_for_log([site.access_log], marks[2:], [needle], timeout)
    assert needle in done, '%s %s: no access-log line within %.0f s: %r' % (
        method, uri, timeout, done)
    text = (log_since(site.server_log, marks[0])
            + log_since(site.app_log, marks[1]))
    bad = [w for w in BAD_WORDS if w in text]
    assert not bad, '%s %s: the log has %s:\n%s' % (method, uri, bad, text)


def clean_request(site, method, path, **kw):
    """http_request to site, then assert_clean_request: the response."""
    marks = log_marks(site)
    resp = http_request(site.port, method, path, **kw)
    assert_clean_request(site, marks, method, path)
    return resp


# ---------------------------------------------------------------- FastCGI

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST = 1, 3
FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 4, 5, 6, 7
FCGI_RESPONDER, FCGI_KEEP_CONN = 1, 1
_HEADER = struct.Struct('!BBHHBx')


def _pair_length(n):
    return bytes([n]) if n < 128 else struct.pack('!I', n | 0x80000000)


def fcgi_params(params):
    out = b''
    for name, value in params.items():
        name = name.encode('latin-1') if isinstance(name, str) else name
        value = value.encode('utf-8') if isinstance(value, str) else value
        out += _pair_length(len(name)) + _pair_length(len(value)) + name
        out += value
    return out


class FcgiResponse:
    def __init__(self, stdout, stderr, app_status):
        self.raw = stdout
        self.stderr = stderr
        self.app_status = app_status
        head, _, self.body = stdout.partition(b'\r\n\r\n')
        self.headers = []
        self.status = 200
        for line in head.decode('latin-1').split('\r\n'):
            if not line:
                continue
            name, _, value = line.partition(':')
            self.headers.append((name.strip(), value.strip()))
            if name.strip().lower() == 'status':
                self.status = int(value.split()[0])

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def __repr__(self):
        return '<FcgiResponse %d, %r>' % (self.status, self.raw[:300])


def fcgi_connect(address, timeout=HTTP_TIMEOUT):
    """address: a unix socket path (str/Path) or a (host, port) tuple."""
    if isinstance(address, tuple):
        sock = socket.create_connection(address, timeout=timeout)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(str(address))
    return sock


def fcgi_request(address, path='/', method='GET', query='', body=b'',
                 headers=None, extra=None, sock=None, keep_conn=False,
                 request_id=1):
    """
    One FastCGI request with CGI params like a web server's (the whole path
    in PATH_INFO, SCRIPT_NAME empty, unless extra says otherwise).  Uses
    sock when given (left open), else a new connection (closed).  The
    answer (an FcgiAnswer) within HTTP_TIMEOUT; a connection closed before
    END_REQUEST is an AssertionError that says so.
    """
    more = {'HTTP_' + name.upper().replace('-', '_'): value
            for name, value in (headers or {}).items()}
    more.update(extra or {})
    own = sock is None
    if own:
        sock = fcgi_connect(address)
    try:
        sock.sendall(fcgi_request_bytes(path, method, query, body, more,
                                        request_id, keep_conn))
        try:
            return FcgiReader(sock).response(
                request_id, time.monotonic() + HTTP_TIMEOUT)
        except TimeoutError:
            raise AssertionError('no END_REQUEST within %.0f s'
                                 % HTTP_TIMEOUT) from None
    finally:
        if own:
            sock.close()


# ------------------------------------------------- FastCGI, record by record
# For the wire tests (test_wire_attacks.py, test_cgi_fcgi.py, tests/soak):
# records built byte-exact (any padding, any id, any type) and a reader
# that returns every record the server sends, each wait with a deadline.

FCGI_ABORT_REQUEST, FCGI_DATA = 2, 8
FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT, FCGI_UNKNOWN_TYPE = 9, 10, 11
FCGI_AUTHORIZER, FCGI_FILTER = 2, 3
FCGI_REQUEST_COMPLETE, FCGI_CANT_MPX_CONN = 0, 1
FCGI_OVERLOADED, FCGI_UNKNOWN_ROLE = 2, 3
FCGI_RECORD_NAMES = {1: 'BEGIN_REQUEST', 2: 'ABORT_REQUEST',
                     3: 'END_REQUEST', 4: 'PARAMS', 5: 'STDIN', 6: 'STDOUT',
                     7: 'STDERR', 8: 'DATA', 9: 'GET_VALUES',
                     10: 'GET_VALUES_RESULT', 11: 'UNKNOWN_TYPE'}


def fcgi_record(rtype, rid, content=b'', padding=None):
    """
    Exactly one record: content (at most 65535 bytes) and `padding` zero
    bytes after it (default: up to a multiple of 8, as libfcgi pads).
    """
    assert len(content) <= 65535, len(content)
    if padding is None:
        padding = -len(content) % 8
    return (_HEADER.pack(1, rtype, rid, len(content), padding) + content
            + b'\0' * padding)


def fcgi_stream(rtype, rid, data, padding=None, chunk=65535):
    """data as records of at most chunk bytes, then the empty record."""
    out = [fcgi_record(rtype, rid, data[i:i + chunk], padding)
           for i in range(0, len(data), chunk)]
    out.append(fcgi_record(rtype, rid, b'', padding))
    return b''.join(out)


def fcgi_begin(rid=1, role=FCGI_RESPONDER, keep_conn=False, padding=None):
    """A BEGIN_REQUEST record."""
    return fcgi_record(FCGI_BEGIN_REQUEST, rid,
                       struct.pack('!HB5x', role,
                                   FCGI_KEEP_CONN if keep_conn else 0),
                       padding)


def fcgi_pairs(pairs):
    """Name-value pairs (a list of (name, value), bytes or str) encoded;
    unlike fcgi_params a name may repeat, and bytes are kept as given."""
    out = []
    for name, value in pairs:
        name = name.encode('latin-1') if isinstance(name, str) else name
        value = value.encode('utf-8') if isinstance(value, str) else value
        out.append(_pair_length(len(name)) + _pair_length(len(value)) + name
                   + value)
    return b''.join(out)


def fcgi_parse_pairs(data):
    """The (name, value) bytes pairs of a PARAMS/GET_VALUES stream."""
    pairs, pos = [], 0

    def length():
        nonlocal pos
        if data[pos] < 128:
            pos += 1
            return data[pos - 1]
        value = struct.unpack('!I', data[pos:pos + 4])[0] & 0x7fffffff
        pos += 4
        return value

    while pos < len(data):
        name_len = length()
        value_len = length()
        name = data[pos:pos + name_len]
        value = data[pos + name_len:pos + name_len + value_len]
        pos += name_len + value_len
        pairs.append((name, value))
    return pairs


def fcgi_get_values(names, padding=None):
    """A GET_VALUES record (request id 0) asking for names (repeats kept)."""
    return fcgi_record(FCGI_GET_VALUES, 0,
                       fcgi_pairs([(n, b'') for n in names]), padding)


def fcgi_cgi_params(path='/', method='GET', query='', body_length=None,
                    extra=None):
    """The CGI params fcgi_request sends, as a dict (extra merged last;
    a None value in extra removes that param)."""
    params = {
        'GATEWAY_INTERFACE': 'CGI/1.1', 'REQUEST_METHOD': method,
        'SCRIPT_NAME': '', 'PATH_INFO': path, 'QUERY_STRING': query,
        'REQUEST_URI': path + ('?' + query if query else ''),
        'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
        'REMOTE_PORT': '40000', 'HTTP_HOST': '127.0.0.1',
    }
    if body_length is not None:
        params['CONTENT_LENGTH'] = str(body_length)
        params['CONTENT_TYPE'] = 'application/octet-stream'
    for name, value in (extra or {}).items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def fcgi_request_bytes(path='/', method='GET', query='', body=b'',
                       extra=None, request_id=1, keep_conn=False,
                       padding=None, content_length=True):
    """
    The bytes of one whole request (BEGIN_REQUEST, PARAMS, STDIN), every
    record with `padding` (default: to a multiple of 8).  content_length
    false: no CONTENT_LENGTH param even with a body.
    """
    params = fcgi_cgi_params(path, method, query,
                             len(body) if body and content_length else None,
                             extra)
    return (fcgi_begin(request_id, keep_conn=keep_conn, padding=padding)
            + fcgi_stream(FCGI_PARAMS, request_id,
                          fcgi_params(params), padding)
            + fcgi_stream(FCGI_STDIN, request_id, body, padding))


class FcgiAnswer(FcgiResponse):
    """A response read record by record: FcgiResponse plus the
    END_REQUEST's protocol status and every other record seen meanwhile
    (others: (type, id, content) of other types or ids)."""

    def __init__(self, stdout, stderr, app_status, protocol_status, others):
        super().__init__(stdout, stderr, app_status)
        self.protocol_status = protocol_status
        self.others = others


class FcgiReader:
    """
    Reads records off a socket (recv_size bytes a read at most), each call
    bounded by a deadline (time.monotonic()).  record() returns (type, id, content), None at a
    clean EOF; a reset is raised as ConnectionResetError; a deadline
    passed as TimeoutError.
    """

    def __init__(self, sock, recv_size=262144):
        self.sock = sock
        self.recv_size = recv_size
        self.buf = b''
        self.eof = False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('no FastCGI bytes before the deadline')
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(self.recv_size)
        except socket.timeout:
            raise TimeoutError('no FastCGI bytes before the deadline')
        if not chunk:
            self.eof = True
        self.buf += chunk
        return bool(chunk)

    def record(self, deadline):
        while True:
            if len(self.buf) >= 8:
                _, rtype, rid, clen, plen = _HEADER.unpack(self.buf[:8])
                if len(self.buf) >= 8 + clen + plen:
                    content = self.buf[8:8 + clen]
                    self.buf = self.buf[8 + clen + plen:]
                    return rtype, rid, content
            if self.eof or not self._fill(deadline):
                if self.buf:
                    raise AssertionError(
                        'FastCGI connection closed before END_REQUEST, '
                        'inside a record: %d bytes left %r'
                        % (len(self.buf), self.buf[:40]))
                return None

    def response(self, rid, deadline):
        """Records up to END_REQUEST for rid: an FcgiAnswer.  EOF before
        it is an AssertionError saying what came."""
        stdout, stderr, others = [], [], []
        while True:
            rec = self.record(deadline)
            if rec is None:
                raise AssertionError(
                    'FastCGI connection closed before END_REQUEST of id %d;'
                    ' got stdout %r, other records %r'
                    % (rid, b''.join(stdout)[:300], others[:5]))
            rtype, got_id, content = rec
            if got_id == rid and rtype == FCGI_STDOUT:
                stdout.append(content)
            elif got_id == rid and rtype == FCGI_STDERR:
                stderr.append(content)
            elif got_id == rid and rtype == FCGI_END_REQUEST:
                app_status, protocol_status = struct.unpack(
                    '!IB3x', content[:8])
                return FcgiAnswer(b''.join(stdout), b''.join(stderr),
                                  app_status, protocol_status, others)
            else:
                others.append(rec)

    def closed(self, deadline):
        """True once the peer closed (EOF or reset) before deadline,
        discarding whatever it sent; False if still open then."""
        try:
            while not self.eof:
                self.buf = b''
                self._fill(deadline)
            return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


# ------------------------------------------------------- process figures

CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def proc_cpu_seconds(pid):
    """utime + stime of pid in seconds (None if it is gone)."""
    try:
        stat = Path('/proc/%d/stat' % pid).read_text()
    except OSError:
        return None
    fields = stat.rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_fds(pid):
    """{fd: link target} of pid (empty if it is gone)."""
    out = {}
    try:
        names = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return out
    for name in names:
        try:
            out[int(name)] = os.readlink('/proc/%d/fd/%s' % (pid, name))
        except OSError:
            pass
    return out


def proc_rss_bytes(pid):
    """Resident set size of pid in bytes (None if it is gone)."""
    try:
        statm = Path('/proc/%d/statm' % pid).read_text().split()
    except OSError:
        return None
    return int(statm[1]) * os.sysconf('SC_PAGE_SIZE')


def socket_fds(pid):
    """How many of pid's descriptors are sockets."""
    n = 0
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:'):
                n += 1
        except OSError:
            pass
    return n


def zombie_children(pid):
    """Pids of pid's children that are zombies (exited, not reaped)."""
    return sorted(child for child, fields, _ in _proc_stats()
                  if fields[0] == 'Z' and int(fields[1]) == pid)
