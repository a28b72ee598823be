"""
What `make bench` measures: the scenarios, grouped by the app and the
threads per process the peers run with (one group = one start of every
peer and of nginx), and the subset `make bench-quick` keeps.  A scenario
loads through nginx with wrk, or straight at a peer's socket with
bench/fcgi-load; `paths` says what each peer is asked for, and a peer
missing from it cannot do that scenario (the report prints "–").
"""

from peers import DJANGO, HELLO

# 30 request headers as a browser sends them on a navigation (Chrome 120
# on Linux, with the cookies and proxy headers a site behind a CDN sees).
BROWSER_HEADERS = [
    ('Host', 'localhost'),
    ('Connection', 'keep-alive'),
    ('Cache-Control', 'max-age=0'),
    ('sec-ch-ua', '"Not_A Brand";v="8", "Chromium";v="120", '
                  '"Google Chrome";v="120"'),
    ('sec-ch-ua-mobile', '?0'),
    ('sec-ch-ua-platform', '"Linux"'),
    ('Upgrade-Insecure-Requests', '1'),
    ('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 '
                   '(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'),
    ('Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,'
               'image/avif,image/webp,image/apng,*/*;q=0.8,'
               'application/signed-exchange;v=b3;q=0.7'),
    ('Sec-Fetch-Site', 'same-origin'),
    ('Sec-Fetch-Mode', 'navigate'),
    ('Sec-Fetch-User', '?1'),
    ('Sec-Fetch-Dest', 'document'),
    ('Referer', 'http://localhost/page/?id=3'),
    ('Accept-Encoding', 'gzip, deflate, br'),
    ('Accept-Language', 'en-US,en;q=0.9,fr;q=0.8'),
    ('Cookie', 'csrftoken=Xq3Lr0xH1bX5vZkM2aPq7sT9uW4yC6dE; '
               'sessionid=k2j3h4g5f6d7s8a9p0o1i2u3y4t5r6e7; '
               '_ga=GA1.1.123456789.1700000000; '
               '_ga_ABC123=GS1.1.1700000000.1.1.1700000100.0.0.0; '
               'theme=dark'),
    ('If-None-Match', '"5f2b-1a2b3c4d"'),
    ('If-Modified-Since', 'Tue, 01 Dec 2026 10:00:00 GMT'),
    ('DNT', '1'),
    ('Sec-GPC', '1'),
    ('Priority', 'u=0, i'),
    ('Pragma', 'no-cache'),
    ('X-Requested-With', 'XMLHttpRequest'),
    ('X-Forwarded-For', '203.0.113.7'),
    ('X-Forwarded-Proto', 'http'),
    ('X-Real-IP', '203.0.113.7'),
    ('Origin', 'http://localhost'),
    ('sec-ch-ua-arch', '"x86"'),
    ('sec-ch-ua-full-version-list', '"Not_A Brand";v="8.0.0.0", '
                                    '"Chromium";v="120.0.6099.109"'),
]
assert len(BROWSER_HEADERS) == 30


def header_params(headers):
    """The FastCGI params nginx makes of request headers."""
    return [('HTTP_' + name.upper().replace('-', '_'), value)
            for name, value in headers]


POST_BYTES = 65536
ALL = ('fw', 'uwsgi-fcgi', 'uwsgi', 'gunicorn-sync', 'gunicorn-gthread')
DIRECT = ('fw', 'uwsgi-fcgi')


class Scenario:
    """One load shape.  paths: peer key -> the path it is asked for;
    expect: what each answer's body must be ('hello', 'big', 'stream',
    'upload' or 'same': the same bytes as fcgi-wsgi's); cost: the request
    whose in-process cost (bench/app_cost.py) goes beside it."""

    def __init__(self, key, label, tool, paths, conns=32, body=0,
                 headers=(), kept=False, expect='hello', cost=None):
        self.key = key
        self.label = label
        self.tool = tool        # 'wrk' (through nginx) or 'load' (direct)
        self.paths = paths
        self.conns = conns
        self.body = body        # bytes POSTed (0: a GET)
        self.headers = headers  # extra request headers
        self.kept = kept        # nginx keeps upstream connections / -k
        self.expect = expect
        self.cost = cost

    def peers(self, stack):
        return [p for p in stack.peers if p.key in self.paths]


def _paths(path, peers=ALL, c_path=None):
    out = {key: path for key in peers}
    if c_path:
        out['c'] = c_path
    return out


class Group:
    def __init__(self, key, label, app, threads, scenarios):
        self.key = key
        self.label = label
        self.app = app
        self.threads = threads
        self.scenarios = scenarios


