"""WSGI applications the pyglue unit tests (tests/unit/test_*.c) call.

`application` dispatches on the TEST_APP parameter; QUERY_STRING carries
an app's argument where one is needed.  Module globals (CLOSED, KEPT, ...)
record what happened so that the C tests can inspect them afterwards.
"""

import ast
import io
import sys

CLOSED = []  # names of response iterables whose close() was called
KEPT = {}  # objects an app kept past its request


def _text(start_response, body, status="200 OK"):
    start_response(status, [("Content-Type", "text/plain")])
    return [body]


def hello(environ, start_response):
    return _text(start_response, b"Hello, world!\n")


def show_environ(environ, start_response):
    """One line per key: KEY=repr(value), or KEY=<type> for objects."""
    lines = []
    for key in sorted(environ):
        value = environ[key]
        if isinstance(value, (str, bool, tuple)):
            lines.append("%s=%r\n" % (key, value))
        else:
            lines.append("%s=<%s>\n" % (key, type(value).__name__))
    return _text(start_response, "".join(lines).encode("utf-8"))


def environ_keep(environ, start_response):
    """show_environ, keeping each environ in KEPT["environs"]."""
    KEPT.setdefault("environs", []).append(environ)
    return show_environ(environ, start_response)


def input_ops(environ, start_response):
    """QUERY_STRING holds calls on wsgi.input separated by ';', e.g.
    "read(3);readline()": the body is the repr of each result, one a line.
    "iter" lists the lines by iteration; "len:OP" gives len() of OP's
    result."""
    inp = environ["wsgi.input"]
    out = []
    for op in environ["QUERY_STRING"].split(";"):
        if op == "iter":
            out.append(repr(list(inp)))
        elif op.startswith("len:"):
            out.append(repr(len(eval("inp." + op[4:], {"inp": inp}))))
        else:
            out.append(repr(eval("inp." + op, {"inp": inp})))
    return _text(start_response, ("\n".join(out) + "\n").encode("utf-8"))


def read_some(environ, start_response):
    """Reads 4 bytes of a longer body, answers with them."""
    return _text(start_response, environ["wsgi.input"].read(4))


def read_after_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"started "
    yield environ["wsgi.input"].read()


def input_keep(environ, start_response):
    KEPT["input"] = environ["wsgi.input"]
    return _text(start_response, b"kept\n")


def _pattern(n):
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def input_pieces(environ, start_response):
    """Reads the body in pieces of varied sizes and checks it against the
    pattern the C test sent (byte i is i % 251, QUERY_STRING bytes)."""
    inp = environ["wsgi.input"]
    sizes = [1, 1000, 7, 65536, 8191, 8192, 8193, 300000, 3]
    parts = []
    i = 0
    while True:
        piece = inp.read(sizes[i % len(sizes)])
        if not piece:
            break
        parts.append(piece)
        i += 1
    data = b"".join(parts)
    expected = _pattern(int(environ["QUERY_STRING"]))
    if data == expected:
        body = b"ok %d in %d reads\n" % (len(data), i)
    else:
        at = next((k for k, (a, b) in enumerate(zip(data, expected))
                   if a != b), min(len(data), len(expected)))
        body = b"mismatch: %d bytes, first difference at %d\n" % (
            len(data), at)
    return _text(start_response, body)


def start_response_args(environ, start_response):
    """QUERY_STRING is a Python literal: the arguments of start_response,
    (status, headers) or (status, headers, exc_info)."""
    start_response(*ast.literal_eval(environ["QUERY_STRING"]))
    return [b"body"]


