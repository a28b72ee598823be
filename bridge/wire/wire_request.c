/*
 * wire_request.c: one FastCGI connection while the application runs, as
 * pyglue's request (the fw_gateway_ops_t of pyglue/gateway.h): the body
 * comes from STDIN records, the response goes out as STDOUT records.  A
 * call waits in poll() at most the socket-timeout, and reads whatever the
 * web server sends meanwhile (ABORT_REQUEST, management records, the body
 * nobody reads) so that neither side can block the other.  Called without
 * the GIL; never touches Python.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "bridge/log.h"
#include "bridge/wire/wire_int.h"

/* Response bytes queued before they are sent; the largest write that
 * may be made without waiting (write_nowait). */
#define REQUEST_OUT_FLUSH 16384
#define REQUEST_NOWAIT_MAX 8184
/* Writes at least this long go out straight from the caller's buffer,
 * up to this many STDOUT records (of FW_WIRE_RECORD_MAX: 2 MiB less 256
 * bytes, so that a 1 MiB write is one call) in one sendmsg(2). */
#define REQUEST_DIRECT_MIN 16384
#define REQUEST_DIRECT_RECORDS 32
/* A streamed response reads what the web server sent at most this often. */
#define REQUEST_LOOK_EVERY_NS 1000000

/* What a step of reading the body without blocking came to. */
typedef enum {
    PULL_AGAIN = 0, /* progress: look again */
    PULL_WAIT,      /* nothing there yet: wait for the socket */
    PULL_FAILED     /* the request is over for us */
} pull_e;

/*
 * Waits up to the socket-timeout for the socket to become ready for
 * `events`.  Returns the revents, or 0 after logging a timeout (the
 * connection is then broken).
 */
static short
request_wait(fw_conn_t *c, short events, const char *what)
{
    struct pollfd pfd = {.fd = c->fd, .events = events};
    int n;

    do {
        n = poll(&pfd, 1, fw_conn_conf.socket_timeout * 1000);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        fw_log(FW_LOG_WARN,
               "closed a connection: nothing %s for %d s (socket-timeout)",
               what, fw_conn_conf.socket_timeout);
        c->broken = 1;
        return 0;
    }
    if (n < 0) {
        c->broken = 1;
        return 0;
    }
    return pfd.revents;
}

/*
 * Acts on one parser event while the request is served: STDIN bytes
 * become the chunk the application reads next, or are dropped once it
 * reads no more.  Returns 1 when a chunk is ready, 0 to go on, -1 when
 * the request is over for us (ABORT_REQUEST, or not FastCGI any more).
 */
static int
request_on_event(fw_conn_t *c, fw_wire_event_e ev, const unsigned char *data,
                 size_t len)
{
    switch (ev) {
    case FW_WIRE_STDIN:
        if (c->body.discarding) {
            c->body.discarded += len;
            return 0;
        }
        c->body.chunk = data;
        c->body.chunk_len = len;
        return 1;
    case FW_WIRE_STDIN_END:
        c->body.ended = 1;
        return 0;
    case FW_WIRE_ABORT:
        c->body.peer_aborted = 1;
        return -1;
    case FW_WIRE_ERROR:
        fw_log(FW_LOG_WARN, "closed a connection: %s", c->wire.error);
        c->broken = 1;
        return -1;
    default:
        return 0;
    }
}

/*
 * While the response is under way: reads what the web server sends
 * without blocking and acts on it (ABORT_REQUEST, management records, the
 * rest of a body nobody reads).  -1 when the connection is done for.
 */
static int
request_take_incoming(fw_conn_t *c)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        const unsigned char *data;
        size_t len;
        fw_wire_event_e ev;
        ssize_t n;
        int rc;

        if (c->body.chunk_len > 0) {
            if (!c->body.discarding) {
                return 0; /* the app may still read it */
            }
            c->body.discarded += c->body.chunk_len;
            c->body.chunk_len = 0;
        }
        ev = fw_conn_parse(c, &data, &len);
        rc = request_on_event(c, ev, data, len);
        if (rc != 0) {
            return rc < 0 ? -1 : 0;
        }
        if (ev != FW_WIRE_MORE) {
            continue;
        }
        if (c->body.discarded > FW_CONN_DRAIN_MAX ||
            fw_wire_paused(&c->wire)) {
            return 0; /* stop reading until the response is over */
        }
        n = fw_conn_recv(c);
        if (n > 0) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        c->broken = 1;
        return -1;
    }
    return 0;
}

