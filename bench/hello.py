"""The benchmark's plain WSGI app (bench/bench.py, bench/ab.sh): the smallest
response, so that what is measured is the server, not the app; and the
other shapes of answer the bench needs, as cheap as Python makes them.

    /big      1 MiB in one bytes object (with Content-Length)
    /file     the same 1 MiB from a file, through wsgi.file_wrapper in 4 KiB
              blocks, as Django's FileResponse sends a file
    /stream   100 chunks of 1 KiB, one at a time (no Content-Length)
    /echo     the environ's str values sorted, one KEY=VALUE a line, a
              blank line, then the body read whole: what
              bench/check_fcgi_load.py compares between two clients
    anything else: "Hello, World!" (a POST's body left unread)

bench/c_responder.c answers the same paths with the same bytes.
"""

import os  # (loaded by every interpreter anyway: no memory is added)

BODY = b'Hello, World!\n'
BIG = b'b' * (1 << 20)
# BIG in a file, written once (each server imports this module); no
# tempfile module: its imports would add to every worker's RSS
FILE = '%s/fw-bench-1mib-%d' % (os.environ.get('TMPDIR') or '/tmp',
                                os.getuid())
CHUNK = b'x' * 1023 + b'\n'
CHUNKS = 100


def stream():
    for _ in range(CHUNKS):
        yield CHUNK


def echo(environ):
    lines = ['%s=%s\n' % (k, v) for k, v in sorted(environ.items())
             if isinstance(v, str)]
    length = environ.get('CONTENT_LENGTH') or '0'
    body = environ['wsgi.input'].read(int(length))
    return ''.join(lines).encode('latin-1') + b'\n' + body


def big_file():
    """FILE, made if it is not there (renamed into place whole)."""
    if os.path.exists(FILE) and os.path.getsize(FILE) == len(BIG):
        return FILE
    tmp = '%s.%d' % (FILE, os.getpid())
    with open(tmp, 'wb') as f:
        f.write(BIG)
    os.replace(tmp, FILE)
    return FILE


big_file()


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/file':
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(BIG)))])
        return environ['wsgi.file_wrapper'](open(big_file(), 'rb'), 4096)
    if path == '/big':
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(BIG)))])
        return [BIG]
    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return stream()
    if path == '/echo':
        body = echo(environ)
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(BODY)))])
    return [BODY]
