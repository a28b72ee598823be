"""
An application module that imports a module that does not exist: the
traceback must show this file, not only the missing name.
"""

import no_such_dependency_xyz  # noqa: F401


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'never served\n']
