/*
 * test_log_format.c: the pure parts of the logs: log-format compiled and
 * access lines formatted byte for byte (every variable, escaping, cuts,
 * X-Forwarded-For), the byte stream cut into lines (a worker's stdout),
 * the log's line prefix (log-date, the request tag), log-maxsize's
 * rename and a relative logto's file.  Runs in TZ=UTC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/observe/observe.h"
#include "tests/unit/mem_gateway.h"

/* The facts of every line below but where a test says otherwise. */
static const fw_access_facts_t facts = {
    .status = 200,
    .body_bytes = 1234,
    .duration_us = 5678,
    .started = 1700000000,
    .now = 1700000001,
    .pid = 4321,
    .worker = 2,
};

/* Formats r's "NAME=VALUE" params with spec; the line in buf. */
static size_t
format_with(char *buf, size_t size, const char *spec,
            const char *const *params, const fw_access_facts_t *a)
{
    fw_access_format_t f;
    mem_request_t m;
    char err[256];
    size_t n;

    assert_int_equal(fw_access_format_parse(spec, &f, err, sizeof(err)), 0);
    mem_request_init(&m, params, NULL, 0);
    n = fw_access_log_format(buf, size, &f, &m.req, a);
    mem_request_free(&m);
    assert_true(n < size);
    buf[n] = '\0';
    return n;
}

/* The default: combined, as Apache and nginx write it. */
static void
test_combined(void **state)
{
    const char *params[] = {"REMOTE_ADDR=127.0.0.1",
                            "REQUEST_METHOD=GET",
                            "REQUEST_URI=/a b\"\\\x01\xc3\xa9?q=1",
                            "SERVER_PROTOCOL=HTTP/1.1",
                            "REMOTE_USER=ann",
                            "HTTP_REFERER=http://x/",
                            "HTTP_USER_AGENT=curl/7.88",
                            NULL};
    const char *bare[] = {NULL};
    const char *empty[] = {"REMOTE_ADDR=", "REQUEST_METHOD=", NULL};
    char line[300];

    (void)state;
    memset(line, 0, sizeof(line));
    format_with(line, sizeof(line), FW_ACCESS_COMBINED, params, &facts);
    assert_string_equal(line, "127.0.0.1 - ann [14/Nov/2023:22:13:20 +0000] "
                              "\"GET /a b\\x22\\x5C\\x01\\xC3\\xA9?q=1 "
                              "HTTP/1.1\" 200 1234 \"http://x/\" "
                              "\"curl/7.88\"\n");
    memset(line, 0, sizeof(line));
    format_with(line, sizeof(line), FW_ACCESS_COMBINED, bare,
                &(fw_access_facts_t){.started = 1700000000});
    assert_string_equal(line, "- - - [14/Nov/2023:22:13:20 +0000] "
                              "\"- - -\" 0 0 \"-\" \"-\"\n");
    memset(line, 0, sizeof(line));
    format_with(line, sizeof(line), FW_ACCESS_COMBINED, empty,
                &(fw_access_facts_t){.started = 1700000000});
    assert_string_equal(line, "- - - [14/Nov/2023:22:13:20 +0000] "
                              "\"- - -\" 0 0 \"-\" \"-\"\n");
}

/* Every variable of uWSGI's list, and %(var.NAME). */
static void
test_every_variable(void **state)
{
    const char *params[] = {
        "REMOTE_ADDR=10.0.0.1",  "REQUEST_METHOD=POST",
        "REQUEST_URI=/form",     "SERVER_PROTOCOL=HTTP/2.0",
        "HTTP_HOST=example.org", "CONTENT_LENGTH=42",
        "HTTP_X_REQUEST_ID=abc", NULL};
    char line[512];

    (void)state;
    memset(line, 0, sizeof(line));
    format_with(line, sizeof(line),
                "%(addr)|%(user)|%(ltime)|%(method)|%(uri)|%(proto)|"
                "%(status)|%(size)|%(rsize)|%(referer)|%(uagent)|%(host)|"
                "%(cl)|%(msecs)|%(micros)|%(pid)|%(wid)|%(epoch)|%(time)|"
                "%(var.HTTP_X_REQUEST_ID)|%(var.NOPE)|100% (sure)",
                params, &facts);
    assert_string_equal(line, "10.0.0.1|-|14/Nov/2023:22:13:20 +0000|POST|"
                              "/form|HTTP/2.0|200|1234|1234|-|-|"
                              "example.org|42|5|5678|4321|2|1700000001|"
                              "1700000000|abc|-|100% (sure)\n");
}

/* Values are taken by their length: a NUL inside is logged, escaped, with
 * what follows it. */
