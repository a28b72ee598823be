/*
 * serve.h: serving requests, the room between the listening socket and
 * pyglue: the listening socket (listen.c), who may connect (allow.c), the
 * connections a worker holds and their deadlines (conns.c), the worker
 * process (worker.c; its threads and epoll loop, accepting and recycling
 * are loop.c, accept.c and recycle.c, which share serve_int.h), and the
 * CGI fallback (cgi.c).
 */
#ifndef FW_SERVE_H
#define FW_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "pyglue/pyglue.h"

/* -------------------------------------------------------------------- */
/*
 * worker.c: a serving process: N threads that each accept a connection,
 * read the FastCGI request, hand it to pyglue and end it; and the process's
 * main thread, which only waits for signals and stops the threads.
 */

typedef struct fw_worker_config_s {
    int listen_fd;
    int threads;            /* serving threads, >= 1 */
    int shutdown_timeout;   /* seconds a graceful stop waits for requests */
    const char *logto;      /* reopened on SIGUSR1 */
    int slot;               /* scoreboard slot (set by the master's fork) */
    pid_t master;           /* poked (SIGUSR2) when this worker leaves */
    int max_requests;       /* recycle after this many requests; 0: never */
    int max_requests_delta; /* + a random 0..delta, drawn per process */
    int reload_on_rss;      /* recycle above this RSS, MiB; 0: never */
    /* the FastCGI wire (bridge/wire/wire.h: fw_conn_conf_t) */
    int socket_timeout;            /* seconds for a peer's next bytes */
    int keepalive_timeout;         /* seconds a kept connection may idle */
    size_t socket_sndbuf;          /* SO_SNDBUF once an answer fills the
                                      socket; 0: the kernel's (TCP) */
    size_t buffer_size;            /* PARAMS bytes a request may send */
    unsigned long long limit_post; /* body bytes; 0: unlimited */
    size_t post_buffering;         /* length-less body kept in memory */
    int max_reqs;                  /* processes x threads: GET_VALUES */
    int force_authorizer;          /* role = authorizer */
    int disable_sendfile;          /* no sendfile for file_wrapper */
} fw_worker_config_t;

/*
 * Serves until SIGTERM or SIGINT (graceful: stop accepting, finish what
 * runs, at most shutdown_timeout seconds) or SIGQUIT (at once), or until
 * it recycles itself (max-requests, reload-on-rss: a graceful stop after
 * the request that crossed the limit).  Python must be started; it is
 * finalised here after a graceful stop.  Returns the process exit status.
 * Call from the main thread.
 */
int fw_worker_run(const fw_worker_config_t *wc);

/* -------------------------------------------------------------------- */
/*
 * conns.c: the FastCGI connections a worker process holds open, and their
 * place in the worker's epoll set.  A connection is either being served by
 * one thread, or parked: in the epoll set (one-shot) with a deadline, on a
 * list in the order it was parked.  Parked connections past their deadline
 * are closed by whichever thread sweeps; near the descriptor limit the
 * oldest idle ones are closed first.  Thread-safe (one mutex).
 */

/* epoll data that is not a connection */
#define FW_CONNS_EV_LISTEN UINT64_MAX
#define FW_CONNS_EV_WAKE (UINT64_MAX - 1)

/*
 * Sizes the table for this process's descriptor limit.  epfd: the epoll
 * set connections are parked in.  0, or -1 after logging.
 */
int fw_conns_setup(int epfd);

/* The connection limit answered to FCGI_GET_VALUES (FCGI_MAX_CONNS). */
int fw_conns_max(void);

/* A connection of the wire room (bridge/wire/wire.h); opaque here. */
typedef struct fw_conn_s fw_conn_t;

/*
 * A connection for fd, just accepted: closes the oldest idle connection
 * first when the process is near its descriptor limit.  NULL (fd closed,
 * logged) when no room can be made.
 */
fw_conn_t *fw_conns_open(int fd);

/*
 * accept() failed for lack of descriptors: closes the oldest idle
 * connection.  1 if one was closed, 0 if none could be.
 */
