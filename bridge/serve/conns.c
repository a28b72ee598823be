/*
 * conns.c: the table of a worker's connections (see conns.h).  The table
 * is indexed by descriptor and its slots are kept for reuse; each slot's
 * generation goes into the epoll data, so an event for a connection closed
 * meanwhile (and its descriptor reused) is recognised and dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bridge/serve/serve.h"
#include "bridge/wire/wire.h"
#include "bridge/log.h"

/* Descriptors kept free for logs, the status page, temp files... */
#define CONNS_RESERVE 16

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static fw_conn_t **conns_table; /* by descriptor */
static int conns_size;          /* slots: the descriptor limit */
static int conns_open;
static int conns_epfd = -1;
static fw_conn_t *conns_first, *conns_last; /* parked, oldest first */
static int64_t conns_next_sweep;
static int64_t conns_last_full_log;

int
fw_conns_setup(int epfd)
{
    struct rlimit rl;

    conns_epfd = epfd;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > (1u << 20)) {
        rl.rlim_cur = 1u << 20;
    }
    conns_size = (int)rl.rlim_cur;
    conns_table = calloc((size_t)conns_size, sizeof(*conns_table));
    if (conns_table == NULL) {
        fw_log(FW_LOG_ERROR, "connection table: out of memory");
        return -1;
    }
    return 0;
}

int
fw_conns_max(void)
{
    return conns_size > CONNS_RESERVE * 2 ? conns_size - CONNS_RESERVE * 2 : 1;
}

int
fw_conns_count(void)
{
    int n;

    pthread_mutex_lock(&conns_lock);
    n = conns_open;
    pthread_mutex_unlock(&conns_lock);
    return n;
}

static void
conns_unlink(fw_conn_t *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        conns_first = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        conns_last = c->prev;
    }
    c->prev = c->next = NULL;
    c->parked = 0;
}

/* Closes c; the lock is held and c is not parked. */
static void
conns_close_locked(fw_conn_t *c, const char *why)
{
    if (why != NULL) {
        fw_log(FW_LOG_INFO, "closed a connection: %s", why);
    }
    fw_conn_close(c); /* a closed descriptor leaves the epoll set */
    c->in_epoll = 0;
    conns_open--;
}

void
fw_conns_close(fw_conn_t *c, const char *why)
{
    pthread_mutex_lock(&conns_lock);
    conns_close_locked(c, why);
    pthread_mutex_unlock(&conns_lock);
}

/* The oldest parked idle connection closed; the lock is held.  A kept
 * connection with nothing under way goes first, then any parked one that
 * has not sent a whole request. */
static int
conns_evict_locked(void)
{
    fw_conn_t *victim = NULL;

    for (fw_conn_t *c = conns_first; c != NULL; c = c->next) {
        if (fw_conn_is_idle(c)) {
            victim = c;
            break;
        }
    }
    if (victim == NULL) {
        victim = conns_first;
    }
    if (victim == NULL) {
        return 0;
    }
    conns_unlink(victim);
    conns_close_locked(victim, NULL);
    return 1;
}

int
fw_conns_evict_idle(void)
{
    int done;

    pthread_mutex_lock(&conns_lock);
    done = conns_evict_locked();
    pthread_mutex_unlock(&conns_lock);
    return done;
}

fw_conn_t *
fw_conns_open(int fd)
{
    fw_conn_t *c;

    pthread_mutex_lock(&conns_lock);
    if (fd >= conns_size) {
        pthread_mutex_unlock(&conns_lock);
        fw_log(FW_LOG_ERROR, "descriptor %d is over the table's %d", fd,
               conns_size);
        close(fd);
        return NULL;
    }
    /*
     * Near the limit: the oldest idle connection makes room, and the new
     * one moves down into the descriptor it freed, so the reserve stays
     * free for the application (its files, sockets, the temp files of
     * request bodies).  With nothing idle to close, it is refused.
     */
    if (fd >= conns_size - CONNS_RESERVE) {
        int low = conns_evict_locked() ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;

        close(fd);
        if (low < 0 || low >= conns_size - CONNS_RESERVE) {
            int64_t now = fw_conn_now_ms();
            int say = now - conns_last_full_log >= 1000;

            if (say) {
                conns_last_full_log = now;
            }
            if (low >= 0) {
                close(low);
            }
            pthread_mutex_unlock(&conns_lock);
            if (say) {
                fw_log(FW_LOG_WARN,
                       "refused a connection: %d open, at the descriptor "
                       "limit, none idle",
                       conns_open);
            }
            return NULL;
        }
        fd = low;
    }
    c = conns_table[fd];
    if (c == NULL) {
        c = malloc(sizeof(*c));
        if (c == NULL) {
            pthread_mutex_unlock(&conns_lock);
            fw_log(FW_LOG_ERROR, "connection: out of memory");
            close(fd);
            return NULL;
        }
        /* the input buffer is left as it came: only the bytes read are
         * ever looked at, and its pages stay untouched until then */
        memset(c, 0, offsetof(fw_conn_t, in));
        c->fd = -1;
        c->spool.fd = -1;
        conns_table[fd] = c;
    }
    fw_conn_open(c, fd);
    conns_open++;
    pthread_mutex_unlock(&conns_lock);
    return c;
}

