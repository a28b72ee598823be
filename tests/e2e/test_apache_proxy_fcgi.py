"""
The demo Django project behind the real Apache 2.4 + mod_proxy_fcgi
(examples/apache/proxy-fcgi.conf.in) in front of a standing fcgi-wsgi on
a unix socket: ProxyPass PREFIX/ "unix:SOCKET|fcgi://localhost/PREFIX/",
with and without enablereuse=on (FastCGI connections kept open: fcgi-wsgi
honours FCGI_KEEP_CONN).  mod_proxy_fcgi sends the whole path as
SCRIPT_NAME and no PATH_INFO, like nginx's stock params: at the root
fcgi-wsgi moves it to PATH_INFO, under /app --mount /app splits it.  The
same check-suite as every server.
"""

import pytest

from e2elib import http_request, needed
from webservers import (CHECKS, PREFIX, App, apache_binary, apache_label,
                        apache_sends_without_cgipassauth, apache_start_site,
                        assert_sends, check_id, demo_site, measure_sends,
                        tls_for)

# name: (prefix, ProxyPass options)
VARIANTS = {
    'root': ('', ''),
    'app': (PREFIX, ''),
    'reuse-root': ('', 'enablereuse=on'),
    'reuse-app': (PREFIX, 'enablereuse=on'),
}
start_site = apache_start_site('proxy', VARIANTS)


@pytest.fixture(scope='module')
def apache_bin():
    return needed(apache_binary, 'proxy_fcgi')


@pytest.fixture(scope='module', params=list(VARIANTS))
def proxy_site(request, session_tmp, server_cmd, apache_bin, django_env):
    return demo_site(request, session_tmp, start_site, server_cmd,
                     django_env, session_tmp)


@pytest.mark.parametrize('check', CHECKS, ids=check_id)
def test_apache_proxy_fcgi(proxy_site, check):
    check(proxy_site)


def test_apache_proxy_fcgi_many_requests(proxy_site):
    """60 requests in a row (with enablereuse=on over kept connections):
    each answered, and the same worker serves them all."""
    pids = set()
    for i in range(60):
        resp = http_request(proxy_site.port, 'GET',
                            proxy_site.prefix + '/echo/n/?i=%d' % i)
        assert resp.status == 200, (i, resp, proxy_site.logs())
        assert resp.json()['GET'] == {'i': [str(i)]}
        pids.add(resp.json()['pid'])
    assert len(pids) == 1, pids


@pytest.mark.parametrize('name', list(VARIANTS))
def test_apache_proxy_fcgi_sends(name, tmp, session_tmp, apache_bin,
                                 django_env):
    """What mod_proxy_fcgi sends, as fcgi_recorder.py receives it; with
    enablereuse=on it asks to keep the connection (FCGI_KEEP_CONN).  A
    chunked request body is passed on as it came, without CONTENT_LENGTH
    (so Django, which reads CONTENT_LENGTH bytes, sees an empty body)."""
    site = start_site(name, tmp, App('recorder', out=tmp / 'sent.jsonl'),
                      django_env['DEMO_STATIC_ROOT'], session_tmp,
                      tls_for(session_tmp, 'apache'))
    try:
        resp = http_request(site.port, 'GET', site.prefix + '/echo/k/')
        assert resp.status == 200, (resp, site.logs())
        keep_conn = resp.json()['keep_conn']
    except BaseException:
        site.stop()
        raise
    config = 'mod_proxy_fcgi, ProxyPass + CGIPassAuth'
    if name.startswith('reuse-'):
        config += ', enablereuse=on'
    sent = measure_sends(site, session_tmp, apache_label(apache_bin), config)
    assert keep_conn == name.startswith('reuse-'), keep_conn
    assert_sends(site, sent, split=False, chunked_length=False)


def test_apache_proxy_fcgi_sends_without_cgipassauth(
        tmp, session_tmp, apache_bin, django_env):
    """Why the examples have CGIPassAuth On (apache_sends_without_...)."""
    apache_sends_without_cgipassauth(
        'proxy', 'mod_proxy_fcgi, ProxyPass, CGIPassAuth **Off**', tmp,
        session_tmp, apache_bin, django_env)
