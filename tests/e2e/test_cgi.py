"""
The CGI fallback: ./fcgi-wsgi started with a CGI request in its
environment (GATEWAY_INTERFACE, REQUEST_METHOD) and no socket serves that
one request on stdin/stdout and exits.  Run directly (the exact bytes on
stdout), then as a .cgi behind lighttpd's mod_cgi, through a wrapper
script `exec fcgi-wsgi --ini app.ini`.
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess

import pytest

from conftest import server_env
from e2elib import (APPS_DIR, Proc, free_port, http_request, random_body,
                    sha256, tail, wait_tcp)

APP_ARGS = ['--chdir', str(APPS_DIR), '--module', 'gateway_app']


def cgi_env(**params):
    """A CGI request's environment (RFC 3875), as a web server makes it."""
    env = server_env({
        'GATEWAY_INTERFACE': 'CGI/1.1', 'REQUEST_METHOD': 'GET',
        'SCRIPT_NAME': '/cgi-bin/app.cgi', 'QUERY_STRING': '',
        'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'SERVER_SOFTWARE': 'test',
        'REMOTE_ADDR': '127.0.0.1'})
    env.update(params)
    return {k: v for k, v in env.items() if v is not None}


def run_cgi(server_cmd, env, body=b'', args=APP_ARGS, timeout=30):
    """Runs one CGI request: (exit status, stdout bytes, stderr text)."""
    done = subprocess.run(server_cmd + list(args), env=env, input=body,
                          capture_output=True, timeout=timeout,
                          start_new_session=True)
    return done.returncode, done.stdout, done.stderr.decode('utf-8',
                                                           'replace')


def cgi_response(payload, content_type='application/json'):
    """The exact CGI output of a gateway_app response."""
    return (b'Status: 200 OK\r\nContent-Type: ' + content_type.encode()
            + b'\r\nContent-Length: ' + str(len(payload)).encode()
            + b'\r\n\r\n' + payload)


def test_post_exact_bytes(server_cmd):
    body = b'name=value&other=\x00\xff' * 100
    rc, out, err = run_cgi(server_cmd, cgi_env(
        REQUEST_METHOD='POST', PATH_INFO='/echo',
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE='application/x-www-form-urlencoded'), body)
    payload = json.dumps({'length': len(body),
                          'sha256': hashlib.sha256(body).hexdigest(),
                          'text': body[:200].decode('latin-1')},
                         sort_keys=True).encode()
    assert (rc, out) == (0, cgi_response(payload)), err
    assert err == '', err  # a CGI's stderr is the web server's error log


def test_environ_and_run_once(server_cmd):
    rc, out, err = run_cgi(server_cmd, cgi_env(
        PATH_INFO='/environ', QUERY_STRING='a=1&b=%C3%A9',
        HTTP_HOST='example.com', HTTP_PROXY='http://evil.example:3128'))
    assert rc == 0, err
    head, _, payload = out.partition(b'\r\n\r\n')
    assert head.startswith(b'Status: 200 OK\r\n')
    env = json.loads(payload)
    assert env['SCRIPT_NAME'] == '/cgi-bin/app.cgi'
    assert env['PATH_INFO'] == '/environ'
    assert env['QUERY_STRING'] == 'a=1&b=%C3%A9'
    assert env['GATEWAY_INTERFACE'] == 'CGI/1.1'
    assert env['wsgi.run_once'] is True
    assert env['wsgi.multiprocess'] is True
    assert env['wsgi.multithread'] is False
    assert env['wsgi.url_scheme'] == 'http'
    assert 'CONTENT_LENGTH' not in env
    # the request header is in the WSGI environ...
    assert env['HTTP_PROXY'] == 'http://evil.example:3128'


def test_httpoxy(server_cmd):
    """...but never in os.environ, where urllib would take it as a proxy."""
    rc, out, err = run_cgi(server_cmd, cgi_env(
        PATH_INFO='/os-environ', HTTP_PROXY='http://evil.example:3128'))
    assert rc == 0, err
    env = json.loads(out.partition(b'\r\n\r\n')[2])
    assert env['HTTP_PROXY'] is None
    assert env['GATEWAY_INTERFACE'] == 'CGI/1.1'


def test_script_root_keeps_script_name(server_cmd):
    """A CGI's own URL (no PATH_INFO) is the application's root: SCRIPT_NAME
    stays the script's, PATH_INFO is ''."""
    rc, out, err = run_cgi(server_cmd, cgi_env())
    assert rc == 0, err
    assert out.startswith(b'Status: 404 Not Found\r\n'), out
    assert out.endswith(b"no page at ''\n"), out


def test_body_bounded_by_content_length(server_cmd):
    rc, out, err = run_cgi(server_cmd, cgi_env(
        REQUEST_METHOD='POST', PATH_INFO='/echo', CONTENT_LENGTH='5'),
        b'helloEXTRA-NOT-PART-OF-THE-BODY')
    assert rc == 0, err
    env = json.loads(out.partition(b'\r\n\r\n')[2])
    assert env['length'] == 5 and env['text'] == 'hello'


