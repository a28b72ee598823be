#!/usr/bin/python3
"""
bench/report.py: the report of `make bench` from its samples (the JSON
bench/bench.py writes): the targets of issue 10 section 2 with met / not
met first, then requests/s through nginx for every peer, fcgi-wsgi's ratios
to uWSGI taken within each round, every peer's detail (p99, errors, server
CPU per request, that less the app's own cost), the direct runs, callgrind,
memory, and the fcgi-load check; and a PNG chart (gnuplot) of req/s
relative to uWSGI native.  Reading only: it measures nothing.
    usage: bench/report.py RESULTS.json [OUT_PREFIX]   (re-renders .md/.png)
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import median
from peers import FASTCGI_BASE, NATIVE_BASE, PEER, PEERS

FW = 'fw'
MET, NOT_MET, NONE = '✓ met', '✗ not met', '– not measured'


class Samples:
    """The samples of one run, by scenario and peer, with the statistics
    the tables need."""

    def __init__(self, data):
        self.data = data
        self.by = {}
        for s in data['samples']:
            if 'failed' not in s:
                self.by.setdefault((s['scenario'], s['peer']), []).append(s)
        # (bench.py's order: the JSON's keys are sorted)
        order = data.get('order') or list(data['scenarios'])
        self.scenarios = {k: data['scenarios'][k] for k in order}

    def values(self, sc, peer, field):
        return [s[field] for s in self.by.get((sc, peer), ())
                if s.get(field) is not None]

    def stat(self, sc, peer, field='rps'):
        """(median, min, max) of field, or None."""
        v = self.values(sc, peer, field)
        return (median(v), min(v), max(v)) if v else None

    def ratio(self, sc, peer, base, field='rps'):
        """(median, min, max) over rounds of peer's field / base's in the
        same round, or None."""
        rounds = {s['round']: s[field] for s in self.by.get((sc, base), ())
                  if s.get(field)}
        v = [s[field] / rounds[s['round']]
             for s in self.by.get((sc, peer), ())
             if s['round'] in rounds and s.get(field) is not None]
        return (median(v), min(v), max(v)) if v else None

    def errors(self, sc, peer):
        v = self.values(sc, peer, 'errors')
        return sum(v) if v else None

    def of_tool(self, tool):
        return [k for k, v in self.scenarios.items() if v['tool'] == tool]

    def cost(self, sc, peer):
        """The app's own cost (µs) of the scenario's request through the
        interpreter peer runs on (fcgi-wsgi's libpython, the shared one or
        /usr/bin/python3), or None (the C responder runs no app)."""
        key = self.scenarios.get(sc, {}).get('cost')
        if peer == 'c' or key is None:
            return None
        cost = self.data.get('cost', {}).get(json.dumps(key))
        if cost is None:
            return None
        if peer.startswith('gunicorn'):
            return cost['static']
        return cost.get('fw', cost['shared']) if peer == FW else \
            cost['shared']


# ------------------------------------------------------------ formats

def rps(x):
    if x is None:
        return '–'
    return '%.1fk' % (x / 1000) if x >= 10000 else '%.0f' % x


def spread(stat, fmt=rps):
    if stat is None:
        return '–'
    return '%s (%s-%s)' % (fmt(stat[0]), fmt(stat[1]), fmt(stat[2]))


def times(stat):
    if stat is None:
        return '–'
    return '×%.2f (%.2f-%.2f)' % stat


def num(x, fmt='%.1f'):
    return '–' if x is None else fmt % x


def less(stat, cost):
    """The median of stat less cost, or None."""
    return None if stat is None or cost is None else stat[0] - cost


def mark(ok):
    return '' if ok is None else (' ✓' if ok else ' ✗')


def table(head, rows, left=1):
    """A Markdown table; the first `left` columns aligned left, the
    others (figures) right."""
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '|'.join('---' if i < left else '---:'
                          for i in range(len(head))) + '|']
    out += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(out)


def label(s, sc):
    return s.scenarios[sc]['label']


# ------------------------------------------------------------ targets

def every(s, scenarios, test):
    """(verdict, text) of test(sc) -> (ok, figure) over scenarios."""
    results = [(sc,) + test(sc) for sc in scenarios]
    results = [r for r in results if r[1] is not None]
    if not results:
        return NONE, 'not measured'
    failed = [r for r in results if not r[1]]
    text = '%d of %d scenarios' % (len(results) - len(failed), len(results))
    if failed:
        text += '; not: ' + '; '.join('%s %s' % (label(s, r[0]), r[2])
                                      for r in failed)
    return (MET if not failed else NOT_MET), text


def ratio_test(s, base, goal):
    def test(sc):
        r = s.ratio(sc, FW, base)
        return (None, '') if r is None else (r[0] >= goal, '×%.2f' % r[0])
    return test


def p99_test(s):
    def test(sc):
        ours, theirs = s.stat(sc, FW, 'p99'), s.stat(sc, NATIVE_BASE, 'p99')
        if ours is None or theirs is None:
            return None, ''
        return ours[0] <= theirs[0], '%.2f vs %.2f ms' % (ours[0], theirs[0])
    return test


def single(ok, figure):
    """(figure, verdict) of a target measured once (ok None: not)."""
    if ok is None:
        return figure or 'not measured', NONE
    return figure, MET if ok else NOT_MET


def targets(s):
    nginx = s.of_tool('wrk')
    threaded = [sc for sc in nginx if sc.startswith('t4-')]
    rows = []
    for name, scs in (('Through nginx, every scenario', nginx),
                      ('With 4 threads/process', threaded)):
        if not scs:
            continue
        for what, test in (
                ('req/s ≥ 1.15× uWSGI native', ratio_test(s, NATIVE_BASE,
                                                           1.15)),
                ('req/s ≥ 1.3× uWSGI FastCGI', ratio_test(s, FASTCGI_BASE,
                                                           1.3)),
                ('p99 ≤ uWSGI native\'s', p99_test(s))):
            verdict, text = every(s, scs, test)
            rows.append(['%s: %s' % (name, what), text, verdict])

    def one(sc, peer, base, goal, field='rps', below=False, what=''):
        r = s.ratio(sc, peer, base, field)
        if r is None:
            return [what, 'not measured', NONE]
        ok = r[0] <= goal if below else r[0] >= goal
        return [what, '×%.2f (%.2f-%.2f)' % r, MET if ok else NOT_MET]

    rows.append(one('big', FW, 'c', 0.9,
                    what='1 MiB response (nginx): ≥ 0.9× the C ceiling'))
    rows.append(one('dj-post', FW, FASTCGI_BASE, 1.3,
                    what='64 KiB POST (nginx): ≥ 1.3× uWSGI FastCGI'))
    cpu = s.stat('d-hello', FW, 'cpu_us')
    rows.append(['Direct hello: server CPU ≤ 12 µs/request',
                 *single(None if cpu is None else cpu[0] <= 12,
                         cpu and '%.1f µs (%.1f-%.1f)' % cpu)])
    cpu, cost = s.stat('d-dj-hello', FW, 'cpu_us'), s.cost('d-dj-hello', FW)
    if cpu and cost:
        kernel = s.stat('d-dj-hello', FW, 'sys_us')
        rows.append(['Direct Django /hello/: worker CPU ≤ 1.3× app cost',
                     '%.0f µs = ×%.2f of %.0f µs' % (cpu[0], cpu[0] / cost,
                                                      cost) +
                     ('; in the kernel %.0f µs, so in user space ×%.2f' % (
                         kernel[0], (cpu[0] - kernel[0]) / cost)
                      if kernel else ''),
                     MET if cpu[0] <= 1.3 * cost else NOT_MET])
    else:
        rows.append(['Direct Django /hello/: worker CPU ≤ 1.3× app cost',
                     'not measured', NONE])
    rows.append(one('d-dj-post', FW, FASTCGI_BASE, 0.8, 'cpu_us', True,
                    'Direct 64 KiB POST: CPU/request ≤ 0.8× uWSGI\'s'))
    rows.append(one('d-keep', FW, FASTCGI_BASE, 2.5,
                    what='Direct keep-conn: ≥ 2.5× uWSGI req/s'))
    rss = rss_ratios(s)
    if rss:
        ok = all(r <= 0.7 for _, r in rss)
        alone = alone_ratios(s)
        rows.append(['Worker RSS ≤ 0.7× uWSGI native\'s',
                     ', '.join('%s ×%.2f' % (g, r) for g, r in rss) +
                     ('; the app\'s own objects alone (anonymous memory of '
                      'the app in a plain process, no server): ' +
                      ', '.join('%s ×%.2f' % (g, r) for g, r in alone)
                      if alone else ''),
                     MET if ok else NOT_MET])
    else:
        rows.append(['Worker RSS ≤ 0.7× uWSGI native\'s', 'not measured',
                     NONE])
    pool = s.data.get('pool', {}).get(FW)
    rows.append(['Pool PSS reported for 1, 2, 4, 8 workers',
                 'below' if pool else 'not measured',
                 MET if pool and len(pool) >= 4 else NONE])
    errors = s.errors('hello-c128', FW)
    rows.append(['c128, default settings: zero errors',
                 'not measured' if errors is None else '%d errors' % errors,
                 NONE if errors is None else
                 (MET if errors == 0 else NOT_MET)])
    return table(['target (issue 10 §2)', 'figure', ''], rows, left=3)


def rss_ratios(s):
    out = []
    for group, by_peer in sorted(s.data.get('rss', {}).items()):
        ours, theirs = by_peer.get(FW), by_peer.get(NATIVE_BASE)
        if ours and theirs:
            out.append((group, median(ours) / median(theirs)))
    return out


def app_alone(s, group):
    """[VmRSS, RssAnon] KiB of bench/app_loop.py that ran the group's app
    through libpython as fcgi-wsgi links it (None: not measured)."""
    app = s.data['groups'].get(group, {}).get('app')
    return s.data.get('app_rss', {}).get(app, {}).get('fw')


def alone_ratios(s):
    """(group, the anonymous memory of the app alone ÷ uWSGI native's
    worker RSS) for the 1-thread groups."""
    out = []
    for group, by_peer in sorted(s.data.get('rss', {}).items()):
        alone, theirs = app_alone(s, group), by_peer.get(NATIVE_BASE)
        if (alone and theirs and
                s.data['groups'][group].get('threads') == 1):
            out.append((group, alone[1] / median(theirs)))
    return out


# ------------------------------------------------------------ tables

def peer_columns(s, scenarios):
    keys = {p for sc in scenarios for p in s.scenarios[sc]['peers']}
    return [p for p in PEERS if p.key in keys]


def nginx_table(s):
    scs = s.of_tool('wrk')
    peers = peer_columns(s, scs)
    rows = [[label(s, sc)] + [spread(s.stat(sc, p.key)) for p in peers]
            for sc in scs]
    return table(['through nginx, req/s'] + [p.short for p in peers], rows)


def fw_table(s):
    rows = []
    for sc in s.of_tool('wrk'):
        f, n = s.ratio(sc, FW, FASTCGI_BASE), s.ratio(sc, FW, NATIVE_BASE)
        p99 = s.stat(sc, FW, 'p99')
        p99n = s.stat(sc, NATIVE_BASE, 'p99')
        rows.append([
            label(s, sc),
            times(f) + mark(f and f[0] >= 1.3),
            times(n) + mark(n and n[0] >= 1.15),
            '%s / %s%s' % (num(p99 and p99[0], '%.2f'),
                           num(p99n and p99n[0], '%.2f'),
                           mark(p99 and p99n and p99[0] <= p99n[0])),
            ' / '.join(num(s.errors(sc, k), '%d')
                       for k in (FW, FASTCGI_BASE, NATIVE_BASE)),
        ])
    return table(['scenario', 'fcgi-wsgi ÷ uWSGI FastCGI (≥ 1.3)',
                  'fcgi-wsgi ÷ uWSGI native (≥ 1.15)',
                  'p99 ms fcgi-wsgi / uWSGI native', 'errors fw / uF / uN'],
                 rows)


def split_table(s):
    """Where a request's CPU goes through nginx, for fcgi-wsgi and uWSGI
    native: nginx, wrk and the server, µs per request (medians); and the
    ratio to native that fcgi-wsgi would reach if its own share cost
    nothing, the machine's cores being the limit."""
    rows = []
    for sc in s.of_tool('wrk'):
        row, totals = [label(s, sc)], {}
        for peer in (FW, NATIVE_BASE):
            parts = [s.stat(sc, peer, f) for f in
                     ('nginx_us', 'tool_us', 'cpu_us')]
            if None in parts:
                row.append('–')
                continue
            parts = [p[0] for p in parts]
            totals[peer] = parts
            row.append('%.1f + %.1f + %.1f = %.1f' % (*parts, sum(parts)))
        best = None
        if len(totals) == 2 and sum(totals[FW][:2]) > 0:
            best = sum(totals[NATIVE_BASE]) / sum(totals[FW][:2])
        row.append(num(best, '×%.2f'))
        rows.append(row)
    return table(['through nginx, CPU µs/request: nginx + wrk + server',
                  'fcgi-wsgi', 'uWSGI native',
                  'fcgi-wsgi ÷ native if fcgi-wsgi cost 0 µs'], rows)


