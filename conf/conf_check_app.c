/*
 * conf_check_app.c: the checks of the application's options: module,
 * callable, mount, wsgi-file and env when each is set, and once everything
 * is loaded, that one application is named (fw_conf_check_app).  It reads
 * strings only: it imports and opens nothing.
 */
#include "conf/conf_int.h"

/* A Python identifier: ASCII letters, digits, '_', and any non-ASCII. */
static bool
is_identifier(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!(ch == '_' || ch >= 0x80 || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) {
            return false;
        }
    }
    return true;
}

/* Dotted identifiers: "config.wsgi". */
static bool
is_module_name(const char *s, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!is_identifier(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

/*
 * Checks "pkg.mod[:callable]".  Returns NULL with *module_len set to the
 * length of the module part, or a message.
 */
static const char *
check_module_spec(fw_conf_state_t *st, const char *value, size_t *module_len)
{
    const char *colon = strchr(value, ':');
    size_t len = colon != NULL ? (size_t)(colon - value) : strlen(value);
    size_t vlen = strlen(value);

    if (strchr(value, '/') != NULL ||
        (vlen > 3 && strcmp(value + vlen - 3, ".py") == 0)) {
        return fw_conf_table_msg(st,
                                 "expected a module name, not a file: "
                                 "config.wsgi rather than config/wsgi.py "
                                 "(set chdir or pythonpath to its "
                                 "directory), or wsgi-file = FILE, got '%s'",
                                 value);
    }
    if (!is_module_name(value, len) ||
        (colon != NULL && !is_identifier(colon + 1, strlen(colon + 1)))) {
        return fw_conf_table_msg(st,
                                 "expected a Python module such as "
                                 "config.wsgi or config.wsgi:application, "
                                 "got '%s'",
                                 value);
    }
    *module_len = len;
    return NULL;
}

/*
 * module = pkg.mod[:callable]: stores "pkg.mod" and remembers the callable
 * part (or its absence) for fw_conf_check_app.
 */
const char *
fw_conf_check_module(fw_conf_state_t *st, const char *value, char **keep)
{
    size_t len;
    const char *msg = check_module_spec(st, value, &len);

    if (msg != NULL) {
        return msg;
    }
    free(st->module_callable);
    st->module_callable =
        value[len] == ':' ? conf_strdup(value + len + 1) : NULL;
    *keep = conf_strndup(value, len);
    return NULL;
}

const char *
fw_conf_check_callable(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (!is_identifier(value, strlen(value))) {
        return fw_conf_table_msg(
            st, "expected a Python name such as application, got '%s'", value);
    }
    return NULL;
}

/* A file for uWSGI's file loader: NAME.py or NAME.wsgi. */
static bool
is_python_file(const char *value)
{
    size_t n = strlen(value);

    return (n > 3 && strcmp(value + n - 3, ".py") == 0) ||
           (n > 5 && strcmp(value + n - 5, ".wsgi") == 0);
}

/*
 * mount = /PREFIX or uWSGI's mount = /PREFIX=pkg.mod[:callable] (or
 * /PREFIX=FILE.py, a wsgi-file).  Stores the prefix; the module or file
 * part is kept for fw_conf_check_app, which uses it if no module (or
 * wsgi-file) is given otherwise.
 */
const char *
fw_conf_check_mount(fw_conf_state_t *st, const char *value, char **keep)
{
    const char *eq = strchr(value, '=');
    size_t len = eq != NULL ? (size_t)(eq - value) : strlen(value);
    bool file = eq != NULL && is_python_file(eq + 1);
    size_t module_len;
    const char *msg;

    if (len < 2 || value[0] != '/' || value[len - 1] == '/') {
        return fw_conf_table_msg(st,
                                 "expected a URL prefix such as /app "
                                 "(starting with '/', not ending with '/'), "
                                 "got '%s'",
                                 value);
    }
    if (eq != NULL && !file) {
        msg = check_module_spec(st, eq + 1, &module_len);
        if (msg != NULL) {
            return msg;
        }
    }
    free(st->mount_module);
    free(st->mount_file);
    st->mount_module = eq != NULL && !file ? conf_strdup(eq + 1) : NULL;
    st->mount_file = file ? conf_strdup(eq + 1) : NULL;
    *keep = conf_strndup(value, len);
    return NULL;
}

/* wsgi-file = FILE (uWSGI's): any path; pyglue opens it after chdir. */
const char *
fw_conf_check_wsgi_file(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (value[strspn(value, " \t")] == '\0') {
        return fw_conf_table_msg(st, "expected a file name, got '%s'", value);
    }
    return NULL;
}

const char *
fw_conf_check_env(fw_conf_state_t *st, const char *value, char **keep)
{
    const char *eq = strchr(value, '=');

    (void)keep;
    if (eq == NULL || eq == value) {
        return fw_conf_table_msg(st, "expected KEY=VALUE, got '%s'", value);
    }
    return NULL;
}

/*
 * The name a wsgi-file is loaded under, as uWSGI names it: "uwsgi_file_"
 * and the path with every character that cannot be in a Python name made
 * '_' (uWSGI changes '.' and '/' only).  Malloc'd.
 */
static char *
wsgi_file_module(const char *path)
{
    static const char prefix[] = "uwsgi_file_";
    size_t n = strlen(path);
    char *name = conf_oom(malloc(sizeof(prefix) + n));

    memcpy(name, prefix, sizeof(prefix) - 1);
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = (unsigned char)path[i];

        name[sizeof(prefix) - 1 + i] =
            ch == '\0' || is_identifier((const char *)&ch, 1) ? (char)ch : '_';
    }
    return name;
}

/*
 * The application: module (or mount = /PREFIX=MODULE), or wsgi-file (or
 * mount = /PREFIX=FILE.py), one of them.  A wsgi-file's module is the
 * name it is loaded under; its pool is named after the file.  Prints one
 * line and returns -1, or returns 0.
 */
static int
check_app_named(fw_conf_state_t *st)
{
    fw_conf_t *c = st->c;

    if (c->module != NULL && c->wsgi_file != NULL) {
        fprintf(st->err,
                "fcgi-wsgi: module = %s and wsgi-file = %s both "
                "name the application: give one\n",
                c->module, c->wsgi_file);
        return -1;
    }
    if (c->module == NULL && c->wsgi_file == NULL &&
        st->mount_module != NULL) {
        char *keep = NULL;

        if (fw_conf_check_module(st, st->mount_module, &keep) != NULL) {
            free(keep);
            fprintf(st->err, "fcgi-wsgi: mount: %s\n", st->msg);
            return -1;
        }
        c->module = keep;
    }
    if (c->module == NULL && c->wsgi_file == NULL && st->mount_file != NULL) {
        c->wsgi_file = conf_strdup(st->mount_file);
    }
    if (c->wsgi_file != NULL) {
        c->module = wsgi_file_module(c->wsgi_file);
        if (c->pool_name == NULL) {
            c->pool_name = conf_strdup(c->wsgi_file);
        }
    }
    if (c->module == NULL) {
        fprintf(st->err, "fcgi-wsgi: no module given: set module = pkg.wsgi "
                         "(or --module), or wsgi-file = FILE\n");
        return -1;
    }
    return 0;
}

/*
 * module = pkg.mod:callable and callable agree (or callable was not
 * given): the module's callable is the one.  Prints one line and returns
 * -1, or returns 0.
 */
static int
check_callable(fw_conf_state_t *st)
{
    fw_conf_t *c = st->c;
    const fw_opt_t *callable = fw_conf_table_find("callable");

    if (st->module_callable == NULL) {
        return 0;
    }
    if (st->c->given[callable - fw_conf_table_rows] &&
        strcmp(c->callable, st->module_callable) != 0) {
        fprintf(st->err,
                "fcgi-wsgi: callable = %s disagrees with module = "
                "%s:%s: give the callable once\n",
                c->callable, c->module, st->module_callable);
        return -1;
    }
    free(c->callable);
    c->callable = st->module_callable;
    st->module_callable = NULL;
    return 0;
}

/*
 * Once everything is loaded: one application is named (check_app_named)
 * and its callable is agreed (check_callable).  Prints one line and
 * returns -1, or returns 0.
 */
int
fw_conf_check_app(fw_conf_state_t *st)
{
    if (check_app_named(st) < 0) {
        return -1;
    }
    return check_callable(st);
}
