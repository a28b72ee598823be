#!/usr/bin/python3
"""
Records what real web servers send a FastCGI application, byte for byte,
for the differential test (run_diff.py) and the fuzzer's seeds: every
connection a case opens becomes tests/diff/captures/SERVER-CASE.bin.

    capture.py [SERVER...]     nginx, apache, lighttpd (default: all there)

Each server from Debian is started on 127.0.0.1 from a minimal
configuration written to a temp dir, in front of a raw recorder (here),
which answers each request with a small 200 and keeps every byte each
connection carried: header, content and padding, as sent.  The cases:
GET with a query string and the usual headers, POST of 100 KiB, a chunked
POST (no CONTENT_LENGTH where the server streams it), and a kept
connection carrying three requests (nginx fastcgi_keep_conn, Apache
enablereuse).  Ports and dates differ from one run to the next; the
files are replaced.  Then run `crafted.py --corpus` for the fuzz seeds.
"""

import http.client
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'apps'))
sys.path.insert(0, str(HERE.parent / 'e2e'))
from e2elib import (NGINX_HEAD, NGINX_TEMP_PATHS, free_port,  # noqa: E402
                    nginx_vars)
from fcgi_recorder import read_exact  # noqa: E402
CAPTURES = HERE / 'captures'
APACHE_MODULES = Path('/usr/lib/apache2/modules')

HEADER = struct.Struct('!BBHHBx')
BEGIN, END_REQUEST, STDIN, STDOUT = 1, 3, 5, 6
RESPONSE = (b'Status: 200 OK\r\nContent-Type: text/plain\r\n'
            b'Content-Length: 2\r\n\r\nok')


def record(rtype, rid, content=b''):
    return HEADER.pack(1, rtype, rid, len(content), 0) + content


