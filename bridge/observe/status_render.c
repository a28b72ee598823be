/*
 * status_render.c: the status page in each format (observe.h), from a
 * snapshot only: plain text (php-fpm's layout), JSON and OpenMetrics.
 * Pure: reads no scoreboard, no clock, no socket, so the unit tests
 * drive it with a hand-filled snapshot and compare bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bridge/observe/observe.h"

/* Seconds from t to the snapshot's time; 0 when t is later. */
static uint64_t
since(const fw_status_snapshot_t *s, uint64_t t)
{
    return s->now > t ? s->now - t : 0;
}

/*
 * A value that may be unknown (negative): its digits in buf, or `unknown`
 * ("unknown" in plain text, "null" in JSON).
 */
static const char *
long_text(char *buf, size_t size, long value, const char *unknown)
{
    if (value < 0) {
        return unknown;
    }
    snprintf(buf, size, "%ld", value);
    return buf;
}

/* The status classes in the order they are shown, and their index in
 * fw_status_snapshot_t.responses. */
static const struct {
    const char *name;
    int index;
} status_classes[FW_STATUS_CLASSES] = {{"1xx", 1}, {"2xx", 2}, {"3xx", 3},
                                       {"4xx", 4}, {"5xx", 5}, {"other", 0}};

/* A bucket bound in µs as seconds: "0.005", "1.0", "10.0". */
static void
le_text(char *buf, size_t size, uint64_t us)
{
    int n = snprintf(buf, size, "%" PRIu64 ".%06" PRIu64, us / 1000000u,
                     us % 1000000u);

    while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.') {
        buf[--n] = '\0';
    }
}

/* Requests within bucket i's bound (cumulative, as Prometheus counts);
 * i == FW_STATUS_BUCKETS: all of them. */
static uint64_t
bucket_le(const fw_status_snapshot_t *s, int i)
{
    uint64_t n = 0;

    for (int b = 0; b <= i; b++) {
        n += s->buckets[b];
    }
    return n;
}

/* The string escaper of a format (fw_status_buf_plain, _json_str). */
typedef void (*put_str_pt)(fw_status_buf_t *b, const char *s);

/* A busy thread's request: `before`, its method, `between`, its URI, the
 * two escaped by put. */
static void
thread_request(fw_status_buf_t *b, const fw_status_thread_t *th,
               put_str_pt put, const char *before, const char *between)
{
    fw_status_buf_str(b, before);
    put(b, th->method);
    fw_status_buf_str(b, between);
    put(b, th->uri);
}

/* A plain-text key, padded to php-fpm's value column. */
#define KEY "%-22s "

/* "key: value", or "unknown" for a negative value. */
static void
plain_long(fw_status_buf_t *b, const char *key, long value)
{
    char digits[24];

    fw_status_buf_printf(b, KEY "%s\n", key,
                         long_text(digits, sizeof(digits), value, "unknown"));
}

static void
render_plain(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    fw_status_buf_printf(b, KEY, "pool:");
    fw_status_buf_plain(b, s->pool);
    fw_status_buf_printf(b, "\n" KEY, "start time:");
    fw_status_buf_time(b, s->start_time);
    fw_status_buf_printf(b, "\n" KEY "%" PRIu64 "\n",
                         "start since:", since(s, s->start_time));
    fw_status_buf_printf(b, KEY "%" PRIu64 "\n",
                         "accepted conn:", s->accepted);
    plain_long(b, "listen queue:", s->listen_queue);
    plain_long(b, "max listen queue:", s->max_listen_queue);
    plain_long(b, "listen queue len:", s->listen_queue_len);
    fw_status_buf_printf(b, KEY "%d\n", "idle processes:", s->idle_workers);
    fw_status_buf_printf(b, KEY "%d\n",
                         "active processes:", s->active_workers);
    fw_status_buf_printf(b, KEY "%d\n", "total processes:", s->total_workers);
    fw_status_buf_printf(b, KEY "%d\n",
                         "max active processes:", s->max_active_workers);
    fw_status_buf_printf(b, KEY "%" PRIu64 "\n",
                         "max children reached:", s->max_children_reached);
    fw_status_buf_printf(b, KEY "%" PRIu64 "\n",
                         "slow requests:", s->slow_requests);
    fw_status_buf_printf(b, KEY "%" PRIu64 "\n",
                         "harakiri kills:", s->harakiri_kills);
    fw_status_buf_printf(b, KEY "%d\n", "threads per process:", s->threads);
    for (int c = 0; c < FW_STATUS_CLASSES; c++) {
        char key[32];

        snprintf(key, sizeof(key), "responses %s:", status_classes[c].name);
        fw_status_buf_printf(b, KEY "%" PRIu64 "\n", key,
                             s->responses[status_classes[c].index]);
    }

    for (int i = 0; i < s->nworkers; i++) {
        const fw_status_worker_t *w = &s->workers[i];

        fw_status_buf_str(b, "\n************************\n");
        fw_status_buf_printf(b, KEY "%d\n", "worker:", w->number);
        fw_status_buf_printf(b, KEY "%ld\n", "pid:", (long)w->pid);
        fw_status_buf_printf(b, KEY "%s\n", "state:", w->state);
        fw_status_buf_printf(b, KEY, "start time:");
        fw_status_buf_time(b, w->started_at);
        fw_status_buf_printf(b, "\n" KEY "%" PRIu64 "\n",
                             "start since:", since(s, w->started_at));
        fw_status_buf_printf(b, KEY "%" PRIu64 "\n", "requests:", w->requests);
        if (w->rss_kb > 0) {
            fw_status_buf_printf(b, KEY "%" PRIu64 " kB\n", "rss:", w->rss_kb);
        } else {
            fw_status_buf_printf(b, KEY "unknown\n", "rss:");
        }
        for (int t = 0; t < s->threads; t++) {
            const fw_status_thread_t *th = &w->threads[t];

            fw_status_buf_printf(b, KEY "%d: %s", "thread:", t + 1,
                                 th->busy ? "busy" : "idle");
            if (th->busy) {
                thread_request(b, th, fw_status_buf_plain, ", ", " ");
                fw_status_buf_printf(b, " for %" PRIu64 " us",
                                     th->duration_us);
            }
            fw_status_buf_printf(b, ", last request %" PRIu64 " us\n",
                                 th->last_duration_us);
        }
    }
}

