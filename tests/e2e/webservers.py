"""
The web servers of the e2e tests: the real nginx, Apache 2.4 (mod_fcgid,
mod_proxy_fcgi), lighttpd (mod_fastcgi), Caddy (reverse_proxy, transport
fastcgi) and H2O (fastcgi.connect) from Debian, started on
127.0.0.1 from the configurations of examples/<server>/ rendered into a
temp dir, in front of fcgi-wsgi and the demo Django project; or in front
of tests/apps/fcgi_recorder.py, to measure what each server sends.

- Sites: NginxSite, ApacheSite, LighttpdSite, CaddySite, H2oSite.  Each
  has .port, .prefix
  (where the application lives: '' or '/app'), .logs() and .stop(), which
  stops by pid everything the site started.
- App: what serves FastCGI behind the server (fcgi-wsgi + Django, or the
  recorder), standing on a socket or spawned by the server.
- CHECKS: the one check-suite every server and configuration runs.
- record_sends(): what a server sent, kept for examples/SERVERS.md
  (tests/e2e/servers_table.py prints the table).
"""

import html
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import server_env
from e2elib import (APPS_DIR, DJANGO_DIR, HTTP_TIMEOUT, NGINX_DIR, PYTHON,
                    READY_TIMEOUT, REPO, STOP_TIMEOUT, STYLE_CSS, Browser,
                    Proc, Response, ServerMissing, assert_streamed,
                    csrf_token, find_binary,
                    free_port, proc_table,
                    http_request, random_body, sha256, stream_lines, tail,
                    wait_tcp, wait_unix_socket, wait_until)

EXAMPLES = REPO / 'examples'
APACHE_DIR = EXAMPLES / 'apache'
LIGHTTPD_DIR = EXAMPLES / 'lighttpd'
CADDY_DIR = EXAMPLES / 'caddy'
H2O_DIR = EXAMPLES / 'h2o'
RECORDER = APPS_DIR / 'fcgi_recorder.py'
APACHE_MODULES = Path('/usr/lib/apache2/modules')
PREFIX = '/app'
AUTH = 'Basic dXNlcjpwYXNzd29yZA=='


# ---------------------------------------------------------------- binaries

def apache_binary(module):
    """apache2, after checking that mod_<module>.so is there."""
    binary = find_binary('apache2')
    so = APACHE_MODULES / ('mod_%s.so' % module)
    if not so.exists():
        raise ServerMissing('%s is missing (Debian package %s)' % (
            so, 'libapache2-mod-fcgid' if module == 'fcgid' else 'apache2'))
    return binary


def version(argv, pattern):
    """The version a server prints (nginx -v, apache2 -v, lighttpd -v)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else '?'


def apache_label(binary):
    """'Apache 2.4.x', as binary -v says: the server in SERVERS.md."""
    return 'Apache %s' % version([binary, '-v'], r'Apache/(\S+)')


# ---------------------------------------------------------------- helpers

def render(template, out, **values):
    """
    Writes template with each @NAME@ replaced by values[NAME]; a
    placeholder left unfilled is an error (as in examples/nginx/render.sh).
    """
    text = Path(template).read_text()
    for name, value in values.items():
        text = text.replace('@%s@' % name, str(value))
    left = sorted(set(re.findall(r'@[A-Z0-9_]+@', text)))
    assert not left, '%s: placeholders left unfilled: %s' % (template, left)
    Path(out).write_text(text)
    return Path(out)


def as_root():
    return os.geteuid() == 0


def open_tree(path, top, mode=0o755):
    """
    Lets other users (Apache's User nobody) reach path: path gets mode
    (added to its own), and every directory from top down to it o+x.
    Nothing outside top (the test's temp dir) is touched.
    """
    path, top = Path(path), Path(top)
    if not path.is_relative_to(top):
        return
    os.chmod(path, os.stat(path).st_mode | mode)
    for parent in path.parents:
        if parent == top.parent:
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o711)


def address_spec(address):
    """A Path is a unix socket, a (host, port) tuple TCP."""
    if isinstance(address, tuple):
        return '%s:%d' % address
    return 'unix:%s' % address


def wait_address(proc, address):
    if isinstance(address, tuple):
        wait_tcp(proc, address[1], host=address[0])
    else:
        wait_unix_socket(proc, address)


def pid_alive(pid):
    """True if pid runs and is not a zombie."""
    try:
        stat = Path('/proc/%d/stat' % pid).read_text()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] != 'Z'


def children_of(pid):
    return sorted(p for p, ppid, _, _ in proc_table() if ppid == pid)


def processes_mentioning(text, exclude_names=('apache2', 'lighttpd')):
    """Live processes whose command line contains text (not the servers)."""
    found = []
    for pid, _, _, cmd in proc_table():
        if text in cmd and pid != os.getpid():
            argv0 = Path(cmd.split(' ', 1)[0]).name
            if argv0 not in exclude_names:
                found.append((pid, cmd))
    return found


def kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class Tls:
    """
    A self-signed certificate for 127.0.0.1 (openssl req), made once in
    dir: cert, key, and pem (both in one file, for lighttpd).  Used to
    measure what each server sends over HTTPS.
    """

    def __init__(self, dir):
        openssl = find_binary('openssl')
        dir = Path(dir)
        self.cert, self.key, self.pem = (dir / 'cert.pem', dir / 'key.pem',
                                         dir / 'both.pem')
        if not self.pem.exists():
            dir.mkdir(parents=True, exist_ok=True)
            subprocess.run([openssl, 'req', '-x509', '-newkey', 'rsa:2048',
                            '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
                            '-keyout', str(self.key), '-out', str(self.cert)],
                           check=True, capture_output=True, timeout=60)
            self.pem.write_bytes(self.cert.read_bytes()
                                 + self.key.read_bytes())


def tls_for(session_tmp, server):
    """
    The session's Tls, after checking that server can use it (mod_ssl,
    lighttpd's mod_openssl); pytest.skip when something is missing.
    """
    needs = {'apache': APACHE_MODULES / 'mod_ssl.so',
             'lighttpd': Path('/usr/lib/lighttpd/mod_openssl.so')}
    try:
        if server in needs and not needs[server].exists():
            raise ServerMissing('%s is missing (Debian package %s)' % (
                needs[server], 'lighttpd-mod-openssl'
                if server == 'lighttpd' else 'apache2'))
        return Tls(Path(session_tmp) / 'tls')
    except ServerMissing as e:
        pytest.skip(str(e))


def https_request(port, method, path, headers=None, timeout=HTTP_TIMEOUT):
    """One request over TLS to 127.0.0.1:port (certificate not checked)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=timeout,
                                       context=context)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, resp.reason, resp.getheaders(),
                        resp.read())
    finally:
        conn.close()


