"""
What a start tells, running ./fcgi-wsgi directly: the start-up block the
master logs once (version, socket with its owner and mode, Python and its
prefix, the application and where it is imported, the pool, the user), the
same block for -t, --version / -v / -V; the unix socket's owner (as root
with uid, the socket is that user's), the warning when the web server's
usual user (www-data) could not connect, checked by connecting as
www-data; SIGHUP applying changed chmod-socket / chown-socket, or saying
why it cannot.
"""

import grp
import os
import platform
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import run_server, server_env
from e2elib import (APPS_DIR, PYTHON, Proc, wait_for_log,
                    wait_unix_socket)
from loadgen import wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='needs root')
LINE = re.compile(r'^\S+ \S+ \[(?P<role>[^\]]+) pid (?P<pid>\d+)\] '
                  r'(?P<level>[A-Z]+) (?P<msg>.*)$')
WEB_USER = 'www-data'  # Debian's; the first the server checks


def owner_of(path):
    st = os.stat(path)
    return '%s:%s' % (pwd.getpwuid(st.st_uid).pw_name,
                      grp.getgrgid(st.st_gid).gr_name)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def messages(text, level=None):
    """(role, pid, level, message) of each log line."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and (level is None or m.group('level') == level):
            out.append((m.group('role'), int(m.group('pid')),
                        m.group('level'), m.group('msg')))
    return out


def block_of(text, what='starting'):
    """The start-up block: the INFO lines from 'fcgi-wsgi V <what>' on,
    six of them, all from one master."""
    infos = messages(text, 'INFO')
    for i, (role, pid, _, msg) in enumerate(infos):
        if re.match(r'fcgi-wsgi \S+ %s \(' % what, msg):
            block = infos[i:i + 6]
            assert all(r == 'master' and p == pid for r, p, _, _ in block), \
                block
            return [m for _, _, _, m in block]
    raise AssertionError('no start-up block (%s) in:\n%s' % (what, text))


@pytest.fixture
def open_dir():
    """A directory in /tmp that anyone may enter (and write: a master
    running as nobody removes its socket at exit)."""
    path = Path(tempfile.mkdtemp(prefix='fw-block-', dir='/tmp'))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def binary_cmd(server_cmd):
    """The server's command without the --allow-root the tests add."""
    return [a for a in server_cmd if a != '--allow-root']


@pytest.fixture
def serve(server_cmd, tmp):
    """Starts the server (cmd: server_cmd unless given), waits until it
    serves on socket; returns the Proc.  Stopped by pid at the end."""
    started = []

    def start(args, socket, cmd=None):
        proc = Proc((cmd or server_cmd) + [str(a) for a in args],
                    tmp / ('server%d.log' % len(started)), env=server_env(),
                    name='fcgi-wsgi')
        started.append(proc)
        wait_unix_socket(proc, socket)
        assert wait_until(lambda: 'INFO serving ' in log_of(proc), 15), \
            log_of(proc)
        return proc
    yield start
    for proc in started:
        proc.stop()


def log_of(proc):
    """Everything the server wrote (also once it is stopped)."""
    return proc.log_path.read_text()


def connect_as(user, path):
    """Whether user may connect to the unix socket at path (a process of
    its own, as the web server would)."""
    pw = pwd.getpwnam(user)
    done = subprocess.run(
        [PYTHON, '-c', 'import socket, sys\n'
         's = socket.socket(socket.AF_UNIX)\n'
         's.connect(sys.argv[1])\n', str(path)],
        user=pw.pw_uid, group=pw.pw_gid,
        extra_groups=os.getgrouplist(user, pw.pw_gid),
        capture_output=True, text=True, timeout=30)
    return done.returncode == 0


# ------------------------------------------------ the block

