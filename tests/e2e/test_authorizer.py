"""
The FastCGI Authorizer role: tests/apps/gateway_app.py decides whether a
request for a static file may go on, in front of three real web servers.

- lighttpd, fastcgi.server with "mode" => "authorizer": a 200 lets the
  request through to the file (or to a CGI, which sees the Variable-*
  headers as environment variables); any other answer goes to the client
  as it is (the app's 403, header and body).
- Apache, mod_fcgid spawning fcgi-wsgi (fd 0): FcgidAccessChecker (the
  token in Authorization, with CGIPassAuth On) and FcgidAuthorizer (after
  Basic authentication: REMOTE_USER).  Variable-* headers become
  environment variables (seen through mod_headers' %{NAME}e).  mod_fcgid
  answers every denial with its own 401 (keeping the app's headers): the
  app's status and body do not reach the client there.
- nginx, auth_request to a responder location, fcgi-wsgi started with
  `role = authorizer`: the app sees the path of the request it decides on
  (REQUEST_URI), not the subrequest's; nginx takes the Variable-* headers
  with auth_request_set.

Apache runs as root with User nobody (Debian's apache refuses to serve as
root), so what it and fcgi-wsgi read is made readable.
"""

import base64
import hashlib
import os
import shlex
import time

import pytest

from conftest import server_env
from e2elib import (APACHE_HEAD, APACHE_MODULES_DIR, APPS_DIR,
                    LIGHTTPD_HEAD, NGINX_HEAD, NGINX_TEMP_PATHS, Proc,
                    apache_modules, find_binary, free_port, http_request,
                    log_since, log_size, needed, nginx_vars, tail, wait_tcp,
                    wait_unix_socket)

APP_ARGS = ['--chdir', str(APPS_DIR), '--module', 'gateway_app']
FILE_TEXT = b'the guarded file\n'
GOOD = {'Authorization': 'Bearer good'}
BAD = {'Authorization': 'Bearer bad'}
ENV_CGI = '''#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'AUTH_USER=%s\\nAUTH_PATH=%s\\nAUTH_SEEN=%s\\n' \\
    "$AUTH_USER" "$AUTH_PATH" "$AUTH_SEEN"
'''


def binary(name):
    return needed(find_binary, name)


def make_docroot(dir):
    docroot = dir / 'docroot'
    docroot.mkdir(parents=True)
    (docroot / 'file.txt').write_bytes(FILE_TEXT)
    (docroot / 'env.cgi').write_text(ENV_CGI)
    (docroot / 'env.cgi').chmod(0o755)
    return docroot


def assert_clean(log_text):
    for bad in ('Traceback', ' ERROR '):
        assert bad not in log_text, log_text


def authorizer_behind(dir, server_cmd, server_args, web_name, web_conf):
    """
    A fixture's body: fcgi-wsgi (gateway_app and server_args) on the unix
    socket dir/auth.sock, then a web server: web_conf(socket, port) writes
    its configuration and returns its command (its error log:
    dir/error.log).  Yields the web server's Proc, with .port, .dir and
    .server (fcgi-wsgi's Proc); both are stopped after.
    """
    sock = dir / 'auth.sock'
    started = []
    try:
        server = Proc(server_cmd + ['--socket', 'unix:%s' % sock]
                      + server_args + APP_ARGS, dir / 'server.log',
                      env=server_env(), name='fcgi-wsgi')
        started.append(server)
        wait_unix_socket(server, sock)
        port = free_port()
        site = Proc(web_conf(sock, port), dir / ('%s.out' % web_name),
                    name=web_name)
        started.append(site)
        wait_tcp(site, port, extra_logs=[dir / 'error.log'])
    except BaseException:
        for proc in reversed(started):
            proc.stop()
        raise
    site.port, site.dir, site.server = port, dir, server
    yield site
    site.stop()
    server.stop()


# ---------------------------------------------------------------- lighttpd

LIGHTTPD_CONF = LIGHTTPD_HEAD + '''\
server.modules += ( "mod_fastcgi", "mod_cgi" )
cgi.assign = ( ".cgi" => "" )
fastcgi.server = ( "/" => ( (
    "socket" => "{socket}",
    "check-local" => "disable",
    "mode" => "authorizer",
    "docroot" => "{docroot}"
) ) )
'''


@pytest.fixture(scope='module')
def lighttpd_site(session_tmp, server_cmd):
    lighttpd = binary('lighttpd')
    dir = session_tmp / 'auth-lighttpd'
    docroot = make_docroot(dir)
    (dir / 'upload').mkdir()

    def conf(sock, port):
        (dir / 'lighttpd.conf').write_text(LIGHTTPD_CONF.format(
            dir=dir, docroot=docroot, port=port, socket=sock))
        return [lighttpd, '-D', '-f', dir / 'lighttpd.conf']

    yield from authorizer_behind(dir, server_cmd, [], 'lighttpd', conf)