def exc_info_before(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html")])
    try:
        raise ValueError("caught early")
    except ValueError:
        start_response("500 Oops", [("Content-Type", "text/plain")],
                       sys.exc_info())
    return [b"oops"]


def exc_info_after(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"part"
    try:
        raise ValueError("caught late")
    except ValueError:
        start_response("500 Oops", [], sys.exc_info())
    yield b"never sent"


def twice(environ, start_response):
    start_response("200 OK", [])
    start_response("201 Created", [])
    return [b"x"]


def legacy_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one ")
    write(b"two ")
    return [b"three"]


def write_str(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write("not bytes")
    return [b"x"]


def write_keep(environ, start_response):
    KEPT["write"] = start_response("200 OK", [])
    KEPT["start_response"] = start_response
    return [b"kept\n"]


def list3(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"one ", b"", b"two ", b"three"]


def gen3(environ, start_response):
    # start_response is called late, from inside the generator
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"one "
    yield b""
    yield b"two "
    yield b"three"


class Recorded:
    """An iterable over chunks whose close() is recorded in CLOSED; the
    chunk "RAISE" raises RuntimeError instead of being yielded."""

    def __init__(self, name, chunks, close_raises=False):
        self.name = name
        self.chunks = list(chunks)
        self.close_raises = close_raises

    def __iter__(self):
        for chunk in self.chunks:
            if chunk == "RAISE":
                raise RuntimeError("failed in the middle of " + self.name)
            yield chunk

    def close(self):
        CLOSED.append(self.name)
        if self.close_raises:
            raise KeyError("close failed in " + self.name)


def raise_mid(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Recorded("raise_mid", [b"first", "RAISE"])


def raise_first(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Recorded("raise_first", ["RAISE"])


def close_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Recorded("close_raises", [b"fine"], close_raises=True)


class _ListBacked:
    # as Django's HttpResponse: an object whose __iter__ is over a list
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)


def list_backed(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _ListBacked([b"one ", b"", b"two ", b"three"])


def tuple_backed(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _ListBacked((b"one ", b"two ", b"three"))


def recorded_gen(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Recorded("recorded_gen", [b"one ", b"two ", b"three"])


def empty(environ, start_response):
    start_response("204 No Content", [])
    return []


def empty_gen(environ, start_response):
    start_response("200 OK", [("Content-Length", "0")])
    yield b""


def big(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [b"x" * 100000]


def str_chunk(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["text, not bytes"]


def str_chunk_gen(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield "text, not bytes"


def str_chunk_late(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"fine "
    yield "then text"


def boom_helper():
    raise ValueError("boom in the helper")


def boom(environ, start_response):
    boom_helper()


def no_start(environ, start_response):
    return [b"forgot start_response"]


def gen_no_start(environ, start_response):
    yield b""
    yield b"data before start_response"


def not_iterable(environ, start_response):
    start_response("200 OK", [])
    return 42


def return_bytes(environ, start_response):
    start_response("200 OK", [])
    return b"a bare bytes body"


class ClosingBytesIO(io.BytesIO):
    def close(self):
        CLOSED.append("file")
        super().close()


def file_wrapper(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    data = b"".join(bytes([65 + i % 26]) * 1000 for i in range(20))
    return environ["wsgi.file_wrapper"](ClosingBytesIO(data), 8192)


def errors_stream(environ, start_response):
    errors = environ["wsgi.errors"]
    errors.write("first line\nsecond line\n")
    print("printed", file=errors)
    errors.write("a line ")
    errors.write("in pieces\n\n")
    errors.write("flushed")
    errors.flush()
    # the unfinished last line is logged at the end of the request
    errors.writelines(["from ", "writelines\n", "and a second line"])
    return _text(start_response, b"logged\n")


def typical(environ, start_response):
    """What a small framework does per request."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    path = environ["PATH_INFO"]
    text = "%s %s %d %s\n" % (environ["REQUEST_METHOD"], path, len(body),
                              environ.get("HTTP_USER_AGENT", "-"))
    data = text.encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(data))),
                              ("X-Path", path)])
    return [data]


def authorize(environ, start_response):
    """A FastCGI Authorizer: 200 with Variable-* headers for "Bearer good",
    else a 403 with headers and a body of its own."""
    path = environ["PATH_INFO"]
    if environ.get("HTTP_AUTHORIZATION") == "Bearer good":
        start_response("200 OK", [("Variable-AUTH_USER", "alice"),
                                  ("Variable-AUTH_PATH", path)])
        return [b""]
    start_response("403 Forbidden", [("Content-Type", "text/plain"),
                                     ("X-Denied", "yes")])
    return [b"denied: " + path.encode("latin-1") + b"\n"]


APPS = {name: obj for name, obj in globals().items()
        if callable(obj) and not name.startswith("_")
        and getattr(obj, "__module__", None) == __name__
        and not isinstance(obj, type) and name not in ("boom_helper",)}
APPS["environ"] = show_environ


def application(environ, start_response):
    return APPS[environ.get("TEST_APP", "hello")](environ, start_response)
