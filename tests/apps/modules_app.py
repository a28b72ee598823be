"""A WSGI app that imports nothing but sys: it answers the names in
sys.modules, one a line, so that tests/e2e/test_interp.py can hold the
worker to what a plain interpreter importing this app has.  /raise
raises, for the traceback the worker formats on its first failure."""

import sys


def application(environ, start_response):
    if environ.get('PATH_INFO') == '/raise':
        raise ValueError('modules_app raised on purpose')
    body = ''.join(name + '\n' for name in sorted(sys.modules)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
