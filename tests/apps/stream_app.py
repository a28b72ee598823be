"""
A streamed response with or without "X-Accel-Buffering: no", for the nginx
buffering tests (the demo's /stream/ always sends the header).

    /stream?n=4&delay=0.5&accel=no    n lines, delay s apart, each saying
                                      when it was produced (time.time());
                                      accel=no sends X-Accel-Buffering: no,
                                      anything else sends no such header
    /pid                              the worker's pid
"""

import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = parse_qs(environ.get('QUERY_STRING', ''))
    if path == '/pid':
        body = b'%d\n' % os.getpid()
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    if path != '/stream':
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'not found\n']
    n = min(max(int(query.get('n', ['4'])[0]), 1), 50)
    delay = min(max(float(query.get('delay', ['0.5'])[0]), 0.0), 5.0)
    headers = [('Content-Type', 'text/plain; charset=utf-8'),
               ('Cache-Control', 'no-cache')]
    if query.get('accel', [''])[0] == 'no':
        headers.append(('X-Accel-Buffering', 'no'))
    start_response('200 OK', headers)

    def lines():
        for i in range(1, n + 1):
            if i > 1:
                time.sleep(delay)
            yield ('chunk %d of %d produced_at=%.6f\n'
                   % (i, n, time.time())).encode()

    return lines()
