/*
 * test_status.c: the status page's renderers on a hand-filled snapshot
 * (plain, JSON and OpenMetrics, byte for byte), the request matching, the
 * ping and status answers through an in-memory request, the listen queue
 * as the kernel reports it (listen.c), and the scoreboard's figures (the
 * request-duration histogram, the status classes).  Runs in TZ=UTC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bridge/observe/observe.h"
#include "bridge/pool/pool.h"
#include "bridge/serve/serve.h"
#include "tests/unit/mem_gateway.h"

/* The histogram's bounds, as the scoreboard has them. */
#define BOUNDS                                                                \
    {                                                                         \
        5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,  \
            5000000, 10000000                                                 \
    }

/* Two workers of two threads: one serving a request whose URI holds a
 * quote, a control character and a byte that is not UTF-8; one idle with
 * its RSS unknown.  The pool name needs escaping too. */
static fw_status_thread_t threads_1[2] = {
    {1, "GET", "/slow?x=\"1\"\x01\xff", 1500000, 2000}, {0, "", "", 0, 0}};
static fw_status_thread_t threads_3[2] = {{0, "", "", 0, 7},
                                          {0, "", "", 0, 0}};
static fw_status_worker_t workers[2] = {
    {1, 101, "busy", 1700000000, 5, 2048, threads_1},
    {3, 103, "idle", 1700000050, 0, 0, threads_3}};
static const fw_status_snapshot_t snapshot = {
    .pool = "w\"w\\",
    .now = 1700000100,
    .start_time = 1700000000,
    .accepted = 42,
    .listen_queue = 2,
    .max_listen_queue = 5,
    .listen_queue_len = 128,
    .idle_workers = 1,
    .active_workers = 1,
    .total_workers = 2,
    .max_active_workers = 2,
    .max_children_reached = 1,
    .slow_requests = 3,
    .harakiri_kills = 4,
    .threads = 2,
    .nworkers = 2,
    .workers = workers,
    .bucket_le_us = BOUNDS,
    .buckets = {3, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2},
    .duration_sum_us = 25123456,
    .responses = {1, 0, 4, 0, 1, 1}};

static const char expected_plain[] =
    "pool:                  w\"w\\\n"
    "start time:            14/Nov/2023:22:13:20 +0000\n"
    "start since:           100\n"
    "accepted conn:         42\n"
    "listen queue:          2\n"
    "max listen queue:      5\n"
    "listen queue len:      128\n"
    "idle processes:        1\n"
    "active processes:      1\n"
    "total processes:       2\n"
    "max active processes:  2\n"
    "max children reached:  1\n"
    "slow requests:         3\n"
    "harakiri kills:        4\n"
    "threads per process:   2\n"
    "responses 1xx:         0\n"
    "responses 2xx:         4\n"
    "responses 3xx:         0\n"
    "responses 4xx:         1\n"
    "responses 5xx:         1\n"
    "responses other:       1\n"
    "\n"
    "************************\n"
    "worker:                1\n"
    "pid:                   101\n"
    "state:                 busy\n"
    "start time:            14/Nov/2023:22:13:20 +0000\n"
    "start since:           100\n"
    "requests:              5\n"
    "rss:                   2048 kB\n"
    "thread:                1: busy, GET /slow?x=\"1\"?? for 1500000 us, "
    "last request 2000 us\n"
    "thread:                2: idle, last request 0 us\n"
    "\n"
    "************************\n"
    "worker:                3\n"
    "pid:                   103\n"
    "state:                 idle\n"
    "start time:            14/Nov/2023:22:14:10 +0000\n"
    "start since:           50\n"
    "requests:              0\n"
    "rss:                   unknown\n"
    "thread:                1: idle, last request 7 us\n"
    "thread:                2: idle, last request 0 us\n";

