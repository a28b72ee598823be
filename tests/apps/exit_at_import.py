"""
An application whose workers die at once, for the crash-loop tests:
with EXIT_AT=import it calls os._exit(3) while being imported (lazy-apps:
in each worker); with EXIT_AT=fork it imports fine and every process
forked from the importer exits 3 right after the fork (the master imports
it, each worker dies).
"""

import os

if os.environ.get('EXIT_AT', 'import') == 'fork':
    os.register_at_fork(after_in_child=lambda: os._exit(3))
else:
    os._exit(3)


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'unreachable\n']
