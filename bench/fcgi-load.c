/*
 * fcgi-load.c: a FastCGI load generator.  It keeps N connections busy with
 * one request (the params nginx's fastcgi_params sends for GET /hello, extra
 * params, a POST body), reads every answer record by record up to
 * END_REQUEST, and prints one line: requests/s, latency percentiles,
 * answers by HTTP status, errors by kind, connections that never got an
 * answer.  -o keeps the STDOUT stream of one answer and -P prints the
 * params, so that bench/check_fcgi_load.py can compare it with cgi-fcgi.
 * It talks to a unix socket or a loopback port only; it uses <fastcgi.h>
 * for the protocol's constants, nothing of libfcgi.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fastcgi.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    REQUEST_ID = 1,
    HEAD_MAX = 8192,     /* bytes of STDOUT kept to find the headers */
    STDIN_CHUNK = 16384, /* content bytes in each STDIN record */
    RETRY_MS = 10,       /* wait after a failed connect */
    TICK_MS = 10,        /* how often deadlines are checked */
    STATUS_MAX = 600,    /* HTTP statuses counted: 100..599 */
    EVENTS_MAX = 256,
};

/* Why a request did not get an answer. */
enum failure {
    FAIL_CONNECT,   /* connect() refused, no socket, backlog full */
    FAIL_RESET,     /* ECONNRESET / EPIPE while reading or writing */
    FAIL_CLOSED,    /* end of stream before END_REQUEST */
    FAIL_TIMEOUT,   /* no END_REQUEST within the timeout */
    FAIL_MALFORMED, /* records or headers that do not parse */
    FAIL_REFUSED,   /* END_REQUEST with a protocolStatus other than 0 */
    FAIL_KINDS
};

static const char *const failure_names[FAIL_KINDS] = {
    "connect", "reset", "closed", "timeout", "malformed", "refused",
};

enum conn_state {
    CONN_IDLE,       /* no request: waits for the next one (or the end) */
    CONN_CONNECTING, /* a non-blocking connect() is under way */
    CONN_ACTIVE,     /* the request is being written, the answer read */
    CONN_BACKOFF,    /* after a failed connect: idle until `deadline` */
};

/* Where the answer's parser stands (a record header, then its content and
 * its padding), and what it kept of the answer.  start_request() zeroes
 * every field before `head`. */
struct reply {
    unsigned char hdr[FCGI_HEADER_LEN];
    size_t hdr_len;
    unsigned type;
    size_t content_left;
    size_t pad_left;
    unsigned char end_body[8];
    size_t end_len;
    size_t stdout_len; /* STDOUT content bytes so far */
    size_t received;   /* bytes of this answer read so far */
    bool capture;      /* this answer's STDOUT goes to `capture` (-o) */
    char head[HEAD_MAX];
    size_t head_len;
};

struct conn {
    int fd;
    enum conn_state state;
    bool want_out;       /* EPOLLOUT is registered */
    int64_t started_ns;  /* when this request began (its connect, if any) */
    int64_t deadline_ns; /* timeout (ACTIVE, CONNECTING) or retry (BACKOFF) */
    size_t sent;         /* bytes of the request written */
    bool reused;         /* the request went on a kept connection */
    long long answered;  /* answers on this slot over the run */
    struct reply reply;
};

/* A growable byte buffer. */
struct buf {
    unsigned char *data;
    size_t len;
    size_t cap;
};

struct options {
    int conns;
    double seconds;     /* 0: no time limit */
    long long requests; /* 0: no count limit */
    bool keep_conn;
    size_t body_len;
    const char *body_file; /* -B: the body is this file's bytes */
    const char *out_file;  /* -o: one answer's STDOUT goes here */
    bool print_params;     /* -P: print the params and stop */
    double timeout;
    const char *uri;
    const char *target;
    char **extra; /* NAME=VALUE given with -H */
    int extra_count;
};

/* What one run counted. */
struct totals {
    long long issued;
    long long answered;
    long long status[STATUS_MAX];
    long long status_other;
    long long failures[FAIL_KINDS];
    long long early;      /* answered before the whole request was written */
    long long reconnects; /* kept connections the server had closed */
    long long stderr_records;
    long long stdout_bytes; /* STDOUT content bytes of the answers */
    uint32_t *latency_us;
    size_t latency_cap;
};

