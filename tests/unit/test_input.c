/*
 * test_input.c: wsgi.input as an application sees it.  The "input_ops"
 * app of unit_apps.py runs the calls listed in QUERY_STRING on wsgi.input
 * and answers with the repr of each result, one a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/py_fixture.h"

#define BIG_BODY (5 * 1024 * 1024)

/*
 * Runs input_ops with ops on body; content_length NULL sends none.
 * read_chunk limits each gateway read.  Returns the response body
 * (malloc'd) and checks the request completed.
 */
static char *
run_ops(const char *ops, const char *body, const char *content_length,
        size_t read_chunk)
{
    char query[512];
    char length[64];
    const char *params[4] = {"TEST_APP=input_ops", query, NULL, NULL};
    mem_request_t m;
    char *out;

    snprintf(query, sizeof(query), "QUERY_STRING=%s", ops);
    if (content_length != NULL) {
        snprintf(length, sizeof(length), "CONTENT_LENGTH=%s", content_length);
        params[2] = length;
    }
    mem_request_init(&m, params, body, strlen(body));
    m.read_chunk = read_chunk;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    if (strncmp(m.out, "Status: 200 OK\r\n", 16) != 0) {
        fprintf(stderr, "response:\n%s\nlog:\n%s\n", m.out, mem_log_text());
        fail_msg("input_ops failed");
    }
    /* whatever the app left unread was drained for the server */
    assert_int_equal(m.body_pos, m.body_len);
    out = strdup(fx_body(&m));
    assert_non_null(out);
    mem_request_free(&m);
    return out;
}

/* ---- wsgi.input's calls, each row one request to input_ops ---- */

typedef struct {
    const char *name;
    const char *ops;            /* QUERY_STRING: the calls, ';'-separated */
    const char *body;           /* the request body */
    const char *content_length; /* NULL: none sent */
    size_t read_chunk;          /* the largest gateway read; 0: any */
    const char *want;           /* the repr of each result, one a line */
} ops_case_t;

static const ops_case_t ops_cases[] = {
    {.name = "read()",
     .ops = "read()",
     .body = "hello world",
     .content_length = "11",
     .want = "b'hello world'\n"},
    {.name = "read(-1) reads all",
     .ops = "read(-1);read()",
     .body = "hello world",
     .content_length = "11",
     .want = "b'hello world'\nb''\n"},
    {.name = "read(None) reads all, across chunks",
     .ops = "read(None)",
     .body = "hello world",
     .content_length = "11",
     .read_chunk = 3,
     .want = "b'hello world'\n"},
    {.name = "read(n) across chunks",
     .ops = "read(5);read(4);read(0);read(100);read(1)",
     .body = "hello world",
     .content_length = "11",
     .read_chunk = 3,
     .want = "b'hello'\nb' wor'\nb''\nb'ld'\nb''\n"},
    {.name = "readline()",
     .ops = "readline();readline();readline();readline()",
     .body = "line one\nline two\nlast",
     .content_length = "22",
     .read_chunk = 3,
     .want = "b'line one\\n'\nb'line two\\n'\nb'last'\nb''\n"},
    {.name = "readline(limit)",
     .ops = "readline(4);readline(100);readline(0);readline(-1);"
            "readline(None)",
     .body = "abcdefgh\nxyz\nq",
     .content_length = "15",
     .read_chunk = 2,
     .want = "b'abcd'\nb'efgh\\n'\nb''\nb'xyz\\n'\nb'q'\n"},
    {.name = "readlines()",
     .ops = "readlines()",
     .body = "a\nb\nc",
     .content_length = "5",
     .want = "[b'a\\n', b'b\\n', b'c']\n"},
    {.name = "readlines(hint)",
     .ops = "readlines(4);readlines();readlines()",
     .body = "aa\nbb\ncc\ndd\n",
     .content_length = "12",
     .want = "[b'aa\\n', b'bb\\n']\n[b'cc\\n', b'dd\\n']\n[]\n"},
    {.name = "iteration",
     .ops = "iter",
     .body = "x\ny\nz",
     .content_length = "5",
     .read_chunk = 1,
     .want = "[b'x\\n', b'y\\n', b'z']\n"},
    /* never past CONTENT_LENGTH */
    {.name = "read() stops at CONTENT_LENGTH",
     .ops = "read();read()",
     .body = "0123456789EXTRA",
     .content_length = "10",
     .want = "b'0123456789'\nb''\n"},
    {.name = "read(n) stops at CONTENT_LENGTH",
     .ops = "read(100)",
     .body = "0123456789EXTRA",
     .content_length = "10",
     .read_chunk = 4,
     .want = "b'0123456789'\n"},
    {.name = "readline() stops at CONTENT_LENGTH",
     .ops = "readline();read(3);readline()",
     .body = "ab\ncdefg\n",
     .content_length = "5",
     .read_chunk = 1,
     .want = "b'ab\\n'\nb'cd'\nb''\n"},
    {.name = "readlines() stops at CONTENT_LENGTH",
     .ops = "readlines()",
     .body = "a\nb\nc\nd\n",
     .content_length = "4",
     .want = "[b'a\\n', b'b\\n']\n"},
    {.name = "CONTENT_LENGTH 0",
     .ops = "read()",
     .body = "no body expected",
     .content_length = "0",
     .want = "b''\n"},
    /* no CONTENT_LENGTH (or an unusable one): to the gateway's end */
    {.name = "no CONTENT_LENGTH",
     .ops = "read()",
     .body = "abc",
     .want = "b'abc'\n"},
    {.name = "an empty CONTENT_LENGTH",
     .ops = "read(2);read()",
     .body = "abc",
     .content_length = "",
     .read_chunk = 1,
     .want = "b'ab'\nb'c'\n"},
    {.name = "an unusable CONTENT_LENGTH",
     .ops = "read(100000)",
     .body = "abc",
     .content_length = "12x",
     .want = "b'abc'\n"},
    {.name = "empty at the end",
     .ops = "read();read();read(5);readline();readlines();iter",
     .body = "abc",
     .content_length = "3",
     .want = "b'abc'\nb''\nb''\nb''\n[]\n[]\n"},
};

