"""
bench/app_cost.py's capture: a WSGI app that writes the environ fcgi-wsgi
built for a request (its str, bool, int and tuple values) to
$BENCH_CAPTURE_DIR/NAME.json, NAME being the request's X-Bench-Capture
header (the header itself left out), so that the app's cost can be
measured in a loop on exactly that environ.  Reads the body; answers 204.
"""

import json
import os


def application(environ, start_response):
    name = environ.pop('HTTP_X_BENCH_CAPTURE', None)
    length = environ.get('CONTENT_LENGTH') or '0'
    environ['wsgi.input'].read(int(length))
    if name and name.isalnum():
        kept = {k: v for k, v in environ.items()
                if isinstance(v, (str, bool, int, tuple))}
        path = os.path.join(os.environ['BENCH_CAPTURE_DIR'], name + '.json')
        with open(path, 'w') as f:
            json.dump(kept, f, sort_keys=True)
    start_response('204 No Content', [])
    return []