/*
 * After a streamed chunk is sent: reads what the web server sent (an
 * ABORT_REQUEST, the close of a client gone), at most once a millisecond.
 * A recv(2) after every chunk, finding nothing, was a sixth of a 100-chunk
 * response's cost.  A web server that closed is also seen by the next
 * send, and one that sends while we wait for room is read then
 * (request_wait_room).  0, or -1 as request_take_incoming.
 */
static int
request_look_incoming(fw_conn_t *c)
{
    struct timespec now;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (c->body.looked_ns != 0 &&
        ns - c->body.looked_ns < REQUEST_LOOK_EVERY_NS) {
        return 0;
    }
    c->body.looked_ns = ns;
    return request_take_incoming(c);
}

/*
 * The first time an answer fills the socket, its send buffer is raised to
 * socket-sndbuf (unix sockets only: fw_conn_conf.sndbuf is 0 for TCP).  An
 * answer up to that size then goes to the kernel at once, and the thread
 * is free while the web server reads it.  Through nginx, a 1 MiB answer
 * took 12.7 sendmsg calls (partial ones, the default 208 KiB full) and
 * waited for room 0.6 times; with the buffer raised, 3.7 calls and no
 * wait, and the worker and nginx spent about a quarter less CPU on it
 * (strace -c, wrk).  Answers that fit the default never make this call.
 * 1 when the send may be tried again at once (if the kernel kept the
 * buffer as it was, capped by net.core.wmem_max, it fails again and then
 * waits for room).
 */
static int
request_room_grow(fw_conn_t *c)
{
    int want = (int)fw_conn_conf.sndbuf;

    if (c->sndbuf_raised || want <= 0) {
        return 0;
    }
    c->sndbuf_raised = 1;
    return setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) == 0;
}

/*
 * The socket is full: grows its buffer the first time, else waits up to
 * the socket-timeout for room, reading what the web server sends
 * meanwhile.  0 (send again), or -1 (timed out, broken or aborted).
 */
static int
request_wait_room(fw_conn_t *c)
{
    /* nothing more is read while a pipelined request waits, or past the
     * drain bound: then only room to write can wake us */
    int reading = !fw_wire_paused(&c->wire) &&
                  c->body.discarded <= FW_CONN_DRAIN_MAX &&
                  c->in_len < sizeof(c->in);
    short ev;

    if (request_room_grow(c)) {
        return 0;
    }
    ev = request_wait(c, reading ? POLLOUT | POLLIN : POLLOUT,
                      "read by the web server");
    if (ev == 0) {
        return -1;
    }
    if ((ev & (POLLIN | POLLHUP | POLLERR)) != 0 &&
        request_take_incoming(c) < 0) {
        return -1;
    }
    return 0;
}

/*
 * Sends every queued byte, waiting up to the socket-timeout for room and
 * reading what comes meanwhile.  0, or -1 (broken or aborted).
 */
static int
request_send_all(fw_conn_t *c)
{
    for (;;) {
        int sent = fw_conn_send_some(c);

        if (sent == 1) {
            return 0;
        }
        if (sent < 0) {
            c->broken = 1;
            return -1;
        }
        if (request_wait_room(c) < 0) {
            return -1;
        }
    }
}

/*
 * Reads body bytes of the current STDIN record straight into buf: want,
 * at most the left the record still holds.  When want is all of it, the
 * same recvmsg(2) takes the record's padding and the next header into
 * the (empty) read buffer, so that the next record's content also comes
 * straight to the caller: one call a record, no copy through the buffer.
 */
static ssize_t
request_recv_content(fw_conn_t *c, char *buf, size_t want, size_t left)
{
    struct iovec iov[2] = {{.iov_base = buf, .iov_len = want},
                           {.iov_base = c->in, .iov_len = 0}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 1};
    ssize_t n;

    c->in_pos = c->in_len = 0;
    if (want == left) {
        iov[1].iov_len = fw_wire_stdin_tail(&c->wire);
        msg.msg_iovlen = 2;
    }
    do {
        n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > (ssize_t)want) {
        c->in_len = (size_t)n - want;
        n = (ssize_t)want;
    }
    if (n > 0) {
        fw_wire_stdin_took(&c->wire, (size_t)n);
    }
    return n;
}