static struct options opt = {
    .conns = 1,
    .seconds = 0,
    .requests = 0,
    .timeout = 10,
    .uri = "/hello",
};
static struct totals tot;
static struct buf request;
static struct sockaddr_storage target_addr;
static socklen_t target_len;
static int epfd = -1;
static int64_t end_ns; /* 0: none */

/* -o: the STDOUT of the first answer, taken from the first request that
 * starts while no other is being kept (a failed one gives way). */
static enum {
    CAPTURE_OFF,
    CAPTURE_WAITING,
    CAPTURE_ACTIVE,
    CAPTURE_DONE
} capture_state;
static struct buf capture;

/* The one allocator: out of memory ends the run. */
static void *
xrealloc(void *p, size_t size)
{
    void *n = realloc(p, size);

    if (n == NULL) {
        fprintf(stderr, "fcgi-load: out of memory\n");
        exit(1);
    }
    return n;
}

static void
buf_put(struct buf *b, const void *p, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 1024;

        while (cap < b->len + len) {
            cap *= 2;
        }
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Appends one record of `type` carrying `len` bytes, padded to a multiple
 * of 8 as nginx does.  len must be at most FCGI_MAX_LENGTH. */
static void
put_record(struct buf *b, unsigned type, const void *content, size_t len)
{
    static const unsigned char zeros[8];
    size_t pad = (8 - len % 8) % 8;
    unsigned char h[FCGI_HEADER_LEN] = {
        FCGI_VERSION_1,
        (unsigned char)type,
        (REQUEST_ID >> 8) & 0xff,
        REQUEST_ID & 0xff,
        (unsigned char)(len >> 8),
        (unsigned char)(len & 0xff),
        (unsigned char)pad,
        0,
    };

    buf_put(b, h, sizeof(h));
    if (len > 0) {
        buf_put(b, content, len);
    }
    buf_put(b, zeros, pad);
}

/* Appends `len` bytes as records of `type` of at most `chunk` bytes each,
 * then the empty record that ends the stream. */
static void
put_stream(struct buf *b, unsigned type, const unsigned char *p, size_t len,
           size_t chunk)
{
    while (len > 0) {
        size_t n = len < chunk ? len : chunk;

        put_record(b, type, p, n);
        p += n;
        len -= n;
    }
    put_record(b, type, NULL, 0);
}

static void
put_length(struct buf *b, size_t len)
{
    if (len < 128) {
        unsigned char c = (unsigned char)len;

        buf_put(b, &c, 1);
    } else {
        unsigned char c[4] = {
            (unsigned char)(((len >> 24) & 0x7f) | 0x80),
            (unsigned char)(len >> 16),
            (unsigned char)(len >> 8),
            (unsigned char)len,
        };

        buf_put(b, c, 4);
    }
}

/* Appends one name-value pair (and prints it as NAME=VALUE with -P). */
static void
put_pair(struct buf *b, const char *name, size_t name_len, const char *value)
{
    put_length(b, name_len);
    put_length(b, strlen(value));
    buf_put(b, name, name_len);
    buf_put(b, value, strlen(value));
    if (opt.print_params) {
        printf("%.*s=%s\n", (int)name_len, name, value);
    }
}

/* Appends a default param unless -H gave a value for `name`. */
static void
put_param(struct buf *b, const char *name, const char *value)
{
    size_t name_len = strlen(name);

    for (int i = 0; i < opt.extra_count; i++) {
        if (strncmp(opt.extra[i], name, name_len) == 0 &&
            opt.extra[i][name_len] == '=') {
            return;
        }
    }
    put_pair(b, name, name_len, value);
}

/* The bytes of `path` in a new block; their count in *len.  Exits on
 * failure. */
static unsigned char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t cap = 0;

    *len = 0;
    if (f == NULL) {
        fprintf(stderr, "fcgi-load: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    for (;;) {
        size_t n;

        if (*len == cap) {
            cap = cap != 0 ? cap * 2 : 65536;
            data = xrealloc(data, cap);
        }
        n = fread(data + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "fcgi-load: %s: read error\n", path);
        exit(2);
    }
    fclose(f);
    return data;
}

/* Builds the one request every connection sends: BEGIN_REQUEST, the
 * params nginx's stock fastcgi_params gives for the URI (then -H's), and
 * the body (-b's pattern or -B's file) as STDIN records.  All requests use
 * request id 1. */
static void
build_request(void)
{
    unsigned char begin[8] = {0, FCGI_RESPONDER,
                              opt.keep_conn ? FCGI_KEEP_CONN : 0};
    struct buf params = {0};
    unsigned char *body = NULL;
    char path[1024], query[1024], length[32];
    const char *q = strchr(opt.uri, '?');
    size_t path_len = q != NULL ? (size_t)(q - opt.uri) : strlen(opt.uri);

    if (opt.body_file != NULL) {
        body = read_file(opt.body_file, &opt.body_len);
    } else if (opt.body_len > 0) {
        body = xrealloc(NULL, opt.body_len);
        for (size_t i = 0; i < opt.body_len; i++) {
            body[i] = (unsigned char)('a' + i % 26);
        }
    }
    if (path_len >= sizeof(path) ||
        (q != NULL && strlen(q) >= sizeof(query))) {
        fprintf(stderr, "fcgi-load: -u: too long\n");
        exit(1);
    }
    memcpy(path, opt.uri, path_len);
    path[path_len] = '\0';
    snprintf(query, sizeof(query), "%s", q != NULL ? q + 1 : "");
    snprintf(length, sizeof(length), "%zu", opt.body_len);

    put_param(&params, "QUERY_STRING", query);
    put_param(&params, "REQUEST_METHOD", opt.body_len > 0 ? "POST" : "GET");
    put_param(&params, "CONTENT_TYPE",
              opt.body_len > 0 ? "application/octet-stream" : "");
    put_param(&params, "CONTENT_LENGTH", opt.body_len > 0 ? length : "");
    put_param(&params, "SCRIPT_NAME", path);
    put_param(&params, "REQUEST_URI", opt.uri);
    put_param(&params, "DOCUMENT_URI", path);
    put_param(&params, "DOCUMENT_ROOT", "/usr/share/nginx/html");
    put_param(&params, "SERVER_PROTOCOL", "HTTP/1.1");
    put_param(&params, "REQUEST_SCHEME", "http");
    put_param(&params, "GATEWAY_INTERFACE", "CGI/1.1");
    put_param(&params, "SERVER_SOFTWARE", "nginx/1.22.1");
    put_param(&params, "REMOTE_ADDR", "127.0.0.1");
    put_param(&params, "REMOTE_PORT", "41234");
    put_param(&params, "SERVER_ADDR", "127.0.0.1");
    put_param(&params, "SERVER_PORT", "8080");
    put_param(&params, "SERVER_NAME", "localhost");
    put_param(&params, "REDIRECT_STATUS", "200");
    put_param(&params, "HTTP_HOST", "localhost");
    put_param(&params, "HTTP_USER_AGENT", "fcgi-load");
    put_param(&params, "HTTP_ACCEPT", "*/*");
    for (int i = 0; i < opt.extra_count; i++) {
        const char *eq = strchr(opt.extra[i], '=');

        put_pair(&params, opt.extra[i], (size_t)(eq - opt.extra[i]), eq + 1);
    }

    put_record(&request, FCGI_BEGIN_REQUEST, begin, sizeof(begin));
    put_stream(&request, FCGI_PARAMS, params.data, params.len, 65528);
    put_stream(&request, FCGI_STDIN, body, opt.body_len, STDIN_CHUNK);
    free(body);
    free(params.data);
}

/* Parses unix:PATH, a PATH with a '/', or 127.x.y.z:PORT into target_addr.
 * Returns 0, or -1 with a message printed. */
static int
parse_target(const char *s)
{
    const char *colon = strrchr(s, ':');

    memset(&target_addr, 0, sizeof(target_addr));
    if (strncmp(s, "unix:", 5) == 0 || strchr(s, '/') != NULL) {
        struct sockaddr_un *un = (struct sockaddr_un *)&target_addr;
        const char *path = strncmp(s, "unix:", 5) == 0 ? s + 5 : s;

        if (strlen(path) >= sizeof(un->sun_path)) {
            fprintf(stderr, "fcgi-load: %s: path too long\n", path);
            return -1;
        }
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, path);
        target_len = sizeof(*un);
        return 0;
    }
    if (colon != NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)&target_addr;
        char host[64];
        char *end;
        long port = strtol(colon + 1, &end, 10);
        size_t host_len = (size_t)(colon - s);

        if (host_len == 0 || host_len >= sizeof(host) || *end != '\0' ||
            port < 1 || port > 65535) {
            goto bad;
        }
        memcpy(host, s, host_len);
        host[host_len] = '\0';
        if (strcmp(host, "localhost") == 0) {
            strcpy(host, "127.0.0.1");
        }
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
            goto bad;
        }
        if ((ntohl(in->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "fcgi-load: %s: loopback (127.0.0.0/8) only\n", s);
            return -1;
        }
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        target_len = sizeof(*in);
        return 0;
    }
