#!/usr/bin/python3
"""
soak.py: fcgi-wsgi under load and abuse for a while (issue 7, `make soak`:
600 s; `make check`: 60 s).  The real nginx (examples/nginx/
fcgi-wsgi.conf.in) in front of ./fcgi-wsgi serving tests/apps/wire_app.py;
64 client connections send mixed requests through nginx (GET, POST of
64 KiB checked by sha256, a short streamed response), while a chaos loop
SIGKILLs random workers, sends SIGHUP to the master (reload) and opens
silent, cut-off and half-closed connections straight to the FastCGI
socket, and sends the issue's GET_VALUES-inside-STDIN request (which must
be answered).

At the end it checks:
  - every failed request is explained by a kill: it failed as a lost
    upstream does (nginx 502, a truncated or reset response), it was in
    flight at the instant of a kill, and no kill excuses more failures
    than the connections the killed worker held at that instant (counted
    in /proc just before the SIGKILL) or than the requests then in flight;
    timeouts, wrong bodies and other statuses are never excused;
  - the pool's RSS (master + workers) grew at most 5% between the end of
    the warm-up and the end, both measured at rest after the same traffic
    (the load and the abusive connections, no signals) for the same time;
  - the fds each process holds, other than connections on the FastCGI
    socket, are the same at both points (master exactly; workers at most
    the warm-up's);
  - at rest the pool holds no FastCGI connection it held not after the
    warm-up, and uses under 0.2 s of CPU in 2 s;
  - no zombie children: each killed worker reaped within 2 s, none at the
    end; the server stops on SIGTERM with status 0.

Prints one summary line, e.g.
  soak: 71064 requests, 0 failed, 27 lost to 14 kills (bound 281),
  7 reloads, 715 silent, 123 half-closed, 115 cut off, 23/23 GET_VALUES
  attacks answered, rss +0.3%, fds flat, zombies 0
and exits 0 if every check holds, 1 otherwise (with the reasons and the
server's log).

    soak.py [--seconds 600] [--clients 64] [--processes 4] [--threads 2]
            [--server-args '--socket-timeout 5'] [--keep]
FW_E2E_SERVER replaces ./fcgi-wsgi, as in the e2e tests.
"""

import argparse
import hashlib
import http.client
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'e2e'))

from e2elib import (APPS_DIR, FCGI_PARAMS, FCGI_STDIN, NGINX_DIR,  # noqa
                    REPO, FcgiReader, Proc, ServerMissing, fcgi_begin,
                    fcgi_cgi_params, fcgi_get_values, fcgi_params,
                    fcgi_record, fcgi_request_bytes, fcgi_stream,
                    proc_cpu_seconds, proc_fds, proc_rss_bytes, proc_table,
                    server_argv, start_nginx, tail, wait_unix_socket,
                    wait_until, zombie_children)

TEMPLATE = NGINX_DIR / 'fcgi-wsgi.conf.in'
HTTP_TIMEOUT = 30.0
POST_BODY = os.urandom(64 * 1024)
POST_SHA = hashlib.sha256(POST_BODY).hexdigest()
RSS_GROWTH_MAX = 0.05
REST_CPU_MAX = 0.2  # CPU seconds the whole pool may use in 2 s at rest
EXCUSABLE = ('502', 'truncated', 'reset')
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def log(msg):
    print('soak: %s' % msg, flush=True)


# ------------------------------------------------------------ /proc figures

def socket_inodes(path):
    """(listening inodes, connection inodes) of the unix socket at path,
    from /proc/net/unix: the server side of every accepted connection
    carries the listener's path."""
    listening, connected = set(), set()
    with open('/proc/net/unix') as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) < 8 or fields[7] != path:
                continue
            inode = int(fields[6])
            if int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
                listening.add(inode)
            else:
                connected.add(inode)
    return listening, connected


def fd_split(pid, connected):
    """(own fds, FastCGI connections) pid holds."""
    own = conns = 0
    for target in proc_fds(pid).values():
        if target.startswith('socket:[') and \
                int(target[8:-1]) in connected:
            conns += 1
        else:
            own += 1
    return own, conns


def age_seconds(pid):
    """How long pid has run (None if gone)."""
    try:
        stat = Path('/proc/%d/stat' % pid).read_text()
        uptime = float(Path('/proc/uptime').read_text().split()[0])
    except OSError:
        return None
    start = int(stat.rsplit(')', 1)[1].split()[19]) / CLOCK_TICKS
    return uptime - start


