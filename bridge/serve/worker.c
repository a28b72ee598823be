/*
 * worker.c: the serving loop of a process.  Every serving thread waits in
 * epoll_wait on one set holding the listening socket, every connection
 * that is waiting for bytes (a new one whose request has not all arrived,
 * one kept open after a request, one answered and closing: conns.c, each
 * armed one-shot so exactly one thread takes it), and a wake eventfd.  A
 * connection holds a thread only while its request is served: a silent,
 * slow or kept connection waits in the set, at no cost, until its
 * deadline (socket-timeout, keepalive-timeout).
 *
 * Serving threads never see a process signal: every signal is blocked in
 * them and the main thread takes signals with sigtimedwait.  To stop, the
 * main thread writes the eventfd: each thread leaves as soon as it is back
 * in epoll_wait, so a request in progress always completes.
 *
 * Life in the pool: the worker says it is ready (scoreboard state IDLE)
 * once its threads can accept, and STOPPING as soon as it stops accepting,
 * whoever asked: the master (SIGTERM), or the worker itself after the
 * request that crossed max-requests or reload-on-rss (a serving thread
 * raises SIGUSR2 at its own process and pokes the master, which forks the
 * replacement at once).
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

#include "bridge/serve/serve.h"
#include "bridge/wire/wire.h"
#include "bridge/log.h"
#include "bridge/observe/observe.h"
#include "bridge/pool/pool.h"
#include "pyglue/pyglue.h"
#include "pyglue/threads_left.h"

/* Connections one thread may accept in a row before it looks at the kept
 * connections again. */
#define WORKER_ACCEPT_BURST 16

typedef struct {
    pthread_t tid;
    int index;
} worker_thread_t;

static int worker_epfd = -1;
static int worker_listen_fd = -1;
static int worker_wake_fd = -1;
static int worker_spare_fd = -1; /* given up when out of descriptors */
static atomic_int worker_alive;

/* Recycling: the config, this process's request limit (max-requests plus
 * its jitter), /proc/self/statm kept open for reload-on-rss, and why the
 * worker leaves (set once, by the thread that decides it). */
static const fw_worker_config_t *worker_conf;
static uint64_t worker_request_limit;
static int worker_statm_fd = -1;
static long worker_page_size = 4096;
static atomic_int worker_recycling;
static atomic_int worker_quitting; /* SIGQUIT: no last look */
/* A graceful stop: no more accepting; the connections with a request
 * under way are served to their end (or their deadline), then the
 * threads leave. */
static atomic_int worker_draining;
/* 0 once the listening socket left the epoll set (stop, recycling): no
 * thread accepts directly any more. */
static atomic_int worker_accepting = 1;
static char worker_recycle_reason[128];

static void worker_check_recycle(void);

/*
 * Serves what a connection has ready, as long as it has a request ready
 * (several when the web server pipelines them), then parks or closes it.
 */
static void
worker_drive(worker_thread_t *wt, fw_pyglue_thread_t *py, fw_conn_t *c,
             fw_conn_next_e next)
{
    while (next == FW_CONN_SERVE) {
        int page = fw_status_wants(&c->req);
        fw_pyglue_result_e res;

        fw_observe_request_begin(wt->index, &c->req);
        res = page ? fw_status_serve(&c->req) : fw_pyglue_handle(py, &c->req);
        fw_observe_request_end(wt->index, &c->req, !page);
        next = fw_conn_finish(c, res == FW_PYGLUE_ABORT, fw_conn_now_ms());
        worker_check_recycle();
    }
    if (next == FW_CONN_WAIT) {
        fw_conns_park(c);
    } else {
        fw_conns_close(c, NULL);
    }
}

/*
 * Out of descriptors: the oldest idle connection is closed to make room;
 * with none, the spare descriptor is given up for a moment to accept the
 * waiting connection and close it, so the queue does not spin epoll.
 */
static void
worker_out_of_fds(void)
{
    static _Atomic int64_t last_log;
    int64_t now = fw_conn_now_ms();
    int fd;

    if (fw_conns_evict_idle()) {
        return;
    }
    if (worker_spare_fd >= 0) {
        close(worker_spare_fd);
        worker_spare_fd = -1;
    }
    fd = accept(worker_listen_fd, NULL, NULL);
    if (fd >= 0) {
        close(fd);
    }
    worker_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (now - atomic_load(&last_log) >= 1000) {
        atomic_store(&last_log, now);
        fw_log(FW_LOG_WARN,
               "accept: out of descriptors with %d connections open, none "
               "idle: refused a connection",
               fw_conns_count());
    }
}

