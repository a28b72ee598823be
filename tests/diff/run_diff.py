#!/usr/bin/python3
"""
The differential test of our FastCGI record parser against libfcgi 2.4.2.

Every stream (the captures of real web servers in tests/diff/captures/,
the crafted ones of crafted.py) goes through both parsers:
  build/diff/ours            bridge/wire/wire_parse.c under ASan+UBSan, fed
                             whole and in pieces of 1, 7 and 4093 bytes: the
                             four outputs must be the same;
  build/diff/oracle_libfcgi  libfcgi's FCGX_Accept_r over a socketpair, in
                             its own process (it may crash).
For every request libfcgi parses to the end of its body, ours must give
the same request id, role, keep flag, params and body.  Params are
compared as libfcgi holds them: "NAME=VALUE" C strings, so a NUL in a
value cuts it and '=' in a name moves the split; ours keeps the bytes as
sent, which crafted.py's expectations check byte for byte, with the
answers (GET_VALUES_RESULT, UNKNOWN_TYPE, END_REQUEST) ours queues.

    make test-diff                  builds both, then runs this
    run_diff.py [-v] [BUILD_DIR]    BUILD_DIR holds ours and oracle_libfcgi

Each stream ends in one of: identical (libfcgi parsed all of it as we do),
libfcgi crashed (a signal, or a hang), libfcgi refused (it parsed a first
part identically, then closed the connection or lost the rest), known
difference (declared in crafted.py: FILTER, BEGIN_REQUEST padding), or
differ (a failure).  The last line counts passed and failed streams.
"""

import concurrent.futures
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the tree

import crafted  # noqa: E402  (tests/diff/crafted.py)

PIECES = (1, 7, 4093)
ESCAPE = re.compile(rb'\\x([0-9a-f]{2})')


def unescape(text):
    return ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]),
                      text.encode('ascii'))


class Parsed:
    """The requests one program printed, and how the stream ended."""

    def __init__(self, text):
        self.requests = []
        self.error = None
        self.out = ''
        self.closed = False
        cur = None
        for line in text.splitlines():
            tag, _, rest = line.partition(' ')
            if tag == 'REQUEST':
                fields = dict(f.split('=') for f in rest.split()
                              if '=' in f)
                cur = dict(id=int(fields['id']), role=int(fields['role']),
                           keep=int(fields['keep']), params=[], body=b'',
                           end=None, too_large='too_large' in rest)
                self.requests.append(cur)
            elif tag == 'P':
                name, value = rest.split(' ')
                cur['params'].append((unescape(name), unescape(value)))
            elif tag == 'E':
                cur['params'].append(unescape(rest))
            elif tag == 'BODY':
                size, _, esc = rest.partition(' ')
                cur['body'] = unescape(esc)
                assert len(cur['body']) == int(size), line[:80]
            elif tag in ('END', 'ABORT'):
                if cur is not None:
                    cur['end'] = tag
            elif tag == 'ERROR':
                self.error = rest
                if cur is not None and cur['end'] is None:
                    cur['end'] = 'ERROR'
            elif tag == 'CLOSE':
                self.closed = True
            elif tag == 'OUT':
                self.out = rest
            else:
                raise AssertionError('unexpected line %r' % line[:80])

    def complete(self):
        return [r for r in self.requests if r['end'] == 'END']


def libfcgi_view(request):
    """Our request as libfcgi would hold it: "NAME=VALUE" C strings."""
    view = dict(request)
    view['params'] = [(n + b'=' + v).split(b'\0')[0]
                      for n, v in request['params']]
    return view


def same_request(ours, theirs):
    keys = ('id', 'role', 'keep', 'params', 'body')
    mine = libfcgi_view(ours)
    return all(mine[k] == theirs[k] for k in keys)


def run(argv, timeout):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          timeout=timeout, env=dict(
                              os.environ, ASAN_OPTIONS='detect_leaks=1',
                              UBSAN_OPTIONS='print_stacktrace=1'))


def expected_requests(stream):
    return [dict(id=r['id'], role=r['role'], keep=r['keep'],
                 params=[(bytes.fromhex(n), bytes.fromhex(v))
                         for n, v in r['params']],
                 body=bytes.fromhex(r['body']), end=r['end'])
            for r in stream.requests]