static const char expected_json[] =
    "{\"pool\":\"w\\\"w\\\\\",\"start_time\":1700000000,"
    "\"start_since\":100,\"accepted_conn\":42,\"listen_queue\":2,"
    "\"max_listen_queue\":5,\"listen_queue_len\":128,"
    "\"idle_processes\":1,\"active_processes\":1,\"total_processes\":2,"
    "\"max_active_processes\":2,\"max_children_reached\":1,"
    "\"slow_requests\":3,\"harakiri_kills\":4,\"threads_per_process\":2,"
    "\"responses\":{\"1xx\":0,\"2xx\":4,\"3xx\":0,\"4xx\":1,\"5xx\":1,"
    "\"other\":1},\"request_seconds_count\":7,"
    "\"request_seconds_sum\":25.123456,\"request_seconds_buckets\":{"
    "\"0.005\":3,\"0.01\":4,\"0.025\":4,\"0.05\":4,\"0.1\":4,\"0.25\":4,"
    "\"0.5\":4,\"1.0\":5,\"2.5\":5,\"5.0\":5,\"10.0\":5,\"+Inf\":7},"
    "\"workers\":[{\"worker\":1,\"pid\":101,\"state\":\"busy\","
    "\"start_time\":1700000000,\"start_since\":100,\"requests\":5,"
    "\"rss_bytes\":2097152,\"threads\":[{\"thread\":1,\"state\":\"busy\","
    "\"request_method\":\"GET\","
    "\"request_uri\":\"/slow?x=\\\"1\\\"\\u0001\\ufffd\","
    "\"request_duration_us\":1500000,\"last_request_duration_us\":2000},"
    "{\"thread\":2,\"state\":\"idle\",\"request_method\":null,"
    "\"request_uri\":null,\"request_duration_us\":0,"
    "\"last_request_duration_us\":0}]},{\"worker\":3,\"pid\":103,"
    "\"state\":\"idle\",\"start_time\":1700000050,\"start_since\":50,"
    "\"requests\":0,\"rss_bytes\":null,\"threads\":[{\"thread\":1,"
    "\"state\":\"idle\",\"request_method\":null,\"request_uri\":null,"
    "\"request_duration_us\":0,\"last_request_duration_us\":7},"
    "{\"thread\":2,\"state\":\"idle\",\"request_method\":null,"
    "\"request_uri\":null,\"request_duration_us\":0,"
    "\"last_request_duration_us\":0}]}]}\n";

