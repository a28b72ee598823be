#!/usr/bin/python3
"""
bench/scale.py, run by `make bench-scale`: fcgi-wsgi's throughput against
its processes (1, 2, 4) and threads (1, 4, 16) on this machine, behind one
nginx (1 worker), loaded by wrk -t2 -c64, on two apps: bench/hello.py and
the bench Django project's /hello/ (bench/djbench).  A cell is one (app,
processes, threads); each visit of a cell starts its server and nginx
afresh (bench/peers.py's Stack), checks one answer, warms up, measures and
stops them.  Rounds are interleaved: every round visits every cell once,
in its own shuffled order.  Writes bench/results/scale.md (median req/s
(min-max) and median p99 per cell) and prints it.

    usage: bench/scale.py
    env:   BENCH_SECONDS  seconds of load per run (3)
           BENCH_ROUNDS   interleaved rounds (2)
           BENCH_WARMUP   seconds of warm-up per visit (1)
           SCALE_ONLY     only these processes x threads, e.g. "1x1,2x4"
           SCALE_OUT      the markdown file (bench/results/scale.md)
Every server listens on a unix socket in a temp dir, nginx on free
127.0.0.1 ports; all are stopped by pid, also on Ctrl-C.
"""

import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import (BENCH, BUILD, http_request, median, parse_wrk,
                      run_tool, server_env, wait_for, workers, wrk_argv)
from peers import DJANGO, HELLO, PEER, Stack

PROCESSES = (1, 2, 4)
THREADS = (1, 4, 16)
CONNS = 64
APPS = ((HELLO, '/hello', 'hello'), (DJANGO, '/hello/', 'Django'))
BODY = b'Hello, World!\n'


def env_number(name, default, kind=int):
    return benchlib.env_number('scale', name, default, kind)


def configs():
    """The (processes, threads) pairs to run: all, or SCALE_ONLY's."""
    every = [(p, t) for p in PROCESSES for t in THREADS]
    only = os.environ.get('SCALE_ONLY', '').strip()
    if not only:
        return every
    out = []
    for item in only.split(','):
        try:
            p, t = (int(n) for n in item.strip().lower().split('x'))
        except ValueError:
            raise SystemExit('scale: SCALE_ONLY=%s: want e.g. "1x1,2x4"'
                             % only)
        if p <= 0 or t <= 0:
            raise SystemExit('scale: SCALE_ONLY: %s: want numbers > 0' % item)
        if (p, t) not in out:
            out.append((p, t))
    return out


def say(text):
    print(text, file=sys.stderr, flush=True)


def visit(tmp, app, path, procs, threads, seconds, warmup):
    """One cell, once: start, check, warm up, measure, stop.  wrk's parsed
    result, or {'failed': why}."""
    peer = PEER['fw']
    ctmp = Path(tempfile.mkdtemp(prefix='%s-%dx%d-' % (app.key, procs,
                                                       threads), dir=tmp))
    stack = Stack(ctmp, app, [peer], procs, threads)
    try:
        stack.start(server_env('SCALE_'))
        pid = stack.servers[peer.key].pid
        if procs > 1:
            wait_for(lambda: len(workers(pid)) >= procs, 60,
                     '%d workers of fcgi-wsgi' % procs)
        port = stack.ports[peer.key]
        resp = http_request(port, 'GET', path, {}, None)
        if resp.status != 200 or resp.body != BODY:
            return {'failed': 'answer: status %s, %r' % (resp.status,
                                                          resp.body[:80])}
        run_tool(wrk_argv(port, path, CONNS, warmup), 60 + 2 * warmup)
        text = run_tool(wrk_argv(port, path, CONNS, seconds),
                        60 + 2 * seconds)
        result = parse_wrk(text)
        if result is None:
            return {'failed': text[-500:]}
        if not stack.alive(peer.key):
            result['died'] = stack.log(peer.key)[-1000:]
        return result
    finally:
        stack.stop()
        shutil.rmtree(ctmp, ignore_errors=True)


def cell_text(samples):
    """'rps (min-max)' and 'p99 ms' of one cell's samples."""
    good = [s for s in samples if 'failed' not in s]
    if not good:
        return 'failed', '–'
    rps = [s['rps'] for s in good]
    text = '%.0f' % median(rps)
    if len(rps) > 1:
        text += ' (%.0f-%.0f)' % (min(rps), max(rps))
    errors = sum(s['errors'] for s in good)
    if errors:
        text += ', %d errors' % errors
    if len(good) < len(samples) or any('died' in s for s in good):
        text += ' (!)'
    p99 = median([s['p99'] for s in good])
    return text, '–' if p99 is None else '%.1f ms' % p99


