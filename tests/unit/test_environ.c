/*
 * test_environ.c: the WSGI environ as an application sees it, driven
 * through fw_pyglue_handle with in-memory requests.  The "environ" app of
 * unit_apps.py prints KEY=repr(value) per line.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/py_fixture.h"

/*
 * Runs the environ app with params (NULL-terminated) and returns its body
 * in a malloc'd string.
 */
static char *
environ_of(const char *const *params)
{
    mem_request_t m;
    char *body;

    assert_int_equal(fx_run(&m, params, NULL, 0), FW_PYGLUE_DONE);
    body = strdup(fx_body(&m));
    assert_non_null(body);
    mem_request_free(&m);
    return body;
}

/* The fields of a pair from two string literals, NULs inside included. */
#define PAIR(name, value) name, sizeof(name) - 1, value, sizeof(value) - 1

/*
 * Runs the request of npairs explicit pairs with body and input_terminated
 * as given and returns its response body in a malloc'd string; fails the
 * test unless the app answered 200.
 */
static char *
run_pairs(const fw_param_t *pairs, size_t npairs, const char *body,
          size_t body_len, int input_terminated)
{
    mem_request_t m;
    char *out;

    mem_request_init_pairs(&m, pairs, npairs, body, body_len);
    m.req.input_terminated = input_terminated;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    if (strncmp(m.out, "Status: 200 OK\r\n", 16) != 0) {
        fprintf(stderr, "response:\n%s\nlog:\n%s\n", m.out, mem_log_text());
        fail_msg("the app failed");
    }
    out = strdup(fx_body(&m));
    assert_non_null(out);
    mem_request_free(&m);
    return out;
}

/* PEP 3333: bytes become str code points one for one (latin-1). */
static void
test_latin1_decoding(void **state)
{
    const char *params[] = {"TEST_APP=environ",
                            "SCRIPT_NAME=/app",
                            "PATH_INFO=/caf\xc3\xa9/\xff",
                            "QUERY_STRING=q=\xe2\x82\xac",
                            "HTTP_COOKIE=k=\x01v",
                            NULL};
    char *body = environ_of(params);

    (void)state;
    fx_assert_line(body, "SCRIPT_NAME='/app'");
    fx_assert_line(body, "PATH_INFO='/caf\xc3\x83\xc2\xa9/\xc3\xbf'");
    fx_assert_line(body, "QUERY_STRING='q=\xc3\xa2\\x82\xc2\xac'");
    fx_assert_line(body, "HTTP_COOKIE='k=\\x01v'");
    free(body);
}

static void
test_defaults_when_missing(void **state)
{
    const char *params[] = {"TEST_APP=environ", NULL};
    char *body = environ_of(params);

    (void)state;
    fx_assert_line(body, "REQUEST_METHOD='GET'");
    fx_assert_line(body, "SCRIPT_NAME=''");
    fx_assert_line(body, "PATH_INFO=''");
    fx_assert_line(body, "QUERY_STRING=''");
    fx_assert_line(body, "SERVER_NAME='localhost'");
    fx_assert_line(body, "SERVER_PORT='80'");
    fx_assert_line(body, "SERVER_PROTOCOL='HTTP/1.0'");
    fx_assert_line(body, "wsgi.url_scheme='http'");
    assert_null(strstr(body, "CONTENT_LENGTH"));
    assert_null(strstr(body, "CONTENT_TYPE"));
    free(body);
}

static void
test_param_splitting(void **state)
{
    const char *params[] = {"TEST_APP=environ",
                            "QUERY_STRING=a=b=c",
                            "=no name",
                            "EMPTY=",
                            "wsgi.url_scheme=https",
                            "wsgi.input=spoofed",
                            "X_DUP=first",
                            "X_DUP=second",
                            "CONTENT_TYPE=text/plain",
                            "HTTP_CONTENT_TYPE=text/plain",
                            "HTTP_CONTENT_LENGTH=0",
                            NULL};
    char *body = environ_of(params);

    (void)state;
    fx_assert_line(body, "QUERY_STRING='a=b=c'");
    fx_assert_line(body, "EMPTY=''");
    fx_assert_line(body, "X_DUP='second'");
    fx_assert_line(body, "wsgi.url_scheme='http'");
    fx_assert_line(body, "wsgi.input=<Input>");
    assert_null(strstr(body, "no name"));
    fx_assert_line(body, "CONTENT_TYPE='text/plain'");
    assert_null(strstr(body, "HTTP_CONTENT_"));
    free(body);
}

