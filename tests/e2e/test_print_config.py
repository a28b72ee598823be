"""
`fcgi-wsgi --print-config TARGET`: the text it prints, used as it is, runs
the demo Django project in the real servers.  Each web server gets only a
minimal skeleton of its own here (ports, pid and log files in a temp dir,
modules to load) around the printed text, checked first by the server's
own syntax check (nginx -t, apache2 -t, lighttpd -tt, caddy validate,
h2o -t), then serving a page, a static file (STATIC_ROOT, through
static-map) and a POST with a CSRF token.  The systemd units are checked
with systemd-analyze verify, then run as systemd would: the socket unit's
ListenStream through systemd-socket-activate, the service's ExecStart in
its WorkingDirectory (with an ini file: the file itself, read again on
ExecReload's SIGHUP).  nginx's status location answers 127.0.0.1 only.
"""

import html
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess

import pytest

from e2elib import (APACHE_HEAD, DJANGO_DIR, LIGHTTPD_HEAD, NGINX_HEAD,
                    NGINX_TEMP_PATHS, READY_TIMEOUT, STYLE_CSS, Browser, Proc,
                    apache_modules, csrf_token, fcgi_request, find_binary,
                    free_port, http_request, needed, nginx_vars, socket_fds,
                    tail, wait_tcp, wait_unix_socket)
from webservers import open_tree, wait_until


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


def serve_printed(tmp, server_cmd, django_env, target, text_file, start,
                  mount='', demo_args=(), then=None):
    """
    fcgi-wsgi serving the demo (under mount, with demo_args), the text
    --print-config target prints for its options written to
    tmp/target/text_file, and the web server that start(dir, port) checks
    and starts around that text: (its Proc, its error log).  Then
    check_demo through it, and then(port, text, demo) for more.  Everything is
    stopped at the end.
    """
    demo = Demo(tmp, server_cmd, django_env,
                (['--mount', mount] if mount else []) + list(demo_args))
    site = None
    try:
        dir = tmp / target
        dir.mkdir()
        text = printed(server_cmd, target, demo.print_args)
        (dir / text_file).write_text(text)
        port = free_port()
        site, log = start(dir, port)
        wait_tcp(site, port, extra_logs=[log])
        check_demo(port, lambda: tail(demo.server.log_path) + tail(log),
                   mount)
        if then is not None:
            then(port, text, demo)
    finally:
        if site is not None:
            site.stop()
        demo.stop()


def redirected(mount):
    """For serve_printed: mount is redirected to mount/ (if any)."""
    def then(port, text, demo):
        if mount:
            resp = http_request(port, 'GET', mount)
            assert resp.status == 301, resp
            assert resp.header('Location').endswith(mount + '/')
    return then


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


def nginx_run(nginx_bin, dir, port, skeleton=NGINX_SKELETON):
    """nginx.conf from skeleton around dir's fcgi-wsgi.conf, nginx -t,
    then nginx: (its Proc, its error log)."""
    # `include fastcgi_params` is relative to the main file, as in
    # /etc/nginx
    shutil.copy('/etc/nginx/fastcgi_params', dir / 'fastcgi_params')
    conf = dir / 'nginx.conf'
    conf.write_text(skeleton.format(port=port, **nginx_vars(dir)))
    base = [nginx_bin, '-p', dir, '-e', dir / 'error.log', '-c', conf]
    syntax_ok(base + ['-t'])
    return Proc(base, dir / 'nginx.out', name='nginx'), dir / 'error.log'


def nginx_start(nginx_bin):
    """For serve_printed: the printed text inside the skeleton's
    server { }, nginx -t, then nginx."""
    return lambda dir, port: nginx_run(nginx_bin, dir, port)


@pytest.mark.parametrize('mount', ['', '/app'])
def test_nginx(tmp, server_cmd, nginx_bin, django_env, mount):
    serve_printed(tmp, server_cmd, django_env, 'nginx', 'fcgi-wsgi.conf',
                  nginx_start(nginx_bin), mount, then=redirected(mount))


def nginx_kept_start(nginx_bin):
    """For serve_printed: the printed text with its kept-connections hint
    applied as it says: the upstream line in http { }, each fastcgi_pass
    to it with fastcgi_keep_conn on."""
    def start(dir, port):
        text = (dir / 'fcgi-wsgi.conf').read_text()
        upstream = re.search(r'^#   (upstream fcgi_wsgi \{.*\})$', text, re.M)
        use = re.search(r'^# and in the locations below: (.*)$', text, re.M)
        assert upstream and use, text
        (dir / 'fcgi-wsgi.conf').write_text(re.sub(
            r'fastcgi_pass [^;]*;', use.group(1), text))
        return nginx_run(nginx_bin, dir, port, NGINX_SKELETON.replace(
            '    server {{', '    %s\n    server {{' % upstream.group(1)
            .replace('{', '{{').replace('}', '}}')))
    return start


