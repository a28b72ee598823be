"""
Helpers of the bench (bench/bench.py and its stages): where things are,
processes by pid from /proc (a server's tree, its CPU ticks, its RSS), the
two load tools (wrk through nginx, bench/fcgi-load at the socket) run and
their one-line results parsed, and medians.  Process start and stop come
from tests/e2e/e2elib.py (Proc: own session, log file, stop by pid).
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / 'tests' / 'e2e'))
from e2elib import (Proc, free_port, http_request,  # noqa: E402,F401
                    proc_table, tail, wait_tcp, wait_unix_socket)

PYTHON = '/usr/bin/python3'
BUILD = REPO / 'build' / 'bench'
FCGI_LOAD = BENCH / 'fcgi-load'
HZ = os.sysconf('SC_CLK_TCK')


def tree(root):
    """Pids of root and of every live process below it."""
    kids = {}
    for pid, ppid, _, _ in proc_table():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def user_sys_ticks(root):
    """(user, system) clock ticks of root's tree, with what its reaped
    children used (cutime, cstime); None when root is gone."""
    user = system = 0
    found = False
    for pid in tree(root):
        try:
            stat = Path('/proc/%d/stat' % pid).read_text()
        except OSError:
            continue
        f = stat.rsplit(')', 1)[1].split()
        user += int(f[11]) + int(f[13])
        system += int(f[12]) + int(f[14])
        found = found or pid == root
    return (user, system) if found else None


def cpu_ticks(root):
    """utime + stime of root's tree (reaped children included), in clock
    ticks; None when root is gone."""
    ticks = user_sys_ticks(root)
    return None if ticks is None else sum(ticks)


def rss_kib(pid):
    """VmRSS of one process in KiB (0 when it is gone)."""
    try:
        for line in Path('/proc/%d/status' % pid).read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def workers(root):
    """The live direct children of root: a pool's workers."""
    return sorted(pid for pid, ppid, _, _ in proc_table() if ppid == root)


def env_number(tool, name, default, kind=int):
    """The number in environment variable name (> 0), else default; a bad
    value stops `tool` with a line naming it."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        number = -1
    if number <= 0:
        raise SystemExit('%s: %s=%s: want a number > 0' % (tool, name, value))
    return number


def server_env(*prefixes):
    """The environment a server under test runs with: ours without
    Python's and Django's variables, the bench's own (BENCH_ and the
    given prefixes); no .pyc written."""
    drop = ('PYTHON', 'DJANGO', 'BENCH_') + prefixes
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    return env


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def wait_for(predicate, timeout, what):
    """predicate()'s first true value within timeout s, else SystemExit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit('bench: timed out after %.0f s waiting for %s'
                     % (timeout, what))


def run_tool(argv, timeout):
    """Runs a load tool to its end (killed after timeout s); its stdout
    (stderr appended)."""
    try:
        done = subprocess.run([str(a) for a in argv], capture_output=True,
                              text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return '%s: killed after %d s' % (argv[0], timeout)
    return done.stdout + done.stderr


# ------------------------------------------------------------- fcgi-load

def fcgi_load_argv(target, seconds=None, requests=None, conns=32,
                   keep=False, uri='/hello', body=0, body_file=None,
                   params=(), out=None, timeout=10):
    """The command line of one fcgi-load run."""
    argv = [FCGI_LOAD, '-c', conns, '-u', uri, '-t', timeout]
    argv += ['-d', seconds] if seconds else ['-n', requests]
    if keep:
        argv.append('-k')
    if body:
        argv += ['-b', body]
    if body_file:
        argv += ['-B', body_file]
    for name, value in params:
        argv += ['-H', '%s=%s' % (name, value)]
    if out:
        argv += ['-o', out]
    return argv + [target]


def parse_fcgi_load(text):
    """fcgi-load's result line as a dict: rps, p50/p99 (ms), requests, ok
    (answers with status 200), errors (failures and other statuses),
    stalled; None when there is no such line."""
    for line in text.splitlines():
        if line.startswith('rps='):
            v = dict(kv.split('=', 1) for kv in line.split())
            status = {}
            if v['status'] != '-':
                for item in v['status'].split(','):
                    code, count = item.split(':')
                    status[int(code)] = int(count)
            ok = status.get(200, 0)
            seconds = float(v['seconds'])
            return {
                'rps': ok / seconds if seconds > 0 else 0.0,
                'p50': int(v['p50_us']) / 1000, 'p99': int(v['p99_us']) / 1000,
                'requests': int(v['requests']), 'ok': ok,
                'errors': int(v['errors']) + int(v['requests']) - ok,
                'stalled': int(v['stalled']),
                'reconnects': int(v['reconnects']),
                'stdout_bytes': int(v['stdout_bytes']),
            }
    return None


# ------------------------------------------------------------------ wrk

WRK_LATENCY = re.compile(r'^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$')
WRK_UNITS = {'us': 0.001, 'ms': 1.0, 's': 1000.0}


def wrk_argv(port, path, conns, seconds, headers=(), script=None):
    argv = ['wrk', '-t2', '-c%d' % conns, '-d%ds' % seconds, '--latency',
            '--timeout', '5s']
    for name, value in headers:
        argv += ['-H', '%s: %s' % (name, value)]
    if script:
        argv += ['-s', script]
    return argv + ['http://127.0.0.1:%d%s' % (port, path)]


def parse_wrk(text):
    """wrk's report as a dict like parse_fcgi_load's: rps counts only the
    answers in 2xx/3xx; errors are the others plus socket errors."""
    out = {'p50': None, 'p99': None, 'errors': 0, 'stalled': 0}
    requests = seconds = None
    for line in text.splitlines():
        m = WRK_LATENCY.match(line)
        if m:
            ms = float(m.group(2)) * WRK_UNITS[m.group(3)]
            if m.group(1) in ('50', '99'):
                out['p' + m.group(1)] = ms
        m = re.match(r'^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)', line)
        if m:
            requests = int(m.group(1))
            seconds = float(m.group(2)) * {'us': 1e-6, 'ms': 1e-3, 's': 1,
                                           'm': 60}[m.group(3)]
        m = re.match(r'^\s*Non-2xx or 3xx responses: (\d+)', line)
        if m:
            out['errors'] += int(m.group(1))
            out['non2xx'] = int(m.group(1))
        m = re.match(r'^\s*Socket errors: connect (\d+), read (\d+), '
                     r'write (\d+), timeout (\d+)', line)
        if m:
            out['errors'] += sum(int(g) for g in m.groups())
    if requests is None or not seconds:
        return None
    ok = requests - out.get('non2xx', 0)
    out.update(requests=requests, ok=ok, rps=ok / seconds)
    return out
