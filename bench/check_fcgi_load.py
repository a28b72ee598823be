#!/usr/bin/python3
"""
bench/fcgi-load checked against an independent FastCGI client: for each
request below, the STDOUT stream fcgi-load keeps (-o) must be byte for
byte what `cgi-fcgi -bind -connect` (libfcgi-bin) prints when it sends the
same params (fcgi-load -P gives them, cgi-fcgi sends its environment) and
the same body to the same server, and must hold what the request asked
for (so that two empty answers cannot pass).  The server serves
bench/hello.py (or is bench/c_responder): /echo answers the params and the
body back.
    usage: bench/check_fcgi_load.py [FCGI_LOAD] unix:PATH|127.0.0.1:PORT
Run by `make bench` on every FastCGI peer and by
tests/e2e/test_fcgi_load.py.
"""

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from scenarios import BROWSER_HEADERS, header_params

RUN_TIMEOUT = 30


def pattern_body(size):
    """size bytes with every byte value, CR, LF and NUL among them."""
    block = b''.join(hashlib.sha256(b'fcgi-load %d' % i).digest()
                     for i in range(64)) + bytes(range(256)) + b'\r\n\0'
    return (block * (size // len(block) + 1))[:size]


def body_of(stdout):
    return stdout.partition(b'\r\n\r\n')[2]


COOKIE = dict(BROWSER_HEADERS)['Cookie'].encode()

# (name, fcgi-load options, body, what the answer's body must satisfy)
CASES = [
    ('GET /hello', {'uri': '/hello'}, b'',
     lambda out: body_of(out) == b'Hello, World!\n'),
    ('GET /echo, a query, 30 browser headers',
     {'uri': '/echo?a=1&b=%C3%A9', 'params': header_params(BROWSER_HEADERS)},
     b'', lambda out: b'\nQUERY_STRING=a=1&b=%C3%A9\n' in out and
     b'\nHTTP_COOKIE=' + COOKIE + b'\n' in out),
    ('POST /echo, 64 KiB', {'uri': '/echo'}, pattern_body(65536),
     lambda out: out.endswith(b'\n\n' + pattern_body(65536))),
    ('POST /echo, 200 KiB (records of 16 KiB)', {'uri': '/echo'},
     pattern_body(200 * 1024 + 3),
     lambda out: out.endswith(b'\n\n' + pattern_body(200 * 1024 + 3))),
    ('GET /big, 1 MiB', {'uri': '/big'}, b'',
     lambda out: body_of(out) == b'b' * (1 << 20)),
    ('GET /stream, 100 chunks', {'uri': '/stream'}, b'',
     lambda out: body_of(out) == (b'x' * 1023 + b'\n') * 100),
]


def load_args(options, body_file, extra_params):
    args = ['-u', options['uri']]
    params = list(options.get('params', ()))
    if extra_params is not None:
        params += extra_params(options['uri'])
    for name, value in params:
        args += ['-H', '%s=%s' % (name, value)]
    if body_file is not None:
        args += ['-B', str(body_file)]
    return args


def params_of(fcgi_load, args):
    """The params fcgi-load sends with args, as a dict (fcgi-load -P)."""
    out = subprocess.run([str(fcgi_load), '-P'] + args, capture_output=True,
                         check=True, timeout=RUN_TIMEOUT).stdout
    return dict(line.split(b'=', 1) for line in out.splitlines())


def cgi_fcgi_target(target):
    return target[5:] if target.startswith('unix:') else target


def compare_one(fcgi_load, target, options, body, tmp, extra_params=None):
    """(fcgi-load's STDOUT bytes, cgi-fcgi's stdout bytes, a problem or
    None) for one request; extra_params(uri) gives params to add."""
    tmp = Path(tmp)
    body_file = None
    if body:
        body_file = tmp / 'body'
        body_file.write_bytes(body)
    args = load_args(options, body_file, extra_params)
    out = tmp / 'fcgi-load.out'
    out.unlink(missing_ok=True)
    done = subprocess.run([str(fcgi_load), '-n', '1', '-c', '1', '-o',
                           str(out)] + args + [target], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    if done.returncode != 0 or not out.exists():
        return None, None, 'fcgi-load failed: %s%s' % (done.stdout,
                                                        done.stderr)
    ours = out.read_bytes()
    env = params_of(fcgi_load, args)
    ref = subprocess.run(['cgi-fcgi', '-bind', '-connect',
                          cgi_fcgi_target(target)], env=env, input=body,
                         capture_output=True, timeout=RUN_TIMEOUT)
    if ref.returncode != 0:
        return ours, ref.stdout, 'cgi-fcgi exited %d: %r' % (
            ref.returncode, ref.stderr[:300])
    if ours != ref.stdout:
        at = next((i for i, (a, b) in enumerate(zip(ours, ref.stdout))
                   if a != b), min(len(ours), len(ref.stdout)))
        return ours, ref.stdout, (
            'differ at byte %d (fcgi-load %d bytes, cgi-fcgi %d): %r / %r'
            % (at, len(ours), len(ref.stdout), ours[at:at + 40],
               ref.stdout[at:at + 40]))
    return ours, ref.stdout, None


def check(fcgi_load, target, extra_params=None, cases=CASES):
    """[(case name, fcgi-load's bytes, problem or None)] for every case;
    extra_params(uri): params both clients add (see compare_one)."""
    results = []
    with tempfile.TemporaryDirectory(prefix='fw-check-') as tmp:
        for name, options, body, expect in cases:
            ours, _, problem = compare_one(fcgi_load, target, options, body,
                                           tmp, extra_params)
            if problem is None and not expect(ours):
                problem = 'same bytes, but not the answer asked for: %r' % (
                    ours[:200],)
            results.append((name, ours, problem))
    return results


def main():
    args = sys.argv[1:]
    fcgi_load = args.pop(0) if len(args) == 2 else (
        Path(__file__).resolve().parent / 'fcgi-load')
    if len(args) != 1:
        sys.exit(__doc__.strip())
    failed = 0
    for name, ours, problem in check(fcgi_load, args[0]):
        print('%-45s %s' % (name, 'same %d bytes' % len(ours)
                            if problem is None else 'FAILED: ' + problem))
        failed += problem is not None
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
