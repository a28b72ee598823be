/*
 * scoreboard.c: the shared memory of scoreboard.h.  One anonymous shared
 * mapping made before the first fork; the serving threads' hooks only
 * store into their own request slot.
 */
/* MAP_ANONYMOUS is not in POSIX.1-2008. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bridge/log.h"
#include "bridge/scoreboard.h"

static fw_score_pool_t *score_pool;
static fw_score_worker_t *score_workers;
static fw_score_request_t *score_requests;
static int score_self = -1;

int
fw_scoreboard_create(int max_workers, int threads)
{
    size_t size = sizeof(fw_score_pool_t) +
                  (size_t)max_workers * sizeof(fw_score_worker_t) +
                  (size_t)max_workers * (size_t)threads *
                      sizeof(fw_score_request_t);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct timespec now;

    if (mem == MAP_FAILED) {
        fw_log(FW_LOG_ERROR, "scoreboard: mmap %zu bytes: %s", size,
               strerror(errno));
        return -1;
    }
    score_pool = mem;
    score_workers = (fw_score_worker_t *)(score_pool + 1);
    score_requests = (fw_score_request_t *)(score_workers + max_workers);
    clock_gettime(CLOCK_REALTIME, &now);
    score_pool->start_time = (uint64_t)now.tv_sec;
    score_pool->max_workers = max_workers;
    score_pool->threads = threads;
    return 0;
}

fw_score_pool_t *
fw_scoreboard_pool(void)
{
    return score_pool;
}

fw_score_worker_t *
fw_scoreboard_worker(int index)
{
    return &score_workers[index];
}

fw_score_request_t *
fw_scoreboard_request(int index, int thread)
{
    return &score_requests[index * score_pool->threads + thread];
}

void
fw_scoreboard_set_self(int index)
{
    score_self = index;
}

static uint64_t
score_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Copies the value of param `name` (NUL-terminated, cut to size). */
static void
score_copy_param(char *dst, size_t size, char **params, const char *name)
{
    size_t nlen = strlen(name);

    dst[0] = '\0';
    for (char **p = params; p != NULL && *p != NULL; p++) {
        if (strncmp(*p, name, nlen) == 0 && (*p)[nlen] == '=') {
            snprintf(dst, size, "%s", *p + nlen + 1);
            return;
        }
    }
}

void
fw_scoreboard_request_begin(int thread, char **params)
{
    fw_score_request_t *rq;
    fw_score_worker_t *w;

    if (score_pool == NULL || score_self < 0) {
        return;
    }
    w = &score_workers[score_self];
    rq = fw_scoreboard_request(score_self, thread);
    score_copy_param(rq->method, sizeof(rq->method), params,
                     "REQUEST_METHOD");
    score_copy_param(rq->uri, sizeof(rq->uri), params, "REQUEST_URI");
    rq->started_us = score_now_us();
    atomic_fetch_add(&rq->seq, 1);
    atomic_store(&rq->busy, 1);
    atomic_fetch_add(&score_pool->accepted, 1);
    if (atomic_fetch_add(&w->active, 1) == 0) {
        atomic_store(&w->state, FW_WORKER_BUSY);
    }
}

void
fw_scoreboard_request_end(int thread)
{
    fw_score_request_t *rq;
    fw_score_worker_t *w;

    if (score_pool == NULL || score_self < 0) {
        return;
    }
    w = &score_workers[score_self];
    rq = fw_scoreboard_request(score_self, thread);
    rq->last_duration_us = score_now_us() - rq->started_us;
    atomic_store(&rq->busy, 0);
    atomic_fetch_add(&w->requests, 1);
    if (atomic_fetch_sub(&w->active, 1) == 1) {
        int busy = FW_WORKER_BUSY;

        atomic_compare_exchange_strong(&w->state, &busy, FW_WORKER_IDLE);
    }
}
