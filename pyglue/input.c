/*
 * input.c: the wsgi.input type: read, readline, readlines and iteration
 * over the request body (body.c reads and buffers it), each refused once
 * the request ended, while another thread reads, or after the rest of the
 * body was discarded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pyglue/input.h"
#include "pyglue/body.h"

typedef struct {
    PyObject_HEAD
    fw_body_t body;
} input_t;

static PyTypeObject input_type;

/* Raises unless the object may be used now.  0, or -1. */
static int
check_usable(input_t *self)
{
    if (self->body.req == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "wsgi.input used after its request ended");
        return -1;
    }
    if (self->body.busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "wsgi.input is being read by another thread");
        return -1;
    }
    if (self->body.discarded) {
        PyErr_SetString(PyExc_OSError,
                        "wsgi.input: the rest of the request body was "
                        "discarded when the response started; read the body "
                        "before sending the response");
        return -1;
    }
    return 0;
}

/* The optional size argument: None or absent gives -1.  0, or -1. */
static int
parse_size(PyObject *const *args, Py_ssize_t nargs, const char *method,
           Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "wsgi.input.%s() takes at most 1 argument (%zd given)",
                     method, nargs);
        return -1;
    }
    if (nargs == 0 || args[0] == Py_None) {
        return 0;
    }
    *size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (*size == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

static PyObject *
input_read(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    input_t *self = (input_t *)op;
    Py_ssize_t size;

    if (parse_size(args, nargs, "read", &size) < 0 || check_usable(self) < 0) {
        return NULL;
    }
    return fw_body_read(&self->body, size < 0 ? -1 : size);
}

static PyObject *
input_readline(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    input_t *self = (input_t *)op;
    Py_ssize_t size;

    if (parse_size(args, nargs, "readline", &size) < 0 ||
        check_usable(self) < 0) {
        return NULL;
    }
    return fw_body_readline(&self->body, size < 0 ? -1 : size);
}

static PyObject *
input_readlines(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    input_t *self = (input_t *)op;
    PyObject *lines = NULL;
    PyObject *line = NULL;
    Py_ssize_t hint;
    size_t total = 0;

    if (parse_size(args, nargs, "readlines", &hint) < 0 ||
        check_usable(self) < 0) {
        return NULL;
    }
    lines = PyList_New(0);
    if (lines == NULL) {
        return NULL;
    }
    for (;;) {
        line = fw_body_readline(&self->body, -1);
        if (line == NULL) {
            goto error;
        }
        if (PyBytes_GET_SIZE(line) == 0) {
            break;
        }
        if (PyList_Append(lines, line) < 0) {
            goto error;
        }
        total += (size_t)PyBytes_GET_SIZE(line);
        Py_CLEAR(line);
        if (hint > 0 && total >= (size_t)hint) {
            break;
        }
    }
    Py_XDECREF(line);
    return lines;

error:
    Py_XDECREF(line);
    Py_XDECREF(lines);
    return NULL;
}

static PyObject *
input_iternext(PyObject *op)
{
    input_t *self = (input_t *)op;
    PyObject *line = NULL;

    if (check_usable(self) < 0) {
        return NULL;
    }
    line = fw_body_readline(&self->body, -1);
    if (line == NULL) {
        return NULL;
    }
    if (PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL; /* StopIteration */
    }
    return line;
}

static void
input_dealloc(PyObject *op)
{
    input_t *self = (input_t *)op;

    PyMem_Free(self->body.buf);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL,
     "read(size=-1): at most size bytes of the body; all of it if size < 0"},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL,
     "readline(size=-1): one line of the body, at most size bytes"},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL,
     "readlines(hint=-1): the lines of the body, stopping once hint bytes "
     "were read"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject input_type = {
    /* the macro ends with its own comma: keep it on its own line */
    /* clang-format off */
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fcgi_wsgi.Input",
    /* clang-format on */
    .tp_basicsize = sizeof(input_t),
    .tp_dealloc = input_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body, read as the application asks",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = input_iternext,
    .tp_methods = input_methods,
};

int
fw_input_init_type(void)
{
    return PyType_Ready(&input_type);
}

PyObject *
fw_input_new(fw_request_t *r, long long content_length)
{
    input_t *self = (input_t *)input_type.tp_alloc(&input_type, 0);

    if (self == NULL) {
        return NULL;
    }
    fw_body_init(&self->body, r, content_length);
    return (PyObject *)self;
}

int
fw_input_drain(PyObject *op)
{
    return fw_body_drain(&((input_t *)op)->body);
}

void
fw_input_detach(PyObject *op)
{
    fw_body_detach(&((input_t *)op)->body);
}