COST_HELLO = ('hello', '/hello', 0, ())
COST_HEADERS = ('hello', '/hello', 0, tuple(BROWSER_HEADERS))
COST_BIG = ('hello', '/big', 0, ())
COST_STREAM = ('hello', '/stream', 0, ())
COST_DJ_HELLO = ('django', '/hello/', 0, ())
COST_DJ_PAGE = ('django', '/page/', 0, ())
COST_DJ_JSON = ('django', '/json/', 0, ())
COST_DJ_POST = ('django', '/upload/', POST_BYTES, ())

GROUPS = [
    Group('hello', 'plain WSGI app (bench/hello.py), 1 thread/process',
          HELLO, 1, [
              Scenario('hello-c8', 'hello, c8', 'wrk',
                       _paths('/hello', c_path='/hello'), conns=8,
                       cost=COST_HELLO),
              Scenario('hello-c32', 'hello, c32', 'wrk',
                       _paths('/hello', c_path='/hello'), cost=COST_HELLO),
              Scenario('hello-c128', 'hello, c128', 'wrk',
                       _paths('/hello', c_path='/hello'), conns=128,
                       cost=COST_HELLO),
              Scenario('headers', '30 browser headers, c32', 'wrk',
                       _paths('/hello', c_path='/hello'),
                       headers=BROWSER_HEADERS, cost=COST_HEADERS),
              Scenario('big', '1 MiB response, c8', 'wrk',
                       _paths('/big', c_path='/big'), conns=8,
                       expect='big', cost=COST_BIG),
              Scenario('file', '1 MiB file (wsgi.file_wrapper), c8', 'wrk',
                       _paths('/file', c_path='/big'), conns=8,
                       expect='big'),
              Scenario('stream', '100-chunk streamed response, c32', 'wrk',
                       _paths('/stream', c_path='/stream'), expect='stream',
                       cost=COST_STREAM),
              Scenario('keep', 'hello, upstream connections kept, c32',
                       'wrk', _paths('/hello'), kept=True, cost=COST_HELLO),
              Scenario('d-hello', 'hello, new connection per request',
                       'load', _paths('/hello', DIRECT, '/hello'),
                       cost=COST_HELLO),
              Scenario('d-keep', 'hello, FCGI_KEEP_CONN', 'load',
                       _paths('/hello', DIRECT, '/hello'), kept=True,
                       cost=COST_HELLO),
              Scenario('d-headers', '30 browser headers', 'load',
                       _paths('/hello', DIRECT, '/hello'),
                       headers=BROWSER_HEADERS, cost=COST_HEADERS),
          ]),
    Group('django', 'Django (bench/djbench), 1 thread/process', DJANGO, 1, [
        Scenario('dj-hello', 'Django /hello/, c32', 'wrk', _paths('/hello/'),
                 cost=COST_DJ_HELLO),
        Scenario('dj-page', 'Django template page, c32', 'wrk',
                 _paths('/page/'), expect='same', cost=COST_DJ_PAGE),
        Scenario('dj-json', 'Django JSON, c32', 'wrk', _paths('/json/'),
                 expect='same', cost=COST_DJ_JSON),
        Scenario('dj-post', 'Django 64 KiB POST read, c32', 'wrk',
                 _paths('/upload/', c_path='/upload/'), body=POST_BYTES,
                 expect='upload', cost=COST_DJ_POST),
        Scenario('d-dj-hello', 'Django /hello/', 'load',
                 _paths('/hello/', DIRECT), cost=COST_DJ_HELLO),
        Scenario('d-dj-post', 'Django 64 KiB POST read', 'load',
                 _paths('/upload/', DIRECT, '/upload/'), body=POST_BYTES,
                 expect='upload', cost=COST_DJ_POST),
    ]),
    Group('hello-t4', 'plain WSGI app, 4 threads/process', HELLO, 4, [
        Scenario('t4-hello', 'hello, 4 threads/process, c32', 'wrk',
                 _paths('/hello', c_path='/hello'), cost=COST_HELLO),
    ]),
    Group('django-t4', 'Django, 4 threads/process', DJANGO, 4, [
        Scenario('t4-dj-hello', 'Django /hello/, 4 threads/process, c32',
                 'wrk', _paths('/hello/'), cost=COST_DJ_HELLO),
    ]),
]

QUICK = {'hello-c32', 'big', 'd-hello', 'd-keep', 'dj-hello', 'dj-post',
         'd-dj-hello', 'd-dj-post'}


def selected(quick):
    """The groups to run, each with the scenarios kept (quick: QUICK's)."""
    out = []
    for g in GROUPS:
        kept = [s for s in g.scenarios if not quick or s.key in QUICK]
        if kept:
            out.append(Group(g.key, g.label, g.app, g.threads, kept))
    return out
