/*
 * master.c: the master process's state machine and its loop.  It waits in
 * poll() on the signal self-pipe (and, when the pool may have to grow, on
 * the listening socket), ticking every 200 ms; signal handlers only write
 * to the pipe.  Each turn it acts on what it found: signals, touch-reload
 * files, workers that ended, and the pool's size (pm.c, as pool_rules.c
 * decides).  Forking and reaping are in children.c, how a reload is done
 * in reload.c.  It runs no request, and with lazy-apps no Python at all.
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
 *              the previous master image (adopted, see reload.c) keep
 *              serving; once the new generation has its first workers
 *              ready, the old ones get SIGTERM (they finish their
 *              requests) -> RUNNING.  If the new code cannot be imported,
 *              it stays here: the old workers serve until a later reload.
 *   STOPPING   graceful stop: every worker got SIGTERM, stops accepting and
 *              finishes its requests; the master exits 0 when none is
 *              left.  After worker-shutdown-timeout (+2 s) -> SIGKILL.
 *   QUITTING   immediate stop: every worker got SIGQUIT; SIGKILL after 3 s.
 *
 * Which signal wins (a signal the table refuses is logged and ignored):
 *   SIGQUIT          from any state -> QUITTING (overrides a graceful stop).
 *   SIGTERM, SIGINT  RUNNING or RELOADING -> STOPPING; ignored when already
 *                    stopping or quitting.
 *   SIGHUP, touch-reload, py-autoreload
 *                    RUNNING or RELOADING -> reload (reload.c); ignored
 *                    when stopping or quitting.  A stop signal that arrived
 *                    with the SIGHUP wins over it
 *                    (fw_pool_rules_cancels_reload).
 *   SIGUSR1          any state: reopen the log here and in every worker.
 *   SIGUSR2          a worker leaving by itself (max-requests,
 *                    reload-on-rss) asks for its replacement now.
 *   SIGCHLD          reap, log, replace (RUNNING, RELOADING only).
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
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bridge/pool/pool_int.h"
#include "bridge/serve/serve.h"
#include "bridge/log.h"
#include "bridge/observe/observe.h"

#define MASTER_TICK_MS 200
#define MASTER_QUIT_GRACE 3.0 /* QUITTING: SIGKILL after this */
#define MASTER_STOP_EXTRA 2.0 /* STOPPING: worker-shutdown-timeout + this */
#define MASTER_KILL_WAIT 5.0  /* after SIGKILL: the master leaves anyway */

typedef struct {
    const fw_master_config_t *mc;
    fw_pm_t pm;            /* the pool's size; its generation is ours */
    fw_pool_state_e state; /* written by master_set_state only */
    int first_start;       /* not a reload: a bad app ends the master */
    int ever_ready;        /* a worker of this image became ready */
    int status;            /* exit status */
    double deadline;       /* STOPPING/QUITTING: SIGKILL after this */
    int killed;            /* SIGKILL sent at the deadline */
    fw_reload_touch_t touch;
} master_t;

/* -------------------------------------------------------------- states */

/* A signal or event the current state does not take, logged. */
static void
master_ignored(const master_t *m, const char *why)
{
    fw_log(FW_LOG_INFO, "%s: ignored, the master is %s", why,
           fw_pool_rules_state_name(m->state));
}

/*
 * The only writer of m->state: moves to `to` when the transition table
 * (fw_pool_rules_transition) allows it from the current state; RELOADING
 * -> RUNNING only once the reload completed.  0, or -1: refused, and
 * logged as "<why>: ignored, the master is <state>" (a stop signal while
 * stopping, say).
 */
static int
master_set_state(master_t *m, fw_pool_state_e to, const char *why, double now)
{
    fw_pool_view_t v = fw_pm_view(&m->pm, m->state, now);

    if (!fw_pool_rules_transition(m->state, to,
                                  fw_pool_rules_reload_done(&v))) {
        master_ignored(m, why);
        return -1;
    }
    m->state = to;
    return 0;
}

static int
master_serving(const master_t *m)
{
    return fw_pool_rules_serving(m->state);
}

/* Graceful stop: SIGTERM to every worker, then wait. */
static void
master_stop(master_t *m, const char *why, double now)
{
    if (master_set_state(m, FW_POOL_STOPPING, why, now) < 0) {
        return;
    }
    fw_log(FW_LOG_INFO, "%s: graceful stop of %d worker(s)", why,
           fw_children_alive());
    fw_notify_stopping(); /* systemd: STOPPING=1 */
    m->deadline = now + m->mc->worker->shutdown_timeout + MASTER_STOP_EXTRA;
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
    if (master_set_state(m, FW_POOL_QUITTING, "SIGQUIT", now) < 0) {
        return;
    }
    fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop of %d worker(s)",
           fw_children_alive());
    fw_notify_stopping(); /* systemd: STOPPING=1 */
    m->deadline = now + MASTER_QUIT_GRACE;
    m->killed = 0;
    fw_children_signal_all(SIGQUIT);
}

