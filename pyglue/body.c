/*
 * body.c: the request body as wsgi.input reads it.  The body is pulled
 * from the gateway only as the application asks for it, with the GIL
 * released around every gateway read; an 8 KiB buffer serves readline and
 * small reads, large reads go straight into the result.  It never reads
 * past CONTENT_LENGTH and never touches its request after fw_body_detach.
 * The Python object around it is input.c's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "pyglue/body.h"
#include "pyglue/gil.h"

/* The readline buffer; reads at least this large bypass it. */
#define BODY_BUF_SIZE 8192
/* A body of unknown length is collected in steps of at least this. */
#define BODY_GROW_MIN 65536
/* Bytes fw_body_drain discards per gateway read. */
#define BODY_DRAIN_SIZE 16384

/* A growing byte buffer (PyMem) for results of unknown size. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} growbuf_t;

void
fw_body_init(fw_body_t *b, fw_request_t *r, long long content_length)
{
    /* nothing read, nothing buffered */
    *b = (fw_body_t){
        .req = r,
        .remaining = content_length,
        .eof = content_length == 0,
    };
}

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
gateway_read(fw_body_t *b, char *dst, size_t len)
{
    fw_request_t *r = b->req;
    ssize_t n;

    if (b->failed) {
        raise_connection_lost();
        return -1;
    }
    if (b->eof) {
        return 0;
    }
    if (b->remaining >= 0 && (unsigned long long)b->remaining < len) {
        len = (size_t)b->remaining;
    }
    if (len == 0) {
        b->eof = 1;
        return 0;
    }

    b->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    n = r->ops->read(r, dst, len);
    Py_END_ALLOW_THREADS
    b->busy = 0;

    if (n < 0) {
        b->failed = 1;
        raise_connection_lost();
        return -1;
    }
    if (n == 0) {
        b->eof = 1;
        b->at_end = 1;
        return 0;
    }
    if ((size_t)n > len) {
        n = (ssize_t)len; /* a gateway bug; never trust it past len */
    }
    if (b->remaining >= 0) {
        b->remaining -= n;
        if (b->remaining == 0) {
            b->eof = 1;
        }
    }
    return (Py_ssize_t)n;
}