/*
 * One step of reading the body without blocking: parses what is buffered
 * (a chunk, the end, management records to answer), else reads the
 * socket.  Inside a STDIN record with nothing buffered the bytes go
 * straight into buf: *got is their count (0 otherwise).
 */
static pull_e
request_pull(fw_conn_t *c, char *buf, size_t len, ssize_t *got)
{
    size_t left = fw_wire_stdin_left(&c->wire);
    ssize_t n;

    *got = 0;
    if (left > 0 && c->in_pos == c->in_len) {
        n = request_recv_content(c, buf, len < left ? len : left, left);
        if (n > 0) {
            *got = n;
            return PULL_AGAIN;
        }
    } else {
        const unsigned char *data;
        size_t dlen;
        fw_wire_event_e ev = fw_conn_parse(c, &data, &dlen);

        if (request_on_event(c, ev, data, dlen) < 0) {
            return PULL_FAILED;
        }
        if (ev != FW_WIRE_MORE) {
            return PULL_AGAIN;
        }
        if (c->wire.out_len > 0 && request_send_all(c) < 0) {
            return PULL_FAILED; /* answers to management records */
        }
        if (fw_wire_stdin_left(&c->wire) > 0 && c->in_pos == c->in_len) {
            return PULL_AGAIN; /* a STDIN header: its content comes straight */
        }
        n = fw_conn_recv(c);
        if (n > 0) {
            return PULL_AGAIN;
        }
    }
    if (n == 0) {
        fw_log(FW_LOG_INFO, "the web server closed the connection before "
                            "the end of the request body");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return PULL_WAIT;
    }
    c->broken = 1;
    return PULL_FAILED;
}

static ssize_t
request_read(fw_request_t *r, char *buf, size_t len)
{
    fw_conn_t *c = r->conn;

    if (c->body.peer_aborted || c->broken) {
        return -1;
    }
    if (c->body.discarding || r->role == FW_ROLE_AUTHORIZER) {
        return 0;
    }
    if (c->spool.size > 0) {
        return fw_spool_read(&c->spool, buf, len); /* a length-less body */
    }
    for (;;) {
        ssize_t got;

        if (c->body.chunk_len > 0) {
            size_t n = c->body.chunk_len < len ? c->body.chunk_len : len;

            memcpy(buf, c->body.chunk, n);
            c->body.chunk += n;
            c->body.chunk_len -= n;
            return (ssize_t)n;
        }
        if (c->body.ended) {
            return 0;
        }
        switch (request_pull(c, buf, len, &got)) {
        case PULL_AGAIN:
            if (got > 0) {
                return got;
            }
            break;
        case PULL_WAIT:
            if (request_wait(c, POLLIN, "of the request body") == 0) {
                return -1;
            }
            break;
        default:
            return -1;
        }
    }
}

static int
request_discard(fw_request_t *r)
{
    fw_conn_t *c = r->conn;
    uint64_t before;

    if (c->broken) {
        return -1;
    }
    before = c->body.discarded;
    c->body.discarding = 1;
    c->body.discarded += c->body.chunk_len;
    c->body.chunk_len = 0;
    /* what is buffered already says whether the body has ended (no
     * system call: the rest is read while the response goes out) */
    while (!c->body.ended && c->in_pos < c->in_len) {
        const unsigned char *data;
        size_t len;
        fw_wire_event_e ev = fw_conn_parse(c, &data, &len);

        if (request_on_event(c, ev, data, len) < 0) {
            return -1;
        }
    }
    if (c->spool.size > 0) {
        return c->spool.pos < c->spool.size;
    }
    return c->body.discarded > before || !c->body.ended;
}

/*
 * After a send that failed (errno set): 1 to try again (interrupted, or
 * room came while we waited), 0 when it was no lack of room (the caller
 * says what then), -1 when the wait for room failed.
 */
static int
request_send_again(fw_conn_t *c)
{
    if (errno == EINTR) {
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return request_wait_room(c) < 0 ? -1 : 1;
    }
    return 0;
}

/*
 * Sends iov[0..niov) whole, waiting for room and reading what the web
 * server sends meanwhile (a reply it calls for is queued: it goes after).
 * 0 or -1.
 */