/* ,"key":value, or null for a negative value. */
static void
json_long(fw_status_buf_t *b, const char *key, long value)
{
    char digits[24];

    fw_status_buf_printf(b, ",\"%s\":%s", key,
                         long_text(digits, sizeof(digits), value, "null"));
}

/* ,"responses":{"1xx":N,...},"request_seconds_count":N,
 * "request_seconds_sum":S,"request_seconds_buckets":{"0.005":N,...}
 * (cumulative, as in OpenMetrics). */
static void
json_figures(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    char le[32];

    fw_status_buf_str(b, ",\"responses\":{");
    for (int c = 0; c < FW_STATUS_CLASSES; c++) {
        fw_status_buf_printf(b, "%s\"%s\":%" PRIu64, c > 0 ? "," : "",
                             status_classes[c].name,
                             s->responses[status_classes[c].index]);
    }
    fw_status_buf_printf(b,
                         "},\"request_seconds_count\":%" PRIu64
                         ",\"request_seconds_sum\":%" PRIu64 ".%06" PRIu64
                         ",\"request_seconds_buckets\":{",
                         bucket_le(s, FW_STATUS_BUCKETS),
                         s->duration_sum_us / 1000000u,
                         s->duration_sum_us % 1000000u);
    for (int i = 0; i < FW_STATUS_BUCKETS; i++) {
        le_text(le, sizeof(le), s->bucket_le_us[i]);
        fw_status_buf_printf(b, "\"%s\":%" PRIu64 ",", le, bucket_le(s, i));
    }
    fw_status_buf_printf(b, "\"+Inf\":%" PRIu64 "}",
                         bucket_le(s, FW_STATUS_BUCKETS));
}

