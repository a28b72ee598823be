/*
 * test_pool_rules.c: bridge/pool/pool_rules.c on exact inputs: the spawn
 * counts of static, dynamic and ondemand (start-servers, min/max spare,
 * max-children), idle retirement, the reload target, the master's state
 * transitions, what wins over a reload, when a touch-reload file or
 * directory counts as touched, which py-autoreload change is news, and the
 * guards (crash-loop back-off 1, 2, 4 ... 30 s, the
 * immediate respawn of a ready worker, the fork rate, the fallback to one
 * fork a second).  Time is a number the test passes: no clock, no sleep.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bridge/pool/pool.h"

#define NOW 1000.0 /* any monotonic time */

/* Seconds equal but for the rounding of the sums that made them. */
static int
near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

/* ------------------------------------------------- fw_pool_rules_decide */

/* One row: the options, what the master sees, what must be decided. */
typedef struct {
    const char *name;
    fw_pool_rules_config_t cfg;
    fw_pool_view_t view;
    /* expected */
    int spawn, initial_done, full, full_over, full_if_pending;
    int retire_longest, retire_idle;
} decide_case_t;

#define STATIC(max)                                                           \
    {                                                                         \
        FW_PM_STATIC, (max), 0, 0, 0, 0                                       \
    }
#define DYNAMIC(max, start, min, maxs)                                        \
    {                                                                         \
        FW_PM_DYNAMIC, (max), (start), (min), (maxs), 0                       \
    }
#define ONDEMAND(max, idle)                                                   \
    {                                                                         \
        FW_PM_ONDEMAND, (max), 0, 0, 0, (idle)                                \
    }

/* starting, idle, busy, free threads; serving, app loaded, fork allowed;
 * initial_done, pending; last_shrink */
#define SEE(st, idle, busy, free, init, pend, shrunk)                         \
    {                                                                         \
        (st), (idle), (busy), (free), FW_POOL_RUNNING, 1, 1, (init), 0,       \
            (pend), (shrunk)                                                  \
    }

