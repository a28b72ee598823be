/*
 * modules.c: the files of the modules the process imported (sys.modules),
 * for py-autoreload's watch in the bridge.  It reads module dicts only
 * (no attribute lookup that could run the application's code) and never
 * touches an interpreter that is being finalised.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#include "pyglue/pyglue.h"

/*
 * The fence: a caller from another thread holds the lock while it runs
 * Python; the interpreter's atexit hook (modules_close, run by
 * Py_FinalizeEx before it tears anything down) takes the lock, so it
 * waits for such a call to end, and sets closed, so no call starts
 * after.  hooked: the hook is registered (by the first call).
 */
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static int modules_closed;
static int modules_hooked;

/* The atexit hook.  GIL held on entry and return; released while it
 * waits for the lock (the caller holding it may be waiting for the GIL). */
static PyObject *
modules_close(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&modules_lock);
    modules_closed = 1;
    pthread_mutex_unlock(&modules_lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef modules_close_def = {
    "fcgi_wsgi_autoreload_close", modules_close, METH_NOARGS,
    "fcgi-wsgi: no more looks at sys.modules (interpreter exit)"};

/* atexit.register(modules_close).  0, or -1 with an exception set.  GIL
 * held. */
static int
modules_hook(void)
{
    PyObject *atexit = NULL;
    PyObject *hook = NULL;
    PyObject *res = NULL;

    atexit = PyImport_ImportModule("atexit");
    if (atexit == NULL) {
        goto done;
    }
    hook = PyCFunction_New(&modules_close_def, NULL);
    if (hook == NULL) {
        goto done;
    }
    res = PyObject_CallMethod(atexit, "register", "O", hook);

done:
    Py_XDECREF(res);
    Py_XDECREF(hook);
    Py_XDECREF(atexit);
    return res != NULL ? 0 : -1;
}

/*
 * Gives each(arg, path) the file of every module in a snapshot of
 * sys.modules.  A module without a str __file__ is skipped; a path that
 * cannot be encoded is skipped (its error cleared).  Returns how many
 * were given, or -1 with an exception set.  GIL held.
 */
static int
modules_walk(fw_pyglue_file_pt each, void *arg)
{
    PyObject *modules; /* borrowed */
    PyObject *values = NULL;
    PyObject *key = NULL;
    int given = 0;

    modules = PySys_GetObject("modules");
    if (modules == NULL || !PyDict_Check(modules)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.modules is not a dict");
        return -1;
    }
    values = PyDict_Values(modules);
    key = PyUnicode_InternFromString("__file__");
    if (values == NULL || key == NULL) {
        given = -1;
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); i++) {
        PyObject *mod = PyList_GET_ITEM(values, i); /* borrowed */
        PyObject *file;                             /* borrowed */
        PyObject *path;

        if (!PyModule_Check(mod)) {
            continue;
        }
        file = PyDict_GetItemWithError(PyModule_GetDict(mod), key);
        if (file == NULL || !PyUnicode_Check(file)) {
            PyErr_Clear();
            continue;
        }
        path = PyUnicode_EncodeFSDefault(file);
        if (path == NULL) {
            PyErr_Clear();
            continue;
        }
        each(arg, PyBytes_AS_STRING(path));
        Py_DECREF(path);
        given++;
    }

done:
    Py_XDECREF(key);
    Py_XDECREF(values);
    return given;
}

int
fw_pyglue_module_files(fw_pyglue_file_pt each, void *arg)
{
    PyGILState_STATE gil;
    int given = -1;

    pthread_mutex_lock(&modules_lock);
    if (modules_closed || !Py_IsInitialized()) {
        pthread_mutex_unlock(&modules_lock);
        return -1;
    }
    gil = PyGILState_Ensure();
    if (!modules_hooked && modules_hook() < 0) {
        PyErr_Clear();
    } else {
        modules_hooked = 1;
        given = modules_walk(each, arg);
        if (given < 0) {
            PyErr_Clear();
        }
    }
    PyGILState_Release(gil);
    pthread_mutex_unlock(&modules_lock);
    return given;
}
