/*
 * test_start_response.c: start_response's validation, its exc_info rules
 * and the legacy write() callable, as seen on the wire and in the log.
 * The "start_response_args" app of unit_apps.py calls start_response with
 * the Python literal in QUERY_STRING.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/py_fixture.h"

typedef struct {
    const char *args;  /* start_response's arguments, a Python literal */
    const char *error; /* the last line of the logged traceback */
} bad_case_t;

static void
check_bad_cases(const bad_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char query[256];
        char line[512];
        const char *params[] = {"TEST_APP=start_response_args",
                                "REQUEST_METHOD=POST", "SCRIPT_NAME=/sr",
                                query, NULL};
        mem_request_t m;

        mem_log_reset();
        snprintf(query, sizeof(query), "QUERY_STRING=%s", cases[i].args);
        snprintf(line, sizeof(line), "\n%s\n", cases[i].error);
        fx_expect(&m, fx_run(&m, params, NULL, 0),
                  &(fx_want_t){.out = fx_response_500,
                               .log_has = {"POST /sr: exception in the "
                                           "application\n"
                                           "Traceback (most recent call "
                                           "last):\n",
                                           "in start_response_args\n", line}});
        assert_int_equal(m.write_calls, 1);
        assert_int_equal(m.flush_calls, 1);
        mem_request_free(&m);
    }
    fx_assert_next_request_works();
}

static void
test_bad_status(void **state)
{
    static const bad_case_t cases[] = {
        {"(200, [])", "TypeError: start_response(): status must be a str "
                      "such as '200 OK', not int"},
        {"(b'200 OK', [])", "TypeError: start_response(): status must be a "
                            "str such as '200 OK', not bytes"},
        {"('200', [])", "ValueError: start_response(): status '200' must be "
                        "3 digits, a space and a reason phrase, such as "
                        "'200 OK'"},
        {"('200OK', [])", "ValueError: start_response(): status '200OK' "
                          "must be 3 digits, a space and a reason phrase, "
                          "such as '200 OK'"},
        {"('20 OK', [])", "ValueError: start_response(): status '20 OK' "
                          "must be 3 digits, a space and a reason phrase, "
                          "such as '200 OK'"},
        {"('200 ', [])", "ValueError: start_response(): status '200 ' must "
                         "be 3 digits, a space and a reason phrase, such as "
                         "'200 OK'"},
        {"('200  OK', [])", "ValueError: start_response(): status '200  OK' "
                            "must be 3 digits, a space and a reason phrase, "
                            "such as '200 OK'"},
        {"('abc OK', [])", "ValueError: start_response(): status 'abc OK' "
                           "must be 3 digits, a space and a reason phrase, "
                           "such as '200 OK'"},
        {"('OK 200', [])", "ValueError: start_response(): status 'OK 200' "
                           "must be 3 digits, a space and a reason phrase, "
                           "such as '200 OK'"},
        {"('200 OK\\r\\nX-Injected: 1', [])",
         "ValueError: start_response(): status '200 OK\\r\\nX-Injected: 1' "
         "contains a control character"},
        {"('200 \\u20ac', [])", "ValueError: start_response(): status "
                                "'200 \xe2\x82\xac' has characters outside "
                                "latin-1"},
    };

    (void)state;
    check_bad_cases(cases, FX_COUNT(cases));
}

