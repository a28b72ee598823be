/*
 * environ_paths.c: SCRIPT_NAME and PATH_INFO of a request's environ, from
 * what the web server sent and the mount.
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

#include <string.h>
#include <strings.h>

#include "pyglue/environ_paths.h"
#include "pyglue/keys.h"

/* Paths up to this long are joined on the stack. */
#define ENVIRON_PATH_STACK 2048

static char *environ_mount; /* bytes, no trailing '/'; NULL: no mount */
static size_t environ_mount_len;
static PyObject *environ_mount_str; /* environ_mount decoded as latin-1 */
static int environ_paths_as_sent;   /* CGI: SCRIPT_NAME/PATH_INFO as sent */

int
fw_environ_paths_init(const fw_app_config_t *cfg)
{
    const char *mount = cfg->mount != NULL ? cfg->mount : "";
    size_t mount_len = strlen(mount);

    while (mount_len > 0 && mount[mount_len - 1] == '/') {
        mount_len--;
    }
    if (mount_len > 0) {
        environ_mount = PyMem_Malloc(mount_len + 1);
        if (environ_mount == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(environ_mount, mount, mount_len);
        environ_mount[mount_len] = '\0';
        environ_mount_len = mount_len;
        environ_mount_str =
            PyUnicode_DecodeLatin1(mount, (Py_ssize_t)mount_len, NULL);
        if (environ_mount_str == NULL) {
            return -1;
        }
    }
    environ_paths_as_sent = cfg->run_once;
    return 0;
}

void
fw_environ_paths_fini(void)
{
    Py_CLEAR(environ_mount_str);
    PyMem_Free(environ_mount);
    environ_mount = NULL;
    environ_mount_len = 0;
}

/*
 * Sets SCRIPT_NAME and PATH_INFO from what was sent, by the rule in the
 * header comment.  0, or -1 with an exception set.
 */
int
fw_environ_paths_set(PyObject *env, const fw_request_info_t *info)
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
        if (fw_environ_set_owned(env, FW_KEY(SCRIPT_NAME),
                                 fw_environ_decode(sn, snl)) < 0 ||
            fw_environ_set_owned(env, FW_KEY(PATH_INFO),
                                 fw_environ_decode(pi, pil)) < 0) {
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
            fw_environ_set_owned(
                env, FW_KEY(PATH_INFO),
                fw_environ_decode(full + environ_mount_len,
                                  total - environ_mount_len)) < 0) {
            goto done;
        }
    } else {
        if (PyDict_SetItem(env, FW_KEY(SCRIPT_NAME), FW_VALUE(EMPTY)) < 0 ||
            fw_environ_set_owned(env, FW_KEY(PATH_INFO),
                                 fw_environ_decode(full, total)) < 0) {
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
int
fw_environ_paths_authorizer(fw_request_info_t *info, const char *uri,
                            size_t uri_len)
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
