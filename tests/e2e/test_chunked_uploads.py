"""
Chunked uploads read by Django (issue 7): a POST sent with
Transfer-Encoding: chunked reaches FastCGI without a usable CONTENT_LENGTH
through Apache mod_proxy_fcgi (none), nginx with fastcgi_request_buffering
off (empty) and Caddy's FastCGI transport (-1).  Django reads
CONTENT_LENGTH bytes, so fcgi-wsgi must buffer such a body and set
CONTENT_LENGTH to its real size (memory up to post-buffering, then a temp
file): the demo's /echo/ must see every byte.  The same POST with a
Content-Length is the control.

Each server runs from the examples' configuration rendered in the temp
dir (nginx: examples/nginx/fcgi-wsgi.conf.in plus the one directive;
Caddy: examples/caddy/Caddyfile.in, as webservers.CaddySite runs it).
"""

import json
import tempfile
from pathlib import Path

import pytest

from e2elib import (NGINX_DIR, Proc, ServerMissing, http_request,
                    random_body, render_nginx, sha256)
from webservers import (App, ApacheSite, CaddySite, Site, apache_binary,
                        find_binary, start_on_free_port)

SIZES = {'100KB': 100 * 1024, '2MiB': 2 * 1024 * 1024}  # under Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB); 2 MiB is above post-buffering
CHUNK = 64 * 1024 + 13  # odd-sized chunks, as a client may send them


class UnbufferedNginxSite(Site):
    """
    nginx from examples/nginx/fcgi-wsgi.conf.in with
    `fastcgi_request_buffering off;` added to the FastCGI location: the
    body goes to fcgi-wsgi as it arrives, a chunked one without
    CONTENT_LENGTH.
    """

    server = 'nginx'

    def __init__(self, name, dir, app, static_root):
        super().__init__(name, dir, '')
        binary = find_binary('nginx')
        ngx = self.dir / 'nginx'
        ngx.mkdir(exist_ok=True)
        self.error_log = ngx / 'error.log'
        try:
            socket_path = self.dir / 'app.sock'
            proc = app.start(self.dir, socket_path)
            self.procs.append(proc)
            self.log_files += [(app.kind, proc.log_path),
                               ('nginx error log', self.error_log)]
            self.config = ngx / 'nginx.conf'

            def start(port):
                render_nginx(NGINX_DIR / 'fcgi-wsgi.conf.in', self.config,
                             port, socket_path, static_root, ngx)
                text = self.config.read_text()
                include = 'include /etc/nginx/fastcgi_params;'
                assert text.count(include) == 1, text
                self.config.write_text(text.replace(
                    include, include + '\n            '
                    'fastcgi_request_buffering off;'))
                return Proc([binary, '-p', ngx, '-e', self.error_log, '-c',
                             self.config], ngx / 'nginx.out', name='nginx')

            proc, self.port = start_on_free_port(start, self.error_log)
            self.procs.append(proc)
        except BaseException:
            self.stop()
            raise


def make_site(kind, dir, server_cmd, django_env, session_tmp):
    app = App('fcgi-wsgi', server_cmd, django_env)
    static_root = django_env['DEMO_STATIC_ROOT']
    if kind == 'apache':
        return ApacheSite(kind, dir, 'proxy', app, static_root, session_tmp)
    if kind == 'nginx-unbuffered':
        return UnbufferedNginxSite(kind, dir, app, static_root)
    return CaddySite(kind, dir, app, static_root)


@pytest.fixture(scope='module', params=['apache', 'nginx-unbuffered',
                                        'caddy'])
def site(request, session_tmp, server_cmd, django_env):
    try:
        if request.param == 'apache':
            apache_binary('proxy_fcgi')
        elif request.param == 'caddy':
            find_binary('caddy')
        else:
            find_binary('nginx')
    except ServerMissing as e:
        pytest.skip(str(e))
    dir = Path(tempfile.mkdtemp(prefix='chunked-', dir=session_tmp))
    site = make_site(request.param, dir, server_cmd, django_env,
                     session_tmp)
    request.addfinalizer(site.stop)
    return site


def post(site, data, chunked):
    """POSTs data to the demo's /echo/: chunked (an iterator body, which
    http.client sends with Transfer-Encoding: chunked) or with a
    Content-Length."""
    headers = {'Content-Type': 'application/octet-stream'}
    if chunked:
        body = iter([data[i:i + CHUNK] for i in range(0, len(data), CHUNK)])
    else:
        body = data
    return http_request(site.port, 'POST', '/echo/upload/', headers=headers,
                        body=body, encode_chunked=chunked, timeout=60)


@pytest.mark.parametrize('size', list(SIZES.values()), ids=list(SIZES))
@pytest.mark.parametrize('mode', ['content-length', 'chunked'])
def test_django_reads_upload(site, mode, size):
    """Django's request.body is the whole upload and CONTENT_LENGTH its
    real size; a chunked one comes with wsgi.input_terminated True
    (fcgi-wsgi ends the body at the empty STDIN record)."""
    data = random_body(size, seed=b'chunked %d' % size)
    resp = post(site, data, mode == 'chunked')
    assert resp.status == 200, (resp, site.logs())
    info = json.loads(resp.body)
    seen = {'body_length': info['body_length'],
            'body_sha256': info['body_sha256'],
            'CONTENT_LENGTH': info['meta']['CONTENT_LENGTH'],
            'wsgi.input_terminated': info['meta'].get(
                'wsgi.input_terminated')}
    want = {'body_length': size, 'body_sha256': sha256(data),
            'CONTENT_LENGTH': str(size), 'wsgi.input_terminated': True}
    if mode == 'content-length':  # the control: as any server does
        want['wsgi.input_terminated'] = seen['wsgi.input_terminated']
    assert seen == want, '%s upload through %s: Django saw\n  %r\nnot\n  %r' \
        '\n%s' % (mode, site.name, seen, want, site.logs())
