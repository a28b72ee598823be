/*
 * traceback_dump.c: registers faulthandler's dump on a signal
 * (traceback_dump.h).  Runs Python once, at a worker's start; the dump
 * itself happens in faulthandler's C signal handler.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pyglue/errors.h"
#include "pyglue/traceback_dump.h"

int
fw_pyglue_dump_on_signal(int signo, int fd)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *module = NULL;
    PyObject *reg = NULL;
    PyObject *args = NULL;
    PyObject *kwargs = NULL;
    PyObject *result = NULL;
    int rc = -1;

    module = PyImport_ImportModule("faulthandler");
    if (module == NULL) {
        goto error;
    }
    reg = PyObject_GetAttrString(module, "register");
    if (reg == NULL) {
        goto error;
    }
    args = Py_BuildValue("(i)", signo);
    if (args == NULL) {
        goto error;
    }
    kwargs = Py_BuildValue("{s:i,s:O,s:O}", "file", fd, "all_threads", Py_True,
                           "chain", Py_True);
    if (kwargs == NULL) {
        goto error;
    }
    result = PyObject_Call(reg, args, kwargs);
    if (result == NULL) {
        goto error;
    }
    rc = 0;
    goto done;

error:
    fw_errors_log_exception("cannot register the Python stack dump signal "
                            "(faulthandler)");
done:
    Py_XDECREF(result);
    Py_XDECREF(kwargs);
    Py_XDECREF(args);
    Py_XDECREF(reg);
    Py_XDECREF(module);
    PyGILState_Release(gil);
    return rc;
}