static int
request_send_iov(fw_conn_t *c, struct iovec *iov, size_t niov)
{
    size_t i = 0;

    while (i < niov) {
        ssize_t w = sendmsg(
            c->fd,
            &(struct msghdr){.msg_iov = iov + i, .msg_iovlen = niov - i},
            MSG_NOSIGNAL | MSG_DONTWAIT);
        size_t n;
        int again = w < 0 ? request_send_again(c) : 0;

        if (again != 0) {
            if (again < 0) {
                return -1;
            }
            continue;
        }
        if (w <= 0) { /* (0: never for bytes to send; no spinning on it) */
            c->broken = 1;
            return -1;
        }
        n = (size_t)w;
        while (i < niov && n >= iov[i].iov_len) {
            n -= iov[i].iov_len;
            i++;
        }
        if (n > 0) {
            iov[i].iov_base = (char *)iov[i].iov_base + n;
            iov[i].iov_len -= n;
        }
    }
    return 0;
}

/*
 * Writes STDOUT records straight from buf, after what is queued: no copy,
 * and up to REQUEST_DIRECT_RECORDS records in one sendmsg(2), as
 * far as the socket takes them.
 */
static int
request_write_direct(fw_conn_t *c, const char *buf, size_t len)
{
    for (;;) {
        unsigned char hdr[REQUEST_DIRECT_RECORDS][FCGI_HEADER_LEN];
        struct iovec iov[2 * REQUEST_DIRECT_RECORDS];
        size_t niov = 0;

        /* what is queued goes first: the headers, and after each batch a
         * reply to a management record read while we waited for room */
        if (c->wire.out_len > 0 && request_send_all(c) < 0) {
            return -1;
        }
        if (len == 0) {
            return 0;
        }
        for (int k = 0; k < REQUEST_DIRECT_RECORDS && len > 0; k++) {
            size_t n = len < FW_WIRE_RECORD_MAX ? len : FW_WIRE_RECORD_MAX;

            fw_wire_header(hdr[k], FCGI_STDOUT, c->wire.active_id, n, 0);
            iov[niov++] =
                (struct iovec){.iov_base = hdr[k], .iov_len = FCGI_HEADER_LEN};
            iov[niov++] =
                (struct iovec){.iov_base = (void *)buf, .iov_len = n};
            buf += n;
            len -= n;
        }
        if (request_send_iov(c, iov, niov) < 0) {
            return -1;
        }
    }
}

static int
request_write(fw_request_t *r, const char *buf, size_t len)
{
    fw_conn_t *c = r->conn;

    if (c->body.peer_aborted || c->broken) {
        return -1;
    }
    if (len >= REQUEST_DIRECT_MIN) {
        return request_write_direct(c, buf, len);
    }
    if (len > 0) {
        (void)fw_wire_out_record(&c->wire, FCGI_STDOUT, c->wire.active_id, buf,
                                 len, (size_t)-1);
    }
    if (c->wire.out_len >= REQUEST_OUT_FLUSH) {
        return request_send_all(c);
    }
    return 0;
}

static int
request_flush(fw_request_t *r)
{
    fw_conn_t *c = r->conn;

    if (c->body.peer_aborted || c->broken) {
        return -1;
    }
    if (request_send_all(c) < 0) {
        return -1;
    }
    /* a streamed response: see whether the web server gave up */
    return request_look_incoming(c);
}

/*
 * Queues len bytes (at most REQUEST_NOWAIT_MAX) and sends what is queued
 * when flushing or past REQUEST_OUT_FLUSH, as far as the socket takes it
 * now: 1 when it was full.  Never waits (pyglue holds the GIL).
 */
static int
request_write_nowait(fw_request_t *r, const char *buf, size_t len, int flush)
{
    fw_conn_t *c = r->conn;
    int sent;

    if (c->body.peer_aborted || c->broken) {
        return -1;
    }
    if (len > 0) {
        (void)fw_wire_out_record(&c->wire, FCGI_STDOUT, c->wire.active_id, buf,
                                 len, (size_t)-1);
    }
    if (!flush && c->wire.out_len < REQUEST_OUT_FLUSH) {
        return 0;
    }
    sent = fw_conn_send_some(c);
    if (sent < 0) {
        c->broken = 1;
        return -1;
    }
    if (sent == 0) {
        return 1;
    }
    /* a streamed response: see whether the web server gave up */
    return flush ? request_look_incoming(c) : 0;
}