def test_block_once_at_start(serve, server_cmd, tmp):
    sock = tmp / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app', '--processes', 3,
                  '--threads', 2], sock)
    owner, mode = owner_of(sock), mode_of(sock)
    me = pwd.getpwuid(os.getuid()).pw_name
    assert proc.stop() == 0
    text = log_of(proc)
    version, socket, python, app, pool, user = block_of(text)
    assert re.match(r'fcgi-wsgi \S+ starting \(libpython %s, libfcgi \S+, '
                    r'libinih \S+\)$' % re.escape(platform.python_version()),
                    version), version
    assert socket == 'socket unix:%s, owner %s, mode %04o' % (sock, owner,
                                                              mode), socket
    assert mode == 0o660
    assert python == "python %s, the system's (prefix /usr)" % \
        platform.python_version(), python
    assert app == ('application validator_app:application in %s, imported '
                   'in the master before the workers fork (preload)'
                   % APPS_DIR), app
    assert pool == 'pool: pm static, 3 processes of 2 threads', pool
    assert user == 'running as uid %d (%s), gid %d (%s)' % (
        os.getuid(), me, os.getgid(),
        grp.getgrgid(os.getgid()).gr_name), user
    # once: no worker repeats it, and nothing of it twice
    assert sum('fcgi-wsgi' in m and 'starting' in m
               for _, _, _, m in messages(text)) == 1, text


@pytest.mark.parametrize('pm, args, want', [
    ('dynamic', ['--pm', 'dynamic', '--max-children', 4,
                 '--min-spare-servers', 1, '--max-spare-servers', 2,
                 '--start-servers', 2],
     'pool: pm dynamic, up to 4 processes of 1 thread (2 at start, 1 to 2 '
     'idle)'),
    ('ondemand', ['--pm', 'ondemand', '--max-children', 2,
                  '--idle-timeout', 7],
     'pool: pm ondemand, up to 2 processes of 1 thread, forked when a '
     'connection waits, gone after 7 s idle'),
])
def test_block_pool_modes(serve, tmp, pm, args, want):
    sock = tmp / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app', '--lazy-apps'] + args, sock)
    assert proc.stop() == 0
    block = block_of(log_of(proc))
    assert block[4] == want, block
    assert block[3].endswith('imported in each worker (lazy-apps)'), block


def test_block_names_the_virtualenv(serve, tmp):
    venv = tmp / 'venv'
    subprocess.run([PYTHON, '-m', 'venv', '--without-pip', str(venv)],
                   check=True, timeout=120)
    sock = tmp / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app', '--home', venv,
                  '--mount', '/app'], sock)
    assert proc.stop() == 0
    block = block_of(log_of(proc))
    assert block[2] == 'python %s, virtualenv %s (made from %s)' % (
        platform.python_version(), venv, os.path.dirname(PYTHON)), block
    assert ', mounted at /app, ' in block[3], block


def test_says_when_the_kernel_caps_socket_sndbuf(serve, tmp):
    """socket-sndbuf above net.core.wmem_max on a unix socket: the kernel
    would cut it silently, so the start says so once, with the sysctl
    that lifts the cap; not when it is below the cap."""
    with open('/proc/sys/net/core/wmem_max') as f:
        wmem_max = int(f.read())
    want = 64 << 20  # socket-sndbuf's largest value
    assert wmem_max < want, 'net.core.wmem_max %d: no cap to exceed' % wmem_max
    said = ('INFO socket-sndbuf 65536 KiB: the kernel allows a socket %d KiB '
            '(net.core.wmem_max), so answers above about twice that wait for '
            'the web server to read; sysctl -w net.core.wmem_max=%d lifts the '
            'cap' % (wmem_max // 1024, want))
    logs = {}
    for name, size in (('capped', '64m'), ('under', str(wmem_max))):
        sock = tmp / ('%s.sock' % name)
        proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                      '--module', 'validator_app', '--socket-sndbuf', size],
                     sock)
        assert proc.stop() == 0
        logs[name] = log_of(proc)
    assert logs['capped'].count(said) == 1, logs['capped']
    assert 'socket-sndbuf' not in logs['under'], logs['under']


