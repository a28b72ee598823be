/*
 * test_response.c: how a response reaches the gateway (bytes, write and
 * flush calls), close(), every way an application can fail, serving from
 * other threads, and a leak check over many requests.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/py_fixture.h"

#define TEXT_HEAD "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"

/* Runs app at path (SCRIPT_NAME, as nginx sends it) with no body. */
static fw_pyglue_result_e
run_app(mem_request_t *m, const char *app, const char *path)
{
    char test_app[128];
    char script_name[256];
    const char *params[] = {test_app, script_name, "REQUEST_METHOD=GET", NULL};

    snprintf(test_app, sizeof(test_app), "TEST_APP=%s", app);
    snprintf(script_name, sizeof(script_name), "SCRIPT_NAME=%s", path);
    return fx_run(m, params, NULL, 0);
}

static void
assert_closed(const char *expected)
{
    char *closed = fx_eval("CLOSED");

    assert_string_equal(closed, expected);
    free(closed);
}

/* The header block and a small body: one write, and no flush of its own
 * (the request's end sends it). */
static void
test_small_body_one_write(void **state)
{
    mem_request_t m;

    (void)state;
    fx_expect(&m, run_app(&m, "hello", "/"),
              &(fx_want_t){.out = TEXT_HEAD "Hello, world!\n", .log = ""});
    assert_int_equal(m.write_calls, 1);
    assert_int_equal(m.flush_calls, 0); /* sent with the request's end */
    mem_request_free(&m);
}

/* A list goes out in one go: one write, no flush between or after. */
static void
test_list_body_one_go(void **state)
{
    mem_request_t m;

    (void)state;
    fx_expect(&m, run_app(&m, "list3", "/"),
              &(fx_want_t){.out = TEXT_HEAD "one two three"});
    assert_int_equal(m.write_calls, 1);
    assert_int_equal(m.flush_calls, 0); /* sent with the request's end */
    mem_request_free(&m);
}

/* A generator is flushed after each non-empty chunk. */
static void
test_generator_flushes_each_chunk(void **state)
{
    size_t head = strlen(TEXT_HEAD);
    mem_request_t m;

    (void)state;
    fx_expect(&m, run_app(&m, "gen3", "/"),
              &(fx_want_t){.out = TEXT_HEAD "one two three"});
    assert_int_equal(m.flush_calls, 3);
    assert_int_equal(m.write_calls, 3); /* the head rides with "one " */
    assert_int_equal(m.out_len_at_flush[0], head + 4);
    assert_int_equal(m.out_len_at_flush[1], head + 8);
    assert_int_equal(m.out_len_at_flush[2], head + 13);
    mem_request_free(&m);

    fx_expect(&m, run_app(&m, "recorded_gen", "/"),
              &(fx_want_t){.out = TEXT_HEAD "one two three"});
    assert_int_equal(m.flush_calls, 3);
    assert_closed("['recorded_gen']");
    mem_request_free(&m);
}

/*
 * An iterable whose iterator is over a list or tuple (Django's
 * HttpResponse): its chunks exist already, so none is flushed on its
 * own; they go out with the request's end, as a list's do.
 */
static void
test_list_backed_iterable_not_flushed(void **state)
{
    static const char *const apps[] = {"list_backed", "tuple_backed"};
    mem_request_t m;

    (void)state;
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        fx_expect(&m, run_app(&m, apps[i], "/"),
                  &(fx_want_t){.out = TEXT_HEAD "one two three"});
        assert_int_equal(m.flush_calls, 0);
        mem_request_free(&m);
    }
}

/* No body: the header block goes out at the end. */
static void
test_empty_body_sends_headers_at_end(void **state)
{
    mem_request_t m;

    (void)state;
    fx_expect(&m, run_app(&m, "empty", "/"),
              &(fx_want_t){.out = "Status: 204 No Content\r\n\r\n"});
    assert_int_equal(m.write_calls, 1);
    assert_int_equal(m.flush_calls, 0); /* sent with the request's end */
    mem_request_free(&m);

    fx_expect(
        &m, run_app(&m, "empty_gen", "/"),
        &(fx_want_t){.out = "Status: 200 OK\r\nContent-Length: 0\r\n\r\n"});
    assert_int_equal(m.write_calls, 1);
    assert_int_equal(m.flush_calls, 0);
    mem_request_free(&m);
}

