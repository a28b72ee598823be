"""
Logs an operator can use, with tests/apps/logs_app.py on a TCP socket
(FastCGI straight from the test, no web server needed):

- what the application writes to stdout and stderr (print(), logging's
  last-resort handler, a write to descriptor 2, a subprocess) arrives in
  the `logto` file, one line each with the worker's pid and the request
  it ran, and never in the server's own stderr; lines of concurrent
  requests never interleave mid-line; an over-long line is cut;
- log-format (and its alias logformat) with uWSGI's variables, in the
  access-log file or, without one, in the log; log-x-forwarded-for;
  an unknown variable is one error at start;
- log-date: the log lines' date in a strftime format, or none;
- log-maxsize: the log and the access log renamed to FILE.<time> once
  past the size, and written anew;
- a non-daemon thread left by the application: named in a warning at the
  stop, and the worker ends after worker-reload-mercy / reload-mercy.
"""

import os
import re
import signal
import threading
import time

import pytest

from conftest import run_server, server_env
from e2elib import (APPS_DIR, REPO, fcgi_request, free_port, log_since, log_size,
                    wait_for_log, wait_tcp, wait_until)

# How long a line the server writes may take to reach its file: the
# capture thread writes it at once, the master looks at log-maxsize every
# 0.2 s; 10 s is a generous bound on a loaded machine.
LOG_WAIT = 10.0


def wait_logged(predicate, timeout=LOG_WAIT):
    """wait_until with the bound of this file."""
    return wait_until(predicate, timeout)


APP = ['--chdir', APPS_DIR, '--module', 'logs_app']
# the prefix of a line a worker logs (default log-date)
PREFIX = (r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} '
          r'\[worker \d+ pid (\d+)\] ')


class Server:
    """fcgi-wsgi with logs_app on 127.0.0.1:PORT, logging to tmp/app.log
    (its own stdout and stderr in tmp/server.log)."""

    def __init__(self, start_server, tmp, args, processes=1, threads=1,
                 relative=False):
        self.port = free_port()
        self.logto = tmp / 'app.log'
        self.processes = processes
        # relative: started in tmp with "--logto app.log" (then --chdir)
        self.proc = start_server(
            APP + ['--socket', '127.0.0.1:%d' % self.port,
                   '--logto', 'app.log' if relative else self.logto,
                   '--processes', processes, '--threads', threads]
            + [str(a) for a in args], cwd=tmp if relative else REPO)
        wait_tcp(self.proc, self.port)
        # every worker accepting: each says it is ready
        assert wait_logged(lambda: self.log().count('ready: accepting')
                          >= processes), self.logs()

    def get(self, path, query='', extra=None):
        return fcgi_request(('127.0.0.1', self.port), path, query=query,
                            extra=extra)

    def log(self):
        return log_since(self.logto, 0)

    def logs(self):
        return '--- logto:\n%s\n--- server stdout/stderr:\n%s' % (
            self.log()[-6000:], self.proc.log_text())

    def workers(self):
        return self.proc.children()


def wait_line(path, mark, pattern, timeout=10.0):
    """The first match of pattern (multiline) in path after mark."""
    found = wait_logged(lambda: re.search(pattern, log_since(path, mark),
                                         re.M), timeout)
    assert found, (pattern, log_since(path, mark)[-4000:])
    return found


@pytest.mark.parametrize('shape', [(2, 1), (1, 2)], ids=['2x1', '1x2'])
def test_app_output_reaches_logto(start_server, tmp, shape):
    """print(), logging.error (a traceback too), a raw write to fd 2 and a
    subprocess's output: in logto, tagged with the request; not in the
    server's own stderr."""
    srv = Server(start_server, tmp, [], *shape)
    kids = srv.workers()
    cases = [('/print', 'STDOUT', 'tok-print'),
             ('/error', 'STDERR', 'ERROR:root:tok-error'),
             ('/fd2', 'STDERR', 'tok-fd2'),
             ('/child', 'STDOUT', 'tok-child')]
    for path, stream, line in cases:
        token = line.rsplit(':', 1)[-1]
        mark = log_size(srv.logto)
        resp = srv.get(path, 'text=' + token)
        assert resp.status == 200, (resp, srv.logs())
        found = wait_line(srv.logto, mark,
                          PREFIX + r'%s \[GET %s\?text=%s\] %s$'
                          % (stream, re.escape(path), token,
                             re.escape(line)))
        assert int(found.group(1)) in kids, (found.group(0), kids)
    # logging.exception's traceback: every line of it, tagged
    text = log_since(srv.logto, 0)
    assert re.search(PREFIX + r'STDERR \[GET /error\?text=tok-error\] '
                     r'ValueError: boom tok-error$', text, re.M), text
    assert re.search(PREFIX + r'STDERR \[GET /error\?text=tok-error\] '
                     r'Traceback \(most recent call last\):$', text, re.M)
    assert 'tok-' not in srv.proc.log_text(), srv.proc.log_text()