class Daemon:
    """
    A process we did not fork (spawn-fcgi's child): stopped by pid with
    SIGTERM, a bounded wait, then SIGKILL of it and its children.
    """

    def __init__(self, pid, name):
        self.pid = pid
        self.name = name

    def alive(self):
        return pid_alive(self.pid)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """
        True if it exited within timeout after sig.  Whatever is left of
        it, its children and the process group it leads is then killed.
        """
        kids = children_of(self.pid)
        leads_group = os.getpgid(self.pid) == self.pid if self.alive() \
            else False
        kill_pids([self.pid], sig)
        clean = wait_until(lambda: not self.alive(), timeout)
        if not clean:
            kill_pids([self.pid] + children_of(self.pid))
            wait_until(lambda: not self.alive(), 5)
        kill_pids([k for k in kids if pid_alive(k)])
        if leads_group:
            kill_pids([p for p, _, pgid, _ in proc_table()
                       if pgid == self.pid])
        return bool(clean)


def start_on_free_port(start, error_log, tries=5):
    """
    start(port) starts a server (a Proc) on port; waits until it accepts.
    Another port is tried when error_log says the port was taken between
    free_port() and the bind.  Returns (proc, port).
    """
    for _ in range(tries):
        port = free_port()
        proc = start(port)
        try:
            wait_tcp(proc, port, extra_logs=[error_log])
            return proc, port
        except AssertionError:
            proc.stop()
            log = tail(error_log) + tail(proc.log_path)
            if 'in use' not in log:
                raise
    raise AssertionError('no free port after %d tries' % tries)


# ---------------------------------------------------------------- the app

class App:
    """
    What serves FastCGI behind a web server.  kind 'fcgi-wsgi': the demo
    Django project (django_env: its DEMO_* environment), or the app that
    app_args name; kind 'recorder': tests/apps/fcgi_recorder.py, writing
    what it receives to out.
    """

    def __init__(self, kind, server_cmd=None, django_env=None, out=None,
                 app_args=None):
        self.kind = kind
        self.server_cmd = server_cmd
        self.env = dict(django_env or server_env())
        self.out = out
        self.app_args = app_args  # instead of the demo's --chdir, --module

    def demo_args(self, mount):
        args = self.app_args or ['--chdir', DJANGO_DIR, '--module',
                                 'config.wsgi']
        return list(args) + (['--mount', mount] if mount else [])

    def start(self, dir, address, mount=None, extra=()):
        """Starts it on address (a unix Path or (host, port)): a Proc."""
        if self.kind == 'recorder':
            argv = [PYTHON, RECORDER, self.out, address_spec(address)]
        else:
            argv = (self.server_cmd + ['--socket', address_spec(address),
                                       '--chmod-socket', '666']
                    + self.demo_args(mount) + list(extra))
        proc = Proc(argv, Path(dir) / ('%s.log' % self.kind), cwd=REPO,
                    env=self.env, name=self.kind)
        wait_address(proc, address)
        return proc

    def program(self, dir, mount=None, processes=None):
        """
        For a server that starts the app itself, with the listening
        socket on fd 0: (command, argument), written into the examples'
        wrapper or bin-path as "command argument".  For fcgi-wsgi the
        argument is an ini file written here.
        """
        if self.kind == 'recorder':
            return '%s %s' % (PYTHON, RECORDER), str(self.out)
        ini = Path(dir) / 'fcgi-wsgi.ini'
        args = self.demo_args(None)
        lines = ['[fcgi-wsgi]',
                 '; no socket: serve the listening socket on fd 0']
        lines += ['%s = %s' % (args[i][2:], args[i + 1])
                  for i in range(0, len(args), 2)]
        lines.append('env = PYTHONDONTWRITEBYTECODE=1')
        lines += ['env = %s=%s' % kv for kv in sorted(self.env.items())
                  if kv[0].startswith('DEMO_')]
        if mount:
            lines.append('mount = %s' % mount)
        if processes:
            lines.append('processes = %d' % processes)
        ini.write_text('\n'.join(lines) + '\n')
        return shlex.join(self.server_cmd), str(ini)


# ---------------------------------------------------------------- sites

