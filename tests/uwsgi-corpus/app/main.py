"""A Flask-shaped WSGI app for the corpus: `app`, not `application`."""


def app(environ, start_response):
    body = ('corpus app: script_name=%s path_info=%s'
            % (environ.get('SCRIPT_NAME', ''), environ.get('PATH_INFO', '')))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]
