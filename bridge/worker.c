/*
 * worker.c: the accept loop.  Serving threads never see a process signal:
 * every signal is blocked in them, and the main thread takes signals with
 * sigtimedwait.  To stop, the main thread sets worker_stopping and wakes
 * idle threads out of accept() with FW_WAKE_SIGNAL, which a thread unblocks
 * only while it waits in accept(): a request in progress is never
 * interrupted (libfcgi treats EINTR as a broken connection).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/fcgi_io.h"
#include "bridge/log.h"
#include "bridge/worker.h"
#include "pyglue/pyglue.h"

#define FW_WAKE_SIGNAL SIGRTMIN
#define FW_WAKE_INTERVAL_MS 100

typedef struct {
    pthread_t tid;
    int index;
    int listen_fd;
} worker_thread_t;

static atomic_int worker_stopping;
static atomic_int worker_alive;

static void
worker_wake_handler(int signo)
{
    (void)signo; /* only interrupts accept() */
}

/* Runs one request on an accepted connection; closes the connection. */
static void
worker_serve(fw_fcgi_conn_t *conn, fw_pyglue_thread_t *py, int fd)
{
    fw_pyglue_result_e res;

    if (fw_fcgi_io_begin(conn, fd) < 0) {
        return;
    }
    res = fw_pyglue_handle(py, &conn->req);
    fw_fcgi_io_end(conn, res == FW_PYGLUE_ABORT);
}

static void *
worker_thread_main(void *arg)
{
    worker_thread_t *wt = arg;
    fw_fcgi_conn_t conn;
    fw_pyglue_thread_t *py;
    sigset_t wake;

    sigemptyset(&wake);
    sigaddset(&wake, FW_WAKE_SIGNAL);

    fw_fcgi_io_init(&conn);
    py = fw_pyglue_thread_attach();
    if (py == NULL) {
        fw_log(FW_LOG_ERROR, "thread %d: cannot attach to Python",
               wt->index);
        atomic_fetch_sub(&worker_alive, 1);
        return NULL;
    }

    while (!atomic_load(&worker_stopping)) {
        int fd;

        pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
        fd = accept(wt->listen_fd, NULL, NULL);
        pthread_sigmask(SIG_BLOCK, &wake, NULL);

        if (fd < 0) {
            switch (errno) {
            case EINTR:
            case ECONNABORTED:
            case EAGAIN:
            case EPROTO:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                fw_log(FW_LOG_ERROR, "accept: %s: retrying in 100 ms",
                       strerror(errno));
                nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
                continue;
            default:
                fw_log(FW_LOG_ERROR, "accept: %s: thread %d stops",
                       strerror(errno), wt->index);
                goto done;
            }
        }
        worker_serve(&conn, py, fd);
    }

done:
    fw_pyglue_thread_detach(py);
    atomic_fetch_sub(&worker_alive, 1);
    return NULL;
}

/*
 * Blocks every signal this process reacts to, in the calling thread and so
 * in every thread it creates; installs the wake handler (no SA_RESTART, so
 * accept() returns EINTR).
 */
static int
worker_signals_setup(sigset_t *waited)
{
    struct sigaction sa;
    sigset_t all;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = worker_wake_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(FW_WAKE_SIGNAL, &sa, NULL) < 0) {
        fw_log(FW_LOG_ERROR, "sigaction: %s", strerror(errno));
        return -1;
    }

    sigemptyset(waited);
    sigaddset(waited, SIGTERM);
    sigaddset(waited, SIGINT);
    sigaddset(waited, SIGQUIT);
    sigaddset(waited, SIGHUP);
    sigaddset(waited, SIGUSR1);
    sigaddset(waited, SIGUSR2);

    all = *waited;
    sigaddset(&all, FW_WAKE_SIGNAL);
    return pthread_sigmask(SIG_BLOCK, &all, NULL) == 0 ? 0 : -1;
}

static void
worker_wake_all(worker_thread_t *threads, int n)
{
    for (int i = 0; i < n; i++) {
        pthread_kill(threads[i].tid, FW_WAKE_SIGNAL);
    }
}

int
fw_worker_run(const fw_worker_config_t *wc)
{
    worker_thread_t *threads;
    sigset_t waited;
    struct timespec tick = {0, FW_WAKE_INTERVAL_MS * 1000000L};
    int started = 0, status = 0, graceful = 1;
    long waited_ms = 0;

    if (worker_signals_setup(&waited) < 0) {
        return 1;
    }

    threads = calloc((size_t)wc->threads, sizeof(*threads));
    if (threads == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return 1;
    }

    atomic_store(&worker_stopping, 0);
    for (int i = 0; i < wc->threads; i++) {
        threads[i].index = i;
        threads[i].listen_fd = wc->listen_fd;
        atomic_fetch_add(&worker_alive, 1);
        if (pthread_create(&threads[i].tid, NULL, worker_thread_main,
                           &threads[i]) != 0) {
            atomic_fetch_sub(&worker_alive, 1);
            fw_log(FW_LOG_ERROR, "cannot start thread %d", i);
            atomic_store(&worker_stopping, 1);
            status = 1;
            break;
        }
        started++;
    }

    /* Wait for a stop signal, acting on the others. */
    while (!atomic_load(&worker_stopping)) {
        int sig = sigtimedwait(&waited, NULL, &(struct timespec){1, 0});

        if (sig < 0) {
            if (atomic_load(&worker_alive) == 0) {
                fw_log(FW_LOG_ERROR, "every serving thread stopped");
                status = 1;
                break;
            }
            continue;
        }
        switch (sig) {
        case SIGTERM:
        case SIGINT:
            fw_log(FW_LOG_INFO, "%s: graceful stop",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
            atomic_store(&worker_stopping, 1);
            break;
        case SIGQUIT:
            fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
            atomic_store(&worker_stopping, 1);
            graceful = 0;
            break;
        case SIGUSR1:
            if (fw_log_open(wc->logto) < 0) {
                fw_log(FW_LOG_ERROR, "SIGUSR1: cannot reopen %s: %s",
                       wc->logto, strerror(errno));
            } else {
                fw_log(FW_LOG_INFO, "SIGUSR1: log reopened");
            }
            break;
        default:
            fw_log(FW_LOG_INFO, "signal %d ignored", sig);
            break;
        }
    }
    atomic_store(&worker_stopping, 1);

    if (!graceful) {
        free(threads);
        return 0; /* the caller exits without finalising Python */
    }

    /* Graceful: wake idle threads until every one has left its loop. */
    while (atomic_load(&worker_alive) > 0) {
        if (waited_ms >= (long)wc->shutdown_timeout * 1000) {
            fw_log(FW_LOG_WARN,
                   "%d request(s) still running after %d s: stopping "
                   "anyway",
                   atomic_load(&worker_alive), wc->shutdown_timeout);
            free(threads);
            return status;
        }
        worker_wake_all(threads, started);
        if (sigtimedwait(&waited, NULL, &tick) == SIGQUIT) {
            fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
            free(threads);
            return status;
        }
        waited_ms += FW_WAKE_INTERVAL_MS;
    }

    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].tid, NULL);
    }
    free(threads);
    fw_pyglue_stop();
    return status;
}
