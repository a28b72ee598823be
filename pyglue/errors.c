/*
 * errors.c: the process-wide log as seen from pyglue: fw_errors_log for C
 * messages, fw_errors_log_exception for Python tracebacks (the wsgi.errors
 * object that writes to the same sink is errors_stream.c's).  It writes
 * only to the sink; it never raises out of the logging functions and
 * never calls PyErr_Print.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyglue/errors.h"

static fw_gateway_log_pt errors_sink;
/* traceback.format_exception: a reference owned here, taken by the first
 * format_traceback, dropped by fw_errors_fini */
static PyObject *errors_format_exception;

void
fw_errors_set_sink(fw_gateway_log_pt sink)
{
    errors_sink = sink;
}

void
fw_errors_write(fw_log_level_e level, const char *msg, size_t len)
{
    if (errors_sink != NULL) {
        errors_sink(level, msg, len);
        return;
    }
    fprintf(stderr, "%.*s\n", (int)len, msg);
}

/*
 * Writes msg to the sink with the GIL released around the call (the sink
 * may block on a file).  GIL held on entry and on return.
 */
static void
sink_write_nogil(fw_log_level_e level, const char *msg, size_t len)
{
    Py_BEGIN_ALLOW_THREADS
    fw_errors_write(level, msg, len);
    Py_END_ALLOW_THREADS
}

/*
 * Logs context and text (either may be NULL) as one message, so that a
 * traceback is never interleaved with another thread's lines.  A trailing
 * newline of text is dropped.  GIL held.
 */
static void
log_with_context(const char *context, const char *text, size_t len)
{
    size_t clen = context != NULL ? strlen(context) : 0;
    char *msg;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
        len--;
    }
    if (clen == 0 || len == 0) {
        if (clen > 0) {
            sink_write_nogil(FW_LOG_ERROR, context, clen);
        }
        if (len > 0) {
            sink_write_nogil(FW_LOG_ERROR, text, len);
        }
        return;
    }

    msg = malloc(clen + 1 + len);
    if (msg == NULL) {
        sink_write_nogil(FW_LOG_ERROR, context, clen);
        sink_write_nogil(FW_LOG_ERROR, text, len);
        return;
    }
    memcpy(msg, context, clen);
    msg[clen] = '\n';
    memcpy(msg + clen + 1, text, len);
    sink_write_nogil(FW_LOG_ERROR, msg, clen + 1 + len);
    free(msg);
}

/*
 * The text of traceback.format_exception(type, value, tb) as UTF-8 bytes
 * (unencodable characters escaped).  traceback is imported by the first
 * exception to format, not at start-up: with what it pulls in (re, enum,
 * tokenize, textwrap...) it is 1.3 MiB of every worker's memory, which an
 * application that never fails, or imports it itself, should not pay.
 * New reference, or NULL with an exception set.
 */
static PyObject *
format_traceback(PyObject *type, PyObject *value, PyObject *tb)
{
    PyObject *traceback = NULL;
    PyObject *format = NULL;
    PyObject *lines = NULL;
    PyObject *empty = NULL;
    PyObject *text = NULL;
    PyObject *encoded = NULL;

    if (errors_format_exception == NULL) {
        traceback = PyImport_ImportModule("traceback");
        if (traceback == NULL) {
            goto done;
        }
        errors_format_exception =
            PyObject_GetAttrString(traceback, "format_exception");
        if (errors_format_exception == NULL) {
            goto done;
        }
    }
    format = Py_NewRef(errors_format_exception);

    lines = PyObject_CallFunctionObjArgs(format, type,
                                         value != NULL ? value : Py_None,
                                         tb != NULL ? tb : Py_None, NULL);
    if (lines == NULL) {
        goto done;
    }
    empty = PyUnicode_FromStringAndSize("", 0);
    if (empty == NULL) {
        goto done;
    }
    text = PyUnicode_Join(empty, lines);
    if (text == NULL) {
        goto done;
    }
    encoded = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");

done:
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(format);
    Py_XDECREF(traceback);
    return encoded;
}

/*
 * The last resort when the traceback cannot be formatted: "Type: message"
 * from the exception alone, or a fixed line.  Clears what it raises.
 */
static void
log_exception_plain(const char *context, PyObject *type, PyObject *value)
{
    const char *name = "exception";
    PyObject *str = NULL;
    PyObject *encoded = NULL;
    char line[512];
    int n;

    if (type != NULL && PyType_Check(type)) {
        name = ((PyTypeObject *)type)->tp_name;
    }
    if (value != NULL) {
        str = PyObject_Str(value);
        if (str != NULL) {
            encoded =
                PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace");
        }
    }
    PyErr_Clear();
    n = snprintf(line, sizeof(line), "%s: %s (traceback unavailable)", name,
                 encoded != NULL ? PyBytes_AS_STRING(encoded)
                                 : "(unprintable)");
    if (n > 0) {
        log_with_context(context, line,
                         (size_t)n < sizeof(line) ? (size_t)n
                                                  : sizeof(line) - 1);
    }
    Py_XDECREF(encoded);
    Py_XDECREF(str);
}

void
fw_errors_log_exception(const char *context)
{
    PyObject *type = NULL;
    PyObject *value = NULL;
    PyObject *tb = NULL;
    PyObject *text = NULL;

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        log_with_context(context, "(no Python exception was set)",
                         strlen("(no Python exception was set)"));
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) {
        (void)PyException_SetTraceback(value, tb);
    }

    text = format_traceback(type, value, tb);
    if (text == NULL) {
        PyErr_Clear();
        log_exception_plain(context, type, value);
    } else {
        log_with_context(context, PyBytes_AS_STRING(text),
                         (size_t)PyBytes_GET_SIZE(text));
    }
    PyErr_Clear();

    Py_XDECREF(text);
    Py_XDECREF(tb);
    Py_XDECREF(value);
    Py_XDECREF(type);
}

void
fw_errors_fini(void)
{
    Py_CLEAR(errors_format_exception);
}
