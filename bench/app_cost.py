#!/usr/bin/python3
"""
bench/app_cost.py: what one request costs inside the app, no gateway.  The
environ fcgi-wsgi builds for the request is captured first (the server
runs bench/capture_app.py and fcgi-load sends the very params of the
bench's direct runs); then the app (bench/hello.py or bench/djbench) is
called on copies of it in a loop (bench/app_loop.py, one process per
app), its answer iterated and closed, and the CPU time per call (less the
loop's own, measured alone) is the app cost; the loop's RSS at its end is
the app's alone, no gateway.  The loop runs under three interpreters:
build/bench/pyembed, linked against the shared libpython that uWSGI
embeds, build/bench/pyembed-fw, linked with libpython as fcgi-wsgi is (the
Makefile's PYLINK), and /usr/bin/python3 (Debian links libpython into it
statically; gunicorn runs on it).  So gateway overhead = the server's CPU
per request - the app cost through the same libpython.

    usage: bench/app_cost.py [--seconds S] APP:URI[:BODY_BYTES]...
           e.g. bench/app_cost.py hello:/hello django:/hello/
                django:/upload/:65536          (APP: hello or django)
Needs build/bench/fcgi-wsgi, build/bench/pyembed and pyembed-fw (make
bench builds them) and bench/fcgi-load.
"""

import argparse
import json
import marshal
import os
import subprocess
from pathlib import Path

from benchlib import (BENCH, BUILD, PYTHON, Proc, fcgi_load_argv, run_tool,
                      wait_unix_socket)
from peers import DJANGO, HELLO, FcgiWsgi

INTERPRETERS = {'shared': BUILD / 'pyembed', 'fw': BUILD / 'pyembed-fw',
                'static': Path(PYTHON)}
MODULES = {'hello': HELLO.module, 'django': DJANGO.module}


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
    """Runs bench/app_loop.py under interpreter for jobs, [module, environ,
    body bytes] lists of one module, in one process: ([{'us', 'loop_us',
    'calls'} for each job], [VmRSS, RssAnon] of the process at the end,
    KiB)."""
    path = Path(tmp) / 'jobs.marshal'
    path.write_bytes(marshal.dumps(jobs))
    done = subprocess.run([str(interpreter), str(BENCH / 'app_loop.py'),
                           str(path), str(seconds)],
                          capture_output=True, text=True, cwd=BENCH,
                          timeout=120 + 20 * seconds * len(jobs))
    lines = [line.split() for line in done.stdout.splitlines()]
    results = [{'us': float(w[1]), 'loop_us': float(w[2]),
                'calls': int(w[3])} for w in lines if w and w[0] == 'job']
    rss = [[int(w[1]), int(w[2])] for w in lines if w and w[0] == 'rss']
    if done.returncode != 0 or len(results) != len(jobs) or not rss:
        raise SystemExit('app_cost: the loop under %s failed:\n%s%s'
                         % (interpreter, done.stdout, done.stderr[-3000:]))
    return results, rss[0]


def costs(fw_bin, requests, tmp, seconds=2.0):
    """({request: {'shared': us, 'fw': us, 'static': us}}, {app: {'shared':
    [VmRSS, RssAnon], ...}}) for requests (see capture): the app cost of
    each, and the memory of each app's loop process, KiB, once it made
    every call (the app alone, no gateway)."""
    environs = capture(fw_bin, requests, tmp)
    out = {r: {} for r in requests}
    rss = {}
    for app in dict.fromkeys(r[0] for r in requests):
        mine = [r for r in requests if r[0] == app]
        jobs = [[MODULES[app], environs[r], r[2]] for r in mine]
        rss[app] = {}
        for name, interpreter in INTERPRETERS.items():
            results, kib = loop_costs(interpreter, jobs, seconds, tmp)
            for request, result in zip(mine, results):
                out[request][name] = result['us']
            rss[app][name] = kib
    return out, rss


def main():
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
        result, rss = costs(args.fcgi_wsgi, requests, tmp, args.seconds)
    print('| request | µs/call, shared libpython | µs/call, as fcgi-wsgi '
          'links it | µs/call, /usr/bin/python3 |')
    print('|---|---:|---:|---:|')
    for request in requests:
        print('| %s %s%s | %.1f | %.1f | %.1f |' % (
            request[0], request[1],
            ' POST %d bytes' % request[2] if request[2] else '',
            result[request]['shared'], result[request]['fw'],
            result[request]['static']))
    print()
    print('| the app alone: RSS (anonymous) KiB | shared libpython | as '
          'fcgi-wsgi links it | /usr/bin/python3 |')
    print('|---|---:|---:|---:|')
    for app, kib in rss.items():
        print('| %s | %s |' % (app, ' | '.join(
            '%d (%d)' % tuple(kib[k]) for k in ('shared', 'fw', 'static'))))


if __name__ == '__main__':
    main()