def test_no_content_length_no_body(server_cmd):
    """RFC 3875: no CONTENT_LENGTH, no body; stdin is never waited on."""
    proc = subprocess.Popen(server_cmd + APP_ARGS, env=cgi_env(
        REQUEST_METHOD='POST', PATH_INFO='/echo'), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        out, err = proc.communicate(timeout=30)  # stdin left open: EOF only
    finally:                                     # from communicate
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out.partition(b'\r\n\r\n')[2])['length'] == 0


def test_short_body_is_a_lost_client(server_cmd):
    """A body cut short is a client that went away, as over FastCGI: no
    response, exit status 1, the reason in the log."""
    rc, out, err = run_cgi(server_cmd, cgi_env(
        REQUEST_METHOD='POST', PATH_INFO='/echo', CONTENT_LENGTH='100'),
        b'only this')
    assert (rc, out) == (1, b''), (rc, out, err)
    assert 'ended 91 bytes short of CONTENT_LENGTH' in err, err
    assert '[cgi pid ' in err, err


def test_print_goes_to_stderr(server_cmd):
    rc, out, err = run_cgi(server_cmd, cgi_env(PATH_INFO='/print'))
    assert (rc, out) == (0, cgi_response(b'printed\n', 'text/plain')), err
    assert 'printed to sys.stdout by gateway_app' in err


def test_import_error_exit_1(server_cmd):
    rc, out, err = run_cgi(server_cmd, cgi_env(PATH_INFO='/hello'),
                           args=['--chdir', str(APPS_DIR), '--module',
                                 'no_such_module_here'])
    assert rc == 1 and out == b'', (rc, out)
    assert 'no_such_module_here' in err, err


def test_not_cgi_without_its_environment(server_cmd):
    env = cgi_env()
    del env['GATEWAY_INTERFACE']
    rc, out, err = run_cgi(server_cmd, env)
    assert rc == 2, (out, err)
    assert 'no socket given and fd 0 is not a listening socket' in err


# ------------------------------------------------------ lighttpd mod_cgi

LIGHTTPD_CONF = '''\
server.document-root = "{dir}/docroot"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.modules += ( "mod_cgi" )
cgi.assign = ( ".cgi" => "" )
'''


@pytest.fixture(scope='module')
def lighttpd_cgi(session_tmp, server_cmd):
    binary = shutil.which('lighttpd') or '/usr/sbin/lighttpd'
    if not os.access(binary, os.X_OK):
        pytest.skip('lighttpd is not installed')
    dir = session_tmp / 'cgi-lighttpd'
    (dir / 'docroot').mkdir(parents=True)
    ini = dir / 'app.ini'
    ini.write_text('[fcgi-wsgi]\nchdir = %s\nmodule = gateway_app\n'
                   'env = PYTHONDONTWRITEBYTECODE=1\n' % APPS_DIR)
    script = dir / 'docroot' / 'app.cgi'
    script.write_text('#!/bin/sh\nexec %s --ini %s\n'
                      % (shlex.join(server_cmd), shlex.quote(str(ini))))
    script.chmod(0o755)
    port = free_port()
    conf = dir / 'lighttpd.conf'
    conf.write_text(LIGHTTPD_CONF.format(dir=dir, port=port))
    proc = Proc([binary, '-D', '-f', conf], dir / 'lighttpd.out',
                name='lighttpd')
    try:
        wait_tcp(proc, port, extra_logs=[dir / 'error.log'])
    except BaseException:
        proc.stop()
        raise
    proc.port = port
    proc.dir = dir
    yield proc
    proc.stop()


def test_lighttpd_get(lighttpd_cgi):
    resp = http_request(lighttpd_cgi.port, 'GET', '/app.cgi/hello')
    assert resp.status == 200, (resp, tail(lighttpd_cgi.dir / 'error.log'))
    assert resp.body == b'hello from gateway_app\n'


def test_lighttpd_environ(lighttpd_cgi):
    resp = http_request(lighttpd_cgi.port, 'GET', '/app.cgi/environ?x=1')
    assert resp.status == 200, (resp, tail(lighttpd_cgi.dir / 'error.log'))
    env = resp.json()
    assert env['SCRIPT_NAME'] == '/app.cgi'
    assert env['PATH_INFO'] == '/environ'
    assert env['QUERY_STRING'] == 'x=1'
    assert env['wsgi.run_once'] is True
    assert env['SERVER_SOFTWARE'].startswith('lighttpd')


def test_lighttpd_post_body(lighttpd_cgi):
    data = random_body(300000)
    resp = http_request(lighttpd_cgi.port, 'POST', '/app.cgi/echo',
                        body=data,
                        headers={'Content-Type': 'application/octet-stream'})
    assert resp.status == 200, (resp, tail(lighttpd_cgi.dir / 'error.log'))
    got = resp.json()
    assert got['length'] == len(data) and got['sha256'] == sha256(data)


def test_lighttpd_not_found_from_the_app(lighttpd_cgi):
    resp = http_request(lighttpd_cgi.port, 'GET', '/app.cgi/nothing')
    assert resp.status == 404 and resp.body == b"no page at '/nothing'\n"
