/*
 * test_home.c: pyglue/home.c from the outside: homes laid out in a temp
 * dir (a virtualenv of our Python or another, an installation's prefix,
 * broken ones) and the one line fw_pyglue_check_home says about each, or
 * none; what the start-up block says of the prefix.  The homes are rows
 * of a table (home_cases), one cmocka test per row.  No interpreter runs.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <Python.h> /* PY_MAJOR_VERSION, PY_MINOR_VERSION */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyglue/pyglue.h"
#include "tests/unit/fixture.h"

static char tmpdir[64];
static char home[128];
static char py[16];    /* ours: "3.11" */
static char other[16]; /* another: "3.9" */

/*
 * A home's layout, one entry a string: "d:PATH" a directory, "x:PATH" an
 * executable file, "f:PATH=TEXT" a file holding TEXT, "l:PATH>TARGET" a
 * symbolic link; {py} and {other} stand for the versions.
 */
typedef enum {
    CASE_DIR = 0, /* home is a directory holding the layout */
    CASE_NONE,    /* there is no home */
    CASE_FILE     /* home is a file */
} case_home_e;

typedef struct {
    const char *name;
    const char *layout[5]; /* NULL-terminated */
    const char *want;      /* the message, or NULL: a usable home */
    case_home_e kind;
} home_case_t;

static const home_case_t home_cases[] = {
    {"missing",
     {NULL},
     "home {home}: Python home is not a directory (No such file or "
     "directory)",
     CASE_NONE},
    {"a file",
     {NULL},
     "home {home}: Python home is not a directory",
     CASE_FILE},
    {"empty",
     {NULL},
     "home {home}: no bin/python3 in it (missing, or a broken link): not a "
     "virtualenv; python{py} -m venv {home} makes one",
     CASE_DIR},
    {"venv of ours",
     {"f:pyvenv.cfg=home = /usr/bin\nversion = {py}.4\n", "x:bin/python3",
      "d:lib/python{py}/site-packages", NULL},
     NULL,
     CASE_DIR},
    {"venv, virtualenv's version_info",
     {"f:pyvenv.cfg=version_info = {py}.1.final.0\n", "x:bin/python3", NULL},
     NULL,
     CASE_DIR},
    {"venv of another Python",
     {"f:pyvenv.cfg=home = /usr/bin\nversion = {other}.7\n", "x:bin/python3",
      "d:lib/python{other}/site-packages", NULL},
     "home {home}: made for Python {other} (pyvenv.cfg: version = "
     "{other}.7) but fcgi-wsgi embeds Python {py}: make the virtualenv with "
     "python{py} -m venv {home}",
     CASE_DIR},
    {"venv without a version, another lib",
     {"f:pyvenv.cfg=home = /usr/bin\n", "x:bin/python3", "d:lib/python{other}",
      NULL},
     "home {home}: made for Python {other} (lib/python{other}) but "
     "fcgi-wsgi embeds Python {py}: make the virtualenv with python{py} -m "
     "venv {home}",
     CASE_DIR},
    {"venv, python3 a broken link",
     {"f:pyvenv.cfg=version = {py}.2\n", "d:bin", "l:bin/python3>/nonexistent",
      NULL},
     "home {home}: no bin/python3 in it (missing, or a broken link): not a "
     "virtualenv; python{py} -m venv {home} makes one",
     CASE_DIR},
    {"prefix of ours",
     {"x:bin/python3", "d:lib/python{py}", NULL},
     NULL,
     CASE_DIR},
    {"prefix of another Python",
     {"x:bin/python3", "d:lib/python{other}", NULL},
     "home {home}: made for Python {other} (lib/python{other}) but "
     "fcgi-wsgi embeds Python {py}: make the virtualenv with python{py} -m "
     "venv {home}",
     CASE_DIR},
    {"a python3 and nothing else",
     {"x:bin/python3", NULL},
     "home {home}: not a virtualenv (no pyvenv.cfg) nor a Python {py} "
     "installation (no lib/python{py}): python{py} -m venv {home} makes "
     "one",
     CASE_DIR},
};

static char *
subst(const char *text)
{
    const fx_token_t tokens[] = {
        {"{home}", home}, {"{py}", py}, {"{other}", other}, {NULL, NULL}};

    return fx_subst(text, tokens);
}

/* Makes the parent directories of home/rel. */
static void
make_parents(const char *rel)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", home, rel);
    for (char *p = path + strlen(home) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
            *p = '/';
        }
    }
}