# what logs_app writes while it is imported with LOGS_APP_AT_IMPORT=tok-import
IMPORT_LINES = [r'^tok-import-out$', r'UserWarning: tok-import-err$',
                r'^tok-import-fd2$']


def import_lines_in(text):
    return all(re.search(line, text, re.M) for line in IMPORT_LINES)


@pytest.mark.parametrize('load', ['preload', 'lazy-apps'])
def test_import_output_reaches_logto(start_server, tmp, load):
    """What the app writes while it is imported (print(), a warning, a raw
    write to fd 2), in the master by default or in each worker with
    lazy-apps: in logto as it was written (uWSGI's logto does the same),
    not in the server's own stdout and stderr (the terminal or the journal
    it was started from); what the app prints while it serves is still
    logged as the worker's lines."""
    args = ['--env', 'LOGS_APP_AT_IMPORT=tok-import']
    if load == 'lazy-apps':
        args.append('--lazy-apps')
    srv = Server(start_server, tmp, args)
    assert import_lines_in(srv.log()), srv.logs()
    assert 'tok-import' not in srv.proc.log_text(), srv.logs()
    mark = log_size(srv.logto)
    assert srv.get('/print', 'text=tok-after').status == 200
    wait_line(srv.logto, mark, PREFIX + r'STDOUT \[GET /print\?text=tok-after'
              r'\] tok-after$')


def test_import_output_kept_when_the_import_kills_the_master(server_cmd,
                                                            tmp):
    """An app that prints then dies while the master imports it
    (os._exit): its last words are in logto all the same."""
    logto = tmp / 'app.log'
    env = server_env({'LOGS_APP_AT_IMPORT': 'tok-import',
                      'LOGS_APP_EXIT_AT_IMPORT': '1'})
    done = run_server(server_cmd, APP + ['--socket', '127.0.0.1:%d'
                                         % free_port(), '--logto', logto],
                      env=env)
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert import_lines_in(log_since(logto, 0)), (log_since(logto, 0),
                                                  done.stderr)


def test_import_output_follows_the_reopened_log(start_server, tmp):
    """logrotate's way (rename, SIGUSR1), then a lazy-apps worker killed:
    what its replacement prints while it imports the app is in the new
    file."""
    srv = Server(start_server, tmp, ['--lazy-apps', '--env',
                                     'LOGS_APP_AT_IMPORT=tok-import'])
    old = tmp / 'app.log.1'
    os.rename(srv.logto, old)
    os.kill(srv.proc.pid, signal.SIGUSR1)
    assert wait_logged(lambda: srv.logto.exists() and
                       'SIGUSR1: log reopened' in srv.log()), srv.logs()
    first = srv.workers()
    os.kill(first[0], signal.SIGKILL)
    assert wait_logged(lambda: 'ready: accepting' in srv.log()), srv.logs()
    assert import_lines_in(srv.log()), srv.logs()
    assert first[0] not in srv.workers()


def test_lines_never_interleave(start_server, tmp):
    """Two workers of two threads print long lines at once: every line
    arrives whole, one per request; an over-long line is cut, marked."""
    srv = Server(start_server, tmp, [], 2, 2)
    n, per_client, clients = 3000, 10, 6
    failures = []

    def client():
        for _ in range(per_client):
            resp = srv.get('/long', 'n=%d' % n)
            if resp.status != 200:
                failures.append(resp)

    runners = [threading.Thread(target=client) for _ in range(clients)]
    for t in runners:
        t.start()
    for t in runners:
        t.join(60)
    assert not failures, failures
    whole = re.compile(PREFIX + r'STDOUT (?:\[GET /long\?n=%d\] )?a{%d}END$'
                       % (n, n), re.M)
    count = len(whole.findall(srv.log()))
    assert count == per_client * clients, srv.logs()
    stdout_lines = [l for l in srv.log().splitlines() if ' STDOUT ' in l]
    assert len(stdout_lines) == count, stdout_lines[:3]

    mark = log_size(srv.logto)
    assert srv.get('/long', 'n=10000').status == 200
    found = wait_line(srv.logto, mark, PREFIX + r'STDOUT \[GET /long\?n=10000'
                      r'\] (a+) \[line cut\]$')
    assert len(found.group(2)) == 4096, len(found.group(2))
    assert 'END' not in log_since(srv.logto, mark)


