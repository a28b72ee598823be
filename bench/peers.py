"""
The servers `make bench` compares (its peers), how each is started on a
unix socket in a temp dir with the same processes and threads, and the
nginx in front of them: one port per peer, and for FastCGI and HTTP peers
a second port whose upstream connections are kept (fastcgi_keep_conn on,
or HTTP keep-alive).  A Stack is one group's peers and nginx, started
together and stopped by pid.
"""

import os
import shutil
from pathlib import Path

from benchlib import (BENCH, BUILD, Proc, free_port, tail, wait_tcp,
                      wait_unix_socket)
from e2elib import NGINX_HEAD, NGINX_TEMP_PATHS, nginx_vars


class App:
    """A WSGI app every peer can serve: a module in bench/."""

    def __init__(self, key, module):
        self.key = key
        self.module = module


HELLO = App('hello', 'hello')
DJANGO = App('django', 'djbench.wsgi')


class Peer:
    """One server: key, label, what nginx speaks to it (fastcgi, uwsgi,
    http), and the command serving app with procs x threads on sock.
    path_info: the server routes by PATH_INFO only, which nginx's stock
    fastcgi_params does not send; it gets uwsgi_params' way instead (no
    SCRIPT_NAME, PATH_INFO = the path), in the direct runs too."""

    path_info = False

    def __init__(self, key, label, proto, short):
        self.key = key
        self.label = label
        self.proto = proto
        self.short = short  # a column heading

    def path_params(self, uri):
        """The params added to fcgi-load's for this peer and uri."""
        if not self.path_info:
            return []
        return [('SCRIPT_NAME', ''), ('PATH_INFO', uri.split('?')[0])]

    def argv(self, app, sock, procs, threads, log):
        """The command, or None when this peer cannot run that way."""
        raise NotImplementedError


class FcgiWsgi(Peer):
    def argv(self, app, sock, procs, threads, log):
        argv = [BUILD / 'fcgi-wsgi', '--socket', 'unix:%s' % sock,
                '--chdir', BENCH, '--module', app.module,
                '--processes', procs, '--threads', threads, '--logto', log]
        if os.geteuid() == 0:
            argv.append('--allow-root')
        return argv


class Uwsgi(Peer):
    """uWSGI from Debian: --fastcgi-socket, or --socket (its own uwsgi
    protocol, nginx's uwsgi_pass).  Request logging off (its default logs
    every request); everything else its defaults."""

    @property
    def path_info(self):
        return self.proto == 'fastcgi'

    def argv(self, app, sock, procs, threads, log):
        flag = '--fastcgi-socket' if self.proto == 'fastcgi' else '--socket'
        return ['uwsgi', '--plugin', 'python3', flag, sock, '--chdir', BENCH,
                '--module', app.module, '--master', '--processes', procs,
                '--threads', threads, '--disable-logging', '--die-on-term',
                '--logto', log]


class Gunicorn(Peer):
    """gunicorn from Debian, sync or gthread workers, behind proxy_pass.
    A sync worker has one thread: it sits out the groups with more."""

    def __init__(self, key, label, proto, short, worker_class):
        super().__init__(key, label, proto, short)
        self.worker_class = worker_class

    def argv(self, app, sock, procs, threads, log):
        if self.worker_class == 'sync' and threads != 1:
            return None
        argv = ['gunicorn', '--bind', 'unix:%s' % sock, '--workers', procs,
                '--worker-class', self.worker_class, '--chdir', BENCH,
                '--error-logfile', log]
        if self.worker_class == 'gthread':
            argv += ['--threads', threads]
        return argv + ['%s:application' % app.module]


class CResponder(Peer):
    """bench/c_responder.c: libfcgi, no Python (the FastCGI ceiling)."""

    def argv(self, app, sock, procs, threads, log):
        return [BUILD / 'c_responder', sock, procs, threads]


PEERS = [
    FcgiWsgi('fw', 'fcgi-wsgi', 'fastcgi', 'fcgi-wsgi'),
    Uwsgi('uwsgi-fcgi', 'uWSGI FastCGI', 'fastcgi', 'uWSGI FastCGI'),
    Uwsgi('uwsgi', 'uWSGI native', 'uwsgi', 'uWSGI native'),
    Gunicorn('gunicorn-sync', 'gunicorn sync', 'http', 'gunicorn sync',
             'sync'),
    Gunicorn('gunicorn-gthread', 'gunicorn gthread', 'http',
             'gunicorn gthread', 'gthread'),
    CResponder('c', 'C libfcgi responder', 'fastcgi', 'C libfcgi'),
]
PEER = {p.key: p for p in PEERS}
FASTCGI_BASE = 'uwsgi-fcgi'  # the two peers every ratio is taken to
NATIVE_BASE = 'uwsgi'


# nginx.conf up to its servers: e2elib's skeleton (everything in the temp
# dir), format()ed with nginx_vars(tmp, NGINX_CONNECTIONS)
NGINX_CONNECTIONS = 4096
NGINX_TOP = NGINX_HEAD + """\
http {{
    access_log off;
""" + NGINX_TEMP_PATHS + """\
    # A 64 KiB body stays in memory, and a 1 MiB answer goes to the
    # client as the upstream sends it (no temp file), for every peer.
    client_body_buffer_size 128k;
    fastcgi_max_temp_file_size 0;
    uwsgi_max_temp_file_size 0;
    proxy_max_temp_file_size 0;
"""

