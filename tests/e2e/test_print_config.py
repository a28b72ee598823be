"""
`fcgi-wsgi --print-config TARGET`: the text it prints, used as it is, runs
the demo Django project in the real servers.  Each web server gets only a
minimal skeleton of its own here (ports, pid and log files in a temp dir,
modules to load) around the printed text, checked first by the server's
own syntax check (nginx -t, apache2 -t, lighttpd -tt), then serving a
page, a static file (STATIC_ROOT, through static-map) and a POST with a
CSRF token.  The systemd units are checked with systemd-analyze verify,
then run as systemd would: the socket unit's ListenStream through
systemd-socket-activate, the service's ExecStart in its WorkingDirectory.
"""

import html
import os
import re
import shlex
import shutil
import subprocess

import pytest

from e2elib import (DJANGO_DIR, STYLE_CSS, Browser, Proc,
                    csrf_token, fcgi_request, free_port, http_request, tail,
                    wait_tcp, wait_unix_socket)


def printed(server_cmd, target, args):
    """The text of --print-config target for args (must succeed)."""
    done = subprocess.run(server_cmd + ['--print-config', target]
                          + [str(a) for a in args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == '', (done.returncode,
                                                        done.stderr)
    return done.stdout


def binary(name):
    for candidate in (shutil.which(name), '/usr/sbin/' + name,
                      '/usr/bin/' + name):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip('%s is not installed' % name)


def syntax_ok(argv):
    done = subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done.stdout + done.stderr


class Demo:
    """fcgi-wsgi serving the demo project on a unix socket in dir, with
    the options the printed configs are made from."""

    def __init__(self, dir, server_cmd, django_env, extra=()):
        self.dir = dir
        self.socket = dir / 'app.sock'
        self.static_root = django_env['DEMO_STATIC_ROOT']
        self.args = ['--socket', 'unix:%s' % self.socket, '--chdir',
                     DJANGO_DIR, '--module', 'config.wsgi',
                     '--chmod-socket', '666'] + list(extra)
        self.print_args = self.args + ['--static-map',
                                       '/static/=%s' % self.static_root]
        self.server = Proc(server_cmd + [str(a) for a in self.args],
                           dir / 'server.log', env=django_env,
                           name='fcgi-wsgi')
        try:
            wait_unix_socket(self.server, self.socket)
        except BaseException:
            self.server.stop()
            raise

    def stop(self):
        self.server.stop()


def check_demo(port, logs, prefix=''):
    """GET a page, GET a static file, POST a form with its CSRF token."""
    resp = http_request(port, 'GET', prefix + '/')
    assert resp.status == 200, (resp, logs())
    assert 'Hello from Django through fcgi-wsgi' in resp.text
    css = http_request(port, 'GET', '/static/demo/style.css')
    assert css.status == 200 and css.body == STYLE_CSS.read_bytes(), (
        css, logs())
    browser = Browser(port)
    page = browser.get(prefix + '/form/')
    assert page.status == 200, (page, logs())
    value = 'printed config, posted <ok>'
    resp = browser.post(prefix + '/form/', {
        'csrfmiddlewaretoken': csrf_token(page.text), 'value': value})
    assert resp.status == 200, (resp, logs())
    match = re.search(r'<output id="value">(.*?)</output>', resp.text)
    assert match and html.unescape(match.group(1)) == value, resp.text


# ------------------------------------------------------------------ nginx

NGINX_SKELETON = '''\
{user}
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    fastcgi_temp_path {dir}/fastcgi;
    proxy_temp_path {dir}/proxy;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include fcgi-wsgi.conf;
    }}
}}
'''


def run_nginx(dir, nginx_bin, text):
    """The printed text inside the skeleton's server { }: nginx -t, then
    nginx; returns (proc, port)."""
    dir.mkdir(parents=True, exist_ok=True)
    (dir / 'fcgi-wsgi.conf').write_text(text)
    # `include fastcgi_params` is relative to the main file, as in /etc/nginx
    shutil.copy('/etc/nginx/fastcgi_params', dir / 'fastcgi_params')
    port = free_port()
    conf = dir / 'nginx.conf'
    conf.write_text(NGINX_SKELETON.format(
        dir=dir, port=port, user='user root;' if os.getuid() == 0 else ''))
    base = [nginx_bin, '-p', dir, '-e', dir / 'error.log', '-c', conf]
    syntax_ok(base + ['-t'])
    proc = Proc(base, dir / 'nginx.out', name='nginx')
    try:
        wait_tcp(proc, port, extra_logs=[dir / 'error.log'])
    except BaseException:
        proc.stop()
        raise
    return proc, port


@pytest.mark.parametrize('mount', ['', '/app'])
def test_nginx(tmp, server_cmd, nginx_bin, django_env, mount):
    demo = Demo(tmp, server_cmd, django_env,
                ['--mount', mount] if mount else [])
    nginx = None
    try:
        text = printed(server_cmd, 'nginx', demo.print_args)
        nginx, port = run_nginx(tmp / 'nginx', nginx_bin, text)
        check_demo(port, lambda: tail(demo.server.log_path)
                   + tail(tmp / 'nginx' / 'error.log'), mount)
        if mount:
            resp = http_request(port, 'GET', mount)
            assert resp.status == 301, resp
            assert resp.header('Location').endswith(mount + '/')
    finally:
        if nginx is not None:
            nginx.stop()
        demo.stop()


# ----------------------------------------------------------------- Apache

APACHE_MODULES = ('mpm_event', 'authz_core', 'alias', 'mime', 'proxy',
                  'proxy_fcgi')

APACHE_SKELETON = '''\
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
<Directory />
    Require all denied
</Directory>
<VirtualHost 127.0.0.1:{port}>
    Include "{dir}/fcgi-wsgi.conf"
</VirtualHost>
'''


@pytest.mark.parametrize('mount', ['', '/app'])
def test_apache(tmp, session_tmp, server_cmd, django_env, mount):
    apache = binary('apache2')
    modules = '/usr/lib/apache2/modules'
    # Apache's workers run as nobody: the socket and STATIC_ROOT must be
    # reachable (the socket is 0666, see Demo)
    session_tmp.chmod(0o711)
    tmp.chmod(0o755)
    demo = Demo(tmp, server_cmd, django_env,
                ['--mount', mount] if mount else [])
    site = None
    try:
        text = printed(server_cmd, 'apache', demo.print_args)
        dir = tmp / 'apache'
        dir.mkdir()
        (dir / 'fcgi-wsgi.conf').write_text(text)
        port = free_port()
        conf = dir / 'httpd.conf'
        conf.write_text(APACHE_SKELETON.format(
            dir=dir, port=port, modules='\n'.join(
                'LoadModule %s_module %s/mod_%s.so' % (m, modules, m)
                for m in APACHE_MODULES)))
        base = [apache, '-d', dir, '-f', conf]
        assert 'Syntax OK' in syntax_ok(base + ['-t'])
        site = Proc(base + ['-DFOREGROUND'], dir / 'apache.out',
                    name='apache2')
        wait_tcp(site, port, extra_logs=[dir / 'error.log'])
        check_demo(port, lambda: tail(demo.server.log_path)
                   + tail(dir / 'error.log'), mount)
    finally:
        if site is not None:
            site.stop()
        demo.stop()


# --------------------------------------------------------------- lighttpd

LIGHTTPD_SKELETON = '''\
server.document-root = "{dir}/docroot"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.upload-dirs = ( "{dir}" )
server.modules += ( "mod_alias", "mod_fastcgi" )
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
include "{dir}/fcgi-wsgi.conf"
'''


@pytest.mark.parametrize('mount', ['', '/app'])
def test_lighttpd(tmp, server_cmd, django_env, mount):
    lighttpd = binary('lighttpd')
    demo = Demo(tmp, server_cmd, django_env,
                ['--mount', mount] if mount else [])
    site = None
    try:
        text = printed(server_cmd, 'lighttpd', demo.print_args)
        dir = tmp / 'lighttpd'
        (dir / 'docroot').mkdir(parents=True)
        (dir / 'fcgi-wsgi.conf').write_text(text)
        port = free_port()
        conf = dir / 'lighttpd.conf'
        conf.write_text(LIGHTTPD_SKELETON.format(dir=dir, port=port))
        syntax_ok([lighttpd, '-tt', '-f', conf])
        site = Proc([lighttpd, '-D', '-f', conf], dir / 'lighttpd.out',
                    name='lighttpd')
        wait_tcp(site, port, extra_logs=[dir / 'error.log'])
        check_demo(port, lambda: tail(demo.server.log_path)
                   + tail(dir / 'error.log'), mount)
    finally:
        if site is not None:
            site.stop()
        demo.stop()


# ---------------------------------------------------------------- systemd

def unit_value(text, key):
    values = [line.split('=', 1)[1] for line in text.splitlines()
              if line.startswith(key + '=')]
    assert len(values) == 1, (key, text)
    return values[0]


def systemd_words(value):
    """An Exec line's words, for the values print-config writes
    (double quotes, %% and $$)."""
    return [w.replace('%%', '%').replace('$$', '$')
            for w in shlex.split(value)]


def test_systemd_units(tmp, server_cmd, django_env):
    analyze = binary('systemd-analyze')
    activate = binary('systemd-socket-activate')
    sock = tmp / 'demo.sock'
    args = ['--socket', 'unix:%s' % sock, '--chdir', DJANGO_DIR,
            '--module', 'config.wsgi', '--processes', '2']
    service = printed(server_cmd, 'systemd', args)
    socket_unit = printed(server_cmd, 'systemd-socket', args)
    (tmp / 'fw-demo.service').write_text(service)
    (tmp / 'fw-demo.socket').write_text(socket_unit)
    done = subprocess.run([analyze, 'verify', tmp / 'fw-demo.socket',
                           tmp / 'fw-demo.service'], capture_output=True,
                          text=True, timeout=60, cwd=tmp)
    assert done.returncode == 0 and done.stderr.strip() == '', (
        done.stdout, done.stderr)

    # what systemd would run: the service's command on the socket's socket
    assert unit_value(service, 'Type') == 'notify'
    listen = unit_value(socket_unit, 'ListenStream')
    assert listen == str(sock)
    argv = systemd_words(unit_value(service, 'ExecStart'))
    assert '--socket' not in argv
    env = ['-E', 'PYTHONDONTWRITEBYTECODE=1'] + [
        x for k, v in django_env.items() if k.startswith('DEMO_')
        for x in ('-E', '%s=%s' % (k, v))]
    proc = Proc([activate, '-l', listen] + env + ['--'] + argv,
                tmp / 'server.log', cwd=unit_value(service,
                                                   'WorkingDirectory'),
                name='systemd-socket-activate+fcgi-wsgi')
    try:
        wait_unix_socket(proc, sock)
        resp = fcgi_request(sock, '/', extra={'HTTP_HOST': 'localhost'})
        assert resp.status == 200, (resp, proc.log_text())
        assert b'Hello from Django through fcgi-wsgi' in resp.body
    finally:
        assert proc.stop() == 0, tail(tmp / 'server.log')
