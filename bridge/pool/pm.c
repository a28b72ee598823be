/*
 * pm.c: the master's hands on the pool's size (php-fpm's pm): it counts
 * the workers of this generation into a view, asks pool_rules.c what to
 * do, and does it: fork, retire idle workers, count max-children reached.
 * It decides nothing itself and never changes the master's state.
 */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bridge/pool/pool_int.h"
#include "bridge/serve/serve.h"
#include "bridge/log.h"

void
fw_pm_init(fw_pm_t *pm, const fw_master_config_t *mc, uint64_t generation)
{
    memset(pm, 0, sizeof(*pm));
    pm->mc = mc;
    pm->generation = generation;
    pm->rules.pm = mc->pm;
    pm->rules.max_children = mc->max_children;
    pm->rules.start_servers = mc->start_servers;
    pm->rules.min_spare = mc->min_spare;
    pm->rules.max_spare = mc->max_spare;
    pm->rules.idle_timeout = mc->idle_timeout;
    pm->reload_target = fw_pool_rules_reload_target(&pm->rules, mc->lazy_apps);
}

/* Whether c is a ready worker of this generation with no request. */
static int
pm_idle(const fw_child_t *c)
{
    return c->pid > 0 && !c->adopted && c->state == FW_CHILD_READY &&
           fw_children_active(c) == 0;
}

fw_pool_view_t
fw_pm_view(const fw_pm_t *pm, fw_pool_state_e state, double now)
{
    fw_pool_view_t v;
    int threads = pm->mc->worker->threads;

    memset(&v, 0, sizeof(v));
    v.state = state;
    v.can_spawn = pm->can_spawn;
    v.may_fork = fw_children_may_spawn(now);
    v.initial_done = pm->initial_done;
    v.reload_target = pm->reload_target;
    v.last_shrink = pm->last_shrink;

    for (int i = 0; i < fw_children_capacity(); i++) {
        const fw_child_t *c = fw_children_at(i);
        int active;

        if (c->pid <= 0 || c->adopted) {
            continue;
        }
        if (c->state == FW_CHILD_STARTING) {
            v.starting++;
        } else if (c->state == FW_CHILD_READY) {
            active = fw_children_active(c);
            if (active > 0) {
                v.busy++;
            } else {
                v.idle++;
            }
            if (active < threads) {
                v.free_threads += threads - active;
            }
        }
    }
    return v;
}

int
fw_pm_any_ready(void)
{
    for (int i = 0; i < fw_children_capacity(); i++) {
        const fw_child_t *c = fw_children_at(i);

        if (c->pid > 0 && !c->adopted && c->ready_at > 0) {
            return 1;
        }
    }
    return 0;
}

int
fw_pm_wants_listen(const fw_pm_t *pm, fw_pool_state_e state, double now)
{
    fw_pool_view_t v = fw_pm_view(pm, state, now);

    return fw_pool_rules_wants_listen(&pm->rules, &v);
}

/* The child's side of a fork: the worker, after importing the app itself
 * with lazy-apps (and starting py-autoreload's watch). */
static int
pm_worker_main(void *arg, int slot)
{
    const fw_master_config_t *mc = arg;
    fw_worker_config_t wc = *mc->worker;

    wc.slot = slot;
    wc.master = getppid();
    if (mc->lazy_apps && fw_pyglue_start(mc->app) < 0) {
        return FW_CHILD_EXIT_NO_APP;
    }
    fw_autoreload_start(mc->py_autoreload);
    return fw_worker_run(&wc);
}

/* Forks up to n workers, as long as the fork rate allows (the rest wait
 * for a later turn). */
static void
pm_spawn(const fw_pm_t *pm, int n)
{
    int done = 0;

    while (done < n && fw_children_may_spawn(fw_children_now()) &&
           fw_children_spawn(pm_worker_main, (void *)pm->mc, pm->generation) !=
               NULL) {
        done++;
    }
}

/*
 * The pool wants a worker it may not have: counts max_children_reached in
 * the scoreboard (once a second at most) and logs it once per episode.
 */
static void
pm_full(fw_pm_t *pm, double now)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();

    if (now - pm->last_full < 1.0) {
        return;
    }
    pm->last_full = now;
    atomic_fetch_add(&pool->max_children_reached, 1);
    if (!pm->full_logged) {
        fw_log(FW_LOG_WARN,
               "the pool reached max-children (%d) with every worker busy: "
               "requests wait; consider raising max-children",
               pm->mc->max_children);
        pm->full_logged = 1;
    }
}

/* Whether a connection waits in the listening socket's queue now. */
static int
pm_pending(const fw_pm_t *pm)
{
    struct pollfd p = {.fd = pm->mc->worker->listen_fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The idle worker of this generation idle the longest, or NULL. */
static fw_child_t *
pm_longest_idle(void)
{
    fw_child_t *best = NULL;

    for (int i = 0; i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (pm_idle(c) && (best == NULL || c->idle_since < best->idle_since)) {
            best = c;
        }
    }
    return best;
}

/* The decision's retirements: the worker idle the longest (dynamic), or
 * each one idle since retire_before or earlier (ondemand). */
static void
pm_retire(fw_pm_t *pm, const fw_pool_decision_t *d, double now)
{
    if (d->retire_longest) {
        fw_child_t *c = pm_longest_idle();

        if (c != NULL) {
            fw_children_retire(c, now);
            pm->last_shrink = now;
        }
    }
    for (int i = 0; d->retire_idle && i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (pm_idle(c) && c->idle_since <= d->retire_before) {
            fw_children_retire(c, now);
        }
    }
}

void
fw_pm_maintain(fw_pm_t *pm, fw_pool_state_e state, double now, int pending)
{
    fw_pool_view_t v = fw_pm_view(pm, state, now);
    fw_pool_decision_t d;

    v.pending = pending;
    d = fw_pool_rules_decide(&pm->rules, &v, now);
    pm->initial_done = d.initial_done;
    if (d.full) {
        pm_full(pm, now);
    } else if (d.full_over) {
        pm->full_logged = 0;
    }
    if (d.spawn > 0) {
        pm_spawn(pm, d.spawn);
    }
    if (d.full_if_pending && pm_pending(pm)) {
        pm_full(pm, now);
    }
    pm_retire(pm, &d, now);
}
