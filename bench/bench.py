#!/usr/bin/python3
"""
bench/bench.py, run by `make bench` (and `make bench-quick`): fcgi-wsgi
against uWSGI (FastCGI and its native protocol), gunicorn (sync, gthread)
and a C libfcgi responder, the same processes and threads each, on the
scenarios of bench/scenarios.py, through nginx with wrk and straight at
the socket with bench/fcgi-load.  Rounds are interleaved: in each round
every scenario is run on every peer in turn (A B C ... A B C ...), and a
peer's ratios to uWSGI are taken within the round.  Also: fcgi-load
checked byte for byte against cgi-fcgi on every FastCGI peer, the app's
own cost (bench/app_cost.py), instructions per request under callgrind
(bench/callgrind.py), worker RSS, and pool PSS for 1, 2, 4, 8 workers.
Writes PREFIX.md (bench/report.py renders it), PREFIX.png and PREFIX.json
(every sample).

    usage: bench/bench.py [--quick]
    env:   BENCH_SECONDS   seconds of load per run (2; quick: 1)
           BENCH_ROUNDS    interleaved rounds (3; quick: 2)
           BENCH_WARMUP    seconds of each peer's warm-up per scenario (1)
           BENCH_PROCESSES worker processes of every peer (2)
           BENCH_ONLY      run only these scenario keys (comma-separated)
           BENCH_SKIP      skip stages: check,cost,callgrind,pool
           BENCH_OUT       output prefix (bench/results/latest; quick:
                           build/bench/quick)
Every server listens on a unix socket in a temp dir, nginx on free
127.0.0.1 ports; all are stopped by pid, also on Ctrl-C.
"""

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import app_cost
import callgrind
import check_fcgi_load
import report
import benchlib
from benchlib import (BENCH, BUILD, FCGI_LOAD, HZ, PYTHON, REPO, Proc,
                      cpu_ticks, fcgi_load_argv, http_request, parse_fcgi_load,
                      parse_wrk, rss_kib, run_tool, server_env,
                      user_sys_ticks, wait_for, wait_unix_socket, workers,
                      wrk_argv)
from peers import DJANGO, HELLO, PEER, PEERS, Stack
from pool_memory import smaps
from scenarios import header_params, selected

POOL_SIZES = (1, 2, 4, 8)
POOL_PEERS = ('fw', 'uwsgi-fcgi')
EXPECT = {
    'hello': lambda body: body == b'Hello, World!\n',
    'big': lambda body: len(body) == 1 << 20,
    'stream': lambda body: len(body) == 100 * 1024,
    'upload': lambda body: body == b'65536\n',
}


