/*
 * conf_subst.c: uWSGI's substitutions in an ini file's values (%d %p %s
 * %n %e %c %% %(name), $(VAR), @(FILE)), and the keys set above that
 * %(name) reads: options, placeholders and the user's own keys, across
 * the ini files of one load.  conf_ini.c reads the files and calls it; it
 * sets no option itself.
 */
#include <errno.h>

#include "conf/conf_int.h"

#define SUBST_DEPTH 4     /* $(...) and @(...) inside one another */
#define AT_FILE_MAX 65536 /* bytes of an @(FILE) */

/* A key set above (an option, a placeholder, a key of the user's). */
typedef struct {
    char *name;
    char *value;
} var_t;

/* A key that is no option: a placeholder if some %(name) uses it. */
typedef struct {
    char *name;
    char *where; /* "FILE:LINE", for the error if none does */
    bool used;
} custom_t;

/* Across the ini files of one load (st->vars). */
struct fw_conf_vars {
    var_t *vars;
    size_t nvars;
    custom_t *customs;
    size_t ncustoms;
};

/* A growing string. */
typedef struct {
    char *s;
    size_t len;
    size_t cap;
} buf_t;

static void
buf_add(buf_t *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = conf_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void
buf_adds(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static fw_conf_vars_t *
vars_of(fw_conf_state_t *st)
{
    if (st->vars == NULL) {
        st->vars = conf_oom(calloc(1, sizeof(*st->vars)));
    }
    return st->vars;
}

/* A key set: %(name) reads the last value set (fw_conf_subst_expand). */
void
fw_conf_subst_define(fw_conf_state_t *st, const char *name, const char *value)
{
    fw_conf_vars_t *v = vars_of(st);

    v->vars = conf_realloc(v->vars, (v->nvars + 1) * sizeof(v->vars[0]));
    v->vars[v->nvars].name = conf_strdup(name);
    v->vars[v->nvars].value = conf_strdup(value);
    v->nvars++;
}

/*
 * The last value set for name above (an option by any of its names, a
 * placeholder, a key of the user's, in this file or one read before it),
 * else the environment variable, else NULL.  A key of the user's is marked
 * used.
 */
static const char *
var_get(fw_conf_state_t *st, const char *name)
{
    fw_conf_vars_t *v = vars_of(st);
    const fw_opt_t *opt = fw_conf_table_find(name);
    const char *key = opt != NULL ? opt->name : name;

    for (size_t i = 0; i < v->ncustoms; i++) {
        if (strcmp(v->customs[i].name, name) == 0) {
            v->customs[i].used = true;
        }
    }
    for (size_t i = v->nvars; i > 0; i--) {
        if (strcmp(v->vars[i - 1].name, key) == 0) {
            return v->vars[i - 1].value;
        }
    }
    return getenv(name);
}

/*
 * Notes a key of the user's, set at path:line (a placeholder if some
 * %(name) uses it; fw_conf_subst_finish reports it if none does).
 */
void
fw_conf_subst_custom(fw_conf_state_t *st, const char *name, const char *path,
                     int line)
{
    fw_conf_vars_t *v = vars_of(st);
    custom_t *c;
    char where[FW_CONF_MSG_MAX];

    for (size_t i = 0; i < v->ncustoms; i++) {
        if (strcmp(v->customs[i].name, name) == 0) {
            return; /* set again: the first place is the one to report */
        }
    }
    snprintf(where, sizeof(where), "%s:%d", path, line);
    v->customs =
        conf_realloc(v->customs, (v->ncustoms + 1) * sizeof(v->customs[0]));
    c = &v->customs[v->ncustoms++];
    c->name = conf_strdup(name);
    c->where = conf_strdup(where);
    c->used = false;
}

/*
 * Where the ')' closing the "(" at open is ('(' and ')' nest, as uWSGI
 * counts them), or NULL.
 */
static const char *
closing_paren(const char *open)
{
    int depth = 0;

    for (const char *p = open; *p != '\0'; p++) {
        if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

static const char *expand_depth(const fw_subst_file_t *f, const char *value,
                                int depth, char **out);

/*
 * $(VAR), $(VAR:-DEFAULT) (when VAR is unset or empty), $(VAR-DEFAULT)
 * (when unset), as uWSGI reads them; inner is what the parentheses hold,
 * DEFAULT substituted in turn.  Unset without a default is an error
 * (uWSGI would keep the text "$(VAR)").  Adds the value to b; NULL or a
 * message.
 */
static const char *
expand_env(const fw_subst_file_t *f, const char *inner, int depth, buf_t *b)
{
    const char *colon_dash = strstr(inner, ":-");
    const char *dash = strchr(inner, '-');
    const char *def = NULL;
    size_t name_len = strlen(inner);
    char *name;
    const char *value;
    const char *msg = NULL;

    if (colon_dash != NULL) {
        name_len = (size_t)(colon_dash - inner);
        def = colon_dash + 2;
    } else if (dash != NULL) {
        name_len = (size_t)(dash - inner);
        def = dash + 1;
    }
    name = conf_strndup(inner, name_len);
    value = getenv(name);
    if (value != NULL && (value[0] != '\0' || colon_dash == NULL)) {
        buf_adds(b, value);
    } else if (def != NULL) {
        char *sub = NULL;

        msg = expand_depth(f, def, depth + 1, &sub);
        if (msg == NULL) {
            buf_adds(b, sub);
        }
        free(sub);
    } else if (value != NULL) {
        /* set and empty, with no default: empty */
    } else {
        msg = fw_conf_table_msg(f->st,
                                "$(%s): not set in the environment (write "
                                "$(%s:-DEFAULT) for a default)",
                                name, name);
    }
    free(name);
    return msg;
}

/*
 * @(FILE): the file's contents, less one final newline (uWSGI's); FILE
 * substituted in turn, relative to the directory fcgi-wsgi started in.
 * Adds them to b; NULL or a message.
 */
static const char *
expand_file(const fw_subst_file_t *f, const char *inner, int depth, buf_t *b)
{
    char *path = NULL;
    const char *msg = expand_depth(f, inner, depth + 1, &path);
    char data[AT_FILE_MAX + 1];
    FILE *fp;
    size_t n;

    if (msg != NULL) {
        return msg;
    }
    fp = fopen(path, "r");
    if (fp == NULL) {
        msg = fw_conf_table_msg(f->st, "@(%s): cannot read: %s", path,
                                strerror(errno));
        free(path);
        return msg;
    }
    n = fread(data, 1, sizeof(data), fp);
    if (ferror(fp)) {
        msg = fw_conf_table_msg(f->st, "@(%s): cannot read: %s", path,
                                strerror(errno != 0 ? errno : EIO));
    } else if (n > AT_FILE_MAX) {
        msg = fw_conf_table_msg(f->st, "@(%s): longer than %d bytes", path,
                                AT_FILE_MAX);
    } else if (memchr(data, '\0', n) != NULL) {
        msg = fw_conf_table_msg(f->st, "@(%s): not a text file", path);
    } else {
        if (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r')) {
            n--;
        }
        buf_add(b, data, n);
    }
    fclose(fp);
    free(path);
    return msg;
}

/*
 * %X (the file's names: d p s n e c, and %%), or %(NAME) when X is '('
 * (name: what the parentheses hold).  Adds the text to b; NULL or a
 * message.
 */
static const char *
expand_percent(const fw_subst_file_t *f, char x, const char *name, buf_t *b)
{
    const char *base = strrchr(f->path, '/');
    const char *ext;
    const char *dir_end = f->absdir + strlen(f->absdir) - 1; /* the '/' */
    const char *dir_name = dir_end;
    const char *found;

    base = base != NULL ? base + 1 : f->path;
    ext = strrchr(base, '.');
    if (ext == NULL || ext == base) {
        ext = base + strlen(base);
    }
    while (dir_name > f->absdir && dir_name[-1] != '/') {
        dir_name--;
    }
    switch (x) {
    case 'd':
        buf_adds(b, f->absdir);
        return NULL;
    case 'p':
        buf_adds(b, f->abspath);
        return NULL;
    case 's':
        buf_adds(b, base);
        return NULL;
    case 'n':
        buf_add(b, base, (size_t)(ext - base));
        return NULL;
    case 'e':
        buf_adds(b, *ext == '.' ? ext + 1 : ext);
        return NULL;
    case 'c':
        buf_add(b, dir_name, (size_t)(dir_end - dir_name));
        return NULL;
    case '%':
        buf_adds(b, "%");
        return NULL;
    case '(':
        found = var_get(f->st, name);
        if (found == NULL) {
            return fw_conf_table_msg(f->st,
                                     "unknown %%(%s): not a key set above "
                                     "nor an environment variable",
                                     name);
        }
        buf_adds(b, found);
        return NULL;
    case '\0':
        return "a '%' ends the value: write %% for a '%'";
    default:
        return fw_conf_table_msg(f->st,
                                 "unknown substitution '%%%c' (known: %%d "
                                 "%%p %%s %%n %%e %%c %%%% %%(NAME) $(VAR) "
                                 "@(FILE))",
                                 x);
    }
}

/*
 * uWSGI's substitutions in value, depth levels deep in $() and @().
 * Returns NULL with *out set to a new string, or a message (then *out is
 * NULL).
 */
static const char *
expand_depth(const fw_subst_file_t *f, const char *value, int depth,
             char **out)
{
    buf_t b = {NULL, 0, 0};
    const char *p = value;

    *out = NULL;
    if (depth > SUBST_DEPTH) {
        return fw_conf_table_msg(f->st,
                                 "$() and @() nested more than %d deep in "
                                 "'%s'",
                                 SUBST_DEPTH, value);
    }
    buf_add(&b, "", 0);
    for (;;) {
        size_t plain = strcspn(p, "%$@");
        const char *pct = p + plain;
        const char *close = NULL;
        char *inner = NULL;
        const char *msg = NULL;

        buf_add(&b, p, plain);
        if (*pct == '\0') {
            break;
        }
        if (*pct != '%' && pct[1] != '(') {
            buf_add(&b, pct, 1); /* "$5", "a@b": as they are */
            p = pct + 1;
            continue;
        }
        if (pct[1] == '(') { /* %(NAME), $(VAR), @(FILE) */
            close = closing_paren(pct + 1);
            if (close == NULL) {
                free(b.s);
                return fw_conf_table_msg(f->st, "unterminated %c( in '%s'",
                                         *pct, value);
            }
            inner = conf_strndup(pct + 2, (size_t)(close - pct - 2));
            p = close + 1;
        } else {
            p = pct + 2;
        }
        if (*pct == '%' && pct[1] == '(' && f->format) {
            buf_add(&b, pct, (size_t)(p - pct)); /* a log format's %(var) */
        } else if (*pct == '$') {
            msg = expand_env(f, inner, depth, &b);
        } else if (*pct == '@') {
            msg = expand_file(f, inner, depth, &b);
        } else {
            msg = expand_percent(f, pct[1], inner, &b);
        }
        free(inner);
        if (msg != NULL) {
            free(b.s);
            return msg;
        }
    }
    *out = b.s;
    return NULL;
}

/*
 * uWSGI's substitutions in value, read from the file f.  Returns NULL with
 * *out set to a new string, or a message (then *out is NULL).
 */
const char *
fw_conf_subst_expand(const fw_subst_file_t *f, const char *value, char **out)
{
    return expand_depth(f, value, 0, out);
}

/*
 * The end of a load's ini files: with check, a key of the user's that no
 * %(key) used is an error, "unknown option" (maybe "did you mean ...?"),
 * printed for the first such key.  Releases the placeholders either way.
 * 0, or -1 after printing one line.
 */
int
fw_conf_subst_finish(fw_conf_state_t *st, bool check)
{
    fw_conf_vars_t *v = st->vars;
    int rc = 0;

    if (v == NULL) {
        return 0;
    }
    for (size_t i = 0; i < v->ncustoms; i++) {
        if (check && rc == 0 && !v->customs[i].used) {
            fprintf(st->err, "fcgi-wsgi: %s: %s: %s\n", v->customs[i].where,
                    v->customs[i].name,
                    fw_conf_unknown_msg(st, v->customs[i].name, ""));
            rc = -1;
        }
        free(v->customs[i].name);
        free(v->customs[i].where);
    }
    for (size_t i = 0; i < v->nvars; i++) {
        free(v->vars[i].name);
        free(v->vars[i].value);
    }
    free(v->customs);
    free(v->vars);
    free(v);
    st->vars = NULL;
    return rc;
}
