#!/usr/bin/python3
"""
bench/callgrind.py: instructions per hello request (bench/hello.py, 1
process, 1 thread) for fcgi-wsgi and uWSGI's FastCGI mode, counted by
valgrind --tool=callgrind in the worker: a figure a noisy machine does not
move.  Each server runs twice under callgrind (every process of it),
answering N1 then N2 requests from bench/fcgi-load (one connection, one
request at a time); start-up and shut-down are the same in both runs, so
the instructions per request are (I(N2) - I(N1)) / (N2 - N1), I counting
every process but the first one, the master: it is not on a request's
path, and its periodic work grows with the (slow, valgrind) run's wall
time, not with requests.
    usage: bench/callgrind.py [N1 N2]        (default 200 1200)
Needs valgrind, build/bench/fcgi-wsgi (make bench builds it) and uWSGI.
"""

import re
import sys
import tempfile
from pathlib import Path

from benchlib import Proc, fcgi_load_argv, parse_fcgi_load, run_tool
from benchlib import wait_unix_socket
from peers import HELLO, PEER

TOTALS = re.compile(rb'^(?:summary|totals): (\d+)', re.M)


def counted(outdir, master_pid):
    """The instructions of every callgrind.PID file in outdir but the
    master's: each file's last count (its header's summary: and its end's
    totals: are the same count, written twice)."""
    total = 0
    for path in outdir.glob('callgrind.*'):
        if path.name == 'callgrind.%d' % master_pid:
            continue
        counts = TOTALS.findall(path.read_bytes())
        total += int(counts[-1]) if counts else 0
    return total


def instructions(peer, n, tmp, app=HELLO, uri='/hello'):
    """Instructions executed by the workers of peer (every process but
    its master) while it starts, answers n requests for uri of app and
    stops."""
    tmp = Path(tmp)
    outdir = Path(tempfile.mkdtemp(prefix='cg-%s-%s-%d-' % (peer.key,
                                                            app.key, n),
                                   dir=tmp))
    sock = tmp / ('cg-%s.sock' % peer.key)
    argv = ['valgrind', '--tool=callgrind', '--trace-children=yes',
            '--callgrind-out-file=%s/callgrind.%%p' % outdir] + \
        peer.argv(app, sock, 1, 1, outdir / 'server.log')
    server = Proc(argv, outdir / 'server.out', name='callgrind-' + peer.key)
    try:
        wait_unix_socket(server, sock, timeout=300)
        text = run_tool(fcgi_load_argv('unix:%s' % sock, requests=n,
                                       conns=1, uri=uri, timeout=120), 1800)
        result = parse_fcgi_load(text)
        if result is None or result['ok'] != n:
            raise SystemExit('callgrind: %s answered %s of %d:\n%s\n%s'
                             % (peer.label, result and result['ok'], n,
                                text, server.log_text()))
    finally:
        server.stop(timeout=120)
    total = counted(outdir, server.pid)
    if total == 0:
        raise SystemExit('callgrind: no counts in %s:\n%s'
                         % (outdir, server.log_text()))
    return total


def per_request(peer_keys=('fw', 'uwsgi-fcgi'), n1=200, n2=1200):
    """{peer key: instructions per hello request}."""
    out = {}
    with tempfile.TemporaryDirectory(prefix='fw-cg-') as tmp:
        for key in peer_keys:
            peer = PEER[key]
            low = instructions(peer, n1, tmp)
            high = instructions(peer, n2, tmp)
            out[key] = (high - low) / (n2 - n1)
    return out


def main():
    n1, n2 = (int(a) for a in sys.argv[1:3]) if len(sys.argv) == 3 else (
        200, 1200)
    for key, count in per_request(n1=n1, n2=n2).items():
        print('%-15s %10.0f instructions per hello request'
              % (PEER[key].label, count))


if __name__ == '__main__':
    main()
