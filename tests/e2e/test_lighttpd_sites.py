"""
The demo Django project behind the real lighttpd + mod_fastcgi
(examples/lighttpd): (a) bin-path, lighttpd starting fcgi-wsgi itself with
the socket on fd 0 and PHP_FCGI_CHILDREN=4 (fcgi-wsgi's worker count when
its ini has no processes); (b) a socket served by fcgi-wsgi started
through spawn-fcgi (which exits at once: fcgi-wsgi runs its own pool).
check-local disabled, fix-root-scriptname enabled; at the root and under
/app (mount = /app).  The same check-suite as every server.
(test_lighttpd.py runs tests/apps/validator_app.py behind lighttpd.)
"""

import os
import signal

import pytest

from e2elib import (find_binary, http_request, needed, random_body,
                    wait_until)
from webservers import (CHECKS, PREFIX, App, LighttpdSite, assert_sends,
                        check_id, children_of, demo_site, measure_sends,
                        pid_alive,
                        served_concurrently, tls_for, version)

# name: (snippet, prefix, started by spawn-fcgi)
VARIANTS = {
    'binpath-root': ('binpath', '', False),
    'binpath-app': ('binpath', PREFIX, False),
    'spawnfcgi-root': ('socket', '', True),
    'spawnfcgi-app': ('socket', PREFIX, True),
}


@pytest.fixture(scope='module')
def lighttpd_bin():
    return needed(find_binary, 'lighttpd')


def lighttpd_label(binary):
    return 'lighttpd %s' % version([binary, '-v'], r'lighttpd/(\S+)')


def start_site(name, dir, app, static_root, tls=None):
    snippet, prefix, spawn = VARIANTS[name]
    return LighttpdSite(name, dir, snippet, app, static_root, prefix=prefix,
                        mount=prefix or None,
                        spawn=spawn and app.kind == 'fcgi-wsgi', tls=tls)


@pytest.fixture(scope='module', params=list(VARIANTS))
def lighttpd_site(request, session_tmp, server_cmd, lighttpd_bin,
                  django_env):
    # (skipped if spawn-fcgi is missing)
    return needed(demo_site, request, session_tmp, start_site, server_cmd,
                  django_env)


@pytest.mark.parametrize('check', CHECKS, ids=check_id)
def test_lighttpd_site(lighttpd_site, check):
    check(lighttpd_site)


def test_lighttpd_binpath_php_fcgi_children(tmp, server_cmd, lighttpd_bin,
                                            django_env):
    """bin-path: lighttpd starts one fcgi-wsgi (max-procs 1) with
    PHP_FCGI_CHILDREN=4: it runs 4 workers, two serve at once;
    stopping lighttpd stops them all."""
    site = start_site('binpath-root', tmp,
                      App('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'])
    try:
        assert http_request(site.port, 'GET', '/').status == 200, site.logs()
        masters = site.app_processes()
        assert len(masters) == 1, (masters, site.logs())
        master = masters[0][0]
        workers = wait_until(lambda: len(children_of(master)) == 4 and
                             children_of(master), 10)
        assert workers, 'fcgi-wsgi %d has workers %s, expected 4\n%s' % (
            master, children_of(master), site.logs())
        assert served_concurrently(site) in workers
        # SIGTERM to lighttpd only (no group kill that would hide what it
        # left running).
        os.kill(site.proc.pid, signal.SIGTERM)
        assert site.proc.wait(10) is not None, site.logs()
        gone = wait_until(lambda: not any(
            pid_alive(p) for p in [master] + workers), 10)
        assert gone, 'left running after lighttpd stopped: %s' % (
            [p for p in [master] + workers if pid_alive(p)])
    finally:
        site.stop()


@pytest.mark.parametrize('name', list(VARIANTS))
def test_lighttpd_sends(name, tmp, session_tmp, lighttpd_bin, django_env):
    """What lighttpd sends, as fcgi_recorder.py receives it (started by
    lighttpd for bin-path, standing on the socket otherwise)."""
    site = start_site(name, tmp, App('recorder', out=tmp / 'sent.jsonl'),
                      django_env['DEMO_STATIC_ROOT'],
                      tls_for(session_tmp, 'lighttpd'))
    snippet = VARIANTS[name][0]
    config = ('mod_fastcgi, %s, check-local disable, fix-root-scriptname'
              % ('bin-path' if snippet == 'binpath' else 'socket'))
    sent = measure_sends(site, session_tmp, lighttpd_label(lighttpd_bin),
                         config)
    assert_sends(site, sent, split=True)


def test_lighttpd_sends_without_fix_root_scriptname(tmp, session_tmp,
                                                    lighttpd_bin, django_env):
    """Why the examples enable fix-root-scriptname: without it, with the
    key "/", lighttpd splits the path at its second slash, and the
    application would see PATH_INFO=/café/ for /echo/café/."""
    site = LighttpdSite('nofix', tmp, 'socket',
                        App('recorder', out=tmp / 'sent.jsonl'),
                        django_env['DEMO_STATIC_ROOT'],
                        tls=tls_for(session_tmp, 'lighttpd'),
                        fix_root_scriptname=False)
    sent = measure_sends(site, session_tmp, lighttpd_label(lighttpd_bin),
                         'mod_fastcgi, socket, check-local disable, '
                         'fix-root-scriptname **disabled**')
    params = sent[0]
    assert (params.get('SCRIPT_NAME'), params.get('PATH_INFO')) == (
        '/echo', '/café/'), params


def test_lighttpd_body_over_limit(tmp, server_cmd, lighttpd_bin, django_env):
    """server.max-request-size (20480 KiB in lighttpd.conf.in): a larger
    body gets a 413 from lighttpd, and the next request works."""
    site = LighttpdSite('limit', tmp, 'socket',
                        App('fcgi-wsgi', server_cmd, django_env),
                        django_env['DEMO_STATIC_ROOT'])
    try:
        try:
            resp = http_request(site.port, 'POST', '/echo/body/',
                                headers={'Content-Type':
                                         'application/octet-stream'},
                                body=random_body(21 * 1024 * 1024))
            status = resp.status
        except ConnectionError as e:  # lighttpd may close while we send
            status = repr(e)
        assert status == 413, (status, site.logs())
        assert http_request(site.port, 'GET', '/').status == 200
    finally:
        site.stop()