def detail_table(s):
    rows = []
    for sc in s.scenarios:
        for p in PEERS:
            if (sc, p.key) not in s.by:
                continue
            cpu = s.stat(sc, p.key, 'cpu_us')
            cost = s.cost(sc, p.key)
            rows.append([
                label(s, sc), p.short, spread(s.stat(sc, p.key)),
                times(s.ratio(sc, p.key, FASTCGI_BASE)),
                times(s.ratio(sc, p.key, NATIVE_BASE)),
                num(s.stat(sc, p.key, 'p99') and
                    s.stat(sc, p.key, 'p99')[0], '%.2f'),
                num(s.errors(sc, p.key), '%d'),
                num(cpu and cpu[0]),
                num(cost),
                num(less(cpu, cost)),
            ])
    return table(['scenario', 'peer', 'req/s', '÷ uWSGI FastCGI',
                  '÷ uWSGI native', 'p99 ms', 'errors',
                  'server CPU µs/req', 'app cost µs', 'gateway µs/req'],
                 rows, left=2)


def direct_table(s):
    scs = s.of_tool('load')
    peers = peer_columns(s, scs)
    rows = []
    for sc in scs:
        row = [label(s, sc)]
        for p in peers:
            r, cpu = s.stat(sc, p.key), s.stat(sc, p.key, 'cpu_us')
            stalled = s.values(sc, p.key, 'stalled')
            notes = []
            if stalled and max(stalled):
                notes.append('%d conns stalled' % max(stalled))
            if sum(s.values(sc, p.key, 'reconnects')):
                notes.append('closes kept conns')
            row.append('–' if r is None else '%s, %s µs%s' % (
                spread(r), num(cpu and cpu[0]),
                ''.join(', ' + n for n in notes)))
        cost = s.cost(sc, FW)
        cpu = s.stat(sc, FW, 'cpu_us')
        kernel = s.stat(sc, FW, 'sys_us')
        row += [times(s.ratio(sc, FW, FASTCGI_BASE)),
                times(s.ratio(sc, FW, FASTCGI_BASE, 'cpu_us')),
                num(cost), num(less(cpu, cost)), num(kernel and kernel[0])]
        rows.append(row)
    return table(['straight at the socket, c32'] +
                 ['%s: req/s, CPU/req' % p.short for p in peers] +
                 ['fw ÷ uWSGI req/s', 'fw ÷ uWSGI CPU/req',
                  'app cost µs', 'fw gateway µs/req',
                  'fw kernel µs/req (of the CPU)'], rows)


