"""
py-autoreload and touch-reload on a directory, with ./fcgi-wsgi alone on a
unix socket (e2elib's FastCGI client).  The app is written into the test's
temp dir and edited there the way an editor saves (in place, or a new file
renamed over the old): the master's reload line names the file, and the
next requests get the new code.  Covered: the app's module, a module the
app imports only at its first request (the watch is in the workers, which
alone import it), new code that does not import (the old workers keep
serving and still see the fix), and lazy-apps.
"""

import os
import re

import pytest

from e2elib import fcgi_request, log_size, wait_for_log, wait_unix_socket
from loadgen import wait_until

APP = '''
VERSION = %(version)r


def application(environ, start_response):
    if environ.get('PATH_INFO') == '/helper':
        import autoreload_helper  # imported at the first request only
        body = autoreload_helper.VERSION
    else:
        body = VERSION
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%%s %%d' %% (body, os.getpid())).encode()]


import os
%(tail)s
'''

# py-autoreload's period: a reload must follow an edit within a few of
# them (inotify sees it at once; the master looks every 200 ms).
PERIOD = 1
RELOAD_BOUND = 10 * PERIOD + 5


def write_app(app_dir, version, tail='', rename=True):
    """Saves autoreload_app.py as an editor would: a new file renamed over
    the old one, or written in place."""
    write(app_dir / 'autoreload_app.py',
          APP % {'version': version, 'tail': tail}, rename)


def write(path, text, rename=True):
    if rename:
        tmp = path.with_name('.%s.swp' % path.name)
        tmp.write_text(text)
        os.rename(tmp, path)
    else:
        with open(path, 'w') as f:
            f.write(text)


def get(sock, path='/'):
    """(body word, pid) of one request."""
    resp = fcgi_request(sock, path)
    assert resp.status == 200, resp
    word, pid = resp.body.decode().split()
    return word, int(pid)


def served(sock, want, path='/'):
    """Whether the app answers want now."""
    return get(sock, path)[0] == want


def start(start_server, tmp, extra=(), processes=2):
    app_dir = tmp / 'app'
    app_dir.mkdir()
    write_app(app_dir, 'v1')
    (app_dir / 'autoreload_helper.py').write_text("VERSION = 'h1'\n")
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--chdir', app_dir,
                         '--module', 'autoreload_app', '--processes',
                         processes, '--py-autoreload', PERIOD]
                        + list(extra))
    wait_unix_socket(proc, sock)
    # every worker watches (its first look at the module files is done)
    assert wait_until(lambda: proc.log_text().count(
        'py-autoreload: watching') >= processes, 10), proc.log_text()
    assert '(inotify)' in proc.log_text(), proc.log_text()
    return proc, sock, app_dir


def reloads(proc):
    return re.findall(r'py-autoreload: (\S+) changed: reload: re-executing',
                      proc.log_text())


def wait_reload(proc, mark, path):
    """Waits for the master's line naming path; returns the log since."""
    needle = 'py-autoreload: %s changed: reload: re-executing' % path
    text = wait_for_log([proc.log_path], [mark], [needle],
                        timeout=RELOAD_BOUND)
    assert needle in text, (needle, proc.log_text())
    return text


@pytest.mark.parametrize('mode', ['preload', 'lazy'])
def test_edit_reloads_once(start_server, tmp, mode):
    """An edit of the app's module: one reload (two workers saw it), then
    the new code from new workers."""
    proc, sock, app_dir = start(
        start_server, tmp, ['--lazy-apps'] if mode == 'lazy' else [])
    word, old_pid = get(sock)
    assert word == 'v1'
    mark = log_size(proc.log_path)
    write_app(app_dir, 'v2', rename=False)
    wait_reload(proc, mark, app_dir / 'autoreload_app.py')
    assert wait_until(lambda: served(sock, 'v2'), RELOAD_BOUND), \
        proc.log_text()
    # the old workers (which saw the edit too) are gone: their reports
    # were read by the new master image, and dropped as loaded
    text = wait_for_log([proc.log_path], [mark],
                        ['of the previous master image stopped'],
                        timeout=RELOAD_BOUND)
    assert wait_until(lambda: not os.path.exists('/proc/%d' % old_pid),
                      RELOAD_BOUND), text
    assert reloads(proc) == [str(app_dir / 'autoreload_app.py')], \
        proc.log_text()
    assert get(sock)[0] == 'v2'


def test_module_imported_at_first_request(start_server, tmp):
    """A module the app imports in a request (Django's views) is seen by
    the worker that imported it, not by the master."""
    proc, sock, app_dir = start(start_server, tmp, processes=1)
    assert get(sock, '/helper')[0] == 'h1'
    mark = log_size(proc.log_path)
    write(app_dir / 'autoreload_helper.py', "VERSION = 'h2'\n")
    wait_reload(proc, mark, app_dir / 'autoreload_helper.py')
    assert wait_until(lambda: served(sock, 'h2', '/helper'),
                      RELOAD_BOUND), proc.log_text()


def test_broken_edit_then_fix(start_server, tmp):
    """An edit that does not import: the reload fails, the old workers
    keep serving v1; their report of the fix starts the next reload."""
    proc, sock, app_dir = start(start_server, tmp)
    mark = log_size(proc.log_path)
    write_app(app_dir, 'v2',
              tail='raise RuntimeError("saved broken on purpose")')
    wait_reload(proc, mark, app_dir / 'autoreload_app.py')
    text = wait_for_log([proc.log_path], [mark],
                        ['saved broken on purpose', 'reload failed'],
                        timeout=RELOAD_BOUND)
    assert 'reload failed' in text, proc.log_text()
    assert get(sock)[0] == 'v1'
    mark = log_size(proc.log_path)
    write_app(app_dir, 'v3')
    wait_reload(proc, mark, app_dir / 'autoreload_app.py')
    assert wait_until(lambda: served(sock, 'v3'), RELOAD_BOUND), \
        proc.log_text()
    assert proc.alive()


def test_touch_reload_directory(start_server, tmp):
    """touch-reload DIR: a file added to it reloads, and so does a file in
    it written again; each reload brings new workers."""
    trigger = tmp / 'deploy.d'
    trigger.mkdir()
    (trigger / 'old').write_text('x')
    sock = tmp / 'app.sock'
    app_dir = tmp / 'app'
    app_dir.mkdir()
    write_app(app_dir, 'v1')
    proc = start_server(['--socket', 'unix:%s' % sock, '--chdir', app_dir,
                         '--module', 'autoreload_app', '--touch-reload',
                         trigger])
    wait_unix_socket(proc, sock)
    needle = 'touch-reload %s: reload: re-executing' % trigger
    for change in (lambda: (trigger / 'new').write_text('y'),
                   lambda: (trigger / 'old').write_text('z')):
        _, pid = get(sock)
        mark = log_size(proc.log_path)
        change()
        text = wait_for_log([proc.log_path], [mark], [needle], timeout=10)
        assert needle in text, proc.log_text()
        assert wait_until(lambda: get(sock)[1] != pid, 10), proc.log_text()
    assert proc.log_text().count(needle) == 2, proc.log_text()