/* Accepts what is waiting on the listening socket and reads what it sent;
 * NULL if nothing was waiting (or it was refused). */
static fw_conn_t *
worker_accept(void)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(worker_listen_fd, (struct sockaddr *)&peer, &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd >= 0) {
        if (!fw_allow_check((struct sockaddr *)&peer, peer_len)) {
            close(fd);
            return NULL;
        }
        return fw_conns_open(fd);
    }
    switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
        break;
    case EMFILE:
    case ENFILE:
        worker_out_of_fds();
        break;
    default:
        fw_log(FW_LOG_ERROR, "accept: %s: pausing 100 ms", strerror(errno));
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        break;
    }
    return NULL;
}

/* This process's resident set in MiB, from /proc/self/statm; -1 if
 * unreadable. */
static long
worker_rss_mib(void)
{
    char buf[128];
    unsigned long size = 0, resident = 0;
    ssize_t n = pread(worker_statm_fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) {
        return -1;
    }
    return (long)(resident * (unsigned long)worker_page_size >> 20);
}

/*
 * After a request: when this process crossed max-requests or
 * reload-on-rss, the first thread to see it starts a graceful stop
 * (SIGUSR2 to its own process: the main thread stops accepting and waits
 * for the requests running) and pokes the master so the replacement is
 * forked at once.
 */
static void
worker_check_recycle(void)
{
    fw_score_worker_t *w;
    uint64_t served;
    long rss = -1;

    if (worker_conf == NULL || worker_conf->slot < 0) {
        return;
    }
    w = fw_scoreboard_worker(worker_conf->slot);
    served = atomic_load(&w->requests);
    if (worker_request_limit > 0 && served >= worker_request_limit) {
        if (atomic_exchange(&worker_recycling, 1) == 0) {
            snprintf(worker_recycle_reason, sizeof(worker_recycle_reason),
                     "max-requests: %llu requests served",
                     (unsigned long long)served);
            goto leave;
        }
        return;
    }
    if (worker_statm_fd >= 0 &&
        (rss = worker_rss_mib()) >= worker_conf->reload_on_rss) {
        if (atomic_exchange(&worker_recycling, 1) == 0) {
            snprintf(worker_recycle_reason, sizeof(worker_recycle_reason),
                     "reload-on-rss: RSS %ld MiB >= %d MiB", rss,
                     worker_conf->reload_on_rss);
            goto leave;
        }
    }
    return;

leave:
    /* this thread stops accepting now; the main thread does the rest */
    atomic_store(&worker_accepting, 0);
    epoll_ctl(worker_epfd, EPOLL_CTL_DEL, worker_listen_fd, NULL);
    kill(getpid(), SIGUSR2);
    if (worker_conf->master > 0 && getppid() == worker_conf->master) {
        kill(worker_conf->master, SIGUSR2);
    }
}

/*
 * A stopping thread's last look at the listening socket.  A connection
 * whose wake-up went to this process's epoll set just before the
 * listening socket left it would wait in the queue until the next
 * connection wakes another worker: take it (at most one per thread).
 * Such a wake-up needs a thread of this process waiting in epoll_wait;
 * a single-threaded worker that recycles itself left the set from its
 * only thread, which was busy: it looks no further (max-requests exact).
 */
static void
worker_last_look(worker_thread_t *wt, fw_pyglue_thread_t *py)
{
    fw_conn_t *c;

    if (atomic_load(&worker_quitting) ||
        (atomic_load(&worker_recycling) && worker_conf != NULL &&
         worker_conf->threads == 1)) {
        return;
    }
    c = worker_accept();
    if (c != NULL) {
        worker_drive(wt, py, c, fw_conn_advance(c, fw_conn_now_ms()));
    }
}

/*
 * During a graceful stop, each time round the loop: the thread's last look
 * at the listening socket (once), then kept connections with nothing under
 * way are closed and silent new ones given a short deadline; 1 when no
 * connection is left open, so the thread may leave.
 */
static int
worker_drained(worker_thread_t *wt, fw_pyglue_thread_t *py, int *looked)
{
    if (!*looked) {
        *looked = 1;
        worker_last_look(wt, py);
    }
    fw_conns_drain();
    if (fw_conns_count() > 0) {
        return 0;
    }
    /* the wake fd back in the set: every other thread sees it at once */
    epoll_ctl(worker_epfd, EPOLL_CTL_ADD, worker_wake_fd,
              &(struct epoll_event){.events = EPOLLIN,
                                    .data.u64 = FW_CONNS_EV_WAKE});
    return 1;
}