class Site:
    """A web server on 127.0.0.1:port with the application at prefix."""

    server = '?'

    def __init__(self, name, dir, prefix):
        self.name = name
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.port = None
        self.tls_port = None  # an HTTPS listener too, when given tls
        self.procs = []       # Proc or Daemon, stopped in reverse order
        self.log_files = []   # (label, path) for logs()
        self.config = None    # the rendered site configuration

    def logs(self):
        return '\n'.join('--- %s (%s):\n%s' % (label, path, tail(path, 4000))
                         for label, path in self.log_files)

    def stop(self):
        while self.procs:
            self.procs.pop().stop()

    def __repr__(self):
        return '<%s %s on port %s, app at %r>' % (
            type(self).__name__, self.name, self.port, self.prefix or '/')


class NginxSite(Site):
    """
    nginx rendered from examples/nginx/TEMPLATE (with render.sh) in front
    of backend_address, where app (when given) is started first.
    """

    server = 'nginx'

    def __init__(self, name, dir, template, app, backend_address,
                 static_root, prefix='', mount=None, extra=None, tls=None):
        super().__init__(name, dir, prefix)
        self.binary = find_binary('nginx')
        ngx = self.dir / 'nginx'
        ngx.mkdir(exist_ok=True)
        self.error_log = ngx / 'error.log'
        try:
            if app is not None:
                proc = app.start(self.dir, backend_address, mount)
                self.procs.append(proc)
                self.log_files.append((app.kind, proc.log_path))
            self.log_files.append(('nginx error log', self.error_log))
            backend = (str(backend_address)
                       if not isinstance(backend_address, tuple)
                       else '%s:%d' % backend_address)
            self.config = ngx / 'nginx.conf'

            def start(port):
                subprocess.run(
                    ['sh', str(NGINX_DIR / 'render.sh'),
                     str(NGINX_DIR / template), str(self.config), str(port),
                     backend, str(static_root), str(ngx)]
                    + ['%s=%s' % kv for kv in (extra or {}).items()],
                    check=True, timeout=30)
                if tls is not None:
                    self.tls_port = free_port()
                    listen = 'listen 127.0.0.1:%d;' % port
                    text = self.config.read_text()
                    assert listen in text, text
                    self.config.write_text(text.replace(listen, (
                        '%s\n        listen 127.0.0.1:%d ssl;\n'
                        '        ssl_certificate %s;\n'
                        '        ssl_certificate_key %s;') % (
                            listen, self.tls_port, tls.cert, tls.key)))
                return Proc([self.binary, '-p', ngx, '-e', self.error_log,
                             '-c', self.config], ngx / 'nginx.out',
                            name='nginx')

            proc, self.port = start_on_free_port(start, self.error_log)
            self.procs.append(proc)
        except BaseException:
            self.stop()
            raise


# Appended to httpd.conf to measure what Apache sends over HTTPS: the same
# site snippet in a virtual host with mod_ssl.
APACHE_TLS = '''
LoadModule socache_shmcb_module %(modules)s/mod_socache_shmcb.so
LoadModule ssl_module %(modules)s/mod_ssl.so
Listen 127.0.0.1:%(port)d
<VirtualHost 127.0.0.1:%(port)d>
    SSLEngine on
    SSLCertificateFile "%(cert)s"
    SSLCertificateKeyFile "%(key)s"
    Include "%(site)s"
</VirtualHost>
'''


