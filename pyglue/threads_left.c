/*
 * threads_left.c: the application's non-daemon threads at a worker's stop
 * (threads_left.h): found with threading.enumerate(), named in the log,
 * joined with a timeout (Thread.join releases the GIL).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <time.h>

#include "pyglue/errors.h"
#include "pyglue/threads_left.h"

/* The names in the warning, at most this long. */
#define THREADS_NAMES_MAX 512

/* Monotonic milliseconds. */
static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The live non-daemon threads of threading.enumerate() but the main one:
 * a new list, or NULL with an exception set.  GIL held.
 */
static PyObject *
threads_left(PyObject *threading)
{
    PyObject *all = NULL, *main_thread = NULL, *left = NULL, *result = NULL;

    all = PyObject_CallMethod(threading, "enumerate", NULL);
    if (all == NULL) {
        goto done;
    }
    main_thread = PyObject_CallMethod(threading, "main_thread", NULL);
    if (main_thread == NULL) {
        goto done;
    }
    if (!PyList_Check(all)) {
        PyErr_SetString(PyExc_TypeError,
                        "threading.enumerate() did not return a list");
        goto done;
    }
    left = PyList_New(0);
    if (left == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all); i++) {
        PyObject *t = PyList_GET_ITEM(all, i); /* borrowed */
        PyObject *daemon, *alive;
        int is_daemon, is_alive;

        if (t == main_thread) {
            continue;
        }
        daemon = PyObject_GetAttrString(t, "daemon");
        if (daemon == NULL) {
            goto done;
        }
        is_daemon = PyObject_IsTrue(daemon);
        Py_DECREF(daemon);
        alive = PyObject_CallMethod(t, "is_alive", NULL);
        if (alive == NULL) {
            goto done;
        }
        is_alive = PyObject_IsTrue(alive);
        Py_DECREF(alive);
        if (is_daemon < 0 || is_alive < 0) {
            goto done;
        }
        if (!is_daemon && is_alive && PyList_Append(left, t) < 0) {
            goto done;
        }
    }
    result = left;
    left = NULL;

done:
    Py_XDECREF(left);
    Py_XDECREF(main_thread);
    Py_XDECREF(all);
    return result;
}

/* "'name1', 'name2'" of the threads in list (cut to fit buf).  GIL
 * held; a thread whose name cannot be read shows as '?'. */
static void
thread_names(PyObject *list, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list) && used < size; i++) {
        PyObject *name =
            PyObject_GetAttrString(PyList_GET_ITEM(list, i), "name");
        const char *text = name != NULL ? PyUnicode_AsUTF8(name) : NULL;
        int n;

        if (text == NULL) {
            PyErr_Clear();
            text = "?";
        }
        n = snprintf(buf + used, size - used, "%s'%s'", i > 0 ? ", " : "",
                     text);
        Py_XDECREF(name);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* Joins each thread of list with what is left of the time until
 * deadline (monotonic ms).  0, or -1 with an exception set. */
static int
join_until(PyObject *list, long long deadline)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        long long left = deadline - now_ms();
        PyObject *r;

        if (left <= 0) {
            break;
        }
        r = PyObject_CallMethod(PyList_GET_ITEM(list, i), "join", "d",
                                (double)left / 1000.0);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    return 0;
}

int
fw_pyglue_threads_wait(long timeout_ms, const char *limit)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    PyObject *threading = NULL, *left = NULL;
    char names[THREADS_NAMES_MAX];
    int count = 0;

    threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        goto error;
    }
    left = threads_left(threading);
    if (left == NULL) {
        goto error;
    }
    if (PyList_GET_SIZE(left) == 0) {
        goto done;
    }
    thread_names(left, names, sizeof(names));
    fw_errors_log(FW_LOG_WARN,
                  "the worker cannot exit: the application left %zd "
                  "non-daemon thread(s) running: %s; it waits for them at "
                  "most %ld s more (%s)",
                  PyList_GET_SIZE(left), names, (timeout_ms + 999) / 1000,
                  limit);
    if (join_until(left, deadline) < 0) {
        goto error;
    }
    Py_DECREF(left);
    left = threads_left(threading);
    if (left == NULL) {
        goto error;
    }
    count = (int)PyList_GET_SIZE(left);
    if (count > 0) {
        thread_names(left, names, sizeof(names));
        fw_errors_log(FW_LOG_ERROR,
                      "non-daemon thread(s) %s still running when the wait "
                      "(%s) ended: the worker exits without finalising "
                      "Python, which ends them",
                      names, limit);
    }
    goto done;

error:
    fw_errors_log_exception("cannot look for the application's threads");
    count = 0;
done:
    Py_XDECREF(left);
    Py_XDECREF(threading);
    PyGILState_Release(gil);
    return count;
}