/* A large chunk is written as it is, not copied behind the head. */
static void
test_large_body(void **state)
{
    static const char head[] =
        "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";
    mem_request_t m;

    (void)state;
    assert_int_equal(run_app(&m, "big", "/"), FW_PYGLUE_DONE);
    assert_int_equal(m.out_len, strlen(head) + 100000);
    assert_memory_equal(m.out, head, strlen(head));
    for (size_t i = strlen(head); i < m.out_len; i++) {
        assert_int_equal(m.out[i], 'x');
    }
    assert_int_equal(m.write_calls, 2);
    assert_int_equal(m.flush_calls, 0); /* sent with the request's end */
    mem_request_free(&m);
}

static void
test_file_wrapper(void **state)
{
    static const char head[] =
        "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";
    size_t hl = strlen(head);
    mem_request_t m;

    (void)state;
    assert_int_equal(run_app(&m, "file_wrapper", "/"), FW_PYGLUE_DONE);
    assert_int_equal(m.out_len, hl + 20000);
    assert_memory_equal(m.out, head, hl);
    for (size_t i = 0; i < 20000; i++) {
        assert_int_equal(m.out[hl + i], 'A' + (int)(i / 1000) % 26);
    }
    /* a file is ready: no streaming; sent with the request's end */
    assert_int_equal(m.flush_calls, 0);
    assert_closed("['file']");
    mem_request_free(&m);
}

static void
test_client_gone(void **state)
{
    const char *params[] = {"TEST_APP=recorded_gen", "SCRIPT_NAME=/gone",
                            NULL};
    mem_request_t m;

    (void)state;
    fx_expect(&m, fx_run_gone(&m, params),
              &(fx_want_t){.result = FW_PYGLUE_ABORT,
                           .log = "GET /gone: client connection lost while "
                                  "sending the response\n"});
    assert_int_equal(m.write_calls, 1); /* it stopped at the first failure */
    assert_closed("['recorded_gen']");
    mem_request_free(&m);

    /* a list body, and an app that fails while the client is gone */
    mem_log_reset();
    fx_expect(&m,
              fx_run_gone(&m, (const char *const[]){"TEST_APP=boom", NULL}),
              &(fx_want_t){.result = FW_PYGLUE_ABORT,
                           .log_has = {"\nValueError: boom in the helper\n",
                                       "GET (no path): client connection "
                                       "lost while sending the response\n"}});
    mem_request_free(&m);
    fx_assert_next_request_works();
}

/* ---- every way an application can fail, each followed by a good request */

#define MISUSE(app)                                                           \
    {                                                                         \
        "TEST_APP=" app, "SCRIPT_NAME=/misuse", "REQUEST_METHOD=GET"          \
    }

