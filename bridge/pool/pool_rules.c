/*
 * pool_rules.c: the pool's decisions as pure functions (php-fpm's pm and
 * fpm_pctl rules): how many workers to fork, which to retire, when a fork
 * may happen, which state change the master may make, what wins over a
 * reload, when a touch-reload file or directory counts as touched, which
 * module file change py-autoreload reports and takes.  No I/O, no globals,
 * no clock read: every fact and the time come in as arguments.
 */
#include <signal.h>
#include <string.h>

#include "bridge/pool/pool.h"

/* ------------------------------------------------------------- the pool */

fw_pool_decision_t
fw_pool_rules_decide(const fw_pool_rules_config_t *cfg,
                     const fw_pool_view_t *v, double now)
{
    fw_pool_decision_t d;
    int total = v->starting + v->idle + v->busy;
    int room = cfg->max_children - total;
    int elastic = cfg->pm != FW_PM_STATIC;
    int want = 0;

    memset(&d, 0, sizeof(d));
    d.initial_done = v->initial_done;
    if (v->can_spawn && v->may_fork) {
        switch (cfg->pm) {
        case FW_PM_STATIC:
            want = room;
            break;
        case FW_PM_DYNAMIC:
            if (!v->initial_done) {
                want = cfg->start_servers - total;
                d.initial_done = 1;
            } else if (v->idle + v->starting < cfg->min_spare) {
                want = cfg->min_spare - (v->idle + v->starting);
            }
            break;
        case FW_PM_ONDEMAND:
            break;
        }
        if (elastic && v->pending && v->free_threads == 0 &&
            v->starting == 0 && want < 1) {
            want = 1;
        }
        if (v->state == FW_POOL_RELOADING && total < v->reload_target &&
            want < v->reload_target - total) {
            want = v->reload_target - total;
        }
        if (want > room) {
            d.full = elastic;
            want = room;
        } else if (room > 0 && elastic) {
            d.full_over = 1;
        }
        d.spawn = want > 0 ? want : 0;
    }
    d.full_if_pending = elastic && room <= 0 && v->free_threads == 0;
    if (cfg->pm == FW_PM_DYNAMIC && v->idle > cfg->max_spare &&
        now - v->last_shrink >= 1.0) {
        d.retire_longest = 1;
    }
    if (cfg->pm == FW_PM_ONDEMAND) {
        d.retire_idle = 1;
        d.retire_before = now - cfg->idle_timeout;
    }
    return d;
}

int
fw_pool_rules_wants_listen(const fw_pool_rules_config_t *cfg,
                           const fw_pool_view_t *v)
{
    if (cfg->pm == FW_PM_STATIC || !fw_pool_rules_serving(v->state) ||
        !v->can_spawn || !v->may_fork) {
        return 0;
    }
    return v->starting == 0 && v->free_threads == 0 &&
           v->starting + v->idle + v->busy < cfg->max_children;
}

int
fw_pool_rules_reload_target(const fw_pool_rules_config_t *cfg, int lazy_apps)
{
    switch (cfg->pm) {
    case FW_PM_STATIC:
        return cfg->max_children;
    case FW_PM_DYNAMIC:
        return cfg->start_servers;
    case FW_PM_ONDEMAND:
        return lazy_apps ? 1 : 0;
    }
    return 0;
}

int
fw_pool_rules_reload_done(const fw_pool_view_t *v)
{
    return v->state == FW_POOL_RELOADING && v->can_spawn &&
           v->idle + v->busy >= v->reload_target;
}

/* ------------------------------------------------------ the state machine */

/*
 * The master's transitions, from (row) -> to (column); everything not
 * listed is refused:
 *
 *   STARTING  -> RUNNING    a first start
 *             -> RELOADING  the new image of a reload (the old workers
 *                           serve meanwhile)
 *   RUNNING   -> STOPPING   SIGTERM, SIGINT, or the app cannot load
 *             -> QUITTING   SIGQUIT
 *                           (a reload re-executes: no RUNNING -> RELOADING
 *                           inside one image)
 *   RELOADING -> RUNNING    only once the reload completed: the new
 *                           generation has its reload_target workers ready
 *             -> STOPPING   SIGTERM, SIGINT
 *             -> QUITTING   SIGQUIT
 *   STOPPING  -> QUITTING   SIGQUIT overrides a graceful stop
 *   QUITTING                nothing leaves it
 */
enum { NO = 0, YES, IF_RELOADED };

static const unsigned char transitions[5][5] = {
    /*                   STARTING RUNNING  RELOADING STOPPING QUITTING */
    [FW_POOL_STARTING] = {NO, YES, YES, NO, NO},
    [FW_POOL_RUNNING] = {NO, NO, NO, YES, YES},
    [FW_POOL_RELOADING] = {NO, IF_RELOADED, NO, YES, YES},
    [FW_POOL_STOPPING] = {NO, NO, NO, NO, YES},
    [FW_POOL_QUITTING] = {NO, NO, NO, NO, NO},
};

