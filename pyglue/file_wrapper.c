/*
 * file_wrapper.c: the wsgi.file_wrapper type (PEP 3333, "Optional
 * Platform-Specific File Handling").  Iterating calls filelike.read(blksize)
 * until it returns an empty result; close() calls filelike.close().  It
 * writes nothing itself: response.c sends what it yields, or has the
 * server send the file (fw_file_wrapper_file).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/stat.h>
#include <sys/types.h>

#include "pyglue/file_wrapper.h"
#include "pyglue/keys.h"

#define FILE_WRAPPER_BLKSIZE 8192

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    PyObject *read; /* filelike.read, bound once */
    Py_ssize_t blksize;
} file_wrapper_t;

static PyTypeObject file_wrapper_type;

static PyObject *
file_wrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike; /* borrowed */
    Py_ssize_t blksize = FILE_WRAPPER_BLKSIZE;
    PyObject *read = NULL;
    file_wrapper_t *self = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n:file_wrapper", kwlist,
                                     &filelike, &blksize)) {
        return NULL;
    }
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError,
                        "file_wrapper(): blksize must be positive");
        return NULL;
    }
    read = PyObject_GetAttr(filelike, FW_KEY(ATTR_READ));
    if (read == NULL) {
        return NULL;
    }
    self = (file_wrapper_t *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(read);
        return NULL;
    }
    self->filelike = Py_NewRef(filelike);
    self->read = read;
    self->blksize = blksize;
    return (PyObject *)self;
}

static PyObject *
file_wrapper_iternext(PyObject *op)
{
    file_wrapper_t *self = (file_wrapper_t *)op;
    PyObject *size = NULL;
    PyObject *data = NULL;
    int nonempty;

    if (self->read == NULL) {
        return NULL; /* cleared by the GC: exhausted */
    }
    size = PyLong_FromSsize_t(self->blksize);
    if (size == NULL) {
        return NULL;
    }
    data = PyObject_CallOneArg(self->read, size);
    Py_DECREF(size);
    if (data == NULL) {
        return NULL;
    }
    nonempty = PyObject_IsTrue(data);
    if (nonempty <= 0) {
        Py_DECREF(data);
        return NULL; /* StopIteration, or the error of bool() */
    }
    return data;
}

static PyObject *
file_wrapper_close(PyObject *op, PyObject *unused)
{
    file_wrapper_t *self = (file_wrapper_t *)op;
    PyObject *close = NULL;
    PyObject *result = NULL;

    (void)unused;
    if (self->filelike == NULL) {
        Py_RETURN_NONE;
    }
    close = PyObject_GetAttr(self->filelike, FW_KEY(ATTR_CLOSE));
    if (close == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    result = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return result;
}

static int
file_wrapper_traverse(PyObject *op, visitproc visit, void *arg)
{
    file_wrapper_t *self = (file_wrapper_t *)op;

    Py_VISIT(self->filelike);
    Py_VISIT(self->read);
    return 0;
}

static int
file_wrapper_clear(PyObject *op)
{
    file_wrapper_t *self = (file_wrapper_t *)op;

    Py_CLEAR(self->filelike);
    Py_CLEAR(self->read);
    return 0;
}

static void
file_wrapper_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    (void)file_wrapper_clear(op);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef file_wrapper_methods[] = {
    {"close", file_wrapper_close, METH_NOARGS,
     "close(): calls filelike.close() if it has one"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject file_wrapper_type = {
    /* the macro ends with its own comma: keep it on its own line */
    /* clang-format off */
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fcgi_wsgi.FileWrapper",
    /* clang-format on */
    .tp_basicsize = sizeof(file_wrapper_t),
    .tp_dealloc = file_wrapper_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "wsgi.file_wrapper(filelike, blksize=8192): an iterable of "
              "the file's blocks",
    .tp_traverse = file_wrapper_traverse,
    .tp_clear = file_wrapper_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = file_wrapper_iternext,
    .tp_methods = file_wrapper_methods,
    .tp_new = file_wrapper_new,
};

int
fw_file_wrapper_init_type(void)
{
    return PyType_Ready(&file_wrapper_type);
}

PyObject *
fw_file_wrapper_type(void)
{
    return (PyObject *)&file_wrapper_type;
}

int
fw_file_wrapper_check(PyObject *o)
{
    return Py_IS_TYPE(o, &file_wrapper_type);
}

/* filelike.name() as a Py_ssize_t >= 0, or -1 (any exception cleared). */
static Py_ssize_t
file_wrapper_call_index(PyObject *filelike, PyObject *name)
{
    PyObject *v = PyObject_CallMethodNoArgs(filelike, name);
    Py_ssize_t n = -1;

    if (v != NULL && PyLong_Check(v)) {
        n = PyLong_AsSsize_t(v);
    }
    Py_XDECREF(v);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        n = -1;
    }
    return n < 0 ? -1 : n;
}

/* Whether filelike.mode is a str with a 'b' in it (any exception cleared). */
static int
file_wrapper_is_binary(PyObject *filelike)
{
    PyObject *mode = PyObject_GetAttr(filelike, FW_KEY(ATTR_MODE));
    int binary = 0;

    if (mode != NULL && PyUnicode_Check(mode)) {
        binary = PyUnicode_FindChar(mode, 'b', 0, PyUnicode_GET_LENGTH(mode),
                                    1) >= 0;
    }
    Py_XDECREF(mode);
    PyErr_Clear();
    return binary;
}

int
fw_file_wrapper_file(PyObject *wrapper, int *fd, off_t *offset, size_t *count)
{
    file_wrapper_t *self = (file_wrapper_t *)wrapper;
    Py_ssize_t n;
    Py_ssize_t at;
    struct stat st;

    if (!fw_file_wrapper_check(wrapper) || self->filelike == NULL ||
        !file_wrapper_is_binary(self->filelike)) {
        return 0;
    }
    n = file_wrapper_call_index(self->filelike, FW_KEY(ATTR_FILENO));
    if (n < 0 || n > INT_MAX || fstat((int)n, &st) < 0 ||
        !S_ISREG(st.st_mode) || st.st_size <= 0) {
        return 0; /* (a size of 0 may be /proc's: iterating reads it) */
    }
    at = file_wrapper_call_index(self->filelike, FW_KEY(ATTR_TELL));
    if (at < 0) {
        return 0;
    }
    *fd = (int)n;
    *offset = (off_t)at;
    *count = (off_t)at < st.st_size ? (size_t)(st.st_size - (off_t)at) : 0;
    return 1;
}
