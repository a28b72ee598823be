"""
The demo Django project (examples/django) behind the real nginx, through
./fcgi-wsgi: what a user sees in a browser.  Part of it is the check-suite
every web server runs (webservers.CHECKS: 404, redirect, CSRF form, 5 MiB
upload, UTF-8 path, query string, Authorization, streaming).
"""

import time

import pytest

from e2elib import (STYLE_CSS, Browser, csrf_token, http_request,
                    log_size, random_body, sha256, wait_for_log)
from webservers import (check_authorization, check_id, check_not_found,
                        check_post_csrf, check_query_string,
                        check_request_path, check_streaming,
                        check_upload_5mib, check_utf8_path)


def get(site, path, **kw):
    resp = http_request(site.port, 'GET', path, **kw)
    return resp


@pytest.mark.parametrize('check', [
    check_not_found, check_request_path, check_post_csrf, check_upload_5mib,
    check_utf8_path, check_query_string, check_authorization,
    check_streaming], ids=check_id)
def test_demo(django_site, check):
    check(django_site)


def test_home_page(django_site):
    resp = get(django_site, '/')
    assert resp.status == 200, (resp, django_site.logs())
    assert resp.header('Content-Type').startswith('text/html')
    assert 'Hello from Django through fcgi-wsgi' in resp.text
    assert '<link rel="stylesheet" href="/static/demo/style.css">' in \
        resp.text
    assert 'href="/form/"' in resp.text and 'href="/admin/"' in resp.text


def test_head_request(django_site):
    resp = http_request(django_site.port, 'HEAD', '/')
    assert resp.status == 200, (resp, django_site.logs())
    assert resp.header('Content-Type').startswith('text/html')
    assert resp.body == b''


def test_static_css_served_by_nginx(django_site):
    resp = get(django_site, '/static/demo/style.css')
    assert resp.status == 200, resp
    assert resp.header('Content-Type') == 'text/css'
    assert resp.header('Server', '').startswith('nginx')
    assert resp.body == STYLE_CSS.read_bytes()
    admin_css = get(django_site, '/static/admin/css/base.css')
    assert admin_css.status == 200, admin_css


def test_unread_body_does_not_hang(django_site):
    """A 5 MiB POST to a page that never reads it (a 404): the answer
    comes at once, and the next request works."""
    start = time.monotonic()
    resp = http_request(django_site.port, 'POST', '/no-such-page/',
                        headers={'Content-Type': 'application/octet-stream'},
                        body=random_body(5 * 1024 * 1024), timeout=10)
    assert resp.status == 404, resp
    assert time.monotonic() - start < 5, django_site.logs()
    assert get(django_site, '/').status == 200


def test_post_body_chunked_request(django_site):
    """A request body sent with Transfer-Encoding: chunked (nginx
    de-chunks it and passes CONTENT_LENGTH)."""
    data = random_body(300_000)
    pieces = [data[i:i + 70_000] for i in range(0, len(data), 70_000)]
    resp = http_request(django_site.port, 'POST', '/echo/body/',
                        headers={'Content-Type': 'application/octet-stream'},
                        body=iter(pieces), encode_chunked=True)
    assert resp.status == 200, (resp, django_site.logs())
    info = resp.json()
    assert info['body_length'] == len(data)
    assert info['body_sha256'] == sha256(data)


def test_path_with_encoded_space(django_site):
    info = get(django_site, '/echo/a%20b/').json()
    assert info['path'] == '/echo/a b/'


def test_environ_basics(django_site):
    info = get(django_site, '/echo/x/').json()
    meta = info['meta']
    assert meta['REQUEST_METHOD'] == 'GET'
    assert meta['SCRIPT_NAME'] == ''
    assert meta['PATH_INFO'] == '/echo/x/'
    assert meta['wsgi.url_scheme'] == 'http'
    assert meta['SERVER_PROTOCOL'] == 'HTTP/1.1'
    assert meta['REMOTE_ADDR'] == '127.0.0.1'
    assert info['reverse_home'] == '/'
    assert info['reverse_echo'] == '/echo/x/'


def test_env_option_reaches_app(django_site):
    env = get(django_site, '/echo/env/').json()['env']
    assert env.get('DEMO_GREETING') == 'hello from --env', env


def test_exception_gives_500_and_a_logged_traceback(django_site):
    offset = log_size(django_site.server_log)
    resp = get(django_site, '/boom/')
    assert resp.status == 500, resp
    assert 'Server error (500)' in resp.text
    after = get(django_site, '/')
    assert after.status == 200, (after, django_site.logs())
    log = wait_for_log([django_site.server_log], [offset],
                       ['Traceback', "RuntimeError: boom", '/boom/'])
    assert 'Traceback' in log, django_site.logs()
    assert "RuntimeError: boom" in log, log
    assert '/boom/' in log, log


def test_admin_login(django_site):
    browser = Browser(django_site.port)
    resp = browser.get('/admin/')
    assert resp.status == 302, resp
    assert resp.header('Location') == '/admin/login/?next=/admin/'
    page = browser.get('/admin/login/?next=/admin/')
    assert page.status == 200, (page, django_site.logs())
    assert 'Django administration' in page.text
    resp = browser.post('/admin/login/?next=/admin/', {
        'csrfmiddlewaretoken': csrf_token(page.text),
        'username': 'admin', 'password': 'admin', 'next': '/admin/'})
    assert resp.status == 302, (resp, django_site.logs())
    assert resp.header('Location') == '/admin/'
    assert 'sessionid' in browser.cookies
    index = browser.get('/admin/')
    assert index.status == 200, index
    assert 'Site administration' in index.text
    users = browser.get('/admin/auth/user/')
    assert users.status == 200 and 'admin@example.com' in users.text


def test_many_sequential_requests(django_site):
    for i in range(50):
        resp = get(django_site, '/echo/n/?i=%d' % i)
        assert resp.status == 200, (i, resp, django_site.logs())
        assert resp.json()['GET'] == {'i': [str(i)]}


def test_file_download(django_site):
    """Django's FileResponse (wsgi.file_wrapper over an open file: the
    worker sends it with sendfile) through nginx: the whole 3 MiB file,
    byte for byte, as an attachment with its name."""
    resp = get(django_site, '/download/?mib=3')
    want = b''.join(b'%015d\n' % i for i in range(3 * 65536))
    assert resp.status == 200, (resp.status, django_site.logs())
    assert len(resp.body) == len(want) and sha256(resp.body) == sha256(want)
    assert resp.header('Content-Length') == str(len(want))
    assert resp.header('Content-Disposition') == \
        'attachment; filename="demo-3mib.txt"'
