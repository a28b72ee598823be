#!/usr/bin/python3
"""
The crafted FastCGI streams of the differential test: padding, splits,
NUL in values, '=' in names, many and large params, DATA records,
management records, multiplexing, roles, the shapes that crash libfcgi.
Each comes with what our parser must give for it (params, body, the
answers it queues, byte for byte) and what libfcgi 2.4.2 is known to do.
run_diff.py builds them in memory (build()); deterministic.

    crafted.py --out DIR   writes DIR/NAME.bin and DIR/NAME.json, to look at
    crafted.py --corpus    writes the fuzz seeds tests/fuzz/corpus/: every
                           stream here and in tests/diff/captures/, behind
                           the fuzzer's 4 set-up bytes
"""

import json
import random
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURES = HERE / 'captures'
CORPUS = HERE.parent / 'fuzz' / 'corpus'

BEGIN, ABORT, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA = range(1, 9)
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
CANT_MPX_CONN, UNKNOWN_ROLE = 1, 3

# What ours.c answers to GET_VALUES (its limits: max_conns 1, max_reqs 1).
# libfcgi's FillBuffProc: a record of another id is skipped by setting
# `skip`, which is cleared only when content is skipped; for an empty one it
# stays set and the content of the next record of the active request is
# dropped silently.
SKIP_BUG = ('known: after an empty record of another id it drops the '
            'content of the next record of the active request')

VALUES = {b'FCGI_MAX_CONNS': b'1', b'FCGI_MAX_REQS': b'1',
          b'FCGI_MPXS_CONNS': b'0'}


# ---------------------------------------------------------------- bytes

def rec(rtype, rid, content=b'', pad=0, version=1):
    assert len(content) <= 0xffff and pad <= 0xff
    return (struct.pack('!BBHHBx', version, rtype, rid, len(content), pad)
            + content + b'\xa5' * pad)


def begin(rid, role=RESPONDER, flags=0, pad=0):
    return rec(BEGIN, rid, struct.pack('!HB5x', role, flags), pad)


def length(n):
    return bytes([n]) if n < 128 else struct.pack('!I', n | 0x80000000)


def pair(name, value):
    return length(len(name)) + length(len(value)) + name + value


def records(rtype, rid, content, rec_max=65535, pad=0, last_pad=None):
    """content cut into records of rec_max bytes (pad: an int, or a
    function of the record's index), then the empty record (padded with
    last_pad when given)."""
    out, i = [], 0
    for start in range(0, len(content), rec_max):
        out.append(rec(rtype, rid, content[start:start + rec_max],
                       pad(i) if callable(pad) else pad))
        i += 1
    if last_pad is None:
        last_pad = pad(i) if callable(pad) else pad
    out.append(rec(rtype, rid, b'', last_pad))
    return b''.join(out)


def answer(rtype, content):
    return rec(rtype, 0, content)


def get_values_answer(names):
    seen, content = set(), b''
    for name in names:
        if name in VALUES and name not in seen:
            seen.add(name)
            content += pair(name, VALUES[name])
    return answer(GET_VALUES_RESULT, content)


def unknown_type_answer(rtype):
    return answer(UNKNOWN_TYPE, bytes([rtype]) + b'\0' * 7)


def end_request_answer(rid, status):
    return rec(END_REQUEST, rid, struct.pack('!IB3x', 0, status))


# ---------------------------------------------------------------- requests

NGINX_LIKE = [
    (b'QUERY_STRING', b'a=1&b=2'), (b'REQUEST_METHOD', b'GET'),
    (b'CONTENT_TYPE', b''), (b'CONTENT_LENGTH', b''),
    (b'SCRIPT_NAME', b'/index'), (b'REQUEST_URI', b'/index?a=1&b=2'),
    (b'DOCUMENT_URI', b'/index'), (b'SERVER_PROTOCOL', b'HTTP/1.1'),
    (b'REMOTE_ADDR', b'127.0.0.1'), (b'SERVER_NAME', b'localhost'),
    (b'HTTP_HOST', b'localhost'), (b'HTTP_ACCEPT', b'*/*'),
]


