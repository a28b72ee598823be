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
 * interned once (keys.c); common values are shared objects.  Empty names
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
 * SCRIPT_NAME and PATH_INFO (the full path is SCRIPT_NAME + PATH_INFO as
 * sent):
 *   - with a mount (cfg->mount, e.g. "/app"; trailing '/' ignored, "/"
 *     means none): when the full path is the mount or starts with mount
 *     + "/", SCRIPT_NAME = mount and PATH_INFO = the rest ("/app" gives
 *     PATH_INFO ""); any other path gets SCRIPT_NAME "" and PATH_INFO =
 *     the full path.
 *   - without a mount, when PATH_INFO is empty or missing (nginx's stock
 *     fastcgi_params sends the whole path as SCRIPT_NAME): PATH_INFO =
 *     SCRIPT_NAME and SCRIPT_NAME = "", so that the application sees the
 *     browser's path.
 *   - otherwise both are kept as sent.  A CGI request (cfg->run_once) is
 *     always taken as sent: a CGI server sends SCRIPT_NAME as the
 *     script's URL and PATH_INFO "" for the script itself.
 *
 * The Authorizer role (r->role; FastCGI's FCGI_AUTHORIZER, or forced by
 * `role = authorizer`): the web server asks whether the request may go
 * on, and sends no body, no CONTENT_LENGTH and no SCRIPT_NAME/PATH_INFO
 * (mod_fcgid; lighttpd sends CONTENT_LENGTH of the request it holds).  So:
 *   - FCGI_ROLE is "AUTHORIZER" (a responder has FCGI_ROLE "RESPONDER"
 *     when the web server speaks FastCGI);
 *   - CONTENT_LENGTH is left out and wsgi.input is empty;
 *   - PATH_INFO is the path of the request being authorized: REQUEST_URI
 *     up to its first '?', %XX-decoded, "//" merged and "." / ".."
 *     segments resolved (as web servers map a URL to a file, so that the
 *     application decides on the path that is served, not on
 *     "/public/../private"); SCRIPT_NAME is "" (or the mount, by the rule
 *     above).  Without REQUEST_URI, the paths sent are used as for a
 *     responder.  REQUEST_URI itself is passed on untouched.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pyglue/environ.h"
#include "pyglue/errors.h"
#include "pyglue/file_wrapper.h"
#include "pyglue/input.h"
#include "pyglue/keys.h"

/* Paths up to this long are joined on the stack. */
#define ENVIRON_PATH_STACK 2048

static PyObject *environ_template;
static char *environ_mount; /* bytes, no trailing '/'; NULL: no mount */
static size_t environ_mount_len;
static PyObject *environ_mount_str; /* environ_mount decoded as latin-1 */
static int environ_paths_as_sent;   /* CGI: SCRIPT_NAME/PATH_INFO as sent */

