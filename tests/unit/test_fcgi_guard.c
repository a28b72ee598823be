/*
 * test_fcgi_guard.c: the check that runs before libfcgi reads a request,
 * on exact FastCGI bytes: in memory (fw_fcgi_guard_scan), and over a
 * socketpair (fw_fcgi_guard_check), where the answers it writes are read
 * back byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/fcgi_guard.h"

typedef struct {
    unsigned char b[4096];
    size_t n;
} bytes_t;

static void
rec(bytes_t *o, int type, int id, const void *content, size_t len,
    int padding)
{
    unsigned char *p = o->b + o->n;

    p[0] = 1;
    p[1] = (unsigned char)type;
    p[2] = (unsigned char)(id >> 8);
    p[3] = (unsigned char)id;
    p[4] = (unsigned char)(len >> 8);
    p[5] = (unsigned char)len;
    p[6] = (unsigned char)padding;
    p[7] = 0;
    memcpy(p + 8, content, len);
    memset(p + 8 + len, 0, (size_t)padding);
    o->n += 8 + len + (size_t)padding;
}

static void
begin(bytes_t *o, int id, int role)
{
    unsigned char body[8] = {0, (unsigned char)role, 0, 0, 0, 0, 0, 0};

    rec(o, 1, id, body, 8, 0);
}

/* "\x0eREQUEST_METHOD" style pair with 1-byte lengths. */
static size_t
pair(unsigned char *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);

    p[0] = (unsigned char)nl;
    p[1] = (unsigned char)vl;
    memcpy(p + 2, name, nl);
    memcpy(p + 2 + nl, value, vl);
    return 2 + nl + vl;
}

static void
nginx_like(bytes_t *o, int id)
{
    unsigned char params[256];
    size_t n = 0;

    begin(o, id, 1);
    n += pair(params + n, "REQUEST_METHOD", "GET");
    n += pair(params + n, "SCRIPT_NAME", "/x");
    rec(o, 4, id, params, n, (int)((8 - n % 8) % 8));
    rec(o, 4, id, "", 0, 0);
}

static fw_guard_result_e
scan(const bytes_t *o, size_t len, const char **why, int *role)
{
    size_t consumed;
    int id;

    return fw_fcgi_guard_scan(o->b, len, &consumed, role, &id, why);
}

static void
test_nginx_request_is_ready(void **state)
{
    bytes_t o = {.n = 0};
    const char *why;
    int role;

    (void)state;
    nginx_like(&o, 1);
    assert_int_equal(scan(&o, o.n, &why, &role), FW_GUARD_READY);
    assert_int_equal(role, 1);
}

static void
test_every_prefix_waits(void **state)
{
    bytes_t o = {.n = 0};
    const char *why;
    int role;

    (void)state;
    nginx_like(&o, 1);
    for (size_t len = 0; len < o.n; len++) {
        assert_int_equal(scan(&o, len, &why, &role), FW_GUARD_WAIT);
    }
}

