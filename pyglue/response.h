/*
 * response.h: runs the application for one request and sends what it
 * returns: header emission, body iteration, close(), and the one place
 * where a Python exception becomes a log entry and a 500.  Requires
 * Python.h to be included first.
 */
#ifndef FW_RESPONSE_H
#define FW_RESPONSE_H

#include <stddef.h>

#include "pyglue/pyglue.h"
#include "pyglue/environ.h"
#include "pyglue/start_response.h"

/*
 * Calls app(environ, sr), sends the response through sr, calls close() on
 * the result (always, also after errors).  Any error is logged with the
 * request's method and path from info; before the header block was sent
 * it becomes a 500, after it FW_PYGLUE_ABORT.  A lost client is logged at
 * INFO and gives FW_PYGLUE_ABORT.  Never leaves an exception set.  GIL
 * held; released around every gateway call.
 */
fw_pyglue_result_e fw_response_run(PyObject *app, PyObject *environ,
                                   fw_start_response_t *sr,
                                   const fw_request_info_t *info);

/*
 * Sends len bytes of body (the header block first, if it was not sent
 * yet; sr->head must be set).  Small pieces are collected in sr->out and
 * written later; with flush, everything is written and flushed now.
 * 0, or -1 when the client is gone (sr->client_gone set; no exception).
 * GIL held; released around the gateway calls.
 */
int fw_response_send(fw_start_response_t *sr, const char *data, size_t len,
                     int flush);

/*
 * Replaces whatever was not written yet with a short text/plain
 * "500 Internal Server Error" and flushes it.  Only valid while
 * !sr->headers_sent.  0, or -1 when the client is gone.  GIL held.
 */
int fw_response_send_500(fw_start_response_t *sr);

#endif /* FW_RESPONSE_H */
