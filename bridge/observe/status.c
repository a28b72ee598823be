/*
 * status.c: the status and ping pages (status.h).  A request for them is
 * answered here, in C, from a snapshot of the scoreboard: the renderers
 * only format a snapshot, so the unit tests drive them with a hand-filled
 * one.  Never calls into Python; never blocks but on the web server.
 */
/* netlink, TCP_INFO and localtime_r need more than POSIX.1-2008. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"
#include "bridge/observe/observe.h"

/* Request bodies a status request may carry and we read past. */
#define STATUS_BODY_MAX (1024 * 1024)

static const char *status_path;
static const char *ping_path;
static const char *ping_response = "pong";
static const char *status_pool = "www";
static int status_listen_fd = -1;

void
fw_status_configure(const char *status, const char *ping,
                    const char *ping_text, const char *pool, int listen_fd)
{
    status_path = status != NULL && status[0] != '\0' ? status : NULL;
    ping_path = ping != NULL && ping[0] != '\0' ? ping : NULL;
    if (ping_text != NULL) {
        ping_response = ping_text;
    }
    if (pool != NULL && pool[0] != '\0') {
        status_pool = pool;
    }
    status_listen_fd = listen_fd;
}

/* ---- which requests are ours ------------------------------------------ */

/*
 * Whether the request's path is `path` (a C string): SCRIPT_NAME+PATH_INFO
 * when either is given (nginx's fastcgi_params, lighttpd, mod_fcgid), else
 * DOCUMENT_URI, else REQUEST_URI up to its first '?'.  The values are
 * compared as the bytes they are: a NUL inside one never matches.
 */
static int
path_is(const fw_request_t *r, const char *path)
{
    const fw_param_t *script = FW_PARAM(r, "SCRIPT_NAME");
    const fw_param_t *info = FW_PARAM(r, "PATH_INFO");
    const fw_param_t *uri;
    size_t plen = strlen(path);

    if (script != NULL || info != NULL) {
        size_t slen = script != NULL ? script->value_len : 0;
        size_t ilen = info != NULL ? info->value_len : 0;

        return slen + ilen == plen &&
               (slen == 0 || memcmp(path, script->value, slen) == 0) &&
               (ilen == 0 || memcmp(path + slen, info->value, ilen) == 0);
    }
    uri = FW_PARAM(r, "DOCUMENT_URI");
    if (uri != NULL) {
        return uri->value_len == plen && memcmp(uri->value, path, plen) == 0;
    }
    uri = FW_PARAM(r, "REQUEST_URI");
    return uri != NULL && uri->value_len >= plen &&
           memcmp(uri->value, path, plen) == 0 &&
           (uri->value_len == plen || uri->value[plen] == '?');
}

int
fw_status_wants(const fw_request_t *r)
{
    if (status_path == NULL && ping_path == NULL) {
        return 0;
    }
    return (status_path != NULL && path_is(r, status_path)) ||
           (ping_path != NULL && path_is(r, ping_path));
}

/* ---- output buffer ---------------------------------------------------- */

static int
buf_reserve(fw_status_buf_t *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->failed) {
        return -1;
    }
    if (b->len + more + 1 <= b->cap) {
        return 0;
    }
    cap = b->cap != 0 ? b->cap : 4096;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static void
