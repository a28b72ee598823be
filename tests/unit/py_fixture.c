/*
 * py_fixture.c: starts Python for a unit test binary the way the server
 * does (fw_pyglue_start with unit_apps:application and the in-memory log),
 * and lets tests look at Python state.  Test support only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pyglue/environ.h"
#include "tests/unit/py_fixture.h"

static fw_pyglue_thread_t *fx_main_thread;
static const char *fx_pythonpath[1];

static fw_app_config_t fx_cfg = {
    .program = "fw-unit-test",
    .pythonpath = fx_pythonpath,
    .npythonpath = 1,
    .module = "unit_apps",
    .callable = "application",
    .mount = NULL,
    .multithread = 0,
    .multiprocess = 1,
    .log = mem_log_sink,
};

int
fx_group_setup(void **state)
{
    (void)state;
    fx_pythonpath[0] = getenv("FW_TEST_APPS");
    if (fx_pythonpath[0] == NULL) {
        fprintf(stderr, "FW_TEST_APPS is not set (run through make)\n");
        return -1;
    }
    if (fw_pyglue_start(&fx_cfg) < 0) {
        fprintf(stderr, "fw_pyglue_start failed:\n%s\n", mem_log_text());
        return -1;
    }
    fx_main_thread = fw_pyglue_thread_attach();
    return fx_main_thread != NULL ? 0 : -1;
}

int
fx_group_teardown(void **state)
{
    (void)state;
    fw_pyglue_thread_detach(fx_main_thread);
    fx_main_thread = NULL;
    fw_pyglue_stop();
    return 0;
}

int
fx_test_setup(void **state)
{
    (void)state;
    fx_exec("CLOSED.clear(); KEPT.clear()");
    mem_log_reset();
    return 0;
}

fw_pyglue_thread_t *
fx_thread(void)
{
    return fx_main_thread;
}

void
fx_reconfigure(const char *mount, int multithread, int multiprocess)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int rc;

    fx_cfg.mount = mount;
    fx_cfg.multithread = multithread;
    fx_cfg.multiprocess = multiprocess;
    rc = fw_environ_init(&fx_cfg);
    if (rc < 0) {
        PyErr_Print();
    }
    PyGILState_Release(g);
    assert_int_equal(rc, 0);
}

fw_pyglue_result_e
fx_handle(mem_request_t *m)
{
    if (m->body == NULL) {
        /* mem_read would memcpy from NULL (0 bytes): UBSan objects */
        m->body = "";
    }
    return fw_pyglue_handle(fx_main_thread, &m->req);
}

fw_pyglue_result_e
fx_run(mem_request_t *m, const char *const *params, const char *body,
       size_t body_len)
{
    mem_request_init(m, params, body, body_len);
    return fx_handle(m);
}

fw_pyglue_result_e
fx_run_gone(mem_request_t *m, const char *const *params)
{
    mem_request_init(m, params, NULL, 0);
    m->fail_write = 1;
    return fx_handle(m);
}

static char *
xstrdup(const char *s)
{
    char *copy = strdup(s);

    if (copy == NULL) {
        abort();
    }
    return copy;
}

/* unit_apps.__dict__ (new reference), or NULL; GIL held. */
static PyObject *
apps_namespace(void)
{
    PyObject *module = PyImport_ImportModule("unit_apps");
    PyObject *ns;

    if (module == NULL) {
        PyErr_Print();
        return NULL;
    }
    ns = Py_NewRef(PyModule_GetDict(module));
    Py_DECREF(module);
    return ns;
}

/* "Name: message" for the pending exception, which is cleared. */
static char *
describe_exception(void)
{
    PyObject *type = NULL;
    PyObject *value = NULL;
    PyObject *tb = NULL;
    PyObject *text = NULL;
    char *out;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    text = PyUnicode_FromFormat("%s: %S", ((PyTypeObject *)type)->tp_name,
                                value != NULL ? value : Py_None);
    out = xstrdup(text != NULL ? PyUnicode_AsUTF8(text) : "(unprintable)");
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(tb);
    Py_XDECREF(value);
    Py_XDECREF(type);
    return out;
}

char *
fx_eval(const char *expr)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *ns = apps_namespace();
    PyObject *result = NULL;
    PyObject *str = NULL;
    char *out;

    if (ns == NULL) {
        PyGILState_Release(g);
        fail_msg("unit_apps is not imported");
        return NULL;
    }
    result = PyRun_String(expr, Py_eval_input, ns, ns);
    if (result != NULL) {
        str = PyObject_Str(result);
    }
    if (str != NULL) {
        out = xstrdup(PyUnicode_AsUTF8(str));
    } else {
        out = describe_exception();
    }
    Py_XDECREF(str);
    Py_XDECREF(result);
    Py_DECREF(ns);
    PyGILState_Release(g);
    return out;
}

void
fx_assert_eval(const char *expr, const char *want)
{
    char *got = fx_eval(expr);

    assert_string_equal(got, want);
    free(got);
}

void
fx_exec(const char *code)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *ns = apps_namespace();
    PyObject *result = NULL;
    char *error = NULL;

    if (ns != NULL) {
        result = PyRun_String(code, Py_file_input, ns, ns);
        if (result == NULL) {
            error = describe_exception();
        }
    }
    Py_XDECREF(result);
    Py_XDECREF(ns);
    PyGILState_Release(g);
    if (ns == NULL) {
        fail_msg("unit_apps is not imported");
    }
    if (error != NULL) {
        fprintf(stderr, "%s raised %s\n", code, error);
        free(error);
        fail_msg("Python code raised");
    }
}

const char *
fx_body(const mem_request_t *m)
{
    const char *end = strstr(m->out, "\r\n\r\n");

    return end != NULL ? end + 4 : "";
}

const char fx_response_500[] = "Status: 500 Internal Server Error\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 22\r\n"
                               "\r\n"
                               "Internal Server Error\n";

void
fx_expect(const mem_request_t *m, fw_pyglue_result_e got,
          const fx_want_t *want)
{
    assert_int_equal(got, want->result);
    if (want->out != NULL) {
        assert_string_equal(m->out, want->out);
    }
    if (want->body != NULL) {
        assert_string_equal(fx_body(m), want->body);
    }
    if (want->log != NULL) {
        assert_string_equal(mem_log_text(), want->log);
    }
    for (size_t i = 0; i < FX_COUNT(want->log_has) && want->log_has[i] != NULL;
         i++) {
        fx_assert_contains(mem_log_text(), want->log_has[i]);
    }
}

void
fx_assert_next_request_works(void)
{
    const char *params[] = {"TEST_APP=hello", "SCRIPT_NAME=/", NULL};
    mem_request_t m;

    fx_expect(&m, fx_run(&m, params, NULL, 0),
              &(fx_want_t){.out = "Status: 200 OK\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "\r\n"
                                  "Hello, world!\n"});
    mem_request_free(&m);
}

void
fx_test_case(void **state)
{
    const fx_case_t *tc = *state;
    const char *body = tc->body != NULL ? tc->body : "";
    mem_request_t m;
    fw_pyglue_result_e got;

    mem_request_init(&m, tc->params, body, strlen(body));
    m.fail_write = tc->client_gone;
    got = fx_handle(&m);
    fx_expect(&m, got, &tc->want);
    mem_request_free(&m);
    if (tc->closed != NULL) {
        fx_assert_eval("CLOSED", tc->closed);
    }
    fx_assert_next_request_works();
}
