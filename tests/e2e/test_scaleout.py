"""
Beyond one machine: two fcgi-wsgi instances on TCP (127.0.0.1, free
ports, two workers each) behind one nginx upstream
(examples/nginx/fcgi-wsgi-upstream.conf.in, fastcgi_next_upstream error
timeout).  Load is spread over both; when one instance is killed
(SIGKILL to its whole process group: master and workers) nginx fails over
and no request sent after the kill fails; when one is stopped with
SIGTERM (graceful), no request fails at all.  The figures are printed
(pytest -s shows them).
"""

import os
import re
import signal
import threading
import time

from e2elib import (HTTP_TIMEOUT, NGINX_DIR, Proc, free_port, http_request,
                    wait_tcp, wait_until)
from webservers import App, NginxSite

CLIENTS = 4
MAX_REQUESTS = 3000  # per client: the load is bounded in count and time
CLIENT_TIMEOUT = 10  # s, each request's
TEMPLATE = 'fcgi-wsgi-upstream.conf.in'
# How long nginx may take to fail a request over to the other instance:
# its fastcgi_connect_timeout in the template (a dead instance's port
# refuses at once, so this is the worst case), then the request itself.
CONNECT_TIMEOUT = int(re.search(r'fastcgi_connect_timeout (\d+)s;', (
    NGINX_DIR / TEMPLATE).read_text()).group(1))
FAILOVER_BOUND = CONNECT_TIMEOUT + CLIENT_TIMEOUT
# requests that must be answered after a kill or a stop to call it done
AFTER_KILL, AFTER_STOP = 50, 20


class Load:
    """CLIENTS threads GETting /echo/ until stopped; every result kept as
    (start, end, status or error, pid)."""

    def __init__(self, port):
        self.port = port
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,))
                        for i in range(CLIENTS)]

    def client(self, n):
        for i in range(MAX_REQUESTS):
            if self.stopping.is_set():
                return
            start = time.monotonic()
            try:
                resp = http_request(self.port, 'GET',
                                    '/echo/load/?c=%d&i=%d' % (n, i),
                                    timeout=CLIENT_TIMEOUT)
                outcome = resp.status
                pid = resp.json()['pid'] if resp.status == 200 else None
            except Exception as e:  # a failure to count, not to raise
                outcome, pid = repr(e), None
            with self.lock:
                self.results.append((start, time.monotonic(), outcome, pid))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def snapshot(self):
        with self.lock:
            return list(self.results)


def start_pair(tmp, server_cmd, django_env):
    """Two instances and nginx: (site, [instance a, instance b])."""
    instances = []
    site = None
    try:
        for name in ('a', 'b'):
            port = free_port()
            proc = Proc(server_cmd + ['--socket', '127.0.0.1:%d' % port,
                                      '--processes', '2']
                        + App('fcgi-wsgi').demo_args(None),
                        tmp / ('%s.log' % name), env=django_env,
                        name='fcgi-wsgi-%s' % name)
            proc.port = port
            instances.append(proc)
            wait_tcp(proc, port)
        site = NginxSite('upstream', tmp, TEMPLATE, None,
                         ('127.0.0.1', instances[0].port),
                         django_env['DEMO_STATIC_ROOT'],
                         extra={'SOCKET2': '127.0.0.1:%d' % instances[1].port})
        site.procs[:0] = instances
        site.log_files[:0] = [('fcgi-wsgi ' + p.name, p.log_path)
                              for p in instances]
        return site, instances
    except BaseException:
        for proc in instances:
            proc.stop()
        raise


def serving(results, pids):
    """Results answered by one of pids (an instance's workers)."""
    return [r for r in results if r[3] in pids]


def failed(results):
    return [r for r in results if r[2] != 200]


def both_served(load, instances, timeout=10):
    """Waits (bounded) until each instance has answered some requests."""
    return wait_until(lambda: all(
        len(serving(load.snapshot(), set(p.group_members()))) >= 5
        for p in instances), timeout, step=0.1)


def answered_since(load, since, count, timeout):
    """Waits (bounded) until count requests sent at or after since have
    ended (answered or failed); returns whether they did."""
    return wait_until(lambda: len([r for r in load.snapshot()
                                   if r[0] >= since]) >= count,
                      timeout, step=0.1)


def test_load_spread_and_failover_after_sigkill(tmp, server_cmd, nginx_bin,
                                                django_env):
    site, (a, b) = start_pair(tmp, server_cmd, django_env)
    try:
        with Load(site.port) as load:
            spread = both_served(load, [a, b])
            a_pids, b_pids = set(a.group_members()), set(b.group_members())
            assert spread, ('not spread: %d by a, %d by b of %d' % (
                len(serving(load.snapshot(), a_pids)),
                len(serving(load.snapshot(), b_pids)),
                len(load.snapshot())), site.logs())
            before = load.snapshot()
            killed_at = time.monotonic()
            os.killpg(a.pid, signal.SIGKILL)
            answered_since(load, killed_at, AFTER_KILL,
                           FAILOVER_BOUND + HTTP_TIMEOUT)
            done = len(load.snapshot())
        results = load.snapshot()
        after = [r for r in results if r[0] >= killed_at]
        in_flight = [r for r in results if r[0] < killed_at < r[1]]
        print('\nscale-out, SIGKILL: %d requests before the kill (%d by a, '
              '%d by b), %d failed; %d in flight at the kill, %d of them '
              'failed; %d sent after it, %d failed' % (
                  len(before), len(serving(before, a_pids)),
                  len(serving(before, b_pids)), len(failed(before)),
                  len(in_flight), len(failed(in_flight)), len(after),
                  len(failed(after))))
        assert not failed(before), (failed(before)[:5], site.logs())
        assert len(after) >= AFTER_KILL and done > len(before), (
            len(after), done, site.logs())
        assert not failed(after), (
            '%d of %d requests sent after the kill failed: %s' % (
                len(failed(after)), len(after), failed(after)[:5]),
            site.logs())
        assert {r[3] for r in after} <= b_pids, 'answered by a dead instance'
    finally:
        site.stop()


def test_graceful_stop_of_one_instance_fails_nothing(tmp, server_cmd,
                                                     nginx_bin, django_env):
    site, (a, b) = start_pair(tmp, server_cmd, django_env)
    try:
        with Load(site.port) as load:
            assert both_served(load, [a, b]), site.logs()
            b_pids = set(b.group_members())
            stopped_at = time.monotonic()
            os.kill(a.pid, signal.SIGTERM)
            status = a.wait(15)
            stop_took = time.monotonic() - stopped_at
            answered_since(load, stopped_at + stop_took, AFTER_STOP,
                           FAILOVER_BOUND + HTTP_TIMEOUT)
        results = load.snapshot()
        after = [r for r in results if r[0] >= stopped_at]
        late = [r for r in results if r[0] >= stopped_at + stop_took]
        print('\nscale-out, SIGTERM: instance a stopped in %.2f s (status '
              '%s); %d requests in all, %d failed; %d sent after the '
              'SIGTERM; %d sent after a exited, %d of them answered by b' % (
                  stop_took, status, len(results), len(failed(results)),
                  len(after), len(late), len(serving(late, b_pids))))
        assert status == 0, (status, site.logs())
        assert not failed(results), (
            '%d of %d requests failed: %s' % (
                len(failed(results)), len(results), failed(results)[:5]),
            site.logs())
        assert len(late) >= AFTER_STOP, (len(after), len(late), site.logs())
        assert len(serving(late, b_pids)) == len(late), 'a still answered'
    finally:
        site.stop()