def is_zombie(pid):
    try:
        stat = Path('/proc/%d/stat' % pid).read_text()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] == 'Z'


def children(pid):
    """Live (not zombie) children of pid (e2elib's /proc scanner)."""
    return sorted(row[0] for row in proc_table() if row[1] == pid)


# ----------------------------------------------------------------- load

class Load:
    """
    The client connections: each a thread with its own keep-alive HTTP
    connection to nginx, sending mixed requests until stopped.  gate:
    cleared, the clients finish their request and wait (a rest).
    """

    def __init__(self, port, clients):
        self.port = port
        self.stop = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        self.inflight = 0
        self.done = 0
        self.ok = {'get': 0, 'post': 0, 'stream': 0}
        self.failures = []  # (start, end, kind, what)
        self.threads = [threading.Thread(target=self.client, args=(i,),
                                         daemon=True)
                        for i in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        self.gate.set()
        for t in self.threads:
            t.join(HTTP_TIMEOUT + 5)

    def rest(self, timeout=HTTP_TIMEOUT + 5):
        """Stops new requests; waits (bounded) until none is in flight."""
        self.gate.clear()
        return wait_until(lambda: self.inflight == 0, timeout)

    def resume(self):
        self.gate.set()

    def one(self, conn, kind):
        """One request; returns (failure kind or None, detail)."""
        if kind == 'get':
            conn.request('GET', '/pid')
        elif kind == 'post':
            conn.request('POST', '/echo?mode=eof', body=POST_BODY,
                         headers={'Content-Type':
                                  'application/octet-stream'})
        else:
            conn.request('GET', '/stream?n=5&delay=0.01')
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            return ('502' if resp.status == 502 else
                    'status-%d' % resp.status), data[:200]
        if kind == 'get' and not data.strip().isdigit():
            return 'bad-body', data[:200]
        if kind == 'post' and POST_SHA.encode() not in data:
            return 'bad-body', data[:200]
        if kind == 'stream' and data.count(b'\n') != 5:
            lines = data.split(b'\n')
            if len(lines) <= 5 and all(line.startswith(b'chunk ')
                                       for line in lines[:-1]):
                # a stream cut short, ended cleanly by nginx (its upstream
                # died): truncated, not wrong
                return 'truncated', data[:200]
            return 'bad-body', data[:200]
        return None, resp.will_close

    def client(self, index):
        rnd = random.Random(index)
        conn = None
        while not self.stop.is_set():
            if not self.gate.is_set():
                self.gate.wait(1.0)
                continue
            kind = rnd.choices(('get', 'post', 'stream'), (5, 3, 2))[0]
            with self.lock:
                self.inflight += 1
            started = time.monotonic()
            failure, detail = None, None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        '127.0.0.1', self.port, timeout=HTTP_TIMEOUT)
                failure, detail = self.one(conn, kind)
                if failure is None and detail:  # Connection: close
                    conn.close()
                    conn = None
            except socket.timeout as e:
                failure, detail = 'timeout', repr(e)
            except http.client.IncompleteRead as e:
                failure, detail = 'truncated', repr(e)[:200]
            except (OSError, http.client.HTTPException) as e:
                failure, detail = 'reset', repr(e)[:200]
            ended = time.monotonic()
            with self.lock:
                self.inflight -= 1
                self.done += 1
                if failure is None:
                    self.ok[kind] += 1
                else:
                    self.failures.append((started, ended, failure,
                                          '%s: %s' % (kind, detail)))
            if failure is not None and conn is not None:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


# ----------------------------------------------------------------- chaos

