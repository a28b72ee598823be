#!/usr/bin/python3
"""
bench/app_cost.py: what one request costs inside the app, no gateway.  The
environ fcgi-wsgi builds for the request is captured first (the server
runs bench/capture_app.py and fcgi-load sends the very params of the
bench's direct runs); then the app (bench/hello.py or bench/djbench) is
called on copies of it in a loop, its answer iterated and closed, and the
CPU time per call (less the loop's own, measured alone) is the app cost.
The loop runs under three interpreters: build/bench/pyembed, linked
against the shared libpython that uWSGI embeds, build/bench/pyembed-fw,
linked with libpython as fcgi-wsgi is (the Makefile's PYLINK), and
/usr/bin/python3 (Debian links libpython into it statically; gunicorn runs
on it).  So gateway overhead = the server's CPU per request - the app cost
through the same libpython.

    usage: bench/app_cost.py [--seconds S] APP:URI[:BODY_BYTES]...
           e.g. bench/app_cost.py hello:/hello django:/hello/
                django:/upload/:65536          (APP: hello or django)
Needs build/bench/fcgi-wsgi, build/bench/pyembed and pyembed-fw (make
bench builds them) and bench/fcgi-load.
"""

import argparse
import importlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchlib import (BENCH, BUILD, PYTHON, Proc, fcgi_load_argv, median,
                      run_tool, wait_unix_socket)
from peers import DJANGO, HELLO, FcgiWsgi

INTERPRETERS = {'shared': BUILD / 'pyembed', 'fw': BUILD / 'pyembed-fw',
                'static': Path(PYTHON)}
MODULES = {'hello': HELLO.module, 'django': DJANGO.module}
BATCHES = 7


def pattern_body(size):
    """The body fcgi-load -b sends: a-z repeated."""
    return bytes(97 + i % 26 for i in range(size))


def capture(fw_bin, requests, tmp):
    """{request: environ} for requests, (app, uri, body bytes, headers)
    tuples: each sent once by fcgi-load to fcgi-wsgi running
    bench/capture_app.py."""
    tmp = Path(tmp)
    sock = tmp / 'capture.sock'
    argv = FcgiWsgi('fw', '', 'fastcgi', '').argv(
        HELLO, sock, 1, 1, tmp / 'capture.log')
    argv[argv.index('--module') + 1] = 'capture_app'
    argv[0] = fw_bin
    env = dict(os.environ, BENCH_CAPTURE_DIR=str(tmp))
    server = Proc(argv, tmp / 'capture.out', cwd=BENCH, env=env,
                  name='capture')
    try:
        wait_unix_socket(server, sock, timeout=30)
        out = {}
        for i, request in enumerate(requests):
            _, uri, body, headers = request
            params = list(headers) + [('HTTP_X_BENCH_CAPTURE', 'r%d' % i)]
            text = run_tool(fcgi_load_argv('unix:%s' % sock, requests=1,
                                           conns=1, uri=uri, body=body,
                                           params=params), 60)
            path = tmp / ('r%d.json' % i)
            if not path.exists():
                raise SystemExit('app_cost: no environ captured for %s:\n%s'
                                 % (uri, text))
            out[request] = json.loads(path.read_text())
        return out
    finally:
        server.stop()


def loop_costs(interpreter, jobs, seconds, tmp):
    """Runs the loop under interpreter for jobs, [module, environ, body
    bytes] lists, in one process; its results (dicts, in order)."""
    path = Path(tmp) / 'jobs.json'
    path.write_text(json.dumps(jobs))
    done = subprocess.run([str(interpreter), __file__, '--loop', str(path),
                           str(seconds)],
                          capture_output=True, text=True, cwd=BENCH,
                          timeout=120 + 20 * seconds * len(jobs))
    if done.returncode != 0:
        raise SystemExit('app_cost: the loop under %s failed:\n%s%s'
                         % (interpreter, done.stdout, done.stderr[-3000:]))
    return json.loads(done.stdout.splitlines()[-1])


def costs(fw_bin, requests, tmp, seconds=2.0):
    """{request: {'shared': us, 'fw': us, 'static': us}} for requests (see
    capture)."""
    environs = capture(fw_bin, requests, tmp)
    jobs = [[MODULES[r[0]], environs[r], r[2]] for r in requests]
    out = {r: {} for r in requests}
    for name, interpreter in INTERPRETERS.items():
        for request, result in zip(requests, loop_costs(
                interpreter, jobs, seconds, tmp)):
            out[request][name] = result['us']
    return out


# ------------------------------------------------------------ the loop

def per_call(fn, seconds):
    """Median CPU seconds of one fn() over BATCHES batches lasting about
    seconds in all."""
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
    return median(batches), n * BATCHES


def loop(jobs_path, seconds):
    """Prints a JSON list: for each job of the file, {"us": app cost per
    call, "loop_us", "calls", "python"}."""
    sys.path.insert(0, str(BENCH))
    results = [loop_one(module, environ, body_len, seconds)
               for module, environ, body_len in
               json.loads(Path(jobs_path).read_text())]
    print(json.dumps(results))


def loop_one(module, base, body_len, seconds):
    app = importlib.import_module(module).application
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
    return {'us': (cost - overhead) * 1e6, 'loop_us': overhead * 1e6,
            'calls': calls, 'python': sys.version.split()[0]}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--loop':
        loop(sys.argv[2], float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description='The in-process cost of requests (see the file).')
    parser.add_argument('--seconds', type=float, default=2.0)
    parser.add_argument('--fcgi-wsgi', default=str(BUILD / 'fcgi-wsgi'))
    parser.add_argument('requests', nargs='+')
    args = parser.parse_args()
    requests = []
    for spec in args.requests:
        app, uri, *rest = spec.split(':')
        if app not in MODULES:
            parser.error('%s: APP is hello or django' % spec)
        requests.append((app, uri, int(rest[0]) if rest else 0, ()))
    import tempfile
    with tempfile.TemporaryDirectory(prefix='fw-cost-') as tmp:
        result = costs(args.fcgi_wsgi, requests, tmp, args.seconds)
    print('| request | µs/call, shared libpython | µs/call, as fcgi-wsgi '
          'links it | µs/call, /usr/bin/python3 |')
    print('|---|---:|---:|---:|')
    for request in requests:
        print('| %s %s%s | %.1f | %.1f | %.1f |' % (
            request[0], request[1],
            ' POST %d bytes' % request[2] if request[2] else '',
            result[request]['shared'], result[request]['fw'],
            result[request]['static']))


if __name__ == '__main__':
    main()