/* Sets template[key] = value and releases value (which may be NULL). */
static int
set_owned(PyObject *dict, PyObject *key, PyObject *value)
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
    const char *mount = cfg->mount != NULL ? cfg->mount : "";
    size_t mount_len = strlen(mount);

    fw_environ_fini();

    errors = fw_errors_object();
    if (errors == NULL) {
        return -1;
    }
    t = PyDict_New();
    if (t == NULL) {
        goto error;
    }
    if (set_owned(t, FW_KEY(WSGI_VERSION), Py_BuildValue("(ii)", 1, 0)) < 0 ||
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

    while (mount_len > 0 && mount[mount_len - 1] == '/') {
        mount_len--;
    }
    if (mount_len > 0) {
        environ_mount = PyMem_Malloc(mount_len + 1);
        if (environ_mount == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        memcpy(environ_mount, mount, mount_len);
        environ_mount[mount_len] = '\0';
        environ_mount_len = mount_len;
        environ_mount_str =
            PyUnicode_DecodeLatin1(mount, (Py_ssize_t)mount_len, NULL);
        if (environ_mount_str == NULL) {
            goto error;
        }
    }

    environ_paths_as_sent = cfg->run_once;
    environ_template = t;
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
    Py_CLEAR(environ_mount_str);
    PyMem_Free(environ_mount);
    environ_mount = NULL;
    environ_mount_len = 0;
}

/* A str of the latin-1 bytes p[0..len): shared if common.  New ref. */
static PyObject *
decode_value(const char *p, size_t len)
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

/*
 * Sets SCRIPT_NAME and PATH_INFO from what was sent, by the rule in the
 * header comment.  0, or -1 with an exception set.
 */
static int
set_paths(PyObject *env, const fw_request_info_t *info)
{
    const char *sn = info->script_name;
    const char *pi = info->path_info;
    size_t snl = info->script_name_len;
    size_t pil = info->path_info_len;
    char stack[ENVIRON_PATH_STACK];
    char *full = stack;
    size_t total = snl + pil;
    int rc = -1;

    if (environ_mount == NULL) {
        if (pil == 0 && !environ_paths_as_sent) {
            /* nginx's fastcgi_params: the whole path came as SCRIPT_NAME */
            pi = sn;
            pil = snl;
            sn = "";
            snl = 0;
        }
        if (set_owned(env, FW_KEY(SCRIPT_NAME), decode_value(sn, snl)) < 0 ||
            set_owned(env, FW_KEY(PATH_INFO), decode_value(pi, pil)) < 0) {
            return -1;
        }
        return 0;
    }

    if (total > sizeof(stack)) {
        full = PyMem_Malloc(total);
        if (full == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    memcpy(full, sn, snl);
    memcpy(full + snl, pi, pil);

    if (total >= environ_mount_len &&
        memcmp(full, environ_mount, environ_mount_len) == 0 &&
        (total == environ_mount_len || full[environ_mount_len] == '/')) {
        if (PyDict_SetItem(env, FW_KEY(SCRIPT_NAME), environ_mount_str) < 0 ||
            set_owned(env, FW_KEY(PATH_INFO),
                      decode_value(full + environ_mount_len,
                                   total - environ_mount_len)) < 0) {
            goto done;
        }
    } else {
        if (PyDict_SetItem(env, FW_KEY(SCRIPT_NAME), FW_VALUE(EMPTY)) < 0 ||
            set_owned(env, FW_KEY(PATH_INFO), decode_value(full, total)) < 0) {
            goto done;
        }
    }
    rc = 0;

done:
    if (full != stack) {
        PyMem_Free(full);
    }
    return rc;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Resolves the segments of path[0..len) (which starts with '/') into out
 * (len + 1 bytes at least): empty segments ("//") are dropped, "." is
 * dropped, ".." drops the segment before it (never above the root); a
 * trailing '/' (or "/." "/..") is kept.  Returns the length written.
 */
static size_t
resolve_segments(const char *path, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;

    while (i < len) {
        size_t j = i + 1;
        size_t seg_len;
        const char *seg = path + i + 1;

        while (j < len && path[j] != '/') {
            j++;
        }
        seg_len = j - i - 1;
        if (seg_len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            if (o > 0) {
                o--;
            }
        } else if (seg_len > 0 && !(seg_len == 1 && seg[0] == '.')) {
            out[o++] = '/';
            memcpy(out + o, seg, seg_len);
            o += seg_len;
        }
        if (j == len && seg_len == 0 && o > 0 && out[o - 1] != '/') {
            out[o++] = '/'; /* "/a/" stays a directory */
        } else if (j == len && seg_len > 0 && seg_len <= 2 && seg[0] == '.' &&
                   (seg_len == 1 || seg[1] == '.')) {
            out[o++] = '/'; /* "/a/." and "/a/b/.." name "/a/" */
        }
        i = j;
    }
    if (o == 0) {
        out[o++] = '/';
    }
    return o;
}

/*
 * The Authorizer role's path (see the header comment) from REQUEST_URI
 * uri[0..uri_len): into info->path_buf (PyMem), pointed at by
 * info->path_info, with info->script_name "".  A URI that is not a path
 * ("*") is used as it is.  0, or -1 with an exception set.
 */
static int
authorizer_path(fw_request_info_t *info, const char *uri, size_t uri_len)
{
    char *decoded;
    size_t n = 0;
    const char *query = memchr(uri, '?', uri_len);
    size_t len = query != NULL ? (size_t)(query - uri) : uri_len;
    size_t scheme = len >= 7 && strncasecmp(uri, "http://", 7) == 0    ? 7
                    : len >= 8 && strncasecmp(uri, "https://", 8) == 0 ? 8
                                                                       : 0;

    if (scheme > 0) {
        /* absolute-form: drop the scheme and the authority */
        const char *slash = memchr(uri + scheme, '/', len - scheme);

        len = slash != NULL ? len - (size_t)(slash - uri) : 1;
        uri = slash != NULL ? slash : "/";
    }
    info->path_buf = PyMem_Malloc(2 * len + 2);
    if (info->path_buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    decoded = info->path_buf + len + 1;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;

        if (uri[i] == '%' && i + 2 < len &&
            (hi = hex_value(uri[i + 1])) >= 0 &&
            (lo = hex_value(uri[i + 2])) >= 0) {
            decoded[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            decoded[n++] = uri[i];
        }
    }
    if (n > 0 && decoded[0] == '/') {
        info->path_info_len = resolve_segments(decoded, n, info->path_buf);
        info->path_info = info->path_buf;
    } else {
        info->path_info = decoded;
        info->path_info_len = n;
    }
    info->script_name = "";
    info->script_name_len = 0;
    return 0;
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
 * One param into env (or into info, for the paths set_paths derives).
 * The key is borrowed (an interned one) or a new name; the value is new;
 * both are dropped here.  0, or -1 with an exception.
 */
static int
environ_param(PyObject *env, fw_request_info_t *info, environ_scan_t *scan,
              const fw_param_t *param)
{
    const char *v = param->value;
    size_t vlen = param->value_len;
    PyObject *key; /* borrowed */
    PyObject *name, *value;
    int rc;

    if (param->name_len == 0 ||
        (param->name_len >= 5 && memcmp(param->name, "wsgi.", 5) == 0)) {
        return 0;
    }
    key = fw_keys_find(param->name, param->name_len);
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
        return 0; /* set by set_paths */
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

    value = decode_value(v, vlen);
    if (value == NULL) {
        return -1;
    }
    if (key != NULL) {
        rc = PyDict_SetItem(env, key, value);
    } else {
        name = PyUnicode_DecodeLatin1(param->name, (Py_ssize_t)param->name_len,
                                      NULL);
        rc = name == NULL ? -1 : PyDict_SetItem(env, name, value);
        Py_XDECREF(name);
    }
    Py_DECREF(value);
    return rc;
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
             authorizer_path(info, scan->request_uri->value,
                             scan->request_uri->value_len) < 0)) {
            return -1;
        }
    }
    if (!r->input_terminated &&
        PyDict_SetItem(env, FW_KEY(WSGI_INPUT_TERMINATED), Py_False) < 0) {
        return -1; /* the template says True */
    }
    return set_paths(env, info);
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
        if (environ_param(env, info, &scan, &r->params[i]) < 0) {
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
    return env;

error:
    Py_CLEAR(*input);
    Py_DECREF(env);
    return NULL;
}
