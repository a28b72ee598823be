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
} fw_fcgi_conn_t;

/* Once per process, before any thread serves. 0 or -1. */
int fw_fcgi_io_global_init(void);

/* Once per serving thread. */
void fw_fcgi_io_init(fw_fcgi_conn_t *c);

/*
 * Reads BEGIN_REQUEST and PARAMS from fd, a connection we accepted.  0:
 * c->req is ready to be handed to pyglue.  -1: the connection was not a
 * usable FastCGI request; it is closed already.  Blocks (no GIL held).
 */
int fw_fcgi_io_begin(fw_fcgi_conn_t *c, int fd);

/*
 * Ends the request: with abort 0, flushes, sends END_REQUEST and closes;
 * with abort 1, drops the connection without END_REQUEST, so the web server
 * sees a cut-off response.  The connection is always closed here, without
 * libfcgi's lingering close (pyglue has read STDIN to its end).
 */
void fw_fcgi_io_end(fw_fcgi_conn_t *c, int abort);

#endif /* FW_FCGI_IO_H */
