/*
 * children.c: fork, follow and reap the workers (php-fpm's fpm_children.c
 * idea).  The master's own bookkeeping lives in a private table; what
 * others read (status page, harakiri) goes to the scoreboard.  Runs in the
 * master only; the child side of a fork leaves through fw_children_run_pt.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/pool/pool.h"
#include "bridge/log.h"
#include "pyglue/pyglue.h"

/* RSS sampling period, seconds. */
#define CHILDREN_RSS_PERIOD 1.0

static fw_child_t *children;
static int children_slots;   /* entries with a scoreboard slot */
static int children_cap;     /* entries in all */
static int children_threads; /* request slots per worker */
static double children_grace;
/* the guards against respawn storms (pool_rules.c decides) */
static fw_pool_guard_t children_guard;
static double children_rss_at;

double
fw_children_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
children_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
fw_children_init(int slots, int threads, double grace)
{
    children_slots = slots;
    children_cap = slots;
    children_threads = threads;
    children_grace = grace;
    fw_pool_rules_guard_init(&children_guard, slots);
    children = calloc((size_t)children_cap, sizeof(*children));
    if (children == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

void
fw_children_adopt(pid_t pid)
{
    int status;
    pid_t rc = waitpid(pid, &status, WNOHANG);
    fw_child_t *grown;

    if (rc != 0) {
        /* ended during the exec (reaped now), or not our child at all */
        return;
    }
    grown = realloc(children, (size_t)(children_cap + 1) * sizeof(*grown));
    if (grown == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory adopting pid %ld", (long)pid);
        return;
    }
    children = grown;
    memset(&children[children_cap], 0, sizeof(*children));
    children[children_cap].pid = pid;
    children[children_cap].slot = -1;
    children[children_cap].adopted = 1;
    children[children_cap].state = FW_CHILD_READY;
    children[children_cap].started_at = fw_children_now();
    children[children_cap].ready_at = children[children_cap].started_at;
    children_cap++;
}

/* Entry s of the table is the worker in scoreboard slot s. */
static int
children_free_slot(void)
{
    for (int s = 0; s < children_slots; s++) {
        if (children[s].pid == 0) {
            return s;
        }
    }
    return -1;
}

/* In the new process: never returns. */
static void
children_become(fw_children_run_pt run, void *arg, int slot, pid_t master)
{
    char role[32];

    fw_signals_in_child();
    /* no orphans: a worker whose master is gone stops (gracefully) */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master) {
        _exit(0);
    }
    fw_scoreboard_set_self(slot);
    snprintf(role, sizeof(role), "worker %d", slot + 1);
    fw_log_set_role(role);
    exit(run(arg, slot));
}

fw_child_t *
fw_children_spawn(fw_children_run_pt run, void *arg, uint64_t generation)
{
    int slot = children_free_slot();
    fw_score_worker_t *w;
    fw_child_t *c;
    sigset_t old;
    pid_t master = getpid();
    double now = fw_children_now();
    pid_t pid;
    int saved;

    if (slot < 0) {
        fw_log(FW_LOG_WARN, "no free scoreboard slot for a new worker");
        return NULL;
    }
    /* the child takes the slot over (fw_scoreboard_set_self) */
    w = fw_scoreboard_worker(slot);
    w->generation = generation;
    w->rss_kb = 0;
    atomic_store(&w->state, FW_WORKER_STARTING);

    fw_signals_block(&old);
    /* the free pages of the master's heap (what start-up and the app's
     * import freed) go back to the kernel instead of into every worker:
     * 0.19 MiB less RSS for a hello worker, 0.15 for the master */
    malloc_trim(0);
    pid = fw_pyglue_fork();
    saved = errno;
    if (pid == 0) {
        children_become(run, arg, slot, master);
    }
    fw_signals_restore(&old);
    if (pid < 0) {
        fw_log(FW_LOG_ERROR, "fork: %s", strerror(saved));
        atomic_store(&w->state, FW_WORKER_EMPTY);
        return NULL;
    }

    if (fw_pool_rules_forked(&children_guard, now)) {
        fw_log(FW_LOG_WARN,
               "%d worker(s) started within a second, the most allowed: "
               "the next waits for the second to end",
               children_guard.window_forks);
    }
    c = &children[slot];
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    c->slot = slot;
    c->generation = generation;
    c->state = FW_CHILD_STARTING;
    c->started_at = fw_children_now();
    c->idle_since = c->started_at;
    return c;
}

/*
 * "; it was serving GET /x (1.2 s), POST /y (0.1 s)" into buf from the
 * dead worker's request slots, or "; it was serving no request".
 */
static void
children_describe_requests(const fw_child_t *c, char *buf, size_t size)
{
    uint64_t now = children_now_us();
    size_t used;
    int n = 0;

    buf[0] = '\0';
    if (c->slot < 0) {
        return;
    }
    used = (size_t)snprintf(buf, size, "; it was serving");
    for (int t = 0; t < children_threads && used < size; t++) {
        fw_score_request_t *rq = fw_scoreboard_request(c->slot, t);
        char method[sizeof(rq->method)];
        char uri[sizeof(rq->uri)];
        int w;

        if (!atomic_load(&rq->busy)) {
            continue;
        }
        memcpy(method, rq->method, sizeof(method));
        memcpy(uri, rq->uri, sizeof(uri));
        method[sizeof(method) - 1] = '\0';
        uri[sizeof(uri) - 1] = '\0';
        w = snprintf(buf + used, size - used, "%s %s %s (%.1f s)",
                     n == 0 ? "" : ",", method, uri,
                     (double)(now - rq->started_us) / 1e6);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
        n++;
    }
    if (n == 0) {
        snprintf(buf, size, "; it was serving no request");
    }
}

/* "worker 3 (pid 1234)" or "old worker (pid 1234)" */
static void
children_name(const fw_child_t *c, char *buf, size_t size)
{
    if (c->adopted) {
        snprintf(buf, size, "worker (pid %ld) of the previous master image",
                 (long)c->pid);
    } else {
        snprintf(buf, size, "worker %d (pid %ld)", c->slot + 1, (long)c->pid);
    }
}

/* Whether the dead worker c's slot shows a request running, or served. */
static int
children_served(const fw_child_t *c)
{
    fw_score_worker_t *w = fw_scoreboard_worker(c->slot);

    if (atomic_load(&w->requests) > 0) {
        return 1;
    }
    for (int t = 0; t < children_threads; t++) {
        if (atomic_load(&fw_scoreboard_request(c->slot, t)->busy)) {
            return 1;
        }
    }
    return 0;
}

/*
 * Counts the end of c (not adopted) for the guards and logs what the
 * counting started: a crash-loop back-off, or one fork a second.  Returns
 * whether it was a crash (died before it was ready, unexpectedly).
 */
static int
children_count_death(const fw_child_t *c, int ready, int expected, int clean,
                     int took_slot, double now)
{
    fw_pool_death_t death = {ready, expected, clean, 0, c->ready_at};
    fw_pool_verdict_t v;

    death.served = ready && took_slot && children_served(c);
    v = fw_pool_rules_died(&children_guard, &death, now);
    if (v.backoff > 0) {
        fw_log(FW_LOG_ERROR,
               "crash loop: %d workers in a row died before they were ready; "
               "next start in %.0f s",
               children_guard.crashes, v.backoff);
    }
    if (v.quick_loop) {
        fw_log(FW_LOG_ERROR,
               "%d workers in a row died within %.0f s of being ready "
               "without serving a request: starting one a second until a "
               "worker serves",
               children_guard.quick_deaths, FW_POOL_QUICK_SECONDS);
    }
    return v.crash;
}

/*
 * Logs how c ended and counts it for the guards; into *out.  Whether it
 * was ready, and what it was serving, come from its scoreboard slot (not
 * yet freed), which the worker writes at once: the master's view (c->state)
 * may be a tick late.
 */
static void
children_ended(fw_child_t *c, int status, int stopping,
               fw_children_reaped_t *out)
{
    double now = fw_children_now();
    double lived = now - c->started_at;
    fw_score_worker_t *w = c->slot >= 0 ? fw_scoreboard_worker(c->slot) : NULL;
    int took_slot = w != NULL && atomic_load(&w->pid) == c->pid;
    int board = took_slot ? atomic_load(&w->state) : FW_WORKER_STARTING;
    int ready = c->adopted || c->state != FW_CHILD_STARTING ||
                board == FW_WORKER_IDLE || board == FW_WORKER_BUSY ||
                board == FW_WORKER_STOPPING;
    int expected = stopping || c->state == FW_CHILD_LEAVING ||
                   c->state == FW_CHILD_RETIRING ||
                   board == FW_WORKER_STOPPING;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char name[96];
    char serving[1024];

    children_name(c, name, sizeof(name));
    out->exited++;
    if (clean && expected) {
        if (!stopping) {
            fw_log(FW_LOG_INFO, "%s stopped", name);
        }
    } else {
        if (!ready) {
            snprintf(serving, sizeof(serving), ", before it was ready%s",
                     WIFEXITED(status) &&
                             WEXITSTATUS(status) == FW_CHILD_EXIT_NO_APP
                         ? " (it could not load the application)"
                         : "");
        } else {
            children_describe_requests(c, serving, sizeof(serving));
        }
        if (WIFSIGNALED(status)) {
            fw_log(FW_LOG_ERROR,
                   "%s was killed by signal %d (%s) after %.1f s%s", name,
                   WTERMSIG(status), strsignal(WTERMSIG(status)), lived,
                   serving);
        } else {
            fw_log(clean ? FW_LOG_WARN : FW_LOG_ERROR,
                   "%s exited with status %d after %.1f s%s", name,
                   WEXITSTATUS(status), lived, serving);
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == FW_CHILD_EXIT_NO_APP &&
            !ready) {
            out->failed_to_load++;
        }
    }
    if (!c->adopted &&
        children_count_death(c, ready, expected, clean, took_slot, now)) {
        out->crashed++;
    }
    /* The slot itself is freed by fw_scoreboard_reap (it also takes the
     * dead worker's requests off the pool's counts); a worker that died
     * before it took the slot left nothing there. */
    if (c->slot >= 0 &&
        atomic_load(&fw_scoreboard_worker(c->slot)->pid) == 0) {
        atomic_store(&fw_scoreboard_worker(c->slot)->state, FW_WORKER_EMPTY);
    }
    memset(c, 0, sizeof(*c));
}

fw_children_reaped_t
fw_children_reap(int stopping)
{
    fw_children_reaped_t out = {0, 0, 0};
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < children_cap; i++) {
            if (children[i].pid == pid) {
                children_ended(&children[i], status, stopping, &out);
                break;
            }
        }
    }
    return out;
}