def cost_table(s):
    cost = s.data.get('cost', {})
    if not cost:
        return None
    rows = []
    for key, v in cost.items():
        app, uri, body, headers = json.loads(key)
        what = '%s %s%s%s' % (app, uri, ' POST %d bytes' % body if body
                              else '', ', %d headers' % len(headers)
                              if headers else '')
        rows.append([what, num(v['shared']), num(v.get('fw')),
                     num(v['static']),
                     num(v['shared'] / v['static'] if v['static'] > 0
                         else None, '×%.2f')])
    return table(['request (bench/app_cost.py)',
                  'µs/call, shared libpython (uWSGI)',
                  'µs/call, libpython as fcgi-wsgi links it',
                  'µs/call, /usr/bin/python3 (gunicorn)', 'shared ÷ static'],
                 rows)


def memory_tables(s):
    out = []
    rss = s.data.get('rss', {})
    if rss:
        peers = [p for p in PEERS if any(p.key in v for v in rss.values())]
        rows = []
        for group, by_peer in sorted(rss.items()):
            row = [s.data['groups'][group]['label']]
            for p in peers:
                v = by_peer.get(p.key)
                row.append('%.1f' % (median(v) / 1024) if v else '–')
            ratio = dict(rss_ratios(s)).get(group)
            row.append(num(ratio, '×%.2f') + mark(ratio and ratio <= 0.7))
            alone = app_alone(s, group)
            row.append('%.1f (%.1f)' % (alone[0] / 1024, alone[1] / 1024)
                       if alone else '–')
            rows.append(row)
        out.append(table(['worker RSS MiB after the group\'s runs '
                          '(median of workers)'] +
                         [p.short for p in peers] +
                         ['fw ÷ uWSGI native (≤ 0.7)',
                          'the app alone, no server: RSS (anonymous)'],
                         rows))
    pool = s.data.get('pool', {})
    if pool:
        sizes = sorted({int(n) for v in pool.values() for n in v})
        keys = [k for k in (FW, FASTCGI_BASE) if k in pool]
        rows = []
        for n in sizes:
            vals = [pool[k].get(str(n), pool[k].get(n)) for k in keys]
            row = [str(n)] + [num(v and v / 1024) for v in vals]
            if len(vals) == 2 and vals[0] and vals[1]:
                row.append('×%.2f' % (vals[0] / vals[1]))
            rows.append(row)
        out.append(table(['Django pool: workers'] +
                         ['%s total PSS MiB' % PEER[k].short for k in keys] +
                         (['fw ÷ uWSGI'] if len(keys) == 2 else []), rows))
    return out