class Recorder:
    """A FastCGI responder on 127.0.0.1 that keeps every byte received,
    one bytearray per connection, in the order they were accepted."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            buf = bytearray()
            with self.lock:
                self.conns.append(buf)
            threading.Thread(target=self.serve, args=(conn, buf),
                             daemon=True).start()

    def serve(self, conn, buf):
        keep = {}
        try:
            while True:
                head = read_exact(conn, 8)
                if head is None:
                    return
                _, rtype, rid, clen, plen = HEADER.unpack(head)
                rest = read_exact(conn, clen + plen) if clen + plen else b''
                if rest is None:
                    buf += head
                    return
                with self.lock:
                    buf += head + rest
                if rtype == BEGIN:
                    keep[rid] = rest[2] & 1
                elif rtype == STDIN and clen == 0 and rid in keep:
                    conn.sendall(record(STDOUT, rid, RESPONSE)
                                 + record(STDOUT, rid)
                                 + record(END_REQUEST, rid, b'\0' * 8))
                    if not keep.pop(rid):
                        return
        except OSError:
            return
        finally:
            conn.close()

    def mark(self):
        with self.lock:
            return len(self.conns)

    def since(self, mark):
        """The bytes of the connections opened since mark."""
        with self.lock:
            return [bytes(b) for b in self.conns[mark:]]

    def close(self):
        self.sock.close()


def wait_port(port, proc, log, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('server exited %s:\n%s' % (
                proc.returncode, Path(log).read_text(errors='replace')[-2000:]))
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('server not listening on %d' % port)


def fetch(port, method, path, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=20)
    try:
        hdrs = {'User-Agent': 'fcgi-wsgi-capture/1', 'Accept': '*/*',
                'Cookie': 'session=abc; theme=dark',
                'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}
        hdrs.update(headers or {})
        if chunked:
            parts = [body[i:i + 8192] for i in range(0, len(body), 8192)]
            conn.request(method, path, body=iter(parts), headers=hdrs,
                         encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200 or data != b'ok':
            raise RuntimeError('%s %s: %d %r' % (method, path, resp.status,
                                                 data[:200]))
    finally:
        conn.close()


def body(size, seed):
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(size))


# ---------------------------------------------------------------- servers

# e2elib's skeleton, format()ed with port, app and **nginx_vars(dir)
NGINX_CONF = NGINX_HEAD + '''\
http {{
    access_log off;
''' + NGINX_TEMP_PATHS + '''\
    client_max_body_size 10m;
    client_body_buffer_size 1m;
    upstream kept {{ server 127.0.0.1:{app}; keepalive 2; }}
    server {{
        listen 127.0.0.1:{port};
        location /keep/ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_pass kept;
            fastcgi_keep_conn on;
        }}
        location /unbuffered/ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_request_buffering off;
            fastcgi_pass 127.0.0.1:{app};
        }}
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME /srv/app$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:{app};
        }}
    }}
}}
'''

APACHE_CONF = '''
ServerRoot "%(dir)s"
DefaultRuntimeDir "%(dir)s"
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
PidFile "%(dir)s/httpd.pid"
ErrorLog "%(dir)s/error.log"
LogLevel warn
LoadModule mpm_event_module %(mods)s/mod_mpm_event.so
LoadModule authz_core_module %(mods)s/mod_authz_core.so
LoadModule proxy_module %(mods)s/mod_proxy.so
LoadModule proxy_fcgi_module %(mods)s/mod_proxy_fcgi.so
%(user)s
DocumentRoot "%(dir)s"
ProxyPass "/reuse/" "fcgi://127.0.0.1:%(app2)d/" enablereuse=on
ProxyPass "/" "fcgi://127.0.0.1:%(app)d/"
'''

LIGHTTPD_CONF = '''
server.document-root = "%(dir)s"
server.bind = "127.0.0.1"
server.port = %(port)d
server.errorlog = "%(dir)s/error.log"
server.modules = ( "mod_fastcgi" )
fastcgi.server = ( "/" => ( ( "host" => "127.0.0.1", "port" => %(app)d,
                              "check-local" => "disable" ) ) )
'''


def start(argv, dir, port):
    log = Path(dir) / 'server.out'
    proc = subprocess.Popen(argv, stdout=open(log, 'wb'),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, proc, log)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def common_cases(port, app, chunked_name, chunked_path):
    """What every web server is captured doing: a GET with a query, a
    100 KiB POST, and a chunked upload."""
    return [
        ('get', app, lambda: fetch(port, 'GET', '/index.php?a=1&b=%20x')),
        ('post-100k', app, lambda: fetch(
            port, 'POST', '/upload', body(100 * 1024, 1),
            {'Content-Type': 'application/octet-stream'})),
        (chunked_name, app, lambda: fetch(
            port, 'POST', chunked_path, body(20000, 2),
            {'Content-Type': 'application/octet-stream'}, chunked=True)),
    ]


def three_requests(port, prefix):
    """Three requests in a row (a kept or reused connection)."""
    return lambda: [
        fetch(port, 'GET', prefix + '/one'),
        fetch(port, 'POST', prefix + '/two', body(10000, 3),
              {'Content-Type': 'application/x-www-form-urlencoded'}),
        fetch(port, 'GET', prefix + '/three?x=y')]


def capture(server, argv, dir, port, cases):
    """Starts the web server (argv, listening on port), runs the cases
    through it, stops it: the files run_cases wrote."""
    proc = start(argv, dir, port)
    try:
        return run_cases(server, cases)
    finally:
        stop(proc)


def capture_nginx(dir, app, app2):
    port = free_port()
    conf = Path(dir) / 'nginx.conf'
    conf.write_text(NGINX_CONF.format(port=port, app=app.port,
                                      **nginx_vars(dir)))
    cases = common_cases(port, app, 'chunked-unbuffered', '/unbuffered/up')
    cases.append(('keepconn', app, three_requests(port, '/keep')))
    return capture('nginx', [shutil.which('nginx') or '/usr/sbin/nginx',
                             '-p', dir, '-e', '%s/error.log' % dir, '-c',
                             conf], dir, port, cases)


def capture_apache(dir, app, app2):
    binary = shutil.which('apache2') or '/usr/sbin/apache2'
    if not (APACHE_MODULES / 'mod_proxy_fcgi.so').exists():
        raise FileNotFoundError('mod_proxy_fcgi')
    port = free_port()
    os.chmod(dir, 0o755)
    user = 'User nobody\nGroup nogroup' if os.geteuid() == 0 else ''
    conf = Path(dir) / 'httpd.conf'
    conf.write_text(APACHE_CONF % dict(dir=dir, port=port, app=app.port,
                                       app2=app2.port, mods=APACHE_MODULES,
                                       user=user))
    cases = common_cases(port, app, 'chunked', '/up')
    cases.append(('reuse', app2, three_requests(port, '/reuse')))
    return capture('apache', [binary, '-d', dir, '-f', conf, '-DFOREGROUND'],
                   dir, port, cases)


def capture_lighttpd(dir, app, app2):
    binary = shutil.which('lighttpd') or '/usr/sbin/lighttpd'
    port = free_port()
    conf = Path(dir) / 'lighttpd.conf'
    conf.write_text(LIGHTTPD_CONF % dict(dir=dir, port=port, app=app.port))
    return capture('lighttpd', [binary, '-D', '-f', conf], dir, port,
                   common_cases(port, app, 'chunked', '/up'))


def run_cases(server, cases):
    written = []
    for name, app, send in cases:
        mark = app.mark()
        send()
        time.sleep(0.2)  # the recorder has read all: it answered
        conns = [c for c in app.since(mark) if c]
        if not conns:
            raise RuntimeError('%s %s: no FastCGI connection' % (server,
                                                                 name))
        for i, data in enumerate(conns):
            suffix = '' if len(conns) == 1 else '-%d' % (i + 1)
            path = CAPTURES / ('%s-%s%s.bin' % (server, name, suffix))
            path.write_bytes(data)
            written.append((path, len(data)))
    return written


SERVERS = {'nginx': capture_nginx, 'apache': capture_apache,
           'lighttpd': capture_lighttpd}


def main(argv):
    names = argv[1:] or list(SERVERS)
    CAPTURES.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        app, app2 = Recorder(), Recorder()
        dir = tempfile.mkdtemp(prefix='capture-%s-' % name)
        try:
            for path, size in SERVERS[name](dir, app, app2):
                print('%-40s %7d bytes' % (path.relative_to(HERE), size))
        except (OSError, RuntimeError) as e:
            print('%s: skipped: %s' % (name, e))
            failed += 1
        finally:
            app.close()
            app2.close()
            shutil.rmtree(dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
