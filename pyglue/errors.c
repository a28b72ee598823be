/*
 * errors.c: the process-wide log as seen from pyglue: fw_errors_log for C
 * messages, fw_errors_log_exception for Python tracebacks, and the
 * wsgi.errors object.  It writes only to the sink; it never raises out of
 * the logging functions and never calls PyErr_Print.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyglue/errors.h"

/* Messages wsgi.errors writes are logged at this level. */
#define ERRORS_STREAM_LEVEL FW_LOG_ERROR

static fw_gateway_log_pt errors_sink;
static PyObject *errors_format_exception; /* traceback.format_exception */
static PyObject *errors_stream;           /* the wsgi.errors object */

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
 * (unencodable characters escaped).  New reference, or NULL with an
 * exception set.
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

    if (errors_format_exception != NULL) {
        format = Py_NewRef(errors_format_exception);
    } else {
        traceback = PyImport_ImportModule("traceback");
        if (traceback == NULL) {
            goto done;
        }
        format = PyObject_GetAttrString(traceback, "format_exception");
        if (format == NULL) {
            goto done;
        }
    }

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

/* ---- the wsgi.errors object ------------------------------------------ */

/*
 * The start of a line that a write() left without its newline: it is
 * logged when a later write ends it, on flush(), at the end of the request
 * (fw_errors_flush) or once it grows past ERRORS_PARTIAL_MAX.  One for the
 * process, like any shared stream; the GIL guards it.
 */
#define ERRORS_PARTIAL_MAX 8192
static char *partial_line;
static size_t partial_len;
static size_t partial_cap;

static int
partial_append(const char *p, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (partial_len + len > partial_cap) {
        size_t cap = partial_cap != 0 ? partial_cap : 256;
        char *grown;

        while (cap < partial_len + len) {
            cap *= 2;
        }
        grown = realloc(partial_line, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        partial_line = grown;
        partial_cap = cap;
    }
    memcpy(partial_line + partial_len, p, len);
    partial_len += len;
    return 0;
}

/*
 * Logs text[0..len) one message per line ('\n' separates lines; the last
 * segment is a line too), with the GIL released.  text must stay valid
 * and unchanged meanwhile: a local copy, or the UTF-8 of a str we hold.
 */
static void
sink_lines(const char *text, size_t len)
{
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        const char *nl = memchr(text, '\n', len);
        size_t line = nl != NULL ? (size_t)(nl - text) : len;

        fw_errors_write(ERRORS_STREAM_LEVEL, text, line);
        if (nl == NULL) {
            break;
        }
        text += line + 1;
        len -= line + 1;
    }
    Py_END_ALLOW_THREADS
}

void
fw_errors_flush(void)
{
    char *line;
    size_t len = partial_len;

    if (len == 0) {
        return;
    }
    line = malloc(len);
    if (line == NULL) {
        partial_len = 0; /* cannot log it: drop it rather than grow */
        return;
    }
    memcpy(line, partial_line, len);
    partial_len = 0;
    sink_lines(line, len);
    free(line);
}

/*
 * Logs s, a str: every line its newlines end, the first one joined to what
 * earlier writes left unfinished; what follows its last newline is kept.
 * 0, or -1 with an exception set.
 */
