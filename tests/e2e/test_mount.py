"""
The demo project mounted under /app (fcgi-wsgi --mount /app, nginx
`location /app/` with the stock fastcgi_params): Django sees
SCRIPT_NAME=/app and builds /app/... links.  Checks of the suite every
web server runs (webservers.CHECKS, at the prefix /app: the page and its
links, static files outside the mount, request.path, reverse(),
redirects, the UTF-8 path), and what is particular to the mount.
"""

import pytest

from e2elib import http_request
from webservers import (check_get, check_id, check_request_path,
                        check_static, check_utf8_path)


@pytest.mark.parametrize('check', [check_get, check_static,
                                   check_request_path, check_utf8_path],
                         ids=check_id)
def test_mount(mount_site, check):
    check(mount_site)


def test_mount_echo(mount_site):
    resp = http_request(mount_site.port, 'GET', '/app/echo/x/?k=v')
    assert resp.status == 200, (resp, mount_site.logs())
    info = resp.json()
    assert info['path_info'] == '/echo/x/'
    assert info['GET'] == {'k': ['v']}


def test_mount_home_links(mount_site):
    resp = http_request(mount_site.port, 'GET', '/app/')
    assert resp.status == 200, (resp, mount_site.logs())
    assert 'href="/app/admin/"' in resp.text


def test_outside_mount_is_nginx_404(mount_site):
    resp = http_request(mount_site.port, 'GET', '/elsewhere/')
    assert resp.status == 404
    assert 'nginx' in resp.text