NGINX_PASS = {
    'fastcgi': 'include /etc/nginx/fastcgi_params; fastcgi_pass %s;',
    'fastcgi-path-info': 'include %(tmp)s/fastcgi_params_path_info; '
                         'fastcgi_pass %%s;',
    'uwsgi': 'include /etc/nginx/uwsgi_params; uwsgi_pass %s;',
    'http': 'proxy_set_header Host $host; proxy_pass http://%s;',
}
NGINX_KEEP = {
    'fastcgi': 'fastcgi_keep_conn on;',
    'http': 'proxy_http_version 1.1; proxy_set_header Connection "";',
}


def path_info_params():
    """nginx's stock fastcgi_params without SCRIPT_NAME, with PATH_INFO."""
    lines = [line for line in
             Path('/etc/nginx/fastcgi_params').read_text().splitlines()
             if 'SCRIPT_NAME' not in line]
    return '\n'.join(lines + ['fastcgi_param  PATH_INFO  $document_uri;',
                              ''])


def nginx_conf(tmp, routes):
    """nginx.conf for routes: (port, peer, socket path, kept) tuples."""
    parts = [NGINX_TOP.format(**nginx_vars(tmp, NGINX_CONNECTIONS))]
    for port, peer, sock, kept in routes:
        target = 'unix:%s' % sock
        extra = ''
        if kept:
            name = 'kept_%s' % peer.key.replace('-', '_')
            parts.append('    upstream %s { server unix:%s; keepalive 32; }'
                         '\n' % (name, sock))
            target, extra = name, NGINX_KEEP[peer.proto]
        elif peer.proto == 'http':
            target = 'unix:%s:' % sock
        how = NGINX_PASS[peer.proto]
        if peer.path_info:
            how = NGINX_PASS['fastcgi-path-info'] % {'tmp': tmp}
        parts.append('    server { listen 127.0.0.1:%d; location / { %s %s } '
                     '}\n' % (port, how % target, extra))
    parts.append('}\n')
    return ''.join(parts)


class Stack:
    """A group's peers, each on its own unix socket in tmp, and one nginx
    with a port per peer (ports[key]) and per kept peer (kept_ports[key])."""

    def __init__(self, tmp, app, peers, procs, threads):
        self.tmp = Path(tmp)
        self.app = app
        self.procs = procs
        self.threads = threads
        self.servers = {}   # key -> Proc
        self.sockets = {}   # key -> socket path
        self.ports = {}
        self.kept_ports = {}
        self.nginx = None
        self.peers = []
        for peer in peers:
            if peer.argv(app, 'x', procs, threads, 'x') is not None:
                self.peers.append(peer)

    def start(self, env):
        for peer in self.peers:
            sock = self.tmp / ('%s.sock' % peer.key)
            log = self.tmp / ('%s.log' % peer.key)
            argv = peer.argv(self.app, sock, self.procs, self.threads, log)
            self.sockets[peer.key] = sock
            self.servers[peer.key] = Proc(argv, self.tmp / ('%s.out' %
                                                            peer.key),
                                          cwd=BENCH, env=env, name=peer.key)
        for peer in self.peers:
            wait_unix_socket(self.servers[peer.key], self.sockets[peer.key],
                             timeout=60)
        self.start_nginx()

    def start_nginx(self):
        for _ in range(5):
            routes = []
            for peer in self.peers:
                self.ports[peer.key] = free_port()
                routes.append((self.ports[peer.key], peer,
                               self.sockets[peer.key], False))
                if peer.proto in NGINX_KEEP:
                    self.kept_ports[peer.key] = free_port()
                    routes.append((self.kept_ports[peer.key], peer,
                                   self.sockets[peer.key], True))
            conf = self.tmp / 'nginx.conf'
            (self.tmp / 'fastcgi_params_path_info').write_text(
                path_info_params())
            conf.write_text(nginx_conf(self.tmp, routes))
            nginx = shutil.which('nginx') or '/usr/sbin/nginx'
            self.nginx = Proc([nginx, '-p', self.tmp, '-e',
                               self.tmp / 'error.log', '-c', conf],
                              self.tmp / 'nginx.out', name='nginx')
            try:
                for port, _, _, _ in routes:
                    wait_tcp(self.nginx, port,
                             extra_logs=[self.tmp / 'error.log'])
                return
            except AssertionError:
                self.nginx.stop()
                if 'Address already in use' not in tail(
                        self.tmp / 'error.log'):
                    raise
        raise SystemExit('bench: nginx found no free ports in 5 tries')

    def alive(self, key):
        return self.servers[key].alive()

    def log(self, key):
        """The peer's own log and its output."""
        return '%s\n%s' % (tail(self.tmp / ('%s.log' % key), 3000),
                           self.servers[key].log_text())

    def stop(self):
        if self.nginx is not None:
            self.nginx.stop()
        for proc in self.servers.values():
            proc.stop(timeout=30)