/*
 * One event of the epoll set: the wake eventfd (a stop began: it leaves
 * the set, so that the threads finishing the connections under way do not
 * spin on it; they look at worker_draining at least once a second), the
 * listening socket, or a parked connection.
 */
static void
worker_event(worker_thread_t *wt, fw_pyglue_thread_t *py, uint64_t tag)
{
    fw_conn_t *c;

    if (tag == FW_CONNS_EV_WAKE) {
        epoll_ctl(worker_epfd, EPOLL_CTL_DEL, worker_wake_fd, NULL);
        return;
    }
    if (tag == FW_CONNS_EV_LISTEN) {
        /*
         * Under load the next connection is usually waiting already: take
         * up to WORKER_ACCEPT_BURST in a row without going back to
         * epoll_wait (one system call less each), then let the kept
         * connections have their turn.
         */
        for (int burst = 0;
             burst < WORKER_ACCEPT_BURST && atomic_load(&worker_accepting);
             burst++) {
            c = worker_accept();
            if (c == NULL) {
                return;
            }
            worker_drive(wt, py, c, fw_conn_advance(c, fw_conn_now_ms()));
        }
        return;
    }
    c = fw_conns_take(tag);
    if (c != NULL) {
        worker_drive(wt, py, c, fw_conn_advance(c, fw_conn_now_ms()));
    }
}

static void *
worker_thread_main(void *arg)
{
    worker_thread_t *wt = arg;
    fw_pyglue_thread_t *py;
    int looked = 0;

    py = fw_pyglue_thread_attach();
    if (py == NULL) {
        fw_log(FW_LOG_ERROR, "thread %d: cannot attach to Python", wt->index);
        atomic_fetch_sub(&worker_alive, 1);
        return NULL;
    }

    for (;;) {
        struct epoll_event ev;
        int n;

        if (atomic_load(&worker_quitting) ||
            (atomic_load(&worker_draining) &&
             worker_drained(wt, py, &looked))) {
            break;
        }
        n = epoll_wait(worker_epfd, &ev, 1, fw_conns_sweep());
        if (n < 0 && errno != EINTR) {
            fw_log(FW_LOG_ERROR, "epoll_wait: %s: thread %d stops",
                   strerror(errno), wt->index);
            break;
        }
        if (n > 0) {
            worker_event(wt, py, ev.data.u64);
        }
    }

    fw_pyglue_thread_detach(py);
    atomic_fetch_sub(&worker_alive, 1);
    return NULL;
}

/*
 * The epoll set, the wake eventfd and a non-blocking listening socket.
 * EPOLLEXCLUSIVE: of several worker processes, one is woken per
 * connection.  0 or -1 after logging.
 */
static int
worker_poll_setup(int listen_fd)
{
    struct epoll_event ev;
    int flags;

    worker_listen_fd = listen_fd;
    flags = fcntl(listen_fd, F_GETFL);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        fw_log(FW_LOG_ERROR, "listening socket: fcntl: %s", strerror(errno));
        return -1;
    }
    worker_epfd = epoll_create1(EPOLL_CLOEXEC);
    worker_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (worker_epfd < 0 || worker_wake_fd < 0) {
        fw_log(FW_LOG_ERROR, "epoll/eventfd: %s", strerror(errno));
        return -1;
    }

    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = FW_CONNS_EV_LISTEN;
    if (epoll_ctl(worker_epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
        fw_log(FW_LOG_ERROR, "epoll_ctl(listening socket): %s",
               strerror(errno));
        return -1;
    }
    ev.events = EPOLLIN; /* level-triggered: once written, wakes all */
    ev.data.u64 = FW_CONNS_EV_WAKE;
    if (epoll_ctl(worker_epfd, EPOLL_CTL_ADD, worker_wake_fd, &ev) < 0) {
        fw_log(FW_LOG_ERROR, "epoll_ctl(eventfd): %s", strerror(errno));
        return -1;
    }
    return 0;
}

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

/*
 * Recycling limits of this process: max-requests plus a random 0..delta
 * (so that workers started together do not all leave together), and
 * /proc/self/statm kept open for reload-on-rss.
 */