static void
test_nul_inside(void **state)
{
    static const fw_param_t pairs[] = {
        {"REMOTE_ADDR", 11, "10.0.0.1\0x", 10},
        {"REQUEST_METHOD", 14, "GET", 3},
        {"REQUEST_URI", 11, "/a\0b?c", 6},
        {"SERVER_PROTOCOL", 15, "HTTP/1.1", 8},
    };
    fw_access_format_t f;
    mem_request_t m;
    char line[300], err[128];
    size_t n;

    (void)state;
    assert_int_equal(
        fw_access_format_parse(FW_ACCESS_COMBINED, &f, err, sizeof(err)), 0);
    mem_request_init_pairs(&m, pairs, 4, NULL, 0);
    n = fw_access_log_format(line, sizeof(line), &f, &m.req, &facts);
    mem_request_free(&m);
    line[n] = '\0';
    assert_string_equal(line, "10.0.0.1\\x00x - - "
                              "[14/Nov/2023:22:13:20 +0000] "
                              "\"GET /a\\x00b?c HTTP/1.1\" 200 1234 \"-\" "
                              "\"-\"\n");
}

/* A URI longer than the line is cut so that what follows still fits; a
 * long address is cut at 64 bytes. */
static void
test_cuts(void **state)
{
    char small[256];
    char huge_uri[1000], long_addr[120];
    const char *huge[3], *addr[2];

    (void)state;
    memcpy(huge_uri, "REQUEST_URI=", 12);
    memset(huge_uri + 12, 'a', 987);
    huge_uri[999] = '\0';
    huge[0] = huge_uri;
    huge[1] = "REQUEST_METHOD=GET";
    huge[2] = NULL;
    format_with(small, sizeof(small), FW_ACCESS_COMBINED, huge,
                &(fw_access_facts_t){.status = 404, .body_bytes = 9});
    assert_non_null(strstr(small, "aaaa -\" 404 9 \"-\" \"-\"\n"));

    memcpy(long_addr, "REMOTE_ADDR=", 12);
    memset(long_addr + 12, '1', 100);
    long_addr[112] = '\0';
    addr[0] = long_addr;
    addr[1] = NULL;
    format_with(small, sizeof(small), "%(addr)|", addr, &facts);
    assert_int_equal(strspn(small, "1"), 64);
    assert_string_equal(small + 64, "|\n");
}

/* log-x-forwarded-for: the first entry, spaces trimmed; REMOTE_ADDR when
 * the header is absent or its first entry empty. */
static void
test_x_forwarded_for(void **state)
{
    const char *xff[] = {"REMOTE_ADDR=127.0.0.1",
                         "HTTP_X_FORWARDED_FOR= 203.0.113.7 , 10.0.0.2", NULL};
    const char *none[] = {"REMOTE_ADDR=127.0.0.1", NULL};
    const char *blank[] = {"REMOTE_ADDR=127.0.0.1",
                           "HTTP_X_FORWARDED_FOR= ,10.0.0.2", NULL};
    fw_access_facts_t a = facts;
    char line[128];

    (void)state;
    a.x_forwarded_for = 1;
    format_with(line, sizeof(line), "%(addr)", xff, &a);
    assert_string_equal(line, "203.0.113.7\n");
    format_with(line, sizeof(line), "%(addr)", none, &a);
    assert_string_equal(line, "127.0.0.1\n");
    format_with(line, sizeof(line), "%(addr)", blank, &a);
    assert_string_equal(line, "127.0.0.1\n");
    format_with(line, sizeof(line), "%(addr)", xff, &facts);
    assert_string_equal(line, "127.0.0.1\n");
}