class ApacheSite(Site):
    """
    Apache 2.4 from examples/apache: httpd.conf.in including fcgid.conf.in
    (mod_fcgid starts the app through fcgid-wrapper.sh.in) or
    proxy-fcgi.conf.in (mod_proxy_fcgi to the app standing on a unix
    socket).  Runs as User nobody when we are root: the site's tree is
    opened to others.
    """

    server = 'apache'

    def __init__(self, name, dir, snippet, app, static_root, top,
                 prefix='', mount=None, proxy_options='', tls=None,
                 pass_auth=True):
        super().__init__(name, dir, prefix)
        self.binary = apache_binary('fcgid' if snippet == 'fcgid'
                                    else 'proxy_fcgi')
        self.snippet = snippet
        self.root = self.dir / 'apache'
        for sub in ('', 'run', 'fcgid', 'docroot', 'upload'):
            (self.root / sub).mkdir(exist_ok=True)
        open_tree(self.root, top)
        os.chmod(self.root / 'fcgid', 0o777)
        os.chmod(self.root / 'upload', 0o1777)
        open_tree(static_root, top)
        if 'DEMO_DB' in app.env:
            open_tree(Path(app.env['DEMO_DB']).parent, top)
            app.env['DEMO_UPLOAD_TMP'] = str(self.root / 'upload')
        elif app.out is not None:
            open_tree(Path(app.out).parent, top, 0o777)
        self.error_log = self.root / 'error.log'
        self.pid_file = self.root / 'httpd.pid'
        self.proc = None
        try:
            self.config = self.root / 'site.conf'
            if snippet == 'fcgid':
                command, arg = app.program(self.root, mount, processes=1)
                self.wrapper = render(APACHE_DIR / 'fcgid-wrapper.sh.in',
                                      self.root / 'fcgi-wsgi.fcgi',
                                      FCGI_WSGI=command, INI=arg)
                os.chmod(self.wrapper, 0o755)
                render(APACHE_DIR / 'fcgid.conf.in', self.config,
                       PREFIX=prefix, WRAPPER=self.wrapper,
                       STATIC_ROOT=static_root)
            else:
                socket_path = self.dir / 'app.sock'
                proc = app.start(self.dir, socket_path, mount)
                self.procs.append(proc)
                self.log_files.append((app.kind, proc.log_path))
                render(APACHE_DIR / 'proxy-fcgi.conf.in', self.config,
                       PREFIX=prefix, SOCKET=socket_path,
                       PROXY_OPTIONS=proxy_options, STATIC_ROOT=static_root)
            if not pass_auth:  # to measure what CGIPassAuth does
                text = self.config.read_text()
                assert 'CGIPassAuth On' in text, text
                self.config.write_text(text.replace('CGIPassAuth On',
                                                    'CGIPassAuth Off'))
            self.log_files.append(('apache error log', self.error_log))
            self.httpd_conf = self.root / 'httpd.conf'
            user = ('User nobody\nGroup nogroup' if as_root() else
                    '# not root: Apache runs as the current user')

            def start(port):
                render(APACHE_DIR / 'httpd.conf.in', self.httpd_conf,
                       TMPDIR=self.root, PORT=port, USER=user,
                       SITE=self.config)
                if tls is not None:
                    self.tls_port = free_port()
                    with open(self.httpd_conf, 'a') as f:
                        f.write(APACHE_TLS % dict(
                            modules=APACHE_MODULES, port=self.tls_port,
                            cert=tls.cert, key=tls.key, site=self.config))
                return Proc([self.binary, '-d', self.root, '-f',
                             self.httpd_conf, '-DFOREGROUND'],
                            self.root / 'apache.out', env=app.env,
                            name='apache2')

            self.proc, self.port = start_on_free_port(start, self.error_log)
            self.procs.append(self.proc)
            self.log_files.append(('apache stdout', self.proc.log_path))
            pid = wait_until(self.read_pid, READY_TIMEOUT)
            assert pid == self.proc.pid, (
                'PidFile %s says %s, apache2 is %d' % (
                    self.pid_file, pid, self.proc.pid))
        except BaseException:
            self.stop()
            raise

    def read_pid(self):
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def app_processes(self):
        """The processes mod_fcgid started for this site (still alive)."""
        return processes_mentioning(str(self.root) + '/')

    def stop(self):
        """Apache first, by its PidFile (stop_apache), then the rest."""
        try:
            self.stop_apache()
        finally:
            super().stop()

    def stop_apache(self, kill_group=True):
        """
        Stops Apache as `apache2 -k stop` does: SIGTERM to the pid in its
        PidFile (if that is the apache2 we started), then a bounded wait.
        Returns its exit status (None: still running).  Then, unless
        kill_group is false (to see what Apache itself left running),
        SIGKILL to whatever is left of its process group.
        """
        if self.proc is None or not self.proc.alive():
            status = self.proc.popen.poll() if self.proc else None
        else:
            pid = self.read_pid()
            kill_pids([pid if pid == self.proc.pid else self.proc.pid],
                      signal.SIGTERM)
            status = self.proc.wait(STOP_TIMEOUT)
        if kill_group and self.proc is not None:
            self.proc.stop()
        return status


def apache_start_site(snippet, variants):
    """An Apache test module's start_site(name, dir, app, static_root, top,
    tls=None): ApacheSite in snippet ('fcgid' or 'proxy') for the variant
    name, variants[name] = (prefix, ProxyPass options), the app mounted at
    the prefix."""
    def start_site(name, dir, app, static_root, top, tls=None):
        prefix, options = variants[name]
        return ApacheSite(name, dir, snippet, app, static_root, top,
                          prefix=prefix, mount=prefix or None,
                          proxy_options=options, tls=tls)
    return start_site


# Appended to lighttpd.conf to measure what lighttpd sends over HTTPS.
LIGHTTPD_TLS = '''
server.modules += ( "mod_openssl" )
$SERVER["socket"] == "127.0.0.1:%d" {
    ssl.engine = "enable"
    ssl.pemfile = "%s"
}
'''


