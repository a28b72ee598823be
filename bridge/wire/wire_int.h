/*
 * wire_int.h: what the files of bridge/wire/ share with each other and
 * with nobody else.  Only the files of bridge/wire/ include it; the
 * room's API is wire.h.
 */
#ifndef FW_WIRE_INT_H
#define FW_WIRE_INT_H

#include <fastcgi.h>
#include <stddef.h>
#include <sys/types.h>

#include "bridge/wire/wire.h"

_Static_assert(FW_WIRE_HEADER_LEN == FCGI_HEADER_LEN,
               "a FastCGI record header is 8 bytes");

/* ---- wire_out.c: buffers of the parser ---------------------------------- */

/* realloc, or abort: a worker cannot serve without memory, and the master
 * replaces it. */
void *fw_wire_realloc(void *p, size_t size);

/* Makes room for `more` bytes past `len` in *buf (capacity *cap). */
void fw_wire_reserve(unsigned char **buf, size_t *cap, size_t len,
                     size_t more);

/* ---- wire_conn.c: the connection between requests ----------------------- */

/* The limits fw_conn_setup was given. */
extern fw_conn_conf_t fw_conn_conf;

/* Sends queued answer bytes without blocking.  1: all sent; 0: some are
 * left (the socket is full); -1: the socket failed. */
int fw_conn_send_some(fw_conn_t *c);

/* Reads what has arrived into c->in without blocking (moving unparsed
 * bytes to the front first).  >0: bytes read; 0: the peer closed; -1 with
 * errno EAGAIN: nothing there, or no room; -1 otherwise: failed. */
ssize_t fw_conn_recv(fw_conn_t *c);

/* Parses buffered bytes up to the next event (fw_wire_parse on c->in). */
fw_wire_event_e fw_conn_parse(fw_conn_t *c, const unsigned char **data,
                              size_t *len);

/* ---- wire_request.c: the request while the application runs ------------ */

/* Readies the request's gateway operations for fw_conn_conf (once, by
 * fw_conn_setup, before any thread serves). */
void fw_conn_request_setup(void);

/* Forgets the request being served (c->req, c->body, the spool), not the
 * connection: c->req is a fresh request with no params. */
void fw_conn_request_reset(fw_conn_t *c);

/*
 * Ends the request pyglue handled: queues the empty STDOUT record and
 * END_REQUEST (none when the response was cut off by the application:
 * then -1, the connection is dropped), sends them, waiting up to the
 * socket-timeout, and resets the request.  0, or -1: close the connection.
 */
int fw_conn_request_end(fw_conn_t *c, int cut_off);

/* ---- wire_spool.c: a body without CONTENT_LENGTH ------------------------ */

/* Adds n bytes: in memory while the total stays within mem_max, then in an
 * unlinked temp file.  0, or -1 after logging. */
int fw_spool_put(fw_spool_t *s, const unsigned char *p, size_t n,
                 size_t mem_max);

/* The body is complete.  With a body, r->params becomes params (nparams of
 * them, CONTENT_LENGTH replaced by the body's size); without one r is left
 * as it is. */
void fw_spool_done(fw_spool_t *s, fw_request_t *r, const fw_param_t *params,
                   size_t nparams);

/* Reads up to len bytes of the body back.  The count, 0 at its end, or -1
 * after logging. */
ssize_t fw_spool_read(fw_spool_t *s, char *buf, size_t len);

/* Empties the spool for the next request, keeping a memory buffer small
 * enough to be worth keeping. */
void fw_spool_reset(fw_spool_t *s);

/* Empties the spool and frees its memory buffer (the params array stays
 * with the slot). */
void fw_spool_release(fw_spool_t *s);

#endif /* FW_WIRE_INT_H */
