/*
 * test_notify.c: bridge/pool/notify.c against a real unix datagram socket, the
 * way systemd listens: the exact datagrams, each state announced once,
 * STATUS= only when it changes and once a period on a clock the test
 * drives, the abstract namespace, the environment cleaned, a forked child
 * silent, and an address nobody listens on.  A unix datagram is queued at
 * the receiver before sendto returns, so "nothing was sent" is checked
 * without waiting: no sleep, no timeout to tune.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"

#define T0 1000.0         /* any monotonic time, seconds */
#define SENT_WAIT_MS 1000 /* a bound only: a datagram sent is there */

static char tmpdir[64];
static char sock_path[128];

/* A datagram socket bound at name ("@x": abstract).  The fd. */
static int
bind_dgram(const char *name)
{
    struct sockaddr_un sa;
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name));
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name) +
                      (name[0] != '@'));
    if (name[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    return fd;
}

/* The next datagram within timeout_ms (0: already queued), NUL-terminated
 * in buf; "" if none. */
static const char *
next_msg(int fd, char *buf, size_t size, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    buf[0] = '\0';
    if (poll(&p, 1, timeout_ms) != 1) {
        return buf;
    }
    n = recv(fd, buf, size - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static int
group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fw-notify-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(sock_path, sizeof(sock_path), "%s/notify.sock", tmpdir);
    return fw_log_open("/dev/null");
}

static int
group_teardown(void **state)
{
    (void)state;
    unlink(sock_path);
    rmdir(tmpdir);
    return 0;
}

/* Each test: a fresh receiving socket at sock_path. */
static int
test_setup(void **state)
{
    static int fd;

    unlink(sock_path);
    fd = bind_dgram(sock_path);
    *state = &fd;
    setenv("NOTIFY_SOCKET", sock_path, 1);
    fw_notify_init();
    return 0;
}

static int
test_teardown(void **state)
{
    close(*(int *)*state);
    unsetenv("NOTIFY_SOCKET");
    return 0;
}

/* The next datagram, which must be want. */
static void
expect_msg(int fd, const char *want)
{
    char buf[512];

    assert_string_equal(next_msg(fd, buf, sizeof(buf), SENT_WAIT_MS), want);
}

/* Nothing waits on fd. */
static void
expect_none(int fd)
{
    char buf[512];

    assert_string_equal(next_msg(fd, buf, sizeof(buf), 0), "");
}

/* READY=1 once; RELOADING=1 with the caller's clock; READY=1 again;
 * STOPPING=1 last. */
static void
test_states_once_each(void **state)
{
    int fd = *(int *)*state;

    assert_null(getenv("NOTIFY_SOCKET"));
    assert_int_equal(fw_notify_ready(), 0);
    expect_msg(fd, "READY=1");
    assert_int_equal(fw_notify_ready(), 0);
    expect_none(fd);

    assert_int_equal(fw_notify_reloading(123456789012ULL), 0);
    expect_msg(fd, "RELOADING=1\nMONOTONIC_USEC=123456789012");
    assert_int_equal(fw_notify_ready(), 0);
    expect_msg(fd, "READY=1");

    assert_int_equal(fw_notify_stopping(), 0);
    expect_msg(fd, "STOPPING=1");
    fw_notify_stopping();
    fw_notify_ready();
    fw_notify_reloading(123456789013ULL);
    expect_none(fd);
}

/* STATUS= only when the text changes, on one line. */
static void
test_status_changes_only(void **state)
{
    int fd = *(int *)*state;

    assert_int_equal(fw_notify_status("%d workers", 3), 0);
    expect_msg(fd, "STATUS=3 workers");
    fw_notify_status("%d workers", 3);
    expect_none(fd);
    fw_notify_status("two\nREADY=1");
    expect_msg(fd, "STATUS=two");
}

/*
 * The master's tick on a clock the test drives: the first STATUS= at once,
 * READY=1 whenever ready; the next STATUS= one period (1 s) after the last
 * one, not a microsecond sooner, and only when its text changed; a new
 * fw_notify_init starts over.
 */
static void
test_pool_tick(void **state)
{
    int fd = *(int *)*state;

    fw_notify_pool(0, 0, T0);
    expect_msg(fd, "STATUS=0 workers");
    fw_notify_pool(1, 1, T0 + 0.5); /* STATUS= waits; READY=1 does not */
    expect_msg(fd, "READY=1");
    expect_none(fd);

    assert_int_equal(fw_scoreboard_create(4, 2), 0);
    fw_notify_pool(1, 3, T0 + 0.999);
    expect_none(fd);
    fw_notify_pool(1, 3, T0 + 1.0);
    expect_msg(fd, "STATUS=3 workers, 0 busy, 0 requests");
    fw_notify_pool(1, 3, T0 + 5.0); /* the period passed, the text is the
                                       same: nothing, and a new period */
    expect_none(fd);
    fw_notify_pool(1, 1, T0 + 5.5);
    expect_none(fd);
    fw_notify_pool(1, 1, T0 + 6.0);
    expect_msg(fd, "STATUS=1 worker, 0 busy, 0 requests");

    setenv("NOTIFY_SOCKET", sock_path, 1);
    fw_notify_init();
    fw_notify_pool(0, 1, T0 + 6.1);
    expect_msg(fd, "STATUS=1 worker, 0 busy, 0 requests");
}

/* A forked worker never speaks for the service. */
static void
test_child_is_silent(void **state)
{
    int fd = *(int *)*state;
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        fw_notify_ready();
        fw_notify_stopping();
        fw_notify_status("from the child");
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    expect_none(fd); /* what the child sent would be queued by now */
    fw_notify_ready();
    expect_msg(fd, "READY=1");
}

/* "@name": the abstract namespace (no file, no trailing NUL). */
static void
test_abstract_namespace(void **state)
{
    char name[64];
    int fd;

    (void)state;
    snprintf(name, sizeof(name), "@fw-notify-test-%ld", (long)getpid());
    fd = bind_dgram(name);
    setenv("NOTIFY_SOCKET", name, 1);
    fw_notify_init();
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_int_equal(fw_notify_ready(), 0);
    expect_msg(fd, "READY=1");
    close(fd);
}

/* No NOTIFY_SOCKET, or one that cannot be used: calls do nothing. */
static void
test_off_or_unusable(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    fw_notify_init();
    assert_int_equal(fw_notify_ready(), 0);

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    fw_notify_init();
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_int_equal(fw_notify_ready(), 0);

    /* a path nobody listens on: -1, never a crash or a block */
    setenv("NOTIFY_SOCKET", "/nonexistent/fw-notify.sock", 1);
    fw_notify_init();
    assert_int_equal(fw_notify_ready(), -1);
    assert_int_equal(fw_notify_stopping(), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_states_once_each, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_status_changes_only, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pool_tick, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_child_is_silent, test_setup,
                                        test_teardown),
        cmocka_unit_test(test_abstract_namespace),
        cmocka_unit_test(test_off_or_unusable),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