class LighttpdSite(Site):
    """
    lighttpd from examples/lighttpd: lighttpd.conf.in including
    fastcgi-binpath.conf.in (lighttpd starts the app, the socket on fd 0,
    PHP_FCGI_CHILDREN=4) or fastcgi-socket.conf.in (the app standing on a
    unix socket: started by spawn-fcgi when spawn is true).
    """

    server = 'lighttpd'

    def __init__(self, name, dir, snippet, app, static_root, prefix='',
                 mount=None, spawn=False, processes=2, tls=None,
                 fix_root_scriptname=True):
        super().__init__(name, dir, prefix)
        self.binary = find_binary('lighttpd')
        self.root = self.dir / 'lighttpd'
        for sub in ('', 'docroot', 'upload'):
            (self.root / sub).mkdir(exist_ok=True)
        self.error_log = self.root / 'error.log'
        self.app_pid = None
        try:
            self.config = self.root / 'site.conf'
            values = dict(PREFIX=prefix, KEY=prefix or '/')
            if snippet == 'binpath':
                command, arg = app.program(self.root, mount)
                self.socket = self.root / 'fcgi.sock'
                render(LIGHTTPD_DIR / 'fastcgi-binpath.conf.in', self.config,
                       SOCKET=self.socket, FCGI_WSGI=command, INI=arg,
                       **values)
            else:
                self.socket = self.dir / 'app.sock'
                if spawn:
                    daemon = spawn_fcgi(self.dir, self.socket, app, mount,
                                        processes)
                    self.procs.append(daemon)
                    self.app_pid = daemon.pid
                    self.log_files.append(('fcgi-wsgi', daemon.log_path))
                else:
                    proc = app.start(self.dir, self.socket, mount)
                    self.procs.append(proc)
                    self.log_files.append((app.kind, proc.log_path))
                render(LIGHTTPD_DIR / 'fastcgi-socket.conf.in', self.config,
                       SOCKET=self.socket, **values)
            if not fix_root_scriptname:  # to measure what it fixes
                text = self.config.read_text()
                line = '"fix-root-scriptname" => "enable"'
                assert line in text, text
                self.config.write_text(text.replace(
                    line, '"fix-root-scriptname" => "disable"'))
            self.log_files.append(('lighttpd error log', self.error_log))
            conf = self.root / 'lighttpd.conf'

            def start(port):
                render(LIGHTTPD_DIR / 'lighttpd.conf.in', conf,
                       TMPDIR=self.root, PORT=port, STATIC_ROOT=static_root,
                       SITE=self.config)
                if tls is not None:
                    self.tls_port = free_port()
                    with open(conf, 'a') as f:
                        f.write(LIGHTTPD_TLS % (self.tls_port, tls.pem))
                return Proc([self.binary, '-D', '-f', conf],
                            self.root / 'lighttpd.out', env=app.env,
                            name='lighttpd')

            self.proc, self.port = start_on_free_port(start, self.error_log)
            self.procs.append(self.proc)
        except BaseException:
            self.stop()
            raise

    def app_processes(self):
        """The processes lighttpd started with bin-path (still alive)."""
        return [(pid, cmd) for pid, ppid, _, cmd in proc_table()
                if ppid == self.proc.pid]


def start_app_on_socket(site, app, mount):
    """Starts app on site.dir/app.sock for site (stopped with it, its log
    among the site's); returns the socket's path."""
    socket_path = site.dir / 'app.sock'
    proc = app.start(site.dir, socket_path, mount)
    site.procs.append(proc)
    site.log_files.append((app.kind, proc.log_path))
    return socket_path


# Appended to the Caddyfile to measure what Caddy sends over HTTPS: the
# same site block's directives on a TLS listener with our certificate.
CADDY_TLS = '''
https://127.0.0.1:%(port)d {
	tls %(cert)s %(key)s
%(body)s}
'''


class CaddySite(Site):
    """
    Caddy from examples/caddy: Caddyfile.in (the application at the root)
    or Caddyfile-mount.in (under prefix), reverse_proxy with `transport
    fastcgi` to the app standing on a unix socket.  Admin endpoint off;
    its storage, HOME and output in dir/caddy.
    """

    server = 'caddy'

    def __init__(self, name, dir, app, static_root, prefix='', mount=None,
                 tls=None):
        super().__init__(name, dir, prefix)
        self.binary = find_binary('caddy')
        self.root = self.dir / 'caddy'
        self.root.mkdir(exist_ok=True)
        self.log = self.root / 'caddy.out'
        env = dict(os.environ, HOME=str(self.root),
                   XDG_DATA_HOME=str(self.root / 'data'),
                   XDG_CONFIG_HOME=str(self.root / 'config'))
        try:
            socket_path = start_app_on_socket(self, app, mount)
            self.log_files.append(('caddy', self.log))
            self.config = self.root / 'Caddyfile'
            template = CADDY_DIR / ('Caddyfile-mount.in' if prefix
                                    else 'Caddyfile.in')
            values = dict(PREFIX=prefix) if prefix else {}

            def start(port):
                render(template, self.config, TMPDIR=self.root, PORT=port,
                       STATIC_ROOT=static_root, SOCKET=socket_path,
                       **values)
                if tls is not None:
                    self.tls_port = free_port()
                    text = self.config.read_text()
                    head = 'http://127.0.0.1:%d {\n' % port
                    assert text.count(head) == 1, text
                    body = text.split(head, 1)[1].rsplit('}', 1)[0]
                    self.config.write_text(text + CADDY_TLS % dict(
                        port=self.tls_port, cert=tls.cert, key=tls.key,
                        body=body))
                return Proc([self.binary, 'run', '--config', self.config,
                             '--adapter', 'caddyfile'], self.log,
                            cwd=self.root, env=env, name='caddy')

            proc, self.port = start_on_free_port(start, self.log)
            self.procs.append(proc)
        except BaseException:
            self.stop()
            raise


# Put under the host of h2o.conf to measure what H2O sends over HTTPS: a
# TLS listener of the same host.
H2O_TLS = '''    listen:
      host: 127.0.0.1
      port: %(port)d
      ssl:
        certificate-file: %(cert)s
        key-file: %(key)s
'''


