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
import re
import shlex
import shutil
import subprocess

import pytest

from e2elib import (APACHE_HEAD, DJANGO_DIR, LIGHTTPD_HEAD, NGINX_HEAD,
                    NGINX_TEMP_PATHS, STYLE_CSS, Browser, Proc,
                    apache_modules, csrf_token, fcgi_request, find_binary,
                    free_port, http_request, needed, nginx_user, tail,
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
    return needed(find_binary, name)


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


def serve_and_check(demo, name, prepare, mount, more=None):
    """
    prepare() writes the web server's configuration around the printed
    text, checks its syntax and returns (dir, argv, port); the server
    (name) is run with argv (its error log: dir/error.log), the demo is
    checked through it (check_demo, then more(port) if given), and both
    are stopped.
    """
    site = None
    try:
        dir, argv, port = prepare()
        site = Proc(argv, dir / ('%s.out' % name), name=name)
        wait_tcp(site, port, extra_logs=[dir / 'error.log'])
        check_demo(port, lambda: tail(demo.server.log_path)
                   + tail(dir / 'error.log'), mount)
        if more is not None:
            more(port)
    finally:
        if site is not None:
            site.stop()
        demo.stop()


def demo_for(tmp, server_cmd, django_env, mount):
    return Demo(tmp, server_cmd, django_env,
                ['--mount', mount] if mount else [])


# ------------------------------------------------------------------ nginx

NGINX_SKELETON = NGINX_HEAD + '''\
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {dir}/access.log;
''' + NGINX_TEMP_PATHS + '''\
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include fcgi-wsgi.conf;
    }}
}}
'''


def nginx_skeleton(dir, nginx_bin, text):
    """The printed text inside the skeleton's server { }, nginx -t: the
    dir, nginx's command and its port."""
    dir.mkdir(parents=True, exist_ok=True)
    (dir / 'fcgi-wsgi.conf').write_text(text)
    # `include fastcgi_params` is relative to the main file, as in /etc/nginx
    shutil.copy('/etc/nginx/fastcgi_params', dir / 'fastcgi_params')
    port = free_port()
    conf = dir / 'nginx.conf'
    conf.write_text(NGINX_SKELETON.format(
        dir=dir, port=port, user=nginx_user()))
    base = [nginx_bin, '-p', dir, '-e', dir / 'error.log', '-c', conf]
    syntax_ok(base + ['-t'])
    return dir, base, port


@pytest.mark.parametrize('mount', ['', '/app'])
def test_nginx(tmp, server_cmd, nginx_bin, django_env, mount):
    demo = demo_for(tmp, server_cmd, django_env, mount)

    def redirect_to_mount(port):
        resp = http_request(port, 'GET', mount)
        assert resp.status == 301, resp
        assert resp.header('Location').endswith(mount + '/')

    serve_and_check(demo, 'nginx', lambda: nginx_skeleton(
        tmp / 'nginx', nginx_bin, printed(server_cmd, 'nginx',
                                          demo.print_args)),
        mount, redirect_to_mount if mount else None)


# ----------------------------------------------------------------- Apache

APACHE_MODULES = ('mpm_event', 'authz_core', 'alias', 'mime', 'proxy',
                  'proxy_fcgi')

APACHE_SKELETON = APACHE_HEAD + '''\
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
    # Apache's workers run as nobody: the socket and STATIC_ROOT must be
    # reachable (the socket is 0666, see Demo)
    session_tmp.chmod(0o711)
    tmp.chmod(0o755)
    demo = demo_for(tmp, server_cmd, django_env, mount)

    def prepare():
        text = printed(server_cmd, 'apache', demo.print_args)
        dir = tmp / 'apache'
        dir.mkdir()
        (dir / 'fcgi-wsgi.conf').write_text(text)
        port = free_port()
        conf = dir / 'httpd.conf'
        conf.write_text(APACHE_SKELETON.format(
            dir=dir, port=port, modules=apache_modules(APACHE_MODULES)))
        base = [apache, '-d', dir, '-f', conf]
        assert 'Syntax OK' in syntax_ok(base + ['-t'])
        return dir, base + ['-DFOREGROUND'], port

    serve_and_check(demo, 'apache2', prepare, mount)


# --------------------------------------------------------------- lighttpd

LIGHTTPD_SKELETON = LIGHTTPD_HEAD + '''\
server.modules += ( "mod_alias", "mod_fastcgi" )
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
include "{dir}/fcgi-wsgi.conf"
'''


@pytest.mark.parametrize('mount', ['', '/app'])
def test_lighttpd(tmp, server_cmd, django_env, mount):
    lighttpd = binary('lighttpd')
    demo = demo_for(tmp, server_cmd, django_env, mount)

    def prepare():
        text = printed(server_cmd, 'lighttpd', demo.print_args)
        dir = tmp / 'lighttpd'
        for sub in ('docroot', 'upload'):
            (dir / sub).mkdir(parents=True)
        (dir / 'fcgi-wsgi.conf').write_text(text)
        port = free_port()
        conf = dir / 'lighttpd.conf'
        conf.write_text(LIGHTTPD_SKELETON.format(dir=dir, port=port))
        syntax_ok([lighttpd, '-tt', '-f', conf])
        return dir, [lighttpd, '-D', '-f', conf], port

    serve_and_check(demo, 'lighttpd', prepare, mount)


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
