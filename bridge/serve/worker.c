/*
 * worker.c: a serving process's main thread: it sets the process up,
 * starts the serving threads (loop.c), then only waits for signals and
 * stops the threads.
 *
 * Serving threads never see a process signal: every signal is blocked in
 * them and the main thread takes signals with sigtimedwait.  To stop, the
 * main thread wakes the threads (fw_loop_wake): each leaves as soon as it
 * is back in epoll_wait, so a request in progress always completes.
 *
 * Life in the pool: the worker says it is ready (scoreboard state IDLE)
 * once its threads can accept, and STOPPING as soon as it stops accepting,
 * whoever asked: the master (SIGTERM), or the worker itself after the
 * request that crossed max-requests or reload-on-rss (recycle.c: a serving
 * thread raises SIGUSR2 at its own process and pokes the master, which
 * forks the replacement at once).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/serve/serve_int.h"
#include "bridge/wire/wire.h"
#include "bridge/log.h"
#include "bridge/observe/observe.h"
#include "bridge/pool/pool.h"
#include "pyglue/pyglue.h"
#include "pyglue/threads_left.h"

/* Blocks, in this thread and so in every thread it creates, each signal
 * the process reacts to; the main thread takes them with sigtimedwait. */
static void
worker_signals_block(sigset_t *waited)
{
    sigemptyset(waited);
    sigaddset(waited, SIGTERM);
    sigaddset(waited, SIGINT);
    sigaddset(waited, SIGQUIT);
    sigaddset(waited, SIGHUP);
    sigaddset(waited, SIGUSR1);
    sigaddset(waited, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, waited, NULL);
}

/* The scoreboard slot's state, when the worker has a slot. */
static void
worker_set_state(const fw_worker_config_t *wc, int state)
{
    if (wc->slot >= 0 && fw_scoreboard_pool() != NULL) {
        atomic_store(&fw_scoreboard_worker(wc->slot)->state, state);
    }
}

/* The block that sets glibc's thresholds (worker_malloc_seed). */
#define WORKER_MALLOC_SEED (2 * 1024 * 1024)

/*
 * glibc hands the free top of a heap back to the kernel (madvise) once it
 * passes 128 KiB.  A Django request holds its body in reference cycles
 * until a garbage collection frees a batch of them at once: the top is
 * handed back, and every request after faults the pages of its body in
 * again: 14 page faults, some 30 us, per 64 KiB POST, measured.  glibc
 * raises both thresholds by itself once a mapped block is freed (mapping
 * threshold to its size, trimming threshold to twice that; mallopt(3)),
 * and setting them with mallopt would stop that adaptation.  So the
 * worker frees one 2 MiB block at its start, as if it had served a 2 MiB
 * body: blocks under 2 MiB are then reused, a free top of up to 4 MiB is
 * kept, and larger blocks raise the thresholds as they always did.
 */
static void
worker_malloc_seed(void)
{
    void *volatile seed = malloc(WORKER_MALLOC_SEED); /* not elided */

    free(seed);
}

/* The process's serving state: epoll set, connection table, connection
 * limits, the spare descriptor.  0 or 1 (logged). */
static int
worker_setup(const fw_worker_config_t *wc, sigset_t *waited)
{
    int epfd;

    worker_signals_block(waited);
    worker_malloc_seed();
    fw_recycle_setup(wc);
    fw_observe_worker_start();
    epfd = fw_loop_setup(wc);
    if (epfd < 0 || fw_conns_setup(epfd) < 0) {
        return 1;
    }
    fw_accept_setup(wc->listen_fd);
    fw_conn_setup(&(fw_conn_conf_t){
        .socket_timeout = wc->socket_timeout,
        .keepalive_timeout = wc->keepalive_timeout,
        .sndbuf = wc->socket_sndbuf,
        .buffer_size = wc->buffer_size,
        .limit_post = wc->limit_post,
        .post_buffering = wc->post_buffering,
        .max_conns = fw_conns_max(),
        .max_reqs = wc->max_reqs,
        .force_authorizer = wc->force_authorizer,
        .disable_sendfile = wc->disable_sendfile,
    });
    return 0;
}

/* What a signal taken by the main thread asks of the worker. */
typedef enum {
    WORKER_GO_ON,
    WORKER_STOP_GRACEFUL,
    WORKER_STOP_NOW,
} worker_verdict_e;

