"""
logs_app.py: a WSGI application that writes where applications write, for
the log tests (tests/e2e/test_logs.py).

  /print?text=T         print(T) to stdout
  /error?text=T         logging.error(T) (logging's last-resort handler:
                        stderr), then a traceback through logging.exception
  /fd2?text=T           T written straight to descriptor 2 (a C extension)
  /child?text=T         a subprocess (/bin/echo) writes T to the stdout it
                        inherited
  /long?n=N             one line of N bytes ('a'...'a' then 'END') on stdout
  /thread?name=N        starts a non-daemon thread named N that never ends
  /stuck                sleeps 120 s (harakiri)
  /status?code=C        answers with status C
  /pid                  the worker's pid
  anything else         "hello"

With LOGS_APP_AT_IMPORT=T in its environment it also writes, as it is
imported, "T-out" with print() and "T-err" to stderr through a warning,
and "T-fd2" straight to descriptor 2; then, with LOGS_APP_EXIT_AT_IMPORT
set too, it calls os._exit(3) (its last words before it dies).
"""

import logging
import os
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs


def _at_import(token):
    import warnings
    print(token + '-out')
    warnings.warn(token + '-err')
    os.write(2, (token + '-fd2\n').encode())
    if os.environ.get('LOGS_APP_EXIT_AT_IMPORT'):
        os._exit(3)


if os.environ.get('LOGS_APP_AT_IMPORT'):
    _at_import(os.environ['LOGS_APP_AT_IMPORT'])


def _answer(start_response, body, status='200 OK'):
    start_response(status, [('Content-Type', 'text/plain'),
                            ('Content-Length', str(len(body)))])
    return [body]


def _query(environ, name, default=''):
    return parse_qs(environ.get('QUERY_STRING', '')).get(name, [default])[0]


def _forever():
    while True:
        time.sleep(3600)


def stuck_view(environ, start_response):
    time.sleep(120)
    return _answer(start_response, b'woke up\n')


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    text = _query(environ, 'text', 'x')
    if path == '/print':
        print(text)
    elif path == '/error':
        logging.error(text)
        try:
            raise ValueError('boom ' + text)
        except ValueError:
            logging.exception('caught')
    elif path == '/fd2':
        os.write(2, (text + '\n').encode())
    elif path == '/child':
        subprocess.run(['/bin/echo', text], check=True)
    elif path == '/long':
        n = int(_query(environ, 'n', '10'))
        sys.stdout.write('a' * n + 'END\n')
    elif path == '/thread':
        threading.Thread(target=_forever, name=_query(environ, 'name'),
                         daemon=False).start()
    elif path == '/stuck':
        return stuck_view(environ, start_response)
    elif path == '/status':
        code = _query(environ, 'code', '200')
        return _answer(start_response, b'status\n', code + ' Whatever')
    elif path == '/pid':
        return _answer(start_response, str(os.getpid()).encode())
    return _answer(start_response, b'hello\n')