static const char expected_openmetrics[] =
    "# HELP fcgi_wsgi_start_time_seconds Unix time the pool started.\n"
    "# TYPE fcgi_wsgi_start_time_seconds gauge\n"
    "fcgi_wsgi_start_time_seconds{pool=\"w\\\"w\\\\\"} 1700000000\n"
    "# HELP fcgi_wsgi_accepted_connections Requests the pool began, statu"
    "s pages included.\n"
    "# TYPE fcgi_wsgi_accepted_connections counter\n"
    "fcgi_wsgi_accepted_connections_total{pool=\"w\\\"w\\\\\"} 42\n"
    "# HELP fcgi_wsgi_listen_queue Connections waiting to be accepted.\n"
    "# TYPE fcgi_wsgi_listen_queue gauge\n"
    "fcgi_wsgi_listen_queue{pool=\"w\\\"w\\\\\"} 2\n"
    "# HELP fcgi_wsgi_listen_queue_max Most connections seen waiting to b"
    "e accepted.\n"
    "# TYPE fcgi_wsgi_listen_queue_max gauge\n"
    "fcgi_wsgi_listen_queue_max{pool=\"w\\\"w\\\\\"} 5\n"
    "# HELP fcgi_wsgi_listen_queue_length Size of the listen queue (the b"
    "acklog).\n"
    "# TYPE fcgi_wsgi_listen_queue_length gauge\n"
    "fcgi_wsgi_listen_queue_length{pool=\"w\\\"w\\\\\"} 128\n"
    "# HELP fcgi_wsgi_idle_processes Workers with no request running.\n"
    "# TYPE fcgi_wsgi_idle_processes gauge\n"
    "fcgi_wsgi_idle_processes{pool=\"w\\\"w\\\\\"} 1\n"
    "# HELP fcgi_wsgi_active_processes Workers with a request running.\n"
    "# TYPE fcgi_wsgi_active_processes gauge\n"
    "fcgi_wsgi_active_processes{pool=\"w\\\"w\\\\\"} 1\n"
    "# HELP fcgi_wsgi_total_processes Workers alive.\n"
    "# TYPE fcgi_wsgi_total_processes gauge\n"
    "fcgi_wsgi_total_processes{pool=\"w\\\"w\\\\\"} 2\n"
    "# HELP fcgi_wsgi_max_active_processes Most workers with a request ru"
    "nning at once.\n"
    "# TYPE fcgi_wsgi_max_active_processes gauge\n"
    "fcgi_wsgi_max_active_processes{pool=\"w\\\"w\\\\\"} 2\n"
    "# HELP fcgi_wsgi_max_children_reached Times the pool needed more wor"
    "kers than max-children.\n"
    "# TYPE fcgi_wsgi_max_children_reached counter\n"
    "fcgi_wsgi_max_children_reached_total{pool=\"w\\\"w\\\\\"} 1\n"
    "# HELP fcgi_wsgi_slow_requests Requests that ran longer than slowlog"
    ".\n"
    "# TYPE fcgi_wsgi_slow_requests counter\n"
    "fcgi_wsgi_slow_requests_total{pool=\"w\\\"w\\\\\"} 3\n"
    "# HELP fcgi_wsgi_harakiri Workers killed because a request ran longe"
    "r than harakiri.\n"
    "# TYPE fcgi_wsgi_harakiri counter\n"
    "fcgi_wsgi_harakiri_total{pool=\"w\\\"w\\\\\"} 4\n"
    "# HELP fcgi_wsgi_request_seconds How long the application took to "
    "answer a request (status and ping pages not counted).\n"
    "# TYPE fcgi_wsgi_request_seconds histogram\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.005\"} 3\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.01\"} 4\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.025\"} 4\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.05\"} 4\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.1\"} 4\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.25\"} 4\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"0.5\"} 4\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"1.0\"} 5\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"2.5\"} 5\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"5.0\"} 5\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"10.0\"} 5\n"
    "fcgi_wsgi_request_seconds_bucket{pool=\"w\\\"w\\\\\",le=\"+Inf\"} 7\n"
    "fcgi_wsgi_request_seconds_count{pool=\"w\\\"w\\\\\"} 7\n"
    "fcgi_wsgi_request_seconds_sum{pool=\"w\\\"w\\\\\"} 25.123456\n"
    "# HELP fcgi_wsgi_responses Responses of the application by status "
    "class (other: none was sent).\n"
    "# TYPE fcgi_wsgi_responses counter\n"
    "fcgi_wsgi_responses_total{pool=\"w\\\"w\\\\\",code=\"1xx\"} 0\n"
    "fcgi_wsgi_responses_total{pool=\"w\\\"w\\\\\",code=\"2xx\"} 4\n"
    "fcgi_wsgi_responses_total{pool=\"w\\\"w\\\\\",code=\"3xx\"} 0\n"
    "fcgi_wsgi_responses_total{pool=\"w\\\"w\\\\\",code=\"4xx\"} 1\n"
    "fcgi_wsgi_responses_total{pool=\"w\\\"w\\\\\",code=\"5xx\"} 1\n"
    "fcgi_wsgi_responses_total{pool=\"w\\\"w\\\\\",code=\"other\"} 1\n"
    "# HELP fcgi_wsgi_worker_requests Requests a worker finished.\n"
    "# TYPE fcgi_wsgi_worker_requests counter\n"
    "fcgi_wsgi_worker_requests_total{pool=\"w\\\"w\\\\\",worker=\"1\",pid"
    "=\"101\"} 5\n"
    "fcgi_wsgi_worker_requests_total{pool=\"w\\\"w\\\\\",worker=\"3\",pid"
    "=\"103\"} 0\n"
    "# HELP fcgi_wsgi_worker_rss_bytes Resident memory of a worker.\n"
    "# TYPE fcgi_wsgi_worker_rss_bytes gauge\n"
    "fcgi_wsgi_worker_rss_bytes{pool=\"w\\\"w\\\\\",worker=\"1\",pid=\"10"
    "1\"} 2097152\n"
    "# HELP fcgi_wsgi_worker_busy_threads Threads of a worker running a r"
    "equest.\n"
    "# TYPE fcgi_wsgi_worker_busy_threads gauge\n"
    "fcgi_wsgi_worker_busy_threads{pool=\"w\\\"w\\\\\",worker=\"1\",pid="
    "\"101\"} 1\n"
    "fcgi_wsgi_worker_busy_threads{pool=\"w\\\"w\\\\\",worker=\"3\",pid="
    "\"103\"} 0\n"
    "# HELP fcgi_wsgi_request_duration_seconds How long the running reque"
    "st has run; 0 when idle.\n"
    "# TYPE fcgi_wsgi_request_duration_seconds gauge\n"
    "fcgi_wsgi_request_duration_seconds{pool=\"w\\\"w\\\\\",worker=\"1\","
    "pid=\"101\",thread=\"1\"} 1.500000\n"
    "fcgi_wsgi_request_duration_seconds{pool=\"w\\\"w\\\\\",worker=\"1\","
    "pid=\"101\",thread=\"2\"} 0.000000\n"
    "fcgi_wsgi_request_duration_seconds{pool=\"w\\\"w\\\\\",worker=\"3\","
    "pid=\"103\",thread=\"1\"} 0.000000\n"
    "fcgi_wsgi_request_duration_seconds{pool=\"w\\\"w\\\\\",worker=\"3\","
    "pid=\"103\",thread=\"2\"} 0.000000\n"
    "# HELP fcgi_wsgi_last_request_duration_seconds How long the last fin"
    "ished request ran.\n"
    "# TYPE fcgi_wsgi_last_request_duration_seconds gauge\n"
    "fcgi_wsgi_last_request_duration_seconds{pool=\"w\\\"w\\\\\",worker="
    "\"1\",pid=\"101\",thread=\"1\"} 0.002000\n"
    "fcgi_wsgi_last_request_duration_seconds{pool=\"w\\\"w\\\\\",worker="
    "\"1\",pid=\"101\",thread=\"2\"} 0.000000\n"
    "fcgi_wsgi_last_request_duration_seconds{pool=\"w\\\"w\\\\\",worker="
    "\"3\",pid=\"103\",thread=\"1\"} 0.000007\n"
    "fcgi_wsgi_last_request_duration_seconds{pool=\"w\\\"w\\\\\",worker="
    "\"3\",pid=\"103\",thread=\"2\"} 0.000000\n"
    "# EOF\n";

