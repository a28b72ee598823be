"""An application module with a syntax error: fcgi-wsgi must exit 1."""


def application(environ, start_response)  # the colon is missing
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'never served\n']
