/*
 * harakiri.c: harakiri and slowlog (harakiri.h), run by the master on its
 * tick.  Each request is acted on once (its seq is remembered in the
 * scoreboard); each kill goes through the phases below, one step per
 * tick, so the master never sleeps here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/observe/observe.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"

typedef enum {
    KILL_NONE = 0, /* nothing under way for this slot */
    KILL_DUMPING,  /* dump signal sent; the next step at `at` */
    KILL_DRAINING, /* SIGTERM sent: other threads finish, until `at` */
    KILL_SENT      /* SIGKILL sent: the slot is freed once the pid is gone */
} kill_phase_e;

typedef struct {
    kill_phase_e phase;
    pid_t pid;   /* the worker it is about */
    uint64_t at; /* CLOCK_MONOTONIC µs of the next step */
} harakiri_kill_t;

static uint64_t harakiri_us;
static uint64_t slowlog_us;
static harakiri_kill_t *harakiri_kills; /* one per slot, master only */
static int harakiri_nkills;

void
fw_harakiri_configure(int harakiri, int slowlog)
{
    harakiri_us = harakiri > 0 ? (uint64_t)harakiri * 1000000u : 0;
    slowlog_us = slowlog > 0 ? (uint64_t)slowlog * 1000000u : 0;
}

int
fw_harakiri_enabled(void)
{
    return harakiri_us > 0 || slowlog_us > 0;
}

/* Sends sig to pid; logs a failure other than "already gone". */
static void
signal_worker(pid_t pid, int sig)
{
    if (kill(pid, sig) < 0 && errno != ESRCH) {
        fw_log(FW_LOG_ERROR, "harakiri: kill(%ld, %d): %s", (long)pid, sig,
               strerror(errno));
    }
}

/* Requests running on worker `index` that are still under the limit. */
static int
others_running(int index, uint64_t now)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();
    int n = 0;

    for (int t = 0; t < pool->threads; t++) {
        fw_score_request_t *rq = fw_scoreboard_request(index, t);
        uint64_t started = atomic_load(&rq->started_us);

        if (atomic_load(&rq->busy) &&
            (harakiri_us == 0 || now < started + harakiri_us)) {
            n++;
        }
    }
    return n;
}

/* The next step of a kill under way for slot index. */
static void
kill_step(int index, harakiri_kill_t *k, uint64_t now)
{
    int others;

    if (now < k->at && k->phase != KILL_DRAINING) {
        return;
    }
    switch (k->phase) {
    case KILL_DUMPING:
        others = others_running(index, now);
        if (others == 0) {
            signal_worker(k->pid, SIGKILL);
            k->phase = KILL_SENT;
            break;
        }
        fw_log(FW_LOG_WARN,
               "harakiri: worker %d pid %ld stops accepting; it is killed "
               "once its %d other request(s) finish (at most %llu s)",
               index + 1, (long)k->pid, others,
               (unsigned long long)(harakiri_us / 1000000u));
        signal_worker(k->pid, SIGTERM);
        k->phase = KILL_DRAINING;
        k->at = now + harakiri_us;
        break;
    case KILL_DRAINING:
        if (now >= k->at || others_running(index, now) == 0) {
            signal_worker(k->pid, SIGKILL);
            k->phase = KILL_SENT;
        }
        break;
    default:
        break;
    }
}

/*
 * Whether a request (its seq), running for `ran` µs, has passed
 * limit_us (0: off) and was not yet reported for it: *reported holds the
 * last seq reported, and is set to seq when the answer is yes.
 */
static int
passed_limit(uint64_t limit_us, uint64_t ran, uint64_t seq,
             atomic_uint_fast64_t *reported)
{
    if (limit_us == 0 || ran < limit_us || atomic_load(reported) == seq) {
        return 0;
    }
    atomic_store(reported, seq);
    return 1;
}

/*
 * "harakiri: worker 1 pid 42: GET /path running for 3.1 s (limit 3 s)"
 * and `tail`: the request line is copied from the slot (a writer may be
 * changing it).
 */
static void
log_passed(fw_log_level_e level, const char *what, const char *limit_name,
           uint64_t limit_us, int index, pid_t pid, fw_score_request_t *rq,
           uint64_t ran, const char *tail)
{
    char method[sizeof(rq->method)], uri[sizeof(rq->uri)];

    memcpy(method, rq->method, sizeof(method));
    method[sizeof(method) - 1] = '\0';
    memcpy(uri, rq->uri, sizeof(uri));
    uri[sizeof(uri) - 1] = '\0';
    fw_log(level,
           "%s: worker %d pid %ld: %s %s running for %.1f s (%s %llu s)%s",
           what, index + 1, (long)pid, method, uri, (double)ran / 1e6,
           limit_name, (unsigned long long)(limit_us / 1000000u), tail);
}

/*
 * Looks at the running requests of worker `index` (pid): starts a kill
 * for the first one past harakiri, logs (and dumps) those past slowlog.
 */
static void
check_worker(int index, pid_t pid, harakiri_kill_t *k, uint64_t now)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();
    int dumped = 0;

    for (int t = 0; t < pool->threads; t++) {
        fw_score_request_t *rq = fw_scoreboard_request(index, t);
        uint64_t seq, started, ran;

        if (!atomic_load(&rq->busy)) {
            continue;
        }
        seq = atomic_load(&rq->seq);
        started = atomic_load(&rq->started_us);
        ran = now > started ? now - started : 0;

        if (passed_limit(harakiri_us, ran, seq, &rq->harakiri_seq)) {
            log_passed(FW_LOG_ERROR, "harakiri", "limit", harakiri_us, index,
                       pid, rq, ran, ": its Python stacks follow");
            atomic_fetch_add(&pool->harakiri_kills, 1);
            signal_worker(pid, FW_HARAKIRI_DUMP_SIGNAL);
            k->phase = KILL_DUMPING;
            k->pid = pid;
            k->at = now + FW_HARAKIRI_DUMP_WAIT_US;
            return;
        }
        if (passed_limit(slowlog_us, ran, seq, &rq->slowlog_seq)) {
            log_passed(FW_LOG_WARN, "slowlog", "slowlog", slowlog_us, index,
                       pid, rq, ran,
                       dumped ? "" : ": its Python stacks follow");
            atomic_fetch_add(&pool->slow_requests, 1);
            if (!dumped) {
                signal_worker(pid, FW_HARAKIRI_DUMP_SIGNAL);
                dumped = 1;
            }
        }
    }
}

void
fw_harakiri_tick(void)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();
    uint64_t now;

    if (!fw_harakiri_enabled() || pool == NULL) {
        return;
    }
    if (harakiri_kills == NULL) {
        harakiri_kills =
            calloc((size_t)pool->max_workers, sizeof(*harakiri_kills));
        if (harakiri_kills == NULL) {
            fw_log(FW_LOG_ERROR, "harakiri: out of memory: not watching");
            harakiri_us = slowlog_us = 0;
            return;
        }
        harakiri_nkills = pool->max_workers;
    }
    now = fw_scoreboard_now_us();
    for (int i = 0; i < harakiri_nkills; i++) {
        harakiri_kill_t *k = &harakiri_kills[i];
        pid_t pid = atomic_load(&fw_scoreboard_worker(i)->pid);

        if (k->phase != KILL_NONE && k->pid != pid) {
            memset(k, 0, sizeof(*k)); /* that worker is gone */
        }
        if (pid <= 0) {
            continue;
        }
        if (k->phase != KILL_NONE) {
            kill_step(i, k, now);
        } else {
            check_worker(i, pid, k, now);
        }
    }
}
