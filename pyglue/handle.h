/*
 * handle.h: the request path behind fw_pyglue_handle(), and its one-time
 * set-up.  interp.c calls fw_handle_init once the app is imported.
 * Requires Python.h to be included first.
 */
#ifndef FW_HANDLE_H
#define FW_HANDLE_H

#include "pyglue.h"

/*
 * Builds every per-process constant (interned environ keys, the environ
 * template, wsgi.errors, types) and keeps a new reference to app.  GIL
 * held.  Returns 0, or -1 with a Python exception set.
 */
int fw_handle_init(PyObject *app, const fw_app_config_t *cfg);

/* Drops what fw_handle_init made; GIL held. */
void fw_handle_fini(void);

#endif /* FW_HANDLE_H */
