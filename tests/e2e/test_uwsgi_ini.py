"""
Migrating from uWSGI: examples/django/uwsgi.ini, unchanged but for the
socket given on the command line, serves the demo behind nginx.
"""

import pytest

from conftest import MAIN_TEMPLATE, Stack
from e2elib import (DJANGO_DIR, at_once, http_request, stream_lines,
                    wait_children)


@pytest.fixture(scope='module')
def ini_site(request, session_tmp, server_cmd, nginx_bin, django_env):
    # The ini file first, as a user types it; from another directory, so
    # that `chdir = %d` must be the file's directory, not the cwd.
    stack = Stack(session_tmp / 'ini', server_cmd,
                  [], MAIN_TEMPLATE, django_env['DEMO_STATIC_ROOT'],
                  django_env, leading_args=[DJANGO_DIR / 'uwsgi.ini'],
                  cwd=session_tmp)
    request.addfinalizer(stack.stop)
    return stack


def test_uwsgi_ini_serves_the_demo(ini_site):
    resp = http_request(ini_site.port, 'GET', '/')
    assert resp.status == 200, (resp, ini_site.logs())
    assert 'Hello from Django through fcgi-wsgi' in resp.text
    info = http_request(ini_site.port, 'GET', '/echo/ini/').json()
    assert info['path'] == '/echo/ini/'


def test_uwsgi_ini_processes(ini_site):
    """processes = 2 in the ini: two workers under the master."""
    wait_children(ini_site.server, 2, 5, logs=ini_site.logs)


def test_two_slow_requests_run_in_parallel(ini_site):
    """processes = 2: two 1.5 s streams overlap."""
    def one():
        return stream_lines(ini_site.port, '/stream/?n=4&delay=0.5')

    results, elapsed = at_once(one, one)
    assert all(r is not None and r[0] == 200 for r in results), results
    assert elapsed < 2.7, (
        'two 1.5 s requests took %.2f s: served one after the other' %
        elapsed)


def test_uwsgi_noops_logged_once(ini_site):
    """master and vacuum do not apply here: one line each at start, with
    the reason, not one per worker."""
    log = ini_site.server_log.read_text()
    for line in ('uWSGI option master ignored: fcgi-wsgi always runs a '
                 'master process',
                 'uWSGI option vacuum ignored: the unix socket and the '
                 'pidfile are removed at exit anyway'):
        assert log.count(line) == 1, (line, log)