buf_add(fw_status_buf_t *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0) {
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void
buf_str(fw_status_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
buf_printf(fw_status_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
fw_status_buf_free(fw_status_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the
 * bytes there are not one (a torn or cut string, or not UTF-8).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;

    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/*
 * s as a JSON string: quoted, escaped; bytes that are not UTF-8 become
 * U+FFFD, so the document always parses.
 */
static void
buf_json_str(fw_status_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    buf_add(b, "\"", 1);
    while (n > 0) {
        size_t len = utf8_len(p, n);

        if (len == 0) {
            buf_str(b, "\\ufffd");
            len = 1;
        } else if (*p == '"' || *p == '\\') {
            buf_printf(b, "\\%c", *p);
        } else if (*p < 0x20 || *p == 0x7f) {
            buf_printf(b, "\\u%04x", *p);
        } else {
            buf_add(b, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
    buf_add(b, "\"", 1);
}

/* s as an OpenMetrics label value: quoted, with \\, \" and \n escaped. */
static void
buf_label(fw_status_buf_t *b, const char *s)
{
    buf_add(b, "\"", 1);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            buf_printf(b, "\\%c", *s);
        } else if (*s == '\n') {
            buf_str(b, "\\n");
        } else {
            buf_add(b, s, 1);
        }
    }
    buf_add(b, "\"", 1);
}

/* s for a plain-text line: control characters and bytes that are not
 * UTF-8 become '?'. */
static void
buf_plain(fw_status_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    while (n > 0) {
        size_t len = utf8_len(p, n);

        if (len == 0 || *p < 0x20 || *p == 0x7f) {
            buf_add(b, "?", 1);
            len = 1;
        } else {
            buf_add(b, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
}

/* ---- snapshot --------------------------------------------------------- */

static const char *const status_states[] = {"empty", "starting", "idle",
                                            "busy", "stopping"};

/* Copies a scoreboard string that a writer may be changing. */
static void
copy_torn(char *dst, const char *src, size_t size)
{
    memcpy(dst, src, size);
    dst[size - 1] = '\0';
}

static void
snapshot_thread(fw_status_thread_t *t, fw_score_request_t *rq, uint64_t now_us)
{
    uint64_t seq = atomic_load(&rq->seq);

    t->busy = atomic_load(&rq->busy);
    copy_torn(t->method, rq->method, sizeof(t->method));
    copy_torn(t->uri, rq->uri, sizeof(t->uri));
    t->last_duration_us = atomic_load(&rq->last_duration_us);
    t->duration_us = 0;
    if (t->busy) {
        uint64_t started = atomic_load(&rq->started_us);

        t->duration_us = now_us > started ? now_us - started : 0;
    }
    if (!t->busy || atomic_load(&rq->seq) != seq) {
        t->method[0] = '\0'; /* what it ran is over: show nothing */
        t->uri[0] = '\0';
        t->busy = 0;
        t->duration_us = 0;
    }
}

int
fw_status_snapshot_take(fw_status_snapshot_t *s)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();
    uint64_t now_us = fw_scoreboard_now_us();
    long queue, backlog;

    memset(s, 0, sizeof(*s));
    if (pool == NULL) {
        fw_log(FW_LOG_ERROR, "status: no scoreboard");
        return -1;
    }
    s->pool = status_pool;
    s->now = (uint64_t)time(NULL);
    s->start_time = pool->start_time;
    s->accepted = atomic_load(&pool->accepted);
    s->max_active_workers = atomic_load(&pool->max_active);
    s->max_children_reached = atomic_load(&pool->max_children_reached);
    s->slow_requests = atomic_load(&pool->slow_requests);
    s->harakiri_kills = atomic_load(&pool->harakiri_kills);
    s->threads = pool->threads;
    s->listen_queue = s->max_listen_queue = s->listen_queue_len = -1;
    if (fw_status_listen_queue(status_listen_fd, &queue, &backlog) == 0) {
        long max = atomic_load(&pool->max_listen_queue);

        s->listen_queue = queue;
        s->listen_queue_len = backlog;
        s->max_listen_queue = queue > max ? queue : max;
    }

    s->workers = calloc((size_t)pool->max_workers, sizeof(*s->workers));
    if (s->workers == NULL) {
        goto oom;
    }
    for (int i = 0; i < pool->max_workers; i++) {
        fw_score_worker_t *w = fw_scoreboard_worker(i);
        fw_status_worker_t *out = &s->workers[s->nworkers];
        pid_t pid = atomic_load(&w->pid);
        int state = atomic_load(&w->state);

        if (pid <= 0 || state <= FW_WORKER_EMPTY ||
            state > FW_WORKER_STOPPING) {
            continue;
        }
        out->threads = calloc((size_t)s->threads, sizeof(*out->threads));
        if (out->threads == NULL) {
            goto oom;
        }
        out->number = i + 1;
        out->pid = pid;
        out->state = status_states[state];
        out->started_at = w->started_at;
        out->requests = atomic_load(&w->requests);
        /* sampled by the master every second; read it now until then */
        out->rss_kb = w->rss_kb != 0 ? w->rss_kb : fw_scoreboard_rss_kb(pid);
        for (int t = 0; t < s->threads; t++) {
            snapshot_thread(&out->threads[t], fw_scoreboard_request(i, t),
                            now_us);
        }
        s->nworkers++;
        s->total_workers++;
        if (state == FW_WORKER_BUSY) {
            s->active_workers++;
        } else if (state == FW_WORKER_IDLE) {
            s->idle_workers++;
        }
    }
    return 0;

oom:
    fw_log(FW_LOG_ERROR, "status: out of memory");
    fw_status_snapshot_free(s);
    return -1;
}

void
fw_status_snapshot_free(fw_status_snapshot_t *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        free(s->workers[i].threads);
    }
    free(s->workers);
    memset(s, 0, sizeof(*s));
}

/* ---- renderers -------------------------------------------------------- */

/* "24/Nov/2025:09:50:00 +0100" (php-fpm's and the access log's form). */
static void
buf_time(fw_status_buf_t *b, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[64];

    localtime_r(&tt, &tm);
    strftime(text, sizeof(text), "%d/%b/%Y:%H:%M:%S %z", &tm);
    buf_str(b, text);
}

static uint64_t
since(const fw_status_snapshot_t *s, uint64_t t)
{
    return s->now > t ? s->now - t : 0;
}

#define KEY "%-22s "

static void
plain_long(fw_status_buf_t *b, const char *key, long value)
{
    if (value < 0) {
        buf_printf(b, KEY "unknown\n", key);
    } else {
        buf_printf(b, KEY "%ld\n", key, value);
    }
}

static void
render_plain(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    buf_printf(b, KEY, "pool:");
    buf_plain(b, s->pool);
    buf_printf(b, "\n" KEY, "start time:");
    buf_time(b, s->start_time);
    buf_printf(b, "\n" KEY "%" PRIu64 "\n",
               "start since:", since(s, s->start_time));
    buf_printf(b, KEY "%" PRIu64 "\n", "accepted conn:", s->accepted);
    plain_long(b, "listen queue:", s->listen_queue);
    plain_long(b, "max listen queue:", s->max_listen_queue);
    plain_long(b, "listen queue len:", s->listen_queue_len);
    buf_printf(b, KEY "%d\n", "idle processes:", s->idle_workers);
    buf_printf(b, KEY "%d\n", "active processes:", s->active_workers);
    buf_printf(b, KEY "%d\n", "total processes:", s->total_workers);
    buf_printf(b, KEY "%d\n", "max active processes:", s->max_active_workers);
    buf_printf(b, KEY "%" PRIu64 "\n",
               "max children reached:", s->max_children_reached);
    buf_printf(b, KEY "%" PRIu64 "\n", "slow requests:", s->slow_requests);
    buf_printf(b, KEY "%" PRIu64 "\n", "harakiri kills:", s->harakiri_kills);
    buf_printf(b, KEY "%d\n", "threads per process:", s->threads);

    for (int i = 0; i < s->nworkers; i++) {
        const fw_status_worker_t *w = &s->workers[i];

        buf_str(b, "\n************************\n");
        buf_printf(b, KEY "%d\n", "worker:", w->number);
        buf_printf(b, KEY "%ld\n", "pid:", (long)w->pid);
        buf_printf(b, KEY "%s\n", "state:", w->state);
        buf_printf(b, KEY, "start time:");
        buf_time(b, w->started_at);
        buf_printf(b, "\n" KEY "%" PRIu64 "\n",
                   "start since:", since(s, w->started_at));
        buf_printf(b, KEY "%" PRIu64 "\n", "requests:", w->requests);
        if (w->rss_kb > 0) {
            buf_printf(b, KEY "%" PRIu64 " kB\n", "rss:", w->rss_kb);
        } else {
            buf_printf(b, KEY "unknown\n", "rss:");
        }
        for (int t = 0; t < s->threads; t++) {
            const fw_status_thread_t *th = &w->threads[t];

            buf_printf(b, KEY "%d: %s", "thread:", t + 1,
                       th->busy ? "busy" : "idle");
            if (th->busy) {
                buf_str(b, ", ");
                buf_plain(b, th->method);
                buf_str(b, " ");
                buf_plain(b, th->uri);
                buf_printf(b, " for %" PRIu64 " us", th->duration_us);
            }
            buf_printf(b, ", last request %" PRIu64 " us\n",
                       th->last_duration_us);
        }
    }
}

static void
json_long(fw_status_buf_t *b, const char *key, long value)
{
    if (value < 0) {
        buf_printf(b, ",\"%s\":null", key);
    } else {
        buf_printf(b, ",\"%s\":%ld", key, value);
    }
}

static void
render_json(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    buf_str(b, "{\"pool\":");
    buf_json_str(b, s->pool);
    buf_printf(b,
               ",\"start_time\":%" PRIu64 ",\"start_since\":%" PRIu64
               ",\"accepted_conn\":%" PRIu64,
               s->start_time, since(s, s->start_time), s->accepted);
    json_long(b, "listen_queue", s->listen_queue);
    json_long(b, "max_listen_queue", s->max_listen_queue);
    json_long(b, "listen_queue_len", s->listen_queue_len);
    buf_printf(b,
               ",\"idle_processes\":%d,\"active_processes\":%d"
               ",\"total_processes\":%d,\"max_active_processes\":%d"
               ",\"max_children_reached\":%" PRIu64
               ",\"slow_requests\":%" PRIu64 ",\"harakiri_kills\":%" PRIu64
               ",\"threads_per_process\":%d,\"workers\":[",
               s->idle_workers, s->active_workers, s->total_workers,
               s->max_active_workers, s->max_children_reached,
               s->slow_requests, s->harakiri_kills, s->threads);
    for (int i = 0; i < s->nworkers; i++) {
        const fw_status_worker_t *w = &s->workers[i];

        buf_printf(b,
                   "%s{\"worker\":%d,\"pid\":%ld,\"state\":\"%s\""
                   ",\"start_time\":%" PRIu64 ",\"start_since\":%" PRIu64
                   ",\"requests\":%" PRIu64,
                   i > 0 ? "," : "", w->number, (long)w->pid, w->state,
                   w->started_at, since(s, w->started_at), w->requests);
        if (w->rss_kb > 0) {
            buf_printf(b, ",\"rss_bytes\":%" PRIu64, w->rss_kb * 1024u);
        } else {
            buf_str(b, ",\"rss_bytes\":null");
        }
        buf_str(b, ",\"threads\":[");
        for (int t = 0; t < s->threads; t++) {
            const fw_status_thread_t *th = &w->threads[t];

            buf_printf(b, "%s{\"thread\":%d,\"state\":\"%s\"",
                       t > 0 ? "," : "", t + 1, th->busy ? "busy" : "idle");
            if (th->busy) {
                buf_str(b, ",\"request_method\":");
                buf_json_str(b, th->method);
                buf_str(b, ",\"request_uri\":");
                buf_json_str(b, th->uri);
            } else {
                buf_str(b, ",\"request_method\":null,\"request_uri\":null");
            }
            buf_printf(b,
                       ",\"request_duration_us\":%" PRIu64
                       ",\"last_request_duration_us\":%" PRIu64 "}",
                       th->duration_us, th->last_duration_us);
        }
        buf_str(b, "]}");
    }
    buf_str(b, "]}\n");
}

/* "# HELP name help\n# TYPE name type\n" */
static void
om_family(fw_status_buf_t *b, const char *name, const char *type,
          const char *help)
{
    buf_printf(b, "# HELP fcgi_wsgi_%s %s\n# TYPE fcgi_wsgi_%s %s\n", name,
               help, name, type);
}

/* "fcgi_wsgi_NAME{pool="..."" : the caller closes the labels. */
static void
om_sample(fw_status_buf_t *b, const fw_status_snapshot_t *s, const char *name)
{
    buf_printf(b, "fcgi_wsgi_%s{pool=", name);
    buf_label(b, s->pool);
}

static void
om_pool(fw_status_buf_t *b, const fw_status_snapshot_t *s, const char *name,
        const char *type, const char *help, uint64_t value)
{
    char sample[64];

    om_family(b, name, type, help);
    snprintf(sample, sizeof(sample), "%s%s", name,
             strcmp(type, "counter") == 0 ? "_total" : "");
    om_sample(b, s, sample);
    buf_printf(b, "} %" PRIu64 "\n", value);
}

static void
om_worker(fw_status_buf_t *b, const fw_status_snapshot_t *s, const char *name,
          const fw_status_worker_t *w)
{
    om_sample(b, s, name);
    buf_printf(b, ",worker=\"%d\",pid=\"%ld\"", w->number, (long)w->pid);
}

static void
render_openmetrics(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    om_pool(b, s, "start_time_seconds", "gauge", "Unix time the pool started.",
            s->start_time);
    om_pool(b, s, "accepted_connections", "counter",
            "Requests the pool began, status pages included.", s->accepted);
    if (s->listen_queue >= 0) {
        om_pool(b, s, "listen_queue", "gauge",
                "Connections waiting to be accepted.",
                (uint64_t)s->listen_queue);
        om_pool(b, s, "listen_queue_max", "gauge",
                "Most connections seen waiting to be accepted.",
                (uint64_t)s->max_listen_queue);
        om_pool(b, s, "listen_queue_length", "gauge",
                "Size of the listen queue (the backlog).",
                (uint64_t)s->listen_queue_len);
    }
    om_pool(b, s, "idle_processes", "gauge",
            "Workers with no request running.", (uint64_t)s->idle_workers);
    om_pool(b, s, "active_processes", "gauge",
            "Workers with a request running.", (uint64_t)s->active_workers);
    om_pool(b, s, "total_processes", "gauge", "Workers alive.",
            (uint64_t)s->total_workers);
    om_pool(b, s, "max_active_processes", "gauge",
            "Most workers with a request running at once.",
            (uint64_t)s->max_active_workers);
    om_pool(b, s, "max_children_reached", "counter",
            "Times the pool needed more workers than max-children.",
            s->max_children_reached);
    om_pool(b, s, "slow_requests", "counter",
            "Requests that ran longer than slowlog.", s->slow_requests);
    om_pool(b, s, "harakiri", "counter",
            "Workers killed because a request ran longer than harakiri.",
            s->harakiri_kills);

    om_family(b, "worker_requests", "counter", "Requests a worker finished.");
    for (int i = 0; i < s->nworkers; i++) {
        om_worker(b, s, "worker_requests_total", &s->workers[i]);
        buf_printf(b, "} %" PRIu64 "\n", s->workers[i].requests);
    }
    om_family(b, "worker_rss_bytes", "gauge", "Resident memory of a worker.");
    for (int i = 0; i < s->nworkers; i++) {
        if (s->workers[i].rss_kb == 0) {
            continue; /* unknown */
        }
        om_worker(b, s, "worker_rss_bytes", &s->workers[i]);
        buf_printf(b, "} %" PRIu64 "\n", s->workers[i].rss_kb * 1024u);
    }
    om_family(b, "worker_busy_threads", "gauge",
              "Threads of a worker running a request.");
    for (int i = 0; i < s->nworkers; i++) {
        int busy = 0;

        for (int t = 0; t < s->threads; t++) {
            busy += s->workers[i].threads[t].busy;
        }
        om_worker(b, s, "worker_busy_threads", &s->workers[i]);
        buf_printf(b, "} %d\n", busy);
    }
    om_family(b, "request_duration_seconds", "gauge",
              "How long the running request has run; 0 when idle.");
    for (int i = 0; i < s->nworkers; i++) {
        for (int t = 0; t < s->threads; t++) {
            uint64_t us = s->workers[i].threads[t].duration_us;

            om_worker(b, s, "request_duration_seconds", &s->workers[i]);
            buf_printf(b, ",thread=\"%d\"} %" PRIu64 ".%06" PRIu64 "\n", t + 1,
                       us / 1000000u, us % 1000000u);
        }
    }
    om_family(b, "last_request_duration_seconds", "gauge",
              "How long the last finished request ran.");
    for (int i = 0; i < s->nworkers; i++) {
        for (int t = 0; t < s->threads; t++) {
            uint64_t us = s->workers[i].threads[t].last_duration_us;

            om_worker(b, s, "last_request_duration_seconds", &s->workers[i]);
            buf_printf(b, ",thread=\"%d\"} %" PRIu64 ".%06" PRIu64 "\n", t + 1,
                       us / 1000000u, us % 1000000u);
        }
    }
    buf_str(b, "# EOF\n");
}

int
fw_status_render(const fw_status_snapshot_t *s, fw_status_format_e fmt,
                 fw_status_buf_t *out)
{
    switch (fmt) {
    case FW_STATUS_JSON:
        render_json(s, out);
        break;
    case FW_STATUS_OPENMETRICS:
        render_openmetrics(s, out);
        break;
    default:
        render_plain(s, out);
        break;
    }
    return out->failed ? -1 : 0;
}

const char *
fw_status_content_type(fw_status_format_e fmt)
{
    switch (fmt) {
    case FW_STATUS_JSON:
        return "application/json";
    case FW_STATUS_OPENMETRICS:
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    default:
        return "text/plain; charset=utf-8";
    }
}

/*
 * Whether query[0..len) has the key `name` ("json", "a=1&json=x"): a
 * '&'-separated field that is name, or starts with name and '='.
 */
static int
query_has(const char *query, size_t len, const char *name)
{
    size_t n = strlen(name);
    size_t i = 0;

    while (i < len) {
        const char *field = query + i;
        const char *amp = memchr(field, '&', len - i);
        size_t flen = amp != NULL ? (size_t)(amp - field) : len - i;

        if (flen >= n && memcmp(field, name, n) == 0 &&
            (flen == n || field[n] == '=')) {
            return 1;
        }
        i += flen + 1;
    }
    return 0;
}

fw_status_format_e
fw_status_format_of(const char *query, size_t len)
{
    if (query == NULL) {
        return FW_STATUS_PLAIN;
    }
    if (query_has(query, len, "json")) {
        return FW_STATUS_JSON;
    }
    if (query_has(query, len, "openmetrics")) {
        return FW_STATUS_OPENMETRICS;
    }
    return FW_STATUS_PLAIN;
}

/* ---- answering -------------------------------------------------------- */

/* Reads the rest of the request body (at most STATUS_BODY_MAX). 0 or -1. */
static int
drain_body(fw_request_t *r)
{
    char scrap[4096];
    size_t total = 0;

    for (;;) {
        ssize_t n = r->ops->read(r, scrap, sizeof(scrap));

        if (n == 0) {
            return 0;
        }
        if (n < 0 || (total += (size_t)n) > STATUS_BODY_MAX) {
            return -1;
        }
    }
}

/* Writes a whole CGI response.  0 or -1. */
static int
respond(fw_request_t *r, const char *status, const char *type,
        const char *body, size_t len, int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "Status: %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-cache, no-store, must-revalidate, "
                     "max-age=0\r\n"
                     "\r\n",
                     status, type, len);

    if (n < 0 || (size_t)n >= sizeof(head) ||
        r->ops->write(r, head, (size_t)n) < 0) {
        return -1;
    }
    if (!head_only && len > 0 && r->ops->write(r, body, len) < 0) {
        return -1;
    }
    return r->ops->flush(r);
}

fw_pyglue_result_e
fw_status_serve(fw_request_t *r)
{
    const fw_param_t *method = FW_PARAM(r, "REQUEST_METHOD");
    const fw_param_t *query = FW_PARAM(r, "QUERY_STRING");
    int head_only = method != NULL && method->value_len == 4 &&
                    memcmp(method->value, "HEAD", 4) == 0;
    fw_status_format_e fmt;
    fw_status_snapshot_t snap;
    fw_status_buf_t page = {0};
    int rc;

    if (drain_body(r) < 0) {
        return FW_PYGLUE_ABORT;
    }
    if (ping_path != NULL && path_is(r, ping_path) &&
        (status_path == NULL || !path_is(r, status_path))) {
        rc = respond(r, "200 OK", "text/plain; charset=utf-8", ping_response,
                     strlen(ping_response), head_only);
        return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
    }

    fmt = query != NULL ? fw_status_format_of(query->value, query->value_len)
                        : FW_STATUS_PLAIN;
    if (fw_status_snapshot_take(&snap) < 0) {
        static const char msg[] = "status unavailable\n";

        rc = respond(r, "503 Service Unavailable", "text/plain", msg,
                     sizeof(msg) - 1, head_only);
        return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
    }
    rc = fw_status_render(&snap, fmt, &page);
    fw_status_snapshot_free(&snap);
    if (rc < 0) {
        static const char msg[] = "out of memory\n";

        fw_status_buf_free(&page);
        rc = respond(r, "500 Internal Server Error", "text/plain", msg,
                     sizeof(msg) - 1, head_only);
        return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
    }
    rc = respond(r, "200 OK", fw_status_content_type(fmt), page.data, page.len,
                 head_only);
    fw_status_buf_free(&page);
    return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
}

/* ---- the listen queue ------------------------------------------------- */

/*
 * A unix socket's queue through sock_diag: for a listening socket the
 * kernel reports the pending connections as rqueue and the backlog as
 * wqueue.  0 or -1.
 */
static int
unix_listen_queue(int fd, long *queue, long *backlog)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg;
    union {
        struct nlmsghdr nlh;
        char bytes[8192];
    } reply;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct stat st;
    struct nlmsghdr *h;
    ssize_t n;
    int nl, rc = -1;

    if (fstat(fd, &st) < 0) {
        return -1;
    }
    nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) {
        return -1;
    }
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST;
    msg.req.sdiag_family = AF_UNIX;
    msg.req.udiag_states = ~0u;
    msg.req.udiag_ino = (__u32)st.st_ino;
    msg.req.udiag_show = UDIAG_SHOW_RQLEN;
    msg.req.udiag_cookie[0] = ~0u; /* no cookie: look up by inode */
    msg.req.udiag_cookie[1] = ~0u;
    if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
               sizeof(kernel)) < 0) {
        goto done;
    }
    n = recv(nl, &reply, sizeof(reply), 0);
    if (n < 0) {
        goto done;
    }
    for (h = &reply.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        struct unix_diag_msg *m = NLMSG_DATA(h);
        struct rtattr *a;
        size_t alen;

        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
            h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
            m->udiag_state != TCP_LISTEN) {
            break; /* NLMSG_ERROR (no such socket, no unix_diag), or the
                      socket does not listen */
        }
        alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
        for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
             a = RTA_NEXT(a, alen)) {
            if (a->rta_type == UNIX_DIAG_RQLEN &&
                RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
                struct unix_diag_rqlen *q = RTA_DATA(a);

                *queue = (long)q->udiag_rqueue;
                *backlog = (long)q->udiag_wqueue;
                rc = 0;
            }
        }
        break;
    }

