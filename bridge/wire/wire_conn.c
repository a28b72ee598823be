/*
 * wire_conn.c: one FastCGI connection over a non-blocking socket (see
 * wire_conn.h).  Two ways of running:
 *  - between requests (fw_conn_advance): never blocks; whatever is not
 *    there yet is waited for in the worker's epoll set, so a silent or
 *    slow peer holds no thread;
 *  - while the application runs (the fw_gateway_ops_t below): reads the
 *    body and writes the response, waiting in poll() at most the
 *    socket-timeout, and reading whatever the web server sends meanwhile
 *    (ABORT_REQUEST, management records, the body nobody reads) so that
 *    neither side can block the other.
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/wire/wire.h"

/* Response bytes queued before they are sent; also the promise that a
 * first write up to FCGI_OUT_BUFFERED only copies. */
#define CONN_OUT_FLUSH 16384
#define CONN_OUT_BUFFERED 8184
/* Writes at least this long go out straight from the caller's buffer. */
#define CONN_DIRECT_MIN 16384
/* Largest record body we emit: a multiple of 8, so no padding. */
#define CONN_RECORD_MAX 65528
/* Bytes one fw_conn_advance call parses before it lets others run. */
#define CONN_ADVANCE_BUDGET (256u << 10)

static fw_conn_conf_t conn_conf = {
    .socket_timeout = 60,
    .keepalive_timeout = 75,
    .buffer_size = 65536,
    .post_buffering = 1 << 20,
    .max_conns = 1,
    .max_reqs = 1,
};

static ssize_t conn_read(fw_request_t *r, char *buf, size_t len);
static int conn_write(fw_request_t *r, const char *buf, size_t len);
static int conn_flush(fw_request_t *r);
static int conn_discard(fw_request_t *r);

static const fw_gateway_ops_t conn_ops = {
    .read = conn_read,
    .write = conn_write,
    .flush = conn_flush,
    .buffered_first_write = CONN_OUT_BUFFERED,
    .discard = conn_discard,
};

void
fw_conn_setup(const fw_conn_conf_t *conf)
{
    conn_conf = *conf;
}

int64_t
fw_conn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static fw_wire_limits_t
conn_limits(void)
{
    fw_wire_limits_t lim = {
        .params_max = conn_conf.buffer_size,
        .max_conns = conn_conf.max_conns,
        .max_reqs = conn_conf.max_reqs,
    };

    return lim;
}

/* Forgets the request being served (not the connection). */
static void
conn_request_reset(fw_conn_t *c)
{
    c->chunk = NULL;
    c->chunk_len = 0;
    c->body_ended = 0;
    c->peer_aborted = 0;
    c->discarding = 0;
    c->discarded = 0;
    c->spooling = 0;
    c->spool_len = 0;
    c->spool_size = 0;
    c->spool_pos = 0;
    if (c->spool_fd >= 0) {
        close(c->spool_fd);
        c->spool_fd = -1;
    }
    if (c->spool_cap > (64u << 10)) {
        free(c->spool);
        c->spool = NULL;
        c->spool_cap = 0;
    }
    c->req.params = NULL;
    c->req.nparams = 0;
    c->req.response_status = 0;
    c->req.response_body_bytes = 0;
}

void
fw_conn_open(fw_conn_t *c, int fd)
{
    fw_wire_limits_t lim = conn_limits();

    c->fd = fd;
    c->gen = (c->gen + 1) & 0x7fffffff;
    c->parked = 0;
    c->in_epoll = 0;
    c->prev = c->next = NULL;
    if (c->wire.lim.params_max == 0) {
        fw_wire_init(&c->wire, &lim);
    }
    c->in_pos = c->in_len = 0;
    c->req.ops = &conn_ops;
    c->req.conn = c;
    c->req.input_terminated = 1;
    c->served = 0;
    c->closing = 0;
    c->lingering = 0;
    c->close_why = NULL;
    c->broken = 0;
    c->spool_fd = -1;
    conn_request_reset(c);
}

