/*
 * response.c: calls the application and sends its response.  The header
 * block goes out with the first non-empty body chunk (or at the end of an
 * empty body), in the same gateway write when the chunk is small.  A list
 * or tuple body (and a wsgi.file_wrapper) is written in one go, and the
 * server sends it with the end of the request; any other iterable is
 * flushed after each chunk, so that streamed responses reach the web
 * server as they are produced.  Before the first byte goes out, what the
 * application left of the request body is drained (web servers stop
 * sending it once the response starts).  Every byte reaches the gateway
 * through gateway_send, which also notes the status and the body bytes on
 * the request (gateway.h).  This is the only file that turns Python
 * exceptions into log entries and 500 responses.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pyglue/response.h"
#include "pyglue/errors.h"
#include "pyglue/file_wrapper.h"
#include "pyglue/gil.h"
#include "pyglue/input.h"
#include "pyglue/keys.h"

/* Longest part of the path quoted in a log line. */
#define CONTEXT_PATH_MAX 400

#define BODY_500 "Internal Server Error\n"

static const char response_500[] =
    "Status: 500 Internal Server Error\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 22\r\n"
    "\r\n" BODY_500;

/* How sending the response went. */
typedef enum {
    SEND_DONE,   /* the whole response was sent */
    SEND_FAILED, /* error before the header block went out: send a 500 */
    SEND_ABORTED /* error after it, or the client is gone: drop it */
} send_outcome_e;

/* ---- output ------------------------------------------------------------ */

void
fw_response_init(fw_response_t *resp, fw_request_t *r, char *out,
                 size_t out_cap)
{
    /* every field but the object's header starts at zero */
    *resp = (fw_response_t){
        .ob_base = resp->ob_base,
        .req = r,
        .out = out,
        .out_cap = out != NULL ? out_cap : 0,
    };
}

void
fw_response_wait_idle(fw_response_t *resp)
{
    fw_gil_wait_clear(&resp->sending);
}

void
fw_response_detach(fw_response_t *resp)
{
    fw_response_wait_idle(resp);
    resp->req = NULL;
    resp->input = NULL;
    resp->out = NULL;
    resp->out_len = 0;
    resp->out_cap = 0;
}

/*
 * Notes on r that n more bytes of the response were given to write(): the
 * header block comes first (its status code is then the response's), the
 * rest is body.
 */
static void
count_written(fw_response_t *resp, fw_request_t *r, size_t n)
{
    size_t head = n < resp->head_unwritten ? n : resp->head_unwritten;

    if (head > 0) {
        r->response_status = resp->status_code;
        resp->head_unwritten -= head;
    }
    r->response_body_bytes += n - head;
}

/*
 * Writes what was buffered, then data, through the gateway; *written is
 * the count it accepted.  0, or -1 at the first failed write.  Makes no
 * Python call: may run without the GIL.
 */
static int
write_two(fw_request_t *r, const char *pending, size_t pending_len,
          const char *data, size_t len, size_t *written)
{
    int rc = 0;

    *written = 0;
    if (pending_len > 0) {
        rc = r->ops->write(r, pending, pending_len);
        *written = rc == 0 ? pending_len : 0;
    }
    if (rc == 0 && len > 0) {
        rc = r->ops->write(r, data, len);
        *written += rc == 0 ? len : 0;
    }
    return rc;
}

/*
 * Writes resp->out's pending bytes, then data[0..len) (may be 0), then
 * flushes if asked, all in one release of the GIL.  0, or -1 with
 * resp->client_gone set.
 */