FORMAT = ('%(addr)|%(user)|%(ltime)|%(method)|%(uri)|%(proto)|%(status)|'
          '%(size)|%(referer)|%(uagent)|%(msecs)|%(micros)|%(pid)|%(wid)|'
          '%(host)|%(var.HTTP_X_REQUEST_ID)')


def check_format_lines(lines, kids):
    """The lines of FORMAT for /status?code=201 then /print (with XFF)."""
    assert len(lines) == 2, lines
    first = lines[0].split('|')
    assert first[:2] == ['127.0.0.1', '-'], first
    assert abs(time.mktime(time.strptime(first[2], '%d/%b/%Y:%H:%M:%S %z'))
               - time.time()) < 60, first
    assert first[3:10] == ['GET', '/status?code=201', 'HTTP/1.1', '201',
                           str(len(b'status\n')), 'http://ref/',
                           'probe\\x22ua'], first
    assert 0 <= int(first[10]) < 5000 and 0 < int(first[11]) < 5000000
    assert int(first[10]) == int(first[11]) // 1000, first
    assert int(first[12]) in kids and 1 <= int(first[13]) <= len(kids)
    assert first[14:] == ['127.0.0.1', 'req-1'], first
    second = lines[1].split('|')
    assert second[0] == '203.0.113.9', second  # X-Forwarded-For's first
    assert second[4] == '/print?text=x' and second[15] == '-', second


def test_log_format_in_access_log(start_server, tmp):
    access = tmp / 'access.log'
    srv = Server(start_server, tmp, ['--access-log', access, '--logformat',
                                     FORMAT, '--log-x-forwarded-for'], 2)
    resp = srv.get('/status', 'code=201', extra={
        'HTTP_REFERER': 'http://ref/', 'HTTP_USER_AGENT': 'probe"ua',
        'HTTP_X_REQUEST_ID': 'req-1'})
    assert resp.status == 201, resp
    assert srv.get('/print', 'text=x', extra={
        'HTTP_X_FORWARDED_FOR': '203.0.113.9, 10.0.0.1'}).status == 200
    assert wait_logged(lambda: len(access.read_text().splitlines()) >= 2)
    check_format_lines(access.read_text().splitlines(), srv.workers())
    assert '|GET|' not in srv.log()


def test_log_format_without_access_log_goes_to_logto(start_server, tmp):
    """uWSGI's way: with log-format and no access-log, request lines go to
    the log, as they are."""
    srv = Server(start_server, tmp, ['--log-format', FORMAT,
                                     '--log-x-forwarded-for'])
    srv.get('/status', 'code=201', extra={
        'HTTP_REFERER': 'http://ref/', 'HTTP_USER_AGENT': 'probe"ua',
        'HTTP_X_REQUEST_ID': 'req-1'})
    srv.get('/print', 'text=x', extra={
        'HTTP_X_FORWARDED_FOR': '203.0.113.9, 10.0.0.1'})
    lines = wait_logged(lambda: [
        l for l in srv.log().splitlines() if l.count('|') == 15
        and not re.match(r'\d{4}-\d\d-\d\d ', l)][:2]
        if srv.log().count('|GET|') >= 2 else None)
    assert lines, srv.logs()
    check_format_lines(lines, srv.workers())


def test_default_access_line_is_combined(start_server, tmp):
    access = tmp / 'access.log'
    srv = Server(start_server, tmp, ['--access-log', access])
    srv.get('/print', 'text=x', extra={'HTTP_USER_AGENT': 'curl/8',
                                       'REMOTE_USER': 'ann'})
    assert wait_logged(lambda: access.read_text())
    assert re.match(r'^127\.0\.0\.1 - ann \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d '
                    r'[+-]\d{4}\] "GET /print\?text=x HTTP/1\.1" 200 6 "-" '
                    r'"curl/8"\n$', access.read_text()), access.read_text()


def test_unknown_log_format_variable(server_cmd, tmp):
    done = run_server(server_cmd, APP + [
        '--socket', 'unix:%s/s' % tmp, '--log-format', '%(addr) %(bogus)'])
    assert done.returncode != 0, done
    errors = [l for l in done.stderr.splitlines() if 'ERROR' in l]
    assert len(errors) == 1, done.stderr
    assert 'log-format: unknown variable %(bogus); known: addr user ' \
        'ltime' in errors[0], done.stderr
    assert not os.path.exists('%s/s' % tmp)