void
fw_conn_close(fw_conn_t *c)
{
    fw_wire_limits_t lim = conn_limits();

    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    conn_request_reset(c);
    free(c->spool);
    c->spool = NULL;
    c->spool_cap = 0;
    /* the parser keeps its small buffers for the slot's next connection */
    fw_wire_reset(&c->wire);
    c->wire.lim = lim;
    c->in_pos = c->in_len = 0;
}

int
fw_conn_wants_write(const fw_conn_t *c)
{
    return c->wire.out_len > 0;
}

int
fw_conn_is_idle(const fw_conn_t *c)
{
    return c->served > 0 && !c->closing && c->wire.active_id == 0 &&
           c->wire.hdr_have == 0 && c->wire.content_left == 0 &&
           c->wire.padding_left == 0 && c->in_pos == c->in_len &&
           c->wire.out_len == 0;
}

int64_t
fw_conn_wait_ms(const fw_conn_t *c)
{
    if (c->lingering) {
        int64_t left = c->linger_until - fw_conn_now_ms();

        return left > 0 ? left : 0;
    }
    if (fw_conn_is_idle(c)) {
        return (int64_t)conn_conf.keepalive_timeout * 1000;
    }
    return (int64_t)conn_conf.socket_timeout * 1000;
}

/*
 * Sends queued bytes without blocking.  1: all sent; 0: some are left
 * (the socket is full); -1: the socket failed.
 */
static int
conn_send_some(fw_conn_t *c)
{
    while (c->wire.out_len > 0) {
        ssize_t n = send(c->fd, c->wire.out, c->wire.out_len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            fw_wire_out_sent(&c->wire, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        return -1;
    }
    return 1;
}

/*
 * Reads what has arrived into the read buffer without blocking.  >0:
 * bytes read; 0: the peer closed; -1 with errno EAGAIN: nothing there;
 * -1 otherwise: failed.  Moves unparsed bytes to the front first.
 */
static ssize_t
conn_recv(fw_conn_t *c)
{
    ssize_t n;

    if (c->in_pos == c->in_len) {
        c->in_pos = c->in_len = 0;
    } else if (c->in_pos > 0 && c->chunk_len == 0) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    if (c->in_len == sizeof(c->in)) {
        errno = EAGAIN;
        return -1;
    }
    do {
        n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
                 MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->in_len += (size_t)n;
    }
    return n;
}

/* Parses buffered bytes to the next event. */
static fw_wire_event_e
conn_parse(fw_conn_t *c, const unsigned char **data, size_t *len)
{
    size_t used = 0;
    fw_wire_event_e ev = fw_wire_parse(
        &c->wire, c->in + c->in_pos, c->in_len - c->in_pos, &used, data, len);

    c->in_pos += used;
    return ev;
}

/* A peer's lengthless CONTENT_LENGTH: missing, empty, negative or not a
 * number gives -1. */
static long long
conn_content_length(const fw_request_t *r)
{
    const fw_param_t *p = FW_PARAM(r, "CONTENT_LENGTH");
    long long n = 0;

    if (p == NULL || p->value_len == 0) {
        return -1;
    }
    for (size_t i = 0; i < p->value_len; i++) {
        char ch = p->value[i];

        if (ch < '0' || ch > '9' || n > (0x7fffffffffffffffLL - 9) / 10) {
            return -1;
        }
        n = n * 10 + (ch - '0');
    }
    return n;
}

/* Queues a whole response the wire gives by itself (413, 431...) and
 * ends the request. */
static void
conn_answer(fw_conn_t *c, int status, const char *reason)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "Status: %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s\n",
                     status, reason, strlen(reason) + 1, reason);
    unsigned id = c->wire.active_id;

    (void)fw_wire_out_record(&c->wire, FCGI_STDOUT, id, head, (size_t)n,
                             (size_t)-1);
    (void)fw_wire_out_record(&c->wire, FCGI_STDOUT, id, NULL, 0, (size_t)-1);
    (void)fw_wire_out_end_request(&c->wire, id, 0, FCGI_REQUEST_COMPLETE,
                                  (size_t)-1);
    if (!c->wire.keep_conn) {
        c->closing = 1;
    }
    fw_wire_request_end(&c->wire);
    conn_request_reset(c);
    c->served++;
}