def check_table(s):
    check = s.data.get('check', {})
    if not check:
        return None
    rows = []
    for key, results in check.items():
        bad = [r for r in results if r[1]]
        rows.append([PEER[key].label, '%d of %d identical' % (
            len(results) - len(bad), len(results)),
            '; '.join('%s: %s' % tuple(r) for r in bad) or '–'])
    return table(['server', 'fcgi-load -o = cgi-fcgi stdout', 'differences'],
                 rows, left=3)


LEGEND = """\
What each scenario measures (bench/scenarios.py): **hello** the smallest
WSGI answer (bench/hello.py), the gateway's own cost per request, at 8, 32
and 128 connections (c128: the listen queue, with each server's default
backlog); **30 browser headers** the same with a navigation's headers
(environ building); **1 MiB response** a 1 MiB body in one piece (copying
and the socket path; the C responder is the ceiling); **100-chunk stream**
a generator of 100 × 1 KiB (a write per chunk); **upstream connections
kept** nginx `fastcgi_keep_conn on` with `keepalive 32` for FastCGI,
HTTP/1.1 keep-alive for gunicorn, nothing for uWSGI native (its protocol
has none), the C responder left out (libfcgi serves one connection per
thread: kept connections stall it, see the direct runs); **Django /hello/**
a view returning a string through startproject's middleware; **template
page** a 20-row table rendered from a template that extends a base;
**JSON** a 20-record JsonResponse; **64 KiB POST** a body read whole by
Django (`request.body`; the C responder reads and counts it); **4
threads/process** the same peers with 4 threads each (gunicorn sync sits
out).  Straight at the socket (bench/fcgi-load, 32 connections, a new
connection per request unless FCGI_KEEP_CONN) the server's CPU per request
is the figure the shared 2-core machine does not distort; *gateway µs/req*
is that CPU less the app's own cost measured in-process by
bench/app_cost.py through the same libpython; *fw kernel µs/req* is the
part of fcgi-wsgi's CPU spent in the kernel (system time: accept, read,
send, close and the wake-ups they cause)."""