static const decide_case_t decide_cases[] = {
    /* static: max_children, always; never "full" */
    {"static from none", STATIC(4), SEE(0, 0, 0, 0, 0, 0, 0), 4, 0, 0, 0, 0, 0,
     0},
    {"static one died", STATIC(4), SEE(0, 1, 2, 1, 0, 0, 0), 1, 0, 0, 0, 0, 0,
     0},
    {"static whole, all busy, pending", STATIC(4), SEE(0, 0, 4, 0, 0, 1, 0), 0,
     0, 0, 0, 0, 0, 0},
    {"static one starting counts", STATIC(2), SEE(1, 1, 0, 1, 0, 0, 0), 0, 0,
     0, 0, 0, 0, 0},
    /* dynamic: start_servers first, then min_spare, max_spare, cap */
    {"dynamic start-servers", DYNAMIC(5, 2, 1, 3), SEE(0, 0, 0, 0, 0, 0, 0), 2,
     1, 0, 1, 0, 0, 0},
    {"dynamic start-servers once", DYNAMIC(5, 2, 1, 3),
     SEE(0, 1, 0, 1, 1, 0, 0), 0, 1, 0, 1, 0, 0, 0},
    {"dynamic below min-spare", DYNAMIC(5, 2, 3, 4), SEE(1, 1, 2, 1, 1, 0, 0),
     1, 1, 0, 1, 0, 0, 0},
    {"dynamic every worker busy", DYNAMIC(5, 2, 1, 3),
     SEE(0, 0, 2, 0, 1, 0, 0), 1, 1, 0, 1, 0, 0, 0},
    {"dynamic min-spare capped", DYNAMIC(4, 2, 3, 4), SEE(0, 0, 3, 0, 1, 0, 0),
     1, 1, 1, 0, 0, 0, 0},
    {"dynamic at max-children", DYNAMIC(4, 2, 1, 3), SEE(0, 0, 4, 0, 1, 1, 0),
     0, 1, 1, 0, 1, 0, 0},
    {"dynamic at max, a thread free", DYNAMIC(4, 2, 0, 3),
     SEE(0, 0, 4, 2, 1, 0, 0), 0, 1, 0, 0, 0, 0, 0},
    {"dynamic pending, no free thread", DYNAMIC(5, 1, 0, 3),
     SEE(0, 0, 2, 0, 1, 1, 0), 1, 1, 0, 1, 0, 0, 0},
    {"dynamic pending, one starting", DYNAMIC(5, 1, 0, 3),
     SEE(1, 0, 2, 0, 1, 1, 0), 0, 1, 0, 1, 0, 0, 0},
    {"dynamic pending, a thread free", DYNAMIC(5, 1, 0, 3),
     SEE(0, 0, 2, 1, 1, 1, 0), 0, 1, 0, 1, 0, 0, 0},
    {"dynamic above max-spare", DYNAMIC(8, 2, 1, 2),
     SEE(0, 4, 0, 4, 1, 0, NOW - 1.0), 0, 1, 0, 1, 0, 1, 0},
    {"dynamic above max-spare, shrunk 0.5 s ago", DYNAMIC(8, 2, 1, 2),
     SEE(0, 4, 0, 4, 1, 0, NOW - 0.5), 0, 1, 0, 1, 0, 0, 0},
    {"dynamic at max-spare", DYNAMIC(8, 2, 1, 2),
     SEE(0, 2, 3, 2, 1, 0, NOW - 9), 0, 1, 0, 1, 0, 0, 0},
    /* ondemand: none until a connection waits; idle ones expire */
    {"ondemand none", ONDEMAND(3, 10), SEE(0, 0, 0, 0, 0, 0, 0), 0, 0, 0, 1, 0,
     0, 1},
    {"ondemand pending", ONDEMAND(3, 10), SEE(0, 0, 0, 0, 0, 1, 0), 1, 0, 0, 1,
     0, 0, 1},
    {"ondemand pending, busy", ONDEMAND(3, 10), SEE(0, 0, 2, 0, 0, 1, 0), 1, 0,
     0, 1, 0, 0, 1},
    {"ondemand pending at max", ONDEMAND(3, 10), SEE(0, 0, 3, 0, 0, 1, 0), 0,
     0, 1, 0, 1, 0, 1},
};

/* A field of the decision against the row; on a mismatch, the row's name
 * and both values. */
static void
expect(const char *name, const char *field, int got, int want)
{
    if (got != want) {
        fail_msg("%s: %s is %d, expected %d", name, field, got, want);
    }
}

static void
test_decide_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]);
         i++) {
        const decide_case_t *c = &decide_cases[i];
        fw_pool_decision_t d = fw_pool_rules_decide(&c->cfg, &c->view, NOW);

        expect(c->name, "spawn", d.spawn, c->spawn);
        expect(c->name, "initial_done", d.initial_done, c->initial_done);
        expect(c->name, "full", d.full, c->full);
        expect(c->name, "full_over", d.full_over, c->full_over);
        expect(c->name, "full_if_pending", d.full_if_pending,
               c->full_if_pending);
        expect(c->name, "retire_longest", d.retire_longest, c->retire_longest);
        expect(c->name, "retire_idle", d.retire_idle, c->retire_idle);
    }
}

/* Nothing is forked while the app is not loaded or the guard says wait;
 * retirement goes on. */
static void
test_decide_no_fork(void **state)
{
    fw_pool_rules_config_t dyn = DYNAMIC(5, 2, 1, 2);
    fw_pool_view_t v = SEE(0, 4, 0, 4, 0, 1, 0);
    fw_pool_decision_t d;

    (void)state;
    v.may_fork = 0;
    d = fw_pool_rules_decide(&dyn, &v, NOW);
    assert_int_equal(d.spawn, 0);
    assert_int_equal(d.initial_done, 0); /* start-servers still to come */
    assert_int_equal(d.retire_longest, 1);

    v.may_fork = 1;
    v.can_spawn = 0;
    v.idle = 0;
    d = fw_pool_rules_decide(&dyn, &v, NOW);
    assert_int_equal(d.spawn, 0);
    assert_int_equal(d.retire_longest, 0);
}

