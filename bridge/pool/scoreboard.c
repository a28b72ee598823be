/*
 * scoreboard.c: the shared memory of scoreboard.h.  One anonymous shared
 * mapping made before the first fork; the serving threads' hooks only
 * store into their own request slot and add to atomic counters.
 */
/* MAP_ANONYMOUS is not in POSIX.1-2008. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"

const uint64_t fw_scoreboard_bucket_le_us[FW_SCORE_BUCKETS] = {
    5000,   10000,   25000,   50000,   100000,  250000,
    500000, 1000000, 2500000, 5000000, 10000000};

static fw_score_pool_t *score_pool;
static fw_score_worker_t *score_workers;
static fw_score_request_t *score_requests;
static int score_self = -1;
/* Start of this thread's request, kept even without a scoreboard. */
static _Thread_local uint64_t score_thread_started_us;

int
fw_scoreboard_create(int max_workers, int threads)
{
    size_t size =
        sizeof(fw_score_pool_t) +
        (size_t)max_workers * sizeof(fw_score_worker_t) +
        (size_t)max_workers * (size_t)threads * sizeof(fw_score_request_t);
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
    score_pool->processes = max_workers;
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

/* Resets slot `index` for the calling process and marks it STARTING. */
static void
score_take(int index)
{
    fw_score_worker_t *w = &score_workers[index];
    struct timespec now;

    for (int t = 0; t < score_pool->threads; t++) {
        fw_score_request_t *rq = fw_scoreboard_request(index, t);

        atomic_store(&rq->busy, 0);
        atomic_store(&rq->last_duration_us, 0);
        rq->method[0] = '\0';
        rq->uri[0] = '\0';
    }
    clock_gettime(CLOCK_REALTIME, &now);
    w->started_at = (uint64_t)now.tv_sec;
    w->rss_kb = 0;
    atomic_store(&w->requests, 0);
    atomic_store(&w->active, 0);
    atomic_store(&w->pid, getpid());
    atomic_store(&w->state, FW_WORKER_STARTING);
    score_self = index;
}

void
fw_scoreboard_set_self(int index)
{
    if (score_pool == NULL || index < 0 || index >= score_pool->max_workers) {
        return;
    }
    score_take(index);
}

int
fw_scoreboard_claim(int threads)
{
    if (score_self >= 0) {
        return score_self; /* given by the master, which tracks its state */
    }
    if (score_pool == NULL && fw_scoreboard_create(1, threads) < 0) {
        return -1;
    }
    for (int i = 0; score_self < 0 && i < score_pool->max_workers; i++) {
        pid_t free_pid = 0;

        /* the pid is stored last when a slot is freed: 0 means free */
        if (atomic_compare_exchange_strong(&score_workers[i].pid, &free_pid,
                                           getpid())) {
            score_take(i);
        }
    }
    if (score_self < 0) {
        fw_log(FW_LOG_WARN, "scoreboard: no free slot for this worker: "
                            "it does not appear on the status page");
        return -1;
    }
    atomic_store(&score_workers[score_self].state, FW_WORKER_IDLE);
    return score_self;
}

void
fw_scoreboard_reap(void)
{
    if (score_pool == NULL) {
        return;
    }
    for (int i = 0; i < score_pool->max_workers; i++) {
        fw_score_worker_t *w = &score_workers[i];
        pid_t pid = atomic_load(&w->pid);
        int active;

        if (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH) {
            continue;
        }
        /* gone: nobody writes this slot until its pid is 0 again */
        active = atomic_exchange(&w->active, 0);
        if (active > 0) {
            atomic_fetch_sub(&score_pool->active_threads, active);
            atomic_fetch_sub(&score_pool->active_workers, 1);
        }
        for (int t = 0; t < score_pool->threads; t++) {
            atomic_store(&fw_scoreboard_request(i, t)->busy, 0);
        }
        atomic_store(&w->state, FW_WORKER_EMPTY);
        atomic_store(&w->pid, 0);
    }
}

uint64_t
fw_scoreboard_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Copies param p's value (p may be NULL: "") into dst as a C string of
 * fewer than size bytes, cut to fit; a NUL inside the value is stored as
 * '?' so that readers see the rest of it.
 */
static void
score_copy_param(char *dst, size_t size, const fw_param_t *p)
{
    size_t n = p != NULL ? p->value_len : 0;

    if (n > size - 1) {
        n = size - 1;
    }
    for (size_t i = 0; i < n; i++) {
        dst[i] = p->value[i] != '\0' ? p->value[i] : '?';
    }
    dst[n] = '\0';
}

/* Raises *max to value if it is lower. */
static void
score_raise(atomic_int *max, int value)
{
    int seen = atomic_load(max);

    while (seen < value && !atomic_compare_exchange_weak(max, &seen, value)) {
    }
}

void
fw_scoreboard_request_begin(int thread, const fw_request_t *r)
{
    fw_score_request_t *rq;
    fw_score_worker_t *w;

    score_thread_started_us = fw_scoreboard_now_us();
    if (score_pool == NULL || score_self < 0) {
        return;
    }
    w = &score_workers[score_self];
    rq = fw_scoreboard_request(score_self, thread);
    score_copy_param(rq->method, sizeof(rq->method),
                     FW_PARAM(r, "REQUEST_METHOD"));
    score_copy_param(rq->uri, sizeof(rq->uri), FW_PARAM(r, "REQUEST_URI"));
    atomic_store(&rq->started_us, score_thread_started_us);
    atomic_fetch_add(&rq->seq, 1);
    atomic_store(&rq->busy, 1);
    atomic_fetch_add(&score_pool->accepted, 1);
    atomic_fetch_add(&score_pool->active_threads, 1);
    if (atomic_fetch_add(&w->active, 1) == 0) {
        int idle = FW_WORKER_IDLE;

        atomic_compare_exchange_strong(&w->state, &idle, FW_WORKER_BUSY);
        score_raise(&score_pool->max_active,
                    atomic_fetch_add(&score_pool->active_workers, 1) + 1);
    }
}

uint64_t
fw_scoreboard_request_end(int thread)
{
    uint64_t duration = fw_scoreboard_now_us() - score_thread_started_us;
    fw_score_request_t *rq;
    fw_score_worker_t *w;

    if (score_pool == NULL || score_self < 0) {
        return duration;
    }
    w = &score_workers[score_self];
    rq = fw_scoreboard_request(score_self, thread);
    atomic_store(&rq->last_duration_us, duration);
    atomic_store(&rq->busy, 0);
    atomic_fetch_add(&w->requests, 1);
    atomic_fetch_sub(&score_pool->active_threads, 1);
    if (atomic_fetch_sub(&w->active, 1) == 1) {
        int busy = FW_WORKER_BUSY;

        atomic_compare_exchange_strong(&w->state, &busy, FW_WORKER_IDLE);
        atomic_fetch_sub(&score_pool->active_workers, 1);
    }
    return duration;
}

void
fw_scoreboard_count_response(int status, uint64_t duration_us)
{
    int bucket = 0;

    if (score_pool == NULL) {
        return;
    }
    while (bucket < FW_SCORE_BUCKETS &&
           duration_us > fw_scoreboard_bucket_le_us[bucket]) {
        bucket++;
    }
    atomic_fetch_add(&score_pool->duration_buckets[bucket], 1);
    atomic_fetch_add(&score_pool->duration_sum_us, duration_us);
    atomic_fetch_add(
        &score_pool
             ->responses[status >= 100 && status < 600 ? status / 100 : 0],
        1);
}

/* Copies a scoreboard string (a writer may be changing it) at buf+*used,
 * control characters as '?', while it fits before size. */
static void
score_copy_clean(char *buf, size_t *used, size_t size, const char *s,
                 size_t max)
{
    for (size_t i = 0; i < max && s[i] != '\0' && *used < size; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[(*used)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
}

size_t
fw_scoreboard_running(int index, char *buf, size_t size)
{
    fw_score_request_t *found = NULL;
    uint64_t seq;
    size_t used = 0;

    if (score_pool == NULL || index < 0 || index >= score_pool->max_workers) {
        return 0;
    }
    for (int t = 0; t < score_pool->threads; t++) {
        fw_score_request_t *rq = fw_scoreboard_request(index, t);

        if (atomic_load(&rq->busy)) {
            if (found != NULL) {
                return 0; /* several */
            }
            found = rq;
        }
    }
    if (found == NULL) {
        return 0;
    }
    seq = atomic_load(&found->seq);
    score_copy_clean(buf, &used, size, found->method, sizeof(found->method));
    if (used < size) {
        buf[used++] = ' ';
    }
    score_copy_clean(buf, &used, size, found->uri, sizeof(found->uri));
    /* the request ended (or another began) meanwhile: torn, say nothing */
    return atomic_load(&found->busy) && atomic_load(&found->seq) == seq ? used
                                                                        : 0;
}

uint64_t
fw_scoreboard_rss_kb(pid_t pid)
{
    char path[64], buf[128];
    unsigned long long size = 0, resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/statm", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) {
        return 0;
    }
    return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096) / 1024u;
}