@pytest.mark.parametrize('spec,date', [
    ('%Y/%m/%d@%H', r'\d{4}/\d\d/\d\d@\d\d '),
    ('false', ''),
    ('true', r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} '),
], ids=['strftime', 'false', 'true'])
def test_log_date(start_server, tmp, spec, date):
    srv = Server(start_server, tmp, ['--logdate=' + spec])
    assert srv.get('/print', 'text=dated').status == 200
    wait_line(srv.logto, 0, '^' + date + r'\[worker 1 pid \d+\] STDOUT '
              r'\[GET /print\?text=dated\] dated$')
    # the master's lines too
    assert re.search('^' + date + r'\[master pid \d+\] INFO serving ',
                     srv.log(), re.M), srv.log()


def test_log_maxsize_rotates(start_server, tmp):
    """Past log-maxsize, the master renames the log and the access log to
    FILE.<Unix time>, every process reopens them, and lines go on in the
    new files; none is lost.  (logto is relative, the app chdirs: the
    file is the one opened at the start.)"""
    access = tmp / 'access.log'
    maxsize = 4096
    srv = Server(start_server, tmp, ['--access-log', access,
                                     '--log-maxsize', '4k'], 2,
                 relative=True)
    started = int(time.time())

    def rotated(path):
        return sorted(p for p in tmp.iterdir()
                      if re.fullmatch(re.escape(path.name) + r'\.\d+',
                                      p.name))

    sent = 0
    while not (rotated(srv.logto) and rotated(access)):
        assert sent < 200, (sent, os.listdir(tmp), srv.logs())
        assert srv.get('/print', 'text=r%03d-%s' % (sent, 'x' * 300)
                       ).status == 200
        sent += 1
        time.sleep(0.01)
    [old_log], [old_access] = rotated(srv.logto), rotated(access)
    assert started <= int(old_log.name.rsplit('.', 1)[1]) <= time.time()
    assert os.path.getsize(old_log) > maxsize
    assert os.path.getsize(old_access) > maxsize
    # the master says so in the new log; the workers reopen it
    assert wait_logged(lambda: 'log-maxsize: %s passed 4096 bytes: renamed '
                      'to %s' % (srv.logto, old_log) in srv.log()), srv.logs()
    assert wait_logged(lambda: srv.log().count('SIGUSR1: log reopened')
                      >= srv.processes), srv.logs()
    for i in range(4):
        assert srv.get('/print', 'text=after%d' % i).status == 200
    assert wait_logged(lambda: all('text=after%d' % i in access.read_text()
                                  for i in range(4)))
    for i in range(4):
        assert 'after%d' % i in srv.log()
        assert 'after%d' % i not in old_log.read_text()
    # every line printed is in one of the two logs, once
    both = old_log.read_text() + srv.log()
    for i in range(sent):
        assert both.count('] r%03d-' % i) == 1, i


@pytest.mark.parametrize('option', ['--worker-reload-mercy',
                                    '--reload-mercy'])
def test_non_daemon_thread_named_then_killed(start_server, tmp, option):
    mercy = 2
    srv = Server(start_server, tmp, [option, mercy])
    [worker] = srv.workers()
    assert srv.get('/thread', 'name=stuck-poller').status == 200
    mark = log_size(srv.logto)
    stopped = time.monotonic()
    os.kill(srv.proc.pid, signal.SIGTERM)
    warned = wait_line(srv.logto, mark, r'\[worker 1 pid %d\] WARN the '
                       r'worker cannot exit: the application left 1 '
                       r'non-daemon thread\(s\) running: \'stuck-poller\'; '
                       r'it waits for them at most %d s more'
                       % (worker, mercy), timeout=mercy)
    assert warned
    status = srv.proc.wait(mercy + 10)
    took = time.monotonic() - stopped
    assert status == 0, srv.logs()
    # the worker ended itself at the end of the mercy, before the master's
    # own deadline (mercy + 2 s) would have killed it
    assert mercy <= took < mercy + 2, (took, srv.logs())
    text = log_since(srv.logto, mark)
    assert re.search(r'\[worker 1 pid %d\] ERROR non-daemon thread\(s\) '
                     r'\'stuck-poller\' still running when the wait '
                     r'\(worker-shutdown-timeout' % worker, text), text
    assert 'killed by signal' not in text, text
    assert not os.path.exists('/proc/%d' % worker) or \
        open('/proc/%d/stat' % worker).read().split()[2] == 'Z'