static void
render_json(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    fw_status_buf_str(b, "{\"pool\":");
    fw_status_buf_json_str(b, s->pool);
    fw_status_buf_printf(b,
                         ",\"start_time\":%" PRIu64 ",\"start_since\":%" PRIu64
                         ",\"accepted_conn\":%" PRIu64,
                         s->start_time, since(s, s->start_time), s->accepted);
    json_long(b, "listen_queue", s->listen_queue);
    json_long(b, "max_listen_queue", s->max_listen_queue);
    json_long(b, "listen_queue_len", s->listen_queue_len);
    fw_status_buf_printf(
        b,
        ",\"idle_processes\":%d,\"active_processes\":%d"
        ",\"total_processes\":%d,\"max_active_processes\":%d"
        ",\"max_children_reached\":%" PRIu64 ",\"slow_requests\":%" PRIu64
        ",\"harakiri_kills\":%" PRIu64 ",\"threads_per_process\":%d",
        s->idle_workers, s->active_workers, s->total_workers,
        s->max_active_workers, s->max_children_reached, s->slow_requests,
        s->harakiri_kills, s->threads);
    json_figures(s, b);
    fw_status_buf_str(b, ",\"workers\":[");
    for (int i = 0; i < s->nworkers; i++) {
        const fw_status_worker_t *w = &s->workers[i];

        fw_status_buf_printf(
            b,
            "%s{\"worker\":%d,\"pid\":%ld,\"state\":\"%s\""
            ",\"start_time\":%" PRIu64 ",\"start_since\":%" PRIu64
            ",\"requests\":%" PRIu64,
            i > 0 ? "," : "", w->number, (long)w->pid, w->state, w->started_at,
            since(s, w->started_at), w->requests);
        if (w->rss_kb > 0) {
            fw_status_buf_printf(b, ",\"rss_bytes\":%" PRIu64,
                                 w->rss_kb * 1024u);
        } else {
            fw_status_buf_str(b, ",\"rss_bytes\":null");
        }
        fw_status_buf_str(b, ",\"threads\":[");
        for (int t = 0; t < s->threads; t++) {
            const fw_status_thread_t *th = &w->threads[t];

            fw_status_buf_printf(b, "%s{\"thread\":%d,\"state\":\"%s\"",
                                 t > 0 ? "," : "", t + 1,
                                 th->busy ? "busy" : "idle");
            if (th->busy) {
                thread_request(b, th, fw_status_buf_json_str,
                               ",\"request_method\":", ",\"request_uri\":");
            } else {
                fw_status_buf_str(
                    b, ",\"request_method\":null,\"request_uri\":null");
            }
            fw_status_buf_printf(b,
                                 ",\"request_duration_us\":%" PRIu64
                                 ",\"last_request_duration_us\":%" PRIu64 "}",
                                 th->duration_us, th->last_duration_us);
        }
        fw_status_buf_str(b, "]}");
    }
    fw_status_buf_str(b, "]}\n");
}

/* "# HELP name help\n# TYPE name type\n" */
static void
om_family(fw_status_buf_t *b, const char *name, const char *type,
          const char *help)
{
    fw_status_buf_printf(b, "# HELP fcgi_wsgi_%s %s\n# TYPE fcgi_wsgi_%s %s\n",
                         name, help, name, type);
}

/* "fcgi_wsgi_NAME{pool="..."" : the caller closes the labels. */
static void
om_sample(fw_status_buf_t *b, const fw_status_snapshot_t *s, const char *name)
{
    fw_status_buf_printf(b, "fcgi_wsgi_%s{pool=", name);
    fw_status_buf_label(b, s->pool);
}

/* A family of one sample for the whole pool. */
typedef struct {
    const char *name; /* a counter's sample is named with "_total" */
    const char *type; /* "gauge" or "counter" */
    const char *help;
    uint64_t value;
    int known; /* 0: the family is left out (cannot be read here) */
} om_pool_family_t;

static void
om_pool(fw_status_buf_t *b, const fw_status_snapshot_t *s,
        const om_pool_family_t *f)
{
    char sample[64];

    if (!f->known) {
        return;
    }
    om_family(b, f->name, f->type, f->help);
    snprintf(sample, sizeof(sample), "%s%s", f->name,
             strcmp(f->type, "counter") == 0 ? "_total" : "");
    om_sample(b, s, sample);
    fw_status_buf_printf(b, "} %" PRIu64 "\n", f->value);
}

/* "fcgi_wsgi_NAME{pool=...,worker=...,pid=..." : the caller closes. */
static void
om_worker(fw_status_buf_t *b, const fw_status_snapshot_t *s, const char *name,
          const fw_status_worker_t *w)
{
    om_sample(b, s, name);
    fw_status_buf_printf(b, ",worker=\"%d\",pid=\"%ld\"", w->number,
                         (long)w->pid);
}

/*
 * One gauge family of a sample per serving thread, in seconds with µs
 * precision: each thread's running request (last == 0) or its last
 * finished one (last == 1).
 */
static void
om_thread_seconds(fw_status_buf_t *b, const fw_status_snapshot_t *s,
                  const char *name, const char *help, int last)
{
    om_family(b, name, "gauge", help);
    for (int i = 0; i < s->nworkers; i++) {
        for (int t = 0; t < s->threads; t++) {
            const fw_status_thread_t *th = &s->workers[i].threads[t];
            uint64_t us = last ? th->last_duration_us : th->duration_us;

            om_worker(b, s, name, &s->workers[i]);
            fw_status_buf_printf(b,
                                 ",thread=\"%d\"} %" PRIu64 ".%06" PRIu64 "\n",
                                 t + 1, us / 1000000u, us % 1000000u);
        }
    }
}

/*
 * The application's finished requests: a histogram of their durations
 * (le buckets, _count, _sum) and a counter per status class (code="2xx").
 */