class H2oSite(Site):
    """
    H2O from examples/h2o/h2o.conf.in, fastcgi.connect to the app standing
    on a unix socket, at the root or under prefix.  Started as root, H2O
    serves as nobody: the socket's directory and STATIC_ROOT are opened to
    others up to top (the session's temp dir), as for Apache.
    """

    server = 'h2o'

    def __init__(self, name, dir, app, static_root, top, prefix='',
                 mount=None, tls=None):
        super().__init__(name, dir, prefix)
        self.binary = find_binary('h2o')
        self.root = self.dir / 'h2o'
        self.root.mkdir(exist_ok=True)
        open_tree(self.root, top)
        open_tree(static_root, top)
        self.error_log = self.root / 'error.log'
        try:
            socket_path = start_app_on_socket(self, app, mount)
            self.log_files.append(('h2o error log', self.error_log))
            self.config = self.root / 'h2o.conf'

            def start(port):
                render(H2O_DIR / 'h2o.conf.in', self.config,
                       TMPDIR=self.root, PORT=port, STATIC_ROOT=static_root,
                       SOCKET=socket_path, KEY=prefix or '/')
                if tls is not None:
                    self.tls_port = free_port()
                    text = self.config.read_text()
                    host = '  "127.0.0.1:%d":\n' % port
                    assert text.count(host) == 1, text
                    self.config.write_text(text.replace(
                        host, host + H2O_TLS % dict(
                            port=self.tls_port, cert=tls.cert,
                            key=tls.key)))
                return Proc([self.binary, '-c', self.config],
                            self.root / 'h2o.out', name='h2o')

            proc, self.port = start_on_free_port(start, self.error_log)
            self.procs.append(proc)
        except BaseException:
            self.stop()
            raise


def run_spawn_fcgi(argv, log_path, env):
    """
    Runs spawn-fcgi, which starts its child and exits at once: a
    CompletedProcess.  Bounded: subprocess kills spawn-fcgi (only it: its
    child has its own session) if it has not exited after READY_TIMEOUT.
    """
    with open(log_path, 'ab') as log:
        return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                              stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                              env=env, timeout=READY_TIMEOUT,
                              start_new_session=True)


def spawn_fcgi(dir, socket_path, app, mount=None, processes=2):
    """
    fcgi-wsgi started by spawn-fcgi as in examples/lighttpd: spawn-fcgi
    binds socket_path, forks fcgi-wsgi with it on fd 0 and exits.  Returns
    a Daemon (pid from spawn-fcgi's -P file) with .log_path (its --logto).
    """
    binary = find_binary('spawn-fcgi')
    dir = Path(dir)
    pid_file = dir / 'spawn-fcgi.pid'
    log = dir / 'fcgi-wsgi.log'
    argv = ([binary, '-s', socket_path, '-M', '0660', '-P', pid_file, '--']
            + app.server_cmd + app.demo_args(mount)
            + ['--processes', str(processes), '--logto', log])
    done = run_spawn_fcgi(argv, dir / 'spawn-fcgi.out', app.env)
    out = tail(dir / 'spawn-fcgi.out')
    assert done.returncode == 0, (
        'spawn-fcgi: status %s, expected it to exit 0:\n%s' % (
            done.returncode, out))
    pid = int(pid_file.read_text().strip())
    daemon = Daemon(pid, 'fcgi-wsgi')
    daemon.log_path = log
    assert daemon.alive(), 'fcgi-wsgi (pid %d) is not running:\n%s\n%s' % (
        pid, out, tail(log))
    return daemon


def demo_site(request, session_tmp, start_site, server_cmd, django_env,
              *more):
    """
    A site fixture's body: the demo project behind
    start_site(request.param, dir, app, static_root, *more), in a new dir
    under session_tmp, stopped when the fixture's scope ends.
    """
    import tempfile
    dir = Path(tempfile.mkdtemp(prefix=request.param + '-', dir=session_tmp))
    site = start_site(request.param, dir,
                      App('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'], *more)
    request.addfinalizer(site.stop)
    return site


# ---------------------------------------------------------------- checks

def get(site, path, **kw):
    return http_request(site.port, 'GET', path, **kw)


def check_get(site):
    """GET the home page at the prefix: Django's page, links under it."""
    resp = get(site, site.prefix + '/')
    assert resp.status == 200, (resp, site.logs())
    assert resp.header('Content-Type').startswith('text/html'), resp.headers
    assert 'Hello from Django through fcgi-wsgi' in resp.text, resp
    assert 'href="%s/form/"' % site.prefix in resp.text, resp.text
    assert 'href="/static/demo/style.css"' in resp.text, resp.text


def check_not_found(site):
    """A URL the application does not know: Django's 404 page."""
    resp = get(site, site.prefix + '/no-such-page/')
    assert resp.status == 404, (resp, site.logs())
    assert 'Page not found' in resp.text, resp
    assert '/no-such-page/' in resp.text, resp


def check_post_csrf(site):
    """The form: a POST with the CSRF token works, one without is 403."""
    browser = Browser(site.port)
    page = browser.get(site.prefix + '/form/')
    assert page.status == 200, (page, site.logs())
    assert 'csrftoken' in browser.cookies, page.headers
    value = 'héllo wörld <b>&'
    resp = browser.post(site.prefix + '/form/', {
        'csrfmiddlewaretoken': csrf_token(page.text), 'value': value})
    assert resp.status == 200, (resp, site.logs())
    match = re.search(r'<output id="value">(.*?)</output>', resp.text)
    assert match, resp.text
    assert html.unescape(match.group(1)) == value
    denied = browser.post(site.prefix + '/form/', {'value': 'no token'})
    assert denied.status == 403, denied
    assert 'CSRF verification failed' in denied.text


def check_upload_5mib(site):
    """A 5 MiB multipart upload: Django gets every byte."""
    browser = Browser(site.port)
    token = csrf_token(browser.get(site.prefix + '/upload/').text)
    data = random_body(5 * 1024 * 1024)
    resp = browser.post(site.prefix + '/upload/',
                        {'csrfmiddlewaretoken': token},
                        files={'file': ('big.bin', data,
                                        'application/octet-stream')})
    assert resp.status == 200, (resp, site.logs())
    size = re.search(r'<dd id="size">(\d+)</dd>', resp.text)
    digest = re.search(r'<dd id="sha256">([0-9a-f]{64})</dd>', resp.text)
    assert size and digest, resp.text
    assert int(size.group(1)) == len(data)
    assert digest.group(1) == sha256(data)