done:
    close(nl);
    return rc;
}

int
fw_status_listen_queue(int fd, long *queue, long *backlog)
{
    struct sockaddr_storage addr;
    socklen_t alen = sizeof(addr);

    *queue = *backlog = -1;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&addr, &alen) < 0) {
        return -1;
    }
    if (addr.ss_family == AF_INET || addr.ss_family == AF_INET6) {
        struct tcp_info info;
        socklen_t ilen = sizeof(info);

        /* on a listening socket: unacked = queue, sacked = backlog */
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) < 0 ||
            info.tcpi_state != TCP_LISTEN) {
            return -1;
        }
        *queue = (long)info.tcpi_unacked;
        *backlog = (long)info.tcpi_sacked;
        return 0;
    }
    if (addr.ss_family == AF_UNIX &&
        unix_listen_queue(fd, queue, backlog) == 0) {
        return 0;
    }
    *queue = *backlog = -1;
    return -1;
}

void
fw_status_sample(void)
{
    static int unsupported;
    fw_score_pool_t *pool = fw_scoreboard_pool();
    long queue, backlog, max;

    if (pool == NULL || unsupported || status_listen_fd < 0) {
        return;
    }
    if (fw_status_listen_queue(status_listen_fd, &queue, &backlog) < 0) {
        unsupported = 1; /* the kernel will not say: stop asking */
        return;
    }
    max = atomic_load(&pool->max_listen_queue);
    while (queue > max && !atomic_compare_exchange_weak(
                              &pool->max_listen_queue, &max, queue)) {
    }
}