def test_config_test_prints_the_block(server_cmd, tmp):
    """-t prints what the start would log (on stdout), binding nothing."""
    sock = tmp / 'app.sock'
    done = run_server(server_cmd, ['-t', '--socket', 'unix:%s' % sock,
                                   '--chdir', APPS_DIR, '--module',
                                   'validator_app', '--processes', 3,
                                   '--threads', 2])
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 7, lines
    assert lines[4] == 'pool: pm static, 3 processes of 2 threads', lines
    assert not sock.exists()


def test_version(server_cmd):
    outs = []
    for flag in ('--version', '-v', '-V'):
        done = run_server(server_cmd, [flag])
        assert done.returncode == 0 and done.stderr == '', done
        outs.append(done.stdout)
    assert outs[0] == outs[1] == outs[2], outs
    lines = outs[0].splitlines()
    pkg = {name: subprocess.run(['pkg-config', '--modversion', name],
                                capture_output=True, text=True,
                                timeout=30).stdout.strip()
           for name in ('fcgi', 'inih')}
    assert re.match(r'fcgi-wsgi \d+\.\d+\.\d+$', lines[0]), lines
    # the shared library's file, or (make PYLINK=static, the default) the
    # executable it is linked into
    assert re.match(r'libpython %s \((/\S+/libpython%d\.%d\.so\S*|linked into '
                    r'/\S+/fcgi-wsgi)\)$'
                    % ((re.escape(platform.python_version()),)
                       + sys.version_info[:2]), lines[1]), lines
    assert lines[2] == 'libfcgi %s (fastcgi.h, at build)' % pkg['fcgi'], lines
    assert lines[3] == 'libinih %s (at build)' % pkg['inih'], lines
    assert len(lines) == 4, lines


# ------------------------------------------------ the socket's owner

@needs_root
def test_root_with_uid_gives_the_socket_to_it(serve, binary_cmd, open_dir):
    sock = open_dir / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app', '--uid', 'nobody'], sock,
                 cmd=binary_cmd)
    assert owner_of(sock) == 'nobody:nogroup'
    assert proc.stop() == 0
    block = block_of(log_of(proc))
    assert block[1] == 'socket unix:%s, owner nobody:nogroup, mode 0660' \
        % sock, block
    nobody = pwd.getpwnam('nobody')
    assert block[5] == 'running as uid %d (nobody), gid %d (nogroup)' % (
        nobody.pw_uid, nobody.pw_gid), block


@needs_root
def test_chown_socket_wins_over_uid(serve, binary_cmd, open_dir):
    sock = open_dir / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app', '--uid', 'nobody',
                  '--chown-socket', 'nobody:%s' % WEB_USER], sock,
                 cmd=binary_cmd)
    assert owner_of(sock) == 'nobody:%s' % WEB_USER
    assert connect_as(WEB_USER, sock)
    assert proc.stop() == 0
    assert 'WARN' not in log_of(proc), log_of(proc)


def web_warnings(text):
    return [m for _, _, _, m in messages(text, 'WARN')
            if '(the usual web server user)' in m]


@needs_root
def test_warns_when_the_web_server_cannot_connect(serve, open_dir):
    sock = open_dir / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app'], sock)
    assert not connect_as(WEB_USER, sock)  # what the warning says
    assert proc.stop() == 0
    warnings = web_warnings(log_of(proc))
    assert warnings == [
        'socket %s: %s (the usual web server user) cannot connect to it '
        '(owner root:root, mode 0660): the web server would get Permission '
        'denied (a 502); set chown-socket = root:%s, or chmod-socket = 666'
        % (sock, WEB_USER, WEB_USER)], log_of(proc)


@needs_root
def test_warns_when_a_directory_is_closed(serve, tmp):
    """tmp is mkdtemp's (mode 0700, root's): www-data cannot get in."""
    sock = tmp / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app', '--chmod-socket', '666'], sock)
    assert not connect_as(WEB_USER, sock)
    assert proc.stop() == 0
    warnings = web_warnings(log_of(proc))
    assert len(warnings) == 1 and 'cannot reach it: directory ' in \
        warnings[0] and 'mode 0700) is closed to it' in warnings[0], warnings


@needs_root
@pytest.mark.parametrize('fix', [['--chmod-socket', '666'],
                                 ['--chown-socket', 'root:%s' % WEB_USER]])