static int
stream_log_str(PyObject *s)
{
    PyObject *encoded = NULL;
    const char *p;
    Py_ssize_t size;
    size_t len;
    size_t end; /* just past the last newline of p; 0: none */
    char *joined = NULL;
    int rc = -1;

    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError,
                     "wsgi.errors.write() argument must be str, not %.100s",
                     Py_TYPE(s)->tp_name);
        return -1;
    }
    p = PyUnicode_AsUTF8AndSize(s, &size);
    if (p == NULL) {
        /* lone surrogates: escape them rather than lose the message */
        PyErr_Clear();
        encoded = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
        if (encoded == NULL) {
            return -1;
        }
        p = PyBytes_AS_STRING(encoded);
        size = PyBytes_GET_SIZE(encoded);
    }
    len = (size_t)size;
    for (end = len; end > 0 && p[end - 1] != '\n'; end--) {
    }

    if (end == 0) {
        if (partial_append(p, len) < 0) {
            goto done;
        }
        if (partial_len >= ERRORS_PARTIAL_MAX) {
            fw_errors_flush();
        }
        rc = 0;
        goto done;
    }

    if (partial_len == 0) {
        /* the common case: whole lines, logged straight from p */
        if (partial_append(p + end, len - end) < 0) {
            goto done;
        }
        sink_lines(p, end - 1);
        rc = 0;
        goto done;
    }

    joined = malloc(partial_len + end);
    if (joined == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(joined, partial_line, partial_len);
    memcpy(joined + partial_len, p, end - 1);
    len = partial_len + end - 1;
    partial_len = 0;
    if (partial_append(p + end, (size_t)size - end) < 0) {
        goto done;
    }
    sink_lines(joined, len);
    rc = 0;

done:
    free(joined);
    Py_XDECREF(encoded);
    return rc;
}

static PyObject *
stream_write(PyObject *self, PyObject *s)
{
    (void)self;
    if (stream_log_str(s) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(s));
}

/*
 * The strings are joined first, so that a line written in pieces by one
 * call is logged as one line.
 */
static PyObject *
stream_writelines(PyObject *self, PyObject *seq)
{
    PyObject *empty = NULL;
    PyObject *joined = NULL;
    int rc;

    (void)self;
    empty = PyUnicode_FromStringAndSize("", 0);
    if (empty == NULL) {
        return NULL;
    }
    joined = PyUnicode_Join(empty, seq);
    Py_DECREF(empty);
    if (joined == NULL) {
        return NULL;
    }
    rc = stream_log_str(joined);
    Py_DECREF(joined);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    fw_errors_flush();
    Py_RETURN_NONE;
}

static PyObject *
stream_true(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_TRUE;
}

static PyObject *
stream_false(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_FALSE;
}

static PyMethodDef stream_methods[] = {
    {"write", stream_write, METH_O,
     "write(s): log s, a str, one message per line"},
    {"writelines", stream_writelines, METH_O,
     "writelines(lines): write the strs of lines joined"},
    {"flush", stream_flush, METH_NOARGS,
     "flush(): log a line still waiting for its newline"},
    {"writable", stream_true, METH_NOARGS, "writable() -> True"},
    {"isatty", stream_false, METH_NOARGS, "isatty() -> False"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject stream_type = {
    /* the macro ends with its own comma: keep it on its own line */
    /* clang-format off */
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fcgi_wsgi.ErrorStream",
    /* clang-format on */
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.errors: writes go to the fcgi-wsgi log",
    .tp_methods = stream_methods,
};

int
fw_errors_init(void)
{
    PyObject *traceback = NULL;

    if (errors_stream != NULL) {
        return 0;
    }
    if (PyType_Ready(&stream_type) < 0) {
        goto error;
    }
    traceback = PyImport_ImportModule("traceback");
    if (traceback == NULL) {
        goto error;
    }
    errors_format_exception =
        PyObject_GetAttrString(traceback, "format_exception");
    if (errors_format_exception == NULL) {
        goto error;
    }
    errors_stream = PyObject_New(PyObject, &stream_type);
    if (errors_stream == NULL) {
        goto error;
    }
    Py_DECREF(traceback);
    return 0;

error:
    Py_XDECREF(traceback);
    Py_CLEAR(errors_format_exception);
    return -1;
}

PyObject *
fw_errors_object(void)
{
    if (errors_stream == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "wsgi.errors used before fw_errors_init");
    }
    return errors_stream;
}

void
fw_errors_fini(void)
{
    fw_errors_flush();
    free(partial_line);
    partial_line = NULL;
    partial_cap = 0;
    Py_CLEAR(errors_stream);
    Py_CLEAR(errors_format_exception);
}