class Chaos:
    """
    SIGKILL of a random worker every 2-4 s (only workers up for 2 s, so
    that the crash-loop guard for workers that cannot start stays out of
    it), SIGHUP every 6-10 s, and connections straight to the FastCGI
    socket: silent ones (held 1-8 s), cut-off ones (part of a request,
    then close) and half-closed ones (part of a request, then
    shutdown(SHUT_WR), held until the server closes or 5 s).
    """

    def __init__(self, master, socket_path, load, seed=7):
        self.master = master
        self.path = str(socket_path)
        self.load = load
        self.rnd = random.Random(seed)
        self.kills = []     # (time, pid, held connections, in flight)
        self.kill_walls = []  # the same kills' wall-clock times
        self.unreaped = []  # killed pids still zombies 2 s later
        self.reloads = 0
        self.reload_times = []
        self.silent = 0
        self.half_closed = 0
        self.cut = 0
        self.held = []      # (expiry, socket)
        self.to_reap = []   # (check at, pid)
        self.management = {True: 0, False: 0}  # attacks answered or not
        self.attackers = []
        self.request = fcgi_request_bytes('/echo', 'POST',
                                          body=b'z' * 3000)

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        sock.connect(self.path)
        return sock

    def kill_one(self, now):
        workers = [p for p in children(self.master)
                   if (age_seconds(p) or 0) >= 2.0]
        if not workers:
            return
        pid = self.rnd.choice(workers)
        _, connected = socket_inodes(self.path)
        _, held = fd_split(pid, connected)
        inflight = self.load.inflight
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.kills.append((time.monotonic(), pid, held, inflight))
        self.kill_walls.append(time.time())
        self.to_reap.append((now + 2.0, pid))

    def open_silent(self, now):
        for _ in range(5):
            if len(self.held) >= 80:
                return
            try:
                sock = self.connect()
            except OSError:
                return
            self.held.append((now + self.rnd.uniform(1, 8), sock))
            self.silent += 1

    def open_half_closed(self, now):
        if self.rnd.random() < 0.4:
            cut = self.rnd.randrange(1, 8)  # inside the first header
        else:
            cut = self.rnd.randrange(8, len(self.request))
        try:
            sock = self.connect()
            sock.sendall(self.request[:cut])
            if self.rnd.random() < 0.5:
                sock.close()  # a cut-off request
                self.cut += 1
                return
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        self.held.append((now + 5, sock))
        self.half_closed += 1

    def management_attack(self):
        """GET /pid with a GET_VALUES record naming FCGI_MPXS_CONNS 200
        times inside its STDIN (the issue's remote crash): must be
        answered.  Runs in a thread of its own (it waits for the answer)."""
        data = (fcgi_begin(1) + fcgi_stream(FCGI_PARAMS, 1, fcgi_params(
            fcgi_cgi_params('/pid'))) + fcgi_get_values(
                [b'FCGI_MPXS_CONNS'] * 200) + fcgi_record(FCGI_STDIN, 1))
        try:
            with self.connect() as sock:
                sock.sendall(data)
                answer = FcgiReader(sock).response(1, time.monotonic() + 10)
            ok = answer.status == 200 and answer.body.strip().isdigit()
        except (OSError, AssertionError):
            ok = False
        with self.load.lock:
            self.management[ok] += 1

    def expire(self, now, everything=False):
        """Closes the held connections whose time is up (everything: all
        of them); a killed worker still a zombie 2 s after its kill is
        unreaped (everything: each kill pending is waited for until its
        2 s are up, or it is reaped)."""
        keep = []
        for expiry, sock in self.held:
            if everything or expiry <= now:
                sock.close()
            else:
                keep.append((expiry, sock))
        self.held = keep
        left = []
        for when, pid in self.to_reap:
            if everything:
                wait_until(lambda: not is_zombie(pid),
                           max(0.0, when - time.monotonic()))
            if everything or when <= now:
                if is_zombie(pid):
                    self.unreaped.append(pid)
            else:
                left.append((when, pid))
        self.to_reap = left

    def run(self, until, signals=True):
        """Until `until` (time.monotonic()); signals false: connections
        only, no kill and no reload."""
        now = time.monotonic()
        next_kill = now + self.rnd.uniform(1, 3)
        next_hup = now + self.rnd.uniform(4, 8)
        next_silent = next_half = now
        next_attack = now + self.rnd.uniform(1, 3)
        while time.monotonic() < until:
            now = time.monotonic()
            if signals and now >= next_kill:
                self.kill_one(now)
                next_kill = now + self.rnd.uniform(2, 4)
            if signals and now >= next_hup:
                os.kill(self.master, signal.SIGHUP)
                self.reloads += 1
                self.reload_times.append(time.monotonic())
                next_hup = now + self.rnd.uniform(6, 10)
            if now >= next_silent:
                self.open_silent(now)
                next_silent = now + 0.5
            if now >= next_half:
                self.open_half_closed(now)
                next_half = now + 0.2
            if now >= next_attack:
                attacker = threading.Thread(target=self.management_attack,
                                            daemon=True)
                attacker.start()
                self.attackers.append(attacker)
                next_attack = now + self.rnd.uniform(2, 4)
            self.expire(now)
            time.sleep(0.05)  # the chaos loop's pace (a stimulus)
        self.expire(time.monotonic(), everything=True)
        for attacker in self.attackers:
            attacker.join(15)
        self.attackers = [a for a in self.attackers if a.is_alive()]