def check_stream(name, path, stream, build):
    """
    Returns (status, failures, detail): status is the bucket, failures a
    list of messages (empty when the stream passes).
    """
    failures = []
    pace = stream.pace if stream else True
    declared = stream.libfcgi if stream else 'same'

    outputs = {}
    for piece in (None,) + PIECES:
        argv = [build / 'ours'] + (['-s', piece] if piece else []) + [path]
        done = run(argv, 60)
        if done.returncode != 0:
            failures.append('ours %s: exit %d\n%s' % (
                'whole' if piece is None else 'in pieces of %d' % piece,
                done.returncode, done.stderr.decode(errors='replace')[-3000:]))
            return 'differ', failures, 'ours failed'
        outputs[piece] = done.stdout.decode('ascii')
    for piece in PIECES:
        if outputs[piece] != outputs[None]:
            failures.append('ours in pieces of %d differs from whole' % piece)
    ours = Parsed(outputs[None])

    if stream is not None:
        got = [dict((k, r[k]) for k in ('id', 'role', 'keep', 'params',
                                        'body', 'end'))
               for r in ours.requests]
        if got != expected_requests(stream):
            failures.append('ours: requests are not the ones sent:\n'
                            'got  %r\nwant %r' % (got,
                                                  expected_requests(stream)))
        if bool(ours.error) != stream.error:
            failures.append('ours: error %r, expected %s' % (
                ours.error, 'one' if stream.error else 'none'))
        if ours.out != stream.out.hex():
            failures.append('ours: answers\n got  %s\n want %s' % (
                ours.out, stream.out.hex()))

    argv = [build / 'oracle_libfcgi'] + ([] if pace else ['-u']) + [path]
    try:
        done = run(argv, 90)
    except subprocess.TimeoutExpired:
        return 'crashed', failures, 'libfcgi hung'
    if done.returncode < 0:
        sig = signal.Signals(-done.returncode).name
        return 'crashed', failures, 'libfcgi died of %s' % sig
    if done.returncode != 0:
        return 'crashed', failures, 'libfcgi oracle exit %d: %s' % (
            done.returncode, done.stderr.decode(errors='replace')[-300:])
    theirs = Parsed(done.stdout.decode('ascii'))

    # Every request libfcgi read to the end of its body: the same as ours.
    n = 0
    for i, req in enumerate(theirs.requests):
        if req['end'] != 'END':
            break
        mine = ours.requests[i] if i < len(ours.requests) else None
        if mine is None or mine['end'] != 'END' or not same_request(mine,
                                                                    req):
            detail = ('request %d: libfcgi %r\n ours (as libfcgi would '
                      'hold it) %r' % (i, _short(req), _short(
                          libfcgi_view(mine)) if mine else None))
            if declared.startswith('known'):
                return 'known', failures, declared
            failures.append('differ at ' + detail)
            return 'differ', failures, detail
        n += 1
    ours_n = len(ours.complete())
    if n == ours_n and theirs.error is None:
        return 'identical', failures, '%d request(s)%s' % (
            n, ', then both refuse the rest' if ours.error else '')
    why = ('libfcgi error %s' % theirs.error if theirs.error
           else 'libfcgi closed the connection')
    return 'refused', failures, ('%d of %d request(s) identical, then %s'
                                 % (n, ours_n, why))


def _short(req):
    out = dict(req)
    out['body'] = '%d bytes' % len(req['body'])
    if len(out['params']) > 6:
        out['params'] = out['params'][:6] + ['... %d in all'
                                             % len(req['params'])]
    return out


def main(argv):
    verbose = '-v' in argv
    args = [a for a in argv[1:] if a != '-v']
    build = Path(args[0]) if args else REPO / 'build' / 'diff'
    for tool in ('ours', 'oracle_libfcgi'):
        if not (build / tool).exists():
            sys.stderr.write('%s missing: make test-diff builds it\n'
                             % (build / tool))
            return 2
    streams_dir = build / 'streams'
    streams_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for path in sorted((HERE / 'captures').glob('*.bin')):
        jobs.append((path.stem, path, None))
    for stream in crafted.build():
        path = streams_dir / ('crafted-%s.bin' % stream.name)
        path.write_bytes(stream.data)
        jobs.append(('crafted-' + stream.name, path, stream))

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(
            lambda job: (job, check_stream(job[0], job[1], job[2], build)),
            jobs))

    buckets = dict(identical=0, crashed=0, refused=0, known=0, differ=0)
    passed = failed = 0
    captures = sum(1 for job in jobs if job[2] is None)
    for (name, path, stream), (status, failures, detail) in results:
        buckets[status] += 1
        declared = stream.libfcgi if stream else 'same'
        if verbose or failures:
            print('%-34s %-9s %s' % (name, status, detail))
            if declared != 'same' and verbose:
                print('%-34s %-9s (crafted.py: libfcgi %s)' % ('', '',
                                                             declared))
        if declared.startswith('known') and status != 'known' and verbose:
            print('%-34s note: the declared difference did not show' % '')
        for f in failures:
            print('  FAIL %s: %s' % (name, f))
        if failures:
            failed += 1
        else:
            passed += 1
    print('ours: %d streams parsed whole and in pieces of %s bytes, %d '
          'crafted ones checked byte for byte against what was sent'
          % (len(jobs), ', '.join(map(str, PIECES)), len(jobs) - captures))
    print('diff: %d streams (%d captures, %d crafted), %d identical, '
          '%d libfcgi crashed/refused (%d crashed, %d refused), '
          '%d known differences, %d differ'
          % (len(jobs), captures, len(jobs) - captures, buckets['identical'],
             buckets['crashed'] + buckets['refused'], buckets['crashed'],
             buckets['refused'], buckets['known'], buckets['differ']))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