static worker_verdict_e
worker_signal(const fw_worker_config_t *wc, int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        fw_log(FW_LOG_INFO, "%s: graceful stop",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return WORKER_STOP_GRACEFUL;
    case SIGQUIT:
        fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
        return WORKER_STOP_NOW;
    case SIGUSR1:
        if (fw_log_open(wc->logto) < 0) {
            fw_log(FW_LOG_ERROR, "SIGUSR1: cannot reopen %s: %s", wc->logto,
                   strerror(errno));
        } else {
            fw_log(FW_LOG_INFO, "SIGUSR1: log reopened");
        }
        fw_observe_reopen();
        return WORKER_GO_ON;
    case SIGUSR2:
        /* raised by a serving thread (fw_recycle_announce) */
        if (fw_recycle_started()) {
            fw_log(FW_LOG_INFO, "%s: recycling (graceful stop)",
                   fw_recycle_reason());
            return WORKER_STOP_GRACEFUL;
        }
        return WORKER_GO_ON;
    case SIGHUP:
        return WORKER_GO_ON; /* the master reloads; a worker has nothing to do
                              */
    default:
        fw_log(FW_LOG_INFO, "signal %d ignored", sig);
        return WORKER_GO_ON;
    }
}

/* Waits for a stop signal, acting on the others; every serving thread
 * gone counts as a stop with status 1. */
static worker_verdict_e
worker_wait_stop(const fw_worker_config_t *wc, const sigset_t *waited,
                 int *status)
{
    for (;;) {
        int sig = sigtimedwait(waited, NULL, &(struct timespec){1, 0});
        worker_verdict_e v;

        if (sig < 0) {
            if (fw_loop_alive() == 0) {
                fw_log(FW_LOG_ERROR, "every serving thread stopped");
                *status = 1;
                return WORKER_STOP_GRACEFUL;
            }
            continue;
        }
        v = worker_signal(wc, sig);
        if (v != WORKER_GO_ON) {
            return v;
        }
    }
}

/* Stops accepting and wakes every thread out of epoll_wait: to leave at
 * once (SIGQUIT) or after serving what is under way. */
static void
worker_stop_accepting(const fw_worker_config_t *wc, int graceful)
{
    fw_loop_stop_accepting();
    worker_set_state(wc, FW_WORKER_STOPPING);
    fw_loop_wake(graceful);
}

/* Waits, up to shutdown-timeout, for the serving threads to finish what
 * is under way, counting the time in *waited_ms; 1 when they all left, 0
 * when the wait was cut short. */
static int
worker_wait_threads(const fw_worker_config_t *wc, const sigset_t *waited,
                    long *waited_ms)
{
    while (fw_loop_alive() > 0) {
        if (*waited_ms >= (long)wc->shutdown_timeout * 1000) {
            fw_log(FW_LOG_WARN,
                   "%d serving thread(s) still running after %d s: "
                   "stopping anyway",
                   fw_loop_alive(), wc->shutdown_timeout);
            return 0;
        }
        if (sigtimedwait(waited, NULL, &(struct timespec){0, 50000000L}) ==
            SIGQUIT) {
            fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
            return 0;
        }
        /* a request that began meanwhile marked the slot busy again */
        worker_set_state(wc, FW_WORKER_STOPPING);
        *waited_ms += 50;
    }
    return 1;
}

/*
 * After the serving threads: the application's non-daemon threads get
 * what is left of shutdown-timeout (Python's finalisation would wait for
 * them for ever); Python is finalised unless some still run, then the
 * capture logs what is left.  Returns status.
 */
static int
worker_leave(const fw_worker_config_t *wc, long waited_ms, int finalise,
             int status)
{
    if (finalise &&
        fw_pyglue_threads_wait((long)wc->shutdown_timeout * 1000 - waited_ms,
                               "worker-shutdown-timeout, uWSGI's "
                               "worker-reload-mercy") == 0) {
        fw_pyglue_stop();
    }
    fw_observe_worker_stop();
    return status;
}

int
fw_worker_run(const fw_worker_config_t *wc)
{
    fw_loop_thread_t *threads;
    sigset_t waited;
    int started, status = 0;
    long waited_ms = 0;
    worker_verdict_e verdict = WORKER_STOP_GRACEFUL;

    if (worker_setup(wc, &waited) != 0) {
        return worker_leave(wc, 0, 0, 1);
    }
    threads = calloc((size_t)wc->threads, sizeof(*threads));
    if (threads == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return worker_leave(wc, 0, 0, 1);
    }

    /* Ready: the listening socket is in the epoll set, so connections
     * queue for the threads starting now. */
    worker_set_state(wc, FW_WORKER_IDLE);
    fw_log(FW_LOG_INFO, "ready: accepting with %d thread(s)", wc->threads);
    started = fw_loop_start(threads, wc->threads);
    if (started < wc->threads) {
        status = 1;
    } else {
        verdict = worker_wait_stop(wc, &waited, &status);
    }

    worker_stop_accepting(wc, verdict == WORKER_STOP_GRACEFUL);
    /* While a serving thread may still run, threads stays allocated (each
     * thread's record, its lead.c part among them): the process exits
     * right after, without joining them. */
    if (verdict == WORKER_STOP_NOW) {
        /* the caller exits without finalising Python */
        return worker_leave(wc, 0, 0, 0);
    }
    if (!worker_wait_threads(wc, &waited, &waited_ms)) {
        return worker_leave(wc, waited_ms, 0, status);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].tid, NULL);
    }
    free(threads);
    return worker_leave(wc, waited_ms, 1, status);
}
