"""
An application module without the callable: `--module broken_nocallable`
looks for `application`, which is not here; fcgi-wsgi must exit 1.
"""


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'never served: the server looks for "application"\n']
