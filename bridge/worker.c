/*
 * worker.c: the serving loop of a process.  Every serving thread waits in
 * epoll_wait on one set holding the listening socket, the connections kept
 * open after a request (FCGI_KEEP_CONN, each armed one-shot so exactly one
 * thread takes its next request), and a wake eventfd.  A thread is never
 * pinned to a kept connection: with more kept connections than threads,
 * each is served when it has a request.
 *
 * Serving threads never see a process signal: every signal is blocked in
 * them and the main thread takes signals with sigtimedwait.  To stop, the
 * main thread writes the eventfd: each thread leaves as soon as it is back
 * in epoll_wait, so a request in progress always completes.
 */
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

#include "bridge/fcgi_io.h"
#include "bridge/log.h"
#include "bridge/scoreboard.h"
#include "bridge/worker.h"
#include "pyglue/pyglue.h"

/* epoll data of the two descriptors that are not connections. */
#define WORKER_EV_LISTEN UINT64_MAX
#define WORKER_EV_WAKE (UINT64_MAX - 1)

typedef struct {
    pthread_t tid;
    int index;
} worker_thread_t;

static int worker_epfd = -1;
static int worker_listen_fd = -1;
static int worker_wake_fd = -1;
static atomic_int worker_alive;

/* Waits (one-shot) for the next request on a kept connection. */
static void
worker_park(int fd, int first)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.u64 = (uint64_t)fd;
    if (epoll_ctl(worker_epfd, first ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd,
                  &ev) < 0) {
        fw_log(FW_LOG_WARN, "cannot keep a connection open: %s",
               strerror(errno));
        close(fd);
    }
}

/*
 * Serves one request on fd, then parks the connection if the web server
 * asked to keep it, or closes it.
 */
static void
worker_serve(worker_thread_t *wt, fw_fcgi_conn_t *conn,
             fw_pyglue_thread_t *py, int fd, int kept)
{
    fw_pyglue_result_e res;

    if (fw_fcgi_io_begin(conn, fd, kept) < 0) {
        return; /* closed; a closed fd leaves the epoll set by itself */
    }
    fw_scoreboard_request_begin(wt->index, conn->req.params);
    res = fw_pyglue_handle(py, &conn->req);
    fw_scoreboard_request_end(wt->index);
    fd = fw_fcgi_io_end(conn, res == FW_PYGLUE_ABORT);
    if (fd >= 0) {
        worker_park(fd, !kept);
    }
}

/* Accepts what is waiting on the listening socket; -1 if nothing was. */
static int
worker_accept(void)
{
    int fd = accept(worker_listen_fd, NULL, NULL);

    if (fd >= 0) {
        return fd;
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
    default:
        fw_log(FW_LOG_ERROR, "accept: %s: pausing 100 ms", strerror(errno));
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        break;
    }
    return -1;
}

static void *
worker_thread_main(void *arg)
{
    worker_thread_t *wt = arg;
    fw_fcgi_conn_t conn;
    fw_pyglue_thread_t *py;

    fw_fcgi_io_init(&conn);
    py = fw_pyglue_thread_attach();
    if (py == NULL) {
        fw_log(FW_LOG_ERROR, "thread %d: cannot attach to Python",
               wt->index);
        atomic_fetch_sub(&worker_alive, 1);
        return NULL;
    }

    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(worker_epfd, &ev, 1, -1);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fw_log(FW_LOG_ERROR, "epoll_wait: %s: thread %d stops",
                   strerror(errno), wt->index);
            break;
        }
        if (n == 0) {
            continue;
        }
        if (ev.data.u64 == WORKER_EV_WAKE) {
            break;
        }
        if (ev.data.u64 == WORKER_EV_LISTEN) {
            int fd = worker_accept();

            if (fd >= 0) {
                worker_serve(wt, &conn, py, fd, 0);
            }
            continue;
        }
        worker_serve(wt, &conn, py, (int)ev.data.u64, 1);
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
    ev.data.u64 = WORKER_EV_LISTEN;
    if (epoll_ctl(worker_epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
        fw_log(FW_LOG_ERROR, "epoll_ctl(listening socket): %s",
               strerror(errno));
        return -1;
    }
    ev.events = EPOLLIN; /* level-triggered: once written, wakes all */
    ev.data.u64 = WORKER_EV_WAKE;
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

int
fw_worker_run(const fw_worker_config_t *wc)
{
    worker_thread_t *threads;
    sigset_t waited;
    int started = 0, status = 0, stopping = 0, graceful = 1;
    long waited_ms = 0;

    worker_signals_block(&waited);
    if (worker_poll_setup(wc->listen_fd) < 0) {
        return 1;
    }

    threads = calloc((size_t)wc->threads, sizeof(*threads));
    if (threads == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return 1;
    }

    for (int i = 0; i < wc->threads; i++) {
        threads[i].index = i;
        atomic_fetch_add(&worker_alive, 1);
        if (pthread_create(&threads[i].tid, NULL, worker_thread_main,
                           &threads[i]) != 0) {
            atomic_fetch_sub(&worker_alive, 1);
            fw_log(FW_LOG_ERROR, "cannot start thread %d", i);
            stopping = 1;
            status = 1;
            break;
        }
        started++;
    }

    /* Wait for a stop signal, acting on the others. */
    while (!stopping) {
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
            stopping = 1;
            break;
        case SIGQUIT:
            fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
            stopping = 1;
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

    /* Stop accepting; wake every thread out of epoll_wait. */
    epoll_ctl(worker_epfd, EPOLL_CTL_DEL, worker_listen_fd, NULL);
    (void)!write(worker_wake_fd, &(uint64_t){1}, sizeof(uint64_t));
    if (!graceful) {
        free(threads);
        return 0; /* the caller exits without finalising Python */
    }

    while (atomic_load(&worker_alive) > 0) {
        if (waited_ms >= (long)wc->shutdown_timeout * 1000) {
            fw_log(FW_LOG_WARN,
                   "%d request(s) still running after %d s: stopping "
                   "anyway",
                   atomic_load(&worker_alive), wc->shutdown_timeout);
            free(threads);
            return status;
        }
        if (sigtimedwait(&waited, NULL, &(struct timespec){0, 50000000L}) ==
            SIGQUIT) {
            fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
            free(threads);
            return status;
        }
        waited_ms += 50;
    }

    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].tid, NULL);
    }
    free(threads);
    fw_pyglue_stop();
    return status;
}
