"""
`make run`'s script, examples/run-demo.sh, as a newcomer runs it: the demo
is served on the port given (home page with its CSS, static file from
nginx, the admin login page), nginx's locations come from
`fcgi-wsgi --print-config nginx`, and SIGTERM (what Ctrl-C's trap does)
stops both servers and removes the temp dir.  `make run` stopped the way a
terminal, systemd or docker stops it (SIGINT or SIGTERM to its whole
process group, perhaps twice, perhaps during the cleanup) leaves nothing
running and the port free.
"""

import os
import re
import signal
import socket

import pytest

from e2elib import (REPO, Proc, free_port, http_request, server_binary_argv,
                    wait_tcp, wait_until)


def test_run_demo_serves_and_stops(tmp, server_cmd, nginx_bin, django_env):
    port = free_port()
    env = dict(django_env, PORT=str(port))
    demo = Proc(['bash', str(REPO / 'examples' / 'run-demo.sh')],
                tmp / 'run-demo.out', cwd=REPO, env=env, name='run-demo')
    try:
        wait_tcp(demo, port, timeout=60)
        home = http_request(port, 'GET', '/')
        assert home.status == 200, (home, demo.log_text())
        css = re.search(r'href="(/static/[^"]+\.css)"', home.text)
        assert css, home.text
        style = http_request(port, 'GET', css.group(1))
        assert style.status == 200 and style.header('Server', '') \
            .startswith('nginx'), style
        assert http_request(port, 'GET', '/admin/login/').status == 200

        out = demo.log_text()
        pids = [int(p) for p in re.findall(r'(?:fcgi-wsgi|nginx) pid (\d+)',
                                           out)]
        tmpdir = re.search(r'unix:(/\S+)/app\.sock', out).group(1)
        assert len(pids) == 2, out
        assert os.path.exists(os.path.join(tmpdir, 'fcgi-wsgi.locations'))

        assert demo.stop(signal.SIGTERM, timeout=30) == 0, demo.log_text()
        assert wait_until(lambda: not servers_alive(pids), 10), \
            servers_alive(pids)
        assert not os.path.exists(tmpdir)
    finally:
        demo.stop()


# ------------------------------------------------ `make run`, stopped whole
#
# A terminal's Ctrl-C (SIGINT), systemd and docker (SIGTERM) signal the
# whole process group of `make run`, and make then sends its own SIGTERM
# to the script: the script gets two signals or more, the second perhaps
# while it is stopping the servers.  Nothing may survive: no process of
# the group, neither server (each runs in its own session), nor the port.

def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


def servers_alive(pids):
    return [p for p in pids if os.path.exists('/proc/%d' % p)]


# (signal, when): 'now' right after the one before, 'stopping' once the
# script says it is stopping (so the signal lands in its cleanup).
GROUP_STOPS = {
    'sigterm-twice': [(signal.SIGTERM, 'now'), (signal.SIGTERM, 'now')],
    'sigterm-in-cleanup': [(signal.SIGTERM, 'now'),
                           (signal.SIGTERM, 'stopping')],
    'ctrl-c': [(signal.SIGINT, 'now')],
    'ctrl-c-twice-in-cleanup': [(signal.SIGINT, 'now'),
                                (signal.SIGINT, 'stopping')],
}


@pytest.mark.parametrize('stop', sorted(GROUP_STOPS))
def test_make_run_stopped_by_its_process_group(tmp, server_cmd, nginx_bin,
                                               django_env, stop):
    port = free_port()
    env = dict(django_env, PORT=str(port),
               FCGI_WSGI=' '.join(server_binary_argv()))
    # Proc starts it in a session of its own: its pid is the group's id,
    # as a terminal's foreground job or a service's main process is.
    make = Proc(['make', '--no-print-directory', 'run'],
                tmp / 'make-run.out', cwd=REPO, env=env, name='make run')
    try:
        wait_tcp(make, port, timeout=120)
        assert http_request(port, 'GET', '/').status == 200
        out = make.log_text()
        servers = [int(p) for p in re.findall(
            r'(?:fcgi-wsgi|nginx) pid (\d+)', out)]
        tmpdir = re.search(r'unix:(/\S+)/app\.sock', out).group(1)
        assert len(servers) == 2, out

        for sig, when in GROUP_STOPS[stop]:
            if when == 'stopping':
                assert wait_until(lambda: 'run-demo: stopping' in
                                  make.log_text(), 30), make.log_text()
            os.killpg(make.pid, sig)
        assert make.wait(60) is not None, make.log_text()

        assert wait_until(lambda: not make.group_members(), 30), \
            ('still running in the group: %s\n%s'
             % (make.group_members(), make.log_text()))
        assert wait_until(lambda: not servers_alive(servers), 30), \
            ('servers left running: %s\n%s'
             % (servers_alive(servers), make.log_text()))
        assert wait_until(lambda: port_is_free(port), 30), \
            'port %d still taken' % port
        assert not os.path.exists(tmpdir), make.log_text()
    finally:
        make.stop()
