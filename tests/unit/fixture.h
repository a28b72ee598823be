/*
 * fixture.h: what every unit test binary may share, Python or not: text
 * assertions that print the text they looked in, {token} substitution in
 * a test's strings, and a cmocka group made of fixed tests and tables of
 * cases (one test per row).  Test support only.
 */
#ifndef FW_FIXTURE_H
#define FW_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Fail the test (printing both) unless text contains needle. */
void fx_assert_contains(const char *text, const char *needle);

/* Fail the test (printing both) if text contains needle. */
void fx_assert_absent(const char *text, const char *needle);

/* Fail the test unless text has a whole line equal to line (the last line
 * may lack its newline). */
void fx_assert_line(const char *text, const char *line);

/* A {name} in a test's strings and what it stands for. */
typedef struct {
    const char *name; /* "{dir}": braces included */
    const char *value;
} fx_token_t;

/*
 * text with each token's name replaced by its value; tokens ends with a
 * NULL name, or is NULL.  malloc'd: the caller frees it.
 */
char *fx_subst(const char *text, const fx_token_t *tokens);

/*
 * A table of cases, one cmocka test per row: each row begins with its
 * name (a const char *), and `test` gets the row as *state.
 */
typedef struct {
    const void *rows;
    size_t nrows;
    size_t row_size;
    CMUnitTestFunction test;
    CMFixtureFunction setup;    /* before each row's test, or NULL */
    CMFixtureFunction teardown; /* after each row's test, or NULL */
} fx_table_t;

/* The number of elements of an array. */
#define FX_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The fx_table_t of an array of rows (no teardown). */
#define FX_TABLE(cases, fn, before)                                           \
    {                                                                         \
        .rows = (cases), .nrows = FX_COUNT(cases),                            \
        .row_size = sizeof((cases)[0]), .test = (fn), .setup = (before)       \
    }

/*
 * Runs the group `name`: the nfixed tests of fixed, then one test per row
 * of each of the ntables tables.  cmocka's result (0: all passed).
 */
int fx_run_group(const char *name, const struct CMUnitTest *fixed,
                 size_t nfixed, const fx_table_t *tables, size_t ntables,
                 CMFixtureFunction group_setup,
                 CMFixtureFunction group_teardown);

#endif /* FW_FIXTURE_H */