def check_utf8_path(site):
    """/echo/café/ percent-encoded: Django sees the decoded path."""
    resp = get(site, site.prefix + '/echo/' + quote('café') + '/')
    assert resp.status == 200, (resp, site.logs())
    info = resp.json()
    assert info['path'] == site.prefix + '/echo/café/', info
    assert info['path_info'] == '/echo/café/', info
    assert info['rest'] == 'café/', info


def check_query_string(site):
    """A query string with repeats, escapes and empties arrives intact."""
    query = 'a=1&a=2&b=%C3%A9+x&empty=&amp=%26'
    resp = get(site, site.prefix + '/echo/q/?' + query)
    assert resp.status == 200, (resp, site.logs())
    info = resp.json()
    assert info['meta']['QUERY_STRING'] == query, info
    assert info['GET'] == {'a': ['1', '2'], 'b': ['é x'], 'empty': [''],
                           'amp': ['&']}, info
    assert info['full_path'] == site.prefix + '/echo/q/?' + query, info


def check_static(site):
    """/static/ is served by the web server (Django serves none)."""
    resp = get(site, '/static/demo/style.css')
    assert resp.status == 200, (resp, site.logs())
    assert resp.header('Content-Type', '').startswith('text/css'), \
        resp.headers
    assert resp.body == STYLE_CSS.read_bytes()
    admin = get(site, '/static/admin/css/base.css')
    assert admin.status == 200, admin


def check_authorization(site):
    """The Authorization header reaches the app as HTTP_AUTHORIZATION."""
    resp = get(site, site.prefix + '/echo/auth/',
               headers={'Authorization': AUTH})
    assert resp.status == 200, (resp, site.logs())
    assert resp.json()['meta']['HTTP_AUTHORIZATION'] == AUTH, resp.json()


def check_request_path(site):
    """SCRIPT_NAME is the prefix, PATH_INFO the rest; reverse() and
    redirects build URLs under the prefix."""
    resp = get(site, site.prefix + '/echo/x/?k=v')
    assert resp.status == 200, (resp, site.logs())
    info = resp.json()
    assert info['meta']['SCRIPT_NAME'] == site.prefix, info
    assert info['meta']['PATH_INFO'] == '/echo/x/', info
    assert info['path'] == site.prefix + '/echo/x/', info
    assert info['reverse_home'] == site.prefix + '/', info
    assert info['reverse_echo'] == site.prefix + '/echo/x/', info
    redirect = get(site, site.prefix + '/redirect/')
    assert redirect.status == 302, redirect
    assert redirect.header('Location') == site.prefix + '/', redirect.headers


def check_streaming(site):
    """The demo's /stream/ (3 lines, 0.5 s apart, "X-Accel-Buffering:
    no"): each line reaches the client as it is produced."""
    delay = 0.5
    status, headers, lines = stream_lines(
        site.port, site.prefix + '/stream/?n=3&delay=%s' % delay)
    assert status == 200, (status, lines, site.logs())
    assert_streamed(lines, 3, delay, logs=site.logs())


CHECKS = [check_get, check_not_found, check_post_csrf, check_upload_5mib,
          check_utf8_path, check_query_string, check_static,
          check_authorization, check_request_path, check_streaming]


def check_id(check):
    return check.__name__[len('check_'):]


def served_concurrently(site):
    """
    Proves that two workers serve at once: a 1 s /stream/ holds one
    worker (its first line has arrived: it is being served), and an
    /echo/ sent then is answered before the stream ends (each worker
    serves one request at a time: --threads 1).  Returns the pid that
    answered /echo/.
    """
    conn = http.client.HTTPConnection('127.0.0.1', site.port,
                                      timeout=HTTP_TIMEOUT)
    try:
        conn.request('GET', site.prefix + '/stream/?n=3&delay=0.5')
        held = conn.getresponse()
        first = held.readline()
        resp = http_request(site.port, 'GET', site.prefix + '/echo/p/')
        echo_done = time.monotonic()
        rest = held.read()
        stream_done = time.monotonic()
    finally:
        conn.close()
    assert resp.status == 200, (resp, site.logs())
    assert held.status == 200, (held.status, first, site.logs())
    assert (first + rest).count(b'\n') == 3, (first, rest)
    assert stream_done - echo_done > 0.3, (
        '/echo/ waited for the stream: one worker serves\n' + site.logs())
    return resp.json()['pid']


# ---------------------------------------------------------------- sends

# What the table of examples/SERVERS.md shows, in this order.
SENT_KEYS = ('SCRIPT_NAME', 'PATH_INFO', 'REQUEST_URI', 'HTTPS',
             'HTTP_AUTHORIZATION')
SENDS_PATH = '/echo/' + quote('café') + '/?q=1'


def measure_dir(session_tmp):
    """Where record_sends() writes: FW_E2E_MEASURE_DIR, or the temp dir."""
    path = Path(os.environ.get('FW_E2E_MEASURE_DIR')
                or Path(session_tmp) / 'measured')
    path.mkdir(parents=True, exist_ok=True)
    return path


CHUNKED_SIZE = 300000


