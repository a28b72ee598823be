/*
 * master.c: the master process's state machine and its reload; it acts
 * on the pool rules (pm) that pool_rules.c decides.  It waits in poll() on
 * the signal self-pipe (and, when the pool may have to grow, on the
 * listening socket), ticking every 200 ms; signal handlers only write to
 * the pipe.  Forking and reaping are in children.c.  It runs no request,
 * and with lazy-apps no Python at all.
 *
 * States (master_set_state is the only writer, and refuses a transition
 * that the table in pool_rules.c does not allow):
 *
 *   STARTING   this master image starts -> RUNNING, or RELOADING when it
 *              is the new image of a reload.
 *   RUNNING    serving; the pool follows pm; dead or recycled workers are
 *              replaced at once (under the crash-loop back-off and the
 *              fork rate bound of fw_pool_guard_t).
 *   RELOADING  a reload's new generation is starting while the workers of
 *              the previous master image (adopted, see below) keep
 *              serving; once the new generation has its first workers
 *              ready, the old ones get SIGTERM (they finish their
 *              requests) -> RUNNING.  If the new code cannot be imported,
 *              it stays here: the old workers serve until a later reload.
 *   STOPPING   graceful stop: every worker got SIGTERM, stops accepting and
 *              finishes its requests; the master exits 0 when none is
 *              left.  After worker-shutdown-timeout (+2 s) -> SIGKILL.
 *   QUITTING   immediate stop: every worker got SIGQUIT; SIGKILL after 3 s.
 *
 * Which signal wins:
 *   SIGQUIT          from any state -> QUITTING (overrides a graceful stop).
 *   SIGTERM, SIGINT  RUNNING or RELOADING -> STOPPING; ignored when already
 *                    stopping or quitting.
 *   SIGHUP, touch-reload  RUNNING or RELOADING -> reload (below); ignored
 *                    when stopping or quitting.  A stop signal that arrived
 *                    with the SIGHUP wins over it.
 *   SIGUSR1          any state: reopen the log here and in every worker.
 *   SIGUSR2          a worker leaving by itself (max-requests,
 *                    reload-on-rss) asks for its replacement now.
 *   SIGCHLD          reap, log, replace (RUNNING, RELOADING only).
 *
 * Reload: the master checks that the configuration still loads (if not, it
 * logs why and nothing changes), then re-executes itself: execve of
 * /proc/self/exe with its first argv and environment, in the directory it
 * was started in.  The listening socket stays open across the exec (no
 * FD_CLOEXEC) and its number goes in FW_LISTEN_FD; the running workers
 * (its children, and still the new image's) go in FW_OLD_WORKERS.  The
 * new image re-reads the configuration, adopts the socket (listen.c), and
 * starts in RELOADING: it imports the new code (unless lazy-apps), forks
 * the new workers, then retires the old.  Connections wait in the
 * socket's backlog meanwhile: none is refused.  With lazy-apps the new
 * workers import the code themselves, and the old ones are retired only
 * once one of them is ready, so broken new code never empties the pool.
 *
 * Where the app is imported: in the master by default (workers share its
 * pages copy-on-write; fw_pyglue_fork calls gc.freeze() first so that
 * their collections leave those pages alone), or with lazy-apps in each
 * worker (the master then runs no Python at all).  The default was picked
 * by measurement (bench/memory.sh, the demo Django app, 2 CPUs): from two
 * workers on, the pool's total PSS is lower (4 workers: 78 against 135
 * MiB; 8: 118 against 258), start-up does not grow with the pool (0.4 s
 * against 1.1 s for 8 workers) and a reload is faster (1.0 against 2.6
 * s); lazy-apps is 8 MiB smaller with one worker only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/pool/pool.h"
#include "bridge/log.h"
#include "bridge/observe/observe.h"

#define MASTER_TICK_MS 200
#define MASTER_QUIT_GRACE 3.0
#define MASTER_ENV_LISTEN "FW_LISTEN_FD"
#define MASTER_ENV_OLD "FW_OLD_WORKERS"
#define MASTER_ENV_GENERATION "FW_GENERATION"

/* What one touch-reload file looked like at the last check. */
typedef struct {
    int exists;
    struct timespec mtime;
} master_touch_t;