int fw_conns_evict_idle(void);

/* Parks c (after FW_CONN_WAIT): in the epoll set, deadline from now. */
void fw_conns_park(fw_conn_t *c);

/* The connection an epoll event names, taken out of the parked list; NULL
 * when the event is stale (the connection was closed meanwhile). */
fw_conn_t *fw_conns_take(uint64_t data);

/* Closes c (not parked), logging `why` when not NULL. */
void fw_conns_close(fw_conn_t *c, const char *why);

/*
 * Closes the parked connections past their deadline.  Returns the ms until
 * the next deadline (at most 1000), for epoll_wait.  Cheap to call often:
 * only one thread sweeps at a time.
 */
int fw_conns_sweep(void);

/* Connections open (parked or being served). */
int fw_conns_count(void);

/*
 * A graceful stop: closes the parked connections kept open with nothing
 * under way, and gives those that have sent nothing yet at most
 * FW_CONNS_DRAIN_SILENT_MS more; the others keep their deadline.  Called
 * again and again while draining: cheap.
 */
void fw_conns_drain(void);
#define FW_CONNS_DRAIN_SILENT_MS 1000

/* -------------------------------------------------------------------- */
/*
 * listen.c: the listening socket: bound from the `socket` option, passed
 * by systemd (socket activation), or inherited on fd 0 from spawn-fcgi,
 * mod_fcgid or lighttpd; and the length of its queue.
 */

typedef struct {
    int fd;
    char unix_path[108]; /* to unlink at exit; "" when not ours */
    char name[300]; /* for messages: "unix:/run/app.sock", "127.0.0.1:9000" */
} fw_listener_t;

/*
 * Binds and listens as addr says.  A unix socket file left by a dead server
 * is replaced; one a live server answers on is an error.  The file gets
 * `mode` (chmod-socket).  Sockets systemd passed are left unserved (a
 * warning) and its LISTEN_* variables removed.  0, or -1 after logging the
 * cause.
 */
int fw_listen_open(fw_listener_t *l, const fw_sockaddr_conf_t *addr,
                   unsigned mode, int backlog);

/*
 * Whether the directory a unix socket path would be bound in exists (for
 * -t, which binds nothing).  NULL, or one line naming the cause in msg.
 */
const char *fw_listen_check_dir(const char *path, char *msg, size_t size);

/*
 * With no socket option: takes the first socket systemd passed (socket
 * activation: LISTEN_PID is this process, LISTEN_FDS >= 1, fd 3), else fd
 * 0 when it is a listening socket (spawn-fcgi, mod_fcgid, lighttpd).
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the
 * environment in any case.  0, or -1: none (or systemd's is unusable,
 * logged).
 */
int fw_listen_inherit(fw_listener_t *l);

/*
 * Takes fd, a listening socket kept open across a reload's exec: its name
 * comes from getsockname().  A unix socket whose path is `own_path` (the
 * configured one) is ours: removed at close.  FD_CLOEXEC is set again.
 * 0, or -1 (not a listening socket).
 */
int fw_listen_adopt(fw_listener_t *l, int fd, const char *own_path);

/* Closes the socket and removes the unix socket file we created. */
void fw_listen_close(fw_listener_t *l);

/*
 * Whether Apache's mod_fcgid started this process: it gives the listening
 * socket on fd 0 (l came from fw_listen_inherit) and is the parent, named
 * apache2 or httpd.  mod_fcgid sends each process one request at a time
 * and starts more processes when it wants more.  1 (the parent's name
 * copied to parent, size bytes) or 0.
 */
int fw_listen_by_mod_fcgid(const fw_listener_t *l, char *parent, size_t size);

/*
 * The queue of listening socket fd: connections waiting to be accepted,
 * and the backlog (TCP_INFO for TCP, sock_diag for unix sockets).  Any
 * process may ask; never blocks.  0, or -1 when the kernel does not say
 * (both then -1).
 */
int fw_listen_queue(int fd, long *queue, long *backlog);