static int
gateway_send(fw_response_t *resp, const char *data, size_t len, int flush)
{
    fw_request_t *r;
    const char *pending;
    size_t pending_len;
    size_t written = 0;
    int rc = 0;

    fw_response_wait_idle(resp);
    r = resp->req;
    if (resp->client_gone || r == NULL) {
        return -1;
    }
    if (resp->input != NULL) {
        /* the body must be consumed before the response starts */
        PyObject *input = resp->input; /* borrowed */
        int drained;

        resp->input = NULL;
        resp->sending = 1;
        drained = fw_input_drain(input);
        resp->sending = 0;
        if (drained < 0) {
            resp->client_gone = 1;
            return -1;
        }
    }
    pending = resp->out;
    pending_len = resp->out_len;
    resp->out_len = 0;
    if (!flush && !resp->gateway_written && pending_len + len > 0 &&
        pending_len + len <= r->ops->buffered_first_write) {
        /* the whole response is one copy into the server's buffer: no
         * system call, so no reason to give the GIL away */
        resp->gateway_written = 1;
        rc = write_two(r, pending, pending_len, data, len, &written);
        count_written(resp, r, written);
        if (rc != 0) {
            resp->client_gone = 1;
            return -1;
        }
        resp->unflushed = 1;
        return 0;
    }
    resp->gateway_written = 1;
    resp->sending = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = write_two(r, pending, pending_len, data, len, &written);
    if (rc == 0 && flush) {
        rc = r->ops->flush(r);
    }
    Py_END_ALLOW_THREADS
    count_written(resp, r, written); /* before another thread may write */
    resp->sending = 0;
    if (rc != 0) {
        resp->client_gone = 1;
        return -1;
    }
    resp->unflushed =
        !flush && (resp->unflushed || pending_len > 0 || len > 0);
    return 0;
}

/*
 * Queues data: copied into resp->out when it fits, else the pending bytes
 * are written and data is either copied (small) or written as is.
 */
static int
out_add(fw_response_t *resp, const char *data, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (resp->out_len + len <= resp->out_cap) {
        memcpy(resp->out + resp->out_len, data, len);
        resp->out_len += len;
        return 0;
    }
    if (len * 2 < resp->out_cap) {
        if (gateway_send(resp, NULL, 0, 0) < 0) {
            return -1;
        }
        memcpy(resp->out, data, len);
        resp->out_len = len;
        return 0;
    }
    return gateway_send(resp, data, len, 0);
}

int
fw_response_send(fw_response_t *resp, const char *data, size_t len, int flush)
{
    fw_response_wait_idle(resp); /* resp->out is ours from here */
    if (resp->client_gone || resp->req == NULL) {
        return -1;
    }
    if (!resp->headers_sent) {
        resp->headers_sent = 1;
        resp->head_unwritten = resp->head_len;
        if (out_add(resp, resp->head, resp->head_len) < 0) {
            return -1;
        }
    }
    if (flush && resp->out_len + len > resp->out_cap) {
        /* too big to join the pending bytes: pending, data, flush */
        return gateway_send(resp, data, len, 1);
    }
    if (out_add(resp, data, len) < 0) {
        return -1;
    }
    if (flush) {
        return gateway_send(resp, NULL, 0, 1);
    }
    return 0;
}

/*
 * Writes what is pending at the end of the response, without a flush: the
 * server sends what it buffered when the request ends (with libfcgi, the
 * body and END_REQUEST then leave in one write).
 */
static int
out_finish(fw_response_t *resp)
{
    if (resp->out_len == 0) {
        return 0;
    }
    return gateway_send(resp, NULL, 0, 0);
}

int
fw_response_send_500(fw_response_t *resp)
{
    resp->out_len = 0;
    resp->headers_sent = 1;
    resp->status_code = 500;
    resp->head_unwritten = sizeof(response_500) - 1 - (sizeof(BODY_500) - 1);
    return gateway_send(resp, response_500, sizeof(response_500) - 1, 1);
}

/* ---- log lines ---------------------------------------------------------- */

/* Appends p[0..len) to dst, control bytes escaped as \xNN.  */
static size_t
append_escaped(char *dst, size_t at, size_t cap, const char *p, size_t len)
{
    for (size_t i = 0; i < len && at + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c < 0x20 || c == 0x7f) {
            at += (size_t)snprintf(dst + at, cap - at, "\\x%02x", c);
        } else {
            dst[at++] = (char)c;
        }
    }
    dst[at] = '\0';
    return at;
}

/*
 * "METHOD /script/path: what" into dst (cap bytes), the path cut at
 * CONTEXT_PATH_MAX bytes and control characters escaped so that a request
 * cannot forge log lines.
 */
static void
format_context(char *dst, size_t cap, const fw_request_info_t *info,
               const char *what)
{
    size_t at = 0;
    size_t path_room = CONTEXT_PATH_MAX;
    size_t sn = info->script_name_len;
    size_t pi = info->path_info_len;

    at = append_escaped(dst, at, cap, info->method,
                        info->method_len < 32 ? info->method_len : 32);
    at = append_escaped(dst, at, cap, " ", 1);
    if (sn + pi == 0) {
        at = append_escaped(dst, at, cap, "(no path)", 9);
    }
    sn = sn < path_room ? sn : path_room;
    at = append_escaped(dst, at, cap, info->script_name, sn);
    path_room -= sn;
    pi = pi < path_room ? pi : path_room;
    at = append_escaped(dst, at, cap, info->path_info, pi);
    if (sn + pi < info->script_name_len + info->path_info_len) {
        at = append_escaped(dst, at, cap, "...", 3);
    }
    (void)snprintf(dst + at, cap - at, ": %s", what);
}