typedef struct {
    const fw_master_config_t *mc;
    fw_pool_rules_config_t rules; /* the options pool_rules.c reads */
    fw_pool_state_e state;        /* written by master_set_state only */
    uint64_t generation;
    int can_spawn;      /* the app is loaded (or lazy): workers can fork */
    int first_start;    /* not a reload: a bad app ends the master */
    int reload_target;  /* new workers ready before the old ones go */
    int initial_done;   /* dynamic: start-servers forked */
    int ever_ready;     /* a worker of this image became ready */
    int status;         /* exit status */
    double deadline;    /* STOPPING/QUITTING: SIGKILL after this */
    int killed;         /* SIGKILL sent at the deadline */
    double last_shrink; /* dynamic: one idle worker retired per second */
    double last_full;   /* max-children reached: counted once a second */
    int full_logged;    /* max-children reached: logged once per episode */
    master_touch_t *touch;
} master_t;

/* ------------------------------------------------------------ handover */

void
fw_master_handover_take(fw_master_handover_t *h)
{
    const char *fd = getenv(MASTER_ENV_LISTEN);
    const char *old = getenv(MASTER_ENV_OLD);
    const char *gen = getenv(MASTER_ENV_GENERATION);

    memset(h, 0, sizeof(*h));
    h->listen_fd = -1;
    if (fd != NULL && fd[0] != '\0' && fd[strspn(fd, "0123456789")] == '\0') {
        h->listen_fd = atoi(fd);
    }
    if (gen != NULL) {
        h->generation = strtoull(gen, NULL, 10);
    }
    if (h->listen_fd >= 0 && old != NULL) {
        size_t n = 1;

        for (const char *p = old; *p != '\0'; p++) {
            n += *p == ',';
        }
        h->old_workers = calloc(n, sizeof(*h->old_workers));
        for (const char *p = old; h->old_workers != NULL && *p != '\0';) {
            char *end;
            long pid = strtol(p, &end, 10);

            if (end == p) {
                break;
            }
            if (pid > 0) {
                h->old_workers[h->nold_workers++] = (pid_t)pid;
            }
            p = *end == ',' ? end + 1 : end;
        }
    }
    unsetenv(MASTER_ENV_LISTEN);
    unsetenv(MASTER_ENV_OLD);
    unsetenv(MASTER_ENV_GENERATION);
}

void
fw_master_handover_free(fw_master_handover_t *h)
{
    free(h->old_workers);
    h->old_workers = NULL;
    h->nold_workers = 0;
}

/* -------------------------------------------------------------- states */

static fw_pool_view_t master_view(const master_t *m, double now);

/*
 * The only writer of m->state: moves to `to` when the transition table
 * (fw_pool_rules_transition) allows it from the current state; RELOADING
 * -> RUNNING only once the reload completed.  0, or -1 (refused, logged:
 * a caller asked for a change the rules forbid).
 */
static int
master_set_state(master_t *m, fw_pool_state_e to, double now)
{
    fw_pool_view_t v = master_view(m, now);

    if (!fw_pool_rules_transition(m->state, to,
                                  fw_pool_rules_reload_done(&v))) {
        fw_log(FW_LOG_ERROR, "master: state change %s -> %s refused",
               fw_pool_rules_state_name(m->state),
               fw_pool_rules_state_name(to));
        return -1;
    }
    m->state = to;
    return 0;
}

static int
master_serving(const master_t *m)
{
    return m->state == FW_POOL_RUNNING || m->state == FW_POOL_RELOADING;
}

/* Graceful stop: SIGTERM to every worker, then wait. */
static void
master_stop(master_t *m, const char *why, double now)
{
    if (!master_serving(m) || master_set_state(m, FW_POOL_STOPPING, now) < 0) {
        return;
    }
    fw_log(FW_LOG_INFO, "%s: graceful stop of %d worker(s)", why,
           fw_children_alive());
    fw_notify_stopping(); /* systemd: STOPPING=1 */
    m->deadline = now + m->mc->worker.shutdown_timeout + 2;
    for (int i = 0; i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (c->pid > 0) {
            fw_children_retire(c, now);
            c->kill_at = 0; /* the stop's own deadline applies */
        }
    }
}

