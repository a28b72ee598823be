/*
 * serve_int.h: what a worker process's files share inside bridge/serve/
 * and nothing outside the room includes: the serving threads and their
 * epoll loop (loop.c), taking a connection off the listening socket
 * (accept.c) and the recycling rules (recycle.c), all driven by the
 * worker's main thread (worker.c).  serve.h is the room's API.
 */
#ifndef FW_SERVE_INT_H
#define FW_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bridge/serve/serve.h"

/* -------------------------------------------------------------------- */
/*
 * loop.c: the serving threads.  Each waits in epoll_wait on one set
 * holding the listening socket, the connections waiting for bytes
 * (conns.c) and a wake eventfd, and serves what comes.
 */

/* One serving thread's part (lead.c): whether it leads, since which turn,
 * whether it serves a request, its /proc stat. */
typedef struct fw_lead_s {
    uint64_t turn;
    int leading;
    atomic_int serving;
    int stat_fd;
    struct fw_lead_s *next; /* the joined threads */
} fw_lead_t;

typedef struct {
    pthread_t tid;
    int index;
    fw_lead_t lead; /* lead.c */
} fw_loop_thread_t;

/*
 * The epoll set, the wake eventfd and a non-blocking listening socket
 * (wc->listen_fd).  EPOLLEXCLUSIVE: of several worker processes, one is
 * woken per connection.  Returns the epoll set, or -1 after logging.
 */
int fw_loop_setup(const fw_worker_config_t *wc);

/* Starts count serving threads (their handles in threads); how many
 * started (all, or fewer after logging). */
int fw_loop_start(fw_loop_thread_t *threads, int count);

/* Serving threads still running. */
int fw_loop_alive(void);

/* No thread accepts directly any more: the listening socket leaves the
 * epoll set.  From any thread. */
void fw_loop_stop_accepting(void);

/* Wakes every thread out of epoll_wait: to leave at once (graceful 0:
 * SIGQUIT) or after serving what is under way. */
void fw_loop_wake(int graceful);

/* -------------------------------------------------------------------- */
/*
 * lead.c: one serving thread at a time, the leader, waits for events and
 * serves them; it keeps the lead while its requests are quick (no GIL
 * hand-off between threads a request), and a follower takes it over from
 * a leader that has been serving one request for FW_LEAD_STEAL_US while
 * no serving thread runs (they wait on I/O), or for FW_LEAD_STEAL_MAX_US,
 * so the threads still overlap there.  A serving thread: fw_lead_join;
 * then its loop: fw_lead_take, epoll_wait, fw_lead_busy, the event
 * (fw_lead_busy again at each request), fw_lead_done; fw_lead_leave on
 * the way out.
 */

/* A leader serving one request this long (µs) while no serving thread
 * runs, or the longer time whatever runs, loses the lead to a follower. */
#define FW_LEAD_STEAL_US 1000
#define FW_LEAD_STEAL_MAX_US 100000

/* For a process of `threads` serving threads (one: every call passes at
 * once) and the steal times; before the threads start.  0, or -1 when a
 * condition variable cannot be made. */
int fw_lead_setup(int threads, int64_t steal_after_us, int64_t steal_max_us);

/* A serving thread, from the thread itself, before its first fw_lead_take:
 * me is cleared and, when there are several, joins the threads the
 * watcher looks at. */
void fw_lead_join(fw_lead_t *me);

/* Returns when me leads (at once if it does), or when the gate is open. */
void fw_lead_take(fw_lead_t *me);

/* The leader took an event, or begins the next request of a connection:
 * the steal time counts from now. */
void fw_lead_busy(fw_lead_t *me);

/* The leader served it: me->leading is 0 if a follower took the lead
 * meanwhile (me then calls fw_lead_take again). */
void fw_lead_done(fw_lead_t *me);

/* A thread leaving its loop hands the lead on, if it has it, and leaves
 * the joined threads. */
void fw_lead_leave(fw_lead_t *me);

/* Every thread passes from now on, and the waiting ones are woken: the
 * worker is stopping (each thread must see loop_draining, or quit). */
void fw_lead_open(void);

/* -------------------------------------------------------------------- */
/*
 * accept.c: a connection taken off the listening socket, its peer
 * checked (allow.c); out of descriptors, an idle connection is closed or
 * the waiting one refused.
 */

/* The listening socket to accept on, and the spare descriptor given up
 * when out of descriptors. */
void fw_accept_setup(int listen_fd);

/* Accepts what is waiting on the listening socket and reads what it sent;
 * NULL if nothing was waiting (or it was refused). */
fw_conn_t *fw_accept_one(void);

/* -------------------------------------------------------------------- */
/*
 * recycle.c: when a worker leaves by itself: max-requests (plus a jitter
 * drawn per process) and reload-on-rss.
 */

/* This process's limits from wc (kept: the slot and the master's pid are
 * read from it). */
void fw_recycle_setup(const fw_worker_config_t *wc);

/* After a request: 1 for the first thread to see this process crossed
 * max-requests or reload-on-rss (the reason is kept), else 0. */
int fw_recycle_due(void);

/* SIGUSR2 to this process (its main thread stops accepting and waits for
 * the requests running) and to the master, so the replacement is forked
 * at once. */
void fw_recycle_announce(void);

/* Whether this process decided to recycle itself, and why (for the log:
 * "max-requests: N requests served"). */
int fw_recycle_started(void);
const char *fw_recycle_reason(void);

#endif /* FW_SERVE_INT_H */
