/*
 * environ.h: the WSGI environ of one request, built from the gateway's
 * parameters on top of a per-process template.  Requires Python.h to be
 * included first.
 */
#ifndef FW_ENVIRON_H
#define FW_ENVIRON_H

#include <stddef.h>

#include "pyglue/pyglue.h"

/*
 * What the C side needs to know about a request, pointing into
 * r->params (valid until the request ends): for log lines and wsgi.input.
 * The strings are length-delimited and may hold NULs.
 */
typedef struct {
    const char *method; /* REQUEST_METHOD, "GET" when absent */
    size_t method_len;
    const char *script_name; /* SCRIPT_NAME as sent ("" when absent) */
    size_t script_name_len;
    const char *path_info; /* PATH_INFO as sent ("" when absent) */
    size_t path_info_len;
    long long content_length; /* -1: absent, empty or not all digits */
    char *path_buf; /* owned (PyMem): the Authorizer role's path, which
                       path_info points into; freed by
                       fw_environ_info_clear */
} fw_request_info_t;

/*
 * Makes the template (the wsgi.* entries and the defaults) from cfg and
 * remembers cfg->mount.  Needs fw_keys_init, fw_errors_stream_init and the
 * file_wrapper type first.  GIL held.  0, or -1 with an exception set.
 */
int fw_environ_init(const fw_app_config_t *cfg);

/* Drops the template (GIL held). */
void fw_environ_fini(void);

/*
 * The environ for r: a copy of the template, every parameter (name and
 * value, length-delimited) decoded as latin-1 into a native str,
 * SCRIPT_NAME/PATH_INFO fixed up (see environ.c; the Authorizer role too),
 * wsgi.url_scheme, wsgi.input_terminated from r->input_terminated and a
 * new wsgi.input.  Fills info (release it with fw_environ_info_clear); *input
 * gets a new reference to the wsgi.input object (also in the dict).
 * New reference, or NULL with an exception set (*input then NULL).
 * GIL held.
 */
PyObject *fw_environ_build(fw_request_t *r, fw_request_info_t *info,
                           PyObject **input);

/* Releases what fw_environ_build allocated in info (info may be zeroed,
 * or filled by a failed build). */
void fw_environ_info_clear(fw_request_info_t *info);

/* For environ_paths.c: a str of the latin-1 bytes p[0..len), shared if
 * common (keys.c).  New reference, or NULL with an exception set. */
PyObject *fw_environ_decode(const char *p, size_t len);

/* dict[key] = value, then value released (NULL: returns -1, the
 * exception of the call that made it left set).  0, or -1. */
int fw_environ_set_owned(PyObject *dict, PyObject *key, PyObject *value);

#endif /* FW_ENVIRON_H */
