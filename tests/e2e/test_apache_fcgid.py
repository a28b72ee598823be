"""
The demo Django project behind the real Apache 2.4 + mod_fcgid
(examples/apache/fcgid.conf.in): Apache starts fcgi-wsgi itself through
fcgid-wrapper.sh with a listening socket on fd 0, an ini file and an
almost empty environment, sends each process one request at a time, and
stops them with SIGTERM.  At the root and under /app (ScriptAlias: CGI's
SCRIPT_NAME + PATH_INFO; mount = /app in the ini), the same check-suite as
every server.  Apache runs as User nobody when the tests run as root.
"""

import pytest

from e2elib import at_once, http_request, needed, random_body, wait_until
from webservers import (CHECKS, PREFIX, App, apache_binary, apache_label,
                        apache_sends_without_cgipassauth, apache_start_site,
                        assert_sends, check_id, demo_site, kill_pids,
                        measure_sends, tls_for)

# name: (prefix, ProxyPass options: none here)
VARIANTS = {'root': ('', ''), 'app': (PREFIX, '')}
start_site = apache_start_site('fcgid', VARIANTS)


@pytest.fixture(scope='module')
def apache_bin():
    return needed(apache_binary, 'fcgid')


@pytest.fixture(scope='module', params=list(VARIANTS))
def fcgid_site(request, session_tmp, server_cmd, apache_bin, django_env):
    return demo_site(request, session_tmp, start_site, server_cmd,
                     django_env, session_tmp)


@pytest.mark.parametrize('check', CHECKS, ids=check_id)
def test_apache_fcgid(fcgid_site, check):
    check(fcgid_site)


def test_apache_fcgid_one_request_per_process(fcgid_site):
    """mod_fcgid sends each process one request at a time: two slow
    requests at once make it start a second fcgi-wsgi, and both take
    about as long as one.  (mod_fcgid decides to spawn by polling: up to
    3 tries.)"""
    duration = 1.5  # /stream/?n=3&delay=0.75
    tries = []
    def slow():
        return http_request(fcgid_site.port, 'GET',
                            fcgid_site.prefix + '/stream/?n=3&delay=0.75')

    for _ in range(3):
        results, elapsed = at_once(slow, slow)
        assert [r and r.status for r in results] == [200, 200], (
            results, fcgid_site.logs())
        assert all(r.body.count(b'\n') == 3 for r in results), results
        processes = fcgid_site.app_processes()
        tries.append((round(elapsed, 2), len(processes)))
        # In parallel: well under two durations (a second process may
        # have had to start Django first).
        if len(processes) >= 2 and elapsed < 2 * duration - 0.3:
            return
    raise AssertionError('two requests at once never ran in two processes '
                         '(elapsed s, processes): %s\n%s' % (
                             tries, fcgid_site.logs()))


def test_apache_fcgid_body_over_limit(fcgid_site):
    """FcgidMaxRequestLen (20 MiB in fcgid.conf.in; 128 KiB by default):
    a larger body gets a 500 from Apache, and the next request works."""
    resp = http_request(fcgid_site.port, 'POST',
                        fcgid_site.prefix + '/echo/body/',
                        headers={'Content-Type': 'application/octet-stream'},
                        body=random_body(21 * 1024 * 1024))
    assert resp.status == 500, resp
    assert 'exceeds MaxRequestLen (20971520)' in fcgid_site.logs()
    after = http_request(fcgid_site.port, 'GET', fcgid_site.prefix + '/')
    assert after.status == 200, (after, fcgid_site.logs())


def test_apache_fcgid_stop_ends_the_app(tmp, session_tmp, server_cmd,
                                        apache_bin, django_env):
    """Stopping Apache (SIGTERM to the pid in its PidFile) stops every
    fcgi-wsgi mod_fcgid started: fcgi-wsgi exits on SIGTERM (status 0),
    none is left."""
    site = start_site('root', tmp, App('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'], session_tmp)
    try:
        assert http_request(site.port, 'GET', '/').status == 200, site.logs()
        apps = site.app_processes()
        assert apps, 'no fcgi-wsgi started by mod_fcgid\n' + site.logs()
        status = site.stop_apache(kill_group=False)
        assert status == 0, (status, site.logs())
        left = wait_until(lambda: not site.app_processes(), 10)
        assert left, 'left running after Apache stopped: %s\n%s' % (
            site.app_processes(), site.logs())
        log = site.logs()
        assert 'terminated by calling exit(), return code: 0' in log, log
        assert 'SIGKILL' not in log and 'signal 9' not in log, log
    finally:
        kill_pids([pid for pid, _ in site.app_processes()])
        site.stop()


@pytest.mark.parametrize('name', list(VARIANTS))
def test_apache_fcgid_sends(name, tmp, session_tmp, apache_bin, django_env):
    """What mod_fcgid sends, as fcgi_recorder.py (started by mod_fcgid
    through the same wrapper) receives it."""
    out_dir = tmp / 'out'
    out_dir.mkdir()
    site = start_site(name, tmp, App('recorder', out=out_dir / 'sent.jsonl'),
                      django_env['DEMO_STATIC_ROOT'], session_tmp,
                      tls_for(session_tmp, 'apache'))
    sent = measure_sends(site, session_tmp, apache_label(apache_bin),
                         'mod_fcgid, ScriptAlias + CGIPassAuth')
    assert_sends(site, sent, split=True)


def test_apache_fcgid_sends_without_cgipassauth(
        tmp, session_tmp, apache_bin, django_env):
    """Why the examples have CGIPassAuth On (apache_sends_without_...)."""
    apache_sends_without_cgipassauth(
        'fcgid', 'mod_fcgid, ScriptAlias, CGIPassAuth **Off**', tmp,
        session_tmp, apache_bin, django_env)


class ManyWorkersApp(App):
    """The demo with an ini asking for 3 processes of 2 threads, as a
    uwsgi.ini copied over might."""

    def program(self, dir, mount=None, processes=None):
        command, ini = super().program(dir, mount, processes=3)
        with open(ini, 'a') as f:
            f.write('threads = 2\n')
        return command, ini


def test_apache_fcgid_launch_serves_one_request_at_a_time(
        tmp, session_tmp, server_cmd, apache_bin, django_env):
    """Started by mod_fcgid (fd 0, parent apache2), fcgi-wsgi serves one
    request at a time whatever the ini says: one worker of one thread
    under its master, and the log says why."""
    site = start_site('root', tmp,
                      ManyWorkersApp('fcgi-wsgi', server_cmd, django_env),
                      django_env['DEMO_STATIC_ROOT'], session_tmp)
    try:
        resp = http_request(site.port, 'GET', '/echo/one/')
        assert resp.status == 200, (resp, site.logs())
        log = site.logs()
        assert 'serving one request at a time' in log, log
        assert '(processes 3 and threads 2 ignored)' in log, log
        # a master and its single worker for the one launch
        assert len(site.app_processes()) == 2, (site.app_processes(), log)
    finally:
        kill_pids([pid for pid, _ in site.app_processes()])
        site.stop()
