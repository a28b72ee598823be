/*
 * start_response.h: the per-request response state, which is also the
 * start_response callable handed to the application.  start_response only
 * validates and stores the header block; response.c sends it.  Requires
 * Python.h to be included first.
 */
#ifndef FW_START_RESPONSE_H
#define FW_START_RESPONSE_H

#include <stddef.h>

#include "pyglue/gateway.h"

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall; /* start_response(...) without a tuple */
    fw_request_t *req;         /* NULL once the request ended */
    PyObject *input;           /* borrowed wsgi.input, drained before the
                                  first write; then NULL */
    char *head; /* "Status: ...\r\nName: value\r\n...\r\n" (PyMem),
                   NULL until start_response succeeded */
    size_t head_len;
    int status_code;  /* 100..999, for messages */
    int headers_sent; /* head went to the output: no 500 is possible now */
    int client_gone;  /* a gateway write or flush failed */
    int unflushed;    /* bytes were written since the last flush */
    int sending;      /* a thread is in a gateway call (GIL released) */
    int gateway_written; /* a gateway write was made for this response */
    char *out;        /* output not yet written: out[0..out_len) */
    size_t out_len;
    size_t out_cap; /* 0: no buffer, everything is written at once */
} fw_start_response_t;

/* Readies the type (GIL held).  0, or -1 with an exception set. */
int fw_start_response_init_type(void);

/*
 * A new start_response for request r.  out (out_cap bytes, owned by the
 * caller, alive until fw_start_response_detach) collects small writes so
 * that the header block and a small body go out in one gateway write.
 * New reference, or NULL with an exception set.  GIL held.
 */
fw_start_response_t *fw_start_response_new(fw_request_t *r, char *out,
                                           size_t out_cap);

/*
 * Waits, with the GIL released, until no thread is inside a gateway call
 * for sr (only an application writing from threads of its own makes this
 * wait).  GIL held on entry and return.
 */
void fw_start_response_wait_idle(fw_start_response_t *sr);

/*
 * Ends the request (waiting for a gateway call in progress): the object, or a
 * write() callable the application kept, raises ValueError from now on.  GIL
 * held.
 */
void fw_start_response_detach(fw_start_response_t *sr);

#endif /* FW_START_RESPONSE_H */
