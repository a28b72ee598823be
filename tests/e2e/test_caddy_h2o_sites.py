"""
The demo Django project behind the real Caddy and H2O from Debian, the
two servers that send the whole path as PATH_INFO with SCRIPT_NAME empty:
Caddy's reverse_proxy with `transport fastcgi` (examples/caddy, the way
its users run PHP) and H2O's fastcgi.connect (examples/h2o; started as
root, it serves as nobody), both over a unix socket, at the root and under
/app (fcgi-wsgi --mount /app splits the path there).  The same check-suite
as every server (webservers.CHECKS).  test_sends measures what each sends,
with tests/apps/fcgi_recorder.py behind it.  (test_chunked_uploads.py runs
Caddy's chunked uploads, CONTENT_LENGTH -1, through Django.)
"""

import tempfile
from pathlib import Path

import pytest

from e2elib import ServerMissing, http_request
from webservers import (CHECKS, PREFIX, App, CaddySite, H2oSite,
                        assert_sends, check_id, fetch_sends, find_binary,
                        measure_dir, record_sends, tls_for, version)

# server: (its Site, how to read its version, what the table calls the
# configuration, CONTENT_LENGTH of a chunked POST (True: the real one))
SERVERS = {
    'caddy': (CaddySite, ['version'], r'v?(\d\S*)', 'Caddy',
              'reverse_proxy, transport fastcgi', '-1'),
    'h2o': (H2oSite, ['--version'], r'h2o version (\S+)', 'H2O',
            'fastcgi.connect', True),
}
VARIANTS = {'root': '', 'app': PREFIX}  # name: prefix (= fcgi-wsgi mount)


def start_site(server, name, dir, app, static_root, top, tls=None):
    """server's Site for variant name; pytest.skip when it is missing."""
    prefix = VARIANTS[name]
    kw = dict(prefix=prefix, mount=prefix or None, tls=tls)
    if server == 'h2o':
        kw['top'] = top
    try:
        return SERVERS[server][0](name, dir, app, static_root, **kw)
    except ServerMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope='module',
                params=[(s, v) for s in SERVERS for v in VARIANTS],
                ids=lambda p: '%s-%s' % p)
def site(request, session_tmp, server_cmd, django_env):
    server, name = request.param
    dir = Path(tempfile.mkdtemp(prefix=server + '-', dir=session_tmp))
    site = start_site(server, name, dir,
                      App('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'], session_tmp)
    request.addfinalizer(site.stop)
    return site


@pytest.mark.parametrize('check', CHECKS, ids=check_id)
def test_site(site, check):
    check(site)


def test_caddy_mount_redirect(tmp, session_tmp, server_cmd, django_env):
    """Under /app, /app itself is redirected to /app/ by Caddy.  (H2O
    passes /app on: fcgi-wsgi's mount gives it PATH_INFO empty.)"""
    site = start_site('caddy', 'app', tmp,
                      App('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'], session_tmp)
    try:
        resp = http_request(site.port, 'GET', PREFIX)
        assert resp.status == 301, (resp, site.logs())
        assert resp.header('Location').endswith(PREFIX + '/'), resp.headers
    finally:
        site.stop()


@pytest.mark.parametrize('server', list(SERVERS))
@pytest.mark.parametrize('name', list(VARIANTS))
def test_sends(server, name, tmp, session_tmp, django_env):
    """What each sends over HTTP and HTTPS, as fcgi_recorder.py receives
    it: SCRIPT_NAME empty and the whole path in PATH_INFO, under a prefix
    too; a chunked body de-chunked, counted by H2O, CONTENT_LENGTH -1
    from Caddy."""
    _, version_args, pattern, label, config, chunked = SERVERS[server]
    site = start_site(server, name, tmp,
                      App('recorder', out=tmp / 'sent.jsonl'),
                      django_env['DEMO_STATIC_ROOT'], session_tmp,
                      tls_for(session_tmp, server))
    try:
        sent = fetch_sends(site)
    finally:
        site.stop()
    record_sends(measure_dir(session_tmp), '%s %s' % (label, version(
        [find_binary(server)] + version_args, pattern)), config, site, sent)
    assert_sends(site, sent, split=False, chunked_length=chunked,
                 whole_path_info=True)