class Stream:
    """A stream being built and what our parser must make of it."""

    def __init__(self, name, note, pace=True, libfcgi='same'):
        self.name = name
        self.note = note
        self.pace = pace        # oracle: one request at a time
        self.libfcgi = libfcgi  # what libfcgi 2.4.2 does with it
        self.data = b''
        self.requests = []
        self.out = b''
        self.error = False

    def add(self, data):
        self.data += data
        return self

    def expect(self, rid, params, body=b'', keep=False, role=RESPONDER,
               end='END'):
        self.requests.append(dict(
            id=rid, role=role, keep=int(keep),
            params=[[n.hex(), v.hex()] for n, v in params],
            body=body.hex(), end=end))

    def request(self, rid, params, body=b'', keep=False, role=RESPONDER,
                begin_pad=0, params_rec=65535, params_pad=0, stdin_rec=65535,
                stdin_pad=0, params_last_pad=None):
        """A whole request, and its expectation."""
        content = b''.join(pair(n, v) for n, v in params)
        self.add(begin(rid, role, KEEP_CONN if keep else 0, begin_pad))
        self.add(records(PARAMS, rid, content, params_rec, params_pad,
                         params_last_pad))
        self.add(records(STDIN, rid, body, stdin_rec, stdin_pad))
        self.expect(rid, params, body, keep, role)

    def split_body(self, between, method=b'POST', halves=(b'12', b'34'),
                   before=b''):
        """Request 1, with REQUEST_METHOD only, whose body comes as the two
        halves in two STDIN records with between sent between them (and
        before right after BEGIN_REQUEST); and its expectation."""
        params = [(b'REQUEST_METHOD', method)]
        self.add(begin(1)).add(before)
        self.add(records(PARAMS, 1, pair(*params[0])))
        self.add(rec(STDIN, 1, halves[0])).add(between)
        self.add(rec(STDIN, 1, halves[1])).add(rec(STDIN, 1))
        self.expect(1, params, b''.join(halves))

    def meta(self):
        return dict(note=self.note, pace=self.pace, libfcgi=self.libfcgi,
                    requests=self.requests, out=self.out.hex(),
                    error=self.error)