/* ondemand: a worker idle for idle-timeout goes (idle_since <= now - 10). */
static void
test_ondemand_idle_timeout(void **state)
{
    fw_pool_rules_config_t od = ONDEMAND(3, 10);
    fw_pool_view_t v = SEE(0, 2, 0, 2, 0, 0, 0);
    fw_pool_decision_t d = fw_pool_rules_decide(&od, &v, NOW);
    fw_pool_rules_config_t dyn = DYNAMIC(5, 2, 1, 2);

    (void)state;
    assert_int_equal(d.retire_idle, 1);
    assert_true(NOW - 10.0 <= d.retire_before); /* idle exactly 10 s: goes */
    assert_false(NOW - 9.9 <= d.retire_before); /* 9.9 s: stays */
    d = fw_pool_rules_decide(&dyn, &v, NOW);
    assert_int_equal(d.retire_idle, 0); /* dynamic: max-spare instead */
}

/* A reload's new generation first gets reload_target workers. */
static void
test_reload_target_and_done(void **state)
{
    fw_pool_rules_config_t st = STATIC(4), dyn = DYNAMIC(6, 3, 1, 1);
    fw_pool_rules_config_t od = ONDEMAND(4, 10);
    fw_pool_view_t v = SEE(1, 0, 0, 0, 1, 0, 0);
    fw_pool_decision_t d;

    (void)state;
    assert_int_equal(fw_pool_rules_reload_target(&st, 0), 4);
    assert_int_equal(fw_pool_rules_reload_target(&dyn, 1), 3);
    assert_int_equal(fw_pool_rules_reload_target(&od, 0), 0);
    assert_int_equal(fw_pool_rules_reload_target(&od, 1), 1);

    v.state = FW_POOL_RELOADING;
    v.reload_target = 3;
    d = fw_pool_rules_decide(&dyn, &v, NOW); /* 1 starting: 2 more */
    assert_int_equal(d.spawn, 2);
    v.reload_target = 1;
    v.starting = 0;
    d = fw_pool_rules_decide(&od, &v, NOW); /* lazy ondemand: one */
    assert_int_equal(d.spawn, 1);

    v.reload_target = 2;
    v.idle = 1;
    v.busy = 0;
    assert_int_equal(fw_pool_rules_reload_done(&v), 0);
    v.busy = 1;
    assert_int_equal(fw_pool_rules_reload_done(&v), 1);
    v.can_spawn = 0; /* the new code did not load: the old workers stay */
    assert_int_equal(fw_pool_rules_reload_done(&v), 0);
    v.can_spawn = 1;
    v.state = FW_POOL_RUNNING;
    assert_int_equal(fw_pool_rules_reload_done(&v), 0);
}

static void
test_wants_listen(void **state)
{
    fw_pool_rules_config_t st = STATIC(2), dyn = DYNAMIC(3, 1, 0, 1);
    fw_pool_view_t v = SEE(0, 0, 2, 0, 1, 0, 0);

    (void)state;
    assert_int_equal(fw_pool_rules_wants_listen(&dyn, &v), 1);
    assert_int_equal(fw_pool_rules_wants_listen(&st, &v), 0);
    v.free_threads = 1;
    assert_int_equal(fw_pool_rules_wants_listen(&dyn, &v), 0);
    v.free_threads = 0;
    v.starting = 1;
    assert_int_equal(fw_pool_rules_wants_listen(&dyn, &v), 0);
    v.starting = 0;
    v.busy = 3; /* max-children */
    assert_int_equal(fw_pool_rules_wants_listen(&dyn, &v), 0);
    v.busy = 2;
    v.may_fork = 0;
    assert_int_equal(fw_pool_rules_wants_listen(&dyn, &v), 0);
    v.may_fork = 1;
    v.state = FW_POOL_STOPPING;
    assert_int_equal(fw_pool_rules_wants_listen(&dyn, &v), 0);
}

