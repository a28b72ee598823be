"""
`make run`'s script, examples/run-demo.sh, as a newcomer runs it: the demo
is served on the port given (home page with its CSS, static file from
nginx, the admin login page), nginx's locations come from
`fcgi-wsgi --print-config nginx`, and SIGTERM (what Ctrl-C's trap does)
stops both servers and removes the temp dir.
"""

import os
import re
import signal

from e2elib import REPO, Proc, free_port, http_request, wait_tcp, wait_until


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
        wait_until(lambda: not any(os.path.exists('/proc/%d' % p)
                                   for p in pids), 10,
                   lambda: 'still running: %s' % [
                       p for p in pids if os.path.exists('/proc/%d' % p)],
                   step=0.1)
        assert not os.path.exists(tmpdir)
    finally:
        demo.stop()
