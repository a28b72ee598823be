#!/usr/bin/env python3
"""
bench/floor.py (`make bench-floor`): what a hello request over a new unix
connection costs a server, split into user and kernel CPU, against the
kernel's floor: bench/kernel_floor.c accepts, reads once, sends a canned
answer and closes, nothing else.  fcgi-wsgi (bench/hello.py) and the C
libfcgi responder run with one process of one thread; rounds interleaved
(floor, fcgi-wsgi, C, floor, ...), each server started afresh, loaded by
bench/fcgi-load (32 connections) for a fixed count of requests after a
warm-up; CPU from /proc (the server's whole tree).  Prints a Markdown
table and writes it to bench/results/floor.md.
Env: BENCH_ROUNDS (5), BENCH_REQUESTS (200000).
"""

import sys
import tempfile
import time
from pathlib import Path

from benchlib import (BENCH, BUILD, HZ, Proc, env_number, fcgi_load_argv,
                      median, parse_fcgi_load, run_tool, server_env,
                      user_sys_ticks, wait_unix_socket)
from peers import HELLO, PEER

ROUNDS = env_number('floor', 'BENCH_ROUNDS', 5)
REQUESTS = env_number('floor', 'BENCH_REQUESTS', 200000)
WARMUP = 20000

SERVERS = [
    ('kernel floor (bench/kernel_floor.c)',
     lambda sock: [BUILD / 'kernel_floor', sock]),
    ('fcgi-wsgi, bench/hello.py',
     lambda sock: PEER['fw'].argv(HELLO, sock, 1, 1,
                                  sock.with_name('fw.log'))),
    ('C libfcgi responder (bench/c_responder.c)',
     lambda sock: PEER['c'].argv(HELLO, sock, 1, 1, None)),
]


def visit(tmp, label, argv_of):
    """One server, once: start, warm up, count CPU over REQUESTS."""
    sock = tmp / 'floor.sock'
    proc = Proc(argv_of(sock), tmp / 'server.log', env=server_env(),
                name=label)
    try:
        wait_unix_socket(proc, sock)
        run_tool(fcgi_load_argv('unix:%s' % sock, requests=WARMUP), 60)
        before = user_sys_ticks(proc.pid)
        got = parse_fcgi_load(run_tool(
            fcgi_load_argv('unix:%s' % sock, requests=REQUESTS), 120))
        after = user_sys_ticks(proc.pid)
    finally:
        proc.stop()
        sock.unlink(missing_ok=True)
    if got is None or got['errors']:
        raise SystemExit('floor: %s: failed requests: %s' % (label, got))
    per = 1e6 / HZ / got['ok']
    return {'rps': got['rps'], 'user': (after[0] - before[0]) * per,
            'sys': (after[1] - before[1]) * per}


def main():
    results = {label: [] for label, _ in SERVERS}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix='fw-floor.') as tmp:
        for rnd in range(1, ROUNDS + 1):
            for label, argv_of in SERVERS:
                r = visit(Path(tmp), label, argv_of)
                results[label].append(r)
                print('round %d %-42s %8.0f req/s  user %5.1f  sys %5.1f µs'
                      % (rnd, label, r['rps'], r['user'], r['sys']),
                      file=sys.stderr, flush=True)
    floor_total = median([r['user'] + r['sys']
                          for r in results[SERVERS[0][0]]])
    lines = [
        '# A new connection per request: CPU per hello request, and the '
        "kernel's floor",
        '',
        '`make bench-floor` (bench/floor.py), %s; %d rounds of %d requests '
        'from bench/fcgi-load (32 connections, a unix socket, one new '
        'connection per request), one process of one thread each; medians '
        '(min-max); %.0f s.' % (time.strftime('%Y-%m-%d %H:%M UTC',
                                              time.gmtime()),
                                ROUNDS, REQUESTS, time.time() - started),
        '',
        '| server | req/s | user µs/req | kernel µs/req | total µs/req | '
        'above the floor |',
        '|---|---:|---:|---:|---:|---:|',
    ]
    for label, _ in SERVERS:
        rs = results[label]

        def cell(key, fmt):
            vals = [key(r) for r in rs]
            return (fmt + ' (' + fmt + '-' + fmt + ')') % (
                median(vals), min(vals), max(vals))
        total = median([r['user'] + r['sys'] for r in rs])
        lines.append('| %s | %s | %s | %s | %s | %+.1f µs |' % (
            label, cell(lambda r: r['rps'], '%.0f'),
            cell(lambda r: r['user'], '%.1f'),
            cell(lambda r: r['sys'], '%.1f'),
            cell(lambda r: r['user'] + r['sys'], '%.1f'),
            total - floor_total))
    text = '\n'.join(lines) + '\n'
    print(text)
    (BENCH / 'results' / 'floor.md').write_text(text)


if __name__ == '__main__':
    main()