/* RELOADING: once the new generation has reload_target workers ready
 * (fw_pool_rules_reload_done), the old ones are retired -> RUNNING. */
static void
master_check_reloaded(master_t *m, double now)
{
    fw_pool_view_t v = fw_pm_view(&m->pm, m->state, now);
    int old;

    if (!fw_pool_rules_reload_done(&v) ||
        master_set_state(m, FW_POOL_RUNNING, "reload", now) < 0) {
        return;
    }
    old = fw_reload_retire_old(now);
    fw_log(FW_LOG_INFO,
           "reload: generation %llu serving with %d worker(s); %d old "
           "worker(s) finish their requests and stop",
           (unsigned long long)m->pm.generation, v.idle + v.busy, old);
}

/* ------------------------------------------------------------- signals */

static void master_signal(master_t *m, int sig, double now);

/*
 * SIGHUP or touch-reload: checks the configuration, acts on the signals
 * already waiting (a stop among them wins: the reload is dropped; more
 * SIGHUPs are this reload), then re-executes (reload.c).
 */
static void
master_reload(master_t *m, const char *why, double now)
{
    int sig;

    if (!master_serving(m)) {
        master_ignored(m, why);
        return;
    }
    if (fw_reload_check_conf(m->mc, why) < 0) {
        return;
    }
    while ((sig = fw_signals_take()) != 0) {
        if (fw_pool_rules_cancels_reload(sig)) {
            fw_log(FW_LOG_INFO, "%s: reload dropped for %s", why,
                   fw_signals_name(sig));
            master_signal(m, sig, now);
            return;
        }
        if (sig != SIGHUP) {
            master_signal(m, sig, now);
        }
    }
    fw_reload_exec(m->mc, m->pm.generation, why);
}

static void
master_reopen_log(const master_t *m)
{
    if (fw_log_open(m->mc->worker->logto) < 0) {
        fw_log(FW_LOG_ERROR, "SIGUSR1: cannot reopen %s: %s",
               m->mc->worker->logto, strerror(errno));
    } else {
        fw_log(FW_LOG_INFO, "SIGUSR1: log reopened");
    }
    fw_children_signal_all(SIGUSR1);
}

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
        master_reopen_log(m);
        break;
    default:
        break; /* SIGCHLD, SIGUSR2: the loop reaps and looks anyway */
    }
}

/* ------------------------------------------------------------ start-up */

/*
 * What this master image keeps: the scoreboard (made here unless main
 * made it), the children's table, the signals, the touch-reload stamps.
 * 0, or -1 after logging.
 */
static int
master_tables(master_t *m)
{
    const fw_master_config_t *mc = m->mc;
    /* the option table guarantees max_children >= 1 and threads >= 1;
     * twice the pool's slots: a reload runs old and new side by side */
    int slots = 2 * mc->max_children;
    int threads = mc->worker->threads;

    if (fw_scoreboard_pool() == NULL &&
        fw_scoreboard_create(slots, threads) < 0) {
        return -1;
    }
    slots = fw_scoreboard_pool()->max_workers;
    if (fw_children_init(slots, threads,
                         (double)mc->worker->shutdown_timeout + 5) < 0 ||
        fw_signals_install() < 0) {
        return -1;
    }
    fw_scoreboard_pool()->processes = mc->max_children;
    fw_autoreload_open(mc);
    return fw_reload_touch_init(&m->touch, mc->touch_reload,
                                mc->ntouch_reload);
}

/* "serving app:callable (imported in the master)": the pool and the
 * rest are in the start-up block main.c logged before (bridge/startup.h) */
static void
master_log_start(const master_t *m)
{
    const fw_master_config_t *mc = m->mc;

    fw_log(FW_LOG_INFO, "%s %s:%s (%s)%s",
           m->first_start ? "serving" : "reload: serving", mc->app->module,
           mc->app->callable != NULL ? mc->app->callable : "application",
           mc->lazy_apps ? "imported in each worker"
                         : "imported in the master",
           m->first_start ? "" : ", the old workers serving meanwhile");
}

/*
 * Start-up of this master image: the tables, the adopted workers of a
 * reload, the application (unless lazy), the first state.  0, or -1 when
 * the master cannot run at all.
 */
