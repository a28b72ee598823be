"""
The serving threads of one worker process (bridge/serve/lead.c): one of
them at a time waits for connections, and another takes over from it when
its request waits (on I/O: tests/apps/slow_app.py /slow sleeps) past the
steal time, so waiting requests overlap up to `threads`; a request that
computes (/compute, the GIL held) holds the others back only up to the
longest steal time (100 ms), not to its end.
"""

import time

from e2elib import (APPS_DIR, at_once, fcgi_request, wait_unix_socket,
                    wait_until)

APP = ['--chdir', APPS_DIR, '--module', 'slow_app']


def start(start_server, tmp, threads):
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--processes', '1',
                         '--threads', str(threads)] + APP)
    wait_unix_socket(proc, sock)
    return sock


def test_waiting_requests_overlap_up_to_threads(start_server, tmp):
    """threads = 4: four requests that each sleep 1 s end together, about
    1 s after they began (one after another they would take 4 s)."""
    sock = start(start_server, tmp, 4)

    def one():
        return fcgi_request(sock, '/slow', query='seconds=1')

    results, elapsed = at_once(one, one, one, one)
    assert all(r is not None and r.status == 200 for r in results), results
    assert elapsed < 1.9, 'four 1 s requests took %.2f s' % elapsed


def test_quick_request_not_held_behind_a_computing_one(start_server, tmp):
    """threads = 2: while one request computes for 2 s, a quick one sent
    once it has begun is answered long before it ends (the other thread takes the
    lead at the longest steal time, 100 ms, and Python's switch interval
    gives it the GIL)."""
    sock = start(start_server, tmp, 2)
    mark = tmp / 'computing'
    quick = {}

    def computing():
        return fcgi_request(sock, '/compute',
                            query='seconds=2&mark=%s' % mark)

    def hello():
        wait_until(mark.exists, 2, 'the computing request to begin')
        began = time.monotonic()
        answer = fcgi_request(sock, '/hello')
        quick['took'] = time.monotonic() - began
        return answer

    results, elapsed = at_once(computing, hello)
    assert all(r is not None and r.status == 200 for r in results), results
    assert results[0].body.startswith(b'computed'), results[0].body
    assert elapsed >= 2.0, elapsed
    assert quick['took'] < 1.0, \
        'the quick request took %.2f s behind a 2 s one' % quick['took']
