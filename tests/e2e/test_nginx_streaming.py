"""
Streamed responses through the real nginx: each chunk reaches the client
as the application yields it when the response says
"X-Accel-Buffering: no" (examples/nginx/fcgi-wsgi.conf.in, over a unix
socket and over TCP), or when the location has fastcgi_buffering off
(fcgi-wsgi-nobuffering.conf.in); without either, nginx holds the chunks
(the control case, which shows that the header is what matters).
tests/apps/stream_app.py streams with or without the header.
"""

import pytest

from e2elib import APPS_DIR, assert_streamed, free_port, stream_lines
from webservers import App, NginxSite

N, DELAY = 4, 0.5

# name: (template, transport, X-Accel-Buffering: no sent, unbuffered)
CASES = {
    'header-unix': ('fcgi-wsgi.conf.in', 'unix', True, True),
    'header-tcp': ('fcgi-wsgi.conf.in', 'tcp', True, True),
    'no-header-buffered': ('fcgi-wsgi.conf.in', 'unix', False, False),
    'buffering-off': ('fcgi-wsgi-nobuffering.conf.in', 'unix', False, True),
    'buffering-off-tcp': ('fcgi-wsgi-nobuffering.conf.in', 'tcp', False,
                          True),
}


@pytest.mark.parametrize('name', list(CASES))
def test_nginx_streaming(name, tmp, server_cmd, nginx_bin):
    template, transport, header, unbuffered = CASES[name]
    address = (tmp / 'app.sock' if transport == 'unix'
               else ('127.0.0.1', free_port()))
    app = App('fcgi-wsgi', server_cmd, app_args=[
        '--chdir', APPS_DIR, '--module', 'stream_app'])
    empty = tmp / 'static'
    empty.mkdir()
    site = NginxSite(name, tmp, template, app, address, empty)
    try:
        status, headers, lines = stream_lines(
            site.port, '/stream?n=%d&delay=%s%s' % (
                N, DELAY, '&accel=no' if header else ''))
    finally:
        site.stop()
    assert status == 200, (status, lines, site.logs())
    assert_streamed(lines, N, DELAY, unbuffered, logs=site.logs())
