/*
 * loop.c: the serving threads of a worker process.  The serving thread
 * that leads (lead.c: one at a time) waits in epoll_wait on one set
 * holding the listening socket, every connection that is waiting for
 * bytes (a new one whose request has not all arrived, one kept open after
 * a request, one answered and closing: conns.c, each armed one-shot so
 * exactly one thread takes it), and a wake eventfd.  A connection holds a
 * thread only while its request is served: a silent, slow or kept connection
 * waits in the set, at no cost, until its deadline (socket-timeout,
 * keepalive-timeout).  To stop, the main thread (worker.c) opens the lead to
 * every thread and writes the eventfd: each thread leaves as soon as it is
 * back in epoll_wait, so a request in progress always completes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge/serve/serve_int.h"
#include "bridge/wire/wire.h"
#include "bridge/log.h"
#include "bridge/observe/observe.h"
#include "pyglue/pyglue.h"

/* Connections one thread may accept in a row before it looks at the kept
 * connections again. */
#define LOOP_ACCEPT_BURST 16

static const fw_worker_config_t *loop_conf;
static int loop_epfd = -1;
static int loop_listen_fd = -1;
static int loop_wake_fd = -1;
static atomic_int loop_alive;
static atomic_int loop_quitting; /* SIGQUIT: no last look */
/* A graceful stop: no more accepting; the connections with a request
 * under way are served to their end (or their deadline), then the
 * threads leave. */
static atomic_int loop_draining;
/* 0 once the listening socket left the epoll set (stop, recycling): no
 * thread accepts directly any more. */
static atomic_int loop_accepting = 1;

/*
 * After a request: when this process crossed max-requests or
 * reload-on-rss (recycle.c), the first thread to see it starts a graceful
 * stop: it stops accepting now; the main thread does the rest.
 */
static void
loop_check_recycle(void)
{
    if (fw_recycle_due()) {
        fw_loop_stop_accepting();
        fw_recycle_announce();
    }
}

/*
 * Serves what a connection has ready, as long as it has a request ready
 * (several when the web server pipelines them), then parks or closes it.
 */