def test_following_the_advice_silences_it(serve, open_dir, fix):
    sock = open_dir / 'app.sock'
    proc = serve(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                  '--module', 'validator_app'] + fix, sock)
    assert connect_as(WEB_USER, sock)
    assert proc.stop() == 0
    assert web_warnings(log_of(proc)) == [], log_of(proc)


# ------------------------------------------------ SIGHUP and the socket

def write_ini(dir, sock, extra=''):
    ini = dir / 'app.ini'
    ini.write_text('[uwsgi]\nsocket = %s\nchdir = %s\nmodule = validator_app'
                   '\n%s' % (sock, APPS_DIR, extra))
    os.chmod(ini, 0o644)
    return ini


RELOADED = 'reloading (libpython'  # the new image's block


def reload_with(proc, ini, sock, extra, needles):
    """Rewrites the ini file, SIGHUP; the log's new text once it holds
    every needle (or 15 s passed)."""
    write_ini(ini.parent, sock, extra)
    offset = os.path.getsize(proc.log_path)
    os.kill(proc.pid, signal.SIGHUP)
    return wait_for_log([proc.log_path], [offset], needles, timeout=15)


@needs_root
def test_sighup_applies_chmod_socket(serve, open_dir):
    sock = open_dir / 'app.sock'
    ini = write_ini(open_dir, sock, 'allow-root = true\n')
    proc = serve([ini], sock)
    assert mode_of(sock) == 0o660 and not connect_as(WEB_USER, sock)
    text = reload_with(proc, ini, sock, 'allow-root = true\n'
                       'chmod-socket = 666\n',
                       ['mode 0660 -> 0666', RELOADED])
    assert 'INFO reload: socket %s: mode 0660 -> 0666' % sock in text, text
    assert mode_of(sock) == 0o666
    assert connect_as(WEB_USER, sock)
    assert block_of(text, 'reloading')[1] == \
        'socket unix:%s, owner root:root, mode 0666' % sock
    assert proc.stop() == 0


@needs_root
def test_sighup_says_why_chown_cannot_apply(serve, binary_cmd, open_dir):
    """The master runs as nobody after the start: it may chmod the socket
    it owns, not give it away."""
    sock = open_dir / 'app.sock'
    ini = write_ini(open_dir, sock, 'uid = nobody\n')
    proc = serve([ini], sock, cmd=binary_cmd)
    text = reload_with(proc, ini, sock,
                       'uid = nobody\nchown-socket = root\n'
                       'chmod-socket = 600\n',
                       ['owner stays', 'mode 0660 -> 0600', RELOADED])
    assert ('WARN reload: socket %s: owner stays nobody:nogroup, not '
            'root:nogroup (Operation not permitted): the master runs as '
            'nobody:nogroup; a restart (as root) applies it' % sock
            in text), text
    assert owner_of(sock) == 'nobody:nogroup'
    assert mode_of(sock) == 0o600
    assert proc.stop() == 0


def test_sighup_with_another_socket_says_restart(serve, tmp):
    sock = tmp / 'app.sock'
    ini = write_ini(tmp, sock)
    proc = serve([ini], sock)
    text = reload_with(proc, ini, tmp / 'other.sock', '',
                       ['socket changed', RELOADED])
    assert ('WARN reload: socket changed to %s: still serving unix:%s (a '
            'restart applies it)' % (tmp / 'other.sock', sock) in text), text
    assert proc.stop() == 0


def test_sighup_with_a_bad_home_keeps_serving(serve, tmp):
    sock = tmp / 'app.sock'
    ini = write_ini(tmp, sock, 'processes = 2\n')
    proc = serve([ini], sock)
    before = sorted(proc.children())
    text = reload_with(proc, ini, sock, 'processes = 2\nhome = %s\n'
                       % (tmp / 'gone'), ['reload failed'])
    assert ('ERROR reload: home %s: Python home is not a directory (No such '
            'file or directory)' % (tmp / 'gone') in text), text
    assert sorted(proc.children()) == before
    assert proc.stop() == 0
