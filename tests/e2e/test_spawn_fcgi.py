"""
fcgi-wsgi started by spawn-fcgi (Debian's spawn-fcgi), which binds the
socket, forks fcgi-wsgi with it on fd 0 and exits: nothing supervises
fcgi-wsgi, so in the fd-0 mode it runs its own pool.  Behind lighttpd
(examples/lighttpd/fastcgi-socket.conf.in) with --processes 2: both
workers serve, SIGTERM stops the pool.  spawn-fcgi -C N sets
PHP_FCGI_CHILDREN, which fcgi-wsgi takes as its worker count.
"""

import signal

import pytest

from conftest import run_server, server_env
from e2elib import (APPS_DIR, fcgi_request, find_binary, needed,
                    wait_unix_socket, wait_until)
from webservers import (App, Daemon, LighttpdSite, children_of, kill_pids,
                        pid_alive, run_spawn_fcgi, served_concurrently)


@pytest.fixture(scope='module')
def spawn_bin():
    return needed(find_binary, 'spawn-fcgi')


def test_spawn_fcgi_pool_behind_lighttpd(tmp, server_cmd, spawn_bin,
                                         django_env):
    needed(find_binary, 'lighttpd')
    site = LighttpdSite('spawnfcgi', tmp, 'socket',
                        App('fcgi-wsgi', server_cmd, django_env),
                        django_env['DEMO_STATIC_ROOT'], spawn=True,
                        processes=2)
    try:
        master = site.app_pid
        workers = wait_until(lambda: len(children_of(master)) == 2 and
                             children_of(master), 10)
        assert workers, 'fcgi-wsgi %d: workers %s, expected 2\n%s' % (
            master, children_of(master), site.logs())
        # One worker holds a stream while the other answers.
        assert served_concurrently(site) in workers
        daemon = site.procs[0]
        assert isinstance(daemon, Daemon) and daemon.pid == master
        # SIGTERM to the pid in spawn-fcgi's -P file stops the whole pool.
        kill_pids([master], signal.SIGTERM)
        gone = wait_until(lambda: not any(
            pid_alive(p) for p in [master] + workers), 15)
        assert gone, ('left running after SIGTERM: %s\n%s' % (
            [p for p in [master] + workers if pid_alive(p)], site.logs()))
        assert 'stopped' in site.logs()
    finally:
        site.stop()


def test_spawn_fcgi_children_option(tmp, server_cmd, spawn_bin):
    """spawn-fcgi -C 3 (PHP_FCGI_CHILDREN=3) and no --processes: three
    workers serve the socket."""
    sock = tmp / 'app.sock'
    pid_file = tmp / 'spawn.pid'
    done = run_spawn_fcgi(
        [spawn_bin, '-s', sock, '-C', '3', '-P', pid_file, '--']
        + server_cmd + ['--chdir', APPS_DIR, '--module', 'stream_app',
                        '--logto', tmp / 'server.log'],
        tmp / 'spawn.out', server_env())
    assert done.returncode == 0, (tmp / 'spawn.out').read_text()
    daemon = Daemon(int(pid_file.read_text()), 'fcgi-wsgi')
    try:
        workers = wait_until(lambda: len(children_of(daemon.pid)) == 3 and
                             children_of(daemon.pid), 10)
        assert workers, (children_of(daemon.pid),
                         (tmp / 'server.log').read_text())
        resp = fcgi_request(sock, '/pid')
        assert resp.status == 200 and int(resp.body) in workers, resp
        assert 'pool: pm static, 3 processes' in \
            (tmp / 'server.log').read_text()
    finally:
        daemon.stop()


@pytest.mark.parametrize('value,processes', [('0', 1), ('2', 2)])
def test_php_fcgi_children_sets_processes(start_server, tmp, value,
                                          processes):
    """PHP_FCGI_CHILDREN without --processes: the worker count (0: one
    process serving by itself, as php-cgi)."""
    sock = tmp / 'app.sock'
    proc = start_server(['--socket', 'unix:%s' % sock, '--chdir', APPS_DIR,
                         '--module', 'stream_app'],
                        env=server_env({'PHP_FCGI_CHILDREN': value}))
    wait_unix_socket(proc, sock)
    assert fcgi_request(sock, '/pid').status == 200
    kids = wait_until(lambda: len(proc.children()) == (
        processes if processes > 1 else 0), 10)
    assert kids or processes == 1, (proc.children(), proc.log_text())
    assert 'pool: pm static, %d process' % processes in proc.log_text()


def test_php_fcgi_children_bad_value(server_cmd):
    done = run_server(server_cmd, ['--socket', ':1', '--module', 'x'],
                      env=server_env({'PHP_FCGI_CHILDREN': 'lots'}))
    assert done.returncode == 2, done
    assert done.stderr == ('fcgi-wsgi: PHP_FCGI_CHILDREN in the environment: '
                           "expected a whole number >= 1, got 'lots'\n"), done
