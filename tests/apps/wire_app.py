"""
wire_app.py: the application behind the FastCGI wire tests
(tests/e2e/test_wire_attacks.py, test_cgi_fcgi.py, tests/soak/soak.py).
Each route reports what a test needs to see from inside the app.

    /pid                    the worker's pid
    /hello                  "hello"
    /echo?mode=length|eof   reads the body and answers JSON: length,
                            sha256, CONTENT_LENGTH as seen (None: absent),
                            wsgi.input_terminated, pid, and the worker's
                            open files that are deleted (a temp file);
                            mode=length (the default) reads CONTENT_LENGTH
                            bytes as Django does, mode=eof reads until b''
    /env                    the environ as JSON (non-str values as repr)
    /slow-stream?n=100&interval=0.1
                            n chunks, interval s apart; the iterable's
                            close() appends a JSON line to
                            $WIRE_APP_DIR/closed (when, chunks yielded)
    /stream?n=5&delay=0.05  n lines, delay s apart (a short stream)
    /big?mib=50&chunk=N&lead=L&noise=1
                            mib MiB of body, in chunks of N bytes (a
                            power of two up to 1 MiB, the default) of
                            0xab, or with noise each of
                            random.Random(its index).randbytes(N) (a byte
                            out of place shows); with lead, each chunk
                            follows one of L bytes (up to 64 KiB) of 0xcd
    /file?size=N&skip=K&length=L&wrap=file|bytesio|shrink
                            random.Random(N).randbytes(N) written to a
                            file (unlinked once open), K bytes of it read
                            first, then returned through wsgi.file_wrapper
                            with Content-Length L (default: the rest);
                            wrap=bytesio wraps a BytesIO of the same bytes
                            instead; wrap=shrink truncates the file to
                            1 MiB once $WIRE_APP_DIR/go exists, then
                            writes $WIRE_APP_DIR/shrunk

With WIRE_APP_DIR set, every call first appends "PATH?QUERY" to
$WIRE_APP_DIR/calls, so a test can tell whether the app was called.
"""

import hashlib
import io
import json
import os
import random
import tempfile
import threading
import time
from urllib.parse import parse_qs

MAX_SLOW_CHUNKS = 1000
MAX_BIG_MIB = 512


def _record_call(environ):
    where = os.environ.get('WIRE_APP_DIR')
    if not where:
        return
    line = environ.get('PATH_INFO', '')
    if environ.get('QUERY_STRING'):
        line += '?' + environ['QUERY_STRING']
    with open(os.path.join(where, 'calls'), 'a') as f:
        f.write(line + '\n')


def _answer(start_response, body, status='200 OK',
            content_type='text/plain'):
    if isinstance(body, str):
        body = body.encode('utf-8')
    start_response(status, [('Content-Type', content_type),
                            ('Content-Length', str(len(body)))])
    return [body]


def _json(start_response, obj):
    return _answer(start_response, json.dumps(obj, sort_keys=True),
                   content_type='application/json')


def _deleted_files():
    """Targets of this process's fds that name a deleted file."""
    found = []
    try:
        names = os.listdir('/proc/self/fd')
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink('/proc/self/fd/' + name)
        except OSError:
            continue
        if target.endswith(' (deleted)'):
            found.append(target)
    return sorted(found)


def echo(environ, start_response, query):
    stream = environ['wsgi.input']
    mode = query.get('mode', ['length'])[0]
    raw_length = environ.get('CONTENT_LENGTH')
    digest = hashlib.sha256()
    length = 0
    reads = 0
    if mode == 'eof':
        while True:
            chunk = stream.read(65536)
            reads += 1
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
    else:
        try:
            want = int(raw_length) if raw_length else 0
        except ValueError:
            want = 0
        while length < want:
            chunk = stream.read(min(65536, want - length))
            reads += 1
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
    deleted = _deleted_files()
    return _json(start_response, {
        'length': length, 'sha256': digest.hexdigest(), 'reads': reads,
        'content_length': raw_length,
        'input_terminated': environ.get('wsgi.input_terminated'),
        'pid': os.getpid(), 'deleted_files': deleted, 'mode': mode})