/*
 * Logs the pending exception under the request's context.  A lost client
 * (our own OSError from write() or wsgi.input) is logged at INFO without a
 * traceback.  Returns the outcome for the state of the response.
 */
static send_outcome_e
fail_exception(fw_response_t *resp, const fw_request_info_t *info,
               const char *what)
{
    char context[CONTEXT_PATH_MAX * 4 + 256];

    if (resp->client_gone) {
        PyErr_Clear();
        format_context(context, sizeof(context), info,
                       "client connection lost while sending the response");
        fw_errors_log(FW_LOG_INFO, "%s", context);
        return SEND_ABORTED;
    }
    format_context(context, sizeof(context), info, what);
    fw_errors_log_exception(context);
    return resp->headers_sent ? SEND_ABORTED : SEND_FAILED;
}

/* Logs one line saying what the application did wrong.  */
static send_outcome_e fail_message(fw_response_t *resp,
                                   const fw_request_info_t *info,
                                   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static send_outcome_e
fail_message(fw_response_t *resp, const fw_request_info_t *info,
             const char *fmt, ...)
{
    char what[512];
    char context[CONTEXT_PATH_MAX * 4 + 1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    format_context(context, sizeof(context), info, what);
    fw_errors_log(FW_LOG_ERROR, "%s", context);
    return resp->headers_sent ? SEND_ABORTED : SEND_FAILED;
}

static send_outcome_e
client_gone(const fw_request_info_t *info)
{
    char context[CONTEXT_PATH_MAX * 4 + 256];

    format_context(context, sizeof(context), info,
                   "client connection lost while sending the response");
    fw_errors_log(FW_LOG_INFO, "%s", context);
    return SEND_ABORTED;
}

/* ---- the body ---------------------------------------------------------- */

/*
 * Sends one chunk (bytes, not empty).  flush_now: the chunk must reach the
 * web server before the application produces the next one.
 */
static send_outcome_e
send_chunk(fw_response_t *resp, const fw_request_info_t *info, PyObject *chunk,
           int flush_now)
{
    if (resp->head == NULL) {
        return fail_message(resp, info,
                            "the application produced body data without "
                            "calling start_response()");
    }
    if (fw_response_send(resp, PyBytes_AS_STRING(chunk),
                         (size_t)PyBytes_GET_SIZE(chunk), flush_now) < 0) {
        return client_gone(info);
    }
    return SEND_DONE;
}

/* After the last chunk: the header block of an empty body, the flush. */
static send_outcome_e
send_end(fw_response_t *resp, const fw_request_info_t *info)
{
    if (resp->head == NULL) {
        return fail_message(resp, info,
                            "the application returned without calling "
                            "start_response()");
    }
    if (!resp->headers_sent && fw_response_send(resp, NULL, 0, 0) < 0) {
        return client_gone(info);
    }
    if (out_finish(resp) < 0) {
        return client_gone(info);
    }
    return SEND_DONE;
}

/*
 * A list or tuple: every item is checked before anything is sent (so a
 * bad item still gets a clean 500), then all are queued and flushed once.
 * Items are re-read on each step: the GIL is released while writing.
 */
static send_outcome_e
send_sequence(fw_response_t *resp, const fw_request_info_t *info,
              PyObject *seq)
{
    PyObject *item = NULL;
    send_outcome_e outcome = SEND_DONE;

    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i); /* borrowed */

        if (!PyBytes_Check(it)) {
            return fail_message(resp, info,
                                "the application's response %s holds %.100s "
                                "at index %zd; WSGI body chunks must be "
                                "bytes",
                                Py_TYPE(seq)->tp_name, Py_TYPE(it)->tp_name,
                                i);
        }
    }
    if (resp->head == NULL) {
        return fail_message(resp, info,
                            "the application returned without calling "
                            "start_response()");
    }

    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        if (!PyBytes_Check(item)) {
            outcome = fail_message(resp, info,
                                   "the application's response list was "
                                   "changed while it was being sent");
            goto done;
        }
        if (PyBytes_GET_SIZE(item) > 0) {
            outcome = send_chunk(resp, info, item, 0);
            if (outcome != SEND_DONE) {
                goto done;
            }
        }
        Py_CLEAR(item);
    }
    outcome = send_end(resp, info);

