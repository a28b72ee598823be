/*
 * listen.h: the listening socket: bound from the `socket` option, passed
 * by systemd (socket activation), or inherited on fd 0 from spawn-fcgi,
 * mod_fcgid or lighttpd.
 */
#ifndef FW_LISTEN_H
#define FW_LISTEN_H

#include "conf/conf.h"

typedef struct {
    int fd;
    char unix_path[108]; /* to unlink at exit; "" when not ours */
    char name[300];      /* for messages: "unix:/run/app.sock", "127.0.0.1:9000" */
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

#endif /* FW_LISTEN_H */