void
fw_children_refresh(double now)
{
    int sample = now >= children_rss_at;

    if (sample) {
        children_rss_at = now + CHILDREN_RSS_PERIOD;
    }
    for (int i = 0; i < children_cap; i++) {
        fw_child_t *c = &children[i];
        fw_score_worker_t *w;
        uint64_t requests;
        int state;

        if (c->pid <= 0) {
            continue;
        }
        if ((c->state == FW_CHILD_LEAVING || c->state == FW_CHILD_RETIRING) &&
            c->kill_at > 0 && now > c->kill_at) {
            char name[96];

            children_name(c, name, sizeof(name));
            fw_log(FW_LOG_WARN,
                   "%s still running %.0f s after it was told "
                   "to stop: SIGKILL",
                   name, children_grace);
            kill(c->pid, SIGKILL);
            c->kill_at = 0;
        }
        if (c->slot < 0) {
            continue;
        }
        w = fw_scoreboard_worker(c->slot);
        if (sample) {
            w->rss_kb = fw_scoreboard_rss_kb(c->pid);
        }
        state = atomic_load(&w->state);
        requests = atomic_load(&w->requests);
        switch (c->state) {
        case FW_CHILD_STARTING:
            if (state == FW_WORKER_IDLE || state == FW_WORKER_BUSY) {
                c->state = FW_CHILD_READY;
                c->ready_at = now;
                c->idle_since = now;
                fw_pool_rules_ready(&children_guard);
            } else if (state == FW_WORKER_STOPPING) {
                c->state = FW_CHILD_LEAVING;
                c->kill_at = now + children_grace;
            }
            break;
        case FW_CHILD_READY:
            if (!c->adopted) {
                fw_pool_rules_alive(&children_guard, c->ready_at, now);
            }
            if (state == FW_WORKER_STOPPING) {
                c->state = FW_CHILD_LEAVING;
                c->kill_at = now + children_grace;
            } else if (atomic_load(&w->active) > 0 ||
                       requests != c->seen_requests) {
                c->idle_since = now;
            }
            c->seen_requests = requests;
            break;
        default:
            break;
        }
    }
}