def lighttpd_logs(site):
    return '--- fcgi-wsgi:\n%s\n--- lighttpd:\n%s' % (
        tail(site.server.log_path), tail(site.dir / 'error.log'))


def test_lighttpd_allows(lighttpd_site):
    mark = log_size(lighttpd_site.server.log_path)
    resp = http_request(lighttpd_site.port, 'GET', '/file.txt', GOOD)
    assert (resp.status, resp.body) == (200, FILE_TEXT), (
        resp, lighttpd_logs(lighttpd_site))
    assert_clean(log_since(lighttpd_site.server.log_path, mark))


def test_lighttpd_denial_is_the_apps(lighttpd_site):
    for headers in (BAD, {}):
        resp = http_request(lighttpd_site.port, 'GET', '/file.txt', headers)
        assert resp.status == 403, (resp, lighttpd_logs(lighttpd_site))
        assert resp.body == b'denied by gateway_app: /file.txt\n'
        assert resp.header('X-Denied') == 'gateway_app'


def test_lighttpd_variables_reach_the_next_handler(lighttpd_site):
    resp = http_request(lighttpd_site.port, 'GET', '/env.cgi?q=1', GOOD)
    assert resp.status == 200, (resp, lighttpd_logs(lighttpd_site))
    assert resp.text.splitlines() == [
        'AUTH_USER=alice', 'AUTH_PATH=/env.cgi',
        'AUTH_SEEN=role=AUTHORIZER content_length=absent body=0']


def test_lighttpd_request_body_is_not_the_apps(lighttpd_site):
    """lighttpd sends CONTENT_LENGTH but no STDIN to an authorizer: the app
    sees no body and nothing waits for one."""
    started = time.monotonic()
    resp = http_request(lighttpd_site.port, 'POST', '/env.cgi', GOOD,
                        body=b'x' * 50000)
    assert resp.status == 200, (resp, lighttpd_logs(lighttpd_site))
    assert 'AUTH_SEEN=role=AUTHORIZER content_length=absent body=0' in \
        resp.text
    assert time.monotonic() - started < 5


def test_lighttpd_decides_on_the_served_path(lighttpd_site):
    """A path with dot segments is decided as the file it names."""
    resp = http_request(lighttpd_site.port, 'GET', '/x/../env.cgi', GOOD)
    assert resp.status == 200, (resp, lighttpd_logs(lighttpd_site))
    assert 'AUTH_PATH=/env.cgi' in resp.text
    resp = http_request(lighttpd_site.port, 'GET', '/x/%2e%2e/file.txt')
    assert resp.status == 403
    assert resp.body == b'denied by gateway_app: /file.txt\n'


# ------------------------------------------------------- Apache, mod_fcgid

APACHE_MODULES = ('mpm_event', 'authz_core', 'authn_core', 'authn_file',
                  'auth_basic', 'authz_user', 'alias', 'mime', 'headers',
                  'fcgid')

APACHE_CONF = APACHE_HEAD + '''\
FcgidIPCDir "{dir}/ipc"
FcgidProcessTableFile "{dir}/ipc/fcgid_shm"
FcgidInitialEnv PYTHONDONTWRITEBYTECODE 1
DocumentRoot "{docroot}"
<Directory />
    Require all denied
</Directory>
<Directory "{docroot}">
    Require all granted
</Directory>
Alias /guarded/ "{docroot}/"
Alias /members/ "{docroot}/"
# the token in Authorization: an access checker (FCGI_ROLE AUTHORIZER)
<Location /guarded/>
    CGIPassAuth On
    FcgidAccessChecker "{wrapper}"
</Location>
# after Basic authentication: an authorizer deciding on REMOTE_USER
<Location /members/>
    AuthType Basic
    AuthName members
    AuthBasicProvider file
    AuthUserFile "{dir}/htpasswd"
    Require valid-user
    FcgidAuthorizer "{wrapper}"
</Location>
Header always set X-Auth-User "%{{AUTH_USER}}e"
Header always set X-Auth-Seen "%{{AUTH_SEEN}}e"
'''


def htpasswd_line(user, password):
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest())
    return '%s:{SHA}%s\n' % (user, digest.decode())


def basic(user, password):
    token = base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    return {'Authorization': 'Basic ' + token}