void
fw_conns_park(fw_conn_t *c)
{
    struct epoll_event ev;
    int64_t now = fw_conn_now_ms();

    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    if (fw_conn_wants_write(c)) {
        ev.events |= EPOLLOUT;
    }
    ev.data.u64 = ((uint64_t)c->gen << 32) | (uint32_t)c->fd;

    pthread_mutex_lock(&conns_lock);
    c->deadline_ms = now + fw_conn_wait_ms(c);
    c->parked_ms = now;
    c->parked = 1;
    c->prev = conns_last;
    c->next = NULL;
    if (conns_last != NULL) {
        conns_last->next = c;
    } else {
        conns_first = c;
    }
    conns_last = c;
    if (epoll_ctl(conns_epfd, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                  c->fd, &ev) < 0) {
        fw_log(FW_LOG_WARN, "cannot wait on a connection: %s",
               strerror(errno));
        conns_unlink(c);
        conns_close_locked(c, NULL);
    } else {
        c->in_epoll = 1;
    }
    pthread_mutex_unlock(&conns_lock);
}

fw_conn_t *
fw_conns_take(uint64_t data)
{
    int fd = (int)(uint32_t)data;
    uint32_t gen = (uint32_t)(data >> 32);
    fw_conn_t *c = NULL;

    pthread_mutex_lock(&conns_lock);
    if (fd >= 0 && fd < conns_size && conns_table[fd] != NULL &&
        conns_table[fd]->parked && conns_table[fd]->gen == gen &&
        conns_table[fd]->fd == fd) {
        c = conns_table[fd];
        conns_unlink(c);
    }
    pthread_mutex_unlock(&conns_lock);
    return c;
}

/*
 * Whether a parked connection's peer sent something (bytes, or its close)
 * that no thread has read yet.  The sweep runs when a thread comes back
 * from a request: if every thread was busy past a connection's deadline,
 * what its web server sent meanwhile is waiting, and the connection was
 * not silent.  (One that has answers to send, unread, is closed at its
 * deadline whatever it sends.)
 */
static int
conns_spoke(const fw_conn_t *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

int
fw_conns_sweep(void)
{
    int64_t now = fw_conn_now_ms();
    int64_t next = now + 1000;
    int silent = 0, idle = 0;

    if (now < conns_next_sweep || pthread_mutex_trylock(&conns_lock) != 0) {
        int64_t left = conns_next_sweep - now;

        return left > 0 && left < 1000 ? (int)left : 1000;
    }
    for (fw_conn_t *c = conns_first, *after; c != NULL; c = after) {
        after = c->next;
        if (c->deadline_ms <= now && !c->lingering &&
            !fw_conn_wants_write(c) && conns_spoke(c)) {
            /* its bytes came while every thread was busy: epoll has them
             * for the next free thread */
            continue;
        }
        if (c->deadline_ms <= now) {
            /* one log line per sweep and reason, not one per connection */
            if (fw_conn_is_idle(c)) {
                idle++;
            } else if (!c->lingering) {
                silent++;
            }
            conns_unlink(c);
            conns_close_locked(c, NULL);
        } else if (c->deadline_ms < next) {
            next = c->deadline_ms;
        }
    }
    if (silent > 0) {
        fw_log(FW_LOG_INFO,
               "closed %d connection(s): no bytes within socket-timeout",
               silent);
    }
    if (idle > 0) {
        fw_log(FW_LOG_INFO,
               "closed %d kept connection(s): idle past keepalive-timeout",
               idle);
    }
    if (conns_open >= conns_size - CONNS_RESERVE &&
        now - conns_last_full_log >= 1000) {
        conns_last_full_log = now;
        fw_log(FW_LOG_WARN, "%d connections open: at the descriptor limit",
               conns_open);
    }
    conns_next_sweep = next;
    pthread_mutex_unlock(&conns_lock);
    return next - now > 0 ? (int)(next - now) : 1;
}

void
fw_conns_drain(void)
{
    int64_t now = fw_conn_now_ms();

    pthread_mutex_lock(&conns_lock);
    for (fw_conn_t *c = conns_first, *after; c != NULL; c = after) {
        after = c->next;
        if (fw_conn_is_idle(c)) {
            conns_unlink(c);
            conns_close_locked(c, NULL);
        } else if (c->served == 0 && c->wire.hdr_have == 0 &&
                   c->wire.active_id == 0 && c->in_len == 0 &&
                   c->deadline_ms > now + FW_CONNS_DRAIN_SILENT_MS) {
            c->deadline_ms = now + FW_CONNS_DRAIN_SILENT_MS;
        }
    }
    conns_next_sweep = now; /* the new deadlines count */
    pthread_mutex_unlock(&conns_lock);
}