/* Adds bytes of a length-less body to the spool: memory up to
 * post-buffering, then an unlinked temp file.  0 or -1 after logging. */
static int
conn_spool_put(fw_conn_t *c, const unsigned char *p, size_t n)
{
    if (c->spool_fd < 0 && c->spool_len + n <= conn_conf.post_buffering) {
        if (c->spool_len + n > c->spool_cap) {
            size_t cap = c->spool_cap != 0 ? c->spool_cap : 16384;
            unsigned char *grown;

            while (cap < c->spool_len + n) {
                cap *= 2;
            }
            grown = realloc(c->spool, cap);
            if (grown == NULL) {
                fw_log(FW_LOG_ERROR, "request body: out of memory");
                return -1;
            }
            c->spool = grown;
            c->spool_cap = cap;
        }
        memcpy(c->spool + c->spool_len, p, n);
        c->spool_len += n;
        c->spool_size += n;
        return 0;
    }
    if (c->spool_fd < 0) {
        const char *dir = getenv("TMPDIR");

        if (dir == NULL || *dir == '\0') {
            dir = "/tmp";
        }
        c->spool_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (c->spool_fd < 0) {
            fw_log(FW_LOG_ERROR, "request body: temp file in %s: %s", dir,
                   strerror(errno));
            return -1;
        }
        if (c->spool_len > 0 && pwrite(c->spool_fd, c->spool, c->spool_len,
                                       0) != (ssize_t)c->spool_len) {
            fw_log(FW_LOG_ERROR, "request body: temp file: %s",
                   strerror(errno));
            return -1;
        }
    }
    if (pwrite(c->spool_fd, p, n, (off_t)c->spool_size) != (ssize_t)n) {
        fw_log(FW_LOG_ERROR, "request body: temp file: %s", strerror(errno));
        return -1;
    }
    c->spool_size += n;
    return 0;
}

/* The spooled body is complete: CONTENT_LENGTH becomes its size. */
static void
conn_spool_done(fw_conn_t *c)
{
    const fw_wire_t *w = &c->wire;
    size_t n = 0;

    c->spooling = 0;
    c->body_ended = 1;
    if (c->spool_size == 0) {
        return; /* no body: the params stay as sent */
    }
    if (w->nparams + 1 > c->params_cap) {
        fw_param_t *grown =
            realloc(c->params, (w->nparams + 1) * sizeof(fw_param_t));

        if (grown == NULL) {
            abort();
        }
        c->params = grown;
        c->params_cap = w->nparams + 1;
    }
    snprintf(c->content_length, sizeof(c->content_length), "%llu",
             (unsigned long long)c->spool_size);
    for (size_t i = 0; i < w->nparams; i++) {
        const fw_param_t *p = &w->params[i];

        if (p->name_len == 14 && memcmp(p->name, "CONTENT_LENGTH", 14) == 0) {
            continue;
        }
        c->params[n++] = *p;
    }
    c->params[n].name = "CONTENT_LENGTH";
    c->params[n].name_len = 14;
    c->params[n].value = c->content_length;
    c->params[n].value_len = strlen(c->content_length);
    c->req.params = c->params;
    c->req.nparams = n + 1;
}

/*
 * A request's PARAMS are complete: decides whether the wire answers it
 * itself (431, 413), spools its body first, or serves it now.  Returns 1
 * to serve now, 0 to go on reading.
 */
