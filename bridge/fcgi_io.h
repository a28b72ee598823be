/*
 * fcgi_io.h: one FastCGI connection driven through libfcgi, presented to
 * pyglue as an fw_request_t.  The only place that calls FCGX_*.
 */
#ifndef FW_FCGI_IO_H
#define FW_FCGI_IO_H

#include <fcgiapp.h>
#include <stdint.h>
#include "pyglue/gateway.h"

typedef struct {
    FCGX_Request fcgx;
    fw_request_t req;
    int wrote_direct;   /* STDOUT records written by us, not libfcgi */
    int wrote_buffered; /* STDOUT bytes put through libfcgi's stream */
    int keep;           /* the web server set FCGI_KEEP_CONN */
    /* the response as written, for the access log (reset by begin) */
    int resp_status;          /* "Status: NNN" of the header block, or 0 */
    int resp_started;         /* a first byte was written */
    int resp_head_match;      /* bytes of "\r\n\r\n" matched; 4: body */
    uint64_t resp_body_bytes; /* written after the header block */
} fw_fcgi_conn_t;

/* Once per process, before any thread serves. 0 or -1. */
int fw_fcgi_io_global_init(void);

/*
 * role = authorizer: every request is served in the Authorizer role (see
 * fw_role_e), whatever role the web server asked for (nginx's
 * auth_request sends responder requests).  Once, before any thread serves.
 * Otherwise each request's role is the one in its BEGIN_REQUEST.
 */
void fw_fcgi_io_force_authorizer(int force);

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
 * (pyglue has read STDIN to its end), and returns -1.  A request in the
 * Authorizer role never keeps its connection: its STDIN is never read
 * (mod_fcgid sends none, lighttpd none with a request body), so what
 * arrived of it is discarded before the close.
 */
int fw_fcgi_io_end(fw_fcgi_conn_t *c, int abort);

/* The response's status code: from its header block (200 when that had no
 * Status line), or 0 when no header block was written. */
static inline int
fw_fcgi_io_status(const fw_fcgi_conn_t *c)
{
    if (c->resp_status != 0) {
        return c->resp_status;
    }
    return c->resp_started ? 200 : 0;
}

#endif /* FW_FCGI_IO_H */
