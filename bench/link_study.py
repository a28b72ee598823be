#!/usr/bin/python3
"""
bench/link_study.py (make bench-link): what the way fcgi-wsgi links
Debian's libpython (the Makefile's PYLINK) costs per request.  It builds
the working tree (tracked and new files, in a scratch copy) once per
variant:

  shared      PYLINK=shared: libpython3.11.so (pkg-config python3-embed)
  static-pic  PYLINK=static-pic: libpython3.11-pic.a, a PIE binary
  static      PYLINK=static: libpython3.11.a, a -no-pie binary
  static-lto  PYLINK=static and CFLAGS="-O2 -g -flto": our C under LTO

and Debian's python.o (the main() of /usr/bin/python3) linked each of the
first three ways, to run the same request in process.  Then, with one
worker and one thread, straight at a unix socket (bench/fcgi-load, a new
connection per request), for bench/hello.py and bench/djbench's /hello/
and /page/ (a template page):

  Ir     instructions per request under valgrind --tool=callgrind, of the
         server (bench/callgrind.py) and of a loop calling the WSGI
         callable in process on the environ fcgi-wsgi builds (captured by
         bench/app_cost.py): the run with W+N requests less the run with
         W, over N.  Exact on a busy machine.
  CPU    the server's utime+stime per request (/proc), and the in-process
         cost of the Django requests (bench/app_cost.py's loop, its own
         overhead taken off), in ROUNDS interleaved rounds whose order
         rotates; medians, min-max, and the median of the per-round ratios
         to the first variant.

Prints a Markdown report on stdout, progress on stderr.
    usage: bench/link_study.py [--rounds N] [--seconds S] [--variants ...]
"""

import argparse
import io
import json
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import app_cost
import app_loop
import callgrind
from benchlib import (BENCH, HZ, PYTHON, REPO, Proc, cpu_ticks,
                      fcgi_load_argv, median, parse_fcgi_load, run_tool,
                      wait_unix_socket)
from peers import DJANGO, HELLO, FcgiWsgi

VARIANTS = {
    'shared': ['PYLINK=shared'],
    'static-pic': ['PYLINK=static-pic'],
    'static': ['PYLINK=static'],
    'static-lto': ['PYLINK=static', 'CFLAGS=-O2 -g -flto'],
}
# (label, app, uri, callgrind's N); the in-process loop runs the Django ones.
REQUESTS = [('hello', HELLO, '/hello', 2000),
            ('Django /hello/', DJANGO, '/hello/', 400),
            ('Django /page/', DJANGO, '/page/', 100)]
LOOPED = [r for r in REQUESTS if r[1] is DJANGO]


def say(text):
    print(text, file=sys.stderr, flush=True)


class Variant(FcgiWsgi):
    """fcgi-wsgi as built for one variant (the bench's argv, this binary)."""

    def __init__(self, name, binary):
        super().__init__('fw-' + name, name, 'fastcgi', name)
        self.binary = binary

    def argv(self, app, sock, procs, threads, log):
        argv = super().argv(app, sock, procs, threads, log)
        argv[0] = self.binary
        return argv


# ------------------------------------------------------------- builds

def build(tmp, names):
    """{variant: (Variant, python)}: the server built from a scratch copy
    of the tree, and Debian's python.o linked with the same libraries."""
    files = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'], cwd=REPO, check=True, capture_output=True,
        timeout=60).stdout.decode().split('\0')
    files = sorted(set(f for f in files if f and (REPO / f).is_file()))
    python_o = Path(sysconfig.get_config_var('LIBPL')) / 'python.o'
    out = {}
    for name in names:
        src = tmp / ('src-' + name)
        src.mkdir()
        subprocess.run(['cp', '--parents', '-t', str(src)]
                       + files,
                       cwd=REPO, check=True, timeout=120)
        subprocess.run(['make', '-s', '-j2', '-C', str(src), 'fcgi-wsgi']
                       + VARIANTS[name], check=True, timeout=1200,
                       stdout=subprocess.DEVNULL)
        server = tmp / ('fcgi-wsgi-' + name)
        os.replace(src / 'fcgi-wsgi', server)
        python = tmp / ('python-' + name)
        libs = shlex.split((src / 'build' / 'pylink').read_text())
        subprocess.run(['cc', '-o', str(python), str(python_o)] + libs,
                       check=True, timeout=300)
        out[name] = (Variant(name, server), python)
        say('built %s' % name)
    return out


# ------------------------------------------------------ instructions