void
fw_children_signal_all(int sig)
{
    for (int i = 0; i < children_cap; i++) {
        if (children[i].pid > 0) {
            kill(children[i].pid, sig);
        }
    }
}

void
fw_children_retire(fw_child_t *c, double now)
{
    if (c->pid <= 0) {
        return;
    }
    kill(c->pid, SIGTERM);
    c->state = FW_CHILD_RETIRING;
    c->kill_at = now + children_grace;
    if (c->slot >= 0) {
        atomic_store(&fw_scoreboard_worker(c->slot)->state,
                     FW_WORKER_STOPPING);
    }
}

int
fw_children_capacity(void)
{
    return children_cap;
}

fw_child_t *
fw_children_at(int i)
{
    return &children[i];
}

int
fw_children_alive(void)
{
    int n = 0;

    for (int i = 0; i < children_cap; i++) {
        n += children[i].pid > 0;
    }
    return n;
}

int
fw_children_active(const fw_child_t *c)
{
    if (c->pid <= 0 || c->slot < 0) {
        return 0;
    }
    return atomic_load(&fw_scoreboard_worker(c->slot)->active);
}

double
fw_children_spawn_wait(double now)
{
    return fw_pool_rules_spawn_wait(&children_guard, now);
}

int
fw_children_may_spawn(double now)
{
    return fw_children_spawn_wait(now) <= 0;
}