static int
conn_request_ready(fw_conn_t *c)
{
    fw_wire_t *w = &c->wire;
    long long length;

    conn_request_reset(c);
    if (w->params_too_large) {
        fw_log(FW_LOG_WARN,
               "request refused: its params are %zu bytes, over "
               "buffer-size (%zu)",
               w->params_bytes, conn_conf.buffer_size);
        conn_answer(c, 431, "Request Header Fields Too Large");
        return 0;
    }
    c->req.params = w->params;
    c->req.nparams = w->nparams;
    c->req.role = w->role == FCGI_AUTHORIZER || conn_conf.force_authorizer
                      ? FW_ROLE_AUTHORIZER
                      : FW_ROLE_RESPONDER;
    if (c->req.role == FW_ROLE_AUTHORIZER) {
        c->discarding = 1; /* no body is read in this role */
        return 1;
    }
    length = conn_content_length(&c->req);
    if (length >= 0) {
        if (conn_conf.limit_post > 0 &&
            (unsigned long long)length > conn_conf.limit_post) {
            fw_log(FW_LOG_WARN,
                   "request refused: CONTENT_LENGTH %lld is over "
                   "limit-post (%llu)",
                   length, conn_conf.limit_post);
            conn_answer(c, 413, "Request Entity Too Large");
            return 0;
        }
        return 1;
    }
    c->spooling = 1;
    return 0;
}

/* The wire's own answer to an ABORT_REQUEST before the app ran. */
static void
conn_abort_unserved(fw_conn_t *c)
{
    (void)fw_wire_out_end_request(&c->wire, c->wire.active_id, 0,
                                  FCGI_REQUEST_COMPLETE, (size_t)-1);
    if (!c->wire.keep_conn) {
        c->closing = 1;
    }
    fw_wire_request_end(&c->wire);
    conn_request_reset(c);
}

/* Shuts the write side and starts discarding what still comes. */
static void
conn_linger(fw_conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    c->lingering = 1;
    c->linger_until = fw_conn_now_ms() + FW_CONN_LINGER_MS;
}

/*
 * The work of fw_conn_advance.  may_read 0: only what is buffered already
 * is parsed (after a request, so that a busy kept connection goes back to
 * the epoll set behind the others instead of being served again at once).
 */
static fw_conn_next_e
conn_advance(fw_conn_t *c, int may_read)
{
    size_t budget = CONN_ADVANCE_BUDGET;

    for (;;) {
        const unsigned char *data;
        size_t len;
        fw_wire_event_e ev;
        ssize_t n;
        int sent = conn_send_some(c);

        if (sent < 0) {
            return FW_CONN_CLOSE;
        }
        if (c->closing && sent == 1 && !c->lingering) {
            if (c->in_pos == c->in_len && c->wire.active_id == 0 &&
                c->wire.hdr_have == 0 && c->wire.content_left == 0 &&
                c->wire.padding_left == 0 && c->body_ended) {
                return FW_CONN_CLOSE; /* nothing more to come */
            }
            conn_linger(c);
        }
        if (c->lingering) {
            /* nothing is parsed any more: the read buffer is scratch */
            c->in_pos = c->in_len = 0;
            do {
                n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
            } while (n < 0 && errno == EINTR);
            if (n > 0) {
                c->wire.ignored += (uint64_t)n;
                if (c->wire.ignored > FW_CONN_DRAIN_MAX) {
                    return FW_CONN_CLOSE; /* sends too much */
                }
                if (budget > (size_t)n) {
                    budget -= (size_t)n;
                    continue;
                }
                return FW_CONN_WAIT; /* others get their turn */
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return FW_CONN_WAIT;
            }
            return FW_CONN_CLOSE; /* closed by the peer, or failed */
        }

        ev = conn_parse(c, &data, &len);
        switch (ev) {
        case FW_WIRE_REQUEST:
            if (conn_request_ready(c)) {
                return FW_CONN_SERVE;
            }
            continue;
        case FW_WIRE_STDIN:
            if (c->spooling) {
                if (conn_conf.limit_post > 0 &&
                    c->spool_size + len > conn_conf.limit_post) {
                    fw_log(FW_LOG_WARN,
                           "request refused: its body passed limit-post "
                           "(%llu) without a CONTENT_LENGTH",
                           conn_conf.limit_post);
                    conn_answer(c, 413, "Request Entity Too Large");
                    continue;
                }
                if (conn_spool_put(c, data, len) < 0) {
                    conn_answer(c, 500, "Internal Server Error");
                }
            }
            continue;
        case FW_WIRE_STDIN_END:
            if (c->spooling) {
                conn_spool_done(c);
                return FW_CONN_SERVE;
            }
            continue;
        case FW_WIRE_ABORT:
            conn_abort_unserved(c);
            continue;
        case FW_WIRE_ERROR:
            fw_log(FW_LOG_WARN, "closed a connection: %s", c->wire.error);
            return FW_CONN_CLOSE;
        case FW_WIRE_MORE:
            break;
        }

        if (c->wire.ignored > FW_CONN_DRAIN_MAX) {
            fw_log(FW_LOG_INFO,
                   "closed a connection: over %u bytes sent that nobody "
                   "reads",
                   FW_CONN_DRAIN_MAX);
            return FW_CONN_CLOSE;
        }
        if (budget == 0 || !may_read) {
            return FW_CONN_WAIT; /* others get their turn */
        }
        n = conn_recv(c);
        if (n > 0) {
            budget = budget > (size_t)n ? budget - (size_t)n : 0;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return FW_CONN_WAIT;
        }
        if (n == 0 && (c->wire.active_id != 0 || c->wire.hdr_have > 0 ||
                       c->wire.content_left > 0)) {
            fw_log(FW_LOG_INFO, "closed a connection: the web server "
                                "closed it in the middle of a request");
        }
        return FW_CONN_CLOSE;
    }
}