/* --------------------------------------------------- the state machine */

static void
test_transitions(void **state)
{
    /* [from][to], with reload_done 0 / 1: 0 no, 1 yes, 2 only if done */
    static const int allowed[5][5] = {
        /*           STARTING RUNNING RELOADING STOPPING QUITTING */
        /* STARTING */ {0, 1, 1, 0, 0},
        /* RUNNING */ {0, 0, 0, 1, 1},
        /* RELOADING */ {0, 2, 0, 1, 1},
        /* STOPPING */ {0, 0, 0, 0, 1},
        /* QUITTING */ {0, 0, 0, 0, 0},
    };

    (void)state;
    for (int from = 0; from < 5; from++) {
        for (int to = 0; to < 5; to++) {
            for (int done = 0; done < 2; done++) {
                int want = allowed[from][to] == 2 ? done : allowed[from][to];
                int got = fw_pool_rules_transition(from, to, done);

                if (got != want) {
                    fail_msg("%s -> %s (reload done %d): %d, expected %d",
                             fw_pool_rules_state_name(from),
                             fw_pool_rules_state_name(to), done, got, want);
                }
            }
        }
    }
    assert_int_equal(fw_pool_rules_transition(7, FW_POOL_RUNNING, 1), 0);
    assert_string_equal(fw_pool_rules_state_name(FW_POOL_QUITTING),
                        "QUITTING");
}

/* RUNNING and RELOADING serve (keep the pool, take a reload); the others
 * do not. */
static void
test_serving(void **state)
{
    (void)state;
    assert_int_equal(fw_pool_rules_serving(FW_POOL_STARTING), 0);
    assert_int_equal(fw_pool_rules_serving(FW_POOL_RUNNING), 1);
    assert_int_equal(fw_pool_rules_serving(FW_POOL_RELOADING), 1);
    assert_int_equal(fw_pool_rules_serving(FW_POOL_STOPPING), 0);
    assert_int_equal(fw_pool_rules_serving(FW_POOL_QUITTING), 0);
}

/* ---------------------------------------------------------- the reload */

/* A stop waiting when the reload would exec wins; nothing else does. */
static void
test_cancels_reload(void **state)
{
    static const int stops[] = {SIGTERM, SIGINT, SIGQUIT};
    static const int others[] = {SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, 0};

    (void)state;
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        assert_int_equal(fw_pool_rules_cancels_reload(stops[i]), 1);
    }
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(fw_pool_rules_cancels_reload(others[i]), 0);
    }
}

/* Touched: it appeared, or its mtime changed (seconds or nanoseconds);
 * not: unchanged, removed, still absent. */
static void
test_touched(void **state)
{
    const fw_pool_stamp_t absent = {0, {0, 0}, 0};
    const fw_pool_stamp_t t1 = {1, {1700000000, 500}, 0};
    const fw_pool_stamp_t t1_ns = {1, {1700000000, 501}, 0};
    const fw_pool_stamp_t t2 = {1, {1700000001, 500}, 0};

    (void)state;
    assert_int_equal(fw_pool_rules_touched(&absent, &t1), 1);
    assert_int_equal(fw_pool_rules_touched(&t1, &t1_ns), 1);
    assert_int_equal(fw_pool_rules_touched(&t1, &t2), 1);
    assert_int_equal(fw_pool_rules_touched(&t2, &t1), 1); /* put back */
    assert_int_equal(fw_pool_rules_touched(&t1, &t1), 0);
    assert_int_equal(fw_pool_rules_touched(&t1, &absent), 0);
    assert_int_equal(fw_pool_rules_touched(&absent, &absent), 0);
}