@pytest.fixture(scope='module')
def apache_site(session_tmp, server_cmd):
    apache = binary('apache2')
    if not os.path.exists(os.path.join(APACHE_MODULES_DIR, 'mod_fcgid.so')):
        pytest.skip('mod_fcgid is not installed (libapache2-mod-fcgid)')
    # nobody must reach everything apache and fcgi-wsgi read
    session_tmp.chmod(0o711)
    dir = session_tmp / 'auth-apache'
    docroot = make_docroot(dir)
    (dir / 'ipc').mkdir()
    (dir / 'ipc').chmod(0o777)
    (dir / 'htpasswd').write_text(htpasswd_line('alice', 'secret') +
                                  htpasswd_line('bob', 'hunter2'))
    ini = dir / 'app.ini'
    ini.write_text('[fcgi-wsgi]\n%s\n' % '\n'.join(
        '%s = %s' % (APP_ARGS[i][2:], APP_ARGS[i + 1])
        for i in range(0, len(APP_ARGS), 2)))
    wrapper = dir / 'authorizer.sh'
    wrapper.write_text('#!/bin/sh\n# mod_fcgid passes the listening socket '
                       'on fd 0\nexec %s --ini %s\n'
                       % (shlex.join(server_cmd), shlex.quote(str(ini))))
    wrapper.chmod(0o755)
    for path in (dir, docroot):
        path.chmod(0o755)
    port = free_port()
    (dir / 'httpd.conf').write_text(APACHE_CONF.format(
        dir=dir, docroot=docroot, port=port, wrapper=wrapper,
        modules=apache_modules(APACHE_MODULES)))
    site = Proc([apache, '-d', dir, '-f', dir / 'httpd.conf', '-DFOREGROUND'],
                dir / 'apache.out', name='apache2')
    try:
        wait_tcp(site, port, extra_logs=[dir / 'error.log'])
    except BaseException:
        site.stop()
        raise
    site.port, site.dir = port, dir
    yield site
    site.stop()


def apache_logs(site):
    return '--- apache error log (fcgi-wsgi logs there too):\n%s' % tail(
        site.dir / 'error.log')


def test_apache_access_checker_allows(apache_site):
    resp = http_request(apache_site.port, 'GET', '/guarded/file.txt', GOOD)
    assert (resp.status, resp.body) == (200, FILE_TEXT), (
        resp, apache_logs(apache_site))
    assert resp.header('X-Auth-User') == 'alice'
    assert resp.header('X-Auth-Seen') == \
        'role=AUTHORIZER content_length=absent body=0'


def test_apache_access_checker_denies(apache_site):
    resp = http_request(apache_site.port, 'GET', '/guarded/file.txt', BAD)
    # mod_fcgid: a 401 of its own, the app's headers kept
    assert resp.status == 401, (resp, apache_logs(apache_site))
    assert resp.header('X-Denied') == 'gateway_app'
    assert b'guarded file' not in resp.body


def test_apache_authorizer_after_basic_auth(apache_site):
    resp = http_request(apache_site.port, 'GET', '/members/file.txt',
                        basic('alice', 'secret'))
    assert (resp.status, resp.body) == (200, FILE_TEXT), (
        resp, apache_logs(apache_site))
    assert resp.header('X-Auth-User') == 'alice'
    resp = http_request(apache_site.port, 'GET', '/members/file.txt',
                        basic('bob', 'hunter2'))
    assert resp.status == 401, resp
    assert resp.header('X-Denied') == 'gateway_app'
    assert_clean(tail(apache_site.dir / 'error.log', 20000).replace(
        'access check failed', '').replace('Authorization of user', ''))


# ------------------------------------------------- nginx, role = authorizer

NGINX_CONF = NGINX_HEAD + '''\
http {{
    access_log off;
''' + NGINX_TEMP_PATHS + '''\
    server {{
        listen 127.0.0.1:{port};
        location /private/ {{
            auth_request /_auth;
            auth_request_set $auth_user $upstream_http_variable_auth_user;
            auth_request_set $auth_path $upstream_http_variable_auth_path;
            add_header X-Auth-User $auth_user always;
            add_header X-Auth-Path $auth_path always;
            alias {docroot}/;
        }}
        location = /_auth {{
            internal;
            include /etc/nginx/fastcgi_params;
            fastcgi_pass_request_body off;
            fastcgi_param CONTENT_LENGTH "";
            fastcgi_pass unix:{socket};
        }}
    }}
}}
'''


@pytest.fixture(scope='module')
def nginx_site(session_tmp, server_cmd, nginx_bin):
    dir = session_tmp / 'auth-nginx'
    docroot = make_docroot(dir)

    def conf(sock, port):
        (dir / 'nginx.conf').write_text(NGINX_CONF.format(
            docroot=docroot, port=port, socket=sock, **nginx_vars(dir)))
        return [nginx_bin, '-p', dir, '-e', dir / 'error.log', '-c',
                dir / 'nginx.conf']

    yield from authorizer_behind(dir, server_cmd, ['--role', 'authorizer'],
                                 'nginx', conf)


def test_nginx_auth_request_forced_role(nginx_site):
    resp = http_request(nginx_site.port, 'GET', '/private/file.txt', GOOD)
    assert (resp.status, resp.body) == (200, FILE_TEXT), (
        resp, tail(nginx_site.server.log_path),
        tail(nginx_site.dir / 'error.log'))
    assert resp.header('X-Auth-User') == 'alice'
    # the path decided on is the client's, not the subrequest's /_auth
    assert resp.header('X-Auth-Path') == '/private/file.txt'
    resp = http_request(nginx_site.port, 'GET', '/private/file.txt', BAD)
    assert resp.status == 403, resp  # nginx's own page: auth_request
    assert_clean(tail(nginx_site.server.log_path))