/* Refills the empty buffer with one gateway read: count, 0, or -1. */
static Py_ssize_t
fill_buffer(fw_body_t *b)
{
    Py_ssize_t n;

    if (b->buf == NULL) {
        b->buf = PyMem_Malloc(BODY_BUF_SIZE);
        if (b->buf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    b->pos = 0;
    b->len = 0;
    n = gateway_read(b, b->buf, BODY_BUF_SIZE);
    if (n > 0) {
        b->len = (size_t)n;
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
read_into(fw_body_t *b, char *dst, size_t want)
{
    size_t got = 0;

    while (got < want) {
        size_t buffered = b->len - b->pos;
        Py_ssize_t n;

        if (buffered > 0) {
            size_t take = want - got < buffered ? want - got : buffered;

            memcpy(dst + got, b->buf + b->pos, take);
            b->pos += take;
            got += take;
            continue;
        }
        if (want - got >= BODY_BUF_SIZE) {
            n = gateway_read(b, dst + got, want - got);
            if (n > 0) {
                got += (size_t)n;
            }
        } else {
            n = fill_buffer(b);
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
bytes_left(const fw_body_t *b)
{
    long long buffered = (long long)(b->len - b->pos);

    if (b->eof) {
        return buffered;
    }
    if (b->remaining >= 0) {
        return buffered + b->remaining;
    }
    return -1;
}

/*
 * read(limit): up to limit bytes, or everything left when limit < 0.  The
 * result is allocated once at its final size when the size is known.
 * New reference, or NULL with an exception set.
 */
PyObject *
fw_body_read(fw_body_t *b, Py_ssize_t limit)
{
    PyObject *result = NULL;
    PyObject *shorter = NULL;
    growbuf_t acc = {NULL, 0, 0};
    long long left = bytes_left(b);
    size_t buffered = b->len - b->pos;
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
        result = PyBytes_FromStringAndSize(b->buf + b->pos, limit);
        if (result == NULL) {
            return NULL;
        }
        b->pos += (size_t)limit;
        return result;
    }

    if (limit >= 0 && (left >= 0 || limit <= BODY_GROW_MIN)) {
        result = PyBytes_FromStringAndSize(NULL, limit);
        if (result == NULL) {
            return NULL;
        }
        got = read_into(b, PyBytes_AS_STRING(result), (size_t)limit);
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
        size_t step = BODY_GROW_MIN;

        if (limit >= 0 && (size_t)limit - acc.len < step) {
            step = (size_t)limit - acc.len;
        }
        if (step == 0) {
            break;
        }
        if (growbuf_reserve(&acc, step) < 0) {
            goto error;
        }
        got = read_into(b, acc.data + acc.len, step);
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
PyObject *
fw_body_readline(fw_body_t *b, Py_ssize_t limit)
{
    growbuf_t acc = {NULL, 0, 0};

    while (limit < 0 || acc.len < (size_t)limit) {
        size_t avail = b->len - b->pos;
        const char *start;
        const char *nl;
        size_t take;

        if (avail == 0) {
            Py_ssize_t n = fill_buffer(b);

            if (n < 0) {
                goto error;
            }
            if (n == 0) {
                break;
            }
            avail = b->len - b->pos;
        }
        if (limit >= 0 && avail > (size_t)limit - acc.len) {
            avail = (size_t)limit - acc.len;
        }
        start = b->buf + b->pos;
        nl = memchr(start, '\n', avail);
        take = nl != NULL ? (size_t)(nl - start) + 1 : avail;

        if (acc.len == 0 &&
            (nl != NULL || (limit >= 0 && take == (size_t)limit))) {
            b->pos += take;
            return PyBytes_FromStringAndSize(start, (Py_ssize_t)take);
        }
        if (growbuf_reserve(&acc, take) < 0) {
            goto error;
        }
        memcpy(acc.data + acc.len, start, take);
        acc.len += take;
        b->pos += take;
        if (nl != NULL) {
            break;
        }
    }
    return growbuf_finish(&acc);

error:
    PyMem_Free(acc.data);
    return NULL;
}

/* Waits (GIL released) until no other thread is in a gateway read here. */
static void
wait_idle(fw_body_t *b)
{
    fw_gil_wait_clear(&b->busy);
}

int
fw_body_drain(fw_body_t *b)
{
    fw_request_t *r;
    char scratch[BODY_DRAIN_SIZE];
    unsigned long long drained = 0;
    unsigned long long visible;
    ssize_t n = 0;

    wait_idle(b);
    r = b->req;
    if (r == NULL || b->at_end) {
        return 0;
    }
    if (b->failed) {
        return -1;
    }

    if (r->ops->discard != NULL) {
        /* the server disposes of the rest without reading it here, and
         * without waiting: no reason to give the GIL away */
        n = r->ops->discard(r);
        drained = n > 0 ? 1 : 0;
        n = n < 0 ? -1 : 0;
    } else {
        b->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        while ((n = r->ops->read(r, scratch, sizeof(scratch))) > 0) {
            drained += (unsigned long long)n;
        }
        Py_END_ALLOW_THREADS
        b->busy = 0;
    }

    /* what the application could still have read: buffered + its part */
    visible = b->len - b->pos;
    if (!b->eof) {
        visible +=
            b->remaining < 0 || drained < (unsigned long long)b->remaining
                ? drained
                : (unsigned long long)b->remaining;
    }
    b->discarded = visible > 0;
    b->pos = 0;
    b->len = 0;
    b->eof = 1;
    b->remaining = 0;
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    b->at_end = 1;
    return 0;
}

void
fw_body_detach(fw_body_t *b)
{
    wait_idle(b);
    b->req = NULL;
    PyMem_Free(b->buf);
    b->buf = NULL;
    b->pos = 0;
    b->len = 0;
}