/* Renders in fmt; the caller frees. */
static char *
render(const fw_status_snapshot_t *s, fw_status_format_e fmt)
{
    fw_status_buf_t b = {0};

    assert_int_equal(fw_status_render(s, fmt, &b), 0);
    assert_non_null(b.data);
    return b.data;
}

static void
test_plain_exact(void **state)
{
    char *text = render(&snapshot, FW_STATUS_PLAIN);

    (void)state;
    assert_string_equal(text, expected_plain);
    free(text);
}

static void
test_json_exact(void **state)
{
    char *text = render(&snapshot, FW_STATUS_JSON);

    (void)state;
    assert_string_equal(text, expected_json);
    free(text);
}

static void
test_openmetrics_exact(void **state)
{
    char *text = render(&snapshot, FW_STATUS_OPENMETRICS);

    (void)state;
    assert_string_equal(text, expected_openmetrics);
    free(text);
}

/* A queue the kernel does not report: "unknown", null, no sample. */
static void
test_unknown_listen_queue(void **state)
{
    fw_status_snapshot_t s = snapshot;
    char *text;

    (void)state;
    s.listen_queue = s.max_listen_queue = s.listen_queue_len = -1;
    text = render(&s, FW_STATUS_PLAIN);
    assert_non_null(strstr(text, "\nlisten queue:          unknown\n"
                                 "max listen queue:      unknown\n"
                                 "listen queue len:      unknown\n"));
    free(text);
    text = render(&s, FW_STATUS_JSON);
    assert_non_null(strstr(text, ",\"listen_queue\":null,"
                                 "\"max_listen_queue\":null,"
                                 "\"listen_queue_len\":null,"));
    free(text);
    text = render(&s, FW_STATUS_OPENMETRICS);
    assert_null(strstr(text, "listen_queue"));
    free(text);
}

