"""
A plain WSGI application wrapped in wsgiref.validate.validator, with every
warning turned into an error: any breach of PEP 3333 by the server (environ,
wsgi.input, wsgi.errors, start_response, iteration, close()) becomes an
exception, hence a traceback in the server's log.  tests/e2e serve it behind
nginx and check that the log stays clean for the well-behaved paths.

Paths (PATH_INFO): /hello /environ /query /utf8/<anything> /read-n?size=N
/readline /readline-size /iter /readlines /stream?n=N&delay=S /write
/late-start /no-content /close /errors /error-before /error-exc-info
/error-in-body; anything else is a 404.
"""

import hashlib
import json
import sys
import time
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import validator

warnings.simplefilter('error')

STREAM_MAX_CHUNKS = 100
STREAM_MAX_DELAY = 5.0


def text(start_response, body, status='200 OK',
         content_type='text/plain; charset=utf-8'):
    if isinstance(body, str):
        body = body.encode('utf-8')
    start_response(status, [('Content-Type', content_type),
                            ('Content-Length', str(len(body)))])
    return [body]


def as_json(start_response, obj, status='200 OK'):
    return text(start_response, json.dumps(obj, sort_keys=True,
                                           ensure_ascii=False),
                status, 'application/json')


def content_length(environ):
    value = environ.get('CONTENT_LENGTH', '')
    return int(value) if value else 0


def body_report(environ, data, how, reads):
    return {'how': how, 'length': len(data), 'reads': reads,
            'content_length': content_length(environ),
            'sha256': hashlib.sha256(data).hexdigest()}


def read_n(environ, size):
    """Reads with read(size) until b'': past CONTENT_LENGTH must be EOF."""
    stream = environ['wsgi.input']
    parts, reads = [], 0
    while True:
        chunk = stream.read(size)
        reads += 1
        if not chunk:
            break
        assert len(chunk) <= size, 'read(%d) returned %d bytes' % (
            size, len(chunk))
        parts.append(chunk)
        if reads > 10_000_000:
            raise RuntimeError('wsgi.input never reached its end')
    return b''.join(parts), reads


def read_lines(environ, size=None):
    stream = environ['wsgi.input']
    parts = []
    while True:
        line = stream.readline() if size is None else stream.readline(size)
        if not line:
            break
        if size is not None:
            assert len(line) <= size, 'readline(%d) returned %d bytes' % (
                size, len(line))
        parts.append(line)
        if len(parts) > 10_000_000:
            raise RuntimeError('wsgi.input never reached its end')
    return b''.join(parts), len(parts)


class ClosingBody:
    """An iterable whose close() leaves a line in wsgi.errors."""

    def __init__(self, environ, chunks):
        self.errors = environ['wsgi.errors']
        self.path = environ.get('PATH_INFO', '')
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.errors.write('validator_app: close() called for %s\n'
                          % self.path)
        self.errors.flush()


def stream(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    n = min(max(int(query.get('n', ['3'])[0]), 1), STREAM_MAX_CHUNKS)
    delay = min(max(float(query.get('delay', ['0.5'])[0]), 0.0),
                STREAM_MAX_DELAY)
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('X-Accel-Buffering', 'no')])
    for i in range(1, n + 1):
        if i > 1:
            time.sleep(delay)
        yield ('chunk %d of %d produced_at=%.6f\n'
               % (i, n, time.time())).encode()


def late_start(environ, start_response):
    """A generator: start_response runs only when the server pulls."""
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'late start_response\n'


def error_in_body(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'partial\n'
    raise RuntimeError('validator boom in body')


def app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/hello':
        return text(start_response, 'hello from validator_app\n')
    if path == '/environ':
        report = {k: v for k, v in environ.items() if isinstance(v, str)}
        report['wsgi.version'] = list(environ['wsgi.version'])
        for k in ('wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once'):
            report[k] = environ[k]
        return as_json(start_response, report)
    if path == '/query':
        return as_json(start_response, {
            'QUERY_STRING': environ.get('QUERY_STRING', ''),
            'params': parse_qs(environ.get('QUERY_STRING', ''))})
    if path.startswith('/utf8/'):
        return as_json(start_response, {
            'PATH_INFO': path,
            'decoded': path.encode('latin-1').decode('utf-8')})
    if path == '/read-n':
        query = parse_qs(environ.get('QUERY_STRING', ''))
        size = int(query.get('size', ['1000'])[0])
        data, reads = read_n(environ, size)
        return as_json(start_response, body_report(
            environ, data, 'read(%d)' % size, reads))
    if path == '/readline':
        data, lines = read_lines(environ)
        return as_json(start_response, body_report(
            environ, data, 'readline()', lines))
    if path == '/readline-size':
        data, lines = read_lines(environ, 100)
        return as_json(start_response, body_report(
            environ, data, 'readline(100)', lines))
    if path == '/iter':
        lines = list(environ['wsgi.input'])
        return as_json(start_response, body_report(
            environ, b''.join(lines), 'iteration', len(lines)))
    if path == '/readlines':
        lines = environ['wsgi.input'].readlines()
        return as_json(start_response, body_report(
            environ, b''.join(lines), 'readlines()', len(lines)))
    if path == '/stream':
        return stream(environ, start_response)
    if path == '/write':
        write = start_response('200 OK', [('Content-Type', 'text/plain')])
        write(b'written with write(), ')
        write(b'then ')
        return [b'returned\n']
    if path == '/late-start':
        return late_start(environ, start_response)
    if path == '/no-content':
        start_response('204 No Content', [])
        return []
    if path == '/close':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return ClosingBody(environ, [b'closing ', b'body\n'])
    if path == '/errors':
        errors = environ['wsgi.errors']
        errors.write('validator_app: a line via wsgi.errors.write\n')
        errors.writelines(['validator_app: a line via ',
                           'wsgi.errors.writelines\n'])
        errors.flush()
        return text(start_response, 'wrote to wsgi.errors\n')
    if path == '/error-before':
        raise RuntimeError('validator boom before start_response')
    if path == '/error-exc-info':
        try:
            raise ValueError('validator handled error')
        except ValueError:
            start_response('500 Internal Server Error',
                           [('Content-Type', 'text/plain')], sys.exc_info())
        return [b'handled by the application\n']
    if path == '/error-in-body':
        return error_in_body(environ, start_response)
    return text(start_response, 'no such page: %s\n' % path,
                '404 Not Found')


application = validator(app)