def test_nginx_kept_connections_as_printed(tmp, server_cmd, nginx_bin,
                                           django_env):
    """The printed nginx text's hint (upstream keepalive and
    fastcgi_keep_conn on), applied as it says, serves the demo, and nginx
    keeps its connections: the worker still holds them once the requests
    are answered (a closed one would be gone)."""
    def kept(port, text, demo):
        workers = demo.server.children()
        assert workers
        assert sum(socket_fds(w) for w in workers) > len(workers), (
            'no connection kept open:\n' + text)

    serve_printed(tmp, server_cmd, django_env, 'nginx', 'fcgi-wsgi.conf',
                  nginx_kept_start(nginx_bin), then=kept)


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

    def start(dir, port):
        conf = dir / 'httpd.conf'
        conf.write_text(APACHE_SKELETON.format(
            dir=dir, port=port, modules=apache_modules(APACHE_MODULES)))
        base = [apache, '-d', dir, '-f', conf]
        assert 'Syntax OK' in syntax_ok(base + ['-t'])
        return (Proc(base + ['-DFOREGROUND'], dir / 'apache.out',
                     name='apache2'), dir / 'error.log')

    serve_printed(tmp, server_cmd, django_env, 'apache', 'fcgi-wsgi.conf',
                  start, mount)


# --------------------------------------------------------------- lighttpd

LIGHTTPD_SKELETON = LIGHTTPD_HEAD + '''\
server.modules += ( "mod_alias", "mod_fastcgi" )
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
include "{dir}/fcgi-wsgi.conf"
'''


@pytest.mark.parametrize('mount', ['', '/app'])
def test_lighttpd(tmp, server_cmd, django_env, mount):
    lighttpd = binary('lighttpd')

    def start(dir, port):
        for sub in ('docroot', 'upload'):
            (dir / sub).mkdir()
        conf = dir / 'lighttpd.conf'
        conf.write_text(LIGHTTPD_SKELETON.format(dir=dir, port=port))
        syntax_ok([lighttpd, '-tt', '-f', conf])
        return (Proc([lighttpd, '-D', '-f', conf], dir / 'lighttpd.out',
                     name='lighttpd'), dir / 'error.log')

    serve_printed(tmp, server_cmd, django_env, 'lighttpd',
                  'fcgi-wsgi.conf', start, mount)


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


# ------------------------------------------------------------------ Caddy

CADDY_SKELETON = '''{{
\tadmin off
\tauto_https off
\tstorage file_system {{
\t\troot {dir}/data
\t}}
}}

http://127.0.0.1:{port} {{
\timport {dir}/fcgi-wsgi.caddy
}}
'''


@pytest.mark.parametrize('mount', ['', '/app'])
def test_caddy(tmp, server_cmd, django_env, mount):
    caddy = binary('caddy')

    def start(dir, port):
        conf = dir / 'Caddyfile'
        conf.write_text(CADDY_SKELETON.format(dir=dir, port=port))
        env = dict(os.environ, HOME=str(dir),
                   XDG_DATA_HOME=str(dir / 'data'),
                   XDG_CONFIG_HOME=str(dir / 'config'))
        args = ['--config', str(conf), '--adapter', 'caddyfile']
        done = subprocess.run([caddy, 'validate'] + args,
                              capture_output=True, text=True, timeout=60,
                              cwd=dir, env=env)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert 'Valid configuration' in done.stdout + done.stderr
        return (Proc([caddy, 'run'] + args, dir / 'caddy.out', cwd=dir,
                     env=env, name='caddy'), dir / 'caddy.out')

    serve_printed(tmp, server_cmd, django_env, 'caddy', 'fcgi-wsgi.caddy',
                  start, mount, then=redirected(mount))


# -------------------------------------------------------------------- H2O

H2O_SKELETON = '''\
listen:
  host: 127.0.0.1
  port: {port}
error-log: {dir}/error.log
hosts:
  "127.0.0.1:{port}": !file {dir}/fcgi-wsgi.conf
'''