SPLIT_NOTE = (
    'nginx and wrk run on the same cores as the servers, and their CPU per '
    'request is much the same whoever answers: the last column is the '
    'most that fcgi-wsgi could gain on uWSGI native here by spending '
    'nothing at all (total CPU per request of native, divided by nginx\'s '
    'and wrk\'s with fcgi-wsgi), where the cores are what limits req/s.')

ALONE_NOTE = (
    '*The app alone*: bench/app_loop.py, a plain process that imported the '
    'app through libpython as fcgi-wsgi links it and called it on the '
    'requests of bench/app_cost.py, thousands of times each; no server. '
    'A worker forked from a master that imported the app maps its code '
    'pages only as it touches them again, so it can hold less than that '
    'process; the anonymous part (the app\'s and the interpreter\'s '
    'objects) is what every worker of that app holds at least.')


def render(data):
    s = Samples(data)
    m = data['meta']
    lines = ['# fcgi-wsgi benchmark: `%s`' % m['command'], '',
             '%s; %d cores (%s), %s, Linux %s; load average %.2f before, '
             '%s after; %.1f minutes.' % (
                 m['date'], m['cores'], m['cpu'], m['os'], m['kernel'],
                 m['load_before'][0],
                 num(m.get('load_after') and m['load_after'][0], '%.2f'),
                 m.get('minutes', 0)), '',
             ' · '.join('%s: %s' % (k, m[k]) for k in (
                 'fcgi-wsgi', 'uWSGI', 'gunicorn', 'nginx', 'wrk', 'Python',
                 'Django', 'libfcgi', 'valgrind')), '',
             'Every peer runs %d processes of 1 thread (4 threads where '
             'said), all behind one nginx (1 worker) and loaded by wrk -t2 '
             'on the same machine; %d interleaved rounds (every scenario on '
             'every peer in turn, then again), %d s per run after a '
             '%g s warm-up; figures are medians (min-max) over the rounds, '
             'and a ratio is taken within each round before its median.  '
             'req/s counts answers in 2xx/3xx only.' % (
                 m['processes'], m['rounds'], m['seconds'], m['warmup']), '',
             '![req/s relative to uWSGI native](%s)' % data.get(
                 'chart_name', 'latest.png'), '',
             '## Targets', '', targets(s), '',
             '## Through nginx (wrk)', '', nginx_table(s), '',
             fw_table(s), '', split_table(s), '', SPLIT_NOTE, '']
    if s.of_tool('load'):
        lines += ['## Straight at the socket (bench/fcgi-load)', '',
                  direct_table(s), '']
    cost = cost_table(s)
    if cost:
        lines += ['## The app\'s own cost, in process', '', cost, '']
    cg = data.get('callgrind')
    if cg:
        lines += ['## Instructions per hello request in the worker '
                  '(callgrind)', '',
                  table(['server', 'worker instructions/request'],
                        [[PEER[k].label, '%.0f' % v] for k, v in cg.items()]
                        + ([['fcgi-wsgi ÷ uWSGI FastCGI', '×%.2f' % (
                            cg[FW] / cg[FASTCGI_BASE])]]
                           if FW in cg and FASTCGI_BASE in cg else [])), '']
    mem = memory_tables(s)
    if mem:
        lines += ['## Memory', ''] + [t + '\n' for t in mem]
        if data.get('app_rss'):
            lines += [ALONE_NOTE, '']
    lines += ['## Every peer, every scenario', '', detail_table(s), '']
    check = check_table(s)
    if check:
        lines += ['## bench/fcgi-load against cgi-fcgi', '', check, '']
    notes = ['- %s on %s: %s' % (PEER[b['peer']].label, b['scenario'],
                                 b['why']) for b in data.get('bad', [])]
    notes += ['- %s on %s, round %d: died' % (
        PEER[x['peer']].label, x['scenario'], x['round'])
        for x in data['samples'] if x.get('died')]
    notes += ['- %s on %s, round %d: no result' % (
        PEER[x['peer']].label, x['scenario'], x['round'])
        for x in data['samples'] if 'failed' in x]
    if notes:
        lines += ['## Left out or failed', ''] + notes + ['']
    lines += ['## Scenarios', '', LEGEND, '']
    return '\n'.join(lines)


