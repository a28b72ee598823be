/*
 * test_conf_uwsgi.c: the table of uWSGI's options (conf/conf_uwsgi.c)
 * against fcgi-wsgi's own (conf/conf_table.c): sorted and unique for
 * bsearch, every implemented name answered by an option, every uWSGI name
 * an option answers to marked implemented, every reason used; the verdicts
 * of the options real uwsgi.ini files carry; and the README's list, which
 * must be what --print-config uwsgi-options prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf_int.h"

/* Sorted in strcmp order, no name twice. */
static void
test_sorted_unique(void **state)
{
    (void)state;
    assert_true(fw_conf_uwsgi_nrows > 1000);
    for (size_t i = 1; i < fw_conf_uwsgi_nrows; i++) {
        if (strcmp(fw_conf_uwsgi_rows[i - 1].name,
                   fw_conf_uwsgi_rows[i].name) >= 0) {
            print_error("rows %zu and %zu out of order: '%s' '%s'\n", i - 1, i,
                        fw_conf_uwsgi_rows[i - 1].name,
                        fw_conf_uwsgi_rows[i].name);
            fail();
        }
    }
    for (size_t i = 0; i < fw_conf_uwsgi_nrows; i++) {
        assert_ptr_equal(fw_conf_uwsgi_find(fw_conf_uwsgi_rows[i].name),
                         &fw_conf_uwsgi_rows[i]);
    }
    assert_null(fw_conf_uwsgi_find("no-such-option"));
    assert_null(fw_conf_uwsgi_find(""));
}

/* True if name is the option's name or one of its aliases. */
static bool
answers_to(const fw_opt_t *opt, const char *name)
{
    const char *p = opt->aliases;
    size_t len = strlen(name);

    if (strcmp(opt->name, name) == 0) {
        return true;
    }
    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, " ");

        if (n == len && strncmp(p, name, n) == 0) {
            return true;
        }
        p += n + strspn(p + n, " ");
    }
    return false;
}

/*
 * Implemented means an option of conf_table.c answers to the name; and a
 * uWSGI name that an option answers to is marked implemented (-R is the
 * one exception: fcgi-wsgi's allow-root, as php-fpm's; uWSGI's -R is
 * max-requests, which is not in the table).
 */
static void
test_ours_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < fw_conf_uwsgi_nrows; i++) {
        const fw_uwsgi_opt_t *u = &fw_conf_uwsgi_rows[i];
        const fw_opt_t *opt = fw_conf_table_find(u->name);
        bool ours = fw_conf_uwsgi_reasons[u->why].verdict == FW_UWSGI_OURS;

        if (ours != (opt != NULL)) {
            print_error("uWSGI's '%s': marked %s, but conf_table.c %s it\n",
                        u->name, ours ? "implemented" : "not implemented",
                        opt != NULL ? "has" : "lacks");
            fail();
        }
    }
    for (size_t i = 0; i < fw_conf_table_nrows; i++) {
        const fw_opt_t *opt = &fw_conf_table_rows[i];

        for (size_t j = 0; j < fw_conf_uwsgi_nrows; j++) {
            const fw_uwsgi_opt_t *u = &fw_conf_uwsgi_rows[j];

            if (answers_to(opt, u->name)) {
                assert_int_equal(fw_conf_uwsgi_reasons[u->why].verdict,
                                 FW_UWSGI_OURS);
            }
        }
    }
    assert_null(fw_conf_uwsgi_find("R"));
    assert_null(fw_conf_uwsgi_find("v")); /* ours: -v is --version */
}

/* Every reason is used and says something on one line. */
static void
test_reasons(void **state)
{
    (void)state;
    for (size_t why = 0; why < fw_conf_uwsgi_nreasons; why++) {
        const char *text = fw_conf_uwsgi_reasons[why].text;
        size_t used = 0;

        for (size_t i = 0; i < fw_conf_uwsgi_nrows; i++) {
            used += fw_conf_uwsgi_rows[i].why == why;
        }
        if (used == 0) {
            print_error("reason %zu ('%s') is used by no row\n", why, text);
            fail();
        }
        assert_non_null(text);
        assert_true(strlen(text) > 10 && strlen(text) < 200);
        assert_null(strchr(text, '\n'));
    }
}

