/*
 * environ.c: builds each request's WSGI environ: a PyDict_Copy of a
 * template made once (wsgi.* entries and defaults), then every request
 * parameter decoded straight into it.  It reads no body and writes
 * nothing; it only looks at r->params and r->input_terminated.
 *
 * Parameters: length-delimited name and value bytes (fw_param_t), taken
 * whole: a NUL or a '=' inside either is kept, and every comparison is by
 * length.  Both are decoded as latin-1 into native str (PEP 3333: a
 * UTF-8 path "/caf\xc3\xa9" arrives as "/cafÃ©").  Well-known names are
 * interned once (keys.c); common values are shared objects; a param sent
 * with the same bytes as the last request's at its position gets the
 * same objects (environ_cache.c).  Empty names
 * and names starting with "wsgi." are ignored, and so are
 * HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH (nginx passes the request
 * headers as HTTP_*; CGI and PEP 3333 want only CONTENT_TYPE and
 * CONTENT_LENGTH).  CONTENT_LENGTH counts as absent for wsgi.input unless
 * all of its bytes are digits ("12\0x" is not 12).
 *
 * wsgi.input_terminated is r->input_terminated: True when the gateway's
 * read() returns 0 at the true end of the body (FastCGI), so that an
 * application may read a body sent without CONTENT_LENGTH to its end.
 *
 * Defaults when the web server does not send them: REQUEST_METHOD "GET",
 * QUERY_STRING "", SERVER_NAME "localhost", SERVER_PORT "80" ("443" for
 * https), SERVER_PROTOCOL "HTTP/1.0", SCRIPT_NAME "", PATH_INFO "".
 * wsgi.url_scheme is "https" when HTTPS is exactly "on" (any case) or "1",
 * or REQUEST_SCHEME is exactly "https" (any case), else "http".
 *
 * SCRIPT_NAME and PATH_INFO (the mount, nginx's whole path as
 * SCRIPT_NAME), and the Authorizer role (FCGI_ROLE, no CONTENT_LENGTH, the
 * path being authorized): the rules are written at the top of
 * environ_paths.c, which sets the paths.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pyglue/environ.h"
#include "pyglue/environ_cache.h"
#include "pyglue/environ_paths.h"
#include "pyglue/errors_stream.h"
#include "pyglue/file_wrapper.h"
#include "pyglue/input.h"
#include "pyglue/keys.h"

/* The most entries the template is given room for: a request with more
 * params pays for its own dict's growth. */
#define ENVIRON_ROOM_MAX 128

static PyObject *environ_template;
/* The entries a copy of the template holds before it must grow. */
static Py_ssize_t environ_room;

int
fw_environ_set_owned(PyObject *dict, PyObject *key, PyObject *value)
{
    int rc;

    if (value == NULL) {
        return -1;
    }
    rc = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return rc;
}

int
fw_environ_init(const fw_app_config_t *cfg)
{
    PyObject *t = NULL;
    PyObject *errors; /* borrowed */

    fw_environ_fini();

    errors = fw_errors_stream_object();
    if (errors == NULL) {
        return -1;
    }
    t = PyDict_New();
    if (t == NULL) {
        goto error;
    }
    if (fw_environ_set_owned(t, FW_KEY(WSGI_VERSION),
                             Py_BuildValue("(ii)", 1, 0)) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_URL_SCHEME), FW_VALUE(SCHEME_HTTP)) <
            0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_INPUT), Py_None) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_INPUT_TERMINATED), Py_True) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_ERRORS), errors) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_MULTITHREAD),
                       cfg->multithread ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_MULTIPROCESS),
                       cfg->multiprocess || cfg->run_once ? Py_True
                                                          : Py_False) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_RUN_ONCE),
                       cfg->run_once ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(t, FW_KEY(WSGI_FILE_WRAPPER), fw_file_wrapper_type()) <
            0 ||
        PyDict_SetItem(t, FW_KEY(REQUEST_METHOD), FW_VALUE(GET)) < 0 ||
        PyDict_SetItem(t, FW_KEY(SCRIPT_NAME), FW_VALUE(EMPTY)) < 0 ||
        PyDict_SetItem(t, FW_KEY(PATH_INFO), FW_VALUE(EMPTY)) < 0 ||
        PyDict_SetItem(t, FW_KEY(QUERY_STRING), FW_VALUE(EMPTY)) < 0 ||
        PyDict_SetItem(t, FW_KEY(SERVER_NAME), FW_VALUE(LOCALHOST)) < 0 ||
        PyDict_SetItem(t, FW_KEY(SERVER_PORT), FW_VALUE(PORT_80)) < 0 ||
        PyDict_SetItem(t, FW_KEY(SERVER_PROTOCOL), FW_VALUE(HTTP_1_0)) < 0) {
        goto error;
    }

    if (fw_environ_paths_init(cfg) < 0) {
        goto error;
    }
    environ_template = t;
    environ_room = PyDict_GET_SIZE(t);
    return 0;

