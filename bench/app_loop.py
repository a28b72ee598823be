"""
bench/app_loop.py: the loop of bench/app_cost.py, run once per app under
each interpreter.  It imports one app, calls it on copies of each captured
environ in turn (its answer iterated and closed) and prints the CPU time
per call; last, the process's RSS and its anonymous part (the app's
objects): the app alone, with no gateway, after the same requests a
worker serves.  It imports only what the loop needs (no json, no
pathlib), so that this RSS is the app's and the interpreter's.

    usage: INTERPRETER bench/app_loop.py JOBS SECONDS
JOBS: a marshal file of [module, environ, body bytes] lists, one module.
Prints "job US LOOP_US CALLS" for each job, then "rss KIB ANON_KIB"
(VmRSS, RssAnon).
"""

import io
import marshal
import os
import sys
import time

BATCHES = 7


def pattern_body(size):
    """The body fcgi-load -b sends: a-z repeated."""
    return bytes(97 + i % 26 for i in range(size))


def per_call(fn, seconds):
    """Median CPU seconds of one fn() over BATCHES batches lasting about
    seconds in all, and the calls made."""
    n, spent = 1, 0.0
    while spent < 0.02:  # calibrate: a batch of n calls takes >= 20 ms
        n *= 2
        start = time.process_time()
        for _ in range(n):
            fn()
        spent = time.process_time() - start
    n = max(1, int(n * seconds / BATCHES / spent))
    batches = []
    for _ in range(BATCHES):
        start = time.process_time()
        for _ in range(n):
            fn()
        batches.append((time.process_time() - start) / n)
    return sorted(batches)[BATCHES // 2], n * BATCHES


def loop_one(module, base, body_len, seconds):
    """(app cost, loop cost) in seconds per call, and the calls made."""
    __import__(module)
    app = sys.modules[module].application
    base['wsgi.version'] = tuple(base.get('wsgi.version', (1, 0)))
    body = pattern_body(body_len)
    errors = sys.stderr

    def write(data):
        pass

    def start_response(status, headers, exc_info=None):
        return write

    def bare():
        env = base.copy()
        env['wsgi.input'] = io.BytesIO(body)
        env['wsgi.errors'] = errors
        return env

    def call():
        result = app(bare(), start_response)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()

    deadline = time.monotonic() + min(0.5, seconds / 4)
    while time.monotonic() < deadline:  # warm up: imports, templates
        call()
    cost, calls = per_call(call, seconds)
    overhead, _ = per_call(bare, min(0.3, seconds / 4))
    return cost - overhead, overhead, calls


def rss_kib():
    """(VmRSS, RssAnon) of this process, KiB."""
    fields = {}
    with open('/proc/self/status') as f:
        for line in f:
            name, _, value = line.partition(':')
            fields[name] = value.split()[0] if value.split() else '0'
    return int(fields.get('VmRSS', 0)), int(fields.get('RssAnon', 0))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], 'rb') as f:
        jobs = marshal.load(f)
    seconds = float(sys.argv[2])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    for module, environ, body_len in jobs:
        cost, loop, calls = loop_one(module, environ, body_len, seconds)
        print('job %.3f %.3f %d' % (cost * 1e6, loop * 1e6, calls))
    print('rss %d %d' % rss_kib())


if __name__ == '__main__':
    main()