def fetch_sends(site, path=SENDS_PATH):
    """
    Through a site whose app is the recorder: GETs site.prefix + path over
    HTTP and (when the site has a TLS listener) over HTTPS, and POSTs a
    body sent with Transfer-Encoding: chunked.  Returns the FastCGI params
    sent over HTTP, over HTTPS (or None), and for the chunked POST (with
    the body length the recorder read, as 'body_length').
    """
    headers = {'Authorization': AUTH}
    resp = get(site, site.prefix + path, headers=headers)
    assert resp.status == 200, (resp, site.logs())
    over_tls = None
    if site.tls_port is not None:
        tls = https_request(site.tls_port, 'GET', site.prefix + path,
                            headers=headers)
        assert tls.status == 200, (tls, site.logs())
        over_tls = tls.json()['params']
    data = random_body(CHUNKED_SIZE)
    chunked = http_request(
        site.port, 'POST', site.prefix + '/echo/body/',
        headers={'Content-Type': 'application/octet-stream'},
        body=iter([data[i:i + 70000] for i in range(0, len(data), 70000)]),
        encode_chunked=True)
    assert chunked.status == 200, (chunked, site.logs())
    posted = dict(chunked.json()['params'],
                  body_length=chunked.json()['body_length'])
    return resp.json()['params'], over_tls, posted


def measure_sends(site, session_tmp, server, config):
    """fetch_sends() through site, which is then stopped, and the result
    recorded (record_sends) as server's, with config: returns it."""
    try:
        sent = fetch_sends(site)
    finally:
        site.stop()
    record_sends(measure_dir(session_tmp), server, config, site, sent)
    return sent


def apache_sends_without_cgipassauth(snippet, config, tmp, session_tmp,
                                     binary, django_env):
    """Why the examples have CGIPassAuth On: without it Apache (with
    snippet: 'fcgid' or 'proxy') does not pass the Authorization header
    on.  Measured and recorded with config."""
    out_dir = tmp / 'out'
    out_dir.mkdir()
    site = ApacheSite('noauth', tmp, snippet,
                      App('recorder', out=out_dir / 'sent.jsonl'),
                      django_env['DEMO_STATIC_ROOT'], session_tmp,
                      pass_auth=False)
    sent = measure_sends(site, session_tmp, apache_label(binary), config)
    assert 'HTTP_AUTHORIZATION' not in sent[0], sent[0]


def record_sends(out_dir, server, config, site, sent):
    """Writes one measurement (a JSON file) for servers_table.py."""
    params, over_tls, posted = sent
    entry = {'server': server, 'config': config,
             'where': site.prefix or '/',
             'request': site.prefix + SENDS_PATH,
             'sent': {k: params.get(k) for k in SENT_KEYS},
             'sent_over_https': ({k: over_tls.get(k) for k in SENT_KEYS}
                                 if over_tls is not None else None),
             'chunked_post': {'size': CHUNKED_SIZE,
                              'CONTENT_LENGTH': posted.get('CONTENT_LENGTH'),
                              'body_length': posted['body_length']}}
    name = re.sub(r'[^A-Za-z0-9]+', '-', '%s %s %s' % (
        server, config, site.prefix or 'root')).strip('-')
    (Path(out_dir) / (name + '.json')).write_text(
        json.dumps(entry, indent=1, ensure_ascii=False, sort_keys=True))
    return entry


def expected_sends(site, split, whole_path_info=False):
    """
    What every server sends for SENDS_PATH: the URI as the browser wrote
    it, Authorization passed on, no HTTPS over plain HTTP.  split: the
    server sends SCRIPT_NAME = prefix and PATH_INFO = the rest (CGI);
    else the whole decoded path as SCRIPT_NAME and no PATH_INFO, or, with
    whole_path_info (Caddy, H2O), as PATH_INFO with SCRIPT_NAME empty.
    """
    full = site.prefix + '/echo/café/'
    if whole_path_info:
        return {'SCRIPT_NAME': '', 'PATH_INFO': full,
                'REQUEST_URI': site.prefix + SENDS_PATH,
                'HTTPS': None, 'HTTP_AUTHORIZATION': AUTH}
    return {'SCRIPT_NAME': site.prefix if split else full,
            'PATH_INFO': '/echo/café/' if split else None,
            'REQUEST_URI': site.prefix + SENDS_PATH,
            'HTTPS': None, 'HTTP_AUTHORIZATION': AUTH}


def assert_sends(site, sent, split, chunked_length=True,
                 whole_path_info=False):
    """
    The measurement is what expected_sends() says; over HTTPS the same,
    plus HTTPS=on.  A chunked request body arrives whole, with
    CONTENT_LENGTH when chunked_length (the server de-chunks and counts
    it), without it otherwise, or with chunked_length itself when it is a
    string (Caddy's '-1').
    """
    params, over_tls, posted = sent
    got = {k: params.get(k) for k in SENT_KEYS}
    want = expected_sends(site, split, whole_path_info)
    assert got == want, '%r sent\n  %r\nexpected\n  %r' % (site, got, want)
    if over_tls is not None:
        got = {k: over_tls.get(k) for k in SENT_KEYS}
        want['HTTPS'] = 'on'
        assert got == want, '%r sent over HTTPS\n  %r\nexpected\n  %r' % (
            site, got, want)
    assert posted['body_length'] == CHUNKED_SIZE, posted
    if isinstance(chunked_length, str):
        assert posted.get('CONTENT_LENGTH') == chunked_length, posted
        return
    assert posted.get('CONTENT_LENGTH') == (
        str(CHUNKED_SIZE) if chunked_length else None), posted