done:
    Py_XDECREF(item);
    return outcome;
}

/*
 * Any other iterable.  The first chunk is pulled before start_response is
 * required (a generator may call it late); empty chunks send nothing.
 */
static send_outcome_e
send_iterable(fw_response_t *resp, const fw_request_info_t *info,
              PyObject *result)
{
    PyObject *iter = NULL;
    PyObject *chunk = NULL;
    send_outcome_e outcome = SEND_DONE;
    int flush_each = !fw_file_wrapper_check(result);

    iter = PyObject_GetIter(result);
    if (iter == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
            return fail_exception(resp, info,
                                  "exception in iter() of the response");
        }
        PyErr_Clear();
        return fail_message(resp, info,
                            "the application returned %.100s, which is not "
                            "iterable; WSGI needs an iterable of bytes",
                            Py_TYPE(result)->tp_name);
    }

    for (;;) {
        chunk = PyIter_Next(iter);
        if (chunk == NULL) {
            if (PyErr_Occurred()) {
                outcome =
                    fail_exception(resp, info, "exception in the application");
                goto done;
            }
            break;
        }
        if (!PyBytes_Check(chunk)) {
            outcome = fail_message(resp, info,
                                   "the application's response yielded "
                                   "%.100s; WSGI body chunks must be bytes",
                                   Py_TYPE(chunk)->tp_name);
            goto done;
        }
        if (PyBytes_GET_SIZE(chunk) > 0) {
            outcome = send_chunk(resp, info, chunk, flush_each);
            if (outcome != SEND_DONE) {
                goto done;
            }
        }
        Py_CLEAR(chunk);
    }
    outcome = send_end(resp, info);

done:
    Py_XDECREF(chunk);
    Py_XDECREF(iter);
    return outcome;
}

static send_outcome_e
send_result(fw_response_t *resp, const fw_request_info_t *info,
            PyObject *result)
{
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        return send_sequence(resp, info, result);
    }
    if (PyBytes_Check(result) || PyUnicode_Check(result) ||
        PyByteArray_Check(result)) {
        return fail_message(resp, info,
                            "the application returned %.100s; WSGI needs "
                            "an iterable of bytes (return [body], not body)",
                            Py_TYPE(result)->tp_name);
    }
    return send_iterable(resp, info, result);
}

/* Calls result.close() if it has one; an exception there is logged. */
static void
close_result(PyObject *result, const fw_request_info_t *info)
{
    PyObject *close = NULL;
    PyObject *ret = NULL;
    char context[CONTEXT_PATH_MAX * 4 + 256];

    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        return;
    }
    close = PyObject_GetAttr(result, FW_KEY(ATTR_CLOSE));
    if (close == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            return;
        }
    } else {
        ret = PyObject_CallNoArgs(close);
    }
    if (ret == NULL) {
        format_context(context, sizeof(context), info,
                       "exception in close() of the response");
        fw_errors_log_exception(context);
    }
    Py_XDECREF(ret);
    Py_XDECREF(close);
}

fw_pyglue_result_e
fw_response_run(PyObject *app, PyObject *environ, fw_response_t *resp,
                const fw_request_info_t *info)
{
    PyObject *args[2] = {environ, (PyObject *)resp};
    PyObject *result = NULL;
    send_outcome_e outcome;

    result = PyObject_Vectorcall(app, args, 2, NULL);
    if (result == NULL) {
        outcome = fail_exception(resp, info, "exception in the application");
    } else {
        outcome = send_result(resp, info, result);
        close_result(result, info);
        Py_DECREF(result);
    }
    if (PyErr_Occurred()) {
        fw_errors_log_exception("unexpected exception left after a "
                                "response");
    }

    switch (outcome) {
    case SEND_DONE:
        return FW_PYGLUE_DONE;
    case SEND_FAILED:
        if (fw_response_send_500(resp) < 0) {
            (void)client_gone(info);
            return FW_PYGLUE_ABORT;
        }
        return FW_PYGLUE_DONE;
    case SEND_ABORTED:
    default:
        return FW_PYGLUE_ABORT;
    }
}
