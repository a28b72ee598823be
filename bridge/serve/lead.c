/*
 * lead.c: which serving thread of a worker waits for the next event
 * (leader and followers).  One thread at a time, the leader, waits in
 * epoll_wait and serves what it takes; the others wait here.  A leader
 * whose requests are quick keeps the lead, so with an app that computes
 * (the GIL held) the threads do not each take a connection and queue on
 * the GIL with it: that costs a GIL hand-off and two context switches a
 * request.  One follower, the watcher, takes the lead from a leader that
 * has been serving one request for longer than the steal time while no
 * serving thread runs (each waits: on its database, on a slow client):
 * there another thread adds work done.  While one runs (computing, the
 * GIL held; or preempted) another would only queue on the GIL, and each
 * queued request outlasting the steal time would call in one more thread:
 * so a runner delays the steal, up to the longest steal time.  Whether a
 * thread runs is its state in /proc/thread-self/stat ('R').
 * Nothing here touches a socket or Python; with one thread it is open.
 */
#define _GNU_SOURCE /* /proc/thread-self needs no gettid; O_CLOEXEC */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/serve/serve_int.h"

static pthread_mutex_t lead_mu = PTHREAD_MUTEX_INITIALIZER;
/* the followers but the watcher */
static pthread_cond_t lead_followers = PTHREAD_COND_INITIALIZER;
static pthread_cond_t lead_watch; /* the watcher (CLOCK_MONOTONIC) */
static int lead_watch_made;
static int lead_taken;   /* under lead_mu: a thread leads */
static int lead_watched; /* under lead_mu: a follower watches */
static int64_t lead_steal_us;
static int64_t lead_steal_max_us;
static fw_lead_t *lead_threads; /* under lead_mu: every joined thread */

/* Every thread passes: one serving thread, or the worker is stopping. */
static atomic_int lead_open = 1;
/* Bumped each time the lead changes hands: a leader that finds it changed
 * after a request was overtaken. */
static _Atomic uint64_t lead_turn;
/* When the leader began serving, in µs; 0 while it waits for an event. */
static _Atomic int64_t lead_busy_since;
/* The watcher waits with no deadline, the leader being idle: the leader
 * wakes it when it begins to serve. */
static atomic_int lead_watcher_parked;

static int64_t
lead_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
fw_lead_setup(int threads, int64_t steal_after_us, int64_t steal_max_us)
{
    pthread_condattr_t attr;

    if (!lead_watch_made) {
        if (pthread_condattr_init(&attr) != 0) {
            return -1;
        }
        if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
            pthread_cond_init(&lead_watch, &attr) != 0) {
            pthread_condattr_destroy(&attr);
            return -1;
        }
        pthread_condattr_destroy(&attr);
        lead_watch_made = 1;
    }
    lead_steal_us = steal_after_us;
    lead_steal_max_us = steal_max_us;
    lead_taken = 0;
    lead_watched = 0;
    lead_threads = NULL;
    atomic_store(&lead_busy_since, 0);
    atomic_store(&lead_watcher_parked, 0);
    atomic_store(&lead_open, threads <= 1);
    return 0;
}

void
fw_lead_join(fw_lead_t *me)
{
    memset(me, 0, sizeof(*me));
    me->stat_fd = -1;
    if (atomic_load(&lead_open)) {
        return; /* one serving thread: nobody watches it */
    }
    me->stat_fd = open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC);
    pthread_mutex_lock(&lead_mu);
    me->next = lead_threads;
    lead_threads = me;
    pthread_mutex_unlock(&lead_mu);
}

/* Under lead_mu: whether a thread serving a request is running (or
 * runnable): the third field of its stat, after "TID (comm) ".  A thread
 * whose state cannot be read counts as waiting. */
static int
lead_someone_runs(void)
{
    for (fw_lead_t *t = lead_threads; t != NULL; t = t->next) {
        char buf[128];
        ssize_t n;
        char *close_paren;

        if (!atomic_load(&t->serving) || t->stat_fd < 0) {
            continue;
        }
        n = pread(t->stat_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0) {
            continue;
        }
        buf[n] = '\0';
        close_paren = strrchr(buf, ')');
        if (close_paren != NULL && close_paren[1] == ' ' &&
            close_paren[2] == 'R') {
            return 1;
        }
    }
    return 0;
}