@pytest.mark.parametrize('mount', ['', '/app'])
def test_h2o(tmp, session_tmp, server_cmd, django_env, mount):
    h2o = binary('h2o')

    def start(dir, port):
        # started as root, H2O serves as nobody: the socket (0666, see
        # Demo) and STATIC_ROOT must be reachable
        open_tree(dir, session_tmp)
        open_tree(django_env['DEMO_STATIC_ROOT'], session_tmp)
        conf = dir / 'h2o.conf'
        conf.write_text(H2O_SKELETON.format(dir=dir, port=port))
        assert 'configuration OK' in syntax_ok([h2o, '-t', '-c', conf])
        return (Proc([h2o, '-c', conf], dir / 'h2o.out', name='h2o'),
                dir / 'error.log')

    serve_printed(tmp, server_cmd, django_env, 'h2o', 'fcgi-wsgi.conf',
                  start, mount)


# ----------------------------------------------- nginx: the status page

def get_from(source, port, path):
    """GET 127.0.0.1:port/path from the local address source."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=20,
                                      source_address=(source, 0))
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_nginx_status_localhost_only(tmp, server_cmd, nginx_bin, django_env):
    """With a status page, the printed nginx config has its location,
    allowed from 127.0.0.1 (and ::1) only: 127.0.0.2 gets nginx's 403."""
    def then(port, text, demo):
        assert 'location = /fcgi-status {' in text, text
        status, body = get_from('127.0.0.1', port, '/fcgi-status?json')
        assert status == 200 and json.loads(body)['pool'], (status, body)
        status, body = get_from('127.0.0.2', port, '/fcgi-status?json')
        assert status == 403, (status, body)
        # the application's pages stay open to all
        status, body = get_from('127.0.0.2', port, '/')
        assert status == 200 and b'Hello from Django' in body, status

    serve_printed(tmp, server_cmd, django_env, 'nginx', 'fcgi-wsgi.conf',
                  nginx_start(nginx_bin),
                  demo_args=['--status-path', '/fcgi-status'], then=then)


# ------------------------------------------------ systemd with an ini file

def test_systemd_service_runs_ini(tmp, server_cmd, django_env):
    """--print-config systemd FILE.ini: ExecStart runs the ini file (as an
    absolute path), WorkingDirectory is its chdir, no socket unit is
    needed (fcgi-wsgi binds the ini's socket), and ExecReload's SIGHUP
    reads the file again: a changed ping-response is answered after it."""
    analyze = binary('systemd-analyze')
    sock = tmp / 'ini.sock'
    ini = tmp / 'app.ini'

    # as root, the tests' fcgi-wsgi has --allow-root on its command line,
    # which the unit leaves out: the ini file must say it
    root = 'allow-root = true\n' if '--allow-root' in server_cmd else ''

    def write_ini(pong):
        ini.write_text('[uwsgi]\nsocket = unix:%s\nchdir = %s\n'
                       'module = config.wsgi\nprocesses = 1\n'
                       'ping-path = /ping\nping-response = %s\n%s'
                       % (sock, DJANGO_DIR, pong, root))

    write_ini('one')
    service = printed(server_cmd, 'systemd', [ini])
    (tmp / 'fw-ini.service').write_text(service)
    done = subprocess.run([analyze, 'verify', tmp / 'fw-ini.service'],
                          capture_output=True, text=True, timeout=60,
                          cwd=tmp)
    assert done.returncode == 0 and done.stderr.strip() == '', (
        done.stdout, done.stderr)
    assert unit_value(service, 'WorkingDirectory') == str(DJANGO_DIR)
    assert unit_value(service, 'ExecReload') == '/bin/kill -HUP $MAINPID'
    assert 'Requires=' not in service, service
    argv = systemd_words(unit_value(service, 'ExecStart'))
    assert argv[1:] == ['--ini', str(ini)], argv
    proc = Proc(argv, tmp / 'server.log', env=django_env,
                cwd=unit_value(service, 'WorkingDirectory'),
                name='fcgi-wsgi')
    try:
        wait_unix_socket(proc, sock)
        resp = fcgi_request(sock, '/', extra={'HTTP_HOST': 'localhost'})
        assert resp.status == 200, (resp, proc.log_text())
        assert fcgi_request(sock, '/ping').body == b'one'
        write_ini('two')
        os.kill(proc.pid, signal.SIGHUP)  # ExecReload
        assert wait_until(lambda: fcgi_request(sock, '/ping').body == b'two',
                          READY_TIMEOUT), tail(tmp / 'server.log')
    finally:
        assert proc.stop() == 0, tail(tmp / 'server.log')