static void
test_bad_headers(void **state)
{
    static const bad_case_t cases[] = {
        {"('200 OK', ())", "TypeError: start_response(): headers must be a "
                           "list of (name, value) tuples, not tuple"},
        {"('200 OK', None)", "TypeError: start_response(): headers must be "
                             "a list of (name, value) tuples, not NoneType"},
        {"('200 OK', [('A', 'b'), ('C', 'd', 'e')])",
         "TypeError: start_response(): headers[1] must be a (name, value) "
         "tuple of two str, not ('C', 'd', 'e')"},
        {"('200 OK', [['A', 'b']])",
         "TypeError: start_response(): headers[0] must be a (name, value) "
         "tuple of two str, not ['A', 'b']"},
        {"('200 OK', [(b'A', 'b')])",
         "TypeError: start_response(): header name b'A' must be a str"},
        {"('200 OK', [('X-A', 1)])",
         "TypeError: start_response(): header 'X-A': value must be a str, "
         "not int"},
        {"('200 OK', [('X-A', b'1')])",
         "TypeError: start_response(): header 'X-A': value must be a str, "
         "not bytes"},
        {"('200 OK', [('X A', 'b')])",
         "ValueError: start_response(): header name 'X A' is not a valid "
         "HTTP token (letters, digits and !#$%&'*+-.^_`|~ only; no ':' or "
         "whitespace)"},
        {"('200 OK', [('X-A:', 'b')])",
         "ValueError: start_response(): header name 'X-A:' is not a valid "
         "HTTP token (letters, digits and !#$%&'*+-.^_`|~ only; no ':' or "
         "whitespace)"},
        {"('200 OK', [('', 'b')])",
         "ValueError: start_response(): header name '' is not a valid HTTP "
         "token (letters, digits and !#$%&'*+-.^_`|~ only; no ':' or "
         "whitespace)"},
        {"('200 OK', [('Caf\\xe9', 'b')])",
         "ValueError: start_response(): header name 'Caf\xc3\xa9' is not a "
         "valid HTTP token (letters, digits and !#$%&'*+-.^_`|~ only; no "
         "':' or whitespace)"},
        {"('200 OK', [('Connection', 'close')])",
         "ValueError: start_response(): 'Connection' is a hop-by-hop "
         "header, which a WSGI application must not send"},
        {"('200 OK', [('transfer-encoding', 'chunked')])",
         "ValueError: start_response(): 'transfer-encoding' is a hop-by-hop "
         "header, which a WSGI application must not send"},
        {"('200 OK', [('Keep-Alive', 'timeout=5')])",
         "ValueError: start_response(): 'Keep-Alive' is a hop-by-hop "
         "header, which a WSGI application must not send"},
        {"('200 OK', [('Upgrade', 'h2c')])",
         "ValueError: start_response(): 'Upgrade' is a hop-by-hop header, "
         "which a WSGI application must not send"},
        {"('200 OK', [('Status', '404 Not Found')])",
         "ValueError: start_response(): a 'Status' header is not allowed; "
         "give the status as the first argument"},
        {"('200 OK', [('X-A', 'a\\r\\nSet-Cookie: x=1')])",
         "ValueError: start_response(): header 'X-A': value "
         "'a\\r\\nSet-Cookie: x=1' contains a CR, LF or NUL character"},
        {"('200 OK', [('X-A', 'a\\x00b')])",
         "ValueError: start_response(): header 'X-A': value 'a\\x00b' "
         "contains a CR, LF or NUL character"},
        {"('200 OK', [('X-A', '\\u20ac')])",
         "ValueError: start_response(): header 'X-A': value "
         "'\xe2\x82\xac' has characters outside latin-1"},
    };

    (void)state;
    check_bad_cases(cases, FX_COUNT(cases));
}

static void
test_bad_call(void **state)
{
    static const bad_case_t cases[] = {
        {"('200 OK',)", "TypeError: start_response() needs a status and a "
                        "list of headers"},
        {"('200 OK', [], None, 1)", "TypeError: start_response() takes at "
                                    "most 3 arguments (4 given)"},
        {"('200 OK', [], 'not exc_info')",
         "TypeError: start_response(): exc_info must be a (type, value, "
         "traceback) tuple or None"},
    };

    (void)state;
    check_bad_cases(cases, FX_COUNT(cases));
}

/* write() sends the headers and its data at once, each flushed. */
static void
test_legacy_write(void **state)
{
    const char *params[] = {"TEST_APP=legacy_write", NULL};
    static const char head[] = "Status: 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n";
    mem_request_t m;

    (void)state;
    fx_expect(&m, fx_run(&m, params, NULL, 0),
              &(fx_want_t){.out = "Status: 200 OK\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "\r\n"
                                  "one two three",
                           .log = ""});
    assert_int_equal(m.write_calls, 3);
    /* each write() flushed; the returned list goes with the request's end */
    assert_int_equal(m.flush_calls, 2);
    assert_int_equal(m.out_len_at_flush[0], strlen(head) + 4);
    assert_int_equal(m.out_len_at_flush[1], strlen(head) + 8);
    mem_request_free(&m);
}

