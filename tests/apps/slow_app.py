"""
slow_app.py: a WSGI application whose views take their time, for the
harakiri, slowlog and status tests.  Each view has a name of its own so
that a logged Python stack shows which one was running.

  /pid                  the worker's pid, at once
  /stuck                stuck_view: sleeps 120 s (past any harakiri limit)
  /slow?seconds=S       slow_view: sleeps S seconds, then answers 200
  /compute?seconds=S&mark=FILE
                        compute_view: creates FILE (when given), then
                        computes (the GIL held, but for Python's switch
                        interval) for S seconds
  /bytes?n=N            N bytes of body
  anything else         "hello"
"""

import os
import time
from urllib.parse import parse_qs


def _answer(start_response, body, status='200 OK'):
    start_response(status, [('Content-Type', 'text/plain'),
                            ('Content-Length', str(len(body)))])
    return [body]


def stuck_view(environ, start_response):
    time.sleep(120)
    return _answer(start_response, b'woke up\n')


def slow_view(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    time.sleep(float(query.get('seconds', ['1'])[0]))
    return _answer(start_response, b'slow done\n')


def compute_view(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    end = time.monotonic() + float(query.get('seconds', ['1'])[0])
    if 'mark' in query:
        with open(query['mark'][0], 'w'):
            pass
    rounds = 0
    while time.monotonic() < end:
        rounds += sum(range(1000)) > 0
    return _answer(start_response, b'computed %d\n' % rounds)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/pid':
        return _answer(start_response, str(os.getpid()).encode())
    if path == '/stuck':
        return stuck_view(environ, start_response)
    if path == '/slow':
        return slow_view(environ, start_response)
    if path == '/compute':
        return compute_view(environ, start_response)
    if path == '/bytes':
        n = int(parse_qs(environ.get('QUERY_STRING', '')).get('n', ['0'])[0])
        return _answer(start_response, b'x' * n)
    if path == '/missing':
        return _answer(start_response, b'no such page\n', '404 Not Found')
    return _answer(start_response, b'hello\n')
