"""
Load for the process-manager tests: a few client threads sending requests
through nginx (http.client, a fresh connection each) while a test kills,
reloads or stops the server, and a count of what failed.  Bounded: each
thread stops after `count` requests or when the run's deadline passes.
"""

import http.client
import os
import threading
import time
from pathlib import Path

from e2elib import wait_until  # noqa: F401 (the tests import it from here)


class Load:
    """
    threads x count GETs of path on 127.0.0.1:port, started at once in the
    background.  results: (status or the exception's text, body, start,
    end) of every request, in completion order.
    """

    def __init__(self, port, path, threads=4, count=50, duration=60.0,
                 timeout=30.0):
        self.port = port
        self.path = path
        self.count = count
        self.timeout = timeout
        self.deadline = time.monotonic() + duration
        self.results = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _one(self):
        start = time.monotonic()
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=self.timeout)
        try:
            conn.request('GET', self.path)
            resp = conn.getresponse()
            body = resp.read().decode('utf-8', 'replace')
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            status, body = repr(e), ''
        finally:
            conn.close()
        with self.lock:
            self.results.append((status, body, start, time.monotonic()))

    def _run(self):
        for _ in range(self.count):
            if self.stop_flag.is_set() or time.monotonic() > self.deadline:
                return
            self._one()

    def done(self):
        with self.lock:
            return len(self.results)

    def wait_done(self, at_least, timeout=30.0):
        """Waits until at_least requests completed (bounded)."""
        wait_until(lambda: self.done() >= at_least, timeout, step=0.02)

    def join(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), \
            'load threads still running after %.0f s' % timeout
        return self.results

    def stop(self):
        self.stop_flag.set()
        return self.join()

    def failures(self):
        with self.lock:
            return [r for r in self.results if r[0] != 200]


def proc_uid(pid):
    """The real uid of a live process, from /proc."""
    for line in Path('/proc/%d/status' % pid).read_text().splitlines():
        if line.startswith('Uid:'):
            return int(line.split()[1])
    raise AssertionError('no Uid line for pid %d' % pid)


def lines(path):
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def exists(path):
    return os.path.exists(path)