/* ---- requests and what they come to, each followed by a good one ---- */

static const fx_case_t request_cases[] = {
    {.name = "good headers on the wire",
     .params = {"TEST_APP=start_response_args",
                "QUERY_STRING=('404 Not Found', [('Content-Type', "
                "'text/html; charset=utf-8'), ('X-Latin', 'caf\\xe9'), "
                "('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), "
                "('x-odd_but.valid~!', '')], None)"},
     .want = {.out = "Status: 404 Not Found\r\n"
                     "Content-Type: text/html; charset=utf-8\r\n"
                     "X-Latin: caf\xe9\r\n"
                     "Set-Cookie: a=1\r\n"
                     "Set-Cookie: b=2\r\n"
                     "x-odd_but.valid~!: \r\n"
                     "\r\n"
                     "body",
              .log = ""}},
    {.name = "no headers",
     .params = {"TEST_APP=start_response_args", "QUERY_STRING=('200 OK', [])"},
     .want = {.out = "Status: 200 OK\r\n\r\nbody"}},
    /* exc_info before anything was sent replaces status and headers */
    {.name = "exc_info before the headers replaces them",
     .params = {"TEST_APP=exc_info_before"},
     .want = {.out = "Status: 500 Oops\r\n"
                     "Content-Type: text/plain\r\n"
                     "\r\n"
                     "oops",
              .log = ""}},
    /* exc_info after the headers went out re-raises: the response is cut */
    {.name = "exc_info after the headers re-raises",
     .params = {"TEST_APP=exc_info_after", "SCRIPT_NAME=/late"},
     .want = {.result = FW_PYGLUE_ABORT,
              .out = "Status: 200 OK\r\n"
                     "Content-Type: text/plain\r\n"
                     "\r\n"
                     "part",
              .log_has = {"GET /late: exception in the application\n"
                          "Traceback (most recent call last):\n",
                          "\nValueError: caught late\n"}}},
    {.name = "a second call without exc_info",
     .params = {"TEST_APP=twice", "SCRIPT_NAME=/twice"},
     .want = {.out = fx_response_500,
              .log_has = {"GET /twice: exception in the application\n",
                          "\nAssertionError: start_response() called a "
                          "second time without exc_info\n"}}},
    {.name = "write() needs bytes",
     .params = {"TEST_APP=write_str", "SCRIPT_NAME=/w"},
     .want = {.out = fx_response_500,
              .log_has = {"GET /w: exception in the application\n",
                          "\nTypeError: write() argument must be bytes, "
                          "not str\n"}}},
    {.name = "write() to a gone client",
     .params = {"TEST_APP=legacy_write", "SCRIPT_NAME=/gone"},
     .client_gone = 1,
     .want = {.result = FW_PYGLUE_ABORT,
              .log = "GET /gone: client connection lost while sending the "
                     "response\n"}},
};

static void
test_kept_callables_after_request(void **state)
{
    const char *params[] = {"TEST_APP=write_keep", NULL};
    mem_request_t m;

    (void)state;
    fx_expect(&m, fx_run(&m, params, NULL, 0),
              &(fx_want_t){.out = "Status: 200 OK\r\n\r\nkept\n"});
    mem_request_free(&m);

    fx_assert_eval("KEPT['write'](b'late')",
                   "ValueError: write() used after its request ended");
    fx_assert_eval("KEPT['start_response']('200 OK', [])",
                   "ValueError: start_response() used after its request "
                   "ended");
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup(test_bad_status, fx_test_setup),
        cmocka_unit_test_setup(test_bad_headers, fx_test_setup),
        cmocka_unit_test_setup(test_bad_call, fx_test_setup),
        cmocka_unit_test_setup(test_legacy_write, fx_test_setup),
        cmocka_unit_test_setup(test_kept_callables_after_request,
                               fx_test_setup),
    };
    static const fx_table_t tables[] = {
        FX_TABLE(request_cases, fx_test_case, fx_test_setup),
    };

    return fx_run_group("start_response", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), fx_group_setup, fx_group_teardown);
}
