/*
 * handle.c: the request path behind fw_pyglue_handle (GIL, environ,
 * application, response, the end of the body) and the per-thread handles.
 * It holds the application and builds the per-process constants; it never
 * starts or stops the interpreter (interp.c does).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "pyglue/handle.h"
#include "pyglue/environ.h"
#include "pyglue/errors.h"
#include "pyglue/errors_stream.h"
#include "pyglue/file_wrapper.h"
#include "pyglue/input.h"
#include "pyglue/keys.h"
#include "pyglue/response.h"
#include "pyglue/response_send.h"
#include "pyglue/start_response.h"

/* Per-thread buffer that joins the header block with small body writes. */
#define HANDLE_OUT_SIZE 16384

struct fw_pyglue_thread_s {
    PyThreadState *tstate;
    int owns_tstate; /* made by attach (else the main thread's own) */
    char out[HANDLE_OUT_SIZE];
};

static PyObject *handle_app;

int
fw_handle_init(PyObject *app, const fw_app_config_t *cfg)
{
    if (fw_keys_init() < 0 || fw_errors_stream_init() < 0 ||
        fw_input_init_type() < 0 || fw_file_wrapper_init_type() < 0 ||
        fw_start_response_init_type() < 0 || fw_environ_init(cfg) < 0) {
        fw_handle_fini();
        return -1;
    }
    Py_XDECREF(handle_app);
    handle_app = Py_NewRef(app);
    return 0;
}

void
fw_handle_fini(void)
{
    Py_CLEAR(handle_app);
    fw_environ_fini();
    fw_errors_stream_fini();
    fw_errors_fini();
    fw_keys_fini();
}

/*
 * A thread that already has a thread state (the main thread, whose state
 * fw_pyglue_start saved) uses it; any other thread gets a new one on the
 * main interpreter, bound to it.  Needs no GIL.
 */
fw_pyglue_thread_t *
fw_pyglue_thread_attach(void)
{
    fw_pyglue_thread_t *t = malloc(sizeof(*t));

    if (t == NULL) {
        fw_errors_log(FW_LOG_ERROR, "out of memory attaching a thread");
        return NULL;
    }
    t->tstate = PyGILState_GetThisThreadState();
    t->owns_tstate = 0;
    if (t->tstate == NULL) {
        t->tstate = PyThreadState_New(PyInterpreterState_Main());
        if (t->tstate == NULL) {
            fw_errors_log(FW_LOG_ERROR, "cannot make a Python thread state");
            free(t);
            return NULL;
        }
        t->owns_tstate = 1;
    }
    return t;
}

void
fw_pyglue_thread_detach(fw_pyglue_thread_t *t)
{
    if (t == NULL) {
        return;
    }
    if (t->owns_tstate) {
        PyEval_RestoreThread(t->tstate);
        PyThreadState_Clear(t->tstate);
        PyThreadState_DeleteCurrent(); /* and releases the GIL */
    }
    free(t);
}

/*
 * One request with the GIL held: never leaves an exception set.  The
 * response path drains the body before its first write; the drain here
 * only covers a response that wrote nothing, and is skipped when the
 * connection is dropped anyway.
 */
static fw_pyglue_result_e
handle_request(fw_pyglue_thread_t *t, fw_request_t *r)
{
    fw_request_info_t info;
    fw_response_t *resp = NULL;
    PyObject *environ = NULL;
    PyObject *input = NULL;
    fw_pyglue_result_e result = FW_PYGLUE_ABORT;

    memset(&info, 0, sizeof(info));
    r->response_status = 0;
    r->response_body_bytes = 0;
    if (handle_app == NULL) {
        fw_errors_log(FW_LOG_ERROR, "no WSGI application is loaded");
        return FW_PYGLUE_ABORT;
    }
    resp = fw_start_response_new(r, t->out, sizeof(t->out));
    if (resp == NULL) {
        fw_errors_log_exception("cannot start a response");
        goto done;
    }
    environ = fw_environ_build(r, &info, &input);
    if (environ == NULL) {
        fw_errors_log_exception("cannot build the WSGI environ");
        if (fw_response_send_500(resp) == 0) {
            result = FW_PYGLUE_DONE;
        }
        goto done;
    }

    resp->input = input; /* drained before the first write */
    result = fw_response_run(handle_app, environ, resp, &info);
    if (result == FW_PYGLUE_DONE && fw_input_drain(input) < 0) {
        fw_errors_log(FW_LOG_INFO,
                      "client connection lost while reading the rest of "
                      "the request body");
        result = FW_PYGLUE_ABORT;
    }

done:
    if (input != NULL) {
        fw_input_detach(input);
    }
    if (resp != NULL) {
        fw_response_detach(resp);
    }
    Py_XDECREF(input);
    Py_XDECREF(environ);
    Py_XDECREF(resp);
    fw_environ_info_clear(&info);
    if (PyErr_Occurred()) {
        fw_errors_log_exception("exception left after a request");
    }
    fw_errors_stream_flush(); /* a line the app left unfinished */
    return result;
}

fw_pyglue_result_e
fw_pyglue_handle(fw_pyglue_thread_t *t, fw_request_t *r)
{
    fw_pyglue_result_e result;

    PyEval_RestoreThread(t->tstate);
    result = handle_request(t, r);
    (void)PyEval_SaveThread();
    return result;
}
