/*
 * input.c: the wsgi.input type.  The body is pulled from the gateway only
 * as the application asks for it, with the GIL released around every
 * gateway read; an 8 KiB buffer serves readline and small reads, large
 * reads go straight into the result.  It never reads past CONTENT_LENGTH
 * and never touches its request after fw_input_detach.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>
#include <time.h>

#include "pyglue/input.h"
#include "pyglue/gil.h"

/* The readline buffer; reads at least this large bypass it. */
#define INPUT_BUF_SIZE 8192
/* A body of unknown length is collected in steps of at least this. */
#define INPUT_GROW_MIN 65536
/* Bytes fw_input_drain discards per gateway read. */
#define INPUT_DRAIN_SIZE 16384

typedef struct {
    PyObject_HEAD
    fw_request_t *req;   /* NULL once the request ended */
    long long remaining; /* body bytes the gateway still owes; -1: unknown */
    int eof;             /* the gateway has nothing more for us */
    int at_end;          /* the gateway returned 0: STDIN is consumed */
    int discarded;       /* fw_input_drain threw away unread body bytes */
    int failed;          /* a gateway read failed: the connection is lost */
    int busy;            /* a thread is in a gateway read (GIL released) */
    char *buf;           /* PyMem, INPUT_BUF_SIZE bytes, or NULL */
    size_t pos;          /* unread bytes are buf[pos..len) */
    size_t len;
} input_t;

/* A growing byte buffer (PyMem) for results of unknown size. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} growbuf_t;

static PyTypeObject input_type;

static int
growbuf_reserve(growbuf_t *g, size_t extra)
{
    size_t cap = g->cap != 0 ? g->cap : 256;
    char *data;

    if (g->len + extra <= g->cap) {
        return 0;
    }
    while (cap < g->len + extra) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    data = PyMem_Realloc(g->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    g->data = data;
    g->cap = cap;
    return 0;
}

/* The bytes of g (which is emptied).  New reference, or NULL. */
static PyObject *
growbuf_finish(growbuf_t *g)
{
    PyObject *bytes = PyBytes_FromStringAndSize(g->data, (Py_ssize_t)g->len);

    PyMem_Free(g->data);
    memset(g, 0, sizeof(*g));
    return bytes;
}

/* Raises unless the object may be used now.  0, or -1. */
static int
check_usable(input_t *self)
{
    if (self->req == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "wsgi.input used after its request ended");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "wsgi.input is being read by another thread");
        return -1;
    }
    if (self->discarded) {
        PyErr_SetString(PyExc_OSError,
                        "wsgi.input: the rest of the request body was "
                        "discarded when the response started; read the body "
                        "before sending the response");
        return -1;
    }
    return 0;
}

static void
raise_connection_lost(void)
{
    PyErr_SetString(PyExc_OSError,
                    "client connection lost while reading the request body");
}

/*
 * One gateway read of at most len bytes (len > 0) into dst, capped at what
 * CONTENT_LENGTH still allows, with the GIL released.  Returns the count, 0
 * at the end of the body, or -1 with OSError set.
 */
static Py_ssize_t
gateway_read(input_t *self, char *dst, size_t len)
{
    fw_request_t *r = self->req;
    ssize_t n;

    if (self->failed) {
        raise_connection_lost();
        return -1;
    }
    if (self->eof) {
        return 0;
    }
    if (self->remaining >= 0 && (unsigned long long)self->remaining < len) {
        len = (size_t)self->remaining;
    }
    if (len == 0) {
        self->eof = 1;
        return 0;
    }

    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    n = r->ops->read(r, dst, len);
    Py_END_ALLOW_THREADS
    self->busy = 0;

    if (n < 0) {
        self->failed = 1;
        raise_connection_lost();
        return -1;
    }
    if (n == 0) {
        self->eof = 1;
        self->at_end = 1;
        return 0;
    }
    if ((size_t)n > len) {
        n = (ssize_t)len; /* a gateway bug; never trust it past len */
    }
    if (self->remaining >= 0) {
        self->remaining -= n;
        if (self->remaining == 0) {
            self->eof = 1;
        }
    }
    return (Py_ssize_t)n;
}