/* fw_status_format_of on a string literal, NULs inside included. */
#define FORMAT_OF(lit) fw_status_format_of(lit, sizeof(lit) - 1)

static void
test_format_of_query(void **state)
{
    (void)state;
    assert_int_equal(fw_status_format_of(NULL, 0), FW_STATUS_PLAIN);
    assert_int_equal(FORMAT_OF(""), FW_STATUS_PLAIN);
    assert_int_equal(FORMAT_OF("json"), FW_STATUS_JSON);
    assert_int_equal(FORMAT_OF("full&json"), FW_STATUS_JSON);
    assert_int_equal(FORMAT_OF("json=1"), FW_STATUS_JSON);
    assert_int_equal(FORMAT_OF("&&json&"), FW_STATUS_JSON);
    assert_int_equal(FORMAT_OF("jsonx"), FW_STATUS_PLAIN);
    assert_int_equal(FORMAT_OF("x=json"), FW_STATUS_PLAIN);
    assert_int_equal(FORMAT_OF("openmetrics"), FW_STATUS_OPENMETRICS);
    /* the query is its bytes: a NUL neither ends it nor matches */
    assert_int_equal(FORMAT_OF("x\0&json"), FW_STATUS_JSON);
    assert_int_equal(FORMAT_OF("json\0"), FW_STATUS_PLAIN);
    assert_int_equal(fw_status_format_of("jsonx", 4), FW_STATUS_JSON);
    assert_string_equal(fw_status_content_type(FW_STATUS_OPENMETRICS),
                        "application/openmetrics-text; version=1.0.0; "
                        "charset=utf-8");
}

/* fw_status_wants for a request of NULL-terminated "NAME=VALUE" params. */
static int
wants(const char *const *params)
{
    mem_request_t m;
    int yes;

    mem_request_init(&m, params, NULL, 0);
    yes = fw_status_wants(&m.req);
    mem_request_free(&m);
    return yes;
}

/* fw_status_wants for a request of one param, given by its bytes. */
static int
wants_pair(const char *name, const char *value, size_t value_len)
{
    const fw_param_t pair = {name, strlen(name), value, value_len};
    mem_request_t m;
    int yes;

    mem_request_init_pairs(&m, &pair, 1, NULL, 0);
    yes = fw_status_wants(&m.req);
    mem_request_free(&m);
    return yes;
}

/* The path is SCRIPT_NAME+PATH_INFO, else DOCUMENT_URI, else REQUEST_URI
 * without its query. */
