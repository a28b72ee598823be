/*
 * errors_stream.c: the wsgi.errors object.  What the application writes
 * to it goes to the log (errors.c's sink), one message per line; a line
 * written in pieces is kept until its newline.  It raises only for a
 * write() of something that is not a str.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "pyglue/errors_stream.h"
#include "pyglue/errors.h"

/* Messages wsgi.errors writes are logged at this level. */
#define ERRORS_STREAM_LEVEL FW_LOG_ERROR

static PyObject *errors_stream; /* the wsgi.errors object */

/*
 * The start of a line that a write() left without its newline: it is
 * logged when a later write ends it, on flush(), at the end of the request
 * (fw_errors_stream_flush) or once it grows past ERRORS_PARTIAL_MAX.  One for
 * the process, like any shared stream; the GIL guards it.
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
fw_errors_stream_flush(void)
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
            fw_errors_stream_flush();
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
    fw_errors_stream_flush();
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
fw_errors_stream_init(void)
{
    if (errors_stream != NULL) {
        return 0;
    }
    if (PyType_Ready(&stream_type) < 0) {
        return -1;
    }
    errors_stream = PyObject_New(PyObject, &stream_type);
    return errors_stream != NULL ? 0 : -1;
}

PyObject *
fw_errors_stream_object(void)
{
    if (errors_stream == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "wsgi.errors used before fw_errors_stream_init");
    }
    return errors_stream;
}

void
fw_errors_stream_fini(void)
{
    fw_errors_stream_flush();
    free(partial_line);
    partial_line = NULL;
    partial_cap = 0;
    Py_CLEAR(errors_stream);
}
