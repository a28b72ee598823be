"""
nginx keeping FastCGI connections open (upstream keepalive +
fastcgi_keep_conn on) with far more kept connections than fcgi-wsgi has
threads: every request is answered, none waits for a timeout.  Servers
that pin a worker to a kept connection stall here.
"""

import threading
import time

import pytest

from conftest import Stack, server_env
from e2elib import APPS_DIR, NGINX_DIR, http_request, socket_fds

TEMPLATE = NGINX_DIR / 'fcgi-wsgi-keepalive.conf.in'
CLIENTS = 32
REQUESTS_EACH = 20


@pytest.mark.parametrize('args', [['--threads', '1'],
                                  ['--processes', '2', '--threads', '1']],
                         ids=['1-thread', '2-processes'])
def test_more_kept_connections_than_workers(request, tmp, server_cmd,
                                            nginx_bin, args):
    stack = Stack(tmp / 'ka', server_cmd,
                  ['--chdir', APPS_DIR, '--module', 'validator_app'] + args,
                  TEMPLATE, tmp, server_env())
    request.addfinalizer(stack.stop)

    failures, statuses = [], []
    barrier = threading.Barrier(CLIENTS)

    def client():
        try:
            barrier.wait(timeout=10)
            for i in range(REQUESTS_EACH):
                r = http_request(stack.port, 'GET', '/environ?i=%d' % i,
                                 timeout=10)
                statuses.append(r.status)
        except Exception as e:  # reported below with the logs
            failures.append(repr(e))

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.monotonic() - started

    assert not failures, (failures[:3], stack.logs())
    assert statuses.count(200) == CLIENTS * REQUESTS_EACH, stack.logs()
    # A stall would show as requests waiting for nginx's 60 s timeout.
    assert elapsed < 20, 'took %.1f s' % elapsed

    # The connections were really kept: idle ones stay open in the server.
    pids = [stack.server.pid] + stack.server.children()
    kept = sum(socket_fds(p) for p in pids)
    assert kept > 4, 'only %d sockets open: nothing was kept' % kept