/* The verdicts of the options seen in real uwsgi.ini files. */
static void
test_real_world_verdicts(void **state)
{
    static const struct {
        const char *name;
        fw_uwsgi_verdict_e verdict;
    } rows[] = {
        {"socket", FW_UWSGI_OURS},
        {"wsgi-file", FW_UWSGI_OURS},
        {"file", FW_UWSGI_OURS},
        {"callable", FW_UWSGI_OURS},
        {"static-map", FW_UWSGI_OURS},
        {"static-map2", FW_UWSGI_OURS},
        {"protocol", FW_UWSGI_OURS},
        {"set", FW_UWSGI_OURS},
        {"master", FW_UWSGI_IGNORED},
        {"vacuum", FW_UWSGI_IGNORED},
        {"die-on-term", FW_UWSGI_IGNORED},
        {"enable-threads", FW_UWSGI_IGNORED},
        {"single-interpreter", FW_UWSGI_IGNORED},
        {"thunder-lock", FW_UWSGI_IGNORED},
        {"idle", FW_UWSGI_IGNORED},
        {"cheap", FW_UWSGI_IGNORED},
        {"cheaper", FW_UWSGI_IGNORED},
        {"ignore-sigpipe", FW_UWSGI_IGNORED},
        {"ignore-write-errors", FW_UWSGI_IGNORED},
        {"disable-write-exception", FW_UWSGI_IGNORED},
        {"static-expires-type", FW_UWSGI_IGNORED},
        {"logformat", FW_UWSGI_OURS},
        {"log-format", FW_UWSGI_OURS},
        {"logdate", FW_UWSGI_OURS},
        {"log-maxsize", FW_UWSGI_OURS},
        {"log-x-forwarded-for", FW_UWSGI_OURS},
        {"reload-mercy", FW_UWSGI_OURS},
        {"py-autoreload", FW_UWSGI_OURS},
        {"http", FW_UWSGI_REFUSED},
        {"http-socket", FW_UWSGI_REFUSED},
        {"uwsgi-socket", FW_UWSGI_REFUSED},
        {"gevent", FW_UWSGI_REFUSED},
        {"cache2", FW_UWSGI_REFUSED},
        {"stats", FW_UWSGI_REFUSED},
        {"daemonize", FW_UWSGI_REFUSED},
        {"emperor", FW_UWSGI_REFUSED},
        {"spooler", FW_UWSGI_REFUSED},
        {"attach-daemon", FW_UWSGI_REFUSED},
        {"route", FW_UWSGI_REFUSED},
        {"if-env", FW_UWSGI_REFUSED},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const fw_uwsgi_opt_t *u = fw_conf_uwsgi_find(rows[i].name);

        if (u == NULL ||
            fw_conf_uwsgi_reasons[u->why].verdict != rows[i].verdict) {
            print_error("'%s': verdict %d, expected %d\n", rows[i].name,
                        u != NULL ? (int)fw_conf_uwsgi_reasons[u->why].verdict
                                  : -1,
                        (int)rows[i].verdict);
            fail();
        }
    }
}

/* The whole of a file (malloc'd), or NULL. */
static char *
read_all(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t n;

    if (fp == NULL) {
        return NULL;
    }
    do {
        if (len + 4096 + 1 > cap) {
            cap = (len + 4096 + 1) * 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        n = fread(text + len, 1, 4096, fp);
        len += n;
    } while (n > 0);
    fclose(fp);
    text[len] = '\0';
    return text;
}

/*
 * The README's list (between its uwsgi-options markers) is what
 * fw_conf_uwsgi_print prints, blank lines around it: a verdict changed in
 * the table and not in the README fails here.
 */
static void
test_readme_lists_the_table(void **state)
{
    static const char begin[] =
        "tests/unit/test_conf_uwsgi.c checks that it is the same -->\n\n";
    static const char end[] = "\n<!-- /uwsgi-options -->";
    const char *apps = getenv("FW_TEST_APPS");
    char path[4096];
    char *readme;
    char *printed = NULL;
    size_t printed_len = 0;
    FILE *fp;
    const char *from;
    const char *to;

    (void)state;
    assert_non_null(apps);
    snprintf(path, sizeof(path), "%s/../../README.md", apps);
    readme = read_all(path);
    assert_non_null(readme);
    fp = open_memstream(&printed, &printed_len);
    assert_non_null(fp);
    fw_conf_uwsgi_print(fp);
    assert_int_equal(fclose(fp), 0);

    from = strstr(readme, begin);
    assert_non_null(from);
    from += strlen(begin);
    to = strstr(from, end);
    assert_non_null(to);
    if ((size_t)(to - from) != printed_len ||
        memcmp(from, printed, printed_len) != 0) {
        print_error("README.md's uWSGI options differ from "
                    "`fcgi-wsgi --print-config uwsgi-options`: paste its "
                    "output between the markers\n");
        fail();
    }
    for (const char *p = printed; *p != '\0';) {
        size_t n = strcspn(p, "\n");

        if (n > 79) {
            print_error("a line longer than 79: %.*s\n", (int)n, p);
            fail();
        }
        p += n + (p[n] == '\n');
    }
    free(printed);
    free(readme);
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_unique),
        cmocka_unit_test(test_ours_agree),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_real_world_verdicts),
        cmocka_unit_test(test_readme_lists_the_table),
    };

    return cmocka_run_group_tests_name("conf_uwsgi", tests, NULL, NULL);
}