static const fx_case_t failure_cases[] = {
    {.name = "the app raises: 500",
     .params = {"TEST_APP=boom", "SCRIPT_NAME=/boom", "REQUEST_METHOD=GET"},
     .want = {.out = fx_response_500,
              .log_has = {"GET /boom: exception in the application\n"
                          "Traceback (most recent call last):\n",
                          ", in boom_helper\n",
                          "\nValueError: boom in the helper\n"}}},
    /* an iterable that raises before any body: 500, and close() is called */
    {.name = "raise before the body: 500, closed",
     .params = {"TEST_APP=raise_first", "SCRIPT_NAME=/first",
                "REQUEST_METHOD=GET"},
     .want = {.out = fx_response_500,
              .log_has = {"GET /first: exception in the application\n",
                          "\nRuntimeError: failed in the middle of "
                          "raise_first\n"}},
     .closed = "['raise_first']"},
    /* after the head went out an error cuts the response; close() still
     * runs */
    {.name = "raise mid-iteration: cut, closed",
     .params = {"TEST_APP=raise_mid", "SCRIPT_NAME=/mid",
                "REQUEST_METHOD=GET"},
     .want = {.result = FW_PYGLUE_ABORT,
              .out = TEXT_HEAD "first",
              .log_has = {"GET /mid: exception in the application\n"
                          "Traceback (most recent call last):\n",
                          ", in __iter__\n",
                          "\nRuntimeError: failed in the middle of "
                          "raise_mid\n"}},
     .closed = "['raise_mid']"},
    /* each way of breaking the protocol: a 500 and one line saying how */
    {.name = "misuse: a str in the list",
     .params = MISUSE("str_chunk"),
     .want = {.out = fx_response_500,
              .log = "GET /misuse: the application's response list holds "
                     "str at index 0; WSGI body chunks must be bytes\n"}},
    {.name = "misuse: a generator yields str",
     .params = MISUSE("str_chunk_gen"),
     .want = {.out = fx_response_500,
              .log = "GET /misuse: the application's response yielded str; "
                     "WSGI body chunks must be bytes\n"}},
    {.name = "misuse: no start_response",
     .params = MISUSE("no_start"),
     .want = {.out = fx_response_500,
              .log = "GET /misuse: the application returned without "
                     "calling start_response()\n"}},
    {.name = "misuse: a body before start_response",
     .params = MISUSE("gen_no_start"),
     .want = {.out = fx_response_500,
              .log = "GET /misuse: the application produced body data "
                     "without calling start_response()\n"}},
    {.name = "misuse: not iterable",
     .params = MISUSE("not_iterable"),
     .want = {.out = fx_response_500,
              .log = "GET /misuse: the application returned int, which is "
                     "not iterable; WSGI needs an iterable of bytes\n"}},
    {.name = "misuse: bytes returned",
     .params = MISUSE("return_bytes"),
     .want = {.out = fx_response_500,
              .log = "GET /misuse: the application returned bytes; WSGI "
                     "needs an iterable of bytes (return [body], not "
                     "body)\n"}},
    {.name = "a str chunk after the head: cut",
     .params = {"TEST_APP=str_chunk_late", "SCRIPT_NAME=/late",
                "REQUEST_METHOD=GET"},
     .want = {.result = FW_PYGLUE_ABORT,
              .out = TEXT_HEAD "fine ",
              .log = "GET /late: the application's response yielded str; "
                     "WSGI body chunks must be bytes\n"}},
    {.name = "close() raising is logged",
     .params = {"TEST_APP=close_raises", "SCRIPT_NAME=/c",
                "REQUEST_METHOD=GET"},
     .want = {.out = TEXT_HEAD "fine",
              .log_has = {"GET /c: exception in close() of the response\n"
                          "Traceback (most recent call last):\n",
                          "\nKeyError: 'close failed in close_raises'\n"}},
     .closed = "['close_raises']"},
    /* control characters of a path cannot forge log lines */
    {.name = "the log line escapes the path",
     .params = {"TEST_APP=no_start", "SCRIPT_NAME=/a\nFAKE LINE",
                "REQUEST_METHOD=GET"},
     .want = {.out = fx_response_500,
              .log = "GET /a\\x0aFAKE LINE: the application returned without "
                     "calling start_response()\n"}},
};

/* ---- what the server reads back (response_status, response_body_bytes) */

/*
 * The request's response fields are status and body_bytes, and body_bytes
 * is also what the gateway received after the header block.
 */
static void
assert_metered(const mem_request_t *m, int status, uint64_t body_bytes)
{
    size_t received = m->out_len - (size_t)(fx_body(m) - m->out);

    assert_int_equal(m->req.response_status, status);
    assert_int_equal(m->req.response_body_bytes, body_bytes);
    assert_int_equal(m->req.response_body_bytes, received);
}

