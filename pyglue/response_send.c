/*
 * response_send.c: the bytes of a response on their way to the gateway.
 * The header block goes out with the first non-empty body chunk (or at
 * the end of an empty body), in the same gateway write when the chunk is
 * small: small writes are collected in the thread's buffer.  Before the
 * first byte goes out, what the application left of the request body is
 * drained (web servers stop sending it once the response starts).  Every
 * byte reaches the gateway through gateway_send, which also notes the
 * status and the body bytes on the request (gateway.h).  It logs nothing
 * and raises nothing: a failed write marks the client gone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include "pyglue/response_send.h"
#include "pyglue/gil.h"
#include "pyglue/input.h"

#define BODY_500 "Internal Server Error\n"

static const char response_500[] =
    "Status: 500 Internal Server Error\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 22\r\n"
    "\r\n" BODY_500;

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
 * The small write without a GIL hand-off (gateway.h write_nowait): the
 * pending bytes and data, joined in resp->out when there are both.  0,
 * 1 when the socket was full (the caller flushes with the GIL released),
 * or -1 with resp->client_gone set.
 */
static int
send_nowait(fw_response_t *resp, fw_request_t *r, size_t pending_len,
            const char *data, size_t len, int flush)
{
    int rc;

    if (pending_len > 0) {
        if (len > 0) {
            memcpy(resp->out + pending_len, data, len);
        }
        data = resp->out;
        len += pending_len;
    }
    rc = r->ops->write_nowait(r, data, len, flush);
    if (rc < 0) {
        resp->client_gone = 1;
        return -1;
    }
    count_written(resp, r, len);
    resp->unflushed = !flush && (resp->unflushed || len > 0);
    return rc;
}

/*
 * Writes resp->out's pending bytes, then data[0..len) (may be 0), then
 * flushes if asked: without releasing the GIL when the gateway can do it
 * without waiting, else all in one release of the GIL.  0, or -1 with
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
    if (r->ops->write_nowait != NULL &&
        pending_len + len <= r->ops->nowait_max &&
        (pending_len == 0 || pending_len + len <= resp->out_cap)) {
        rc = send_nowait(resp, r, pending_len, data, len, flush);
        if (rc <= 0) {
            return rc;
        }
        /* the socket is full: wait for room with the GIL released */
        pending_len = 0;
        len = 0;
        flush = 1;
    }
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

ssize_t
fw_response_sendfile(fw_response_t *resp, int fd, off_t offset, size_t count)
{
    fw_request_t *r;
    ssize_t sent;
    int err;

    /* the header block and what is buffered, written (not flushed) */
    if (fw_response_send(resp, NULL, 0, 0) < 0 ||
        (resp->out_len > 0 && gateway_send(resp, NULL, 0, 0) < 0)) {
        return -1;
    }
    fw_response_wait_idle(resp);
    r = resp->req;
    if (resp->client_gone || r == NULL) {
        return -1;
    }
    resp->sending = 1;
    Py_BEGIN_ALLOW_THREADS
    sent = r->ops->sendfile(r, fd, offset, count);
    err = errno;
    Py_END_ALLOW_THREADS
    count_written(resp, r, sent > 0 ? (size_t)sent : 0);
    resp->sending = 0;
    if (sent < 0 || (size_t)sent < count) {
        resp->client_gone = 1; /* the connection is done for either way */
    }
    errno = err;
    return sent;
}

int
fw_response_finish(fw_response_t *resp)
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