/* Whether fd is a unix socket (0 for TCP, or when it cannot be told). */
int fw_listen_is_unix(int fd);

/* net.core.wmem_max, when the listening socket fd is a unix socket and the
 * kernel allows a connection less send buffer than want (socket-sndbuf);
 * else 0. */
long long fw_listen_sndbuf_cap(int fd, long long want);

/* -------------------------------------------------------------------- */
/*
 * allow.c: who may connect.  allowed-clients (php-fpm's
 * listen.allowed_clients) and libfcgi's FCGI_WEB_SERVER_ADDRS become one
 * list of networks at start-up; each accepted connection's peer is checked
 * against it.  It only answers: closing a refused connection is the
 * caller's.
 */

/*
 * Builds the list from the allowed-clients entries (clients, each a
 * comma-separated list) and, when it is set and not
 * empty, the environment's FCGI_WEB_SERVER_ADDRS (comma-separated
 * addresses or networks, as allowed-clients): a peer in either is
 * allowed.  Neither given: every peer is allowed.  Call once in the master
 * before the workers are forked (after env = lines are applied); a second
 * call replaces the list.  0, or -1 after logging (a bad
 * FCGI_WEB_SERVER_ADDRS entry, out of memory).
 */
int fw_allow_setup(const char *const *clients, size_t nclients);

/*
 * Whether the peer that accept() returned in sa (len bytes, as accept()
 * filled them) may talk to us: 1 allowed, 0 refused.  Unix sockets are
 * always allowed; an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is matched
 * against the IPv4 networks; an empty list allows everything.  A refusal
 * is logged, at most one line a second per process, naming the address
 * and counting the refusals not logged since the last line.  Allocates
 * nothing and never blocks; safe from any thread once set up.
 */
int fw_allow_check(const struct sockaddr *sa, socklen_t len);

/* Releases the list (everything is allowed again). */
void fw_allow_free(void);

/* For tests: the monotonic clock in ms that the refusal lines are
 * rate-limited by; NULL restores CLOCK_MONOTONIC. */
void fw_allow_set_clock(uint64_t (*now_ms)(void));

/* -------------------------------------------------------------------- */
/*
 * cgi.c: the CGI fallback: started by a web server as a CGI program (no
 * socket configured, nothing listening on fd 0, a CGI request in the
 * environment), fcgi-wsgi serves that one request and exits, so the same
 * binary works as a .cgi.  Another implementation of pyglue's request
 * interface (pyglue/gateway.h); pyglue does not know which one it runs.
 */

/*
 * Whether this process runs as a CGI program: GATEWAY_INTERFACE starts
 * with "CGI/" and REQUEST_METHOD is set (RFC 3875).  Call only when no
 * socket is configured and none was inherited.  When it does, prepares
 * the process, before Python starts:
 *  - the environment is copied: it is the request's parameters;
 *  - HTTP_PROXY is removed from the environment ("httpoxy": a client's
 *    Proxy: header must not become the application's proxy setting; the
 *    WSGI environ still has it);
 *  - fd 0 and fd 1 are kept for the request (body in, response out) and
 *    replaced by /dev/null and stderr, so that print() or a library
 *    reading stdin cannot corrupt the response or eat the body.
 * Returns 1 (a CGI request, ready to serve), 0 (not CGI), or -1 after
 * logging (the descriptors could not be set up).
 */
int fw_cgi_detect(void);

/*
 * Serves the request fw_cgi_detect found, with the application app (the
 * interpreter is started here, with wsgi.run_once): the body is read from
 * the original stdin, CONTENT_LENGTH bytes at most (none when it is
 * absent, as RFC 3875 says); the response goes to the original stdout as
 * CGI output ("Status: 200 OK" and the header block, then the body).
 * Returns the exit status: 0; 1 when the application cannot be loaded
 * (logged to stderr: the web server answers 500) or the response was cut
 * off.
 */
int fw_cgi_serve(const fw_app_config_t *app);

#endif /* FW_SERVE_H */