def loop_instructions(python, job, calls, tmp):
    """Instructions callgrind counts in python running this file's
    fixed-count loop: start-up, `calls` calls of job, exit."""
    outdir = Path(tempfile.mkdtemp(prefix='cg-loop-', dir=tmp))
    jobs = outdir / 'job.json'
    jobs.write_text(json.dumps(job))
    done = subprocess.run(
        ['valgrind', '--tool=callgrind',
         '--callgrind-out-file=%s/callgrind.%%p' % outdir, str(python),
         __file__, '--loop', str(jobs), str(calls)],
        cwd=BENCH, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit('link_study: the loop under %s failed:\n%s'
                         % (python, done.stderr[-3000:]))
    return callgrind.counted(outdir)


def fixed_loop(job_path, calls):
    """Runs in the interpreter measured: app_cost's job (module, environ,
    body bytes) called `calls` times, its answer iterated and closed."""
    sys.path.insert(0, str(BENCH))
    module, base, body_len = json.loads(Path(job_path).read_text())
    app = __import__(module, fromlist=['application']).application
    base['wsgi.version'] = tuple(base.get('wsgi.version', (1, 0)))
    body = app_loop.pattern_body(body_len)
    statuses = set()

    def start_response(status, headers, exc_info=None):
        statuses.add(status)

    for _ in range(calls):
        environ = dict(base, **{'wsgi.input': io.BytesIO(body),
                                'wsgi.errors': sys.stderr})
        result = app(environ, start_response)
        for _ in result:
            pass
        getattr(result, 'close', lambda: None)()
    if calls and statuses != {'200 OK'}:
        raise SystemExit('link_study: answers %s' % sorted(statuses))


def instructions(built, pythons, environs, tmp, scale):
    """{(what, label): Ir per request}: every variant's server on every
    request, every interpreter's loop on the Django ones (N times scale)."""
    irs = {}
    for label, app, uri, n in REQUESTS:
        n = max(int(n * scale), 10)
        warm = max(n // 10, 20)
        for name, (variant, _) in built.items():
            low = callgrind.instructions(variant, warm, tmp, app, uri)
            high = callgrind.instructions(variant, warm + n, tmp, app, uri)
            irs[(name, label)] = (high - low) / n
            say('callgrind %s %s: %.0f Ir/request'
                % (name, label, irs[(name, label)]))
    for label, app, uri, n in LOOPED:
        n = max(int(n * scale), 10)
        job = [app.module, environs[label], 0]
        for what, python in pythons.items():
            low = loop_instructions(python, job, 20, tmp)
            high = loop_instructions(python, job, 20 + n, tmp)
            irs[(what, label)] = (high - low) / n
            say('callgrind %s loop %s: %.0f Ir/call'
                % (what, label, irs[(what, label)]))
    return irs


# ---------------------------------------------------------- CPU time

def server_cpu(variant, app, uri, seconds, conns, tmp):
    """(server CPU µs per request, requests) over `seconds` of load after
    a second of warm-up."""
    sock = tmp / 'fw.sock'
    server = Proc(variant.argv(app, sock, 1, 1, tmp / 'fw.log'),
                  tmp / 'fw.out', name=variant.key)
    try:
        wait_unix_socket(server, sock, timeout=60)
        target = 'unix:%s' % sock
        results = []
        for duration in (1, seconds):
            t0 = cpu_ticks(server.pid)
            text = run_tool(fcgi_load_argv(target, seconds=duration,
                                           conns=conns, uri=uri), 60 + seconds)
            t1 = cpu_ticks(server.pid)
            results.append((parse_fcgi_load(text), t0, t1, text))
    finally:
        server.stop(timeout=30)
    fig, t0, t1, text = results[-1]
    if fig is None or fig['errors'] or t0 is None or t1 is None:
        raise SystemExit('link_study: %s %s: %s\n%s'
                         % (variant.key, uri, text, server.log_text()))
    return (t1 - t0) * 1e6 / HZ / fig['requests'], fig['requests']


def cpu_rounds(args, built, pythons, environs, tmp):
    """{(what, label): [µs per request, one per round]}."""
    cpu = {}
    jobs = [[app.module, environs[label], 0] for label, app, _, _ in LOOPED]
    names, loops = list(built), list(pythons)
    for rnd in range(args.rounds):
        for name in names[rnd % len(names):] + names[:rnd % len(names)]:
            for label, app, uri, _ in REQUESTS:
                us, n = server_cpu(built[name][0], app, uri, args.seconds,
                                   args.conns, tmp)
                cpu.setdefault((name, label), []).append(us)
                say('round %d %s %s: %.1f µs/req (%d requests)'
                    % (rnd + 1, name, label, us, n))
        for what in loops[rnd % len(loops):] + loops[:rnd % len(loops)]:
            results, _ = app_cost.loop_costs(pythons[what], jobs,
                                             args.seconds, tmp)
            for (label, _, _, _), result in zip(LOOPED, results):
                cpu.setdefault((what, label), []).append(result['us'])
                say('round %d %s loop %s: %.1f µs/call'
                    % (rnd + 1, what, label, result['us']))
    return cpu


# ------------------------------------------------------------ report

def fmt_range(values):
    if not values:
        return '-'
    return '%.1f (%.1f-%.1f)' % (median(values), min(values), max(values))


def ratio(cpu, what, base, label):
    """Median over the rounds of what's CPU / base's in the same round."""
    a, b = cpu.get((what, label)), cpu.get((base, label))
    if not a or not b:
        return '-'
    return '%.3f' % median([x / y for x, y in zip(a, b)])


def ir_cells(irs, what, base, label):
    v, b = irs.get((what, label)), irs.get((base, label))
    if v is None:
        return ['-', '-']
    return ['{:,.0f}'.format(v), '%+.1f%%' % ((v / b - 1) * 100) if b
            else '-']


def table(head, rows):
    return ['| ' + ' | '.join(head) + ' |',
            '|' + '---|' + '---:|' * (len(head) - 1)] + \
        ['| ' + ' | '.join(row) + ' |' for row in rows]


def render(args, names, loops, irs, cpu, machine):
    base = names[0]
    lbase = 'python.o + ' + base if 'python.o + ' + base in loops else loops[0]
    lines = ['fcgi-wsgi, 1 worker x 1 thread, unix socket, bench/fcgi-load '
             '-c%d (a new connection per request); %s.' % (args.conns,
                                                           machine), '']
    for label, _, _, n in REQUESTS:
        lines += ['### %s' % label, '']
        rows = [[name] + ir_cells(irs, name, base, label)
                + [fmt_range(cpu.get((name, label))),
                   ratio(cpu, name, base, label)] for name in names]
        if label in {r[0] for r in LOOPED}:
            rows += [['in process, ' + what]
                     + ir_cells(irs, what, lbase, label)
                     + [fmt_range(cpu.get((what, label))),
                        ratio(cpu, what, lbase, label)] for what in loops]
        lines += table(['build', 'Ir/request', 'Ir vs ' + base,
                        'CPU µs/request', 'CPU / ' + base], rows) + ['']
    lines += ['Ir: callgrind, W+N requests less W, over N (N: %s); '
              'in process: the loop against `%s`.  CPU: median (min-max) '
              'of %d interleaved rounds of %g s; "CPU / X": the median '
              'of the per-round ratios.  In-process CPU is bench/app_cost.py'
              "'s (the loop's own overhead taken off), Ir includes it."
              % (', '.join('%s %d' % (r[0], max(int(r[3] * args.cg_scale), 10))
                           for r in REQUESTS), lbase,
                 args.rounds, args.seconds)]
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(
        description='PYLINK: instructions and CPU per request (see the file)')
    parser.add_argument('--loop', nargs=2, metavar=('JOB', 'CALLS'),
                        help=argparse.SUPPRESS)   # (loop_instructions')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--seconds', type=float, default=3.0)
    parser.add_argument('--conns', type=int, default=8)
    parser.add_argument('--variants', default=','.join(VARIANTS))
    parser.add_argument('--no-callgrind', action='store_true')
    parser.add_argument('--cg-scale', type=float, default=1.0,
                        help="callgrind's N, times this (a quick look)")
    args = parser.parse_args()
    if args.loop:
        fixed_loop(args.loop[0], int(args.loop[1]))
        return
    names = args.variants.split(',')
    if not names or set(names) - set(VARIANTS):
        parser.error('variants: some of %s' % ','.join(VARIANTS))
    os.environ['PYTHONHASHSEED'] = '0'   # the same start-up in every run
    load = ' '.join(open('/proc/loadavg').read().split()[:3])
    with tempfile.TemporaryDirectory(prefix='fw-link-') as tmpname:
        tmp = Path(tmpname)
        built = build(tmp, names)
        pythons = {'/usr/bin/python3': PYTHON}
        pythons.update({'python.o + ' + n: built[n][1] for n in names
                        if n != 'static-lto'})
        captured = app_cost.capture(
            built[names[0]][0].binary,
            [(app.key, uri, 0, ()) for _, app, uri, _ in LOOPED], tmp)
        environs = {label: captured[(app.key, uri, 0, ())]
                    for label, app, uri, _ in LOOPED}
        irs = {} if args.no_callgrind else instructions(
            built, pythons, environs, tmp, args.cg_scale)
        cpu = cpu_rounds(args, built, pythons, environs, tmp)
    machine = '%d cores, load average %s -> %s; Python %s' % (
        os.cpu_count(), load,
        ' '.join(open('/proc/loadavg').read().split()[:3]),
        sys.version.split()[0])
    print(render(args, names, list(pythons), irs, cpu, machine))


if __name__ == '__main__':
    main()