static void
worker_recycle_setup(const fw_worker_config_t *wc)
{
    long page = sysconf(_SC_PAGESIZE);

    worker_conf = wc;
    worker_page_size = page > 0 ? page : 4096;
    worker_request_limit = 0;
    if (wc->max_requests > 0) {
        unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
        int jitter = wc->max_requests_delta > 0
                         ? rand_r(&seed) % (wc->max_requests_delta + 1)
                         : 0;

        worker_request_limit = (uint64_t)wc->max_requests + (uint64_t)jitter;
    }
    if (wc->reload_on_rss > 0) {
        worker_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (worker_statm_fd < 0) {
            fw_log(FW_LOG_WARN, "reload-on-rss: /proc/self/statm: %s",
                   strerror(errno));
        }
    }
}

/* The scoreboard slot's state, when the worker has a slot. */
static void
worker_set_state(const fw_worker_config_t *wc, int state)
{
    if (wc->slot >= 0 && fw_scoreboard_pool() != NULL) {
        atomic_store(&fw_scoreboard_worker(wc->slot)->state, state);
    }
}

/* The process's serving state: epoll set, connection table, connection
 * limits, the spare descriptor.  0 or 1 (logged). */
static int
worker_setup(const fw_worker_config_t *wc, sigset_t *waited)
{
    worker_signals_block(waited);
    worker_recycle_setup(wc);
    fw_observe_worker_start();
    if (worker_poll_setup(wc->listen_fd) < 0 ||
        fw_conns_setup(worker_epfd) < 0) {
        return 1;
    }
    worker_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fw_conn_setup(&(fw_conn_conf_t){
        .socket_timeout = wc->socket_timeout,
        .keepalive_timeout = wc->keepalive_timeout,
        .buffer_size = wc->buffer_size,
        .limit_post = wc->limit_post,
        .post_buffering = wc->post_buffering,
        .max_conns = fw_conns_max(),
        .max_reqs = wc->max_reqs,
        .force_authorizer = wc->force_authorizer,
    });
    return 0;
}

/* Starts the serving threads; how many started (all, or fewer after
 * logging). */
static int
worker_threads_start(worker_thread_t *threads, int count)
{
    for (int i = 0; i < count; i++) {
        threads[i].index = i;
        atomic_fetch_add(&worker_alive, 1);
        if (pthread_create(&threads[i].tid, NULL, worker_thread_main,
                           &threads[i]) != 0) {
            atomic_fetch_sub(&worker_alive, 1);
            fw_log(FW_LOG_ERROR, "cannot start thread %d", i);
            return i;
        }
    }
    return count;
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
        /* raised by a serving thread (worker_check_recycle) */
        if (atomic_load(&worker_recycling)) {
            fw_log(FW_LOG_INFO, "%s: recycling (graceful stop)",
                   worker_recycle_reason);
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
            if (atomic_load(&worker_alive) == 0) {
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
    atomic_store(&worker_accepting, 0);
    epoll_ctl(worker_epfd, EPOLL_CTL_DEL, worker_listen_fd, NULL);
    worker_set_state(wc, FW_WORKER_STOPPING);
    atomic_store(&worker_quitting, !graceful);
    atomic_store(&worker_draining, graceful);
    (void)!write(worker_wake_fd, &(uint64_t){1}, sizeof(uint64_t));
}

/* Waits, up to shutdown-timeout, for the serving threads to finish what
 * is under way, counting the time in *waited_ms; 1 when they all left, 0
 * when the wait was cut short. */
static int
worker_wait_threads(const fw_worker_config_t *wc, const sigset_t *waited,
                    long *waited_ms)
{
    while (atomic_load(&worker_alive) > 0) {
        if (*waited_ms >= (long)wc->shutdown_timeout * 1000) {
            fw_log(FW_LOG_WARN,
                   "%d serving thread(s) still running after %d s: "
                   "stopping anyway",
                   atomic_load(&worker_alive), wc->shutdown_timeout);
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
    worker_thread_t *threads;
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
    started = worker_threads_start(threads, wc->threads);
    if (started < wc->threads) {
        status = 1;
    } else {
        verdict = worker_wait_stop(wc, &waited, &status);
    }

    worker_stop_accepting(wc, verdict == WORKER_STOP_GRACEFUL);
    if (verdict == WORKER_STOP_NOW) {
        free(threads);
        /* the caller exits without finalising Python */
        return worker_leave(wc, 0, 0, 0);
    }
    if (!worker_wait_threads(wc, &waited, &waited_ms)) {
        free(threads);
        return worker_leave(wc, waited_ms, 0, status);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].tid, NULL);
    }
    free(threads);
    return worker_leave(wc, waited_ms, 1, status);
}