bad:
    fprintf(stderr, "fcgi-load: %s: want unix:PATH or 127.0.0.1:PORT\n", s);
    return -1;
}

static void
set_events(struct conn *c, bool want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
                             .data.ptr = c};

    if (want_out == c->want_out) {
        return;
    }
    c->want_out = want_out;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        perror("fcgi-load: epoll_ctl");
        exit(1);
    }
}

static void
close_conn(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    c->state = CONN_IDLE;
}

static void
record_latency(int64_t ns)
{
    int64_t us = ns / 1000;
    size_t n = (size_t)tot.answered;

    if (n == tot.latency_cap) {
        tot.latency_cap = tot.latency_cap != 0 ? tot.latency_cap * 2 : 65536;
        tot.latency_us = xrealloc(tot.latency_us,
                                  tot.latency_cap * sizeof(*tot.latency_us));
    }
    tot.latency_us[n] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Reads the HTTP status from the CGI headers kept in r->head: the Status:
 * header's three digits, 200 when there is none.  Returns -1 when the
 * headers do not end (no blank line in the kept bytes) or Status: does not
 * hold a status. */
static int
reply_status(const struct reply *r)
{
    const char *p = r->head;
    const char *end = r->head + r->head_len;
    int status = 200;

    for (;;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len;

        if (eol == NULL) {
            return -1;
        }
        len = (size_t)(eol - p);
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        if (len == 0) {
            return status; /* the blank line that ends the headers */
        }
        if (len >= 7 && strncasecmp(p, "Status:", 7) == 0) {
            const char *s = p + 7;
            const char *line_end = p + len;

            while (s < line_end && (*s == ' ' || *s == '\t')) {
                s++;
            }
            if (line_end - s < 3 || (line_end - s > 3 && s[3] != ' ')) {
                return -1;
            }
            status = 0;
            for (int i = 0; i < 3; i++) {
                if (s[i] < '0' || s[i] > '9') {
                    return -1;
                }
                status = status * 10 + (s[i] - '0');
            }
            if (status < 100 || status >= STATUS_MAX) {
                return -1;
            }
        }
        p = eol + 1;
    }
}

enum feed_result { FEED_MORE, FEED_DONE, FEED_BAD, FEED_REFUSED };

/* Checks a complete record header and sets up its content and padding.
 * The server may send STDOUT, STDERR and END_REQUEST for our request id;
 * anything else is malformed. */
static int
start_record(struct reply *r)
{
    unsigned id = (unsigned)r->hdr[2] << 8 | r->hdr[3];

    r->type = r->hdr[1];
    r->content_left = (size_t)r->hdr[4] << 8 | r->hdr[5];
    r->pad_left = r->hdr[6];
    if (r->hdr[0] != FCGI_VERSION_1 || id != REQUEST_ID) {
        return -1;
    }
    switch (r->type) {
    case FCGI_STDOUT:
        return 0;
    case FCGI_STDERR:
        tot.stderr_records++;
        return 0;
    case FCGI_END_REQUEST:
        r->end_len = 0;
        return r->content_left == 8 ? 0 : -1;
    default:
        return -1;
    }
}

/* Feeds n bytes of the server's answer to the record parser.  Returns
 * FEED_MORE until END_REQUEST is complete, then FEED_DONE (FEED_REFUSED if
 * its protocolStatus is not REQUEST_COMPLETE); FEED_BAD on records that do
 * not parse or on bytes after END_REQUEST. */
static enum feed_result
feed(struct reply *r, const unsigned char *p, size_t n)
{
    for (;;) {
        if (r->hdr_len < FCGI_HEADER_LEN) {
            size_t k = FCGI_HEADER_LEN - r->hdr_len;

            if (n == 0) {
                return FEED_MORE;
            }
            k = k < n ? k : n;
            memcpy(r->hdr + r->hdr_len, p, k);
            r->hdr_len += k;
            p += k;
            n -= k;
            if (r->hdr_len < FCGI_HEADER_LEN) {
                return FEED_MORE;
            }
            if (start_record(r) < 0) {
                return FEED_BAD;
            }
        }
        if (r->content_left > 0) {
            size_t k = r->content_left < n ? r->content_left : n;

            if (n == 0) {
                return FEED_MORE;
            }
            if (r->type == FCGI_STDOUT) {
                size_t keep = HEAD_MAX - r->head_len;

                keep = keep < k ? keep : k;
                memcpy(r->head + r->head_len, p, keep);
                r->head_len += keep;
                r->stdout_len += k;
                if (r->capture) {
                    buf_put(&capture, p, k);
                }
            } else if (r->type == FCGI_END_REQUEST) {
                memcpy(r->end_body + r->end_len, p, k);
                r->end_len += k;
            }
            p += k;
            n -= k;
            r->content_left -= k;
            continue;
        }
        if (r->pad_left > 0) {
            size_t k = r->pad_left < n ? r->pad_left : n;

            if (n == 0) {
                return FEED_MORE;
            }
            p += k;
            n -= k;
            r->pad_left -= k;
            continue;
        }
        r->hdr_len = 0; /* the record is complete */
        if (r->type == FCGI_END_REQUEST) {
            if (n != 0) {
                return FEED_BAD;
            }
            return r->end_body[4] == FCGI_REQUEST_COMPLETE ? FEED_DONE
                                                           : FEED_REFUSED;
        }
    }
}

static bool
more_requests_due(void)
{
    if (end_ns != 0 && now_ns() >= end_ns) {
        return false;
    }
    return opt.requests == 0 || tot.issued < opt.requests;
}

static void start_request(struct conn *c);

/* Counts a failed request, drops its connection and starts the next one
 * (after a pause when the connect itself failed, or when the next one
 * fails at once, again and again). */
static void
fail(struct conn *c, enum failure why)
{
    static int depth; /* fail() -> start_request() -> fail() ... */
    /* The server closed a kept connection (uWSGI ignores FCGI_KEEP_CONN)
     * before answering: not a failure of the request, which goes again on
     * a new connection, as HTTP clients retry on a stale keep-alive one. */
    bool stale = c->reused && c->reply.received == 0 &&
                 (why == FAIL_RESET || why == FAIL_CLOSED);

    if (c->reply.capture) {
        capture_state = CAPTURE_WAITING; /* the next request keeps its own */
        capture.len = 0;
        c->reply.capture = false;
    }
    close_conn(c);
    if (stale) {
        tot.reconnects++;
        tot.issued--;
        start_request(c); /* on a new connection: c->reused is false */
        return;
    }
    tot.failures[why]++;
    if (why == FAIL_CONNECT || depth > 4) {
        c->state = CONN_BACKOFF;
        c->deadline_ns = now_ns() + (int64_t)RETRY_MS * 1000000;
        return;
    }
    depth++;
    start_request(c);
    depth--;
}

/* Writes what is left of the request; registers for EPOLLOUT while some
 * is left. */
static void
send_request(struct conn *c)
{
    while (c->sent < request.len) {
        ssize_t w =
            write(c->fd, request.data + c->sent, request.len - c->sent);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(c, true);
                return;
            }
            fail(c, FAIL_RESET);
            return;
        }
        c->sent += (size_t)w;
    }
    set_events(c, false);
}

