"""
A WSGI app for the process-manager tests (tests/e2e/test_pool.py and
test_reload.py): it says which process answered and which version of the
code it runs, sleeps on demand, and keeps memory on demand.

Paths: /pid, /version, /flags (wsgi.multiprocess/multithread),
/slow?t=S (sleeps S seconds, at most 10; with POOL_APP_STARTED set, first
appends a line to that file, so a test knows the request began),
/alloc?mb=N (allocates N MiB and keeps it), /crash (the worker kills
itself with SIGKILL in the middle of the request: a crash a request
causes).  The reload tests copy this file and change VERSION.
"""

import os
import signal
import time
from urllib.parse import parse_qs

VERSION = 'v1'
_KEPT = []


def _text(start_response, body, status='200 OK'):
    body = body.encode()
    start_response(status, [('Content-Type', 'text/plain'),
                            ('Content-Length', str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = parse_qs(environ.get('QUERY_STRING', ''))
    if path == '/pid':
        return _text(start_response, '%d' % os.getpid())
    if path == '/version':
        return _text(start_response, '%s %d' % (VERSION, os.getpid()))
    if path == '/flags':
        return _text(start_response, 'multiprocess=%s multithread=%s' % (
            environ['wsgi.multiprocess'], environ['wsgi.multithread']))
    if path == '/slow':
        seconds = min(float(query.get('t', ['1'])[0]), 10.0)
        started = os.environ.get('POOL_APP_STARTED')
        if started:
            with open(started, 'a') as f:
                f.write('%d\n' % os.getpid())
        time.sleep(seconds)
        return _text(start_response, '%s %d' % (VERSION, os.getpid()))
    if path == '/crash':
        os.kill(os.getpid(), signal.SIGKILL)
    if path == '/alloc':
        mb = min(int(query.get('mb', ['1'])[0]), 512)
        _KEPT.append(b'\x01' * (mb * 1024 * 1024))
        return _text(start_response, '%d' % os.getpid())
    return _text(start_response, 'not found', '404 Not Found')
