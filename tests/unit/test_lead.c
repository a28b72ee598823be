/*
 * test_lead.c: bridge/serve/lead.c with real threads: one thread leads
 * and the others wait; a leader whose requests stay under the steal time
 * keeps the lead, one that serves past it while it waits is overtaken
 * (never before: the steal time is a lower bound the test measures), one
 * that runs (computes) only at the longest steal time; a leader leaving
 * hands the lead on; opening the gate lets every thread through; one
 * serving thread never waits.  The steal times are short and the waits
 * bounded by WAIT_MS.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bridge/serve/serve_int.h"

#define WAIT_MS 5000 /* a bound only: what is awaited comes far sooner */

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
pause_us(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

    nanosleep(&ts, NULL);
}

/* A follower: takes the lead (or passes the open gate), notes when, and
 * leaves when told to. */
typedef struct {
    pthread_t tid;
    fw_lead_t lead;
    atomic_int through;    /* fw_lead_take returned */
    _Atomic int64_t at_us; /* when */
    atomic_int may_leave;
} follower_t;

static void *
follower_main(void *arg)
{
    follower_t *f = arg;

    fw_lead_join(&f->lead);
    fw_lead_take(&f->lead);
    atomic_store(&f->at_us, now_us());
    atomic_store(&f->through, 1);
    while (!atomic_load(&f->may_leave)) {
        pause_us(1000);
    }
    fw_lead_leave(&f->lead);
    return NULL;
}

static void
follower_start(follower_t *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(pthread_create(&f->tid, NULL, follower_main, f), 0);
}

static void
follower_join(follower_t *f)
{
    atomic_store(&f->may_leave, 1);
    assert_int_equal(pthread_join(f->tid, NULL), 0);
}

/* 1 once f went through, within WAIT_MS; 0 if it did not. */
static int
follower_wait_through(follower_t *f)
{
    for (int i = 0; i < WAIT_MS; i++) {
        if (atomic_load(&f->through)) {
            return 1;
        }
        pause_us(1000);
    }
    return 0;
}

/* Two serving threads and the steal times: me (this thread) leads, f
 * follows. */
static void
lead_with_follower(fw_lead_t *me, follower_t *f, int64_t steal_us,
                   int64_t steal_max_us)
{
    assert_int_equal(fw_lead_setup(2, steal_us, steal_max_us), 0);
    fw_lead_join(me);
    fw_lead_take(me);
    assert_int_equal(me->leading, 1);
    follower_start(f);
}

/* me begins a request; when. */
static int64_t
busy_from_now(fw_lead_t *me)
{
    int64_t at = now_us();

    fw_lead_busy(me);
    return at;
}

/* me's request is done: f took the lead meanwhile; both threads leave. */
static void
done_overtaken(fw_lead_t *me, follower_t *f)
{
    fw_lead_done(me);
    assert_int_equal(me->leading, 0);
    follower_join(f);
    fw_lead_leave(me);
}

static void
test_one_thread_never_waits(void **state)
{
    fw_lead_t me;

    (void)state;
    assert_int_equal(fw_lead_setup(1, 1000, 100000), 0);
    fw_lead_join(&me);
    fw_lead_take(&me);
    assert_int_equal(me.leading, 0); /* the gate is open: nobody leads */
    fw_lead_busy(&me);
    fw_lead_done(&me);
    fw_lead_leave(&me);
}

/* A leader busy with one request for the steal time is overtaken then,
 * not sooner; it learns it when the request is done. */
static void
test_busy_leader_overtaken_after_steal_time(void **state)
{
    const int64_t steal_us = 50000;
    fw_lead_t me;
    follower_t f;
    int64_t busy_at;

    (void)state;
    lead_with_follower(&me, &f, steal_us, 60 * 1000000LL);
    busy_at = busy_from_now(&me);
    assert_true(follower_wait_through(&f));
    assert_int_equal(f.lead.leading, 1);
    assert_true(f.lead.turn > me.turn);
    assert_true(atomic_load(&f.at_us) - busy_at >= steal_us);
    done_overtaken(&me, &f);
}

/* An idle leader and one serving requests each shorter than the steal
 * time keep the lead, however long that lasts; once a request runs past
 * it, the follower (parked while the leader was idle) takes over. */
