/*
 * response.c: calls the application and sends its response through
 * response_send.c.  A list or tuple body (and a wsgi.file_wrapper) is
 * written in one go, and the server sends it with the end of the request
 * (a wsgi.file_wrapper over a regular file, the server sends itself);
 * any other iterable is flushed after each chunk, so that streamed
 * responses reach the web server as they are produced.  close() is called
 * on the result in every case.  This is the only file that turns Python
 * exceptions into log entries and 500 responses.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pyglue/response.h"
#include "pyglue/errors.h"
#include "pyglue/file_wrapper.h"
#include "pyglue/keys.h"
#include "pyglue/response_send.h"

/* Longest part of the path quoted in a log line. */
#define CONTEXT_PATH_MAX 400

/* How sending the response went. */
typedef enum {
    SEND_DONE,   /* the whole response was sent */
    SEND_FAILED, /* error before the header block went out: send a 500 */
    SEND_ABORTED /* error after it, or the client is gone: drop it */
} send_outcome_e;

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
    if (fw_response_finish(resp) < 0) {
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
 * Each chunk is flushed before the next is asked for (PEP 3333: a block
 * is not held back while the application makes the next one), except
 * when the iterator is over a list or tuple: its chunks exist already,
 * so they go out together, with the end of the request, as a list's do
 * (Django's HttpResponse iterates over its list of chunks).
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
    if (Py_IS_TYPE(iter, &PyListIter_Type) ||
        Py_IS_TYPE(iter, &PyTupleIter_Type)) {
        flush_each = 0;
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

/* The Content-Length of the application's header block, or -1. */
static long long
head_content_length(const fw_response_t *resp)
{
    static const char name[] = "Content-Length:";
    const char *p = resp->head;
    const char *end = resp->head + resp->head_len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol != NULL ? eol : end;
        long long v = 0;

        if ((size_t)(stop - p) > sizeof(name) - 1 &&
            strncasecmp(p, name, sizeof(name) - 1) == 0) {
            p += sizeof(name) - 1;
            while (p < stop && (*p == ' ' || *p == '\t')) {
                p++;
            }
            if (p == stop || *p < '0' || *p > '9') {
                return -1;
            }
            for (; p < stop && *p >= '0' && *p <= '9'; p++) {
                if (v > (LLONG_MAX - 9) / 10) {
                    return -1;
                }
                v = v * 10 + (*p - '0');
            }
            return v;
        }
        p = stop + 1;
    }
    return -1;
}

/*
 * A wsgi.file_wrapper over a regular file, on a gateway that can send
 * one: the server sends the file from where the application left it to
 * its end, or Content-Length bytes when the application gave fewer.
 */
static send_outcome_e
send_file(fw_response_t *resp, const fw_request_info_t *info, int fd,
          off_t offset, size_t count)
{
    long long limit = head_content_length(resp);
    ssize_t sent;

    if (limit >= 0 && (unsigned long long)limit < count) {
        count = (size_t)limit;
    }
    if (count > 0) {
        sent = fw_response_sendfile(resp, fd, offset, count);
        if (sent < 0) {
            return client_gone(info);
        }
        if ((size_t)sent < count) {
            int err = errno;

            return fail_message(resp, info,
                                "wsgi.file_wrapper: the file ended after "
                                "%zd of the %zu bytes to send (%s); the "
                                "connection is closed",
                                sent, count,
                                err != 0 ? strerror(err)
                                         : "it shrank while it was sent");
        }
    }
    return send_end(resp, info);
}

static send_outcome_e
send_result(fw_response_t *resp, const fw_request_info_t *info,
            PyObject *result)
{
    int fd;
    off_t offset;
    size_t count;

    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        return send_sequence(resp, info, result);
    }
    if (resp->head != NULL && resp->req != NULL &&
        resp->req->ops->sendfile != NULL &&
        fw_file_wrapper_file(result, &fd, &offset, &count)) {
        return send_file(resp, info, fd, offset, count);
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
