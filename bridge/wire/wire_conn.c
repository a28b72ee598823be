/*
 * wire_conn.c: one FastCGI connection between requests (see wire.h),
 * driven by the worker's epoll loop.  It never blocks: whatever is not
 * there yet is waited for in the epoll set, so a silent or slow peer holds
 * no thread.  It reads until a request is ready, answers what the wire
 * answers by itself (413, 431, an ABORT_REQUEST before the app ran),
 * spools a length-less body, and closes with a lingering close.  While
 * the application runs, the connection is wire_request.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/wire/wire_int.h"

/* Bytes one fw_conn_advance call parses before it lets others run. */
#define CONN_ADVANCE_BUDGET (256u << 10)

fw_conn_conf_t fw_conn_conf = {
    .socket_timeout = 60,
    .keepalive_timeout = 75,
    .buffer_size = 65536,
    .post_buffering = 1 << 20,
    .max_conns = 1,
    .max_reqs = 1,
};

void
fw_conn_setup(const fw_conn_conf_t *conf)
{
    fw_conn_conf = *conf;
    fw_conn_request_setup();
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
        .params_max = fw_conn_conf.buffer_size,
        .max_conns = fw_conn_conf.max_conns,
        .max_reqs = fw_conn_conf.max_reqs,
    };

    return lim;
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
    c->served = 0;
    c->closing = 0;
    c->lingering = 0;
    c->broken = 0;
    c->sndbuf_raised = 0;
    c->close_why = NULL;
    c->spool.fd = -1;
    fw_conn_request_reset(c);
}