static void
test_ops_case(void **state)
{
    const ops_case_t *tc = *state;
    char *out = run_ops(tc->ops, tc->body, tc->content_length, tc->read_chunk);

    assert_string_equal(out, tc->want);
    free(out);
}

/* A line longer than the 8 KiB buffer is still one line. */
static void
test_readline_longer_than_buffer(void **state)
{
    size_t n = 20000;
    char *body = malloc(n + 3);
    char *out;

    (void)state;
    assert_non_null(body);
    memset(body, 'a', n);
    memcpy(body + n, "\nb", 3);
    out = run_ops("len:readline();readline()", body, NULL, 1000);
    assert_string_equal(out, "20001\nb'b'\n");
    free(out);
    free(body);
}

/* A large read goes straight into the result: one gateway read. */
static void
test_large_read_is_direct(void **state)
{
    size_t n = 100000;
    char *body = malloc(n + 1);
    const char *params[] = {"TEST_APP=input_ops",
                            "QUERY_STRING=len:read(100000)",
                            "CONTENT_LENGTH=100000", NULL};
    mem_request_t m;

    (void)state;
    assert_non_null(body);
    memset(body, 'z', n);
    body[n] = '\0';
    assert_int_equal(fx_run(&m, params, body, n), FW_PYGLUE_DONE);
    assert_string_equal(fx_body(&m), "100000\n");
    /* one read for the body, one of the drain that finds the end */
    assert_int_equal(m.read_calls, 2);
    mem_request_free(&m);
    free(body);
}

static void
test_used_after_request(void **state)
{
    static const char *const calls[] = {
        "KEPT['input'].read()", "KEPT['input'].readline(2)",
        "KEPT['input'].readlines()", "next(iter(KEPT['input']))"};
    const char *params[] = {"TEST_APP=input_keep", "CONTENT_LENGTH=3", NULL};
    mem_request_t m;

    (void)state;
    fx_expect(&m, fx_run(&m, params, "abc", 3),
              &(fx_want_t){.body = "kept\n"});
    mem_request_free(&m); /* the request's memory is gone now */
    for (size_t i = 0; i < FX_COUNT(calls); i++) {
        fx_assert_eval(calls[i],
                       "ValueError: wsgi.input used after its request ended");
    }
}

static char *
pattern(size_t n)
{
    char *p = malloc(n);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = (char)(i % 251);
    }
    return p;
}

static void
test_big_body_in_pieces(void **state)
{
    char *body = pattern(BIG_BODY);
    char query[64];
    char length[64];
    const char *params[] = {"TEST_APP=input_pieces", query, length, NULL};
    const char *no_length[] = {"TEST_APP=input_pieces", query, NULL};
    mem_request_t m;

    (void)state;
    snprintf(query, sizeof(query), "QUERY_STRING=%d", BIG_BODY);
    snprintf(length, sizeof(length), "CONTENT_LENGTH=%d", BIG_BODY);

    mem_request_init(&m, params, body, BIG_BODY);
    m.read_chunk = 7001;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    fx_assert_contains(fx_body(&m), "ok 5242880 in ");
    mem_request_free(&m);

    /* the same without CONTENT_LENGTH: to the gateway's end */
    mem_request_init(&m, no_length, body, BIG_BODY);
    m.read_chunk = 65536;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    fx_assert_contains(fx_body(&m), "ok 5242880 in ");
    mem_request_free(&m);
    free(body);
}

/* An app that reads nothing still has the whole body drained. */
static void
test_unread_body_is_drained(void **state)
{
    char *body = pattern(300000);
    const char *params[] = {"TEST_APP=hello", "CONTENT_LENGTH=300000", NULL};
    mem_request_t m;

    (void)state;
    assert_int_equal(fx_run(&m, params, body, 300000), FW_PYGLUE_DONE);
    assert_string_equal(fx_body(&m), "Hello, world!\n");
    assert_int_equal(m.body_pos, 300000);
    mem_request_free(&m);
    free(body);
}

/* A gateway whose reads fail, writing through to the in-memory one. */
static const fw_gateway_ops_t *saved_ops;

