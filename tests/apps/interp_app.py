"""A WSGI app that reports how the interpreter was set up: sys.prefix,
sys.path, the environment, and what it can import.  Used by
tests/e2e/test_interp.py for `home`, `chdir`, `pythonpath` and `env`."""

import json
import os
import sys


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def application(environ, start_response):
    environ['wsgi.errors'].write('interp_app: wsgi.errors works\n')
    body = json.dumps({
        'prefix': sys.prefix,
        'base_prefix': sys.base_prefix,
        'executable': sys.executable,
        'path': sys.path,
        'cwd': os.getcwd(),
        'env': {k: os.environ.get(k) for k in ('FW_TEST_A', 'FW_TEST_B')},
        'django': _importable('django'),
        'venv_only': _importable('fw_venv_only'),
        'multithread': environ['wsgi.multithread'],
        'multiprocess': environ['wsgi.multiprocess'],
        'run_once': environ['wsgi.run_once'],
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