# ------------------------------------------------------------- the pool

class Pool:
    def __init__(self, proc, socket_path, processes):
        self.proc = proc
        self.path = str(socket_path)
        self.processes = processes

    def whole(self, timeout=30):
        """Waits (bounded) until processes workers run, each up for 1 s,
        and every process's own fd count held still for 1 s: the figures,
        with the CPU used at rest; None if it never was."""
        still = {'key': None, 'since': None}

        def settled():
            workers = children(self.proc.pid)
            ages = [age_seconds(p) or 0 for p in workers]
            if len(workers) != self.processes or min(ages) < 1.0:
                return None
            sample = self.figures()
            key = (tuple(workers), sample['own'])
            if key != still['key']:
                still['key'], still['since'] = key, time.monotonic()
                return None
            return sample if time.monotonic() - still['since'] >= 1.0 \
                else None

        sample = wait_until(settled, timeout, step=0.2)
        if sample:
            sample['cpu'] = self.rest_cpu(sample['pids'])
        return sample

    @staticmethod
    def rest_cpu(pids, window=2.0):
        """CPU seconds pids used together in a window of rest."""
        before = sum(proc_cpu_seconds(p) or 0 for p in pids)
        time.sleep(window)  # the measurement window itself
        return sum(proc_cpu_seconds(p) or 0 for p in pids) - before

    def at_rest(self, load, when, problems):
        """The load stopped (no request in flight), the pool whole and
        still: its figures; what is not so goes to problems."""
        if not load.rest():
            problems.append('requests still in flight 35 s into the rest '
                            '%s' % when)
        sample = self.whole()
        if sample is None:
            problems.append('the pool was not whole and still %s: '
                            'workers %s' % (when, children(self.proc.pid)))
            sample = self.figures()
            sample['cpu'] = self.rest_cpu(sample['pids'])
        return sample

    def figures(self):
        """RSS of master + workers; own fds of each (master first)."""
        _, connected = socket_inodes(self.path)
        pids = [self.proc.pid] + children(self.proc.pid)
        own = tuple(fd_split(p, connected)[0] for p in pids)
        conns = sum(fd_split(p, connected)[1] for p in pids)
        each = tuple(proc_rss_bytes(p) or 0 for p in pids)
        return {'pids': pids, 'rss': sum(each), 'each': each, 'own': own,
                'conns': conns}


# ------------------------------------------------------------- verdicts