# ------------------------------------------------------------ chart

def chart(data, png):
    """req/s of each peer relative to uWSGI native in the same round, per
    scenario through nginx, min-max as error bars: a gnuplot PNG."""
    s = Samples(data)
    scs = s.of_tool('wrk')
    if not scs:
        return
    peers = peer_columns(s, scs)
    m = data['meta']
    with tempfile.TemporaryDirectory(prefix='fw-chart-') as tmp:
        dat = Path(tmp) / 'ratios.dat'
        with open(dat, 'w') as f:
            for sc in scs:
                cells = ['"%s"' % label(s, sc).replace('"', "'")]
                for p in peers:
                    r = s.ratio(sc, p.key, NATIVE_BASE)
                    cells += ['-', '-', '-'] if r is None else [
                        '%.4f' % x for x in r]
                f.write(' '.join(cells) + '\n')
        plots = []
        for i, p in enumerate(peers):
            col = 2 + 3 * i
            plots.append("'%s' using %d:%d:%d%s title '%s'" % (
                dat, col, col + 1, col + 2, ':xtic(1)' if i == 0 else '',
                p.short))
        title = ('req/s ÷ uWSGI native in the same round, through nginx '
                 '(median, min-max of %d rounds)\\n%d cores, %d processes '
                 'each; fcgi-wsgi %s, uWSGI %s, gunicorn %s, nginx %s, '
                 'Python %s, Django %s' % (
                     m['rounds'], m['cores'], m['processes'], m['fcgi-wsgi'],
                     m['uWSGI'], m['gunicorn'], m['nginx'], m['Python'],
                     m['Django']))
        script = '\n'.join([
            "set terminal pngcairo size 1500,650 font 'DejaVu Sans,10'",
            "set output '%s'" % png,
            "set title \"%s\"" % title,
            'set datafile missing "-"',
            'set style data histogram',
            'set style histogram errorbars gap 2 lw 1',
            'set style fill solid 0.8 border -1',
            'set boxwidth 0.9',
            'set xtics rotate by -30 scale 0',
            'set ylabel "÷ uWSGI native"',
            'set yrange [0:*]',
            'set grid ytics',
            'set key outside right top vertical',
            'set arrow from graph 0, first 1 to graph 1, first 1 nohead '
            'lw 1.5 lc rgb "black"',
            'set arrow from graph 0, first 1.15 to graph 1, first 1.15 '
            'nohead dt 2 lc rgb "red"',
            'set label "target 1.15" at graph 0.005, first 1.19 '
            'tc rgb "red"',
            'plot ' + ', '.join(plots), ''])
        done = subprocess.run(['gnuplot'], input=script, text=True,
                              capture_output=True, timeout=60)
        if done.returncode != 0:
            print('bench: gnuplot failed:\n%s' % done.stderr,
                  file=sys.stderr)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip())
    data = json.loads(Path(sys.argv[1]).read_text())
    prefix = Path(sys.argv[2] if len(sys.argv) == 3 else
                  Path(sys.argv[1]).with_suffix(''))
    data['chart_name'] = prefix.with_suffix('.png').name
    prefix.with_suffix('.md').write_text(render(data))
    chart(data, prefix.with_suffix('.png'))


if __name__ == '__main__':
    main()
