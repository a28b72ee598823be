/*
 * fixture.c: the unit tests' shared support (fixture.h): text assertions,
 * token substitution, groups built from tables of cases.  Test support
 * only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fixture.h"

void
fx_assert_contains(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL) {
        fprintf(stderr, "expected to find:\n%s\nin:\n%s\n", needle, text);
        fail_msg("text not found");
    }
}

void
fx_assert_absent(const char *text, const char *needle)
{
    if (strstr(text, needle) != NULL) {
        fprintf(stderr, "expected not to find:\n%s\nin:\n%s\n", needle, text);
        fail_msg("text found");
    }
}

void
fx_assert_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') &&
            (p[len] == '\n' || p[len] == '\0')) {
            return;
        }
        p++;
    }
    fprintf(stderr, "expected the line:\n%s\nin:\n%s\n", line, text);
    fail_msg("line not found");
}

/* The token whose name text starts with, or NULL. */
static const fx_token_t *
token_at(const char *text, const fx_token_t *tokens)
{
    for (size_t i = 0; tokens != NULL && tokens[i].name != NULL; i++) {
        if (strncmp(text, tokens[i].name, strlen(tokens[i].name)) == 0) {
            return &tokens[i];
        }
    }
    return NULL;
}

char *
fx_subst(const char *text, const fx_token_t *tokens)
{
    size_t cap = strlen(text) + 1;
    size_t len = 0;
    char *out = malloc(cap);

    assert_non_null(out);
    while (*text != '\0') {
        const fx_token_t *t = token_at(text, tokens);
        const char *piece = t != NULL ? t->value : text;
        size_t n = t != NULL ? strlen(t->value) : 1;

        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        memcpy(out + len, piece, n);
        len += n;
        text += t != NULL ? strlen(t->name) : 1;
    }
    out[len] = '\0';
    return out;
}

int
fx_run_group(const char *name, const struct CMUnitTest *fixed, size_t nfixed,
             const fx_table_t *tables, size_t ntables,
             CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    size_t n = nfixed;
    struct CMUnitTest *tests;
    size_t k = 0;
    int failed;

    for (size_t t = 0; t < ntables; t++) {
        n += tables[t].nrows;
    }
    tests = calloc(n, sizeof(*tests));
    if (tests == NULL) {
        return 1;
    }
    for (size_t i = 0; i < nfixed; i++) {
        tests[k++] = fixed[i];
    }
    for (size_t t = 0; t < ntables; t++) {
        const char *row = tables[t].rows;

        for (size_t i = 0; i < tables[t].nrows; i++) {
            const void *r = row + i * tables[t].row_size;

            tests[k].name = *(const char *const *)r;
            tests[k].test_func = tables[t].test;
            tests[k].setup_func = tables[t].setup;
            tests[k].teardown_func = tables[t].teardown;
            tests[k++].initial_state = (void *)r;
        }
    }
    failed =
        _cmocka_run_group_tests(name, tests, n, group_setup, group_teardown);
    free(tests);
    return failed;
}
