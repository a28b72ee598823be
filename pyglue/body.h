/*
 * body.h: the request body as wsgi.input reads it (fw_body_t), pulled
 * from the gateway only as asked, never past CONTENT_LENGTH.  A plain
 * struct inside the wsgi.input object (input.c), which decides when it
 * may be used.  Requires Python.h to be included first.
 */
#ifndef FW_BODY_H
#define FW_BODY_H

#include "pyglue/gateway.h"

typedef struct {
    fw_request_t *req;   /* NULL once the request ended */
    long long remaining; /* body bytes the gateway still owes; -1: unknown */
    int eof;             /* the gateway has nothing more for us */
    int at_end;          /* the gateway returned 0: STDIN is consumed */
    int discarded;       /* fw_body_drain threw away unread body bytes */
    int failed;          /* a gateway read failed: the connection is lost */
    int busy;            /* a thread is in a gateway read (GIL released) */
    char *buf;           /* PyMem, the readline buffer, or NULL */
    size_t pos;          /* unread bytes are buf[pos..len) */
    size_t len;
} fw_body_t;

/* The body of r, content_length bytes (-1: until the gateway's end):
 * nothing read, nothing buffered. */
void fw_body_init(fw_body_t *b, fw_request_t *r, long long content_length);

/*
 * read(limit): up to limit bytes, or everything left when limit < 0.  The
 * result is allocated once at its final size when the size is known.
 * New reference, or NULL with an exception set (OSError: the connection
 * is lost).  GIL held; released around the gateway reads.
 */
PyObject *fw_body_read(fw_body_t *b, Py_ssize_t limit);

/*
 * One line of at most limit bytes (limit < 0: no limit), ending with its
 * b"\n" unless the body or the limit ended first; b"" at the end.  New
 * reference, or NULL with an exception set.  GIL held, as fw_body_read.
 */
PyObject *fw_body_readline(fw_body_t *b, Py_ssize_t limit);

/* fw_input_drain (input.h) on the body: 0, or -1 when the connection
 * failed; never sets an exception. */
int fw_body_drain(fw_body_t *b);

/* The request ended: waits for a read another thread may be doing, then
 * forgets the request and frees the buffer.  GIL held. */
void fw_body_detach(fw_body_t *b);

#endif /* FW_BODY_H */
