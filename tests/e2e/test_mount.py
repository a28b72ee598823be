"""
The demo project mounted under /app (fcgi-wsgi --mount /app, nginx
`location /app/` with the stock fastcgi_params): Django sees
SCRIPT_NAME=/app and builds /app/... links.
"""

from e2elib import http_request


def test_mount_echo(mount_site):
    resp = http_request(mount_site.port, 'GET', '/app/echo/x/?k=v')
    assert resp.status == 200, (resp, mount_site.logs())
    info = resp.json()
    assert info['path'] == '/app/echo/x/'
    assert info['path_info'] == '/echo/x/'
    assert info['meta']['SCRIPT_NAME'] == '/app'
    assert info['meta']['PATH_INFO'] == '/echo/x/'
    assert info['reverse_home'] == '/app/'
    assert info['reverse_echo'] == '/app/echo/x/'
    assert info['GET'] == {'k': ['v']}


def test_mount_home_links(mount_site):
    resp = http_request(mount_site.port, 'GET', '/app/')
    assert resp.status == 200, (resp, mount_site.logs())
    assert 'href="/app/form/"' in resp.text
    assert 'href="/app/admin/"' in resp.text
    # STATIC_URL is absolute: nginx serves it outside the mount.
    assert 'href="/static/demo/style.css"' in resp.text
    css = http_request(mount_site.port, 'GET', '/static/demo/style.css')
    assert css.status == 200


def test_mount_redirect(mount_site):
    resp = http_request(mount_site.port, 'GET', '/app/redirect/')
    assert resp.status == 302, resp
    assert resp.header('Location') == '/app/'


def test_mount_utf8_path(mount_site):
    resp = http_request(mount_site.port, 'GET', '/app/echo/caf%C3%A9/')
    assert resp.status == 200, (resp, mount_site.logs())
    info = resp.json()
    assert info['path'] == '/app/echo/café/'
    assert info['path_info'] == '/echo/café/'


def test_outside_mount_is_nginx_404(mount_site):
    resp = http_request(mount_site.port, 'GET', '/elsewhere/')
    assert resp.status == 404
    assert 'nginx' in resp.text