def children_cpu_s():
    """User + system seconds of this process's reaped children (the load
    tool, once run_tool has waited for it)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def env_number(name, default, kind=int):
    return benchlib.env_number('bench', name, default, kind)


class Config:
    def __init__(self, quick):
        self.quick = quick
        self.seconds = env_number('BENCH_SECONDS', 1 if quick else 2)
        self.rounds = env_number('BENCH_ROUNDS', 2 if quick else 3)
        self.warmup = env_number('BENCH_WARMUP', 1.0, float)
        self.processes = env_number('BENCH_PROCESSES', 2)
        only = os.environ.get('BENCH_ONLY', '')
        self.only = set(only.split(',')) if only else None
        skip = os.environ.get('BENCH_SKIP', '')
        self.skip = set(skip.split(',')) if skip else set()
        if quick:
            self.skip |= {'callgrind', 'pool'}
        default = (BUILD / 'quick') if quick else BENCH / 'results' / 'latest'
        self.out = Path(os.environ.get('BENCH_OUT') or default)
        self.groups = []
        for group in selected(quick):
            group.scenarios = [s for s in group.scenarios
                               if self.only is None or s.key in self.only]
            if group.scenarios:
                self.groups.append(group)


def say(text):
    print(text, file=sys.stderr, flush=True)


def first_line(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except OSError:
        return '(not installed)'
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else '?'


def versions():
    cpu = '?'
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break
    debian = Path('/etc/debian_version')
    return {
        'cores': os.cpu_count(),
        'cpu': cpu,
        'kernel': platform.release(),
        'os': 'Debian %s' % debian.read_text().strip() if debian.exists()
        else platform.platform(),
        'fcgi-wsgi': '%s (%s, %s)' % (
            first_line([BUILD / 'fcgi-wsgi', '--version']).split()[-1],
            first_line(['git', '-C', REPO, 'describe', '--always',
                        '--dirty']),
            os.environ.get('BENCH_CFLAGS', '-O2')),
        'uWSGI': first_line(['uwsgi', '--version']),
        'gunicorn': first_line(['gunicorn', '--version']).split()[-1].strip(
            ')'),
        'nginx': first_line(['nginx', '-v']).split('/')[-1],
        'wrk': first_line(['wrk', '-v']).split()[1],
        'Python': first_line([PYTHON, '--version']).split()[-1],
        'Django': first_line([PYTHON, '-c',
                              'import django; print(django.get_version())']),
        'libfcgi': first_line(['dpkg-query', '-W', '-f', '${Version}',
                               'libfcgi0ldbl']),
        'valgrind': first_line(['valgrind', '--version']).split('-')[-1],
    }


class Bench:
    def __init__(self, cfg, tmp):
        self.cfg = cfg
        self.tmp = Path(tmp)
        self.post_script = self.tmp / 'post.lua'
        self.data = {'samples': [], 'bad': [], 'rss': {}, 'check': {},
                     'cost': {}, 'callgrind': {}, 'pool': {},
                     'scenarios': {}, 'order': [], 'groups': {}}

    # ------------------------------------------------------ one run

    def wrk_args(self, stack, sc, peer, seconds):
        port = stack.ports[peer.key]
        if sc.kept and peer.key in stack.kept_ports:
            port = stack.kept_ports[peer.key]
        return wrk_argv(port, sc.paths[peer.key], sc.conns, seconds,
                        sc.headers, self.post_script if sc.body else None)

    def load_args(self, stack, sc, peer, seconds):
        return fcgi_load_argv('unix:%s' % stack.sockets[peer.key],
                              seconds=seconds, conns=sc.conns, keep=sc.kept,
                              uri=sc.paths[peer.key], body=sc.body,
                              params=self.params(sc, peer))

    def params(self, sc, peer):
        return (header_params(sc.headers)
                + peer.path_params(sc.paths[peer.key]))

    def run_once(self, stack, sc, peer, seconds):
        """One measured run: the tool's parsed result, with the CPU
        microseconds per answered request of the server (cpu_us; sys_us:
        the part spent in the kernel), of the load tool (tool_us) and,
        through nginx, of nginx (nginx_us)."""
        pid = stack.servers[peer.key].pid
        front = None
        if sc.tool == 'wrk':
            argv = self.wrk_args(stack, sc, peer, max(1, round(seconds)))
            parse = parse_wrk
            front = stack.nginx.pid
        else:
            argv = self.load_args(stack, sc, peer, seconds)
            parse = parse_fcgi_load
        before = [user_sys_ticks(pid), cpu_ticks(front) if front else None]
        tool = children_cpu_s()
        text = run_tool(argv, 60 + 2 * seconds)
        tool = children_cpu_s() - tool
        after = [user_sys_ticks(pid), cpu_ticks(front) if front else None]
        result = parse(text)
        if result is None:
            return {'failed': text[-500:]}
        ok = result['ok']
        # the server's user + system time, and its system time alone
        server = [None if t is None else sum(t) for t in (before[0], after[0])]
        kernel = [None if t is None else t[1] for t in (before[0], after[0])]
        for key, b, a in (('cpu_us', server[0], server[1]),
                          ('sys_us', kernel[0], kernel[1]),
                          ('nginx_us', before[1], after[1])):
            result[key] = None
            if b is not None and a is not None and ok > 0:
                result[key] = (a - b) * 1e6 / HZ / ok
        result['tool_us'] = tool * 1e6 / ok if ok > 0 else None
        return result

    # ------------------------------------------------------ sanity

    def answer(self, stack, sc, peer):
        """(status, body) of one request of the scenario's shape."""
        if sc.tool == 'wrk':
            port = stack.ports[peer.key]
            if sc.kept and peer.key in stack.kept_ports:
                port = stack.kept_ports[peer.key]
            body = b'a' * sc.body if sc.body else None
            headers = dict(sc.headers)
            if body:
                headers['Content-Type'] = 'application/octet-stream'
            resp = http_request(port, 'POST' if body else 'GET',
                                sc.paths[peer.key], headers, body)
            return resp.status, resp.body
        out = self.tmp / 'answer.out'
        out.unlink(missing_ok=True)
        argv = fcgi_load_argv('unix:%s' % stack.sockets[peer.key],
                              requests=1, conns=1, uri=sc.paths[peer.key],
                              body=sc.body, params=self.params(sc, peer),
                              out=out, timeout=30)
        result = parse_fcgi_load(run_tool(argv, 60))
        if result is None or not out.exists():
            return None, b''
        head, _, body = out.read_bytes().partition(b'\r\n\r\n')
        return (200 if result['ok'] == 1 else -1), body

    def sanity(self, stack, group):
        """Every peer answers every scenario as it should; a peer that
        does not is left out of that scenario (and named in the report)."""
        bad = set()
        for sc in group.scenarios:
            reference = None
            for peer in sc.peers(stack):
                try:
                    status, body = self.answer(stack, sc, peer)
                except OSError as e:
                    status, body = repr(e), b''
                if sc.expect == 'same':  # as the first good answer
                    if reference is None and status == 200:
                        reference = body
                    good = body == reference
                else:
                    good = EXPECT[sc.expect](body)
                if status != 200 or not good:
                    why = 'status %s, %d bytes: %r' % (status, len(body),
                                                       body[:80])
                    say('bench: %s answers %s wrongly (%s); left out'
                        % (peer.label, sc.key, why))
                    self.data['bad'].append({'scenario': sc.key,
                                             'peer': peer.key, 'why': why})
                    bad.add((sc.key, peer.key))
        return bad

    # ------------------------------------------------------ a group

    def run_group(self, group):
        cfg = self.cfg
        peer_keys = {k for sc in group.scenarios for k in sc.paths}
        peers = [p for p in PEERS if p.key in peer_keys]
        gtmp = self.tmp / group.key
        gtmp.mkdir()
        stack = Stack(gtmp, group.app, peers, cfg.processes, group.threads)
        self.data['groups'][group.key] = {'label': group.label,
                                          'threads': group.threads,
                                          'app': group.app.key}
        for sc in group.scenarios:
            self.data['order'].append(sc.key)
            self.data['scenarios'][sc.key] = {
                'label': sc.label, 'tool': sc.tool, 'group': group.key,
                'conns': sc.conns, 'kept': sc.kept, 'cost': sc.cost,
                'peers': [p.key for p in sc.peers(stack)]}
        say('bench: group %s: starting %s' % (
            group.key, ', '.join(p.label for p in stack.peers)))
        stack.start(server_env())
        try:
            bad = self.sanity(stack, group)
            for sc in group.scenarios:  # warm-up: not measured
                for peer in sc.peers(stack):
                    if (sc.key, peer.key) not in bad:
                        self.run_once(stack, sc, peer, cfg.warmup)
            for rnd in range(1, cfg.rounds + 1):
                for sc in group.scenarios:
                    for peer in sc.peers(stack):
                        if (sc.key, peer.key) in bad:
                            continue
                        self.measure(stack, group, sc, peer, rnd)
            # every peer's RSS after the same requests: before the check,
            # which only the FastCGI peers get (its 200 KiB bodies stay in
            # a worker's heap)
            self.data['rss'][group.key] = {
                p.key: [rss_kib(w) for w in
                        workers(stack.servers[p.key].pid)]
                for p in stack.peers}
            if (group.app is HELLO and not self.data['check']
                    and 'check' not in cfg.skip):
                self.check(stack)
        finally:
            stack.stop()

    def measure(self, stack, group, sc, peer, rnd):
        result = self.run_once(stack, sc, peer, self.cfg.seconds)
        result.update(group=group.key, scenario=sc.key, peer=peer.key,
                      round=rnd)
        if not stack.alive(peer.key):
            result['died'] = True
            say('bench: %s died during %s:\n%s' % (peer.label, sc.key,
                                                   stack.log(peer.key)))
        self.data['samples'].append(result)
        if 'failed' in result:
            say('round %d %-11s %-17s no result: %s' % (
                rnd, sc.key, peer.label, result['failed']))
            return
        say('round %d/%d %-11s %-17s %9.0f req/s  p99 %7.2f ms  '
            'CPU %7s µs/req  errors %d%s' % (
                rnd, self.cfg.rounds, sc.key, peer.label, result['rps'],
                result['p99'] or 0,
                '%.1f' % result['cpu_us'] if result['cpu_us'] else '-',
                result['errors'],
                '  stalled %d' % result['stalled'] if result['stalled']
                else ''))

    # ------------------------------------------------------ stages

    def check(self, stack):
        """fcgi-load against cgi-fcgi on every FastCGI peer running."""
        for peer in stack.peers:
            if peer.proto != 'fastcgi':
                continue
            results = check_fcgi_load.check(
                FCGI_LOAD, 'unix:%s' % stack.sockets[peer.key],
                peer.path_params)
            self.data['check'][peer.key] = [
                [name, problem] for name, _, problem in results]
            failed = [r for r in results if r[2] is not None]
            say('bench: fcgi-load = cgi-fcgi on %s: %d of %d requests%s' % (
                peer.label, len(results) - len(failed), len(results),
                ''.join('\n    %s: %s' % (r[0], r[2]) for r in failed)))

    def costs(self):
        requests = []
        for group in self.cfg.groups:
            for sc in group.scenarios:
                if sc.cost and sc.cost not in requests:
                    requests.append(sc.cost)
        say('bench: app cost of %d requests (bench/app_cost.py)'
            % len(requests))
        seconds = 0.5 if self.cfg.quick else 1.0
        ctmp = self.tmp / 'cost'
        ctmp.mkdir()
        result, rss = app_cost.costs(BUILD / 'fcgi-wsgi', requests, ctmp,
                                     seconds)
        self.data['cost'] = {json.dumps(list(r)): v
                             for r, v in result.items()}
        self.data['app_rss'] = rss

    def callgrind(self):
        say('bench: callgrind, instructions per hello request')
        self.data['callgrind'] = callgrind.per_request(n1=100, n2=600)

    def pool(self):
        """Total PSS (master + workers) of fcgi-wsgi and uWSGI serving the
        Django app with 1, 2, 4, 8 workers, after every worker served."""
        for key in POOL_PEERS:
            self.data['pool'][key] = {}
            for n in POOL_SIZES:
                say('bench: pool PSS, %s, %d workers' % (PEER[key].label, n))
                self.data['pool'][key][n] = self.pool_pss(PEER[key], n)

    def pool_pss(self, peer, n):
        ptmp = Path(tempfile.mkdtemp(prefix='pool-', dir=self.tmp))
        sock = ptmp / 'pool.sock'
        server = Proc(peer.argv(DJANGO, sock, n, 1, ptmp / 'pool.log'),
                      ptmp / 'pool.out', cwd=BENCH, env=server_env(),
                      name='pool')
        try:
            wait_unix_socket(server, sock, timeout=60)
            wait_for(lambda: len(workers(server.pid)) >= n, 60,
                     '%d workers of %s' % (n, peer.label))
            for uri in ('/hello/', '/page/', '/json/'):
                result = parse_fcgi_load(run_tool(fcgi_load_argv(
                    'unix:%s' % sock, requests=40 * n, conns=2 * n, uri=uri,
                    params=peer.path_params(uri)), 120))
                if result is None or result['ok'] != 40 * n:
                    raise SystemExit('bench: %s did not answer %s (pool of '
                                     '%d):\n%s' % (peer.label, uri, n,
                                                   server.log_text()))
            time.sleep(0.5)  # (let lazily freed memory settle, as before)
            pids = [server.pid] + workers(server.pid)
            return sum(smaps(pid)[0] for pid in pids)
        finally:
            server.stop(timeout=30)

    # ------------------------------------------------------ all

    def run(self):
        cfg = self.cfg
        self.post_script.write_text(
            '-- a POST of %d bytes (make bench)\nwrk.method = "POST"\n'
            'wrk.body = string.rep("a", %d)\n'
            'wrk.headers["Content-Type"] = "application/octet-stream"\n'
            % (65536, 65536))
        meta = versions()
        meta.update(seconds=cfg.seconds, rounds=cfg.rounds,
                    warmup=cfg.warmup, processes=cfg.processes,
                    quick=cfg.quick, date=time.strftime('%Y-%m-%d %H:%M %Z'),
                    load_before=os.getloadavg(),
                    command=('make bench-quick' if cfg.quick
                             else 'make bench') + ''.join(
                        ' %s=%s' % (k, v) for k, v in sorted(os.environ.items())
                        if k.startswith('BENCH_') and k != 'BENCH_CFLAGS'))
        self.data['meta'] = meta
        runs = sum(1 for g in cfg.groups for sc in g.scenarios
                   for key in sc.paths if PEER[key].argv(
                       g.app, 'x', cfg.processes, g.threads, 'x'))
        say('bench: %d scenarios x peers, %d rounds of %d s (+%g s warm-up '
            'each): about %d min of load, then start-ups and the other '
            'stages; %d cores (load average %.1f)'
            % (runs, cfg.rounds, cfg.seconds, cfg.warmup,
               (runs * (cfg.rounds * cfg.seconds + max(1, cfg.warmup)))
               // 60 + 1, os.cpu_count(), os.getloadavg()[0]))
        started = time.monotonic()
        for group in cfg.groups:
            self.run_group(group)
        if 'cost' not in cfg.skip:
            self.costs()
        if 'callgrind' not in cfg.skip:
            self.callgrind()
        if 'pool' not in cfg.skip:
            self.pool()
        meta['load_after'] = os.getloadavg()
        meta['minutes'] = (time.monotonic() - started) / 60
        return self.data


def main():
    quick = '--quick' in sys.argv[1:]
    if [a for a in sys.argv[1:] if a != '--quick']:
        sys.exit(__doc__.strip())
    cfg = Config(quick)
    for path in (BUILD / 'fcgi-wsgi', BUILD / 'c_responder',
                 BUILD / 'pyembed', FCGI_LOAD):
        if not os.access(path, os.X_OK):
            sys.exit('bench: %s is not built (make bench builds it)' % path)
    for tool in ('nginx', 'wrk', 'uwsgi', 'gunicorn', 'cgi-fcgi', 'gnuplot',
                 'valgrind'):
        if not shutil.which(tool) and not os.access('/usr/sbin/' + tool,
                                                    os.X_OK):
            sys.exit('bench: %s is not installed (make bench installs it)'
                     % tool)
    tmp = tempfile.mkdtemp(prefix='fw-bench-', dir='/tmp')
    try:
        data = Bench(cfg, tmp).run()
    except KeyboardInterrupt:
        sys.exit('bench: interrupted')
    finally:
        from e2elib import stop_all
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    json_path = cfg.out.with_suffix('.json')
    json_path.write_text(json.dumps(data, indent=1, sort_keys=True))
    data['chart_name'] = cfg.out.with_suffix('.png').name
    text = report.render(data)
    cfg.out.with_suffix('.md').write_text(text)
    report.chart(data, cfg.out.with_suffix('.png'))
    print(text)
    say('bench: wrote %s.{md,png,json} in %.1f min' % (
        cfg.out, data['meta']['minutes']))


if __name__ == '__main__':
    main()