static void
test_url_scheme(void **state)
{
    static const struct {
        const char *param;
        const char *scheme;
        const char *port;
    } cases[] = {
        {"HTTPS=on", "https", "443"},
        {"HTTPS=ON", "https", "443"},
        {"HTTPS=1", "https", "443"},
        {"HTTPS=off", "http", "80"},
        {"HTTPS=", "http", "80"},
        {"REQUEST_SCHEME=https", "https", "443"},
        {"REQUEST_SCHEME=HTTPS", "https", "443"},
        {"REQUEST_SCHEME=http", "http", "80"},
        {"X_NOTHING=1", "http", "80"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *params[] = {"TEST_APP=environ", cases[i].param, NULL};
        const char *with_port[] = {"TEST_APP=environ", cases[i].param,
                                   "SERVER_PORT=8443", NULL};
        char line[64];
        char *body = environ_of(params);

        snprintf(line, sizeof(line), "wsgi.url_scheme='%s'", cases[i].scheme);
        fx_assert_line(body, line);
        snprintf(line, sizeof(line), "SERVER_PORT='%s'", cases[i].port);
        fx_assert_line(body, line);
        free(body);

        /* a port the server sent is never replaced */
        body = environ_of(with_port);
        fx_assert_line(body, "SERVER_PORT='8443'");
        free(body);
    }
}

/* ---- SCRIPT_NAME and PATH_INFO, with and without a mount ---- */

typedef struct {
    const char *name;
    const char *mount;       /* the server's mount; NULL: none */
    const char *script_name; /* NULL: not sent */
    const char *path_info;   /* NULL: not sent */
    const char *want_script_name;
    const char *want_path_info;
} path_case_t;

static const path_case_t path_cases[] = {
    /* nginx's stock fastcgi_params: the whole path as SCRIPT_NAME */
    {"no mount: the path as SCRIPT_NAME", NULL, "/shop/cart", NULL, "",
     "/shop/cart"},
    {"no mount: an empty PATH_INFO", NULL, "/shop/cart", "", "", "/shop/cart"},
    {"no mount: /", NULL, "/", "", "", "/"},
    /* a server that splits already is left alone */
    {"no mount: split by the server", NULL, "/app", "/x", "/app", "/x"},
    {"no mount: PATH_INFO alone", NULL, "", "/x", "", "/x"},
    {"no mount: no SCRIPT_NAME", NULL, NULL, "/x", "", "/x"},
    {"no mount: neither", NULL, NULL, NULL, "", ""},
    /* a trailing '/' of the mount is ignored */
    {"mount: below it", "/app/", "/app/x/y", NULL, "/app", "/x/y"},
    {"mount: an empty PATH_INFO", "/app/", "/app/x/y", "", "/app", "/x/y"},
    {"mount: the mount itself", "/app/", "/app", NULL, "/app", ""},
    {"mount: the mount and /", "/app/", "/app/", NULL, "/app", "/"},
    {"mount: split by the server", "/app/", "/app", "/x", "/app", "/x"},
    {"mount: PATH_INFO alone", "/app/", "", "/app/z", "/app", "/z"},
    {"mount: a longer name", "/app/", "/application", NULL, "",
     "/application"},
    {"mount: elsewhere", "/app/", "/other/app", NULL, "", "/other/app"},
    {"mount: /", "/app/", "/", NULL, "", "/"},
    {"mount: neither", "/app/", NULL, NULL, "", ""},
    /* a mount of / is no mount */
    {"mount /: the path as SCRIPT_NAME", "/", "/x/y", NULL, "", "/x/y"},
    {"mount /: split by the server", "/", "/app", "/x", "/app", "/x"},
};

/* One path case: the server configured with its mount (each row sets its
 * own), the environ app's SCRIPT_NAME and PATH_INFO. */
static void
test_path_case(void **state)
{
    const path_case_t *tc = *state;
    char sn[256];
    char pi[256];
    const char *params[4] = {"TEST_APP=environ", NULL, NULL, NULL};
    size_t k = 1;
    char *body;

    fx_reconfigure(tc->mount, 0, 1);
    if (tc->script_name != NULL) {
        snprintf(sn, sizeof(sn), "SCRIPT_NAME=%s", tc->script_name);
        params[k++] = sn;
    }
    if (tc->path_info != NULL) {
        snprintf(pi, sizeof(pi), "PATH_INFO=%s", tc->path_info);
        params[k++] = pi;
    }
    body = environ_of(params);
    fx_reconfigure(NULL, 0, 1);
    snprintf(sn, sizeof(sn), "SCRIPT_NAME='%s'", tc->want_script_name);
    snprintf(pi, sizeof(pi), "PATH_INFO='%s'", tc->want_path_info);
    fx_assert_line(body, sn);
    fx_assert_line(body, pi);
    free(body);
}

static void
test_multithread_multiprocess(void **state)
{
    const char *params[] = {"TEST_APP=environ", NULL};
    char *body;

    (void)state;
    fx_reconfigure(NULL, 1, 0);
    body = environ_of(params);
    fx_assert_line(body, "wsgi.multithread=True");
    fx_assert_line(body, "wsgi.multiprocess=False");
    free(body);

    fx_reconfigure(NULL, 0, 1);
    body = environ_of(params);
    fx_assert_line(body, "wsgi.multithread=False");
    fx_assert_line(body, "wsgi.multiprocess=True");
    free(body);
}

/*
 * Runs the environ app with params and checks its environ: every line of
 * want (NULL-terminated) is there, and absent (if not NULL) nowhere.
 */
static void
check_environ(const char *const *params, const char *const *want,
              const char *absent)
{
    char *body = environ_of(params);

    for (size_t i = 0; want[i] != NULL; i++) {
        fx_assert_line(body, want[i]);
    }
    if (absent != NULL && strstr(body, absent) != NULL) {
        fail_msg("%s should not be in the environ:\n%s", absent, body);
    }
    free(body);
}

/* Each request gets a fresh dict: what one app stores is not seen next. */
static void
test_environ_is_per_request(void **state)
{
    (void)state;
    check_environ((const char *[]){"TEST_APP=environ", "X_ONLY_FIRST=1", NULL},
                  (const char *[]){"X_ONLY_FIRST='1'", NULL}, NULL);
    check_environ((const char *[]){"TEST_APP=environ", NULL},
                  (const char *[]){NULL}, "X_ONLY_FIRST");
}

/*
 * Requests one after the other whose params differ at the same positions
 * (environ_cache.c keeps the objects of the last request's, by
 * position): each environ holds its own request's params and nothing of
 * the one before, whatever changed: a value of the same length, a name
 * (of another length, of the same), the count, a value past the cache's
 * 240 bytes, params past its 64 places and past the 128 entries the
 * template grows to (environ.c).
 */
/* Params in the last requests of that test: past the cache's 64 places,
 * and with the template's entries past the 128 it grows to (the
 * in-memory request holds 128 params). */
#define MANY_PARAMS 126

static void
test_params_change_between_requests(void **state)
{
    char long_a[301], long_b[301], want_a[400], want_b[400];
    const char *many[MANY_PARAMS + 2];
    char many_text[MANY_PARAMS][32];

    (void)state;
    check_environ(
        (const char *[]){"TEST_APP=environ_keep",
                         "HTTP_AUTHORIZATION=Basic b3BlbjpzZXNhbWU=",
                         "HTTP_X=1", "REQUEST_METHOD=GET", NULL},
        (const char *[]){"HTTP_AUTHORIZATION='Basic b3BlbjpzZXNhbWU='", NULL},
        NULL);
    /* position 1 now holds another name: the first one is gone */
    check_environ((const char *[]){"TEST_APP=environ_keep", "HTTP_X=1",
                                   "REQUEST_METHOD=PUT", NULL},
                  (const char *[]){"HTTP_X='1'", "REQUEST_METHOD='PUT'", NULL},
                  "HTTP_AUTHORIZATION");
    check_environ((const char *[]){"TEST_APP=environ_keep", "HTTP_X=2",
                                   "REQUEST_METHOD=PUT", NULL},
                  (const char *[]){"HTTP_X='2'", "REQUEST_METHOD='PUT'", NULL},
                  NULL);
    /* the same bytes give the same object; other bytes, another */
    fx_assert_eval("KEPT['environs'][2]['REQUEST_METHOD'] is "
                   "KEPT['environs'][1]['REQUEST_METHOD']",
                   "True");
    fx_assert_eval("KEPT['environs'][2]['HTTP_X'] is "
                   "KEPT['environs'][1]['HTTP_X']",
                   "False");
    /* another name of the same length, with the same value */
    check_environ((const char *[]){"TEST_APP=environ_keep", "HTTP_Y=2",
                                   "REQUEST_METHOD=PUT", NULL},
                  (const char *[]){"HTTP_Y='2'", NULL}, "HTTP_X");
    check_environ((const char *[]){"TEST_APP=environ_keep", NULL},
                  (const char *[]){"REQUEST_METHOD='GET'", NULL}, "HTTP_");

    /* values too long to be kept: each request's own */
    snprintf(long_a, sizeof(long_a), "HTTP_LONG=%0290d", 1);
    snprintf(long_b, sizeof(long_b), "HTTP_LONG=%0290d", 2);
    snprintf(want_a, sizeof(want_a), "HTTP_LONG='%0290d'", 1);
    snprintf(want_b, sizeof(want_b), "HTTP_LONG='%0290d'", 2);
    check_environ((const char *[]){"TEST_APP=environ", long_a, NULL},
                  (const char *[]){want_a, NULL}, NULL);
    check_environ((const char *[]){"TEST_APP=environ", long_b, NULL},
                  (const char *[]){want_b, NULL}, NULL);

    /* more params than the cache has places for, then fewer */
    many[0] = "TEST_APP=environ";
    for (int i = 0; i < MANY_PARAMS; i++) {
        snprintf(many_text[i], sizeof(many_text[i]), "X_%02d=%d", i, i);
        many[i + 1] = many_text[i];
    }
    many[MANY_PARAMS + 1] = NULL;
    check_environ(
        many, (const char *[]){"X_00='0'", "X_70='70'", "X_125='125'", NULL},
        NULL);
    snprintf(many_text[70], sizeof(many_text[70]), "X_70=%d", 700);
    check_environ(many, (const char *[]){"X_70='700'", "X_125='125'", NULL},
                  NULL);
    check_environ((const char *[]){"TEST_APP=environ", NULL},
                  (const char *[]){NULL}, "X_");
}

/* A value is its bytes: a NUL inside arrives, with what follows it. */
static void
test_value_with_nul(void **state)
{
    static const fw_param_t pairs[] = {
        {PAIR("TEST_APP", "environ")},   {PAIR("HTTP_X_NUL", "a\0b=c")},
        {PAIR("QUERY_STRING", "q=1\0")}, {PAIR("PATH_INFO", "/x\0y")},
        {PAIR("HTTPS", "on\0x")},        {PAIR("REQUEST_SCHEME", "https\0")},
    };
    char *body = run_pairs(pairs, sizeof(pairs) / sizeof(pairs[0]), "", 0, 1);

    (void)state;
    fx_assert_line(body, "HTTP_X_NUL='a\\x00b=c'");
    fx_assert_line(body, "QUERY_STRING='q=1\\x00'");
    fx_assert_line(body, "PATH_INFO='/x\\x00y'");
    /* neither "on\0x" nor "https\0" asks for https */
    fx_assert_line(body, "wsgi.url_scheme='http'");
    fx_assert_line(body, "SERVER_PORT='80'");
    free(body);
}

/* A name holding '=' is one key: nothing splits it again. */
static void
test_name_with_equals(void **state)
{
    static const fw_param_t pairs[] = {
        {PAIR("TEST_APP", "environ")},
        {PAIR("X_A=B", "v=w")},
        {PAIR("=X", "lead")},
    };
    char *body = run_pairs(pairs, sizeof(pairs) / sizeof(pairs[0]), "", 0, 1);

    (void)state;
    fx_assert_line(body, "X_A=B='v=w'");
    fx_assert_line(body, "=X='lead'");
    assert_null(strstr(body, "X_A='"));
    free(body);
}

/* CONTENT_LENGTH "12\0x" is not 12: wsgi.input reads the whole body. */
static void
test_content_length_with_nul(void **state)
{
    static const fw_param_t pairs[] = {
        {PAIR("TEST_APP", "input_ops")},
        {PAIR("QUERY_STRING", "read()")},
        {PAIR("CONTENT_LENGTH", "12\0x")},
    };
    static const fw_param_t valid[] = {
        {PAIR("TEST_APP", "input_ops")},
        {PAIR("QUERY_STRING", "read()")},
        {PAIR("CONTENT_LENGTH", "12")},
    };
    static const char body[] = "0123456789abcdefghij";
    char *out;

    (void)state;
    out = run_pairs(pairs, 3, body, 20, 1);
    assert_string_equal(out, "b'0123456789abcdefghij'\n");
    free(out);
    out = run_pairs(valid, 3, body, 20, 1);
    assert_string_equal(out, "b'0123456789ab'\n");
    free(out);
}

/* wsgi.input_terminated says what the gateway said. */
static void
test_input_terminated_flag(void **state)
{
    static const fw_param_t pairs[] = {{PAIR("TEST_APP", "environ")}};
    char *body;

    (void)state;
    body = run_pairs(pairs, 1, "", 0, 1);
    fx_assert_line(body, "wsgi.input_terminated=True");
    free(body);
    body = run_pairs(pairs, 1, "", 0, 0);
    fx_assert_line(body, "wsgi.input_terminated=False");
    free(body);
    /* the template is not changed by a request that said False */
    body = run_pairs(pairs, 1, "", 0, 1);
    fx_assert_line(body, "wsgi.input_terminated=True");
    free(body);
}

/*
 * A body sent without CONTENT_LENGTH through a gateway whose read() ends at
 * the true end of the body: read() returns all of it, over several
 * gateway reads.
 */
static void
test_terminated_body_without_length(void **state)
{
    const char *params[] = {"TEST_APP=input_ops", "QUERY_STRING=read();read()",
                            NULL};
    mem_request_t m;

    (void)state;
    mem_request_init(&m, params, "hello, terminated world", 23);
    assert_int_equal(m.req.input_terminated, 1); /* the default */
    m.read_chunk = 5;
    assert_int_equal(fx_handle(&m), FW_PYGLUE_DONE);
    assert_string_equal(fx_body(&m), "b'hello, terminated world'\nb''\n");
    assert_int_equal(m.body_pos, 23);
    assert_true(m.read_calls > 5);
    mem_request_free(&m);
}

/* ---- whole responses and logs ---- */

static const fx_case_t request_cases[] = {
    {.name = "the full environ",
     .params = {"TEST_APP=environ", "REQUEST_METHOD=GET",
                "SCRIPT_NAME=/caf\xc3\xa9",
                "PATH_INFO=", "QUERY_STRING=a=1&b=2",
                "CONTENT_TYPE=", "CONTENT_LENGTH=", "SERVER_NAME=example.org",
                "SERVER_PORT=8080", "SERVER_PROTOCOL=HTTP/1.1",
                "REMOTE_ADDR=127.0.0.1", "HTTP_HOST=example.org:8080",
                "HTTP_X_CUSTOM=h\xc3\xa9"},
     .want = {.out = "Status: 200 OK\r\n"
                     "Content-Type: text/plain\r\n"
                     "\r\n"
                     "CONTENT_LENGTH=''\n"
                     "CONTENT_TYPE=''\n"
                     "HTTP_HOST='example.org:8080'\n"
                     "HTTP_X_CUSTOM='h\xc3\x83\xc2\xa9'\n"
                     "PATH_INFO='/caf\xc3\x83\xc2\xa9'\n"
                     "QUERY_STRING='a=1&b=2'\n"
                     "REMOTE_ADDR='127.0.0.1'\n"
                     "REQUEST_METHOD='GET'\n"
                     "SCRIPT_NAME=''\n"
                     "SERVER_NAME='example.org'\n"
                     "SERVER_PORT='8080'\n"
                     "SERVER_PROTOCOL='HTTP/1.1'\n"
                     "TEST_APP='environ'\n"
                     "wsgi.errors=<ErrorStream>\n"
                     "wsgi.file_wrapper=<type>\n"
                     "wsgi.input=<Input>\n"
                     "wsgi.input_terminated=True\n"
                     "wsgi.multiprocess=True\n"
                     "wsgi.multithread=False\n"
                     "wsgi.run_once=False\n"
                     "wsgi.url_scheme='http'\n"
                     "wsgi.version=(1, 0)\n",
              .log = ""}},
    {.name = "wsgi.errors: lines",
     .params = {"TEST_APP=errors_stream"},
     .want = {.body = "logged\n",
              .log = "first line\n"
                     "second line\n"
                     "printed\n"
                     "a line in pieces\n"
                     "\n"
                     "flushed\n"
                     "from writelines\n"
                     "and a second line\n"}},
};

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup(test_latin1_decoding, fx_test_setup),
        cmocka_unit_test_setup(test_defaults_when_missing, fx_test_setup),
        cmocka_unit_test_setup(test_param_splitting, fx_test_setup),
        cmocka_unit_test_setup(test_url_scheme, fx_test_setup),
        cmocka_unit_test_setup(test_multithread_multiprocess, fx_test_setup),
        cmocka_unit_test_setup(test_environ_is_per_request, fx_test_setup),
        cmocka_unit_test_setup(test_params_change_between_requests,
                               fx_test_setup),
        cmocka_unit_test_setup(test_value_with_nul, fx_test_setup),
        cmocka_unit_test_setup(test_name_with_equals, fx_test_setup),
        cmocka_unit_test_setup(test_content_length_with_nul, fx_test_setup),
        cmocka_unit_test_setup(test_input_terminated_flag, fx_test_setup),
        cmocka_unit_test_setup(test_terminated_body_without_length,
                               fx_test_setup),
    };
    static const fx_table_t tables[] = {
        FX_TABLE(request_cases, fx_test_case, fx_test_setup),
        FX_TABLE(path_cases, test_path_case, fx_test_setup),
    };

    return fx_run_group("environ", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), fx_group_setup, fx_group_teardown);
}