static void
loop_drive(fw_loop_thread_t *wt, fw_pyglue_thread_t *py, fw_conn_t *c,
           fw_conn_next_e next)
{
    while (next == FW_CONN_SERVE) {
        int page = fw_status_wants(&c->req);
        fw_pyglue_result_e res;

        fw_lead_busy(&wt->lead); /* a burst of quick requests keeps it */
        fw_observe_request_begin(wt->index, &c->req);
        res = page ? fw_status_serve(&c->req) : fw_pyglue_handle(py, &c->req);
        fw_observe_request_end(wt->index, &c->req, !page);
        next = fw_conn_finish(c, res == FW_PYGLUE_ABORT, fw_conn_now_ms());
        loop_check_recycle();
    }
    if (next == FW_CONN_WAIT) {
        fw_conns_park(c);
    } else {
        fw_conns_close(c, NULL);
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
loop_last_look(fw_loop_thread_t *wt, fw_pyglue_thread_t *py)
{
    fw_conn_t *c;

    if (atomic_load(&loop_quitting) ||
        (fw_recycle_started() && loop_conf != NULL &&
         loop_conf->threads == 1)) {
        return;
    }
    c = fw_accept_one();
    if (c != NULL) {
        loop_drive(wt, py, c, fw_conn_advance(c, fw_conn_now_ms()));
    }
}

/*
 * During a graceful stop, each time round the loop: the thread's last look
 * at the listening socket (once), then kept connections with nothing under
 * way are closed and silent new ones given a short deadline; 1 when no
 * connection is left open, so the thread may leave.
 */
static int
loop_drained(fw_loop_thread_t *wt, fw_pyglue_thread_t *py, int *looked)
{
    if (!*looked) {
        *looked = 1;
        loop_last_look(wt, py);
    }
    fw_conns_drain();
    if (fw_conns_count() > 0) {
        return 0;
    }
    /* the wake fd back in the set: every other thread sees it at once */
    epoll_ctl(loop_epfd, EPOLL_CTL_ADD, loop_wake_fd,
              &(struct epoll_event){.events = EPOLLIN,
                                    .data.u64 = FW_CONNS_EV_WAKE});
    return 1;
}

/*
 * One event of the epoll set: the wake eventfd (a stop began: it leaves
 * the set, so that the threads finishing the connections under way do not
 * spin on it; they look at loop_draining at least once a second), the
 * listening socket, or a parked connection.
 */
static void
loop_event(fw_loop_thread_t *wt, fw_pyglue_thread_t *py, uint64_t tag)
{
    fw_conn_t *c;

    if (tag == FW_CONNS_EV_WAKE) {
        epoll_ctl(loop_epfd, EPOLL_CTL_DEL, loop_wake_fd, NULL);
        return;
    }
    if (tag == FW_CONNS_EV_LISTEN) {
        /*
         * Under load the next connection is usually waiting already: take
         * up to LOOP_ACCEPT_BURST in a row without going back to
         * epoll_wait (one system call less each), then let the kept
         * connections have their turn.
         */
        for (int burst = 0;
             burst < LOOP_ACCEPT_BURST && atomic_load(&loop_accepting);
             burst++) {
            c = fw_accept_one();
            if (c == NULL) {
                return;
            }
            loop_drive(wt, py, c, fw_conn_advance(c, fw_conn_now_ms()));
        }
        return;
    }
    c = fw_conns_take(tag);
    if (c != NULL) {
        loop_drive(wt, py, c, fw_conn_advance(c, fw_conn_now_ms()));
    }
}

static void *
loop_thread_main(void *arg)
{
    fw_loop_thread_t *wt = arg;
    fw_pyglue_thread_t *py;
    int looked = 0;

    py = fw_pyglue_thread_attach();
    if (py == NULL) {
        fw_log(FW_LOG_ERROR, "thread %d: cannot attach to Python", wt->index);
        atomic_fetch_sub(&loop_alive, 1);
        return NULL;
    }
    fw_lead_join(&wt->lead);

    for (;;) {
        struct epoll_event ev;
        int n;

        if (atomic_load(&loop_quitting) ||
            (atomic_load(&loop_draining) && loop_drained(wt, py, &looked))) {
            break;
        }
        fw_lead_take(&wt->lead);
        n = epoll_wait(loop_epfd, &ev, 1, fw_conns_sweep());
        if (n < 0 && errno != EINTR) {
            fw_log(FW_LOG_ERROR, "epoll_wait: %s: thread %d stops",
                   strerror(errno), wt->index);
            break;
        }
        if (n > 0) {
            fw_lead_busy(&wt->lead);
            loop_event(wt, py, ev.data.u64);
            fw_lead_done(&wt->lead);
        }
    }

    fw_lead_leave(&wt->lead);
    fw_pyglue_thread_detach(py);
    atomic_fetch_sub(&loop_alive, 1);
    return NULL;
}

int
fw_loop_setup(const fw_worker_config_t *wc)
{
    struct epoll_event ev;
    int listen_fd = wc->listen_fd;
    int flags;

    loop_conf = wc;
    loop_listen_fd = listen_fd;
    if (fw_lead_setup(wc->threads, FW_LEAD_STEAL_US, FW_LEAD_STEAL_MAX_US) !=
        0) {
        fw_log(FW_LOG_ERROR, "serving threads: cannot make their gate");
        return -1;
    }
    flags = fcntl(listen_fd, F_GETFL);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        fw_log(FW_LOG_ERROR, "listening socket: fcntl: %s", strerror(errno));
        return -1;
    }
    loop_epfd = epoll_create1(EPOLL_CLOEXEC);
    loop_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop_epfd < 0 || loop_wake_fd < 0) {
        fw_log(FW_LOG_ERROR, "epoll/eventfd: %s", strerror(errno));
        return -1;
    }

    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = FW_CONNS_EV_LISTEN;
    if (epoll_ctl(loop_epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
        fw_log(FW_LOG_ERROR, "epoll_ctl(listening socket): %s",
               strerror(errno));
        return -1;
    }
    ev.events = EPOLLIN; /* level-triggered: once written, wakes all */
    ev.data.u64 = FW_CONNS_EV_WAKE;
    if (epoll_ctl(loop_epfd, EPOLL_CTL_ADD, loop_wake_fd, &ev) < 0) {
        fw_log(FW_LOG_ERROR, "epoll_ctl(eventfd): %s", strerror(errno));
        return -1;
    }
    return loop_epfd;
}

int
fw_loop_start(fw_loop_thread_t *threads, int count)
{
    for (int i = 0; i < count; i++) {
        threads[i].index = i;
        atomic_fetch_add(&loop_alive, 1);
        if (pthread_create(&threads[i].tid, NULL, loop_thread_main,
                           &threads[i]) != 0) {
            atomic_fetch_sub(&loop_alive, 1);
            fw_log(FW_LOG_ERROR, "cannot start thread %d", i);
            return i;
        }
    }
    return count;
}

int
fw_loop_alive(void)
{
    return atomic_load(&loop_alive);
}

void
fw_loop_stop_accepting(void)
{
    atomic_store(&loop_accepting, 0);
    epoll_ctl(loop_epfd, EPOLL_CTL_DEL, loop_listen_fd, NULL);
}

void
fw_loop_wake(int graceful)
{
    atomic_store(&loop_quitting, !graceful);
    atomic_store(&loop_draining, graceful);
    fw_lead_open();
    (void)!write(loop_wake_fd, &(uint64_t){1}, sizeof(uint64_t));
}