static ssize_t
failing_read(fw_request_t *r, char *buf, size_t len)
{
    (void)r;
    (void)buf;
    (void)len;
    return -1;
}

static int
pass_write(fw_request_t *r, const char *buf, size_t len)
{
    return saved_ops->write(r, buf, len);
}

static int
pass_flush(fw_request_t *r)
{
    return saved_ops->flush(r);
}

static const fw_gateway_ops_t failing_read_ops = {
    .read = failing_read, .write = pass_write, .flush = pass_flush};

/* A gateway that notes how much of the body was read at the first write. */
static long body_pos_at_first_write;

static ssize_t
pass_read(fw_request_t *r, char *buf, size_t len)
{
    return saved_ops->read(r, buf, len);
}

static int
noting_write(fw_request_t *r, const char *buf, size_t len)
{
    mem_request_t *m = r->conn;

    if (body_pos_at_first_write < 0) {
        body_pos_at_first_write = (long)m->body_pos;
    }
    return saved_ops->write(r, buf, len);
}

static const fw_gateway_ops_t noting_ops = {
    .read = pass_read, .write = noting_write, .flush = pass_flush};

/* The rest of the body is consumed before the response's first byte. */
static void
test_body_consumed_before_response(void **state)
{
    char *body = pattern(200000);
    const char *params[] = {"TEST_APP=read_some", "CONTENT_LENGTH=200000",
                            NULL};
    mem_request_t m;

    (void)state;
    mem_request_init(&m, params, body, 200000);
    saved_ops = m.req.ops;
    m.req.ops = &noting_ops;
    body_pos_at_first_write = -1;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    assert_int_equal(body_pos_at_first_write, 200000);
    assert_memory_equal(fx_body(&m), "\x00\x01\x02\x03", 4);
    assert_string_equal(mem_log_text(), "");
    mem_request_free(&m);
    free(body);
}

/* Reading after the response started cannot get the discarded body. */
static void
test_read_after_response_started(void **state)
{
    const char *params[] = {"TEST_APP=read_after_start", "SCRIPT_NAME=/after",
                            "CONTENT_LENGTH=5", NULL};
    mem_request_t m;

    (void)state;
    fx_expect(&m, fx_run(&m, params, "abcde", 5),
              &(fx_want_t){.result = FW_PYGLUE_ABORT,
                           .body = "started ",
                           .log_has = {"GET /after: exception in the "
                                       "application\n",
                                       "\nOSError: wsgi.input: the rest of "
                                       "the request body was discarded when "
                                       "the response started; read the body "
                                       "before sending the response\n"}});
    mem_request_free(&m);
}

static void
test_read_error_raises_oserror(void **state)
{
    const char *params[] = {"TEST_APP=input_ops",  "REQUEST_METHOD=POST",
                            "SCRIPT_NAME=/upload", "QUERY_STRING=read()",
                            "CONTENT_LENGTH=5",    NULL};
    mem_request_t m;
    char *out;

    (void)state;
    mem_request_init(&m, params, "abcde", 5);
    saved_ops = m.req.ops;
    m.req.ops = &failing_read_ops;
    /* the connection is broken: the bridge must drop it */
    fx_expect(&m, fx_handle(&m),
              &(fx_want_t){.result = FW_PYGLUE_ABORT,
                           .log_has = {"POST /upload: exception in the "
                                       "application\n"
                                       "Traceback (most recent call last):\n",
                                       "OSError: client connection lost "
                                       "while reading the request body\n"}});
    mem_request_free(&m);

    /* and the next request reads its body normally */
    out = run_ops("read()", "fine", "4", 0);
    assert_string_equal(out, "b'fine'\n");
    free(out);
}

static void
test_bad_arguments(void **state)
{
    const char *params[] = {"TEST_APP=input_ops", "SCRIPT_NAME=/args",
                            "QUERY_STRING=read('x')", NULL};
    mem_request_t m;

    (void)state;
    fx_expect(&m, fx_run(&m, params, "abc", 3),
              &(fx_want_t){.out = fx_response_500,
                           .log_has = {"TypeError: 'str' object cannot be "
                                       "interpreted as an integer\n"}});
    mem_request_free(&m);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup(test_readline_longer_than_buffer,
                               fx_test_setup),
        cmocka_unit_test_setup(test_large_read_is_direct, fx_test_setup),
        cmocka_unit_test_setup(test_used_after_request, fx_test_setup),
        cmocka_unit_test_setup(test_big_body_in_pieces, fx_test_setup),
        cmocka_unit_test_setup(test_unread_body_is_drained, fx_test_setup),
        cmocka_unit_test_setup(test_read_error_raises_oserror, fx_test_setup),
        cmocka_unit_test_setup(test_body_consumed_before_response,
                               fx_test_setup),
        cmocka_unit_test_setup(test_read_after_response_started,
                               fx_test_setup),
        cmocka_unit_test_setup(test_bad_arguments, fx_test_setup),
    };
    static const fx_table_t tables[] = {
        FX_TABLE(ops_cases, test_ops_case, fx_test_setup),
    };

    return fx_run_group("input", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), fx_group_setup, fx_group_teardown);
}