/* Immediate stop: SIGQUIT to every worker. */
static void
master_quit(master_t *m, double now)
{
    if (m->state == FW_POOL_QUITTING ||
        master_set_state(m, FW_POOL_QUITTING, now) < 0) {
        return;
    }
    fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop of %d worker(s)",
           fw_children_alive());
    fw_notify_stopping(); /* systemd: STOPPING=1 */
    m->deadline = now + MASTER_QUIT_GRACE;
    m->killed = 0;
    fw_children_signal_all(SIGQUIT);
}

/* ----------------------------------------------------------- the pool */

/*
 * What the pool rules need to know now: the current generation's workers
 * (adopted ones excluded) by state, the free threads, and the master's
 * own state.  pending is left 0 (the loop's poll knows).
 */
static fw_pool_view_t
master_view(const master_t *m, double now)
{
    fw_pool_view_t n;
    int threads = m->mc->worker.threads;

    memset(&n, 0, sizeof(n));
    n.state = m->state;
    n.can_spawn = m->can_spawn;
    n.may_fork = fw_children_may_spawn(now);
    n.initial_done = m->initial_done;
    n.reload_target = m->reload_target;
    n.last_shrink = m->last_shrink;

    for (int i = 0; i < fw_children_capacity(); i++) {
        const fw_child_t *c = fw_children_at(i);
        int active;

        if (c->pid <= 0 || c->adopted) {
            continue;
        }
        if (c->state == FW_CHILD_STARTING) {
            n.starting++;
        } else if (c->state == FW_CHILD_READY) {
            active = fw_children_active(c);
            if (active > 0) {
                n.busy++;
            } else {
                n.idle++;
            }
            if (active < threads) {
                n.free_threads += threads - active;
            }
        }
    }
    return n;
}

static int
master_worker_main(void *arg, int slot)
{
    const fw_master_config_t *mc = arg;
    fw_worker_config_t wc = mc->worker;

    wc.slot = slot;
    wc.master = getppid();
    if (mc->lazy_apps && fw_pyglue_start(mc->app) < 0) {
        return FW_CHILD_EXIT_NO_APP;
    }
    return fw_worker_run(&wc);
}

/* Forks up to n workers, as long as the fork rate allows (the rest wait
 * for a later loop); returns how many were forked. */
static int
master_spawn(master_t *m, int n)
{
    int done = 0;

    while (done < n && fw_children_may_spawn(fw_children_now()) &&
           fw_children_spawn(master_worker_main, (void *)m->mc,
                             m->generation) != NULL) {
        done++;
    }
    return done;
}

/*
 * The pool wants a worker it may not have: counts max_children_reached in
 * the scoreboard (once a second at most) and logs it once per episode.
 */
static void
master_pool_full(master_t *m, double now)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();

    if (now - m->last_full < 1.0) {
        return;
    }
    m->last_full = now;
    atomic_fetch_add(&pool->max_children_reached, 1);
    if (!m->full_logged) {
        fw_log(FW_LOG_WARN,
               "the pool reached max-children (%d) with every worker busy: "
               "requests wait; consider raising max-children",
               m->mc->max_children);
        m->full_logged = 1;
    }
}