/* Under lead_mu: me leads from now, idle. */
static void
lead_become(fw_lead_t *me)
{
    lead_taken = 1;
    me->turn = atomic_fetch_add(&lead_turn, 1) + 1;
    me->leading = 1;
    atomic_store(&lead_busy_since, 0);
}

/*
 * Under lead_mu, the watcher's one look: a leader busy for the steal time
 * while no serving thread runs, or for the longest steal time, loses the
 * lead to me (1); else I wait until the next look is due, or, the leader
 * being idle, until it begins to serve (0: look again).
 */
static int
lead_watch_once(fw_lead_t *me)
{
    int64_t since = atomic_load(&lead_busy_since);
    int64_t now, due;
    struct timespec until;

    if (since == 0) {
        /* seq_cst: the leader stores lead_busy_since, then loads this */
        atomic_store(&lead_watcher_parked, 1);
        if (atomic_load(&lead_busy_since) == 0) {
            pthread_cond_wait(&lead_watch, &lead_mu);
        }
        atomic_store(&lead_watcher_parked, 0);
        return 0;
    }
    now = lead_now_us();
    due = since + lead_steal_us;
    if (now >= due) {
        if (now - since >= lead_steal_max_us || !lead_someone_runs()) {
            lead_become(me);
            return 1;
        }
        due = now + lead_steal_us;
    }
    until.tv_sec = (time_t)(due / 1000000);
    until.tv_nsec = (long)(due % 1000000) * 1000;
    pthread_cond_timedwait(&lead_watch, &lead_mu, &until);
    return 0;
}

void
fw_lead_take(fw_lead_t *me)
{
    int watching = 0;

    if (me->leading || atomic_load(&lead_open)) {
        return;
    }
    pthread_mutex_lock(&lead_mu);
    for (;;) {
        if (atomic_load(&lead_open)) {
            break;
        }
        if (!lead_taken) {
            lead_become(me);
            break;
        }
        if (!watching && !lead_watched) {
            lead_watched = watching = 1;
        }
        if (!watching) {
            pthread_cond_wait(&lead_followers, &lead_mu);
        } else if (lead_watch_once(me)) {
            break;
        }
    }
    if (watching) {
        lead_watched = 0; /* the next follower watches */
        pthread_cond_signal(&lead_followers);
    }
    pthread_mutex_unlock(&lead_mu);
}

void
fw_lead_busy(fw_lead_t *me)
{
    if (!me->leading) {
        return;
    }
    atomic_store(&me->serving, 1);
    /* overtaken (it learns it at fw_lead_done): the time is the new
     * leader's; a store racing the change only brings a steal forward */
    if (atomic_load(&lead_turn) != me->turn) {
        return;
    }
    atomic_store(&lead_busy_since, lead_now_us());
    if (atomic_load(&lead_watcher_parked)) {
        pthread_mutex_lock(&lead_mu);
        pthread_cond_signal(&lead_watch);
        pthread_mutex_unlock(&lead_mu);
    }
}

void
fw_lead_done(fw_lead_t *me)
{
    if (!me->leading) {
        return;
    }
    atomic_store(&me->serving, 0);
    pthread_mutex_lock(&lead_mu);
    if (atomic_load(&lead_turn) == me->turn) {
        atomic_store(&lead_busy_since, 0);
    } else {
        me->leading = 0; /* overtaken while serving: a follower now */
    }
    pthread_mutex_unlock(&lead_mu);
}

void
fw_lead_leave(fw_lead_t *me)
{
    pthread_mutex_lock(&lead_mu);
    for (fw_lead_t **p = &lead_threads; *p != NULL; p = &(*p)->next) {
        if (*p == me) {
            *p = me->next;
            break;
        }
    }
    if (me->leading && atomic_load(&lead_turn) == me->turn) {
        lead_taken = 0;
        atomic_store(&lead_busy_since, 0);
        pthread_cond_signal(&lead_watch);
        pthread_cond_signal(&lead_followers);
    }
    me->leading = 0;
    pthread_mutex_unlock(&lead_mu);
    if (me->stat_fd >= 0) {
        close(me->stat_fd);
        me->stat_fd = -1;
    }
}

void
fw_lead_open(void)
{
    atomic_store(&lead_open, 1);
    pthread_mutex_lock(&lead_mu);
    pthread_cond_broadcast(&lead_watch);
    pthread_cond_broadcast(&lead_followers);
    pthread_mutex_unlock(&lead_mu);
}