/* A directory: touched when it appears, when its newest file is newer (a
 * file written or added), or when it replaces a file of that name; not
 * when its newest file is older (the newest removed) or unchanged. */
static void
test_touched_dir(void **state)
{
    static const struct {
        const char *name;
        fw_pool_stamp_t before, now;
        int touched;
    } cases[] = {
        {"created", {0, {0, 0}, 0}, {1, {0, 0}, 1}, 1},
        {"first file", {1, {0, 0}, 1}, {1, {1700000000, 0}, 1}, 1},
        {"file written", {1, {1700000000, 7}, 1}, {1, {1700000000, 8}, 1}, 1},
        {"newest removed",
         {1, {1700000009, 0}, 1},
         {1, {1700000000, 0}, 1},
         0},
        {"every file removed", {1, {1700000009, 0}, 1}, {1, {0, 0}, 1}, 0},
        {"unchanged", {1, {1700000009, 0}, 1}, {1, {1700000009, 0}, 1}, 0},
        {"dir removed", {1, {1700000009, 0}, 1}, {0, {0, 0}, 0}, 0},
        {"file became a dir", {1, {1700000009, 0}, 0}, {1, {0, 0}, 1}, 1},
        {"dir became a file", {1, {1700000009, 0}, 1}, {1, {5, 0}, 0}, 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = fw_pool_rules_touched(&cases[i].before, &cases[i].now);

        if (got != cases[i].touched) {
            fail_msg("%s: touched %d, want %d", cases[i].name, got,
                     cases[i].touched);
        }
    }
}

/* Which names in a touch-reload directory count: not the hidden ones
 * (an editor's swap file), nor backups. */
static void
test_dir_entry_counts(void **state)
{
    static const struct {
        const char *name;
        int counts;
    } cases[] = {
        {"reload", 1},  {"app.py", 1},      {"a", 1},       {"x~y", 1},
        {".", 0},       {"..", 0},          {"app.py~", 0}, {"", 0},
        {".hidden", 0}, {".app.py.swp", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (fw_pool_rules_dir_entry_counts(cases[i].name) != cases[i].counts) {
            fail_msg("'%s': want %d", cases[i].name, cases[i].counts);
        }
    }
}

/* py-autoreload: a change is reported (and taken by the master) when it
 * is later than the image's start and than the change reported last. */
static void
test_autoreload_due(void **state)
{
    static const struct timespec zero = {0, 0};
    static const struct timespec start = {1700000000, 500};
    static const struct {
        const char *name;
        struct timespec told, changed;
        int due;
    } cases[] = {
        {"after the start", {0, 0}, {1700000000, 501}, 1},
        {"a second later", {0, 0}, {1700000001, 0}, 1},
        {"at the start: loaded", {0, 0}, {1700000000, 500}, 0},
        {"before the start: loaded", {0, 0}, {1699999999, 999999999}, 0},
        {"told already", {1700000003, 0}, {1700000003, 0}, 0},
        {"changed again", {1700000003, 0}, {1700000003, 1}, 1},
        {"older than told", {1700000003, 0}, {1700000002, 0}, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = fw_pool_rules_autoreload_due(&start, &cases[i].told,
                                               &cases[i].changed);

        if (got != cases[i].due) {
            fail_msg("%s: due %d, want %d", cases[i].name, got, cases[i].due);
        }
    }
    /* the master's test: nothing told */
    assert_int_equal(fw_pool_rules_autoreload_due(&start, &zero, &start), 0);
}

/* ------------------------------------------------------------ the guard */

static fw_pool_verdict_t
die_early(fw_pool_guard_t *g, double now)
{
    fw_pool_death_t d = {0, 0, 0, 0, 0};

    return fw_pool_rules_died(g, &d, now);
}

/* A ready worker, ready since ready_at, killed by its request or not. */
static fw_pool_verdict_t
die_ready(fw_pool_guard_t *g, double ready_at, int served, double now)
{
    fw_pool_death_t d = {1, 0, 0, served, ready_at};

    return fw_pool_rules_died(g, &d, now);
}

/* 5 early deaths in a row start a back-off of 1 s; each round that dies
 * after it doubles it: 1, 2, 4, 8, 16, 30, 30 s. */
static void
test_backoff_sequence(void **state)
{
    static const double steps[] = {1, 2, 4, 8, 16, 30, 30};
    fw_pool_guard_t g;
    fw_pool_verdict_t v;
    double t = NOW;

    (void)state;
    fw_pool_rules_guard_init(&g, 4);
    for (int i = 1; i < FW_POOL_CRASH_LOOP; i++) {
        v = die_early(&g, t);
        assert_int_equal(v.crash, 1);
        assert_true(near(v.backoff, 0));
        assert_true(near(fw_pool_rules_spawn_wait(&g, t), 0));
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        v = die_early(&g, t);
        assert_int_equal(v.crash, 1);
        assert_true(near(v.backoff, steps[i]));
        assert_true(near(fw_pool_rules_spawn_wait(&g, t), steps[i]));
        assert_true(near(fw_pool_rules_spawn_wait(&g, t + steps[i] / 2),
                         steps[i] / 2));
        /* the rest of the round dies within the pause: no longer */
        v = die_early(&g, t + 0.1);
        assert_true(near(v.backoff, 0));
        t += steps[i];
        assert_true(near(fw_pool_rules_spawn_wait(&g, t), 0));
    }
}

/* A worker that gets ready ends the back-off: the count starts again. */
static void
test_ready_ends_backoff(void **state)
{
    fw_pool_guard_t g;
    fw_pool_death_t retired = {0, 1, 1, 0, 0};

    (void)state;
    fw_pool_rules_guard_init(&g, 4);
    for (int i = 0; i < 2 * FW_POOL_CRASH_LOOP; i++) {
        (void)die_early(&g, NOW + i * 60.0);
    }
    assert_int_equal(g.backoffs, FW_POOL_CRASH_LOOP + 1);
    fw_pool_rules_ready(&g);
    assert_int_equal(g.crashes, 0);
    assert_int_equal(g.backoffs, 0);
    /* a worker told to stop before it was ready is no crash */
    assert_int_equal(fw_pool_rules_died(&g, &retired, NOW + 999).crash, 0);
    for (int i = 1; i < FW_POOL_CRASH_LOOP; i++) {
        assert_true(near(die_early(&g, NOW + 1000).backoff, 0));
    }
    assert_true(near(die_early(&g, NOW + 1000).backoff, 1));
}

/* A ready worker killed by its request: replaced at once, no back-off,
 * and it ends a crash count as well. */
static void
test_ready_death_respawns_at_once(void **state)
{
    fw_pool_guard_t g;
    fw_pool_verdict_t v;

    (void)state;
    fw_pool_rules_guard_init(&g, 2);
    for (int i = 0; i < FW_POOL_CRASH_LOOP - 1; i++) {
        (void)die_early(&g, NOW);
    }
    for (int i = 0; i < 10; i++) {
        v = die_ready(&g, NOW + i - 0.1, 1, NOW + i);
        assert_int_equal(v.crash, 0);
        assert_true(near(v.backoff, 0));
        assert_int_equal(v.quick_loop, 0);
        assert_true(near(fw_pool_rules_spawn_wait(&g, NOW + i), 0));
    }
    assert_int_equal(g.crashes, 0);
    assert_int_equal(g.quick_deaths, 0);
}

/* The fork rate: max(16, slots) forks a second, the next waits for the
 * second to end. */
static void
test_fork_rate_bound(void **state)
{
    fw_pool_guard_t g, big;
    double t = NOW;

    (void)state;
    fw_pool_rules_guard_init(&g, 4);
    fw_pool_rules_guard_init(&big, 40);
    assert_int_equal(g.forks_max, FW_POOL_FORKS_MIN);
    assert_int_equal(big.forks_max, 40);
    for (int i = 1; i <= FW_POOL_FORKS_MIN; i++) {
        assert_true(near(fw_pool_rules_spawn_wait(&g, t), 0));
        assert_int_equal(fw_pool_rules_forked(&g, t),
                         i == FW_POOL_FORKS_MIN); /* the last one: logged */
        t += 0.01;
    }
    assert_true(near(fw_pool_rules_spawn_wait(&g, NOW + 0.25), 0.75));
    assert_true(near(fw_pool_rules_spawn_wait(&g, NOW + 1.0), 0));
    assert_int_equal(fw_pool_rules_forked(&g, NOW + 1.0), 0); /* new second */
    assert_int_equal(g.window_forks, 1);
    for (int i = 1; i < 40; i++) {
        assert_int_equal(fw_pool_rules_forked(&big, NOW), 0);
    }
    assert_int_equal(fw_pool_rules_forked(&big, NOW), 1);
}

/* 5 ready workers in a row that die within a second having served nothing:
 * one fork a second, until one lives a second or serves. */
static void
test_quick_deaths_fall_back(void **state)
{
    fw_pool_guard_t g;
    fw_pool_verdict_t v;
    fw_pool_death_t stopped = {1, 1, 1, 0, NOW};

    (void)state;
    fw_pool_rules_guard_init(&g, 4);
    for (int i = 1; i <= FW_POOL_CRASH_LOOP; i++) {
        v = die_ready(&g, NOW - 0.5, 0, NOW);
        assert_int_equal(v.crash, 0);
        assert_int_equal(v.quick_loop, i == FW_POOL_CRASH_LOOP);
    }
    assert_int_equal(die_ready(&g, NOW - 0.5, 0, NOW).quick_loop, 0);
    assert_int_equal(fw_pool_rules_forked(&g, NOW), 0); /* not logged */
    assert_true(near(fw_pool_rules_spawn_wait(&g, NOW + 0.3), 0.7));
    assert_true(near(fw_pool_rules_spawn_wait(&g, NOW + 1.0), 0));

    /* a worker alive a second ends it */
    fw_pool_rules_alive(&g, NOW, NOW + 0.99);
    assert_int_equal(g.quick_deaths, FW_POOL_CRASH_LOOP + 1);
    fw_pool_rules_alive(&g, NOW, NOW + 1.0);
    assert_int_equal(g.quick_deaths, 0);

    /* a worker that served, or lived, or stopped cleanly ends it too */
    for (int i = 0; i < FW_POOL_CRASH_LOOP; i++) {
        (void)die_ready(&g, NOW - 0.5, 0, NOW);
    }
    (void)die_ready(&g, NOW - 0.5, 1, NOW);
    assert_int_equal(g.quick_deaths, 0);
    (void)die_ready(&g, NOW - 0.5, 0, NOW);
    (void)die_ready(&g, NOW - 1.5, 0, NOW);
    assert_int_equal(g.quick_deaths, 0);
    (void)die_ready(&g, NOW - 0.5, 0, NOW);
    (void)fw_pool_rules_died(&g, &stopped, NOW);
    assert_int_equal(g.quick_deaths, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_decide_no_fork),
        cmocka_unit_test(test_ondemand_idle_timeout),
        cmocka_unit_test(test_reload_target_and_done),
        cmocka_unit_test(test_wants_listen),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_serving),
        cmocka_unit_test(test_cancels_reload),
        cmocka_unit_test(test_touched),
        cmocka_unit_test(test_touched_dir),
        cmocka_unit_test(test_dir_entry_counts),
        cmocka_unit_test(test_autoreload_due),
        cmocka_unit_test(test_backoff_sequence),
        cmocka_unit_test(test_ready_ends_backoff),
        cmocka_unit_test(test_ready_death_respawns_at_once),
        cmocka_unit_test(test_fork_rate_bound),
        cmocka_unit_test(test_quick_deaths_fall_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