def render(results, pairs, meta):
    lines = [
        '# fcgi-wsgi: throughput against processes and threads '
        '(`make bench-scale`)',
        '',
        '%s; %d cores (%s); load average %.1f before, %.1f after; '
        '%.1f minutes.' % (meta['date'], meta['cores'], meta['cpu'],
                           meta['load_before'], meta['load_after'],
                           meta['minutes']),
        '',
        'fcgi-wsgi (build/bench/fcgi-wsgi, %s) behind one nginx (1 worker), '
        'wrk -t2 -c%d on the same machine; %d interleaved round(s) (every '
        'cell once per round, in a shuffled order; each visit starts the '
        'server afresh), %d s per run after a %g s warm-up.  req/s: median '
        '(min-max) over the rounds, answers in 2xx/3xx only; p99: median.  '
        'Apps: bench/hello.py, and the bench Django project '
        '(bench/djbench) /hello/.' % (
            meta['cflags'], CONNS, meta['rounds'], meta['seconds'],
            meta['warmup']),
        '',
        '| processes x threads | hello req/s | hello p99 | Django req/s '
        '| Django p99 |',
        '|---|---|---|---|---|',
    ]
    for procs, threads in pairs:
        row = ['%d x %d' % (procs, threads)]
        for _, _, label in APPS:
            row.extend(cell_text(results[(label, procs, threads)]))
        lines.append('| %s |' % ' | '.join(row))
    failed = ['%s %dx%d round %d: %s' % (label, p, t, i + 1,
                                        s['failed'].strip()[-200:])
              for (label, p, t), samples in results.items()
              for i, s in enumerate(samples) if 'failed' in s]
    died = ['%s %dx%d: the server died during a run' % (label, p, t)
            for (label, p, t), samples in results.items()
            if any('died' in s for s in samples)]
    if failed or died:
        lines += ['', '(!) runs without a result or with a dead server:', '']
        lines += ['- %s' % line for line in failed + died]
    return '\n'.join(lines) + '\n'


def cpu_model():
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return '?'


def main():
    if sys.argv[1:]:
        sys.exit(__doc__.strip())
    seconds = env_number('BENCH_SECONDS', 3)
    rounds = env_number('BENCH_ROUNDS', 2)
    warmup = env_number('BENCH_WARMUP', 1)
    pairs = configs()
    out = Path(os.environ.get('SCALE_OUT')
               or BENCH / 'results' / 'scale.md')
    if not os.access(BUILD / 'fcgi-wsgi', os.X_OK):
        sys.exit('scale: %s is not built (make bench-scale builds it)'
                 % (BUILD / 'fcgi-wsgi'))
    for tool in ('nginx', 'wrk'):
        if not shutil.which(tool) and not os.access('/usr/sbin/' + tool,
                                                    os.X_OK):
            sys.exit('scale: %s is not installed (make bench-scale '
                     'installs it)' % tool)
    cells = [(app, path, label, p, t) for app, path, label in APPS
             for p, t in pairs]
    meta = {'date': time.strftime('%Y-%m-%d %H:%M %Z'),
            'cores': os.cpu_count(), 'cpu': cpu_model(),
            'load_before': os.getloadavg()[0], 'seconds': seconds,
            'rounds': rounds, 'warmup': warmup,
            'cflags': os.environ.get('BENCH_CFLAGS', '-O2')}
    say('scale: %d cells x %d rounds of %d s (+%g s warm-up and a start-up '
        'each): about %d min; %d cores (load average %.1f)' % (
            len(cells), rounds, seconds, warmup,
            len(cells) * rounds * (seconds + warmup + 1.5) // 60 + 1,
            meta['cores'], meta['load_before']))
    results = {(label, p, t): [] for _, _, label, p, t in cells}
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix='fw-scale-', dir='/tmp')
    try:
        for rnd in range(1, rounds + 1):
            order = list(cells)
            random.Random(rnd).shuffle(order)
            for app, path, label, p, t in order:
                result = visit(tmp, app, path, p, t, seconds, warmup)
                results[(label, p, t)].append(result)
                if 'failed' in result:
                    say('round %d/%d %-6s %2d x %-2d no result: %s' % (
                        rnd, rounds, label, p, t, result['failed']))
                    continue
                say('round %d/%d %-6s %2d x %-2d %8.0f req/s  p99 %7.2f ms'
                    '  errors %d%s' % (
                        rnd, rounds, label, p, t, result['rps'],
                        result['p99'] or 0, result['errors'],
                        '  DIED:\n' + result['died'] if 'died' in result
                        else ''))
    except KeyboardInterrupt:
        sys.exit('scale: interrupted')
    finally:
        from e2elib import stop_all
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    meta['load_after'] = os.getloadavg()[0]
    meta['minutes'] = (time.monotonic() - started) / 60
    text = render(results, pairs, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    say('scale: wrote %s' % out)


if __name__ == '__main__':
    main()
