/*
 * test_allow.c: bridge/allow.c from the outside: allowed-clients and
 * FCGI_WEB_SERVER_ADDRS in, the verdict on peers' addresses out (IPv4,
 * IPv6, IPv4-mapped, unix, odd families), the refusal log's rate limit on a
 * clock of the test's own, and no allocation in a check.  The verdicts
 * are rows of a table (rule_cases), one cmocka test per row.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge/serve/serve.h"
#include "bridge/log.h"
#include "conf/conf.h"
#include "tests/unit/fixture.h"

static char tmpdir[64];
static char log_path[128];
static uint64_t fake_now_ms;

/*
 * Without ASan (which owns malloc), the program's malloc family counts the
 * calls made while counting is on, then hands them to glibc's.
 */
#ifndef __SANITIZE_ADDRESS__
#define COUNT_ALLOCATIONS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static volatile int counting;
static volatile size_t allocations;

void *
malloc(size_t n)
{
    allocations += counting;
    return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
    allocations += counting;
    return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
    allocations += counting;
    return __libc_realloc(p, n);
}
#endif

static uint64_t
fake_clock(void)
{
    return fake_now_ms;
}

/* ---- peers ---- */

typedef struct {
    struct sockaddr_storage ss;
    socklen_t len;
} peer_t;

/* "1.2.3.4" or "::1" (an IPv6 address when text has a ':'). */
static peer_t
peer(const char *text)
{
    peer_t p;

    memset(&p, 0, sizeof(p));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p.ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(40000);
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        p.len = sizeof(*in6);
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&p.ss;

        in4->sin_family = AF_INET;
        in4->sin_port = htons(40000);
        assert_int_equal(inet_pton(AF_INET, text, &in4->sin_addr), 1);
        p.len = sizeof(*in4);
    }
    return p;
}

static int
check(const char *text)
{
    peer_t p = peer(text);

    return fw_allow_check((const struct sockaddr *)&p.ss, p.len);
}

/* fw_allow_setup with allowed-clients = items (a NULL-ended list). */
static int
setup_with(const char *const *items)
{
    size_t n = 0;

    while (items != NULL && items[n] != NULL) {
        n++;
    }
    return fw_allow_setup(items, n);
}

/* ---- the log ---- */

static long
log_mark(void)
{
    struct stat sb;

    return stat(log_path, &sb) == 0 ? (long)sb.st_size : 0;
}

/* What the log got since mark (malloc'd). */
static char *
log_since(long mark)
{
    FILE *fp = fopen(log_path, "r");
    long size = log_mark();
    char *text = calloc(1, (size_t)(size - mark) + 1);

    assert_non_null(fp);
    assert_non_null(text);
    assert_int_equal(fseek(fp, mark, SEEK_SET), 0);
    assert_int_equal(fread(text, 1, (size_t)(size - mark), fp),
                     (size_t)(size - mark));
    fclose(fp);
    return text;
}

static int
count_lines(const char *text)
{
    int n = 0;

    for (; *text != '\0'; text++) {
        n += *text == '\n';
    }
    return n;
}

/* ---- the tests ---- */

/* No list: every peer is allowed, and nothing is logged. */
static void
test_no_rules(void **state)
{
    long mark = log_mark();
    char *text;

    (void)state;
    assert_int_equal(setup_with(NULL), 0);
    assert_int_equal(check("192.0.2.1"), 1);
    assert_int_equal(check("::1"), 1);
    assert_int_equal(check("2001:db8::1"), 1);
    assert_int_equal(fw_allow_check(NULL, 0), 1);
    text = log_since(mark);
    assert_string_equal(text, "");
    free(text);
}

/* ---- rules and the verdicts they give ---- */

/* A peer's address and whether it must be allowed. */
typedef struct {
    const char *peer;
    int allowed;
} verdict_t;

/*
 * allowed-clients (and FCGI_WEB_SERVER_ADDRS, when env is set) and the
 * verdict each peer must get.
 */
typedef struct {
    const char *name;
    const char *items[4];   /* allowed-clients, NULL-ended */
    const char *env;        /* FCGI_WEB_SERVER_ADDRS, or NULL: unset */
    verdict_t verdicts[20]; /* ends with a NULL peer */
} rule_case_t;

