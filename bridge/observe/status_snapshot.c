/*
 * status_snapshot.c: copies what the status page shows out of the
 * scoreboard (observe.h), so that the renderers work on a still picture
 * while workers go on writing.  Reads the scoreboard, /proc (a worker's
 * RSS) and the kernel (the listen queue); writes nothing shared.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/log.h"
#include "bridge/observe/observe.h"
#include "bridge/pool/pool.h"
#include "bridge/serve/serve.h"

_Static_assert(FW_STATUS_BUCKETS == FW_SCORE_BUCKETS &&
                   FW_STATUS_CLASSES == FW_SCORE_CLASSES,
               "the snapshot holds the scoreboard's histogram and classes");

static const char *const status_states[] = {"empty", "starting", "idle",
                                            "busy", "stopping"};

/* Copies a scoreboard string that a writer may be changing. */
static void
copy_torn(char *dst, const char *src, size_t size)
{
    memcpy(dst, src, size);
    dst[size - 1] = '\0';
}

/*
 * Copies one request slot without locking: when the request ended, or
 * another began, while it was read (seq moved), the thread shows idle
 * rather than a torn method and URI.
 */
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

/* The pool's counters, the duration histogram and the status classes. */
static void
snapshot_pool(fw_status_snapshot_t *s, fw_score_pool_t *pool)
{
    s->start_time = pool->start_time;
    s->accepted = atomic_load(&pool->accepted);
    s->max_active_workers = atomic_load(&pool->max_active);
    s->max_children_reached = atomic_load(&pool->max_children_reached);
    s->slow_requests = atomic_load(&pool->slow_requests);
    s->harakiri_kills = atomic_load(&pool->harakiri_kills);
    s->threads = pool->threads;
    for (int i = 0; i < FW_STATUS_BUCKETS; i++) {
        s->bucket_le_us[i] = fw_scoreboard_bucket_le_us[i];
    }
    for (int i = 0; i <= FW_STATUS_BUCKETS; i++) {
        s->buckets[i] = atomic_load(&pool->duration_buckets[i]);
    }
    s->duration_sum_us = atomic_load(&pool->duration_sum_us);
    for (int i = 0; i < FW_STATUS_CLASSES; i++) {
        s->responses[i] = atomic_load(&pool->responses[i]);
    }
}

/* The listening socket's queue as the kernel tells it (-1: it does not),
 * and the largest seen. */
static void
snapshot_queue(fw_status_snapshot_t *s, fw_score_pool_t *pool, int listen_fd)
{
    long queue, backlog;

    s->listen_queue = s->max_listen_queue = s->listen_queue_len = -1;
    if (fw_listen_queue(listen_fd, &queue, &backlog) == 0) {
        long max = atomic_load(&pool->max_listen_queue);

        s->listen_queue = queue;
        s->listen_queue_len = backlog;
        s->max_listen_queue = queue > max ? queue : max;
    }
}

/*
 * Worker slot i, when it holds a live worker: appended to s->workers with
 * each of its threads, and counted by state.  0, or -1 (out of memory).
 */
static int
snapshot_worker(fw_status_snapshot_t *s, int i, uint64_t now_us)
{
    fw_score_worker_t *w = fw_scoreboard_worker(i);
    fw_status_worker_t *out = &s->workers[s->nworkers];
    pid_t pid = atomic_load(&w->pid);
    int state = atomic_load(&w->state);

    if (pid <= 0 || state <= FW_WORKER_EMPTY || state > FW_WORKER_STOPPING) {
        return 0;
    }
    out->threads = calloc((size_t)s->threads, sizeof(*out->threads));
    if (out->threads == NULL) {
        return -1;
    }
    out->number = i + 1;
    out->pid = pid;
    out->state = status_states[state];
    out->started_at = w->started_at;
    out->requests = atomic_load(&w->requests);
    /* sampled by the master every second; read it now until then */
    out->rss_kb = w->rss_kb != 0 ? w->rss_kb : fw_scoreboard_rss_kb(pid);
    for (int t = 0; t < s->threads; t++) {
        snapshot_thread(&out->threads[t], fw_scoreboard_request(i, t), now_us);
    }
    s->nworkers++;
    s->total_workers++;
    if (state == FW_WORKER_BUSY) {
        s->active_workers++;
    } else if (state == FW_WORKER_IDLE) {
        s->idle_workers++;
    }
    return 0;
}

int
fw_status_snapshot_take(fw_status_snapshot_t *s, const char *pool_name,
                        int listen_fd)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();
    uint64_t now_us = fw_scoreboard_now_us();

    memset(s, 0, sizeof(*s));
    if (pool == NULL) {
        fw_log(FW_LOG_ERROR, "status: no scoreboard");
        return -1;
    }
    s->pool = pool_name;
    s->now = (uint64_t)time(NULL);
    snapshot_pool(s, pool);
    snapshot_queue(s, pool, listen_fd);
    s->workers = calloc((size_t)pool->max_workers, sizeof(*s->workers));
    if (s->workers == NULL) {
        goto oom;
    }
    for (int i = 0; i < pool->max_workers; i++) {
        if (snapshot_worker(s, i, now_us) < 0) {
            goto oom;
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
