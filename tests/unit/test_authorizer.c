/*
 * test_authorizer.c: the FastCGI Authorizer role through pyglue with the
 * in-memory gateway: what the application sees (FCGI_ROLE, no body, the
 * path of the request being authorized, resolved like a web server
 * resolves it), and that its answer goes out as it is (a 200 with
 * Variable-* headers, a denial with its own status, headers and body).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/py_fixture.h"

/* Runs params (NULL-ended) with body in the given role. */
static fw_pyglue_result_e
run_role(mem_request_t *m, fw_role_e role, const char *const *params,
         const char *body)
{
    mem_request_init(m, params, body, body != NULL ? strlen(body) : 0);
    m->req.role = role;
    return fx_handle(m);
}

/* What the application sees, as lighttpd and mod_fcgid ask. */
static void
test_environ(void **state)
{
    const char *params[] = {"TEST_APP=environ",
                            "FCGI_ROLE=AUTHORIZER",
                            "REQUEST_METHOD=POST",
                            "REQUEST_URI=/files/a%20b.txt?x=1",
                            "QUERY_STRING=x=1",
                            "CONTENT_LENGTH=5",
                            "CONTENT_TYPE=text/plain",
                            "HTTP_AUTHORIZATION=Bearer good",
                            NULL};
    mem_request_t m;

    (void)state;
    assert_int_equal(run_role(&m, FW_ROLE_AUTHORIZER, params, "hello"),
                     FW_PYGLUE_DONE);
    fx_assert_line(fx_body(&m), "FCGI_ROLE='AUTHORIZER'");
    fx_assert_line(fx_body(&m), "PATH_INFO='/files/a b.txt'");
    fx_assert_line(fx_body(&m), "SCRIPT_NAME=''");
    fx_assert_line(fx_body(&m), "REQUEST_URI='/files/a%20b.txt?x=1'");
    fx_assert_line(fx_body(&m), "QUERY_STRING='x=1'");
    fx_assert_line(fx_body(&m), "CONTENT_TYPE='text/plain'");
    fx_assert_line(fx_body(&m), "HTTP_AUTHORIZATION='Bearer good'");
    assert_null(strstr(fx_body(&m), "CONTENT_LENGTH"));
    assert_string_equal(mem_log_text(), "");
    mem_request_free(&m);
}

/* role = authorizer over a responder request (nginx auth_request): the
 * role and the path are the authorized request's, not the subrequest's. */
static void
test_forced_over_responder(void **state)
{
    const char *params[] = {"TEST_APP=environ", "FCGI_ROLE=RESPONDER",
                            "SCRIPT_NAME=/_auth",
                            "REQUEST_URI=/private/report.pdf", NULL};
    mem_request_t m;

    (void)state;
    run_role(&m, FW_ROLE_AUTHORIZER, params, NULL);
    fx_assert_line(fx_body(&m), "FCGI_ROLE='AUTHORIZER'");
    fx_assert_line(fx_body(&m), "PATH_INFO='/private/report.pdf'");
    fx_assert_line(fx_body(&m), "SCRIPT_NAME=''");
    mem_request_free(&m);
}

/* The body is the client's: the application never gets it. */
static void
test_no_body(void **state)
{
    const char *params[] = {"TEST_APP=input_ops", "QUERY_STRING=read()",
                            "REQUEST_URI=/upload", "CONTENT_LENGTH=5", NULL};
    mem_request_t m;

    (void)state;
    run_role(&m, FW_ROLE_AUTHORIZER, params, "hello");
    assert_string_equal(fx_body(&m), "b''\n");
    mem_request_free(&m);

    /* the same request as a responder reads it */
    run_role(&m, FW_ROLE_RESPONDER, params, "hello");
    assert_string_equal(fx_body(&m), "b'hello'\n");
    mem_request_free(&m);
}

typedef struct {
    const char *request_uri;
    const char *path_info;
} path_case_t;

/* REQUEST_URI -> PATH_INFO: decoded, "//" merged, dot segments resolved:
 * the application decides on the path the web server serves. */
static const path_case_t path_cases[] = {
    {"/a/b", "/a/b"},
    {"/a//b/", "/a/b/"},
    {"/a/./b/../c", "/a/c"},
    {"/../../etc/passwd", "/etc/passwd"},
    {"/public/..%2Fprivate/x", "/private/x"},
    {"/public/%2e%2e/private", "/private"},
    {"/x%2e%2e/y", "/x../y"},
    {"/a/.", "/a/"},
    {"/a/b/..", "/a/"},
    {"/..", "/"},
    {"/", "/"},
    {"/%7Euser/a+b", "/~user/a+b"},
    {"/bad%zz%4", "/bad%zz%4"},
    {"http://example.com/abs/path?q=1", "/abs/path"},
    {"https://example.com", "/"},
    {"*", "*"},
    {"", ""},
};

