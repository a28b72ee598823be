/*
 * response.h: calling the application and sending what it returns:
 * body iteration, close(), and the one place where a Python exception
 * becomes a log entry and a 500.  The response's state and its bytes on
 * their way out are response_send.h's.  Requires Python.h to be included
 * first.
 */
#ifndef FW_RESPONSE_H
#define FW_RESPONSE_H

#include "pyglue/pyglue.h"
#include "pyglue/environ.h"
#include "pyglue/response_send.h"

/*
 * Calls app(environ, resp), sends the response through resp, calls close()
 * on the result (always, also after errors).  Any error is logged with the
 * request's method and path from info; before the header block was sent
 * it becomes a 500, after it FW_PYGLUE_ABORT.  A lost client is logged at
 * INFO and gives FW_PYGLUE_ABORT.  Never leaves an exception set.  GIL
 * held; released around every gateway call.
 */
fw_pyglue_result_e fw_response_run(PyObject *app, PyObject *environ,
                                   fw_response_t *resp,
                                   const fw_request_info_t *info);

#endif /* FW_RESPONSE_H */
