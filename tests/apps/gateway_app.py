"""A WSGI app for the e2e tests of the other ways fcgi-wsgi runs: systemd
socket activation, CGI, and the FastCGI Authorizer role.

As a responder it routes on PATH_INFO:
  /hello        a line of text
  /environ      the WSGI environ's str and bool values, as JSON
  /os-environ   the process environment's systemd and proxy variables
  /echo         the request body back, with its length and sha256 (JSON)
  /print        prints to sys.stdout, then answers (CGI: stdout is not
                the response)
  (anything else: 404)

In the Authorizer role (environ["FCGI_ROLE"] == "AUTHORIZER") it lets
"Authorization: Bearer good" (or the user alice, whom the web server
authenticated) through with Variable-* headers that tell what it saw, and
denies everything else with a 403 of its own: status, header, body.
"""

import hashlib
import json
import os

OS_KEYS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
           "HTTP_PROXY", "GATEWAY_INTERFACE")


def _json(start_response, data, status="200 OK"):
    body = json.dumps(data, sort_keys=True).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def authorize(environ, start_response):
    path = environ["PATH_INFO"]
    body = environ["wsgi.input"].read()
    if (environ.get("HTTP_AUTHORIZATION") == "Bearer good"
            or environ.get("REMOTE_USER") == "alice"):
        start_response("200 OK", [
            ("Variable-AUTH_USER", "alice"),
            ("Variable-AUTH_PATH", path),
            ("Variable-AUTH_SEEN", "role=%s content_length=%s body=%d" % (
                environ.get("FCGI_ROLE"),
                environ.get("CONTENT_LENGTH", "absent"), len(body))),
        ])
        return [b""]
    text = ("denied by gateway_app: %s\n" % path).encode("latin-1")
    start_response("403 Forbidden", [("Content-Type", "text/plain"),
                                     ("Content-Length", str(len(text))),
                                     ("X-Denied", "gateway_app")])
    return [text]


def application(environ, start_response):
    if environ.get("FCGI_ROLE") == "AUTHORIZER":
        return authorize(environ, start_response)
    path = environ["PATH_INFO"]
    if path == "/hello":
        text = b"hello from gateway_app\n"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(text)))])
        return [text]
    if path == "/environ":
        return _json(start_response, {
            k: v for k, v in environ.items() if isinstance(v, (str, bool))})
    if path == "/os-environ":
        return _json(start_response,
                     {k: os.environ.get(k) for k in OS_KEYS})
    if path == "/echo":
        body = environ["wsgi.input"].read()
        return _json(start_response, {
            "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
            "text": body[:200].decode("latin-1")})
    if path == "/print":
        print("printed to sys.stdout by gateway_app", flush=True)
        text = b"printed\n"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(text)))])
        return [text]
    text = ("no page at %r\n" % path).encode("utf-8")
    start_response("404 Not Found", [("Content-Type", "text/plain"),
                                     ("Content-Length", str(len(text)))])
    return [text]
