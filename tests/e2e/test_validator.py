"""
tests/apps/validator_app.py, a plain WSGI app inside
wsgiref.validate.validator with warnings as errors, behind nginx: every
request shape must pass with nothing in the logs (any PEP 3333 breach by
the server would be an exception there).  The error paths come last: they
log tracebacks on purpose.
"""

import http.client

import pytest

from e2elib import (BAD_WORDS, assert_clean_request, assert_streamed,
                    clean_request, http_request, log_marks, log_since,
                    log_size, random_body, sha256, stream_lines,
                    wait_for_log)


def logs_of(site):
    return [site.app_log, site.server_log]


def offsets(site):
    return [log_size(p) for p in logs_of(site)]


def request(site, method, path, body=None, headers=None, **kw):
    """The request, its logs clean once the access log has its line."""
    kw.setdefault('timeout', 10)
    return clean_request(site, method, path, body=body, headers=headers,
                         **kw)


def post(site, path, body, **kw):
    return request(site, 'POST', path, body=body,
                   headers={'Content-Type': 'application/octet-stream'},
                   **kw)


# method, path: status, reason, body
ANSWERS = {
    ('GET', '/hello'): (200, 'OK', b'hello from validator_app\n'),
    ('HEAD', '/hello'): (200, 'OK', b''),
    ('GET', '/write'): (200, 'OK',
                        b'written with write(), then returned\n'),
    ('GET', '/late-start'): (200, 'OK', b'late start_response\n'),
    ('GET', '/no-content'): (204, 'No Content', b''),
    ('GET', '/nothing/here'): (404, 'Not Found',
                               b'no such page: /nothing/here\n'),
}


@pytest.mark.parametrize('method,path', list(ANSWERS),
                         ids=['%s %s' % a for a in ANSWERS])
def test_answer(validator_site, method, path):
    """A plain GET and HEAD, write(), a late start_response, no body, a
    404: the status, reason and body the app gave."""
    status, reason, body = ANSWERS[method, path]
    resp = request(validator_site, method, path)
    assert (resp.status, resp.reason) == (status, reason), (
        resp, validator_site.logs())
    assert resp.body == body, resp


def test_environ(validator_site):
    env = request(validator_site, 'GET', '/environ').json()
    assert env['REQUEST_METHOD'] == 'GET'
    assert env['SCRIPT_NAME'] == ''
    assert env['PATH_INFO'] == '/environ'
    assert env['QUERY_STRING'] == ''
    assert env['wsgi.version'] == [1, 0]
    assert env['wsgi.url_scheme'] == 'http'
    assert env['wsgi.run_once'] is False
    assert 'HTTP_CONTENT_LENGTH' not in env
    assert 'HTTP_CONTENT_TYPE' not in env


def test_query_string(validator_site):
    resp = request(validator_site, 'GET', '/query?x=1&x=2&y=%C3%A9&z=')
    assert resp.status == 200, resp
    info = resp.json()
    assert info['QUERY_STRING'] == 'x=1&x=2&y=%C3%A9&z='
    assert info['params'] == {'x': ['1', '2'], 'y': ['é']}


def test_utf8_path(validator_site):
    resp = request(validator_site, 'GET', '/utf8/caf%C3%A9/%E2%82%AC')
    assert resp.status == 200, resp
    info = resp.json()
    assert info['decoded'] == '/utf8/café/€'
    # PEP 3333: environ strings are the bytes decoded as latin-1.
    assert info['PATH_INFO'] == '/utf8/café/€'.encode().decode('latin-1')


def lines_body():
    """Lines of many lengths, CRLF and LF, one longer than 64 KiB, and no
    newline at the very end."""
    parts = [b'short\n', b'\n', b'crlf line\r\n', b'x' * 70_000 + b'\n']
    parts += [b'line %d %s\n' % (i, b'y' * (i * 37 % 500)) for i in range(300)]
    parts.append(b'no newline at the end')
    return b''.join(parts)


@pytest.mark.parametrize('path,size', [
    ('/read-n?size=1000', 100_000),
    ('/read-n?size=1', 3000),
    ('/read-n?size=65536', 5 * 1024 * 1024),
    ('/read-n?size=1000', 0),
])
def test_read_n(validator_site, path, size):
    data = random_body(size)
    resp = post(validator_site, path, data)
    assert resp.status == 200, (resp, validator_site.logs())
    info = resp.json()
    assert info['content_length'] == size
    assert info['length'] == size
    assert info['sha256'] == sha256(data)


