"""
bench/pool_memory.py (run by bench/memory.sh): the demo Django project
(examples/django, module config.wsgi) served by fcgi-wsgi with the app
imported in the master (the default) and in each worker (--lazy-apps),
for several pool sizes.  For each it measures, straight over FastCGI:

  first   seconds from the exec until the socket answers GET / with 200
  ready   seconds until every worker logged "ready" (accepting)
  PSS     total proportional set size of master + workers after a warm-up
          (every worker served GET / and /echo/), from smaps_rollup; also
          the workers' mean PSS and USS (private pages)
  reload  seconds from SIGHUP until the new generation serves and every
          old worker is gone, with requests sent all along (failed ones
          counted), and the total PSS after it

Prints a Markdown table.  Bounded: every wait has a deadline; every
process started is stopped by its pid.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from benchlib import REPO, wait_for as wait, workers as children
from e2elib import fcgi_request

DJANGO = REPO / 'examples' / 'django'
PYTHON = '/usr/bin/python3'
READY_RE = re.compile(r'^(\S+ \S+) \[worker \d+ pid (\d+)\] INFO ready:')
SERVED_RE = re.compile(r'^(\S+ \S+) \[master pid \d+\] INFO reload: '
                       r'generation')


def smaps(pid):
    """(pss, uss) in KiB of one process, from smaps_rollup."""
    pss = uss = 0
    for line in Path('/proc/%d/smaps_rollup' % pid).read_text().splitlines():
        key, _, value = line.partition(':')
        if key == 'Pss':
            pss = int(value.split()[0])
        elif key in ('Private_Clean', 'Private_Dirty'):
            uss += int(value.split()[0])
    return pss, uss


def stamp(text):
    return datetime.strptime(text, '%Y-%m-%d %H:%M:%S.%f').timestamp()


def answers(sock, path='/'):
    try:
        return fcgi_request(sock, path).status == 200
    except (OSError, AssertionError):
        return False


class Server:
    def __init__(self, binary, tmp, env, processes, lazy):
        self.sock = tmp / 'bench.sock'
        self.log = tmp / ('server-%d-%s.log' % (processes, lazy))
        args = [binary, '--socket', 'unix:%s' % self.sock, '--chdir',
                str(DJANGO), '--module', 'config.wsgi', '--processes',
                str(processes)]
        if lazy:
            args.append('--lazy-apps')
        if os.geteuid() == 0:
            args.append('--allow-root')  # else refused as root, without uid
        self.processes = processes
        self.t0 = time.time()
        with open(self.log, 'wb') as log:
            self.popen = subprocess.Popen(args, env=env, stdout=log,
                                          stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL,
                                          start_new_session=True)

    def ready_times(self, since=0.0):
        """Unix times of the 'ready' lines logged after since, per pid."""
        out = {}
        for line in self.log.read_text(errors='replace').splitlines():
            m = READY_RE.match(line)
            if m and stamp(m.group(1)) >= since:
                out[int(m.group(2))] = stamp(m.group(1))
        return out

    def pss(self):
        kids = children(self.popen.pid)
        master = smaps(self.popen.pid)
        workers = [smaps(k) for k in kids]
        total = master[0] + sum(w[0] for w in workers)
        return total, master[0], workers

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(5)


def warm(sock, processes):
    """Every worker has served the pages (each request may go anywhere:
    send plenty, concurrently)."""
    def hit():
        for _ in range(60):
            for path in ('/', '/echo/warm', '/form/'):
                fcgi_request(sock, path)
    threads = [threading.Thread(target=hit) for _ in range(processes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def measure(binary, tmp, env, processes, lazy):
    srv = Server(binary, tmp, env, processes, lazy)
    try:
        wait(lambda: srv.sock.exists() and answers(srv.sock), 60,
             'the first answer')
        first = time.time() - srv.t0
        ready = wait(lambda: (lambda r: r if len(r) >= processes else None)(
            srv.ready_times()), 60, 'every worker ready')
        ready_s = max(ready.values()) - srv.t0
        warm(srv.sock, processes)
        time.sleep(0.5)
        total, master, workers = srv.pss()
        worker_pss = sum(w[0] for w in workers) / len(workers)
        worker_uss = sum(w[1] for w in workers) / len(workers)

        # reload under a light load: 2 clients
        failed, sent = [], [0]
        stop = threading.Event()

        def client():
            while not stop.is_set():
                sent[0] += 1
                if not answers(srv.sock, '/echo/reload'):
                    failed.append(1)

        old = children(srv.popen.pid)
        clients = [threading.Thread(target=client) for _ in range(2)]
        for t in clients:
            t.start()
        hup = time.time()
        srv.popen.send_signal(signal.SIGHUP)
        wait(lambda: len(srv.ready_times(hup)) >= processes and not
             (set(old) & set(children(srv.popen.pid))), 120,
             'the reload to complete')
        reload_s = time.time() - hup
        stop.set()
        for t in clients:
            t.join(60)
        warm(srv.sock, processes)
        time.sleep(0.5)
        total_after = srv.pss()[0]
        return {
            'first': first, 'ready': ready_s, 'pss': total,
            'master': master, 'worker_pss': worker_pss,
            'worker_uss': worker_uss, 'reload': reload_s,
            'failed': len(failed), 'sent': sent[0],
            'pss_after': total_after,
        }
    finally:
        srv.stop()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / 'fcgi-wsgi')
    sizes = [int(n) for n in (sys.argv[2] if len(sys.argv) > 2
                              else '1,2,4,8').split(',')]
    rounds = int(os.environ.get('ROUNDS', '3'))
    tmp = Path(tempfile.mkdtemp(prefix='fw-mem-', dir='/tmp'))
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('PYTHON', 'DJANGO', 'DEMO_'))}
        env.update({'DEMO_DB': str(tmp / 'db.sqlite3'),
                    'DEMO_STATIC_ROOT': str(tmp / 'static'),
                    'DEMO_UPLOAD_TMP': str(tmp),
                    'PYTHONDONTWRITEBYTECODE': '1'})
        subprocess.run([PYTHON, 'manage.py', 'migrate', '--noinput', '-v',
                        '0'], cwd=DJANGO, env=env, check=True, timeout=300)
        print('fcgi-wsgi pool memory and start-up, demo Django app, %d '
              'CPU(s), median of %d rounds' % (os.cpu_count(), rounds))
        print()
        print('| workers | load mode | first answer s | all ready s | '
              'total PSS MiB | master PSS MiB | worker PSS MiB | '
              'worker USS MiB | reload s | failed/sent in reload | '
              'PSS after reload MiB |')
        print('|---|---|---|---|---|---|---|---|---|---|---|')
        for n in sizes:
            for lazy in (False, True):
                runs = [measure(binary, tmp, env, n, lazy)
                        for _ in range(rounds)]

                def med(key):
                    values = sorted(r[key] for r in runs)
                    return values[len(values) // 2]
                print('| %d | %s | %.3f | %.3f | %.1f | %.1f | %.1f | %.1f '
                      '| %.2f | %d/%d | %.1f |' % (
                          n, 'lazy-apps' if lazy else 'preload (default)',
                          med('first'), med('ready'), med('pss') / 1024,
                          med('master') / 1024, med('worker_pss') / 1024,
                          med('worker_uss') / 1024, med('reload'),
                          sum(r['failed'] for r in runs),
                          sum(r['sent'] for r in runs),
                          med('pss_after') / 1024), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