static void
test_path_resolution(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        char uri[256];
        char want[256];
        const char *params[] = {"TEST_APP=environ", uri, NULL};
        mem_request_t m;

        snprintf(uri, sizeof(uri), "REQUEST_URI=%s",
                 path_cases[i].request_uri);
        snprintf(want, sizeof(want), "PATH_INFO='%s'",
                 path_cases[i].path_info);
        run_role(&m, FW_ROLE_AUTHORIZER, params, NULL);
        fx_assert_line(fx_body(&m), want);
        mem_request_free(&m);
    }
}

/* REQUEST_URI is taken by its length: a NUL inside is part of the path,
 * and the query starts at the first '?' after it. */
static void
test_path_with_nul(void **state)
{
    static const char uri[] = "/a\0b/../c?x\0";
    static const fw_param_t pairs[] = {
        {"TEST_APP", 8, "environ", 7},
        {"REQUEST_URI", 11, uri, sizeof(uri) - 1},
    };
    mem_request_t m;

    (void)state;
    mem_request_init_pairs(&m, pairs, 2, NULL, 0);
    m.req.role = FW_ROLE_AUTHORIZER;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    fx_assert_line(fx_body(&m), "PATH_INFO='/c'");
    fx_assert_line(fx_body(&m), "REQUEST_URI='/a\\x00b/../c?x\\x00'");
    mem_request_free(&m);
}

/* Without REQUEST_URI, the paths sent are used as a responder's are. */
static void
test_no_request_uri(void **state)
{
    const char *params[] = {"TEST_APP=environ", "SCRIPT_NAME=/sent", NULL};
    mem_request_t m;

    (void)state;
    run_role(&m, FW_ROLE_AUTHORIZER, params, NULL);
    fx_assert_line(fx_body(&m), "PATH_INFO='/sent'");
    mem_request_free(&m);
}

/* With a mount, the path is split at it like any other. */
static void
test_mount(void **state)
{
    const char *params[] = {"TEST_APP=environ", "REQUEST_URI=/app/x/../y",
                            NULL};
    mem_request_t m;

    (void)state;
    fx_reconfigure("/app", 0, 1);
    run_role(&m, FW_ROLE_AUTHORIZER, params, NULL);
    fx_assert_line(fx_body(&m), "SCRIPT_NAME='/app'");
    fx_assert_line(fx_body(&m), "PATH_INFO='/y'");
    mem_request_free(&m);
    fx_reconfigure(NULL, 0, 1);
}

/* The application's answer goes out as it is: the web server reads the
 * Variable-* headers of a 200, and sends a denial to the client. */
static void
test_answers_as_they_are(void **state)
{
    const char *allow[] = {"TEST_APP=authorize", "REQUEST_URI=/doc",
                           "HTTP_AUTHORIZATION=Bearer good", NULL};
    const char *deny[] = {"TEST_APP=authorize", "REQUEST_URI=/doc",
                          "HTTP_AUTHORIZATION=Bearer bad", NULL};
    mem_request_t m;

    (void)state;
    assert_int_equal(run_role(&m, FW_ROLE_AUTHORIZER, allow, NULL),
                     FW_PYGLUE_DONE);
    assert_string_equal(m.out, "Status: 200 OK\r\n"
                               "Variable-AUTH_USER: alice\r\n"
                               "Variable-AUTH_PATH: /doc\r\n"
                               "\r\n");
    mem_request_free(&m);

    assert_int_equal(run_role(&m, FW_ROLE_AUTHORIZER, deny, NULL),
                     FW_PYGLUE_DONE);
    assert_string_equal(m.out, "Status: 403 Forbidden\r\n"
                               "Content-Type: text/plain\r\n"
                               "X-Denied: yes\r\n"
                               "\r\n"
                               "denied: /doc\n");
    assert_string_equal(mem_log_text(), "");
    mem_request_free(&m);
}

/* A responder request keeps FCGI_ROLE as sent and its own paths. */
static void
test_responder_untouched(void **state)
{
    const char *params[] = {"TEST_APP=environ", "FCGI_ROLE=RESPONDER",
                            "SCRIPT_NAME=/x",   "REQUEST_URI=/y",
                            "CONTENT_LENGTH=0", NULL};
    mem_request_t m;

    (void)state;
    run_role(&m, FW_ROLE_RESPONDER, params, NULL);
    fx_assert_line(fx_body(&m), "FCGI_ROLE='RESPONDER'");
    fx_assert_line(fx_body(&m), "PATH_INFO='/x'");
    fx_assert_line(fx_body(&m), "CONTENT_LENGTH='0'");
    mem_request_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_environ, fx_test_setup),
        cmocka_unit_test_setup(test_forced_over_responder, fx_test_setup),
        cmocka_unit_test_setup(test_no_body, fx_test_setup),
        cmocka_unit_test_setup(test_path_resolution, fx_test_setup),
        cmocka_unit_test_setup(test_path_with_nul, fx_test_setup),
        cmocka_unit_test_setup(test_no_request_uri, fx_test_setup),
        cmocka_unit_test_setup(test_mount, fx_test_setup),
        cmocka_unit_test_setup(test_answers_as_they_are, fx_test_setup),
        cmocka_unit_test_setup(test_responder_untouched, fx_test_setup),
    };

    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