/* Runs app with the given method and QUERY_STRING on a fresh request. */
static fw_pyglue_result_e
run_query(mem_request_t *m, const char *app, const char *method,
          const char *query)
{
    char test_app[128];
    char request_method[64];
    char query_string[512];
    const char *params[] = {test_app, request_method, query_string,
                            "SCRIPT_NAME=/m", NULL};

    snprintf(test_app, sizeof(test_app), "TEST_APP=%s", app);
    snprintf(request_method, sizeof(request_method), "REQUEST_METHOD=%s",
             method);
    snprintf(query_string, sizeof(query_string), "QUERY_STRING=%s", query);
    return fx_run(m, params, NULL, 0);
}

static void
test_metered_plain_responses(void **state)
{
    mem_request_t m;

    (void)state;
    assert_int_equal(run_app(&m, "hello", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 14);
    mem_request_free(&m);

    assert_int_equal(run_app(&m, "list3", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 13);
    mem_request_free(&m);

    assert_int_equal(run_query(&m, "start_response_args", "GET",
                               "('404 Not Found', [('Content-Type', "
                               "'text/plain')])"),
                     FW_PYGLUE_DONE);
    assert_memory_equal(m.out, "Status: 404 Not Found\r\n", 23);
    assert_metered(&m, 404, 4);
    mem_request_free(&m);

    /* no body: the header block alone */
    assert_int_equal(run_app(&m, "empty", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 204, 0);
    mem_request_free(&m);

    /* a large body, written as it is behind the head */
    assert_int_equal(run_app(&m, "big", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 100000);
    mem_request_free(&m);

    /* the legacy write() */
    assert_int_equal(run_app(&m, "legacy_write", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 13);
    mem_request_free(&m);
}

/* HEAD: the body the application produced is sent (the web server drops
 * it), so it is counted; an application that honours HEAD counts 0. */
static void
test_metered_head(void **state)
{
    mem_request_t m;

    (void)state;
    assert_int_equal(run_query(&m, "hello", "HEAD", ""), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 14);
    mem_request_free(&m);

    assert_int_equal(run_query(&m, "empty_gen", "HEAD", ""), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 0);
    mem_request_free(&m);
}

/* A generator: counted chunk by chunk as each is flushed. */
static void
test_metered_streamed(void **state)
{
    mem_request_t m;

    (void)state;
    assert_int_equal(run_app(&m, "gen3", "/"), FW_PYGLUE_DONE);
    assert_int_equal(m.flush_calls, 3);
    assert_metered(&m, 200, 13);
    mem_request_free(&m);

    /* cut off after its first chunk: what was written counts */
    assert_int_equal(run_app(&m, "raise_mid", "/mid"), FW_PYGLUE_ABORT);
    assert_metered(&m, 200, 5);
    mem_request_free(&m);
}

static void
test_metered_file_wrapper(void **state)
{
    mem_request_t m;

    (void)state;
    assert_int_equal(run_app(&m, "file_wrapper", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 200, 20000);
    mem_request_free(&m);
}

/* Every way to a 500: pyglue's own counts with its 22-byte body. */
static void
test_metered_500(void **state)
{
    static const char *const apps[] = {"boom", "raise_first", "no_start",
                                       "str_chunk", "not_iterable"};
    mem_request_t m;

    (void)state;
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        fx_expect(&m, run_app(&m, apps[i], "/500"),
                  &(fx_want_t){.out = fx_response_500});
        assert_metered(&m, 500, 22);
        mem_request_free(&m);
    }

    /* the application's own 500 (exc_info before the body) is its own */
    assert_int_equal(run_app(&m, "exc_info_before", "/"), FW_PYGLUE_DONE);
    assert_metered(&m, 500, 4);
    mem_request_free(&m);
}

/* Runs app on m made with write_nowait up to max bytes. */
static fw_pyglue_result_e
run_app_nowait(mem_request_t *m, const char *app, size_t max, int full)
{
    char test_app[128];
    const char *params[] = {test_app, "SCRIPT_NAME=/", "REQUEST_METHOD=GET",
                            NULL};

    snprintf(test_app, sizeof(test_app), "TEST_APP=%s", app);
    mem_request_init(m, params, NULL, 0);
    mem_request_nowait(m, max);
    m->nowait_full = full;
    return fx_handle(m);
}

/*
 * With write_nowait, each chunk of a generator goes out through it with
 * its flush (no GIL hand-off); when the socket is full, pyglue finishes
 * with flush().  The bytes and the flush points are the same either way;
 * a chunk larger than nowait_max goes through write().
 */
static void
test_nowait_chunks(void **state)
{
    size_t head = strlen(TEXT_HEAD);
    mem_request_t m;

    (void)state;
    for (int full = 0; full <= 1; full++) {
        assert_int_equal(run_app_nowait(&m, "gen3", 4096, full),
                         FW_PYGLUE_DONE);
        assert_string_equal(m.out, TEXT_HEAD "one two three");
        assert_int_equal(m.nowait_calls, 3);
        assert_int_equal(m.write_calls, 3);
        assert_int_equal(m.flush_calls, 3);
        assert_int_equal(m.out_len_at_flush[0], head + 4);
        assert_int_equal(m.out_len_at_flush[1], head + 8);
        assert_int_equal(m.out_len_at_flush[2], head + 13);
        assert_metered(&m, 200, 13);
        mem_request_free(&m);
    }

    /* the head alone fits, the 100000-byte body does not */
    assert_int_equal(run_app_nowait(&m, "big", 4096, 0), FW_PYGLUE_DONE);
    assert_int_equal(m.nowait_calls, 0);
    assert_int_equal(m.write_calls, 2);
    assert_metered(&m, 200, 100000);
    mem_request_free(&m);
}

/*
 * A small response goes out through write_nowait (the GIL kept): counted
 * the same.  Nothing written: 0 and 0, whatever the fields held before.
 */
static void
test_metered_buffered_and_nothing(void **state)
{
    const char *params[] = {"TEST_APP=hello", "SCRIPT_NAME=/", NULL};
    mem_request_t m;

    (void)state;
    mem_request_init(&m, params, NULL, 0);
    mem_request_nowait(&m, 4096);
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    assert_int_equal(m.write_calls, 1);
    assert_int_equal(m.nowait_calls, 1);
    assert_metered(&m, 200, 14);
    mem_request_free(&m);

    mem_request_init(&m, params, NULL, 0);
    m.fail_write = 1;
    m.req.response_status = 999; /* left from an earlier request */
    m.req.response_body_bytes = 999;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_ABORT);
    assert_int_equal(m.req.response_status, 0);
    assert_int_equal(m.req.response_body_bytes, 0);
    mem_request_free(&m);
    mem_log_reset();
}

/* Several threads, each with its own handle, serving at once. */
#define THREADS 4
#define REQUESTS_PER_THREAD 200

static void *
serve_some(void *arg)
{
    fw_pyglue_thread_t *t = fw_pyglue_thread_attach();
    const char *params[] = {"TEST_APP=typical",       "REQUEST_METHOD=POST",
                            "SCRIPT_NAME=/t",         "CONTENT_LENGTH=5",
                            "HTTP_USER_AGENT=thread", NULL};
    intptr_t failures = 0;

    (void)arg;
    if (t == NULL) {
        return (void *)(intptr_t)-1;
    }
    for (int i = 0; i < REQUESTS_PER_THREAD; i++) {
        mem_request_t m;

        mem_request_init(&m, params, "hello", 5);
        if (fw_pyglue_handle(t, &m.req) != FW_PYGLUE_DONE ||
            strcmp(fx_body(&m), "POST /t 5 thread\n") != 0) {
            failures++;
        }
        mem_request_free(&m);
    }
    fw_pyglue_thread_detach(t);
    return (void *)failures;
}

static void
test_threads(void **state)
{
    pthread_t threads[THREADS];

    (void)state;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, serve_some, NULL),
                         0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *failures;

        assert_int_equal(pthread_join(threads[i], &failures), 0);
        assert_int_equal((intptr_t)failures, 0);
    }
    assert_string_equal(mem_log_text(), "");
    fx_assert_next_request_works();
}

/* Python's live blocks after gc.collect(); 0 under PYTHONMALLOC=malloc. */
static long
allocated_blocks(void)
{
    char *text = fx_eval("__import__('gc').collect() * 0 + "
                         "__import__('sys').getallocatedblocks()");
    long n = strtol(text, NULL, 10);

    free(text);
    return n;
}

static void
run_typical(int n)
{
    const char *params[] = {"TEST_APP=typical",
                            "REQUEST_METHOD=POST",
                            "SCRIPT_NAME=/items/42",
                            "PATH_INFO=",
                            "QUERY_STRING=a=1&b=2",
                            "CONTENT_TYPE=application/x-www-form-urlencoded",
                            "CONTENT_LENGTH=11",
                            "SERVER_NAME=example.org",
                            "SERVER_PORT=443",
                            "SERVER_PROTOCOL=HTTP/1.1",
                            "HTTPS=on",
                            "REMOTE_ADDR=10.0.0.7",
                            "HTTP_HOST=example.org",
                            "HTTP_USER_AGENT=leak-check/1.0",
                            "HTTP_ACCEPT=*/*",
                            "HTTP_COOKIE=session=abc",
                            "HTTP_X_UNKNOWN_HEADER=value",
                            NULL};

    for (int i = 0; i < n; i++) {
        mem_request_t m;

        mem_request_init(&m, params, "name=widget", 11);
        assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
        assert_string_equal(fx_body(&m), "POST /items/42 11 leak-check/1.0\n");
        mem_request_free(&m);
    }
}

static void
test_no_leak_over_many_requests(void **state)
{
    long before;
    long after;

    (void)state;
    run_typical(200); /* warm up caches */
    before = allocated_blocks();
    run_typical(2000);
    after = allocated_blocks();
    if (before == 0) {
        skip(); /* PYTHONMALLOC=malloc: Python does not count blocks */
    }
    if (after - before > 50) {
        fprintf(stderr, "allocated blocks: %ld before, %ld after\n", before,
                after);
        fail_msg("Python blocks grew over 2000 requests");
    }
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup(test_small_body_one_write, fx_test_setup),
        cmocka_unit_test_setup(test_list_body_one_go, fx_test_setup),
        cmocka_unit_test_setup(test_generator_flushes_each_chunk,
                               fx_test_setup),
        cmocka_unit_test_setup(test_empty_body_sends_headers_at_end,
                               fx_test_setup),
        cmocka_unit_test_setup(test_large_body, fx_test_setup),
        cmocka_unit_test_setup(test_file_wrapper, fx_test_setup),
        cmocka_unit_test_setup(test_client_gone, fx_test_setup),
        cmocka_unit_test_setup(test_metered_plain_responses, fx_test_setup),
        cmocka_unit_test_setup(test_metered_head, fx_test_setup),
        cmocka_unit_test_setup(test_metered_streamed, fx_test_setup),
        cmocka_unit_test_setup(test_metered_file_wrapper, fx_test_setup),
        cmocka_unit_test_setup(test_metered_500, fx_test_setup),
        cmocka_unit_test_setup(test_nowait_chunks, fx_test_setup),
        cmocka_unit_test_setup(test_list_backed_iterable_not_flushed,
                               fx_test_setup),
        cmocka_unit_test_setup(test_metered_buffered_and_nothing,
                               fx_test_setup),
        cmocka_unit_test_setup(test_threads, fx_test_setup),
        cmocka_unit_test_setup(test_no_leak_over_many_requests, fx_test_setup),
    };
    static const fx_table_t tables[] = {
        FX_TABLE(failure_cases, fx_test_case, fx_test_setup),
    };

    return fx_run_group("response", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), fx_group_setup, fx_group_teardown);
}