# nginx's own words for an upstream that died under a request
UPSTREAM_LOST = re.compile(
    r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[error\].*(?:reset by peer|'
    r'prematurely closed).*upstream', re.M)


def upstream_losses(nginx_error_log):
    """How many upstream losses nginx logged, per wall-clock second."""
    try:
        text = Path(nginx_error_log).read_text(errors='replace')
    except OSError:
        return {}
    seconds = {}
    for stamp in UPSTREAM_LOST.findall(text):
        at = int(time.mktime(time.strptime(stamp, '%Y/%m/%d %H:%M:%S')))
        seconds[at] = seconds.get(at, 0) + 1
    return seconds


def judge_failures(failures, kills, kill_walls=(), losses=None):
    """
    Splits failures into excused (a lost upstream at a kill, within that
    kill's bound) and not.  Returns (excused, unexplained, bound).

    A timeout is excused only when the request began at most 0.5 s before
    a kill and nginx logged an upstream lost to a reset in that second (it
    was in the killed worker's hands; nginx then kept the client waiting
    instead of answering 502), one timeout per such nginx line.
    """
    bound = {i: min(held, inflight) + 1
             for i, (_, _, held, inflight) in enumerate(kills)}
    used = {i: 0 for i in bound}
    losses = dict(losses or {})
    excused, unexplained = [], []
    for failure in sorted(failures):
        started, ended, kind, _ = failure
        match = None
        if kind in EXCUSABLE:
            for i, (at, _, _, _) in enumerate(kills):
                if started <= at <= ended + 0.05 and used[i] < bound[i]:
                    match = i
                    break
        elif kind == 'timeout':
            for i, (at, _, _, _) in enumerate(kills):
                if not (started <= at <= started + 0.5) or \
                        used[i] >= bound[i] or i >= len(kill_walls):
                    continue
                wall = int(kill_walls[i])
                second = next((w for w in (wall, wall - 1, wall + 1)
                               if losses.get(w, 0) > 0), None)
                if second is not None:
                    losses[second] -= 1
                    match = i
                    break
        if match is None:
            unexplained.append(failure)
        else:
            used[match] += 1
            excused.append(failure)
    return excused, unexplained, sum(bound.values())


def most_lost(excused, kills):
    """The most failures one kill explains."""
    counts = {}
    for started, ended, _, _ in excused:
        for at, _, _, _ in kills:
            if started <= at <= ended + 0.05:
                counts[at] = counts.get(at, 0) + 1
                break
    return max(counts.values(), default=0)


def describe(failure, chaos, t0):
    """A failure with its times (s from the start) and the nearest kill
    and reload."""
    started, ended, kind, what = failure

    def nearest(times):
        if not times:
            return '-'
        at = min(times, key=lambda t: abs(t - started))
        return '%.2f' % (at - t0)

    return '%s %.2f..%.2f (kill %s, reload %s) %s' % (
        kind, started - t0, ended - t0,
        nearest([k[0] for k in chaos.kills]), nearest(chaos.reload_times),
        what[:160])


def main():
    parser = argparse.ArgumentParser(
        description='fcgi-wsgi behind nginx under load and abuse; see the '
        'top of tests/soak/soak.py for what is checked')
    parser.add_argument('--seconds', type=float, default=600)
    parser.add_argument('--clients', type=int, default=64)
    parser.add_argument('--processes', type=int, default=4)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup', type=float, default=None,
                        help='seconds of load before the baseline '
                        '(default: 10%% of --seconds, 15 to 30)')
    parser.add_argument('--server-args', default='--socket-timeout 5',
                        help='more fcgi-wsgi options (one string)')
    parser.add_argument('--calm', action='store_true',
                        help='no chaos: the load alone (to see the RSS '
                        'and fd figures of a quiet pool)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the temp dir and its logs')
    args = parser.parse_args()
    # 15 s at least: every worker must have run every path (a cut-off
    # body's traceback costs a worker ~2 MB once) before the baseline.
    warmup = args.warmup if args.warmup is not None else min(
        max(args.seconds * 0.1, 15), 30)

    try:
        server_cmd = server_argv()
    except ServerMissing as e:
        log('cannot run: %s' % e)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix='fw-soak-', dir='/tmp'))
    sock_path = tmp / 'app.sock'
    static = tmp / 'static'
    static.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONHOME', 'PYTHONPATH', 'PYTHONSTARTUP',
                        'WIRE_APP_DIR')}
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    server = nginx = None
    problems = []
    try:
        server = Proc(server_cmd + [
            '--socket', 'unix:%s' % sock_path, '--chdir', APPS_DIR,
            '--module', 'wire_app', '--processes', str(args.processes),
            '--threads', str(args.threads)] + shlex.split(args.server_args),
            tmp / 'server.log', cwd=REPO, env=env, name='fcgi-wsgi')
        wait_unix_socket(server, sock_path)
        nginx, port = start_nginx(TEMPLATE, tmp / 'nginx', sock_path,
                                  static)
        pool = Pool(server, sock_path, args.processes)
        load = Load(port, args.clients)
        log('%s, %d processes x %d threads, nginx on %d, %d clients; '
            'warm-up %.0f s, chaos %.0f s' % (
                ' '.join(server_cmd), args.processes, args.threads, port,
                args.clients, warmup, args.seconds))
        chaos = Chaos(server.pid, sock_path, load)
        t0 = time.monotonic()
        load.start()
        # The warm-up and the cool-down see the same traffic (the load and
        # the abusive connections, no signal), so that the pool is measured
        # twice in the same state: every code path a worker runs (timeouts,
        # a traceback's first imports...) has run before each measurement.
        if args.calm:
            time.sleep(warmup)  # the load runs: its duration (a stimulus)
        else:
            chaos.run(time.monotonic() + warmup, signals=False)
        base = pool.at_rest(load, 'after the warm-up', problems)
        requests_before = load.done
        load.resume()

        if args.calm:
            time.sleep(args.seconds + warmup)  # the load's duration
        else:
            chaos.run(time.monotonic() + args.seconds)
            chaos.run(time.monotonic() + warmup, signals=False)
        end = pool.at_rest(load, 'at the end', problems)
        load.finish()

        excused, unexplained, bound = judge_failures(
            load.failures, chaos.kills, chaos.kill_walls,
            upstream_losses(tmp / 'nginx' / 'error.log'))
        growth = (end['rss'] - base['rss']) / base['rss']
        master_flat = end['own'][0] == base['own'][0]
        workers_flat = max(end['own'][1:] or (0,)) <= max(
            base['own'][1:] or (0,))
        zombies = zombie_children(server.pid)
        if unexplained:
            kinds = {}
            for f in unexplained:
                kinds[f[2]] = kinds.get(f[2], 0) + 1
            problems.append('%d failed requests not explained by a kill: '
                            '%s; first: %s' % (
                                len(unexplained), kinds, '; '.join(
                                    describe(f, chaos, t0)
                                    for f in unexplained[:5])))
        if growth > RSS_GROWTH_MAX:
            problems.append('pool RSS grew %.1f%% (%d -> %d bytes)' % (
                growth * 100, base['rss'], end['rss']))
        if not (master_flat and workers_flat):
            problems.append('own fds (master, workers...) %s after the '
                            'warm-up, %s at the end' % (base['own'],
                                                        end['own']))
        if end['conns'] > base['conns']:
            problems.append('FastCGI connections held at rest: %d after '
                            'the warm-up, %d at the end (every client is '
                            'gone: leaked)' % (base['conns'], end['conns']))
        if max(base['cpu'], end['cpu']) > REST_CPU_MAX:
            problems.append('the pool at rest used %.2f s (after the '
                            'warm-up) and %.2f s (at the end) of CPU in '
                            '2 s' % (base['cpu'], end['cpu']))
        if chaos.management[False] or chaos.attackers:
            problems.append('%d of %d requests carrying a GET_VALUES '
                            'record were not answered' % (
                                chaos.management[False] +
                                len(chaos.attackers),
                                sum(chaos.management.values())))
        if chaos.unreaped or zombies:
            problems.append('zombies: killed workers not reaped within '
                            '2 s %s, zombie children at the end %s' % (
                                chaos.unreaped, zombies))
        status = server.stop()
        if status != 0:
            problems.append('SIGTERM: fcgi-wsgi exited with status %s'
                            % status)
        log('%d requests, %d failed, %d lost to %d kills (bound %d), '
            '%d reloads, %d silent, %d half-closed, %d cut off, '
            '%d/%d GET_VALUES attacks answered, rss %+.1f%%, fds %s, '
            'zombies %d' % (
                load.done, len(unexplained), len(excused), len(chaos.kills),
                bound, chaos.reloads, chaos.silent, chaos.half_closed,
                chaos.cut, chaos.management[True],
                sum(chaos.management.values()), growth * 100,
                'flat' if master_flat and workers_flat else
                '%s -> %s' % (base['own'], end['own']),
                len(chaos.unreaped) + len(zombies)))
        log('detail: %d requests during the warm-up, ok %s, rss (KiB, '
            'master first) %s -> %s, own fds %s -> %s, FastCGI '
            'connections at rest %d -> %d, CPU at rest %.2f -> %.2f s in '
            '2 s, most lost to one kill %d (threads %d)' % (
                requests_before, load.ok,
                [r // 1024 for r in base['each']],
                [r // 1024 for r in end['each']],
                base['own'], end['own'], base['conns'], end['conns'],
                base['cpu'], end['cpu'], most_lost(excused, chaos.kills),
                args.threads))
    except Exception as e:  # a broken set-up: say so, keep the logs
        problems.append('soak aborted: %r' % (e,))
    finally:
        for proc in (nginx, server):
            if proc is not None:
                proc.stop()
    if problems:
        for p in problems:
            log('FAIL: %s' % p)
        log('server log %s:\n%s' % (tmp / 'server.log',
                                    tail(tmp / 'server.log', 3000)))
    if args.keep or problems:
        log('kept %s' % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
