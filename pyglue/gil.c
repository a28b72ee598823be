/*
 * gil.c: see gil.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <time.h>

#include "pyglue/gil.h"

void
fw_gil_wait_clear(const int *flag)
{
    while (*flag) {
        struct timespec pause = {0, 1000000};

        Py_BEGIN_ALLOW_THREADS
        nanosleep(&pause, NULL);
        Py_END_ALLOW_THREADS
    }
}