/* Whether a connection waits in the listening socket's queue now. */
static int
master_pending(const master_t *m)
{
    struct pollfd p = {.fd = m->mc->worker.listen_fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The idle worker of this generation idle the longest, or NULL. */
static fw_child_t *
master_longest_idle(void)
{
    fw_child_t *best = NULL;

    for (int i = 0; i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (c->pid > 0 && !c->adopted && c->state == FW_CHILD_READY &&
            fw_children_active(c) == 0 &&
            (best == NULL || c->idle_since < best->idle_since)) {
            best = c;
        }
    }
    return best;
}

/* Whether the master should poll the listening socket to grow the pool
 * on a connection (fw_pool_rules_wants_listen). */
static int
master_wants_listen(const master_t *m, double now)
{
    fw_pool_view_t v;

    if (m->mc->pm == FW_PM_STATIC || !master_serving(m) || !m->can_spawn) {
        return 0;
    }
    v = master_view(m, now);
    return fw_pool_rules_wants_listen(&m->rules, &v);
}

/*
 * The pool rules (fw_pool_rules_decide), once per loop, and what they
 * decide done: fork, count max-children reached, retire idle workers.
 * pending: the listening socket had a connection waiting (seen by the
 * loop's poll).
 */
static void
master_maintain(master_t *m, double now, int pending)
{
    fw_pool_view_t v = master_view(m, now);
    fw_pool_decision_t d;

    v.pending = pending;
    d = fw_pool_rules_decide(&m->rules, &v, now);
    m->initial_done = d.initial_done;
    if (d.full) {
        master_pool_full(m, now);
    } else if (d.full_over) {
        m->full_logged = 0;
    }
    if (d.spawn > 0) {
        master_spawn(m, d.spawn);
    }
    if (d.full_if_pending && master_pending(m)) {
        master_pool_full(m, now);
    }

    if (d.retire_longest) {
        fw_child_t *c = master_longest_idle();

        if (c != NULL) {
            fw_children_retire(c, now);
            m->last_shrink = now;
        }
    }
    for (int i = 0; d.retire_idle && i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (c->pid > 0 && !c->adopted && c->state == FW_CHILD_READY &&
            fw_children_active(c) == 0 && c->idle_since <= d.retire_before) {
            fw_children_retire(c, now);
        }
    }
}

/* RELOADING: once the new generation has reload_target workers ready
 * (fw_pool_rules_reload_done), the old ones are retired -> RUNNING. */
static void
master_check_reloaded(master_t *m, double now)
{
    fw_pool_view_t v = master_view(m, now);
    int old = 0;

    if (!fw_pool_rules_reload_done(&v) ||
        master_set_state(m, FW_POOL_RUNNING, now) < 0) {
        return;
    }
    for (int i = 0; i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (c->pid > 0 && c->adopted && c->state != FW_CHILD_RETIRING) {
            fw_children_retire(c, now);
            old++;
        }
    }
    fw_log(FW_LOG_INFO,
           "reload: generation %llu serving with %d worker(s); %d old "
           "worker(s) finish their requests and stop",
           (unsigned long long)m->generation, v.idle + v.busy, old);
}

/* ------------------------------------------------------------- reload */

/* "FW_OLD_WORKERS=1,2,3" of every live child, malloc'd; NULL on OOM. */
static char *
master_old_workers_var(void)
{
    size_t size =
        sizeof(MASTER_ENV_OLD) + 1 + (size_t)fw_children_alive() * 24 + 1;
    char *var = malloc(size);
    size_t used;

    if (var == NULL) {
        return NULL;
    }
    used = (size_t)snprintf(var, size, "%s=", MASTER_ENV_OLD);
    for (int i = 0; i < fw_children_capacity() && used < size; i++) {
        const fw_child_t *c = fw_children_at(i);

        if (c->pid > 0) {
            used += (size_t)snprintf(var + used, size - used, "%s%ld",
                                     var[used - 1] == '=' ? "" : ",",
                                     (long)c->pid);
        }
    }
    return var;
}

/*
 * execve of this program with the first argv and environment plus the
 * handover variables.  Returns only when the exec failed (logged); the
 * master then goes on as it was.
 */
static void
master_exec(master_t *m, const char *why)
{
    const fw_master_config_t *mc = m->mc;
    int listen_fd = mc->worker.listen_fd;
    char listen_var[64], gen_var[64];
    char *old_var = master_old_workers_var();
    size_t n = 0, k = 0;
    char **envp;
    sigset_t saved_mask;
    int here = -1, flags, saved;

    while (mc->envp != NULL && mc->envp[n] != NULL) {
        n++;
    }
    envp = calloc(n + 4, sizeof(*envp));
    if (envp == NULL || old_var == NULL) {
        fw_log(FW_LOG_ERROR, "%s: reload: out of memory", why);
        free(envp);
        free(old_var);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        envp[k++] = mc->envp[i];
    }
    snprintf(listen_var, sizeof(listen_var), "%s=%d", MASTER_ENV_LISTEN,
             listen_fd);
    snprintf(gen_var, sizeof(gen_var), "%s=%llu", MASTER_ENV_GENERATION,
             (unsigned long long)(m->generation + 1));
    envp[k++] = listen_var;
    envp[k++] = old_var;
    envp[k++] = gen_var;
    envp[k] = NULL;

    fw_log(FW_LOG_INFO,
           "%s: reload: re-executing with %d worker(s) still serving", why,
           fw_children_alive());

    flags = fcntl(listen_fd, F_GETFD);
    if (flags >= 0) {
        (void)fcntl(listen_fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    fflush(NULL);
    /* blocked across the exec: the new image takes them once ready */
    fw_signals_block(&saved_mask);
    if (mc->cwd_fd >= 0) {
        here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (void)!fchdir(mc->cwd_fd);
    }
    /* systemd: RELOADING=1; the new image: READY=1 */
    fw_notify_reloading(fw_scoreboard_now_us());
    execve("/proc/self/exe", mc->argv, envp);
    saved = errno;

    if (here >= 0) {
        (void)!fchdir(here);
        close(here);
    }
    if (flags >= 0) {
        (void)fcntl(listen_fd, F_SETFD, flags);
    }
    fw_signals_restore(&saved_mask);
    free(envp);
    free(old_var);
    fw_log(FW_LOG_ERROR,
           "%s: reload: exec /proc/self/exe: %s; the workers "
           "keep serving",
           why, strerror(saved));
}

/*
 * Loads the configuration again to see that it is valid.  0, or -1 after
 * logging what is wrong with it.
 */
static int
master_check_conf(const master_t *m, const char *why)
{
    fw_conf_t conf;
    char *err = NULL, *out = NULL;
    size_t err_len = 0, out_len = 0;
    FILE *err_fp = open_memstream(&err, &err_len);
    FILE *out_fp = open_memstream(&out, &out_len);
    int argc = 0, rc = -1, here = -1;

    if (err_fp == NULL || out_fp == NULL) {
        fw_log(FW_LOG_ERROR, "%s: reload: open_memstream: %s", why,
               strerror(errno));
        goto done;
    }
    while (m->mc->argv[argc] != NULL) {
        argc++;
    }
    /* relative paths in argv are the start directory's, as in the exec */
    if (m->mc->cwd_fd >= 0) {
        here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (void)!fchdir(m->mc->cwd_fd);
    }
    rc = fw_conf_load(&conf, argc, m->mc->argv, out_fp, err_fp) == FW_CONF_OK
             ? 0
             : -1;
    fw_conf_free(&conf);
    if (here >= 0) {
        (void)!fchdir(here);
        close(here);
    }
    fflush(err_fp);
    if (rc < 0) {
        while (err_len > 0 && err[err_len - 1] == '\n') {
            err[--err_len] = '\0';
        }
        fw_log(FW_LOG_ERROR,
               "%s: reload cancelled, the configuration is not valid; the "
               "workers keep serving: %s",
               why, err_len > 0 ? err : "(no message)");
    }

done:
    if (err_fp != NULL) {
        fclose(err_fp);
    }
    if (out_fp != NULL) {
        fclose(out_fp);
    }
    free(err);
    free(out);
    return rc;
}

static void master_signal(master_t *m, int sig, double now);

/*
 * SIGHUP or touch-reload: checks the configuration, lets a stop signal
 * that is already waiting win, then re-executes (see the header).
 */
static void
master_reload(master_t *m, const char *why, double now)
{
    int sig;

    if (!master_serving(m) || master_check_conf(m, why) < 0) {
        return;
    }
    while ((sig = fw_signals_take()) != 0) {
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            fw_log(FW_LOG_INFO, "%s: reload dropped for %s", why,
                   fw_signals_name(sig));
            master_signal(m, sig, now);
            return;
        }
        if (sig != SIGHUP) {
            master_signal(m, sig, now);
        }
    }
    master_exec(m, why);
}

/* ------------------------------------------------------- touch-reload */

static void
master_touch_stat(const char *path, master_touch_t *t)
{
    struct stat st;

    if (stat(path, &st) == 0) {
        t->exists = 1;
        t->mtime = st.st_mtim;
    } else {
        t->exists = 0;
    }
}

/* Whether a touch-reload file appeared or got a new mtime since the last
 * check; the first that did is named in *which. */
static int
master_touched(master_t *m, const char **which)
{
    int touched = 0;

    for (size_t i = 0; i < m->mc->ntouch_reload; i++) {
        master_touch_t now;

        master_touch_stat(m->mc->touch_reload[i], &now);
        if (now.exists && (!m->touch[i].exists ||
                           now.mtime.tv_sec != m->touch[i].mtime.tv_sec ||
                           now.mtime.tv_nsec != m->touch[i].mtime.tv_nsec)) {
            if (!touched) {
                *which = m->mc->touch_reload[i];
            }
            touched = 1;
        }
        m->touch[i] = now;
    }
    return touched;
}

/* ------------------------------------------------------------- signals */

static void
master_signal(master_t *m, int sig, double now)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        master_stop(m, fw_signals_name(sig), now);
        break;
    case SIGQUIT:
        master_quit(m, now);
        break;
    case SIGHUP:
        master_reload(m, "SIGHUP", now);
        break;
    case SIGUSR1:
        if (fw_log_open(m->mc->worker.logto) < 0) {
            fw_log(FW_LOG_ERROR, "SIGUSR1: cannot reopen %s: %s",
                   m->mc->worker.logto, strerror(errno));
        } else {
            fw_log(FW_LOG_INFO, "SIGUSR1: log reopened");
        }
        fw_children_signal_all(SIGUSR1);
        break;
    default:
        break; /* SIGCHLD, SIGUSR2: the loop reaps and looks anyway */
    }
}

/* ---------------------------------------------------------------- run */

/*
 * Start-up of this master image: the scoreboard, the table, the signals,
 * the application (unless lazy), the adopted workers of a reload.
 * 0, or -1 when the master cannot run at all.
 */
static int
master_start(master_t *m)
{
    const fw_master_config_t *mc = m->mc;
    const fw_master_handover_t *h = mc->handover;
    /* the option table guarantees max_children >= 1 and threads >= 1;
     * twice the pool's slots: a reload runs old and new side by side */
    int slots = 2 * mc->max_children;
    int threads = mc->worker.threads;

    fw_log_set_role("master");
    if (fw_scoreboard_pool() == NULL &&
        fw_scoreboard_create(slots, threads) < 0) {
        return -1;
    }
    slots = fw_scoreboard_pool()->max_workers;
    if (fw_children_init(slots, threads,
                         (double)mc->worker.shutdown_timeout + 5) < 0 ||
        fw_signals_install() < 0) {
        return -1;
    }
    fw_scoreboard_pool()->processes = mc->max_children;
    m->touch = calloc(mc->ntouch_reload + 1, sizeof(*m->touch));
    if (m->touch == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < mc->ntouch_reload; i++) {
        master_touch_stat(mc->touch_reload[i], &m->touch[i]);
    }

    m->first_start = h == NULL || h->listen_fd < 0;
    m->generation = m->first_start ? 0 : h->generation;
    for (size_t i = 0; !m->first_start && i < h->nold_workers; i++) {
        fw_children_adopt(h->old_workers[i]);
    }

    m->can_spawn = mc->app != NULL;
    if (m->can_spawn && !mc->lazy_apps && fw_pyglue_start(mc->app) < 0) {
        m->can_spawn = 0;
    }
    if (!m->can_spawn && m->first_start) {
        return -1;
    }
    if (!m->can_spawn) {
        fw_log(FW_LOG_ERROR,
               "reload failed (see above): the %d worker(s) of the previous "
               "generation keep serving; fix it and reload again",
               fw_children_alive());
        fw_notify_ready(); /* systemd: the old workers serve */
    }

    m->reload_target = fw_pool_rules_reload_target(&m->rules, mc->lazy_apps);
    if (master_set_state(m,
                         m->first_start ? FW_POOL_RUNNING : FW_POOL_RELOADING,
                         fw_children_now()) < 0) {
        return -1;
    }
    if (mc->app != NULL) {
        fw_log(FW_LOG_INFO,
               "%s %s:%s (%s) with pm %s, up to %d process(es) of %d "
               "thread(s)%s",
               m->first_start ? "serving" : "reload: serving", mc->app->module,
               mc->app->callable != NULL ? mc->app->callable : "application",
               mc->lazy_apps ? "imported in each worker"
                             : "imported in the master",
               mc->pm == FW_PM_STATIC    ? "static"
               : mc->pm == FW_PM_DYNAMIC ? "dynamic"
                                         : "ondemand",
               mc->max_children, threads,
               m->first_start ? "" : ", the old workers serving meanwhile");
    }
    return 0;
}

/* The loop's wait: the signal pipe, and the listening socket when the
 * pool may grow on a connection; a tick, or less when a fork pause ends
 * sooner.  Returns whether a connection is pending. */
static int
master_wait(master_t *m, double now)
{
    struct pollfd fds[2];
    nfds_t n = 1;
    double pause = fw_children_spawn_wait(now);
    int timeout = MASTER_TICK_MS;

    fds[0].fd = fw_signals_fd();
    fds[0].events = POLLIN;
    if (master_wants_listen(m, now)) {
        fds[1].fd = m->mc->worker.listen_fd;
        fds[1].events = POLLIN;
        n = 2;
    }
    if (pause > 0 && pause * 1000 < MASTER_TICK_MS) {
        timeout = (int)(pause * 1000) + 1;
    }
    if (poll(fds, n, timeout) <= 0) {
        return 0;
    }
    return n == 2 && (fds[1].revents & POLLIN);
}

int
fw_master_run(const fw_master_config_t *mc)
{
    master_t m;

    memset(&m, 0, sizeof(m)); /* state: FW_POOL_STARTING */
    m.mc = mc;
    m.rules.pm = mc->pm;
    m.rules.max_children = mc->max_children;
    m.rules.start_servers = mc->start_servers;
    m.rules.min_spare = mc->min_spare;
    m.rules.max_spare = mc->max_spare;
    m.rules.idle_timeout = mc->idle_timeout;
    if (master_start(&m) < 0) {
        free(m.touch);
        return 1;
    }

    for (;;) {
        double now = fw_children_now();
        fw_children_reaped_t reaped;
        const char *touched = NULL;
        int pending, sig;

        fw_children_refresh(now);
        for (int i = 0; i < fw_children_capacity(); i++) {
            const fw_child_t *c = fw_children_at(i);

            m.ever_ready |= c->pid > 0 && !c->adopted && c->ready_at > 0;
        }
        fw_notify_pool(m.state == FW_POOL_RUNNING &&
                           (m.ever_ready || mc->pm == FW_PM_ONDEMAND),
                       fw_children_alive(), now); /* READY=1, STATUS= */
        if (master_serving(&m)) {
            master_check_reloaded(&m, now);
        }

        pending = master_wait(&m, now);
        now = fw_children_now();

        while ((sig = fw_signals_take()) != 0) {
            master_signal(&m, sig, now);
        }
        if (master_serving(&m) && master_touched(&m, &touched)) {
            char why[300];

            snprintf(why, sizeof(why), "touch-reload %s", touched);
            master_reload(&m, why, now);
        }

        reaped = fw_children_reap(!master_serving(&m));
        if (reaped.exited > 0) {
            fw_scoreboard_reap();
        }
        fw_observe_tick(); /* harakiri, slowlog, listen queue */
        if (reaped.failed_to_load > 0 && m.first_start && !m.ever_ready &&
            master_serving(&m)) {
            m.status = 1;
            master_stop(&m, "the application cannot be loaded (see above)",
                        now);
        }

        if (master_serving(&m)) {
            fw_children_refresh(now);
            master_maintain(&m, now, pending);
            continue;
        }

        if (fw_children_alive() == 0) {
            break;
        }
        if (now > m.deadline) {
            if (m.killed) {
                fw_log(FW_LOG_ERROR,
                       "%d worker(s) survived SIGKILL: "
                       "leaving them",
                       fw_children_alive());
                break;
            }
            fw_log(FW_LOG_WARN, "killing %d worker(s) still running",
                   fw_children_alive());
            fw_children_signal_all(SIGKILL);
            m.killed = 1;
            m.deadline = now + 5;
        }
    }

    free(m.touch);
    if (m.state == FW_POOL_STOPPING) {
        fw_pyglue_stop();
    }
    return m.status;
}