void
fw_conn_close(fw_conn_t *c)
{
    fw_wire_limits_t lim = conn_limits();

    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    fw_conn_request_reset(c);
    fw_spool_release(&c->spool);
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

/* No request active, no record partly read, no byte unparsed. */
static int
conn_between_requests(const fw_conn_t *c)
{
    const fw_wire_t *w = &c->wire;

    return w->active_id == 0 && w->hdr_have == 0 && w->content_left == 0 &&
           w->padding_left == 0 && c->in_pos == c->in_len;
}

int
fw_conn_is_idle(const fw_conn_t *c)
{
    return c->served > 0 && !c->closing && c->wire.out_len == 0 &&
           conn_between_requests(c);
}

int64_t
fw_conn_wait_ms(const fw_conn_t *c)
{
    if (c->lingering) {
        int64_t left = c->linger_until - fw_conn_now_ms();

        return left > 0 ? left : 0;
    }
    if (fw_conn_is_idle(c)) {
        return (int64_t)fw_conn_conf.keepalive_timeout * 1000;
    }
    return (int64_t)fw_conn_conf.socket_timeout * 1000;
}

int
fw_conn_send_some(fw_conn_t *c)
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

ssize_t
fw_conn_recv(fw_conn_t *c)
{
    ssize_t n;

    if (c->in_pos == c->in_len) {
        c->in_pos = c->in_len = 0;
    } else if (c->in_pos > 0 && c->body.chunk_len == 0) {
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

fw_wire_event_e
fw_conn_parse(fw_conn_t *c, const unsigned char **data, size_t *len)
{
    size_t used = 0;
    fw_wire_event_e ev = fw_wire_parse(
        &c->wire, c->in + c->in_pos, c->in_len - c->in_pos, &used, data, len);

    c->in_pos += used;
    return ev;
}

/* A peer's CONTENT_LENGTH: missing, empty, negative or not a number gives
 * -1 (a length-less body). */
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

/* Queues END_REQUEST for the active request and ends it, before the
 * application ran. */
static void
conn_end_unserved(fw_conn_t *c)
{
    (void)fw_wire_out_end_request(&c->wire, c->wire.active_id, 0,
                                  FCGI_REQUEST_COMPLETE, (size_t)-1);
    if (!c->wire.keep_conn) {
        c->closing = 1;
    }
    fw_wire_request_end(&c->wire);
    fw_conn_request_reset(c);
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
    conn_end_unserved(c);
    c->served++;
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

    fw_conn_request_reset(c);
    if (w->params_too_large) {
        fw_log(FW_LOG_WARN,
               "request refused: its params are %zu bytes, over "
               "buffer-size (%zu)",
               w->params_bytes, fw_conn_conf.buffer_size);
        conn_answer(c, 431, "Request Header Fields Too Large");
        return 0;
    }
    c->req.params = w->params;
    c->req.nparams = w->nparams;
    c->req.role = w->role == FCGI_AUTHORIZER || fw_conn_conf.force_authorizer
                      ? FW_ROLE_AUTHORIZER
                      : FW_ROLE_RESPONDER;
    if (c->req.role == FW_ROLE_AUTHORIZER) {
        c->body.discarding = 1; /* no body is read in this role */
        return 1;
    }
    length = conn_content_length(&c->req);
    if (length < 0) {
        c->body.spooling = 1;
        return 0;
    }
    if (fw_conn_conf.limit_post > 0 &&
        (unsigned long long)length > fw_conn_conf.limit_post) {
        fw_log(FW_LOG_WARN,
               "request refused: CONTENT_LENGTH %lld is over limit-post "
               "(%llu)",
               length, fw_conn_conf.limit_post);
        conn_answer(c, 413, "Request Entity Too Large");
        return 0;
    }
    return 1;
}

/* Body bytes of a request being spooled: kept, or refused with a 413
 * past limit-post (a 500 when they cannot be kept). */
static void
conn_spool(fw_conn_t *c, const unsigned char *data, size_t len)
{
    if (fw_conn_conf.limit_post > 0 &&
        c->spool.size + len > fw_conn_conf.limit_post) {
        fw_log(FW_LOG_WARN,
               "request refused: its body passed limit-post (%llu) without "
               "a CONTENT_LENGTH",
               fw_conn_conf.limit_post);
        conn_answer(c, 413, "Request Entity Too Large");
        return;
    }
    if (fw_spool_put(&c->spool, data, len, fw_conn_conf.post_buffering) < 0) {
        conn_answer(c, 500, "Internal Server Error");
    }
}

/*
 * Acts on one parser event between requests.  1: a request is ready to
 * serve; 0: go on; -1: close the connection.
 */
static int
conn_on_event(fw_conn_t *c, fw_wire_event_e ev, const unsigned char *data,
              size_t len)
{
    switch (ev) {
    case FW_WIRE_REQUEST:
        return conn_request_ready(c);
    case FW_WIRE_STDIN:
        if (c->body.spooling) {
            conn_spool(c, data, len);
        }
        return 0;
    case FW_WIRE_STDIN_END:
        if (!c->body.spooling) {
            return 0;
        }
        c->body.spooling = 0;
        c->body.ended = 1;
        fw_spool_done(&c->spool, &c->req, c->wire.params, c->wire.nparams);
        return 1;
    case FW_WIRE_ABORT:
        conn_end_unserved(c);
        return 0;
    case FW_WIRE_ERROR:
        fw_log(FW_LOG_WARN, "closed a connection: %s", c->wire.error);
        return -1;
    default:
        return 0;
    }
}

/* Shuts the write side and starts discarding what still comes. */
static void
conn_linger(fw_conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    c->lingering = 1;
    c->linger_until = fw_conn_now_ms() + FW_CONN_LINGER_MS;
}

/* Lingering: discards what arrives, up to `budget` bytes this turn, until
 * the peer closes or sends too much. */
static fw_conn_next_e
conn_linger_read(fw_conn_t *c, size_t budget)
{
    for (;;) {
        ssize_t n;

        /* nothing is parsed any more: the read buffer is scratch */
        c->in_pos = c->in_len = 0;
        n = fw_conn_recv(c);
        c->in_len = 0;
        if (n > 0) {
            c->wire.ignored += (uint64_t)n;
            if (c->wire.ignored > FW_CONN_DRAIN_MAX) {
                return FW_CONN_CLOSE; /* sends too much */
            }
            if (budget <= (size_t)n) {
                return FW_CONN_WAIT; /* others get their turn */
            }
            budget -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return FW_CONN_WAIT;
        }
        return FW_CONN_CLOSE; /* closed by the peer, or failed */
    }
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
        int sent = fw_conn_send_some(c);

        if (sent < 0) {
            return FW_CONN_CLOSE;
        }
        if (c->closing && sent == 1 && !c->lingering) {
            if (conn_between_requests(c) && c->body.ended) {
                return FW_CONN_CLOSE; /* nothing more to come */
            }
            conn_linger(c);
        }
        if (c->lingering) {
            return conn_linger_read(c, budget);
        }
        ev = fw_conn_parse(c, &data, &len);
        if (ev != FW_WIRE_MORE) {
            int rc = conn_on_event(c, ev, data, len);

            if (rc != 0) {
                return rc > 0 ? FW_CONN_SERVE : FW_CONN_CLOSE;
            }
            continue;
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
        n = fw_conn_recv(c);
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

fw_conn_next_e
fw_conn_finish(fw_conn_t *c, int cut_off, int64_t now_ms)
{
    (void)now_ms;
    if (fw_conn_request_end(c, cut_off) < 0) {
        return FW_CONN_CLOSE;
    }
    return conn_advance(c, 0);
}