static void
test_wants_paths(void **state)
{
    const char *nginx[] = {"SCRIPT_NAME=/fcgi-status", "REQUEST_URI=/x", NULL};
    const char *split[] = {"SCRIPT_NAME=/fcgi", "PATH_INFO=-status", NULL};
    const char *info[] = {"SCRIPT_NAME=", "PATH_INFO=/ping", NULL};
    const char *only_info[] = {"PATH_INFO=/ping", NULL};
    const char *doc[] = {"DOCUMENT_URI=/ping", "REQUEST_URI=/ping?x", NULL};
    const char *uri[] = {"REQUEST_URI=/fcgi-status?json", NULL};
    const char *bare_uri[] = {"REQUEST_URI=/ping", NULL};
    const char *deeper[] = {"SCRIPT_NAME=/fcgi-status/x", NULL};
    const char *prefix[] = {"SCRIPT_NAME=/pin", NULL};
    const char *uri_prefix[] = {"REQUEST_URI=/pin", NULL};
    const char *uri_longer[] = {"REQUEST_URI=/pingx", NULL};
    const char *other[] = {"SCRIPT_NAME=/", "PATH_INFO=/fcgi-status", NULL};
    const char *none[] = {NULL};

    (void)state;
    fw_status_configure(NULL, NULL, NULL, NULL, -1);
    assert_false(wants(nginx));
    fw_status_configure("/fcgi-status", "/ping", NULL, NULL, -1);
    assert_true(wants(nginx));
    assert_true(wants(split));
    assert_true(wants(info));
    assert_true(wants(only_info));
    assert_true(wants(doc));
    assert_true(wants(uri));
    assert_true(wants(bare_uri));
    assert_false(wants(deeper));
    assert_false(wants(prefix));
    assert_false(wants(uri_prefix));
    assert_false(wants(uri_longer));
    assert_false(wants(other));
    assert_false(wants(none));

    /* values are compared by their length: a NUL inside never matches */
    assert_true(wants_pair("SCRIPT_NAME", "/ping", 5));
    assert_false(wants_pair("SCRIPT_NAME", "/ping\0x", 7));
    assert_false(wants_pair("DOCUMENT_URI", "/ping\0", 6));
    assert_false(wants_pair("REQUEST_URI", "/ping\0?x", 8));
    assert_true(wants_pair("REQUEST_URI", "/ping?\0", 7));
}

static void
test_ping_answered(void **state)
{
    static const char *const params[] = {
        "REQUEST_METHOD=GET", "SCRIPT_NAME=/ping", "QUERY_STRING=", NULL};
    mem_request_t m;

    (void)state;
    fw_status_configure("/fcgi-status", "/ping", "pong!", NULL, -1);
    mem_request_init(&m, params, "ignored body", 12);
    assert_int_equal(fw_status_serve(&m.req), FW_PYGLUE_DONE);
    assert_string_equal(m.out, "Status: 200 OK\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 5\r\n"
                               "Cache-Control: no-cache, no-store, "
                               "must-revalidate, max-age=0\r\n"
                               "\r\n"
                               "pong!");
    assert_int_equal(m.body_pos, 12); /* the body was read past */
    assert_int_equal(m.flush_calls, 1);
    mem_request_free(&m);
}

/*
 * The status page from a real scoreboard: a worker without a master makes
 * one slot; the status request itself is running and counted.
 */
static void
test_status_from_scoreboard(void **state)
{
    static const char *const params[] = {
        "REQUEST_METHOD=GET", "SCRIPT_NAME=/fcgi-status",
        "REQUEST_URI=/fcgi-status?json", "QUERY_STRING=json", NULL};
    mem_request_t m;
    char expect[128];
    const char *body;

    (void)state;
    fw_status_configure("/fcgi-status", NULL, NULL, "mypool", -1);
    assert_int_equal(fw_scoreboard_claim(1), 0);
    mem_request_init(&m, params, NULL, 0);
    fw_scoreboard_request_begin(0, &m.req);
    assert_int_equal(fw_status_serve(&m.req), FW_PYGLUE_DONE);
    (void)fw_scoreboard_request_end(0);

    assert_non_null(strstr(m.out, "Content-Type: application/json\r\n"));
    body = strstr(m.out, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(body, "{\"pool\":\"mypool\","));
    assert_non_null(strstr(body, "\"accepted_conn\":1,"));
    assert_non_null(strstr(body, "\"listen_queue\":null,"));
    assert_non_null(strstr(body, "\"active_processes\":1,"
                                 "\"total_processes\":1,"
                                 "\"max_active_processes\":1,"));
    snprintf(expect, sizeof(expect),
             "\"worker\":1,\"pid\":%ld,"
             "\"state\":\"busy\"",
             (long)getpid());
    assert_non_null(strstr(body, expect));
    assert_non_null(strstr(body, "\"request_method\":\"GET\","
                                 "\"request_uri\":\"/fcgi-status?json\""));
    assert_int_equal(atomic_load(&fw_scoreboard_worker(0)->requests), 1);
    assert_int_equal(atomic_load(&fw_scoreboard_worker(0)->state),
                     FW_WORKER_IDLE);
    mem_request_free(&m);
}