static int
master_start(master_t *m)
{
    const fw_master_config_t *mc = m->mc;
    const fw_reload_handover_t *h = mc->handover;

    fw_log_set_role("master");
    /* what the import of the app prints (and a lazy-apps worker's, which
     * inherits them) goes to logto, not to the terminal */
    if (fw_log_take_stdio() < 0) {
        fw_log(FW_LOG_WARN,
               "logto: stdout and stderr stay where they were (%s): what "
               "the application prints while it is imported is not in the "
               "log",
               strerror(errno));
    }
    m->first_start = h == NULL || h->listen_fd < 0;
    fw_pm_init(&m->pm, mc, m->first_start ? 0 : h->generation);
    if (master_tables(m) < 0) {
        return -1;
    }
    fw_reload_adopt(h);

    m->pm.can_spawn = mc->app != NULL;
    if (m->pm.can_spawn && !mc->lazy_apps && fw_pyglue_start(mc->app) < 0) {
        m->pm.can_spawn = 0;
    }
    if (!m->pm.can_spawn && m->first_start) {
        return -1;
    }
    if (!m->pm.can_spawn) {
        fw_log(FW_LOG_ERROR,
               "reload failed (see above): the %d worker(s) of the previous "
               "generation keep serving; fix it and reload again",
               fw_children_alive());
        fw_notify_ready(); /* systemd: the old workers serve */
    }
    if (master_set_state(m,
                         m->first_start ? FW_POOL_RUNNING : FW_POOL_RELOADING,
                         "start", fw_children_now()) < 0) {
        return -1;
    }
    if (mc->app != NULL) {
        master_log_start(m);
    }
    return 0;
}

/* ---------------------------------------------------------------- loop */

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
    if (fw_pm_wants_listen(&m->pm, m->state, now)) {
        fds[1].fd = m->mc->worker->listen_fd;
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

/* Before the wait: the workers' states, systemd's READY=1 and STATUS=,
 * the end of a reload. */
static void
master_look(master_t *m, double now)
{
    fw_children_refresh(now);
    m->ever_ready |= fw_pm_any_ready();
    fw_notify_pool(m->state == FW_POOL_RUNNING &&
                       (m->ever_ready || m->mc->pm == FW_PM_ONDEMAND),
                   fw_children_alive(), now); /* READY=1, STATUS= */
    if (master_serving(m)) {
        master_check_reloaded(m, now);
    }
}

/* After the wait: the signals, then the touch-reload files, then the
 * module files py-autoreload's workers saw change. */
static void
master_take_signals(master_t *m, double now)
{
    const char *touched, *changed;
    char why[PATH_MAX + 64];
    int sig;

    while ((sig = fw_signals_take()) != 0) {
        master_signal(m, sig, now);
    }
    if (master_serving(m) && (touched = fw_reload_touched(&m->touch))) {
        snprintf(why, sizeof(why), "touch-reload %s", touched);
        master_reload(m, why, now);
    }
    if (master_serving(m) && (changed = fw_autoreload_changed())) {
        snprintf(why, sizeof(why), "py-autoreload: %s changed", changed);
        master_reload(m, why, now);
    }
}

/* The workers that ended; a first start whose app cannot load stops. */
static void
master_reap(master_t *m, double now)
{
    fw_children_reaped_t reaped = fw_children_reap(!master_serving(m));

    if (reaped.exited > 0) {
        fw_scoreboard_reap();
    }
    fw_observe_tick(); /* harakiri, slowlog, listen queue */
    if (reaped.failed_to_load > 0 && m->first_start && !m->ever_ready &&
        master_serving(m)) {
        m->status = 1;
        master_stop(m, "the application cannot be loaded (see above)", now);
    }
}

/* STOPPING or QUITTING: SIGKILL at the deadline, and leave when no
 * worker is left or MASTER_KILL_WAIT after it.  0: the master is done. */
static int
master_wind_down(master_t *m, double now)
{
    if (fw_children_alive() == 0) {
        return 0;
    }
    if (now <= m->deadline) {
        return 1;
    }
    if (m->killed) {
        fw_log(FW_LOG_ERROR, "%d worker(s) survived SIGKILL: leaving them",
               fw_children_alive());
        return 0;
    }
    fw_log(FW_LOG_WARN, "killing %d worker(s) still running",
           fw_children_alive());
    fw_children_signal_all(SIGKILL);
    m->killed = 1;
    m->deadline = now + MASTER_KILL_WAIT;
    return 1;
}

/* One turn of the loop.  0 once the master is done. */
static int
master_turn(master_t *m)
{
    double now = fw_children_now();
    int pending;

    master_look(m, now);
    pending = master_wait(m, now);
    now = fw_children_now();
    master_take_signals(m, now);
    master_reap(m, now);
    if (!master_serving(m)) {
        return master_wind_down(m, now);
    }
    fw_children_refresh(now);
    fw_pm_maintain(&m->pm, m->state, now, pending);
    return 1;
}

int
fw_master_run(const fw_master_config_t *mc)
{
    master_t m;

    memset(&m, 0, sizeof(m)); /* state: FW_POOL_STARTING */
    m.mc = mc;
    if (master_start(&m) < 0) {
        fw_reload_touch_free(&m.touch);
        return 1;
    }
    while (master_turn(&m)) {
    }
    fw_reload_touch_free(&m.touch);
    if (m.state == FW_POOL_STOPPING) {
        fw_pyglue_stop();
    }
    return m.status;
}