fw_conn_next_e
fw_conn_advance(fw_conn_t *c, int64_t now_ms)
{
    (void)now_ms;
    return conn_advance(c, 1);
}

/*
 * Waits up to the socket-timeout for the socket to become ready for
 * `events`.  Returns the revents, or 0 after logging a timeout (the
 * connection is then broken).
 */
static short
conn_wait(fw_conn_t *c, short events, const char *what)
{
    struct pollfd pfd = {.fd = c->fd, .events = events};
    int n;

    do {
        n = poll(&pfd, 1, conn_conf.socket_timeout * 1000);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        fw_log(FW_LOG_WARN,
               "closed a connection: nothing %s for %d s (socket-timeout)",
               what, conn_conf.socket_timeout);
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
conn_on_event(fw_conn_t *c, fw_wire_event_e ev, const unsigned char *data,
              size_t len)
{
    switch (ev) {
    case FW_WIRE_STDIN:
        if (c->discarding) {
            c->discarded += len;
            return 0;
        }
        c->chunk = data;
        c->chunk_len = len;
        return 1;
    case FW_WIRE_STDIN_END:
        c->body_ended = 1;
        return 0;
    case FW_WIRE_ABORT:
        c->peer_aborted = 1;
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
conn_take_incoming(fw_conn_t *c)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        const unsigned char *data;
        size_t len;
        fw_wire_event_e ev;
        ssize_t n;
        int rc;

        if (c->chunk_len > 0) {
            if (!c->discarding) {
                return 0; /* the app may still read it */
            }
            c->discarded += c->chunk_len;
            c->chunk_len = 0;
        }
        ev = conn_parse(c, &data, &len);
        rc = conn_on_event(c, ev, data, len);
        if (rc != 0) {
            return rc < 0 ? -1 : 0;
        }
        if (ev != FW_WIRE_MORE) {
            continue;
        }
        if (c->discarded > FW_CONN_DRAIN_MAX || fw_wire_paused(&c->wire)) {
            return 0; /* stop reading until the response is over */
        }
        n = conn_recv(c);
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
 * The socket is full: waits up to the socket-timeout for room, reading
 * what the web server sends meanwhile.  0, or -1 (timed out, broken or
 * aborted).
 */
static int
conn_wait_room(fw_conn_t *c)
{
    /* nothing more is read while a pipelined request waits, or past the
     * drain bound: then only room to write can wake us */
    int reading = !fw_wire_paused(&c->wire) &&
                  c->discarded <= FW_CONN_DRAIN_MAX &&
                  c->in_len < sizeof(c->in);
    short ev = conn_wait(c, reading ? POLLOUT | POLLIN : POLLOUT,
                         "read by the web server");

    if (ev == 0) {
        return -1;
    }
    if ((ev & (POLLIN | POLLHUP | POLLERR)) != 0 &&
        conn_take_incoming(c) < 0) {
        return -1;
    }
    return 0;
}

/*
 * Sends every queued byte, waiting up to the socket-timeout for room and
 * reading what comes meanwhile.  0, or -1 (broken or aborted).
 */
static int
conn_send_all(fw_conn_t *c)
{
    for (;;) {
        int sent = conn_send_some(c);

        if (sent == 1) {
            return 0;
        }
        if (sent < 0) {
            c->broken = 1;
            return -1;
        }
        if (conn_wait_room(c) < 0) {
            return -1;
        }
    }
}

static ssize_t
conn_read_spool(fw_conn_t *c, char *buf, size_t len)
{
    uint64_t left = c->spool_size - c->spool_pos;
    ssize_t n;

    if (len > left) {
        len = (size_t)left;
    }
    if (len == 0) {
        return 0;
    }
    if (c->spool_fd < 0) {
        memcpy(buf, c->spool + c->spool_pos, len);
        c->spool_pos += len;
        return (ssize_t)len;
    }
    n = pread(c->spool_fd, buf, len, (off_t)c->spool_pos);
    if (n < 0) {
        fw_log(FW_LOG_ERROR, "request body: temp file: %s", strerror(errno));
        return -1;
    }
    c->spool_pos += (uint64_t)n;
    return n;
}

static ssize_t
conn_read(fw_request_t *r, char *buf, size_t len)
{
    fw_conn_t *c = r->conn;

    if (c->peer_aborted || c->broken) {
        return -1;
    }
    if (c->discarding || r->role == FW_ROLE_AUTHORIZER) {
        return 0;
    }
    if (c->spool_size > 0) {
        return conn_read_spool(c, buf, len); /* a length-less body */
    }
    for (;;) {
        const unsigned char *data;
        size_t dlen, left;
        fw_wire_event_e ev;
        ssize_t n;

        if (c->chunk_len > 0) {
            n = (ssize_t)(c->chunk_len < len ? c->chunk_len : len);
            memcpy(buf, c->chunk, (size_t)n);
            c->chunk += n;
            c->chunk_len -= (size_t)n;
            return n;
        }
        if (c->body_ended) {
            return 0;
        }
        left = fw_wire_stdin_left(&c->wire);
        if (left > 0 && c->in_pos == c->in_len) {
            /* inside a STDIN record with nothing buffered: straight into
             * the caller's buffer */
            do {
                n = recv(c->fd, buf, len < left ? len : left, MSG_DONTWAIT);
            } while (n < 0 && errno == EINTR);
            if (n > 0) {
                fw_wire_stdin_took(&c->wire, (size_t)n);
                return n;
            }
        } else {
            ev = conn_parse(c, &data, &dlen);
            if (conn_on_event(c, ev, data, dlen) < 0) {
                return -1;
            }
            if (ev != FW_WIRE_MORE) {
                continue;
            }
            if (c->wire.out_len > 0 && conn_send_all(c) < 0) {
                return -1; /* answers to management records */
            }
            n = conn_recv(c);
            if (n > 0) {
                continue;
            }
        }
        if (n == 0) {
            fw_log(FW_LOG_INFO, "the web server closed the connection "
                                "before the end of the request body");
            c->broken = 1;
            return -1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            c->broken = 1;
            return -1;
        }
        if (conn_wait(c, POLLIN, "of the request body") == 0) {
            return -1;
        }
    }
}

static int
conn_discard(fw_request_t *r)
{
    fw_conn_t *c = r->conn;
    uint64_t before;

    if (c->broken) {
        return -1;
    }
    before = c->discarded;
    c->discarding = 1;
    c->discarded += c->chunk_len;
    c->chunk_len = 0;
    /* what is buffered already says whether the body has ended (no
     * system call: the rest is read while the response goes out) */
    while (!c->body_ended && c->in_pos < c->in_len) {
        const unsigned char *data;
        size_t len;
        fw_wire_event_e ev = conn_parse(c, &data, &len);

        if (conn_on_event(c, ev, data, len) < 0) {
            return -1;
        }
    }
    if (c->spool_size > 0) {
        return c->spool_pos < c->spool_size;
    }
    return c->discarded > before || !c->body_ended;
}

/*
 * Writes STDOUT records straight from buf with writev, after what is
 * queued: no copy, one system call per 64 KiB when the socket keeps up.
 */
static int
conn_write_direct(fw_conn_t *c, const char *buf, size_t len)
{
    if (conn_send_all(c) < 0) {
        return -1;
    }
    while (len > 0) {
        unsigned char hdr[FCGI_HEADER_LEN];
        size_t n = len < CONN_RECORD_MAX ? len : CONN_RECORD_MAX;
        size_t done = 0, total = FCGI_HEADER_LEN + n;

        fw_wire_header(hdr, FCGI_STDOUT, c->wire.active_id, n, 0);
        while (done < total) {
            struct iovec iov[2];
            int cnt = 0;
            ssize_t w;

            if (done < FCGI_HEADER_LEN) {
                iov[cnt].iov_base = hdr + done;
                iov[cnt++].iov_len = FCGI_HEADER_LEN - done;
                iov[cnt].iov_base = (void *)buf;
                iov[cnt++].iov_len = n;
            } else {
                iov[cnt].iov_base = (void *)(buf + (done - FCGI_HEADER_LEN));
                iov[cnt++].iov_len = total - done;
            }
            w = sendmsg(c->fd,
                        &(struct msghdr){.msg_iov = iov, .msg_iovlen = cnt},
                        MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                done += (size_t)w;
                continue;
            }
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* answers queued meanwhile wait for a record boundary */
                if (conn_wait_room(c) < 0) {
                    return -1;
                }
                continue;
            }
            c->broken = 1;
            return -1;
        }
        buf += n;
        len -= n;
        if (c->wire.out_len > 0 && conn_send_all(c) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
conn_write(fw_request_t *r, const char *buf, size_t len)
{
    fw_conn_t *c = r->conn;

    if (c->peer_aborted || c->broken) {
        return -1;
    }
    if (len >= CONN_DIRECT_MIN) {
        return conn_write_direct(c, buf, len);
    }
    if (len > 0) {
        (void)fw_wire_out_record(&c->wire, FCGI_STDOUT, c->wire.active_id, buf,
                                 len, (size_t)-1);
    }
    if (c->wire.out_len >= CONN_OUT_FLUSH) {
        return conn_send_all(c);
    }
    return 0;
}

static int
conn_flush(fw_request_t *r)
{
    fw_conn_t *c = r->conn;

    if (c->peer_aborted || c->broken) {
        return -1;
    }
    if (conn_send_all(c) < 0) {
        return -1;
    }
    /* a streamed response: see whether the web server gave up */
    if (conn_take_incoming(c) < 0) {
        return -1;
    }
    return 0;
}

fw_conn_next_e
fw_conn_finish(fw_conn_t *c, int cut_off, int64_t now_ms)
{
    fw_wire_t *w = &c->wire;
    int aborted = c->peer_aborted;

    if (c->broken || (cut_off && !aborted)) {
        return FW_CONN_CLOSE; /* no END_REQUEST: the response is cut off */
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
    if (c->chunk_len > 0) {
        c->chunk_len = 0; /* the rest of the body is ignored from now */
    }
    if (!c->body_ended && w->phase == FW_WIRE_BODY_END) {
        c->body_ended = 1;
    }
    fw_wire_request_end(w);
    if (c->discarded > FW_CONN_DRAIN_MAX) {
        w->ignored = c->discarded; /* closed once answered */
    }
    c->served++;
    if (conn_send_all(c) < 0) {
        return FW_CONN_CLOSE;
    }
    if (c->closing) {
        /* body_ended survives the reset: decides the lingering close */
        int ended = c->body_ended;

        conn_request_reset(c);
        c->body_ended = ended;
    } else {
        conn_request_reset(c);
    }
    (void)now_ms;
    return conn_advance(c, 0);
}