static void
test_quick_requests_keep_the_lead(void **state)
{
    const int64_t steal_us = 50000;
    fw_lead_t me;
    follower_t f;
    int64_t busy_at;

    (void)state;
    lead_with_follower(&me, &f, steal_us, 60 * 1000000LL);
    /* idle for three steal times: the follower must still wait */
    pause_us(3 * steal_us);
    assert_int_equal(atomic_load(&f.through), 0);
    /* requests of a 25th of the steal time, for four steal times */
    for (int i = 0; i < 100; i++) {
        fw_lead_busy(&me);
        pause_us(steal_us / 25);
        fw_lead_done(&me);
        assert_int_equal(me.leading, 1);
    }
    assert_int_equal(atomic_load(&f.through), 0);
    /* one request past the steal time */
    busy_at = busy_from_now(&me);
    assert_true(follower_wait_through(&f));
    assert_true(atomic_load(&f.at_us) - busy_at >= steal_us);
    done_overtaken(&me, &f);
}

/* The leader leaving hands the lead to a follower at once (no steal
 * time); an overtaken leader waits for the lead like any follower. */
static void
test_leader_leaving_hands_on(void **state)
{
    fw_lead_t me;
    follower_t f;

    (void)state;
    lead_with_follower(&me, &f, 60 * 1000000LL, 60 * 1000000LL);
    fw_lead_busy(&me);
    fw_lead_done(&me);
    fw_lead_leave(&me);
    assert_int_equal(me.leading, 0);
    assert_true(follower_wait_through(&f));
    assert_int_equal(f.lead.leading, 1);
    /* and back: f leaves, this thread takes the lead again */
    follower_join(&f);
    fw_lead_take(&me);
    assert_int_equal(me.leading, 1);
    fw_lead_leave(&me);
}

/* Opening the gate (a stop) lets every waiting thread through. */
static void
test_open_lets_every_thread_through(void **state)
{
    fw_lead_t me;
    follower_t f[3];

    (void)state;
    assert_int_equal(fw_lead_setup(4, 60 * 1000000LL, 60 * 1000000LL), 0);
    fw_lead_join(&me);
    fw_lead_take(&me);
    for (int i = 0; i < 3; i++) {
        follower_start(&f[i]);
    }
    fw_lead_busy(&me);
    fw_lead_open();
    for (int i = 0; i < 3; i++) {
        assert_true(follower_wait_through(&f[i]));
        assert_int_equal(f[i].lead.leading, 0);
    }
    fw_lead_done(&me);
    for (int i = 0; i < 3; i++) {
        follower_join(&f[i]);
    }
    fw_lead_leave(&me);
}

/* Spins (the thread runs) until us have passed or *stop is set. */
static void
spin_us(int64_t us, atomic_int *stop)
{
    int64_t end = now_us() + us;

    while (now_us() < end && (stop == NULL || !atomic_load(stop))) {
    }
}

/* A leader that runs (computes, the GIL held) keeps the lead past the
 * steal time: another thread would only queue for the GIL.  Once it
 * waits, the follower takes over. */
static void
test_running_leader_keeps_the_lead(void **state)
{
    const int64_t steal_us = 20000;
    fw_lead_t me;
    follower_t f;
    int64_t waits_at;

    (void)state;
    lead_with_follower(&me, &f, steal_us, 60 * 1000000LL);
    fw_lead_busy(&me);
    spin_us(5 * steal_us, NULL);
    assert_int_equal(atomic_load(&f.through), 0);
    waits_at = now_us();
    assert_true(follower_wait_through(&f)); /* sleeps: the thread waits */
    assert_true(atomic_load(&f.at_us) >= waits_at);
    done_overtaken(&me, &f);
}

/* ... but not past the longest steal time. */
static void
test_running_leader_overtaken_at_the_longest(void **state)
{
    const int64_t steal_max_us = 60000;
    fw_lead_t me;
    follower_t f;
    int64_t busy_at;

    (void)state;
    lead_with_follower(&me, &f, 5000, steal_max_us);
    busy_at = busy_from_now(&me);
    spin_us(WAIT_MS * 1000LL, &f.through);
    assert_int_equal(atomic_load(&f.through), 1);
    assert_true(atomic_load(&f.at_us) - busy_at >= steal_max_us);
    done_overtaken(&me, &f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_thread_never_waits),
        cmocka_unit_test(test_busy_leader_overtaken_after_steal_time),
        cmocka_unit_test(test_quick_requests_keep_the_lead),
        cmocka_unit_test(test_running_leader_keeps_the_lead),
        cmocka_unit_test(test_running_leader_overtaken_at_the_longest),
        cmocka_unit_test(test_leader_leaving_hands_on),
        cmocka_unit_test(test_open_lets_every_thread_through),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
