/*
 * listen.h: the listening socket: bound from the `socket` option, or
 * inherited on fd 0 from spawn-fcgi, mod_fcgid or lighttpd.
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
 * `mode` (chmod-socket).  0, or -1 after logging the cause.
 */
int fw_listen_open(fw_listener_t *l, const fw_sockaddr_conf_t *addr,
                   unsigned mode, int backlog);

/* Takes fd 0 when it is a listening socket.  0, or -1 (not one). */
int fw_listen_inherit(fw_listener_t *l);

/* Closes the socket and removes the unix socket file we created. */
void fw_listen_close(fw_listener_t *l);

#endif /* FW_LISTEN_H */
