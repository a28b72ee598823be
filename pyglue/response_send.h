/*
 * response_send.h: the state of one request's response (fw_response_t)
 * and the bytes of it on their way to the gateway: the header block with
 * the first body bytes, small writes collected, flushes, pyglue's own
 * 500.  Requires Python.h to be included first.
 */
#ifndef FW_RESPONSE_SEND_H
#define FW_RESPONSE_SEND_H

#include <stddef.h>

#include "pyglue/gateway.h"

/*
 * Everything about one request's response.  It is also a Python object,
 * the start_response callable the application gets (the type is in
 * start_response.c).
 */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall; /* start_response(...) without a tuple */
    fw_request_t *req;         /* NULL once the request ended */
    PyObject *input;           /* borrowed wsgi.input, drained before the
                                  first write; then NULL */
    char *head; /* "Status: ...\r\nName: value\r\n...\r\n" (PyMem),
                   NULL until start_response succeeded */
    size_t head_len;
    int status_code;       /* 100..999 from start_response; 500 once pyglue's
                              own 500 replaced the response */
    size_t head_unwritten; /* bytes of the header block queued and not
                              yet given to write() (the rest of what
                              goes out is body) */
    int headers_sent;      /* head went to the output: no 500 is possible
                              now */
    int client_gone;       /* a gateway write or flush failed */
    int unflushed;         /* bytes were written since the last flush */
    int sending;           /* a thread is in a gateway call (GIL released) */
    char *out;             /* output not yet written: out[0..out_len) */
    size_t out_len;
    size_t out_cap; /* 0: no buffer, everything is written at once */
} fw_response_t;

/*
 * Fills a new response for request r (the object itself comes from
 * fw_start_response_new): nothing sent, nothing buffered.  out (out_cap
 * bytes, owned by the caller, alive until fw_response_detach) collects
 * small writes so that the header block and a small body go out in one
 * gateway write.
 */
void fw_response_init(fw_response_t *resp, fw_request_t *r, char *out,
                      size_t out_cap);

/*
 * Sends len bytes of body (the header block first, if it was not sent
 * yet; resp->head must be set).  Small pieces are collected in resp->out
 * and written later; with flush, everything is written and flushed now.
 * 0, or -1 when the client is gone (resp->client_gone set; no exception).
 * GIL held; released around the gateway calls.
 */
int fw_response_send(fw_response_t *resp, const char *data, size_t len,
                     int flush);

/*
 * Sends count bytes of the regular file fd from offset as body, through
 * the gateway's sendfile (which must be there), after the header block
 * and what is buffered.  Returns count; fewer when the file ended or
 * failed to read first (errno: 0, or why), -1 when the client is gone;
 * either way short of count, resp->client_gone is set (the connection
 * cannot go on).  GIL held; released around the gateway call.
 */
ssize_t fw_response_sendfile(fw_response_t *resp, int fd, off_t offset,
                             size_t count);
/*
 * Replaces whatever was not written yet with a short text/plain
 * "500 Internal Server Error" and flushes it.  Only valid while
 * !resp->headers_sent.  0, or -1 when the client is gone.  GIL held.
 */
int fw_response_send_500(fw_response_t *resp);

/*
 * Waits, with the GIL released, until no thread is inside a gateway call
 * for resp (only an application writing from threads of its own makes
 * this wait).  GIL held on entry and return.
 */
void fw_response_wait_idle(fw_response_t *resp);

/*
 * Ends the request (waiting for a gateway call in progress): the
 * start_response object, or a write() callable the application kept,
 * raises ValueError from now on.  GIL held.
 */
void fw_response_detach(fw_response_t *resp);

/*
 * Writes what is pending at the end of the response, without a flush: the
 * server sends what it buffered when the request ends (with libfcgi, the
 * body and END_REQUEST then leave in one write).  0, or -1 when the
 * client is gone.  GIL held.
 */
int fw_response_finish(fw_response_t *resp);

#endif /* FW_RESPONSE_SEND_H */