static void
test_padded_begin_request_refused(void **state)
{
    bytes_t o = {.n = 0};
    unsigned char body[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    const char *why;
    int role;

    (void)state;
    rec(&o, 1, 1, body, 8, 8);
    rec(&o, 4, 1, "", 0, 0);
    assert_int_equal(scan(&o, o.n, &why, &role), FW_GUARD_CLOSE);
    assert_string_equal(why,
                        "BEGIN_REQUEST with padding (libfcgi cannot read it)");
}

static void
test_unknown_role_named(void **state)
{
    bytes_t o = {.n = 0};
    const char *why = "x";
    int role = 0;

    (void)state;
    begin(&o, 5, 7);
    assert_int_equal(scan(&o, o.n, &why, &role), FW_GUARD_CLOSE);
    assert_null(why);
    assert_int_equal(role, 7);
}

static void
test_overlong_param_lengths_refused(void **state)
{
    /* CVE-2025-23016's shape: lengths near 2^31 in a short record. */
    bytes_t o = {.n = 0};
    unsigned char params[16] = {0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff,
                                0xf0, 'A', 'B', 'C', 'D'};
    const char *why;
    int role;

    (void)state;
    begin(&o, 1, 1);
    rec(&o, 4, 1, params, 12, 4);
    rec(&o, 4, 1, "", 0, 0);
    assert_int_equal(scan(&o, o.n, &why, &role), FW_GUARD_CLOSE);
    assert_string_equal(
        why, "malformed PARAMS: a name or value length runs past the data");
}

static void
test_garbage_refused(void **state)
{
    bytes_t o = {.n = 0};
    const char *why;
    int role;

    (void)state;
    memcpy(o.b, "GET / HTTP/1.1\r\n\r\n", 18);
    o.n = 18;
    assert_int_equal(scan(&o, o.n, &why, &role), FW_GUARD_CLOSE);
    assert_string_equal(why, "not a FastCGI record (version byte is not 1)");
}

static void
test_stdin_before_params_end_refused(void **state)
{
    bytes_t o = {.n = 0};
    const char *why;
    int role;

    (void)state;
    begin(&o, 1, 1);
    rec(&o, 5, 1, "body", 4, 4);
    assert_int_equal(scan(&o, o.n, &why, &role), FW_GUARD_CLOSE);
    assert_string_equal(why, "an unexpected record before the end of PARAMS");
}

static ssize_t
read_some(int fd, unsigned char *buf, size_t len)
{
    return recv(fd, buf, len, MSG_DONTWAIT);
}

static void
test_get_values_answered_then_request_ready(void **state)
{
    static const unsigned char expected[] = {
        1, 10, 0, 0, 0, 18, 0, 0, 15, 1, 'F', 'C', 'G', 'I', '_', 'M', 'P',
        'X', 'S', '_', 'C', 'O', 'N', 'N', 'S', '0'};
    bytes_t o = {.n = 0};
    unsigned char query[32], answer[64];
    int sv[2];
    size_t q;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    q = pair(query, "FCGI_MPXS_CONNS", "");
    rec(&o, 9, 0, query, q, 0);
    nginx_like(&o, 1);
    assert_int_equal(write(sv[1], o.b, o.n), (ssize_t)o.n);

    assert_int_equal(fw_fcgi_guard_check(sv[0], 0), FW_GUARD_READY);
    assert_int_equal(read_some(sv[1], answer, sizeof(answer)),
                     (ssize_t)sizeof(expected));
    assert_memory_equal(answer, expected, sizeof(expected));
    /* the request itself is still there for libfcgi */
    assert_int_equal(read_some(sv[0], answer, 8), 8);
    assert_int_equal(answer[1], 1);
    close(sv[0]);
    close(sv[1]);
}

static void
test_unknown_role_answered(void **state)
{
    static const unsigned char expected[] = {1, 3, 0, 9, 0, 8, 0, 0,
                                             0, 0, 0, 0, 3, 0, 0, 0};
    bytes_t o = {.n = 0};
    unsigned char answer[64];
    int sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    begin(&o, 9, 4);
    assert_int_equal(write(sv[1], o.b, o.n), (ssize_t)o.n);
    assert_int_equal(fw_fcgi_guard_check(sv[0], 0), FW_GUARD_CLOSE);
    assert_int_equal(read_some(sv[1], answer, sizeof(answer)),
                     (ssize_t)sizeof(expected));
    assert_memory_equal(answer, expected, sizeof(expected));
    close(sv[0]);
    close(sv[1]);
}

static void
test_nothing_yet_waits_closed_closes(void **state)
{
    int sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fw_fcgi_guard_check(sv[0], 0), FW_GUARD_WAIT);
    close(sv[1]);
    assert_int_equal(fw_fcgi_guard_check(sv[0], 0), FW_GUARD_CLOSE);
    close(sv[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nginx_request_is_ready),
        cmocka_unit_test(test_every_prefix_waits),
        cmocka_unit_test(test_padded_begin_request_refused),
        cmocka_unit_test(test_unknown_role_named),
        cmocka_unit_test(test_overlong_param_lengths_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_stdin_before_params_end_refused),
        cmocka_unit_test(test_get_values_answered_then_request_ready),
        cmocka_unit_test(test_unknown_role_answered),
        cmocka_unit_test(test_nothing_yet_waits_closed_closes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
