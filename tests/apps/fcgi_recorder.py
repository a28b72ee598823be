"""
A FastCGI responder in plain Python that records what a web server sends:
each request's parameters (and its body's length) become one JSON line in
OUT, and the response is the same JSON.  The e2e tests put it where
fcgi-wsgi would be, to measure each server's SCRIPT_NAME, PATH_INFO,
REQUEST_URI, HTTPS and Authorization as sent, before fcgi-wsgi reads them.

    fcgi_recorder.py OUT                 serve the listening socket on fd 0
                                         (mod_fcgid, lighttpd bin-path)
    fcgi_recorder.py OUT unix:PATH       listen on a unix socket (0666)
    fcgi_recorder.py OUT 127.0.0.1:PORT  listen on TCP

One thread per connection; FCGI_KEEP_CONN is honoured; SIGTERM ends it.
Parameter names and values are decoded as UTF-8 (bad bytes as \\xNN).
"""

import json
import os
import signal
import socket
import struct
import sys
import threading

HEADER = struct.Struct('!BBHHBx')
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST = 1, 2, 3
PARAMS, STDIN, STDOUT = 4, 5, 6
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
KEEP_CONN = 1

write_lock = threading.Lock()


def record(rtype, rid, data=b''):
    out = []
    for start in range(0, max(len(data), 1), 65535):
        part = data[start:start + 65535]
        pad = -len(part) % 8
        out.append(HEADER.pack(1, rtype, rid, len(part), pad) + part
                   + b'\0' * pad)
    return b''.join(out)


def read_exact(conn, n):
    buf = b''
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_record(conn):
    head = read_exact(conn, 8)
    if head is None:
        return None
    _, rtype, rid, clen, plen = HEADER.unpack(head)
    body = read_exact(conn, clen + plen) if clen + plen else b''
    if body is None:
        return None
    return rtype, rid, body[:clen]


def pair_length(data, pos):
    if data[pos] < 128:
        return data[pos], pos + 1
    return struct.unpack('!I', data[pos:pos + 4])[0] & 0x7fffffff, pos + 4


def parse_pairs(data):
    pairs, pos = [], 0
    while pos < len(data):
        nlen, pos = pair_length(data, pos)
        vlen, pos = pair_length(data, pos)
        name = data[pos:pos + nlen]
        value = data[pos + nlen:pos + nlen + vlen]
        pos += nlen + vlen
        pairs.append((name.decode('utf-8', 'backslashreplace'),
                      value.decode('utf-8', 'backslashreplace')))
    return pairs


def serve_connection(conn, out_path):
    requests = {}
    try:
        while True:
            rec = read_record(conn)
            if rec is None:
                return
            rtype, rid, content = rec
            if rtype == GET_VALUES:
                conn.sendall(record(GET_VALUES_RESULT, 0))
                continue
            if rtype == BEGIN_REQUEST:
                role, flags = struct.unpack('!HB', content[:3])
                requests[rid] = {'flags': flags, 'params': b'', 'body': 0,
                                 'role': role}
                continue
            req = requests.get(rid)
            if req is None:
                if rid == 0:
                    conn.sendall(record(UNKNOWN_TYPE, 0,
                                        bytes([rtype]) + b'\0' * 7))
                continue
            if rtype == ABORT_REQUEST:
                del requests[rid]
                continue
            if rtype == PARAMS:
                req['params'] += content
                continue
            if rtype != STDIN:
                continue
            req['body'] += len(content)
            if content:
                continue
            # The empty STDIN record: the request is complete.
            params = dict(parse_pairs(req['params']))
            entry = {'params': params, 'body_length': req['body'],
                     'role': req['role'], 'keep_conn': bool(
                         req['flags'] & KEEP_CONN), 'pid': os.getpid()}
            line = json.dumps(entry, sort_keys=True, ensure_ascii=False)
            with write_lock:
                with open(out_path, 'a', encoding='utf-8') as f:
                    f.write(line + '\n')
            body = line.encode('utf-8')
            head = (b'Status: 200 OK\r\nContent-Type: application/json\r\n'
                    b'Content-Length: %d\r\n\r\n' % len(body))
            end = struct.pack('!IB3x', 0, 0)
            conn.sendall(record(STDOUT, rid, head + body)
                         + record(STDOUT, rid) + record(END_REQUEST, rid, end))
            del requests[rid]
            if not req['flags'] & KEEP_CONN:
                return
    except OSError:
        return
    finally:
        conn.close()


def listener(address):
    if address is None:
        return socket.socket(fileno=os.dup(0))
    if address.startswith('unix:'):
        path = address[5:]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o666)
    else:
        host, _, port = address.rpartition(':')
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or '127.0.0.1', int(port)))
    sock.listen(128)
    return sock


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    out_path = argv[1]
    sock = listener(argv[2] if len(argv) == 3 else None)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_connection, args=(conn, out_path),
                         daemon=True).start()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