def build():
    rnd = random.Random(7)
    body5k = bytes(rnd.randrange(256) for _ in range(5000))
    streams = []

    def new(*args, **kw):
        s = Stream(*args, **kw)
        streams.append(s)
        return s

    new('get', 'an ordinary GET').request(1, NGINX_LIKE)

    s = new('empty-record-other-id', 'an empty record for another id '
            'between two STDIN records', libfcgi=SKIP_BUG)
    s.add(begin(1)).add(records(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(STDIN, 1, b'ab')).add(rec(PARAMS, 5)).add(rec(STDIN, 1, b'cd'))
    s.add(rec(STDIN, 1, b'ef')).add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1')], b'abcdef')

    s = new('management-content-injected', 'an unknown management record '
            'whose content is a name-value pair, mid-params',
            libfcgi='known: it reads the record\'s content as PARAMS: the '
            'pair INJECTED=1 reaches the application')
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(42, 0, pair(b'INJECTED', b'1')))
    s.out += unknown_type_answer(42)
    s.add(rec(PARAMS, 1, pair(b'B', b'2'))).add(rec(PARAMS, 1))
    s.add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1'), (b'B', b'2')])

    s = new('eof-mid-params', 'the connection ends between two PARAMS '
            'records',
            libfcgi='refuses, after handing the application a request with '
            'the params read so far (ReadParams takes the error for the end)')
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'A', b'1')))

    s = new('eof-mid-pair', 'the connection ends inside a name-value pair',
            libfcgi='refuses')
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(PARAMS, 1, pair(b'B', b'2'))[:-1])

    new('get-no-params', 'a request with no params at all').request(1, [])

    new('authorizer', 'role AUTHORIZER').request(
        3, NGINX_LIKE, role=AUTHORIZER)

    new('post-odd-padding', 'padding 1..7 on every PARAMS and STDIN record',
        libfcgi='refuses: padding on the empty PARAMS record '
        'desynchronises it (SetReaderType zeroes paddingLen)').request(1, NGINX_LIKE, body5k, params_rec=50,
                  params_pad=lambda i: 1 + i % 7, stdin_rec=700,
                  stdin_pad=lambda i: 7 - i % 7)

    new('padding-255', 'padding 255 on PARAMS and STDIN records',
        libfcgi='refuses: padding on the empty PARAMS record '
        'desynchronises it (SetReaderType zeroes paddingLen)').request(
        1, NGINX_LIKE, body5k, params_rec=100, params_pad=255,
        stdin_rec=1000, stdin_pad=255)

    new('begin-padding', 'padding on BEGIN_REQUEST',
        libfcgi='refuses: it forgets the padding of BEGIN_REQUEST and '
        'desynchronises').request(1, NGINX_LIKE, b'body', begin_pad=8)

    new('padding-not-on-params-end', 'padding 1..255 on every record but '
        'BEGIN_REQUEST and the empty PARAMS').request(
        1, NGINX_LIKE, body5k, params_rec=40, params_pad=lambda i: 1 + i * 37
        % 255, params_last_pad=0, stdin_rec=999, stdin_pad=lambda i: 255 - i)

    new('records-1-byte', 'params and body in records of one byte').request(
        1, NGINX_LIKE, body5k[:300], params_rec=1, stdin_rec=1)

    new('records-3-bytes-padded', 'pairs and lengths cut everywhere',
        libfcgi='refuses: padding on the empty PARAMS record '
        'desynchronises it (SetReaderType zeroes paddingLen)').request(
        1, NGINX_LIKE + [(b'LONG', b'x' * 300)], b'abc', params_rec=3,
        params_pad=lambda i: i % 3)

    new('nul-in-value', 'NUL bytes inside values (libfcgi cuts there)',
        libfcgi='lens').request(1, [(b'REQUEST_METHOD', b'GET'),
                                    (b'HTTP_X', b'a\0b'),
                                    (b'HTTP_Y', b'\0'),
                                    (b'HTTP_Z', b'tail\0')])

    new('eq-in-name', "'=' inside names (libfcgi splits there)",
        libfcgi='lens').request(1, [(b'REQUEST_METHOD', b'GET'),
                                    (b'HTTP_A=B', b'c'),
                                    (b'=', b'=='), (b'X', b'=y')])

    new('empty-name-and-values', 'empty names and values').request(
        1, [(b'', b'v'), (b'EMPTY', b''), (b'', b'')])

    new('binary-values', 'bytes 0x01-0xff in values').request(
        1, [(b'HTTP_BIN', bytes(range(1, 256))),
            (b'HTTP_UTF8', 'é€😀'.encode())])

    new('many-params', '3000 params').request(
        1, [(b'HTTP_X_%d' % i, b'value %d' % i) for i in range(3000)])

    new('big-param', 'one 60000-byte value (4-byte lengths)').request(
        1, [(b'HTTP_COOKIE', b'c' * 60000), (b'N' * 200, b'v')])

    new('short-4byte-lengths', 'small lengths sent in 4 bytes').add(
        begin(1)).add(records(PARAMS, 1,
                              b'\x80\x00\x00\x03\x80\x00\x00\x01ABCx')).add(
        records(STDIN, 1, b'')).expect(1, [(b'ABC', b'x')])

    new('post-100k', 'a 100 KiB body in full records').request(
        1, NGINX_LIKE, bytes(rnd.randrange(256) for _ in range(100000)))

    s = new('inactive-ids', 'records for other ids before and during')
    s.add(rec(PARAMS, 5, pair(b'A', b'b'))).add(rec(STDIN, 5, b'xx'))
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'REQUEST_METHOD', b'GET')))
    s.add(rec(PARAMS, 5, b'zz')).add(rec(PARAMS, 1))
    s.add(rec(STDIN, 1, b'ab')).add(rec(STDIN, 6, b'ignored'))
    s.add(rec(STDIN, 1, b'cd')).add(rec(STDIN, 1))
    s.expect(1, [(b'REQUEST_METHOD', b'GET')], b'abcd')

    new('data-inactive-id', 'FCGI_DATA records for another id').split_body(
        rec(DATA, 2, b'more', 3), before=rec(DATA, 2, b'data'))

    new('data-active-id', 'FCGI_DATA for the responder inside STDIN',
        libfcgi='refuses: a record of another type inside STDIN').split_body(
        rec(DATA, 1, b'data', 4))

    s = new('peer-stdout', 'STDOUT, STDERR, END_REQUEST from the peer',
            libfcgi='refuses: a record of another type inside STDIN')
    s.add(begin(1)).add(records(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(STDOUT, 1, b'out')).add(rec(STDERR, 1, b'err'))
    s.add(rec(END_REQUEST, 1, b'\0' * 8)).add(rec(STDIN, 1, b'x'))
    s.add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1')], b'x')

    names = [b'FCGI_MAX_CONNS', b'FCGI_FOO', b'FCGI_MPXS_CONNS']
    content = b''.join(pair(n, b'') for n in names)
    s = new('get-values-first', 'GET_VALUES before the request')
    s.add(rec(GET_VALUES, 0, content, 3))
    s.out += get_values_answer(names)
    s.request(1, NGINX_LIKE)

    names = [b'FCGI_MAX_CONNS', b'FCGI_MAX_REQS', b'FCGI_MPXS_CONNS']
    content = b''.join(pair(n, b'') for n in names)
    s = new('get-values-in-stdin', 'GET_VALUES (3 names) inside STDIN')
    s.split_body(rec(GET_VALUES, 0, content), halves=(b'ab', b'cd'))
    s.out += get_values_answer(names)

    names = [b'FCGI_MPXS_CONNS'] * 200
    s = new('get-values-200-names', 'GET_VALUES naming FCGI_MPXS_CONNS 200 '
            'times inside STDIN (issue 7)',
            libfcgi='crashes: stack buffer overflow in '
            'ProcessManagementRecord')
    s.split_body(rec(GET_VALUES, 0, b''.join(pair(n, b'') for n in names)),
                 method=b'GET', halves=(b'ab', b'cd'))
    s.out += get_values_answer(names)

    s = new('unknown-type', 'management records of unknown types mid-params',
            libfcgi='refuses: it reads the content of an unknown management '
            'record as PARAMS bytes')
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(42, 0, b'abc', 5)).add(rec(ABORT, 0))
    s.out += unknown_type_answer(42) + unknown_type_answer(ABORT)
    s.add(rec(PARAMS, 1, pair(b'B', b'2'))).add(rec(PARAMS, 1))
    s.add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1'), (b'B', b'2')])

    s = new('multiplexed', 'a BEGIN_REQUEST for a second id mid-params',
            libfcgi=SKIP_BUG)
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'A', b'1')))
    s.add(begin(2, flags=KEEP_CONN)).add(rec(PARAMS, 2, pair(b'Z', b'z')))
    s.out += end_request_answer(2, CANT_MPX_CONN)
    s.add(rec(PARAMS, 1)).add(rec(PARAMS, 2)).add(rec(STDIN, 1, b'x'))
    s.add(rec(STDIN, 2, b'y')).add(rec(STDIN, 2)).add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1')], b'x')

    s = new('abort-inactive', 'ABORT_REQUEST for an id that is not active',
            libfcgi=SKIP_BUG)
    s.add(begin(1)).add(records(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(STDIN, 1, b'ab')).add(rec(ABORT, 9)).add(rec(STDIN, 1, b'cd'))
    s.add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1')], b'abcd')

    s = new('abort-active', 'ABORT_REQUEST for the active request',
            libfcgi='refuses: a record of another type inside STDIN')
    s.add(begin(1, flags=KEEP_CONN)).add(records(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(STDIN, 1, b'ab')).add(rec(ABORT, 1)).add(rec(STDIN, 1, b'cd'))
    s.add(rec(STDIN, 1))
    s.expect(1, [(b'A', b'1')], b'ab', keep=True, end='ABORT')

    s = new('keep-conn', 'three requests on a kept connection, one at a '
            'time (as nginx sends them)')
    for i in range(3):
        s.request(1, NGINX_LIKE[:4] + [(b'N', b'%d' % i)], b'body %d' % i,
                  keep=i < 2)

    s = new('pipelined', 'two requests in one write on a kept connection',
            pace=False, libfcgi='loses the second request (its bytes were '
            'read with the first and freed with it)')
    s.request(1, NGINX_LIKE, b'first', keep=True)
    s.request(1, NGINX_LIKE, b'second', keep=True)

    s = new('unknown-role', 'role 9, then a request on another id',
            libfcgi='refuses: closes the connection on an unknown role')
    s.add(begin(1, role=9, flags=KEEP_CONN)).add(rec(PARAMS, 1))
    s.add(rec(STDIN, 1))
    s.out += end_request_answer(1, UNKNOWN_ROLE)
    s.request(2, NGINX_LIKE)

    s = new('filter-role', 'role FILTER, with DATA',
            libfcgi='known: libfcgi serves FILTER; we answer UNKNOWN_ROLE')
    s.add(begin(1, role=FILTER, flags=KEEP_CONN))
    s.add(records(PARAMS, 1, pair(b'A', b'1'))).add(rec(STDIN, 1))
    s.add(rec(DATA, 1, b'data')).add(rec(DATA, 1))
    s.out += end_request_answer(1, UNKNOWN_ROLE)

    s = new('cve-2025-23016', 'two pair lengths of 2^31-1, then 4 KiB',
            libfcgi='refuses (Debian 12 has the first fix of the CVE)')
    s.add(begin(1)).add(rec(PARAMS, 1, b'\xff' * 8 + b'A' * 4096))
    s.add(rec(PARAMS, 1)).add(rec(STDIN, 1))
    s.error = True

    s = new('pair-past-end', 'a value length past the end of PARAMS',
            libfcgi='refuses')
    s.add(begin(1)).add(rec(PARAMS, 1, b'\x03\x03ABCxy')).add(rec(PARAMS, 1))
    s.add(rec(STDIN, 1))
    s.error = True

    s = new('version-2', 'a record of version 2 after a request',
            libfcgi='refuses')
    s.request(1, NGINX_LIKE, keep=True)
    s.add(rec(BEGIN, 1, struct.pack('!HB5x', 1, 0), version=2))
    s.error = True

    s = new('stdin-before-params-end', 'STDIN before the empty PARAMS',
            libfcgi='refuses, after handing the application a request with '
            'the params read so far')
    s.add(begin(1)).add(rec(PARAMS, 1, pair(b'A', b'1')))
    s.add(rec(STDIN, 1, b'x'))
    s.error = True

    return streams


SEED_MAX = 16384


def write_corpus(streams):
    """
    The fuzzer's seeds: every stream (its first SEED_MAX bytes) behind
    set-up bytes: mode 0, and the small ones in a few other modes and cuts.
    """
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.glob('seed-*'):
        old.unlink()
    named = [(p.stem, p.read_bytes()) for p in sorted(CAPTURES.glob('*.bin'))]
    named += [('crafted-' + s.name, s.data) for s in streams]
    for name, data in named:
        data = data[:SEED_MAX]  # a longer body only slows the fuzzer down
        setups = [b'\0\0\0\0']
        if len(data) < 4096:
            setups += [b'\x37\x00\x01\x02', b'\x05\x10\x20\x30',
                       b'\xc2\x7f\x00\x00']
        for setup in setups:
            (CORPUS / ('seed-%s-%s' % (name, setup.hex()))).write_bytes(
                setup + data)
    return len(list(CORPUS.glob('seed-*')))


def main(argv):
    streams = build()
    if argv[1:2] == ['--corpus']:
        print('crafted: %d fuzz seeds in %s' % (write_corpus(streams),
                                                 CORPUS))
        return 0
    if argv[1:2] == ['--out'] and len(argv) == 3:
        out = Path(argv[2])
        out.mkdir(parents=True, exist_ok=True)
        for s in streams:
            (out / (s.name + '.bin')).write_bytes(s.data)
            (out / (s.name + '.json')).write_text(
                json.dumps(s.meta(), indent=1, sort_keys=True) + '\n')
        print('crafted: %d streams in %s' % (len(streams), out))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
