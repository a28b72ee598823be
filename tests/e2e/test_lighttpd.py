"""
tests/apps/validator_app.py behind lighttpd's mod_fastcgi (which sends
SCRIPT_NAME and PATH_INFO CGI-style, unlike nginx's stock params): the same
request shapes as behind nginx, the same clean log.
"""

import pytest

from conftest import server_env
from e2elib import (APPS_DIR, LIGHTTPD_HEAD, Proc, assert_streamed,
                    clean_request, find_binary, free_port, http_request,
                    needed, random_body, sha256, stream_lines, tail,
                    wait_tcp, wait_unix_socket)

LIGHTTPD_CONF = LIGHTTPD_HEAD + '''\
server.modules += ( "mod_fastcgi" )
server.stream-response-body = 2
fastcgi.server = ( "/" => ( (
    "socket" => "{socket}",
    "check-local" => "disable",
    "fix-root-scriptname" => "enable"
) ) )
'''


class LighttpdSite:
    def __init__(self, dir, server_cmd):
        self.dir = dir
        dir.mkdir(parents=True)
        self.socket = dir / 'app.sock'
        self.server_log = dir / 'server.log'
        self.app_log = dir / 'app.log'
        self.access_log = dir / 'access.log'
        self.server = self.lighttpd = None
        try:
            self.server = Proc(server_cmd + [
                '--socket', 'unix:%s' % self.socket, '--chdir', APPS_DIR,
                '--module', 'validator_app', '--logto', self.app_log,
                '--access-log', self.access_log],
                self.server_log, env=server_env(), name='fcgi-wsgi')
            wait_unix_socket(self.server, self.socket)
            binary = find_binary('lighttpd')
            for sub in ('docroot', 'upload'):
                (dir / sub).mkdir()
            self.port = free_port()
            conf = dir / 'lighttpd.conf'
            conf.write_text(LIGHTTPD_CONF.format(
                dir=dir, port=self.port, socket=self.socket))
            self.lighttpd = Proc([binary, '-D', '-f', conf],
                                 dir / 'lighttpd.out', name='lighttpd')
            wait_tcp(self.lighttpd, self.port,
                     extra_logs=[dir / 'error.log'])
        except BaseException:
            self.stop()
            raise

    def logs(self):
        return '--- server log:\n%s\n--- app log:\n%s\n--- lighttpd:\n%s' % (
            tail(self.server_log), tail(self.app_log),
            tail(self.dir / 'error.log', 3000))

    def stop(self):
        if self.lighttpd is not None:
            self.lighttpd.stop()
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope='module')
def lighttpd_site(request, session_tmp, server_cmd):
    needed(find_binary, 'lighttpd')
    site = LighttpdSite(session_tmp / 'lighttpd', server_cmd)
    request.addfinalizer(site.stop)
    return site


checked = clean_request


def test_lighttpd_get_and_environ(lighttpd_site):
    resp = checked(lighttpd_site, 'GET', '/hello')
    assert resp.status == 200, (resp, lighttpd_site.logs())
    env = checked(lighttpd_site, 'GET', '/environ?a=b').json()
    assert env['SCRIPT_NAME'] == '' and env['PATH_INFO'] == '/environ'
    assert env['QUERY_STRING'] == 'a=b'


def test_lighttpd_utf8_path(lighttpd_site):
    resp = checked(lighttpd_site, 'GET', '/utf8/caf%C3%A9/')
    assert resp.status == 200, (resp, lighttpd_site.logs())
    assert resp.json()['decoded'] == '/utf8/café/'


def test_lighttpd_5mib_body(lighttpd_site):
    data = random_body(5 * 1024 * 1024)
    resp = checked(lighttpd_site, 'POST', '/read-n?size=65536', body=data,
                   headers={'Content-Type': 'application/octet-stream'})
    assert resp.status == 200, (resp, lighttpd_site.logs())
    assert resp.json()['sha256'] == sha256(data)


def test_lighttpd_readline(lighttpd_site):
    data = b'one\ntwo\r\n' + b'z' * 100_000 + b'\nlast'
    resp = checked(lighttpd_site, 'POST', '/readline', body=data,
                   headers={'Content-Type': 'text/plain'})
    assert resp.status == 200, (resp, lighttpd_site.logs())
    assert resp.json()['sha256'] == sha256(data)


def test_lighttpd_streaming(lighttpd_site):
    status, headers, lines = stream_lines(lighttpd_site.port,
                                          '/stream?n=4&delay=0.5')
    assert status == 200, (status, lines, lighttpd_site.logs())
    assert_streamed(lines, 4, 0.5, logs=lighttpd_site.logs())


def test_lighttpd_not_found_and_error(lighttpd_site):
    resp = checked(lighttpd_site, 'GET', '/nothing')
    assert resp.status == 404
    resp = http_request(lighttpd_site.port, 'GET', '/error-before')
    assert resp.status == 500, (resp, lighttpd_site.logs())
    assert checked(lighttpd_site, 'GET', '/hello').status == 200