@pytest.mark.parametrize('path', ['/readline', '/readline-size', '/iter',
                                  '/readlines'])
def test_read_lines(validator_site, path):
    data = lines_body()
    resp = post(validator_site, path, data)
    assert resp.status == 200, (resp, validator_site.logs())
    info = resp.json()
    assert info['length'] == len(data), info
    assert info['sha256'] == sha256(data)
    if path != '/readline-size':
        assert info['reads'] == data.count(b'\n') + 1, info


def test_unread_body(validator_site):
    """The application answers without reading a 5 MiB body."""
    resp = post(validator_site, '/hello', random_body(5 * 1024 * 1024))
    assert resp.status == 200, (resp, validator_site.logs())
    assert resp.body == b'hello from validator_app\n'


def test_chunked_request_body(validator_site):
    data = random_body(200_000)
    pieces = [data[i:i + 50_000] for i in range(0, len(data), 50_000)]
    resp = post(validator_site, '/read-n?size=4096', iter(pieces),
                encode_chunked=True)
    assert resp.status == 200, (resp, validator_site.logs())
    assert resp.json()['sha256'] == sha256(data)


def test_streaming_generator(validator_site):
    marks = log_marks(validator_site)
    n, delay = 4, 0.5
    path = '/stream?n=%d&delay=%s' % (n, delay)
    status, headers, lines = stream_lines(validator_site.port, path)
    assert status == 200, (headers, lines, validator_site.logs())
    assert_streamed(lines, n, delay, logs=validator_site.logs())
    assert_clean_request(validator_site, marks, 'GET', path)


def test_close_is_called(validator_site):
    marks = offsets(validator_site)
    resp = http_request(validator_site.port, 'GET', '/close')
    assert resp.status == 200, resp
    assert resp.body == b'closing body\n'
    text = wait_for_log(logs_of(validator_site), marks,
                        ['close() called for /close'])
    assert 'validator_app: close() called for /close' in text, \
        validator_site.logs()


def test_wsgi_errors_reach_the_logto_file(validator_site):
    mark = log_size(validator_site.app_log)
    resp = request(validator_site, 'GET', '/errors')
    assert resp.status == 200, resp
    text = wait_for_log([validator_site.app_log], [mark],
                        ['wsgi.errors.writelines'])
    assert 'validator_app: a line via wsgi.errors.write' in text, \
        validator_site.logs()
    assert 'validator_app: a line via wsgi.errors.writelines' in text


def test_log_clean_so_far(validator_site):
    """Everything above ran with nothing suspicious in the logs."""
    text = ''.join(log_since(p, 0) for p in logs_of(validator_site))
    bad = [w for w in BAD_WORDS if w in text]
    assert not bad, 'the server log has %s:\n%s' % (bad, text)


# ------------------------------------------------ error paths, on purpose

def test_exception_before_start_response(validator_site):
    marks = offsets(validator_site)
    resp = http_request(validator_site.port, 'GET', '/error-before')
    assert resp.status == 500, (resp, validator_site.logs())
    text = wait_for_log(logs_of(validator_site), marks,
                        ['validator boom before start_response'])
    assert 'Traceback' in text, validator_site.logs()
    assert 'RuntimeError: validator boom before start_response' in text
    assert '/error-before' in text, 'the log does not name the path'
    assert 'GET' in text, 'the log does not name the method'
    assert 'Warning' not in text and 'AssertionError' not in text, text
    assert http_request(validator_site.port, 'GET', '/hello').status == 200


def test_exc_info_handled_by_app(validator_site):
    resp = request(validator_site, 'GET', '/error-exc-info')
    assert resp.status == 500, resp
    assert resp.body == b'handled by the application\n'


def test_exception_in_body(validator_site):
    marks = offsets(validator_site)
    try:
        resp = http_request(validator_site.port, 'GET', '/error-in-body')
        status, body = resp.status, resp.body
    except http.client.HTTPException as e:
        status, body = 200, getattr(e, 'partial', b'')
    assert status == 200
    assert body.startswith(b'partial'), body
    text = wait_for_log(logs_of(validator_site), marks,
                        ['validator boom in body'])
    assert 'RuntimeError: validator boom in body' in text, \
        validator_site.logs()
    assert '/error-in-body' in text, 'the log does not name the path'
    assert 'without being closed' not in text, text
    assert 'Warning' not in text and 'AssertionError' not in text, text
    assert http_request(validator_site.port, 'GET', '/hello').status == 200