/* Three connections wait on a unix socket and two on a TCP one. */
static void
test_listen_queue_from_kernel(void **state)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct sockaddr_in in = {.sin_family = AF_INET};
    socklen_t len = sizeof(in);
    int clients[5], nclients = 0;
    long queue, backlog;
    int u, t;

    (void)state;
    snprintf(un.sun_path, sizeof(un.sun_path), "/tmp/fw-test-status-%ld",
             (long)getpid());
    unlink(un.sun_path);
    u = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(u, (struct sockaddr *)&un, sizeof(un)), 0);
    assert_int_equal(listen(u, 7), 0);
    for (int i = 0; i < 3; i++) {
        clients[nclients] = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(
            connect(clients[nclients++], (struct sockaddr *)&un, sizeof(un)),
            0);
    }
    if (fw_listen_queue(u, &queue, &backlog) == 0) {
        assert_int_equal(queue, 3);
        assert_int_equal(backlog, 7);
    } else {
        print_message("unix_diag unavailable: unix queue not checked\n");
    }

    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(t, (struct sockaddr *)&in, sizeof(in)), 0);
    assert_int_equal(listen(t, 9), 0);
    assert_int_equal(getsockname(t, (struct sockaddr *)&in, &len), 0);
    for (int i = 0; i < 2; i++) {
        clients[nclients] = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(
            connect(clients[nclients++], (struct sockaddr *)&in, sizeof(in)),
            0);
    }
    assert_int_equal(fw_listen_queue(t, &queue, &backlog), 0);
    assert_int_equal(queue, 2);
    assert_int_equal(backlog, 9);

    /* a socket that does not listen has no queue */
    assert_int_equal(fw_listen_queue(clients[0], &queue, &backlog), -1);
    assert_int_equal(queue, -1);
    for (int i = 0; i < nclients; i++) {
        close(clients[i]);
    }
    close(u);
    close(t);
    unlink(un.sun_path);
}

/* The scoreboard copies method and URI by their length. */
static void
test_scoreboard_copies_by_length(void **state)
{
    static const fw_param_t pairs[] = {
        {"REQUEST_METHOD", 14, "GET", 3},
        {"REQUEST_URI", 11, "/a\0b", 4},
    };
    mem_request_t m;
    fw_score_request_t *rq;

    int slot;

    (void)state;
    slot = fw_scoreboard_claim(1);
    assert_true(slot >= 0);
    mem_request_init_pairs(&m, pairs, 2, NULL, 0);
    fw_scoreboard_request_begin(0, &m.req);
    rq = fw_scoreboard_request(slot, 0);
    assert_string_equal(rq->method, "GET");
    assert_string_equal(rq->uri, "/a?b");
    (void)fw_scoreboard_request_end(0);
    mem_request_free(&m);
}

/*
 * The application's responses counted in the scoreboard: a duration on a
 * bound falls in that bucket (le), one past the last in the overflow; the
 * status in its class (0 or out of range: other); the snapshot copies
 * them and the page's +Inf bucket is their count.
 */