static const rule_case_t rule_cases[] = {
    {.name = "IPv4 addresses and networks",
     .items = {"127.0.0.1,10.0.0.0/8", "192.168.1.128/25"},
     .verdicts = {{"127.0.0.1", 1},
                  {"127.0.0.2", 0},
                  {"10.0.0.0", 1},
                  {"10.255.255.255", 1},
                  {"11.0.0.1", 0},
                  {"9.255.255.255", 0},
                  {"192.168.1.128", 1},
                  {"192.168.1.255", 1},
                  {"192.168.1.127", 0},
                  {"192.168.0.200", 0},
                  {"::ffff:10.1.2.3", 1},
                  {"::ffff:127.0.0.1", 1},
                  {"::ffff:11.1.2.3", 0},
                  {"::10.1.2.3", 0},
                  {"::1", 0},
                  {"2001:db8::1", 0}}},
    {.name = "IPv6 addresses and networks",
     .items = {"::1, fd00::/8", "2001:db8:8000::/33", "::ffff:172.16.0.0/108"},
     .verdicts = {{"::1", 1},
                  {"::2", 0},
                  {"fd12:3456::1", 1},
                  {"fe80::1", 0},
                  {"2001:db8:8000::1", 1},
                  {"2001:db8:ffff:ffff::1", 1},
                  {"2001:db8:7fff::1", 0},
                  /* the IPv4-mapped rule is an IPv4 one */
                  {"172.16.0.1", 1},
                  {"172.31.255.255", 1},
                  {"172.32.0.1", 0},
                  {"::ffff:172.20.1.1", 1},
                  /* ::1 is not 127.0.0.1 */
                  {"127.0.0.1", 0},
                  {"::ffff:127.0.0.1", 0}}},
    /* 0.0.0.0/0 and ::/0: every IPv4 (mapped too), every IPv6 */
    {.name = "0.0.0.0/0",
     .items = {"0.0.0.0/0"},
     .verdicts = {{"203.0.113.9", 1},
                  {"::ffff:203.0.113.9", 1},
                  {"2001:db8::1", 0}}},
    {.name = "::/0",
     .items = {"::/0"},
     .verdicts = {{"2001:db8::1", 1}, {"203.0.113.9", 0}}},
    {.name = "FCGI_WEB_SERVER_ADDRS alone",
     .env = "127.0.0.1, ::1",
     .verdicts = {{"127.0.0.1", 1}, {"::1", 1}, {"10.1.1.1", 0}}},
    /* a peer in either list is allowed */
    {.name = "FCGI_WEB_SERVER_ADDRS and allowed-clients",
     .items = {"10.0.0.0/8"},
     .env = "127.0.0.1, ::1",
     .verdicts = {{"127.0.0.1", 1}, {"10.1.1.1", 1}, {"192.0.2.1", 0}}},
    /* empty (or blank) is as unset */
    {.name = "a blank FCGI_WEB_SERVER_ADDRS",
     .env = " ",
     .verdicts = {{"192.0.2.1", 1}}},
};

/* One rule case: set up without error, each verdict as the row says, and
 * nothing logged for the peers allowed. */
static void
test_rule_case(void **state)
{
    const rule_case_t *tc = *state;

    fw_allow_set_clock(fake_clock);
    if (tc->env != NULL) {
        assert_int_equal(setenv("FCGI_WEB_SERVER_ADDRS", tc->env, 1), 0);
    }
    assert_int_equal(setup_with(tc->items), 0);
    for (size_t i = 0; i < FX_COUNT(tc->verdicts) && tc->verdicts[i].peer;
         i++) {
        int got = check(tc->verdicts[i].peer);

        if (got != tc->verdicts[i].allowed) {
            print_error("%s: got %d, want %d\n", tc->verdicts[i].peer, got,
                        tc->verdicts[i].allowed);
            fail();
        }
    }
}

/* Unix sockets always; other families and short addresses never. */
static void
test_families(void **state)
{
    static const char *const items[] = {"127.0.0.1", NULL};
    struct sockaddr_un un;
    struct sockaddr_storage other;
    peer_t p = peer("127.0.0.1");

    (void)state;
    fw_allow_set_clock(fake_clock);
    assert_int_equal(setup_with(items), 0);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    /* an unnamed peer: accept() fills the family only */
    assert_int_equal(
        fw_allow_check((struct sockaddr *)&un, sizeof(sa_family_t)), 1);
    strcpy(un.sun_path, "/run/x.sock");
    assert_int_equal(fw_allow_check((struct sockaddr *)&un, sizeof(un)), 1);

    memset(&other, 0, sizeof(other));
    other.ss_family = AF_APPLETALK;
    assert_int_equal(fw_allow_check((struct sockaddr *)&other, sizeof(other)),
                     0);
    assert_int_equal(fw_allow_check((struct sockaddr *)&p.ss, p.len - 1), 0);
    assert_int_equal(fw_allow_check(NULL, 0), 0);
    assert_int_equal(fw_allow_check((struct sockaddr *)&p.ss, p.len), 1);
}

/* FCGI_WEB_SERVER_ADDRS alone, with allowed-clients, empty, bad. */
static void
test_env(void **state)
{
    static const char *const items[] = {"10.0.0.0/8", NULL};
    long mark;
    char *text;

    (void)state;
    fw_allow_set_clock(fake_clock);
    /* a bad entry: -1, logged, and the list is left empty */
    assert_int_equal(setenv("FCGI_WEB_SERVER_ADDRS", "127.0.0.1,www", 1), 0);
    mark = log_mark();
    assert_int_equal(setup_with(items), -1);
    text = log_since(mark);
    fx_assert_contains(text,
                       "ERROR FCGI_WEB_SERVER_ADDRS in the environment: 'www' "
                       "is not an IPv4/IPv6 address or network");
    fx_assert_contains(text, "in '127.0.0.1,www'");
    assert_int_equal(count_lines(text), 1);
    free(text);
    assert_int_equal(check("192.0.2.1"), 1);

    assert_int_equal(setenv("FCGI_WEB_SERVER_ADDRS", "1.2.3.4,", 1), 0);
    mark = log_mark();
    assert_int_equal(setup_with(NULL), -1);
    text = log_since(mark);
    fx_assert_contains(text, "'' is not an IPv4/IPv6 address or network");
    free(text);
    assert_int_equal(unsetenv("FCGI_WEB_SERVER_ADDRS"), 0);
}