/* Opens a non-blocking connection to the target.  Returns 0 (connected or
 * connecting: c->state says which), or -1. */
static int
open_conn(struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    int fd = socket(target_addr.ss_family, SOCK_STREAM, 0);

    if (fd < 0) {
        perror("fcgi-load: socket");
        return -1;
    }
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        perror("fcgi-load: fcntl");
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->want_out = true;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("fcgi-load: epoll_ctl");
        exit(1);
    }
    if (connect(fd, (struct sockaddr *)&target_addr, target_len) == 0) {
        c->state = CONN_ACTIVE;
        return 0;
    }
    if (errno == EINPROGRESS) {
        c->state = CONN_CONNECTING;
        return 0;
    }
    return -1;
}

/* Starts the next request on c: on its kept connection, or on a new one.
 * Leaves c idle when no more requests are due. */
static void
start_request(struct conn *c)
{
    if (!more_requests_due()) {
        close_conn(c);
        return;
    }
    tot.issued++;
    memset(&c->reply, 0, offsetof(struct reply, head));
    c->reply.head_len = 0;
    if (capture_state == CAPTURE_WAITING) {
        capture_state = CAPTURE_ACTIVE;
        c->reply.capture = true;
    }
    c->sent = 0;
    c->reused = c->fd >= 0;
    c->started_ns = now_ns();
    c->deadline_ns = c->started_ns + (int64_t)(opt.timeout * 1e9);
    if (c->fd < 0) {
        if (open_conn(c) < 0) {
            fail(c, FAIL_CONNECT);
            return;
        }
        if (c->state == CONN_CONNECTING) {
            return;
        }
    }
    c->state = CONN_ACTIVE;
    send_request(c);
}