error:
    Py_XDECREF(t);
    fw_environ_fini();
    return -1;
}

void
fw_environ_fini(void)
{
    Py_CLEAR(environ_template);
    environ_room = 0;
    fw_environ_cache_clear();
    fw_environ_paths_fini();
}

PyObject *
fw_environ_decode(const char *p, size_t len)
{
    PyObject *shared = fw_values_find(p, len); /* borrowed */

    if (shared != NULL) {
        return Py_NewRef(shared);
    }
    return PyUnicode_DecodeLatin1(p, (Py_ssize_t)len, NULL);
}

/*
 * CONTENT_LENGTH p[0..len) as a number: -1 when empty, too large, or not
 * all digits (a NUL inside is not a digit either).
 */
static long long
parse_content_length(const char *p, size_t len)
{
    long long n = 0;

    if (len == 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || n > (LLONG_MAX - 9) / 10) {
            return -1;
        }
        n = n * 10 + (p[i] - '0');
    }
    return n;
}

/* Whether p[0..len) is the ASCII text lit, ignoring case. */
static int
value_is(const char *p, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    return len == n && strncasecmp(p, lit, n) == 0;
}

void
fw_environ_info_clear(fw_request_info_t *info)
{
    PyMem_Free(info->path_buf);
    info->path_buf = NULL;
}

/* What the params say beyond their own keys, gathered while they are
 * copied. */
typedef struct {
    int https;
    int port_seen;
    int authorizer;
    const fw_param_t *request_uri; /* the Authorizer role's path */
} environ_scan_t;

static void
environ_info_reset(fw_request_info_t *info)
{
    info->method = "GET";
    info->method_len = 3;
    info->script_name = "";
    info->script_name_len = 0;
    info->path_info = "";
    info->path_info_len = 0;
    info->content_length = -1;
    info->path_buf = NULL;
}

/*
 * The i-th param into env (or into info, for the paths
 * fw_environ_paths_set derives), its key and value the objects of the
 * environ cache (environ_cache.c).  0, or -1 with an exception.
 */
static int
environ_param(PyObject *env, fw_request_info_t *info, environ_scan_t *scan,
              size_t i, const fw_param_t *param)
{
    const char *v = param->value;
    size_t vlen = param->value_len;
    fw_environ_slot_t *slot;
    PyObject *key;   /* borrowed from the slot */
    PyObject *value; /* borrowed from the slot */

    if (param->name_len == 0 ||
        (param->name_len >= 5 && memcmp(param->name, "wsgi.", 5) == 0)) {
        return 0;
    }
    slot = fw_environ_cache_slot(i, param);
    if (slot == NULL) {
        return -1;
    }
    key = fw_environ_slot_key(slot);
    if (key == FW_KEY(HTTP_CONTENT_TYPE) ||
        key == FW_KEY(HTTP_CONTENT_LENGTH)) {
        return 0; /* CGI: these are CONTENT_TYPE and CONTENT_LENGTH */
    }
    if (scan->authorizer &&
        (key == FW_KEY(CONTENT_LENGTH) || key == FW_KEY(FCGI_ROLE))) {
        return 0; /* no body; the role is set by environ_finish */
    }
    if (key == FW_KEY(REQUEST_URI)) {
        scan->request_uri = param;
    }

    if (key == FW_KEY(SCRIPT_NAME)) {
        info->script_name = v;
        info->script_name_len = vlen;
        return 0; /* set by fw_environ_paths_set */
    }
    if (key == FW_KEY(PATH_INFO)) {
        info->path_info = v;
        info->path_info_len = vlen;
        return 0;
    }
    if (key == FW_KEY(REQUEST_METHOD)) {
        info->method = v;
        info->method_len = vlen;
    } else if (key == FW_KEY(CONTENT_LENGTH)) {
        info->content_length = parse_content_length(v, vlen);
    } else if (key == FW_KEY(HTTPS)) {
        scan->https |= value_is(v, vlen, "on") || value_is(v, vlen, "1");
    } else if (key == FW_KEY(REQUEST_SCHEME)) {
        scan->https |= value_is(v, vlen, "https");
    } else if (key == FW_KEY(SERVER_PORT)) {
        scan->port_seen = 1;
    }

    value = fw_environ_slot_value(slot, param);
    if (value == NULL) {
        return -1;
    }
    return PyDict_SetItem(env, key, value);
}

