/*
 * test_modules.c: pyglue/modules.c, the module files py-autoreload
 * watches: the application's file and a module imported later are given,
 * from the main thread and from another; what has no str __file__, and
 * what is not a module, is skipped without running the application's code
 * (a module __getattr__); once the interpreter starts finalising (its
 * atexit functions run) and after, the call touches Python no more and
 * returns -1.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/py_fixture.h"

/* What one walk gave: the paths, one a line. */
typedef struct {
    char text[1 << 16];
    size_t len;
    int count;
} paths_t;

static void
collect(void *arg, const char *path)
{
    paths_t *p = arg;
    int n = snprintf(p->text + p->len, sizeof(p->text) - p->len, "%s\n", path);

    if (n > 0 && (size_t)n < sizeof(p->text) - p->len) {
        p->len += (size_t)n;
    }
    p->count++;
}

/* Whether a line of p ends with suffix. */
static int
has_suffix_line(const paths_t *p, const char *suffix)
{
    char needle[256];

    snprintf(needle, sizeof(needle), "%s\n", suffix);
    return strstr(p->text, needle) != NULL;
}

static int
walk(paths_t *p)
{
    memset(p, 0, sizeof(*p));
    return fw_pyglue_module_files(collect, p);
}

/* The application's file; a module imported later joins the list. */
static void
test_app_and_later_imports(void **state)
{
    paths_t p;
    int n;

    (void)state;
    n = walk(&p);
    assert_int_equal(n, p.count);
    assert_true(n > 10);
    assert_true(has_suffix_line(&p, "/tests/apps/unit_apps.py"));
    assert_false(has_suffix_line(&p, "/xml/dom/minidom.py"));
    fx_exec("import xml.dom.minidom");
    walk(&p);
    assert_true(has_suffix_line(&p, "/xml/dom/minidom.py"));
}

/* No str __file__, not a module: skipped; a module __getattr__ is never
 * called (the dict is read, no attribute looked up). */
static void
test_skipped(void **state)
{
    paths_t p;
    char *called;

    (void)state;
    fx_exec("import sys, types\n"
            "odd = types.ModuleType('fw_odd'); odd.__file__ = 42\n"
            "lazy = types.ModuleType('fw_lazy')\n"
            "GETATTR_CALLS = []\n"
            "def _ga(name):\n"
            "    GETATTR_CALLS.append(name)\n"
            "    return '/nowhere/fw_lazy.py'\n"
            "lazy.__getattr__ = _ga\n"
            "class NotModule:\n"
            "    __file__ = '/nowhere/fw_not_module.py'\n"
            "sys.modules.update(fw_odd=odd, fw_lazy=lazy,\n"
            "                   fw_not_module=NotModule())\n");
    walk(&p);
    assert_null(strstr(p.text, "/nowhere/"));
    assert_null(strstr(p.text, "42"));
    called = fx_eval("GETATTR_CALLS");
    assert_string_equal(called, "[]");
    free(called);
    fx_exec("for k in ('fw_odd', 'fw_lazy', 'fw_not_module'):\n"
            "    del sys.modules[k]\n");
}

static void *
walk_thread(void *arg)
{
    paths_t *p = arg;

    walk(p);
    return NULL;
}

/* From a thread Python never saw (py-autoreload's watch). */
static void
test_from_another_thread(void **state)
{
    static paths_t p;
    pthread_t tid;

    (void)state;
    assert_int_equal(pthread_create(&tid, NULL, walk_thread, &p), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_true(has_suffix_line(&p, "/tests/apps/unit_apps.py"));
}

/* The atexit functions ran (Py_FinalizeEx's first step): closed, while
 * the interpreter is still there.  Last: the fence stays shut. */
static void
test_closed_at_exit(void **state)
{
    paths_t p;

    (void)state;
    assert_true(walk(&p) > 0);
    fx_exec("import atexit\natexit._run_exitfuncs()\n");
    assert_int_equal(walk(&p), -1);
    assert_int_equal(p.count, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_app_and_later_imports, fx_test_setup),
        cmocka_unit_test_setup(test_skipped, fx_test_setup),
        cmocka_unit_test_setup(test_from_another_thread, fx_test_setup),
        cmocka_unit_test_setup(test_closed_at_exit, fx_test_setup),
    };
    paths_t p;
    int failed;

    failed = cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
    /* the interpreter is finalised (fx_group_teardown): -1, no Python */
    if (walk(&p) != -1 || p.count != 0) {
        fprintf(stderr, "after finalisation: %d paths\n", p.count);
        failed++;
    } else {
        printf("[       OK ] after finalisation: -1\n");
    }
    return failed;
}