/* Writes the kept STDOUT stream to -o's file.  Exits on failure. */
static void
write_capture(void)
{
    FILE *f = fopen(opt.out_file, "wb");

    if (f == NULL || fwrite(capture.data, 1, capture.len, f) != capture.len ||
        fclose(f) != 0) {
        fprintf(stderr, "fcgi-load: %s: %s\n", opt.out_file, strerror(errno));
        exit(2);
    }
    capture_state = CAPTURE_DONE;
}

/* The answer is complete: counts it and goes on with the next request,
 * on the same connection when it is kept and fully written. */
static void
finish_request(struct conn *c)
{
    int status = reply_status(&c->reply);

    if (status < 0) {
        fail(c, FAIL_MALFORMED);
        return;
    }
    record_latency(now_ns() - c->started_ns);
    tot.answered++;
    tot.status[status]++;
    tot.stdout_bytes += (long long)c->reply.stdout_len;
    c->answered++;
    if (c->reply.capture) {
        write_capture();
        c->reply.capture = false;
    }
    if (c->sent < request.len) {
        tot.early++;
        close_conn(c);
    } else if (!opt.keep_conn) {
        close_conn(c);
    } else {
        c->state = CONN_IDLE; /* the connection stays open */
    }
    start_request(c);
}

static void
on_readable(struct conn *c)
{
    static unsigned char in[65536];

    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t r = read(c->fd, in, sizeof(in));

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                fail(c, FAIL_RESET);
            }
            return;
        }
        if (r == 0) {
            fail(c, FAIL_CLOSED);
            return;
        }
        c->reply.received += (size_t)r;
        switch (feed(&c->reply, in, (size_t)r)) {
        case FEED_MORE:
            break;
        case FEED_DONE:
            finish_request(c);
            return;
        case FEED_BAD:
            fail(c, FAIL_MALFORMED);
            return;
        case FEED_REFUSED:
            fail(c, FAIL_REFUSED);
            return;
        }
    }
}