/* The keys the params imply: the scheme and port of HTTPS, the
 * Authorizer's role and path, wsgi.input_terminated, the paths.  0 or -1
 * with an exception. */
static int
environ_finish(PyObject *env, fw_request_t *r, fw_request_info_t *info,
               const environ_scan_t *scan)
{
    if (scan->https) {
        if (PyDict_SetItem(env, FW_KEY(WSGI_URL_SCHEME),
                           FW_VALUE(SCHEME_HTTPS)) < 0 ||
            (!scan->port_seen && PyDict_SetItem(env, FW_KEY(SERVER_PORT),
                                                FW_VALUE(PORT_443)) < 0)) {
            return -1;
        }
    }
    if (scan->authorizer) {
        if (PyDict_SetItem(env, FW_KEY(FCGI_ROLE), FW_VALUE(ROLE_AUTHORIZER)) <
                0 ||
            (scan->request_uri != NULL &&
             fw_environ_paths_authorizer(info, scan->request_uri->value,
                                         scan->request_uri->value_len) < 0)) {
            return -1;
        }
    }
    if (!r->input_terminated &&
        PyDict_SetItem(env, FW_KEY(WSGI_INPUT_TERMINATED), Py_False) < 0) {
        return -1; /* the template says True */
    }
    return fw_environ_paths_set(env, info);
}

/*
 * After an environ of n entries: the template again, with room for them
 * (up to ENVIRON_ROOM_MAX), so that the next copies are made at their
 * size instead of growing on the way.  A copy of a dict takes its size
 * (PyDict_Copy); the entries are set one by one, for PyDict_Update would
 * copy the small table.  Failing to grow keeps the template as it is.
 */
static void
environ_template_fit(Py_ssize_t n)
{
    PyObject *t;
    PyObject *key, *value; /* borrowed */
    Py_ssize_t pos = 0;

    if (n <= environ_room || environ_room >= ENVIRON_ROOM_MAX) {
        return;
    }
    n = n < ENVIRON_ROOM_MAX ? n : ENVIRON_ROOM_MAX;
    t = _PyDict_NewPresized(n);
    if (t == NULL) {
        PyErr_Clear();
        return;
    }
    while (PyDict_Next(environ_template, &pos, &key, &value)) {
        if (PyDict_SetItem(t, key, value) < 0) {
            Py_DECREF(t);
            PyErr_Clear();
            return;
        }
    }
    Py_SETREF(environ_template, t);
    environ_room = n;
}

PyObject *
fw_environ_build(fw_request_t *r, fw_request_info_t *info, PyObject **input)
{
    environ_scan_t scan = {.authorizer = r->role == FW_ROLE_AUTHORIZER};
    PyObject *env;

    environ_info_reset(info);
    *input = NULL;
    if (environ_template == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the WSGI environ was not initialised");
        return NULL;
    }
    env = PyDict_Copy(environ_template);
    if (env == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->nparams; i++) {
        if (environ_param(env, info, &scan, i, &r->params[i]) < 0) {
            goto error;
        }
    }
    if (environ_finish(env, r, info, &scan) < 0) {
        goto error;
    }

    *input = fw_input_new(r, scan.authorizer ? 0 : info->content_length);
    if (*input == NULL ||
        PyDict_SetItem(env, FW_KEY(WSGI_INPUT), *input) < 0) {
        goto error;
    }
    environ_template_fit(PyDict_GET_SIZE(env));
    return env;

error:
    Py_CLEAR(*input);
    Py_DECREF(env);
    return NULL;
}
