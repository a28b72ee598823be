/*
 * scoreboard.h: what every worker is doing, in memory shared by the master
 * and its workers (mmap'd before the first fork, so it survives worker
 * deaths and is read by the master, the status page, harakiri and
 * slowlog).  One slot per worker process, one request slot per serving
 * thread.  Each field has one writer (named on it); readers tolerate a torn
 * string and never block a writer.
 */
#ifndef FW_SCOREBOARD_H
#define FW_SCOREBOARD_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyglue/gateway.h"

typedef enum {
    FW_WORKER_EMPTY = 0, /* no process in this slot */
    FW_WORKER_STARTING,  /* forked, not yet accepting */
    FW_WORKER_IDLE,      /* accepting; no thread serves a request */
    FW_WORKER_BUSY,      /* at least one thread serves a request */
    FW_WORKER_STOPPING   /* told to stop (stop, reload, recycling) */
} fw_worker_state_e;

typedef struct {
    /* written by the serving thread */
    atomic_int busy;                   /* 1 while a request runs */
    atomic_uint_fast64_t seq;          /* requests begun by this thread */
    _Atomic uint64_t started_us;       /* CLOCK_MONOTONIC µs, request start */
    _Atomic uint64_t last_duration_us; /* of the last finished request */
    char method[16];
    char uri[256]; /* REQUEST_URI (or SCRIPT_NAME+PATH_INFO) */
    /* written by the master */
    atomic_uint_fast64_t slowlog_seq;  /* seq already reported as slow */
    atomic_uint_fast64_t harakiri_seq; /* seq whose worker is being killed */
} fw_score_request_t;

typedef struct {
    /* written by the worker when it takes the slot, cleared by the master
     * (fw_scoreboard_reap) once the process is gone */
    _Atomic pid_t pid;   /* 0: the slot is free */
    atomic_int state;    /* fw_worker_state_e */
    uint64_t started_at; /* CLOCK_REALTIME seconds */
    uint64_t rss_kb;     /* sampled by the master from /proc */
    uint64_t generation; /* reload generation it was forked in */
    /* written by the worker's threads */
    atomic_uint_fast64_t requests; /* finished requests, all threads */
    atomic_int active;             /* threads serving a request now */
} fw_score_worker_t;

typedef struct {
    uint64_t start_time;           /* CLOCK_REALTIME s: the pool started */
    atomic_uint_fast64_t accepted; /* requests begun, status pages too */
    atomic_uint_fast64_t slow_requests;        /* by the master (slowlog) */
    atomic_uint_fast64_t harakiri_kills;       /* by the master (harakiri) */
    atomic_uint_fast64_t max_children_reached; /* by the master's pm */
    atomic_int max_active;                     /* most workers busy at once */
    atomic_int active_workers;    /* workers with a request running */
    atomic_int active_threads;    /* requests running, whole pool */
    atomic_long max_listen_queue; /* most connections seen waiting */
    int processes;                /* workers the pool is configured for */
    int max_workers;              /* slots */
    int threads;                  /* request slots per worker */
} fw_score_pool_t;

/*
 * Maps the shared scoreboard for max_workers slots of `threads` request
 * slots each.  Before the first fork.  0, or -1 after logging.
 */
int fw_scoreboard_create(int max_workers, int threads);

fw_score_pool_t *fw_scoreboard_pool(void);
fw_score_worker_t *fw_scoreboard_worker(int index);
fw_score_request_t *fw_scoreboard_request(int index, int thread);

/* In a worker after fork: which slot is mine (used by the hooks below).
 * Takes the slot over: pid, start time and counters are reset. */
void fw_scoreboard_set_self(int index);

/*
 * In a worker that was given no slot (fw_scoreboard_set_self was not
 * called): takes the first free one, and marks it idle (accepting).  A
 * worker running without a master and so without a scoreboard first makes
 * one of one slot of `threads` request slots.  Returns the slot index, or
 * -1 when there is no free slot (the hooks then do nothing).
 */
int fw_scoreboard_claim(int threads);

/* The calling worker's slot index, or -1. */
int fw_scoreboard_self(void);

/*
 * In the master, on each tick: frees the slots of workers that are gone
 * (their pid no longer exists), taking their running requests off the
 * pool's counts.  A new worker can only take a slot once it is free.
 */
void fw_scoreboard_reap(void);

/* Serving-thread hooks: around each request.  begin copies r's
 * REQUEST_METHOD and REQUEST_URI (by their length, cut to fit; a NUL
 * inside becomes '?') and reads nothing else of r.  end returns the
 * request's duration in µs (measured without a scoreboard too). */
void fw_scoreboard_request_begin(int thread, const fw_request_t *r);
uint64_t fw_scoreboard_request_end(int thread);

/* CLOCK_MONOTONIC in µs: the clock of started_us. */
uint64_t fw_scoreboard_now_us(void);

/* pid's resident set in KiB from /proc/PID/statm; 0 when unreadable. */
uint64_t fw_scoreboard_rss_kb(pid_t pid);

#endif /* FW_SCOREBOARD_H */