def env_dump(environ, start_response):
    out = {}
    for key, value in environ.items():
        out[key] = value if isinstance(value, str) else repr(value)
    return _json(start_response, out)


class SlowStream:
    """n chunks, interval s apart; close() is recorded in a file."""

    def __init__(self, n, interval):
        self.n = n
        self.interval = interval
        self.sent = 0

    def __iter__(self):
        for i in range(self.n):
            if i:
                time.sleep(self.interval)
            self.sent += 1
            yield b'chunk %d at %.6f\n' % (i + 1, time.time())

    def close(self):
        where = os.environ.get('WIRE_APP_DIR')
        if where:
            with open(os.path.join(where, 'closed'), 'a') as f:
                f.write(json.dumps({'at': time.time(), 'sent': self.sent,
                                    'pid': os.getpid()}) + '\n')


def big(mib, size, lead, noise):
    chunk = b'\xab' * size
    before = b'\xcd' * lead
    for i in range(mib * (1024 * 1024 // size)):
        if before:
            yield before
        yield random.Random(i).randbytes(size) if noise else chunk


MAX_FILE = 64 << 20


def _shrink_when_told(fd, where):
    """Truncates fd (then closed) to 1 MiB once where/go exists (up to
    10 s), then writes where/shrunk."""
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(where, 'go')):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        os.ftruncate(fd, 1 << 20)
    finally:
        os.close(fd)
    with open(os.path.join(where, 'shrunk'), 'w') as f:
        f.write('1')


def file_answer(environ, start_response, query):
    size = min(max(int(query.get('size', ['1048576'])[0]), 0), MAX_FILE)
    skip = min(max(int(query.get('skip', ['0'])[0]), 0), size)
    wrap = query.get('wrap', ['file'])[0]
    data = random.Random(size).randbytes(size)
    if wrap == 'bytesio':
        f = io.BytesIO(data)
    else:
        fd, path = tempfile.mkstemp(dir=os.environ.get('WIRE_APP_DIR'))
        with os.fdopen(fd, 'wb') as w:
            w.write(data)
        f = open(path, 'rb')
        if wrap == 'shrink':
            threading.Thread(target=_shrink_when_told,
                             args=(os.open(path, os.O_WRONLY),
                                   os.environ['WIRE_APP_DIR']),
                             daemon=True).start()
        os.unlink(path)
    f.read(skip)
    length = query.get('length', [str(size - skip)])[0]
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', length)])
    return environ['wsgi.file_wrapper'](f, 8192)


def application(environ, start_response):
    _record_call(environ)
    path = environ.get('PATH_INFO', '')
    query = parse_qs(environ.get('QUERY_STRING', ''))
    if path == '/pid':
        return _answer(start_response, str(os.getpid()))
    if path == '/hello':
        return _answer(start_response, 'hello\n')
    if path == '/echo':
        return echo(environ, start_response, query)
    if path == '/env':
        return env_dump(environ, start_response)
    if path == '/slow-stream':
        n = min(max(int(query.get('n', ['100'])[0]), 1), MAX_SLOW_CHUNKS)
        interval = min(max(float(query.get('interval', ['0.1'])[0]), 0.0),
                       1.0)
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('X-Accel-Buffering', 'no')])
        return SlowStream(n, interval)
    if path == '/stream':
        n = min(max(int(query.get('n', ['5'])[0]), 1), 100)
        delay = min(max(float(query.get('delay', ['0.05'])[0]), 0.0), 1.0)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return SlowStream(n, delay)
    if path == '/file':
        return file_answer(environ, start_response, query)
    if path == '/big':
        mib = min(max(int(query.get('mib', ['50'])[0]), 1), MAX_BIG_MIB)
        size = int(query.get('chunk', [str(1024 * 1024)])[0])
        if size < 1 or size > 1024 * 1024 or size & (size - 1):
            size = 1024 * 1024
        lead = min(max(int(query.get('lead', ['0'])[0]), 0), 65536)
        length = mib * 1024 * 1024 + lead * (mib * 1024 * 1024 // size)
        start_response('200 OK', [
            ('Content-Type', 'application/octet-stream'),
            ('Content-Length', str(length))])
        return big(mib, size, lead, query.get('noise') == ['1'])
    return _answer(start_response, 'not found\n', '404 Not Found')