static void
on_event(struct conn *c, uint32_t events)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
            err != 0) {
            fail(c, FAIL_CONNECT);
            return;
        }
        c->state = CONN_ACTIVE;
        send_request(c);
        return;
    }
    if (c->state != CONN_ACTIVE) {
        return;
    }
    if ((events & EPOLLOUT) && c->sent < request.len) {
        send_request(c);
        if (c->state != CONN_ACTIVE) {
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        on_readable(c);
    }
}

/* Times out requests past their deadline and retries connects whose pause
 * is over. */
static void
check_deadlines(struct conn *conns, int64_t now)
{
    for (int i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];

        if (now < c->deadline_ns) {
            continue;
        }
        if (c->state == CONN_ACTIVE || c->state == CONN_CONNECTING) {
            fail(c, FAIL_TIMEOUT);
        } else if (c->state == CONN_BACKOFF) {
            c->state = CONN_IDLE;
            start_request(c);
        }
    }
}

static bool
all_idle(const struct conn *conns)
{
    for (int i = 0; i < opt.conns; i++) {
        if (conns[i].state != CONN_IDLE) {
            return false;
        }
    }
    return true;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* The nearest-rank percentile (per_mille of 1000) of the sorted
 * latencies. */
static uint32_t
percentile(unsigned per_mille)
{
    size_t n = (size_t)tot.answered;
    size_t rank = (per_mille * n + 999) / 1000;

    if (n == 0) {
        return 0;
    }
    return tot.latency_us[rank == 0 ? 0 : rank - 1];
}

static void
print_line(const struct conn *conns, double elapsed)
{
    long long errors = 0;
    int stalled = 0;
    const char *sep = "";

    qsort(tot.latency_us, (size_t)tot.answered, sizeof(*tot.latency_us),
          cmp_u32);
    for (int i = 0; i < FAIL_KINDS; i++) {
        errors += tot.failures[i];
    }
    for (int i = 0; i < opt.conns; i++) {
        stalled += conns[i].answered == 0;
    }
    printf("rps=%.1f p50_us=%u p90_us=%u p99_us=%u p999_us=%u max_us=%u "
           "requests=%lld status=",
           elapsed > 0 ? (double)tot.answered / elapsed : 0.0, percentile(500),
           percentile(900), percentile(990), percentile(999), percentile(1000),
           tot.answered);
    for (int s = 0; s < STATUS_MAX; s++) {
        if (tot.status[s] != 0) {
            printf("%s%d:%lld", sep, s, tot.status[s]);
            sep = ",";
        }
    }
    printf("%s errors=%lld", *sep != '\0' ? "" : "-", errors);
    for (int i = 0; i < FAIL_KINDS; i++) {
        printf(" %s=%lld", failure_names[i], tot.failures[i]);
    }
    printf(" early=%lld reconnects=%lld stderr=%lld stdout_bytes=%lld "
           "stalled=%d seconds=%.2f conns=%d keep=%d body=%zu\n",
           tot.early, tot.reconnects, tot.stderr_records, tot.stdout_bytes,
           stalled, elapsed, opt.conns, opt.keep_conn ? 1 : 0, opt.body_len);
}

static void
usage(FILE *out)
{
    fprintf(
        out,
        "usage: fcgi-load [-c CONNS] [-d SECONDS | -n REQUESTS] [-k]\n"
        "                 [-b BYTES | -B FILE] [-H NAME=VALUE]... [-u URI]\n"
        "                 [-t TIMEOUT] [-o FILE] [-P]\n"
        "                 unix:PATH | 127.0.0.1:PORT\n"
        "  -c  connections kept busy (1)\n"
        "  -d  seconds to run (10 unless -n is given)\n"
        "  -n  requests to make in all\n"
        "  -k  FCGI_KEEP_CONN: reuse each connection (else one per "
        "request)\n"
        "  -b  POST a body of BYTES (a-z repeated) as STDIN records\n"
        "  -B  POST the bytes of FILE as STDIN records\n"
        "  -H  an extra param (repeatable; replaces a default one)\n"
        "  -u  the request URI (/hello)\n"
        "  -t  seconds before a request counts as timed out (10)\n"
        "  -o  write the STDOUT stream of the first answer to FILE\n"
        "  -P  print the params, one NAME=VALUE a line, and stop\n"
        "Prints one line: rps; p50, p90, p99, p99.9 and max latency in\n"
        "microseconds; answers by status; errors by kind; kept\n"
        "connections the server closed (reconnects: the request goes\n"
        "again); STDOUT bytes; connections never answered (stalled).\n");
}

static int
parse_options(int argc, char **argv)
{
    int ch;
    char *end;

    while ((ch = getopt(argc, argv, "c:d:n:kb:B:H:u:t:o:Ph")) != -1) {
        switch (ch) {
        case 'c':
            opt.conns = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || opt.conns < 1 || opt.conns > 100000) {
                goto bad;
            }
            break;
        case 'd':
            opt.seconds = strtod(optarg, &end);
            if (*end != '\0' || !(opt.seconds > 0)) {
                goto bad;
            }
            break;
        case 'n':
            opt.requests = strtoll(optarg, &end, 10);
            if (*end != '\0' || opt.requests < 1) {
                goto bad;
            }
            break;
        case 'k':
            opt.keep_conn = true;
            break;
        case 'b':
            opt.body_len = (size_t)strtoull(optarg, &end, 10);
            if (*end != '\0' || optarg[0] == '-') {
                goto bad;
            }
            break;
        case 'B':
            opt.body_file = optarg;
            break;
        case 'o':
            opt.out_file = optarg;
            capture_state = CAPTURE_WAITING;
            break;
        case 'P':
            opt.print_params = true;
            break;
        case 'H':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                goto bad;
            }
            opt.extra = xrealloc(opt.extra, (size_t)(opt.extra_count + 1) *
                                                sizeof(*opt.extra));
            opt.extra[opt.extra_count++] = optarg;
            break;
        case 'u':
            if (optarg[0] != '/') {
                goto bad;
            }
            opt.uri = optarg;
            break;
        case 't':
            opt.timeout = strtod(optarg, &end);
            if (*end != '\0' || !(opt.timeout > 0)) {
                goto bad;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (opt.body_file != NULL && opt.body_len > 0) {
        fprintf(stderr, "fcgi-load: -b and -B: one or the other\n");
        return -1;
    }
    if (opt.print_params && optind == argc) {
        return 0; /* -P needs no target */
    }
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    opt.target = argv[optind];
    if (opt.seconds == 0 && opt.requests == 0) {
        opt.seconds = 10;
    }
    return 0;
bad:
    fprintf(stderr, "fcgi-load: -%c %s: bad value\n", ch, optarg);
    return -1;
}

int
main(int argc, char **argv)
{
    struct epoll_event events[EVENTS_MAX];
    struct conn *conns;
    int64_t start, last, next_tick;

    if (parse_options(argc, argv) < 0) {
        return 2;
    }
    if (opt.print_params) {
        build_request();
        return 0;
    }
    if (parse_target(opt.target) < 0) {
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    build_request();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("fcgi-load: epoll_create1");
        return 2;
    }
    conns = xrealloc(NULL, (size_t)opt.conns * sizeof(*conns));
    start = now_ns();
    end_ns = opt.seconds > 0 ? start + (int64_t)(opt.seconds * 1e9) : 0;
    for (int i = 0; i < opt.conns; i++) {
        memset(&conns[i], 0, sizeof(conns[i]));
        conns[i].fd = -1;
        conns[i].state = CONN_IDLE;
        start_request(&conns[i]);
    }
    next_tick = start + (int64_t)TICK_MS * 1000000;
    last = start;
    while (!all_idle(conns)) {
        int n = epoll_wait(epfd, events, EVENTS_MAX, TICK_MS);

        if (n < 0 && errno != EINTR) {
            perror("fcgi-load: epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; i++) {
            on_event(events[i].data.ptr, events[i].events);
        }
        last = now_ns();
        if (end_ns != 0 && last >= end_ns) {
            break; /* requests still under way are not counted */
        }
        if (last >= next_tick) {
            check_deadlines(conns, last);
            next_tick = last + (int64_t)TICK_MS * 1000000;
        }
    }
    print_line(conns, (double)(last - start) / 1e9);
    if (capture_state == CAPTURE_WAITING || capture_state == CAPTURE_ACTIVE) {
        fprintf(stderr, "fcgi-load: -o: no answer to keep\n");
        return 1;
    }
    return tot.answered > 0 ? 0 : 1;
}