int
fw_pool_rules_transition(fw_pool_state_e from, fw_pool_state_e to,
                         int reload_done)
{
    if ((unsigned)from > FW_POOL_QUITTING || (unsigned)to > FW_POOL_QUITTING) {
        return 0;
    }
    switch (transitions[from][to]) {
    case YES:
        return 1;
    case IF_RELOADED:
        return reload_done != 0;
    default:
        return 0;
    }
}

const char *
fw_pool_rules_state_name(fw_pool_state_e s)
{
    static const char *const names[] = {"STARTING", "RUNNING", "RELOADING",
                                        "STOPPING", "QUITTING"};

    return (unsigned)s <= FW_POOL_QUITTING ? names[s] : "?";
}

int
fw_pool_rules_serving(fw_pool_state_e s)
{
    return s == FW_POOL_RUNNING || s == FW_POOL_RELOADING;
}

/* ----------------------------------------------------------- the reload */

int
fw_pool_rules_cancels_reload(int sig)
{
    return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
}

/* a < b */
static int
earlier(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int
fw_pool_rules_touched(const fw_pool_stamp_t *before,
                      const fw_pool_stamp_t *now)
{
    if (!now->exists) {
        return 0;
    }
    if (!before->exists || now->is_dir != before->is_dir) {
        return 1;
    }
    if (now->is_dir) {
        return earlier(&before->mtime, &now->mtime);
    }
    return now->mtime.tv_sec != before->mtime.tv_sec ||
           now->mtime.tv_nsec != before->mtime.tv_nsec;
}

int
fw_pool_rules_dir_entry_counts(const char *name)
{
    size_t len = strlen(name);

    return len > 0 && name[0] != '.' && name[len - 1] != '~';
}

int
fw_pool_rules_autoreload_due(const struct timespec *loaded,
                             const struct timespec *told,
                             const struct timespec *changed)
{
    return earlier(loaded, changed) && earlier(told, changed);
}

/* ------------------------------------------------------------ the guard */

void
fw_pool_rules_guard_init(fw_pool_guard_t *g, int slots)
{
    memset(g, 0, sizeof(*g));
    g->forks_max = slots > FW_POOL_FORKS_MIN ? slots : FW_POOL_FORKS_MIN;
}

/* Forks allowed in one second now. */
static int
window_max(const fw_pool_guard_t *g)
{
    return g->quick_deaths >= FW_POOL_CRASH_LOOP ? 1 : g->forks_max;
}

void
fw_pool_rules_ready(fw_pool_guard_t *g)
{
    g->crashes = 0;
    g->backoffs = 0;
}

/*
 * A worker that died before it was ready counts towards the crash loop;
 * past the threshold the next back-off starts (1, 2, 4 ... 30 s), unless
 * one runs already: the workers of one round that die together lengthen
 * it once.  A worker that was ready ends the back-off; if it died at once
 * having served nothing, it counts towards the quick deaths; one that
 * lived, served, or stopped as told ends those.
 */
fw_pool_verdict_t
fw_pool_rules_died(fw_pool_guard_t *g, const fw_pool_death_t *d, double now)
{
    fw_pool_verdict_t v = {0, 0, 0};
    double ready_at = d->ready_at > 0 ? d->ready_at : now;

    if (!d->ready) {
        if (d->expected) {
            return v;
        }
        v.crash = 1;
        g->crashes++;
        if (g->crashes < FW_POOL_CRASH_LOOP || now < g->respawn_at) {
            return v;
        }
        v.backoff = (double)(1 << (g->backoffs < 5 ? g->backoffs : 5));
        if (v.backoff > FW_POOL_BACKOFF_MAX) {
            v.backoff = FW_POOL_BACKOFF_MAX;
        }
        g->backoffs++;
        g->respawn_at = now + v.backoff;
        return v;
    }
    fw_pool_rules_ready(g);
    if (!d->expected && !d->clean && now - ready_at < FW_POOL_QUICK_SECONDS &&
        !d->served) {
        v.quick_loop = ++g->quick_deaths == FW_POOL_CRASH_LOOP;
    } else if (!d->expected || d->clean) {
        g->quick_deaths = 0;
    }
    return v;
}

void
fw_pool_rules_alive(fw_pool_guard_t *g, double ready_at, double now)
{
    if (now - ready_at >= FW_POOL_QUICK_SECONDS) {
        g->quick_deaths = 0;
    }
}

int
fw_pool_rules_forked(fw_pool_guard_t *g, double now)
{
    if (now - g->window_at >= 1.0) {
        g->window_at = now;
        g->window_forks = 0;
    }
    return ++g->window_forks == window_max(g) &&
           g->quick_deaths < FW_POOL_CRASH_LOOP;
}

double
fw_pool_rules_spawn_wait(const fw_pool_guard_t *g, double now)
{
    double wait = g->respawn_at - now;

    if (now - g->window_at < 1.0 && g->window_forks >= window_max(g) &&
        g->window_at + 1.0 - now > wait) {
        wait = g->window_at + 1.0 - now;
    }
    return wait > 0 ? wait : 0;
}
