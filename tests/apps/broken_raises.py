"""An application module that fails while importing: fcgi-wsgi must exit 1."""

raise RuntimeError('broken_raises: refusing to import')


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'never served\n']