static void
om_figures(fw_status_buf_t *b, const fw_status_snapshot_t *s)
{
    char le[32];

    om_family(b, "request_seconds", "histogram",
              "How long the application took to answer a request (status "
              "and ping pages not counted).");
    for (int i = 0; i <= FW_STATUS_BUCKETS; i++) {
        if (i < FW_STATUS_BUCKETS) {
            le_text(le, sizeof(le), s->bucket_le_us[i]);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        om_sample(b, s, "request_seconds_bucket");
        fw_status_buf_printf(b, ",le=\"%s\"} %" PRIu64 "\n", le,
                             bucket_le(s, i));
    }
    om_sample(b, s, "request_seconds_count");
    fw_status_buf_printf(b, "} %" PRIu64 "\n",
                         bucket_le(s, FW_STATUS_BUCKETS));
    om_sample(b, s, "request_seconds_sum");
    fw_status_buf_printf(b, "} %" PRIu64 ".%06" PRIu64 "\n",
                         s->duration_sum_us / 1000000u,
                         s->duration_sum_us % 1000000u);
    om_family(b, "responses", "counter",
              "Responses of the application by status class (other: none "
              "was sent).");
    for (int c = 0; c < FW_STATUS_CLASSES; c++) {
        om_sample(b, s, "responses_total");
        fw_status_buf_printf(b, ",code=\"%s\"} %" PRIu64 "\n",
                             status_classes[c].name,
                             s->responses[status_classes[c].index]);
    }
}

static void
render_openmetrics(const fw_status_snapshot_t *s, fw_status_buf_t *b)
{
    int queue = s->listen_queue >= 0;
    const om_pool_family_t pool[] = {
        {"start_time_seconds", "gauge", "Unix time the pool started.",
         s->start_time, 1},
        {"accepted_connections", "counter",
         "Requests the pool began, status pages included.", s->accepted, 1},
        {"listen_queue", "gauge", "Connections waiting to be accepted.",
         (uint64_t)s->listen_queue, queue},
        {"listen_queue_max", "gauge",
         "Most connections seen waiting to be accepted.",
         (uint64_t)s->max_listen_queue, queue},
        {"listen_queue_length", "gauge",
         "Size of the listen queue (the backlog).",
         (uint64_t)s->listen_queue_len, queue},
        {"idle_processes", "gauge", "Workers with no request running.",
         (uint64_t)s->idle_workers, 1},
        {"active_processes", "gauge", "Workers with a request running.",
         (uint64_t)s->active_workers, 1},
        {"total_processes", "gauge", "Workers alive.",
         (uint64_t)s->total_workers, 1},
        {"max_active_processes", "gauge",
         "Most workers with a request running at once.",
         (uint64_t)s->max_active_workers, 1},
        {"max_children_reached", "counter",
         "Times the pool needed more workers than max-children.",
         s->max_children_reached, 1},
        {"slow_requests", "counter", "Requests that ran longer than slowlog.",
         s->slow_requests, 1},
        {"harakiri", "counter",
         "Workers killed because a request ran longer than harakiri.",
         s->harakiri_kills, 1},
    };

    for (size_t i = 0; i < sizeof(pool) / sizeof(pool[0]); i++) {
        om_pool(b, s, &pool[i]);
    }
    om_figures(b, s);
    om_family(b, "worker_requests", "counter", "Requests a worker finished.");
    for (int i = 0; i < s->nworkers; i++) {
        om_worker(b, s, "worker_requests_total", &s->workers[i]);
        fw_status_buf_printf(b, "} %" PRIu64 "\n", s->workers[i].requests);
    }
    om_family(b, "worker_rss_bytes", "gauge", "Resident memory of a worker.");
    for (int i = 0; i < s->nworkers; i++) {
        if (s->workers[i].rss_kb == 0) {
            continue; /* unknown */
        }
        om_worker(b, s, "worker_rss_bytes", &s->workers[i]);
        fw_status_buf_printf(b, "} %" PRIu64 "\n",
                             s->workers[i].rss_kb * 1024u);
    }
    om_family(b, "worker_busy_threads", "gauge",
              "Threads of a worker running a request.");
    for (int i = 0; i < s->nworkers; i++) {
        int busy = 0;

        for (int t = 0; t < s->threads; t++) {
            busy += s->workers[i].threads[t].busy;
        }
        om_worker(b, s, "worker_busy_threads", &s->workers[i]);
        fw_status_buf_printf(b, "} %d\n", busy);
    }
    om_thread_seconds(b, s, "request_duration_seconds",
                      "How long the running request has run; 0 when idle.", 0);
    om_thread_seconds(b, s, "last_request_duration_seconds",
                      "How long the last finished request ran.", 1);
    fw_status_buf_str(b, "# EOF\n");
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
