/*
 * fcgi_io.h: one FastCGI connection driven through libfcgi, presented to
 * pyglue as an fw_request_t.  The only place that calls FCGX_*.
 */
#ifndef FW_FCGI_IO_H
#define FW_FCGI_IO_H

#include <fcgiapp.h>
#include "pyglue/gateway.h"

typedef struct {
    FCGX_Request fcgx;
    fw_request_t req;
    int wrote_direct;   /* STDOUT records written by us, not libfcgi */
    int wrote_buffered; /* STDOUT bytes put through libfcgi's stream */
    int keep;           /* the web server set FCGI_KEEP_CONN */
} fw_fcgi_conn_t;

/* Once per process, before any thread serves. 0 or -1. */
int fw_fcgi_io_global_init(void);

/* Once per serving thread. */
void fw_fcgi_io_init(fw_fcgi_conn_t *c);

/*
 * Reads BEGIN_REQUEST and PARAMS from fd: a connection just accepted
 * (kept 0), or one kept open after an earlier request (kept 1).  0: c->req
 * is ready to be handed to pyglue.  -1: no usable request came (the web
 * server closed a kept connection, or sent garbage); fd is closed already.
 * Blocks (no GIL held).
 */
int fw_fcgi_io_begin(fw_fcgi_conn_t *c, int fd, int kept);

/*
 * Ends the request: with abort 0, flushes and sends END_REQUEST; with
 * abort 1, drops the connection without END_REQUEST, so the web server sees
 * a cut-off response.  Returns the fd when the web server asked to keep the
 * connection (FCGI_KEEP_CONN) and it is healthy: the caller waits for its
 * next request.  Otherwise closes it, without libfcgi's lingering close
 * (pyglue has read STDIN to its end), and returns -1.
 */
int fw_fcgi_io_end(fw_fcgi_conn_t *c, int abort);

#endif /* FW_FCGI_IO_H */