/* Refills the empty buffer with one gateway read: count, 0, or -1. */
static Py_ssize_t
fill_buffer(input_t *self)
{
    Py_ssize_t n;

    if (self->buf == NULL) {
        self->buf = PyMem_Malloc(INPUT_BUF_SIZE);
        if (self->buf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    self->pos = 0;
    self->len = 0;
    n = gateway_read(self, self->buf, INPUT_BUF_SIZE);
    if (n > 0) {
        self->len = (size_t)n;
    }
    return n;
}

/*
 * Copies up to want bytes of the body into dst: first what the buffer
 * holds, then straight from the gateway for large remainders, through the
 * buffer for small ones.  Stops early only at the end of the body.
 * Returns the count, or -1 with an exception set.
 */
static Py_ssize_t
read_into(input_t *self, char *dst, size_t want)
{
    size_t got = 0;

    while (got < want) {
        size_t buffered = self->len - self->pos;
        Py_ssize_t n;

        if (buffered > 0) {
            size_t take = want - got < buffered ? want - got : buffered;

            memcpy(dst + got, self->buf + self->pos, take);
            self->pos += take;
            got += take;
            continue;
        }
        if (want - got >= INPUT_BUF_SIZE) {
            n = gateway_read(self, dst + got, want - got);
            if (n > 0) {
                got += (size_t)n;
            }
        } else {
            n = fill_buffer(self);
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
    }
    return (Py_ssize_t)got;
}

/*
 * Bytes of the body still to come (buffered plus owed by the gateway), or
 * -1 when the body's length is unknown.
 */
static long long
bytes_left(const input_t *self)
{
    long long buffered = (long long)(self->len - self->pos);

    if (self->eof) {
        return buffered;
    }
    if (self->remaining >= 0) {
        return buffered + self->remaining;
    }
    return -1;
}

/*
 * read(limit): up to limit bytes, or everything left when limit < 0.  The
 * result is allocated once at its final size when the size is known.
 * New reference, or NULL with an exception set.
 */
static PyObject *
read_upto(input_t *self, Py_ssize_t limit)
{
    PyObject *result = NULL;
    PyObject *shorter = NULL;
    growbuf_t acc = {NULL, 0, 0};
    long long left = bytes_left(self);
    size_t buffered = self->len - self->pos;
    Py_ssize_t got;

    if (left >= 0 && (limit < 0 || (long long)limit > left)) {
        if (left > PY_SSIZE_T_MAX) {
            return PyErr_NoMemory();
        }
        limit = (Py_ssize_t)left;
    }

    if (limit == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (limit > 0 && (size_t)limit <= buffered) {
        /* the common small read: a slice of the buffer */
        result = PyBytes_FromStringAndSize(self->buf + self->pos, limit);
        if (result == NULL) {
            return NULL;
        }
        self->pos += (size_t)limit;
        return result;
    }

    if (limit >= 0 && (left >= 0 || limit <= INPUT_GROW_MIN)) {
        result = PyBytes_FromStringAndSize(NULL, limit);
        if (result == NULL) {
            return NULL;
        }
        got = read_into(self, PyBytes_AS_STRING(result), (size_t)limit);
        if (got < 0) {
            Py_DECREF(result);
            return NULL;
        }
        if (got == limit) {
            return result;
        }
        /* the body ended before CONTENT_LENGTH said it would */
        shorter = PyBytes_FromStringAndSize(PyBytes_AS_STRING(result), got);
        Py_DECREF(result);
        return shorter;
    }

    /* unknown length, and read() or a large read(n): grow as data comes */
    for (;;) {
        size_t step = INPUT_GROW_MIN;

        if (limit >= 0 && (size_t)limit - acc.len < step) {
            step = (size_t)limit - acc.len;
        }
        if (step == 0) {
            break;
        }
        if (growbuf_reserve(&acc, step) < 0) {
            goto error;
        }
        got = read_into(self, acc.data + acc.len, step);
        if (got < 0) {
            goto error;
        }
        acc.len += (size_t)got;
        if ((size_t)got < step) {
            break;
        }
    }
    return growbuf_finish(&acc);

error:
    PyMem_Free(acc.data);
    return NULL;
}

/*
 * One line of at most limit bytes (limit < 0: no limit), ending with its
 * b"\n" unless the body or the limit ended first; b"" at the end.  A line
 * held whole in the buffer is returned without an intermediate copy.
 */
static PyObject *
readline_upto(input_t *self, Py_ssize_t limit)
{
    growbuf_t acc = {NULL, 0, 0};

    while (limit < 0 || acc.len < (size_t)limit) {
        size_t avail = self->len - self->pos;
        const char *start;
        const char *nl;
        size_t take;

        if (avail == 0) {
            Py_ssize_t n = fill_buffer(self);

            if (n < 0) {
                goto error;
            }
            if (n == 0) {
                break;
            }
            avail = self->len - self->pos;
        }
        if (limit >= 0 && avail > (size_t)limit - acc.len) {
            avail = (size_t)limit - acc.len;
        }
        start = self->buf + self->pos;
        nl = memchr(start, '\n', avail);
        take = nl != NULL ? (size_t)(nl - start) + 1 : avail;

        if (acc.len == 0 &&
            (nl != NULL || (limit >= 0 && take == (size_t)limit))) {
            self->pos += take;
            return PyBytes_FromStringAndSize(start, (Py_ssize_t)take);
        }
        if (growbuf_reserve(&acc, take) < 0) {
            goto error;
        }
        memcpy(acc.data + acc.len, start, take);
        acc.len += take;
        self->pos += take;
        if (nl != NULL) {
            break;
        }
    }
    return growbuf_finish(&acc);

error:
    PyMem_Free(acc.data);
    return NULL;
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
    return read_upto(self, size < 0 ? -1 : size);
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
    return readline_upto(self, size < 0 ? -1 : size);
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
        line = readline_upto(self, -1);
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
    line = readline_upto(self, -1);
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

    PyMem_Free(self->buf);
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
    /* tp_alloc zeroes every field: nothing read, nothing buffered */
    input_t *self = (input_t *)input_type.tp_alloc(&input_type, 0);

    if (self == NULL) {
        return NULL;
    }
    self->req = r;
    self->remaining = content_length;
    self->eof = content_length == 0;
    return (PyObject *)self;
}

/* Waits (GIL released) until no other thread is in a gateway read here. */
static void
wait_idle(input_t *self)
{
    fw_gil_wait_clear(&self->busy);
}

int
fw_input_drain(PyObject *op)
{
    input_t *self = (input_t *)op;
    fw_request_t *r;
    char scratch[INPUT_DRAIN_SIZE];
    unsigned long long drained = 0;
    unsigned long long visible;
    ssize_t n = 0;

    wait_idle(self);
    r = self->req;
    if (r == NULL || self->at_end) {
        return 0;
    }
    if (self->failed) {
        return -1;
    }

    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    if (r->ops->discard != NULL) {
        /* the server disposes of the rest without reading it here */
        n = r->ops->discard(r);
        drained = n > 0 ? 1 : 0;
        n = n < 0 ? -1 : 0;
    } else {
        while ((n = r->ops->read(r, scratch, sizeof(scratch))) > 0) {
            drained += (unsigned long long)n;
        }
    }
    Py_END_ALLOW_THREADS
    self->busy = 0;

    /* what the application could still have read: buffered + its part */
    visible = self->len - self->pos;
    if (!self->eof) {
        visible += self->remaining < 0 ||
                           drained < (unsigned long long)self->remaining
                       ? drained
                       : (unsigned long long)self->remaining;
    }
    self->discarded = visible > 0;
    self->pos = 0;
    self->len = 0;
    self->eof = 1;
    self->remaining = 0;
    if (n < 0) {
        self->failed = 1;
        return -1;
    }
    self->at_end = 1;
    return 0;
}

void
fw_input_detach(PyObject *op)
{
    input_t *self = (input_t *)op;

    wait_idle(self);
    self->req = NULL;
    PyMem_Free(self->buf);
    self->buf = NULL;
    self->pos = 0;
    self->len = 0;
}