/* Lays one entry of a layout out under home. */
static void
lay_out(const char *entry)
{
    char *e = subst(entry);
    char *rel = e + 2;
    char path[512];
    char *sep;
    FILE *f;

    if (e[0] == 'f' && (sep = strchr(rel, '=')) != NULL) {
        *sep = '\0';
    } else if (e[0] == 'l' && (sep = strchr(rel, '>')) != NULL) {
        *sep = '\0';
    } else {
        sep = NULL;
    }
    make_parents(rel);
    snprintf(path, sizeof(path), "%s/%s", home, rel);
    switch (e[0]) {
    case 'd':
        assert_int_equal(mkdir(path, 0755), 0);
        break;
    case 'x':
    case 'f':
        f = fopen(path, "w");
        assert_non_null(f);
        if (sep != NULL) {
            fputs(sep + 1, f);
        }
        fclose(f);
        assert_int_equal(chmod(path, e[0] == 'x' ? 0755 : 0644), 0);
        break;
    case 'l':
        assert_non_null(sep);
        assert_int_equal(symlink(sep + 1, path), 0);
        break;
    default:
        fail_msg("bad layout entry %s", entry);
    }
    free(e);
}

static int
case_setup(void **state)
{
    const home_case_t *c = *state;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fw-test-home-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(home, sizeof(home), "%s/home", tmpdir);
    if (c->kind == CASE_FILE) {
        FILE *f = fopen(home, "w");

        assert_non_null(f);
        fclose(f);
    } else if (c->kind == CASE_DIR) {
        assert_int_equal(mkdir(home, 0755), 0);
    }
    for (size_t i = 0; c->layout[i] != NULL; i++) {
        lay_out(c->layout[i]);
    }
    return 0;
}

static int
case_teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void
test_home_case(void **state)
{
    const home_case_t *c = *state;
    char msg[1024];
    const char *got = fw_pyglue_check_home(home, msg, sizeof(msg));

    if (c->want == NULL) {
        if (got != NULL) {
            fail_msg("%s: expected a usable home, got: %s", c->name, got);
        }
        return;
    }
    if (got == NULL) {
        fail_msg("%s: expected a message, got none", c->name);
    } else {
        char *want = subst(c->want);

        assert_string_equal(got, want);
        free(want);
    }
}

/* No home given: nothing to check. */
static void
test_no_home(void **state)
{
    char msg[64];

    (void)state;
    assert_null(fw_pyglue_check_home(NULL, msg, sizeof(msg)));
    assert_null(fw_pyglue_check_home("", msg, sizeof(msg)));
}

/* The start-up block's phrase: a virtualenv and what it was made from, a
 * home, the system's prefix, PYTHONHOME. */
static void
test_describe(void **state)
{
    static const home_case_t venv = {
        "venv",
        {"f:pyvenv.cfg=home = /usr/bin\nversion = {py}.4\n", NULL},
        NULL,
        CASE_DIR};
    const void *row = &venv;
    char out[512], *want;

    (void)state;
    unsetenv("PYTHONHOME");
    fw_pyglue_describe_home(NULL, out, sizeof(out));
    assert_string_equal(out, "the system's (prefix /usr)");

    setenv("PYTHONHOME", "/opt/python", 1);
    fw_pyglue_describe_home(NULL, out, sizeof(out));
    assert_string_equal(out, "PYTHONHOME /opt/python (from the environment)");
    unsetenv("PYTHONHOME");

    case_setup((void **)&row);
    fw_pyglue_describe_home(home, out, sizeof(out));
    want = subst("virtualenv {home} (made from /usr/bin)");
    assert_string_equal(out, want);
    free(want);
    unlink(strcat(strcpy(out, home), "/pyvenv.cfg"));
    fw_pyglue_describe_home(home, out, sizeof(out));
    want = subst("home {home}");
    assert_string_equal(out, want);
    free(want);
    case_teardown(NULL);
}

/* The libpython's version is the one these headers are of (same x.y). */
static void
test_version(void **state)
{
    (void)state;
    assert_int_equal(strncmp(fw_pyglue_version(), py, strlen(py)), 0);
    fx_assert_contains(fw_pyglue_library(), "libpython");
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_no_home),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_version),
    };
    static const fx_table_t tables[] = {
        {.rows = home_cases,
         .nrows = FX_COUNT(home_cases),
         .row_size = sizeof(home_cases[0]),
         .test = test_home_case,
         .setup = case_setup,
         .teardown = case_teardown},
    };

    snprintf(py, sizeof(py), "%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    snprintf(other, sizeof(other), "%d.%d", PY_MAJOR_VERSION,
             PY_MINOR_VERSION == 9 ? 12 : 9);
    return fx_run_group("home", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), NULL, NULL);
}