/*
 * At most one refusal line a second: it names the address, and the next
 * one counts the refusals in between.
 */
static void
test_refusal_log(void **state)
{
    static const char *const items[] = {"10.0.0.0/8", NULL};
    long mark;
    char *text;

    (void)state;
    fake_now_ms = 50000;
    fw_allow_set_clock(fake_clock);
    assert_int_equal(setup_with(items), 0);

    mark = log_mark();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(check("192.0.2.7"), 0);
    }
    fake_now_ms += 999;
    assert_int_equal(check("2001:db8::7"), 0);
    assert_int_equal(check("::ffff:198.51.100.1"), 0);
    assert_int_equal(check("10.0.0.1"), 1); /* allowed: not counted */
    text = log_since(mark);
    assert_int_equal(count_lines(text), 1);
    fx_assert_contains(text,
                       "WARN refused a connection from 192.0.2.7: not in "
                       "allowed-clients (nor FCGI_WEB_SERVER_ADDRS)\n");
    free(text);

    fake_now_ms += 1;
    mark = log_mark();
    assert_int_equal(check("::ffff:198.51.100.1"), 0);
    text = log_since(mark);
    assert_int_equal(count_lines(text), 1);
    fx_assert_contains(text,
                       "refused a connection from 198.51.100.1: not in "
                       "allowed-clients (nor FCGI_WEB_SERVER_ADDRS); 6 more "
                       "refused since the last such line\n");
    free(text);

    fake_now_ms += 5000;
    mark = log_mark();
    assert_int_equal(check("2001:db8::7"), 0);
    text = log_since(mark);
    fx_assert_contains(text, "refused a connection from 2001:db8::7: not in "
                             "allowed-clients (nor FCGI_WEB_SERVER_ADDRS)\n");
    free(text);
}

/* A check allocates nothing, allowed or refused, logged or not. */
static void
test_no_allocation(void **state)
{
    static const char *const items[] = {"10.0.0.0/8,fd00::/8", NULL};
    peer_t in = peer("10.9.8.7");
    peer_t out = peer("192.0.2.1");
    peer_t out6 = peer("2001:db8::1");
    int allowed = 0;

    (void)state;
#ifdef COUNT_ALLOCATIONS
    fw_allow_set_clock(fake_clock);
    assert_int_equal(setup_with(items), 0);
    fake_now_ms = 100000;
    (void)check("192.0.2.9"); /* the log's first line: localtime's tz */
    counting = 1;
    allocations = 0;
    for (int i = 0; i < 3000; i++) {
        fake_now_ms += 1;
        allowed += fw_allow_check((struct sockaddr *)&in.ss, in.len);
        allowed += fw_allow_check((struct sockaddr *)&out.ss, out.len);
        allowed += fw_allow_check((struct sockaddr *)&out6.ss, out6.len);
    }
    counting = 0;
    assert_int_equal(allowed, 3000);
    assert_int_equal(allocations, 0);
#else
    (void)items;
    (void)in;
    (void)out;
    (void)out6;
    (void)allowed;
    skip(); /* ASan owns malloc in this build */
#endif
}

/* ---- the group ---- */

static int
test_teardown(void **state)
{
    (void)state;
    fw_allow_free();
    fw_allow_set_clock(NULL);
    return unsetenv("FCGI_WEB_SERVER_ADDRS");
}

static int
group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fw-allow-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(log_path, sizeof(log_path), "%s/log", tmpdir);
    if (fw_log_open(log_path) < 0) {
        return -1;
    }
    fake_now_ms = 10000;
    return unsetenv("FCGI_WEB_SERVER_ADDRS");
}

static int
group_teardown(void **state)
{
    (void)state;
    fw_log_open(NULL);
    unlink(log_path);
    return rmdir(tmpdir);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_teardown(test_no_rules, test_teardown),
        cmocka_unit_test_teardown(test_families, test_teardown),
        cmocka_unit_test_teardown(test_env, test_teardown),
        cmocka_unit_test_teardown(test_refusal_log, test_teardown),
        cmocka_unit_test_teardown(test_no_allocation, test_teardown),
    };
    static const fx_table_t tables[] = {
        {.rows = rule_cases,
         .nrows = FX_COUNT(rule_cases),
         .row_size = sizeof(rule_cases[0]),
         .test = test_rule_case,
         .teardown = test_teardown},
    };

    return fx_run_group("allow", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), group_setup, group_teardown);
}