static void
test_scoreboard_counts_responses(void **state)
{
    static const struct {
        int status;
        uint64_t us;
    } counted[] = {{200, 5000},     {204, 5001}, {302, 1000000}, {404, 10000},
                   {503, 10000001}, {0, 1},      {99, 2500000},  {600, 0}};
    fw_status_snapshot_t before, after;
    uint64_t expect_buckets[FW_STATUS_BUCKETS + 1] = {0};
    uint64_t expect_classes[FW_STATUS_CLASSES] = {0, 0, 2, 1, 1, 1};
    fw_status_buf_t page = {0};

    (void)state;
    expect_buckets[0] = 3;  /* 5000 (on the bound), 1, 0 */
    expect_buckets[1] = 2;  /* 5001, 10000 */
    expect_buckets[7] = 1;  /* 1000000 */
    expect_buckets[8] = 1;  /* 2500000 */
    expect_buckets[11] = 1; /* past 10 s */
    expect_classes[0] = 3;  /* 0, 99, 600 */
    assert_true(fw_scoreboard_claim(1) >= 0);
    assert_int_equal(fw_status_snapshot_take(&before, "p", -1), 0);
    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
        fw_scoreboard_count_response(counted[i].status, counted[i].us);
    }
    assert_int_equal(fw_status_snapshot_take(&after, "p", -1), 0);
    for (int i = 0; i <= FW_STATUS_BUCKETS; i++) {
        assert_int_equal(after.buckets[i] - before.buckets[i],
                         expect_buckets[i]);
    }
    for (int i = 0; i < FW_STATUS_CLASSES; i++) {
        assert_int_equal(after.responses[i] - before.responses[i],
                         expect_classes[i]);
    }
    assert_int_equal(after.duration_sum_us - before.duration_sum_us,
                     5000 + 5001 + 1000000 + 10000 + 10000001 + 1 + 2500000);
    assert_int_equal(after.bucket_le_us[0], 5000);
    assert_int_equal(after.bucket_le_us[FW_STATUS_BUCKETS - 1], 10000000);
    fw_status_snapshot_free(&before);
    assert_int_equal(fw_status_render(&after, FW_STATUS_OPENMETRICS, &page),
                     0);
    assert_non_null(strstr(page.data, "fcgi_wsgi_request_seconds_bucket{"
                                      "pool=\"p\",le=\"+Inf\"} "));
    fw_status_buf_free(&page);
    fw_status_snapshot_free(&after);
}

/* The request a worker runs, for its output's lines: one busy thread's
 * method and URI (control characters as '?'); none when idle.  (Several
 * running: none too; the unit tests' scoreboard has one thread.) */
static void
test_scoreboard_running(void **state)
{
    static const char *const one[] = {"REQUEST_METHOD=POST",
                                      "REQUEST_URI=/a\nb", NULL};
    mem_request_t m1;
    char buf[64];
    int slot;

    (void)state;
    slot = fw_scoreboard_claim(1);
    assert_true(slot >= 0);
    assert_int_equal(fw_scoreboard_running(slot, buf, sizeof(buf)), 0);
    mem_request_init(&m1, one, NULL, 0);
    fw_scoreboard_request_begin(0, &m1.req);
    assert_int_equal(fw_scoreboard_running(slot, buf, sizeof(buf)), 9);
    assert_memory_equal(buf, "POST /a?b", 9);
    /* cut to the buffer */
    assert_int_equal(fw_scoreboard_running(slot, buf, 6), 6);
    assert_memory_equal(buf, "POST /", 6);
    (void)fw_scoreboard_request_end(0);
    assert_int_equal(fw_scoreboard_running(slot, buf, sizeof(buf)), 0);
    assert_int_equal(fw_scoreboard_running(-1, buf, sizeof(buf)), 0);
    mem_request_free(&m1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_exact),
        cmocka_unit_test(test_json_exact),
        cmocka_unit_test(test_openmetrics_exact),
        cmocka_unit_test(test_unknown_listen_queue),
        cmocka_unit_test(test_format_of_query),
        cmocka_unit_test(test_wants_paths),
        cmocka_unit_test(test_ping_answered),
        cmocka_unit_test(test_status_from_scoreboard),
        cmocka_unit_test(test_listen_queue_from_kernel),
        cmocka_unit_test(test_scoreboard_copies_by_length),
        cmocka_unit_test(test_scoreboard_counts_responses),
        cmocka_unit_test(test_scoreboard_running),
    };

    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