/*
 * Sends count bytes of the file fd from offset as STDOUT records: for
 * each, what is queued, its header, then sendfile(2) its content, waiting
 * for room.  What is queued while a record goes out (a reply to a
 * management record read while waiting) waits for the record's end: the
 * header is never put in the queue, where a reply could follow it.  A
 * file that ends (or fails to read) inside a record leaves that record
 * short: the connection is broken then, and the count sent so far
 * returned.
 */
static ssize_t
request_sendfile(fw_request_t *r, int fd, off_t offset, size_t count)
{
    fw_conn_t *c = r->conn;
    size_t done = 0;

    if (c->body.peer_aborted || c->broken) {
        return -1;
    }
    while (done < count) {
        size_t n = count - done < FW_WIRE_RECORD_MAX ? count - done
                                                     : FW_WIRE_RECORD_MAX;
        unsigned char hdr[FCGI_HEADER_LEN];
        struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(hdr)};
        size_t sent = 0;

        fw_wire_header(hdr, FCGI_STDOUT, c->wire.active_id, n, 0);
        if ((c->wire.out_len > 0 && request_send_all(c) < 0) ||
            request_send_iov(c, &iov, 1) < 0) {
            return -1;
        }
        while (sent < n) {
            off_t at = offset + (off_t)(done + sent);
            ssize_t w = sendfile(c->fd, fd, &at, n - sent);
            int again = w < 0 ? request_send_again(c) : 0;

            if (w > 0) {
                sent += (size_t)w;
            } else if (again < 0) {
                return -1;
            } else if (again > 0) {
                continue;
            } else if (w < 0 && (errno == EPIPE || errno == ECONNRESET ||
                                 errno == ENOTCONN || errno == ETIMEDOUT)) {
                c->broken = 1;
                return -1;
            } else {
                int err = w == 0 ? 0 : errno; /* the file, not the socket */

                c->broken = 1;
                errno = err;
                return (ssize_t)(done + sent);
            }
        }
        done += n;
    }
    return (ssize_t)done;
}

static const fw_gateway_ops_t request_ops = {
    .read = request_read,
    .write = request_write,
    .flush = request_flush,
    .write_nowait = request_write_nowait,
    .nowait_max = REQUEST_NOWAIT_MAX,
    .discard = request_discard,
    .sendfile = request_sendfile,
};

/* request_ops less sendfile, for disable-sendfile: pyglue reads and
 * writes the file; and which of the two every request gets (both set by
 * fw_conn_request_setup). */
static fw_gateway_ops_t request_ops_no_sendfile;
static const fw_gateway_ops_t *request_ops_used = &request_ops;

void
fw_conn_request_setup(void)
{
    request_ops_no_sendfile = request_ops;
    request_ops_no_sendfile.sendfile = NULL;
    request_ops_used = fw_conn_conf.disable_sendfile ? &request_ops_no_sendfile
                                                     : &request_ops;
}

void
fw_conn_request_reset(fw_conn_t *c)
{
    c->req = (fw_request_t){
        .ops = request_ops_used,
        .conn = c,
        .input_terminated = 1,
    };
    c->body = (fw_conn_body_t){0};
    fw_spool_reset(&c->spool);
}

int
fw_conn_request_end(fw_conn_t *c, int cut_off)
{
    fw_wire_t *w = &c->wire;
    int aborted = c->body.peer_aborted;
    int ended;

    if (c->broken || (cut_off && !aborted)) {
        return -1; /* no END_REQUEST: the response is cut off */
    }
    if (!aborted) {
        (void)fw_wire_out_record(w, FCGI_STDOUT, w->active_id, NULL, 0,
                                 (size_t)-1);
    }
    (void)fw_wire_out_end_request(w, w->active_id, 0, FCGI_REQUEST_COMPLETE,
                                  (size_t)-1);
    if (!w->keep_conn) {
        c->closing = 1;
    }
    c->body.chunk_len = 0; /* the rest of the body is ignored from now */
    ended = c->body.ended || w->phase == FW_WIRE_BODY_END;
    fw_wire_request_end(w);
    if (c->body.discarded > FW_CONN_DRAIN_MAX) {
        w->ignored = c->body.discarded; /* closed once answered */
    }
    c->served++;
    if (request_send_all(c) < 0) {
        return -1;
    }
    fw_conn_request_reset(c);
    /* a connection that closes lingers unless the body had ended */
    c->body.ended = c->closing && ended;
    return 0;
}
