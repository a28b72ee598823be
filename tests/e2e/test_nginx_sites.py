"""
The demo Django project behind the real nginx in every way
examples/nginx configures it: fastcgi_pass over a unix socket and over TCP;
with the stock `include fastcgi_params` (the whole path in SCRIPT_NAME, no
PATH_INFO: fcgi-wsgi moves it, and --mount /app splits it under a prefix)
and with fastcgi_split_path_info + PATH_INFO; at the root and under /app.
Each runs the same check-suite (webservers.CHECKS).  test_nginx_sends
measures what nginx sends, with tests/apps/fcgi_recorder.py behind it.
"""

from pathlib import Path

import pytest

from e2elib import free_port, http_request, random_body
from webservers import (CHECKS, PREFIX, App, NginxSite, assert_sends,
                        check_id, demo_site, measure_sends, tls_for,
                        version)

STOCK = 'fcgi-wsgi.conf.in'
STOCK_MOUNT = 'fcgi-wsgi-mount.conf.in'
SPLIT = 'fcgi-wsgi-split.conf.in'

# name: (template, prefix, fcgi-wsgi --mount, render.sh extras)
VARIANTS = {
    'unix-stock-root': (STOCK, '', None, {}),
    'unix-stock-app': (STOCK_MOUNT, PREFIX, PREFIX, {}),
    'tcp-stock-root': (STOCK, '', None, {}),
    'tcp-stock-app': (STOCK_MOUNT, PREFIX, PREFIX, {}),
    'unix-split-root': (SPLIT, '', None, {'PREFIX': ''}),
    'unix-split-app': (SPLIT, PREFIX, None, {'PREFIX': PREFIX}),
    'tcp-split-root': (SPLIT, '', None, {'PREFIX': ''}),
    'tcp-split-app': (SPLIT, PREFIX, None, {'PREFIX': PREFIX}),
}


def start_site(name, dir, app, static_root, tls=None):
    template, prefix, mount, extra = VARIANTS[name]
    if name.startswith('tcp-'):
        address = ('127.0.0.1', free_port())
    else:
        address = Path(dir) / 'app.sock'
    return NginxSite(name, dir, template, app, address, static_root,
                     prefix=prefix, mount=mount, extra=extra, tls=tls)


@pytest.fixture(scope='module', params=list(VARIANTS))
def nginx_site(request, session_tmp, server_cmd, nginx_bin, django_env):
    return demo_site(request, session_tmp, start_site, server_cmd,
                     django_env)


@pytest.mark.parametrize('check', CHECKS, ids=check_id)
def test_nginx(nginx_site, check):
    check(nginx_site)


@pytest.mark.parametrize('name,config', [
    ('unix-stock-root', 'include fastcgi_params (stock)'),
    ('unix-stock-app', 'include fastcgi_params (stock)'),
    ('unix-split-root', 'fastcgi_split_path_info + PATH_INFO'),
    ('unix-split-app', 'fastcgi_split_path_info + PATH_INFO'),
])
def test_nginx_sends(name, config, tmp, session_tmp, nginx_bin, django_env):
    """What nginx sends over HTTP and HTTPS, as fcgi_recorder.py receives
    it."""
    site = start_site(name, tmp, App('recorder', out=tmp / 'sent.jsonl'),
                      django_env['DEMO_STATIC_ROOT'],
                      tls_for(session_tmp, 'nginx'))
    sent = measure_sends(site, session_tmp, 'nginx ' + version(
        [nginx_bin, '-v'], r'nginx/(\S+)'), config)
    assert_sends(site, sent, split='split' in name)


def test_nginx_body_over_limit(tmp, server_cmd, nginx_bin, django_env):
    """client_max_body_size (20m in the examples; nginx's default is 1m):
    a larger body gets a 413 from nginx, and fcgi-wsgi never sees it."""
    site = start_site('unix-stock-root', tmp,
                      App('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'])
    try:
        resp = http_request(site.port, 'POST', '/echo/body/',
                            headers={'Content-Type':
                                     'application/octet-stream'},
                            body=random_body(21 * 1024 * 1024))
        assert resp.status == 413, resp
        assert http_request(site.port, 'GET', '/').status == 200
    finally:
        site.stop()