/* What log-format refuses, with the reason. */
static void
test_parse_errors(void **state)
{
    fw_access_format_t f;
    char err[512], many[400];

    (void)state;
    assert_int_equal(
        fw_access_format_parse("%(addr) %(bogus)", &f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown variable %(bogus); known: addr "
                                "user ltime method uri proto status"));
    assert_non_null(strstr(err, " var.NAME"));
    assert_int_equal(fw_access_format_parse("%(addr", &f, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "'%(' without its ')': %(addr");
    assert_int_equal(fw_access_format_parse("%()", &f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown variable %()"));

    many[0] = '\0';
    for (int i = 0; i < 40; i++) {
        strcat(many, "x%(pid)");
    }
    assert_int_equal(fw_access_format_parse(many, &f, err, sizeof(err)), -1);
    assert_string_equal(err, "more than 64 pieces of text and variables");

    assert_int_equal(fw_access_format_parse("", &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(
        fw_access_format_parse(FW_ACCESS_COMBINED, &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 20);
}

/* ---- the byte stream cut into lines ---- */

typedef struct {
    char lines[8][FW_LOG_STREAM_LINE + 1];
    size_t lens[8];
    int cuts[8];
    int n;
} lines_t;

static void
collect(void *arg, const char *line, size_t len, int cut)
{
    lines_t *l = arg;

    assert_true(l->n < 8);
    memcpy(l->lines[l->n], line, len);
    l->lines[l->n][len] = '\0';
    l->lens[l->n] = len;
    l->cuts[l->n++] = cut;
}

static void
test_stream_lines(void **state)
{
    static fw_log_stream_t s;
    static lines_t l;
    static char big[FW_LOG_STREAM_LINE + 10];

    (void)state;
    fw_log_stream_feed(&s, "one\ntw", 6, collect, &l);
    fw_log_stream_feed(&s, "o\r\n\nthr", 7, collect, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.lines[0], "one");
    assert_string_equal(l.lines[1], "two");
    assert_string_equal(l.lines[2], "");
    fw_log_stream_end(&s, collect, &l);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.lines[3], "thr");
    assert_int_equal(l.cuts[3], 0);

    /* a line of exactly the buffer's size is whole */
    memset(&l, 0, sizeof(l));
    memset(big, 'a', sizeof(big));
    fw_log_stream_feed(&s, big, FW_LOG_STREAM_LINE, collect, &l);
    fw_log_stream_feed(&s, "\n", 1, collect, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.lens[0], FW_LOG_STREAM_LINE);
    assert_int_equal(l.cuts[0], 0);

    /* one byte more: cut when the buffer is full, the rest dropped up to
     * its newline, over several feeds */
    memset(&l, 0, sizeof(l));
    fw_log_stream_feed(&s, big, FW_LOG_STREAM_LINE - 5, collect, &l);
    fw_log_stream_feed(&s, big, 6, collect, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.lens[0], FW_LOG_STREAM_LINE);
    assert_int_equal(l.cuts[0], 1);
    fw_log_stream_feed(&s, big, sizeof(big), collect, &l);
    fw_log_stream_feed(&s, "bbb\nnext\n", 9, collect, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.lines[1], "next");

    /* cut with its newline in the same feed: nothing dropped after it */
    memset(&l, 0, sizeof(l));
    memcpy(big + FW_LOG_STREAM_LINE + 3, "\nz", 2);
    fw_log_stream_feed(&s, big, FW_LOG_STREAM_LINE + 5, collect, &l);
    fw_log_stream_end(&s, collect, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.cuts[0], 1);
    assert_string_equal(l.lines[1], "z");
}

/* ---- the log's lines ---- */

/* The log written to a temporary file: its path in path. */
static void
log_to_temp(char *path, size_t size)
{
    int fd;

    snprintf(path, size, "/tmp/fw-test-log-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fw_log_open(path), 0);
}

/* The file's content (NUL-terminated; the caller frees). */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void
assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    int rc;

    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0) {
        fail_msg("%s does not match %s", text, pattern);
    }
}

static void
test_log_prefix(void **state)
{
    static const char *const params[] = {"REQUEST_METHOD=GET",
                                         "REQUEST_URI=/x\ny", NULL};
    char path[64], pid[32];
    mem_request_t m;
    char *text;

    (void)state;
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    log_to_temp(path, sizeof(path));
    fw_log_set_role("worker 2");
    fw_log_set_date(NULL);
    fw_log(FW_LOG_INFO, "two\nlines");
    fw_log_set_date("false");
    fw_log_write_as("STDERR", "GET /\x1b", 6, "printed", 7);
    fw_log_set_date("%Y!");
    mem_request_init(&m, params, NULL, 0);
    fw_log_set_request(&m.req);
    fw_log(FW_LOG_ERROR, "in a request");
    fw_log_set_request(NULL);
    mem_request_free(&m);
    fw_log_set_date("true");

    text = slurp(path);
    assert_matches(text, "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:"
                         "[0-9]{2}\\.[0-9]{3} \\[worker 2 pid [0-9]+\\] INFO "
                         "two\n");
    assert_matches(text, "\n[0-9-]+ [0-9:.]+ \\[worker 2 pid [0-9]+\\] INFO "
                         "lines\n\\[worker 2 pid [0-9]+\\] STDERR "
                         "\\[GET /\\?\\] printed\n[0-9]{4}! \\[worker 2 pid "
                         "[0-9]+\\] ERROR \\[GET /x\\?y\\] in a request\n$");
    assert_non_null(strstr(text, pid));
    free(text);
    assert_int_equal(fw_log_open(NULL), 0);
    unlink(path);
}

/* A message past FW_LOG_MESSAGE_MAX: what fits, then a line that says how
 * much was left out; an over-long line is cut. */
static void
test_log_bounds(void **state)
{
    size_t len = FW_LOG_MESSAGE_MAX + 100;
    char *msg = malloc(len), *text, *last;
    char path[64];

    (void)state;
    assert_non_null(msg);
    memset(msg, 'x', len);
    for (size_t i = 99; i < len; i += 100) {
        msg[i] = '\n';
    }
    log_to_temp(path, sizeof(path));
    fw_log_set_date("false");
    fw_log_write_as("STACK", NULL, 0, msg, len);
    memset(msg, 'y', 3 * FW_LOG_LINE_MAX);
    fw_log_write_as("STDOUT", NULL, 0, msg, 3 * FW_LOG_LINE_MAX);
    fw_log_set_date(NULL);
    text = slurp(path);
    assert_non_null(strstr(text, "more bytes of this message left out)\n"));
    last = strrchr(text, '\n');
    *last = '\0';
    last = strrchr(text, '\n') + 1;
    assert_int_equal(strlen(last), FW_LOG_LINE_MAX - 1);
    assert_int_equal(strspn(strstr(last, "STDOUT ") + 7, "y"),
                     FW_LOG_LINE_MAX - 1 -
                         (strstr(last, "STDOUT ") + 7 - last));
    free(text);
    free(msg);
    assert_int_equal(fw_log_open(NULL), 0);
    unlink(path);
}

/* log-maxsize: renamed to PATH.<time> once past the size; a second within
 * the same second gets PATH.<time>.1; within the size, nothing. */
static void
test_rotate(void **state)
{
    char path[64], rotated[128], again[128], expect[128];
    struct stat st;
    FILE *f;
    time_t before = time(NULL);

    (void)state;
    log_to_temp(path, sizeof(path));
    assert_int_equal(fw_log_open(NULL), 0);
    f = fopen(path, "w");
    fputs("0123456789", f);
    fclose(f);
    assert_int_equal(fw_log_rotate_if_over(path, 10, rotated, sizeof(rotated)),
                     0);
    assert_int_equal(fw_log_rotate_if_over(NULL, 1, rotated, sizeof(rotated)),
                     0);
    assert_int_equal(fw_log_rotate_if_over(path, 0, rotated, sizeof(rotated)),
                     0);
    assert_int_equal(fw_log_rotate_if_over(path, 9, rotated, sizeof(rotated)),
                     1);
    assert_true(stat(path, &st) < 0);
    assert_int_equal(stat(rotated, &st), 0);
    assert_int_equal(st.st_size, 10);
    snprintf(expect, sizeof(expect), "%s.%ld", path, (long)before);
    if (strcmp(rotated, expect) != 0) { /* the second turned meanwhile */
        snprintf(expect, sizeof(expect), "%s.%ld", path, (long)before + 1);
    }
    assert_string_equal(rotated, expect);

    f = fopen(path, "w");
    fputs("0123456789", f);
    fclose(f);
    /* the same name taken: .1 (when the second did not turn) */
    if (fw_log_rotate_if_over(path, 9, again, sizeof(again)) == 1 &&
        strncmp(again, rotated, strlen(rotated)) == 0 &&
        strlen(again) > strlen(rotated)) {
        assert_string_equal(again + strlen(rotated), ".1");
    }
    unlink(again);
    unlink(rotated);
    unlink(path);
}

/* A relative logto is the file of its first opening, after a chdir too
 * (a reopen on SIGUSR1, log-maxsize). */
static void
test_relative_logto(void **state)
{
    char dir[] = "/tmp/fw-test-logdir-XXXXXX";
    char cwd[1024], expect[1100];
    char *text;

    (void)state;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(fw_log_open("rel.log"), 0);
    snprintf(expect, sizeof(expect), "%s/rel.log", dir);
    assert_string_equal(fw_log_file(), expect);
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(fw_log_open("rel.log"), 0);
    assert_string_equal(fw_log_file(), expect);
    fw_log_set_date("false");
    fw_log(FW_LOG_INFO, "still here");
    fw_log_set_date(NULL);
    assert_int_equal(fw_log_open(NULL), 0);
    assert_null(fw_log_file());
    text = slurp(expect);
    assert_non_null(strstr(text, "INFO still here\n"));
    free(text);
    unlink(expect);
    rmdir(dir);
    assert_int_equal(chdir(cwd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combined),
        cmocka_unit_test(test_every_variable),
        cmocka_unit_test(test_nul_inside),
        cmocka_unit_test(test_cuts),
        cmocka_unit_test(test_x_forwarded_for),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_stream_lines),
        cmocka_unit_test(test_log_prefix),
        cmocka_unit_test(test_log_bounds),
        cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_relative_logto),
    };

    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
