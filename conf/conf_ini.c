/*
 * conf_ini.c: reads an ini file's [fcgi-wsgi] section (or [uwsgi] if it
 * has none, or the section named by FILE:SECTION) through libinih and
 * hands each "key = value" to the table, after uWSGI's substitutions (%d
 * %p %s %n %e %c %% %(name), $(VAR), @(FILE)).  A key that is no option
 * is a placeholder of the user's (uWSGI's custom keys), and an error if no
 * %(key) uses it.  It reports FILE:LINE: KEY: on errors and starts nothing.
 *
 * Where libinih (as Debian builds it: INI_MAX_LINE 200, no line number for
 * the handler, multiline continuation on, inline " ;" comments) differs
 * from uWSGI's reader, our line reader works around it:
 *  - the handler gets no line number: the reader counts lines, and libinih
 *    calls the handler for a line before it reads the next one;
 *  - a line longer than libinih's buffer would be split in two silently:
 *    the reader reports "line too long" instead;
 *  - libinih reads an indented line as the continuation of the key above;
 *    uWSGI reads it as a line of its own: the reader strips leading blanks;
 *  - libinih accepts "key: value"; uWSGI does not, and a line without '='
 *    is an error here (uWSGI skips it silently);
 *  - libinih's handler never sees an empty section: the reader notes
 *    section headers itself, so that an empty [fcgi-wsgi] still wins;
 *  - the lines of other sections (and before the first) never reach
 *    libinih: they may be another tool's, in a dialect of their own;
 *  - the reader takes off a UTF-8 BOM itself, before it looks for "[".
 * Not worked around: " ;" starts a comment even inside a value (uWSGI
 * keeps it); write such a value through %(NAME) from the environment.
 */
/* realpath(), which glibc declares for XSI and not for plain POSIX */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ini.h>
#include <stdarg.h>

#include "conf/conf_int.h"

/* One "key = value" of the file, collected before the section is chosen. */
typedef struct {
    char *section;
    char *name;
    char *value;
    int line;
} entry_t;

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

typedef struct {
    fw_conf_state_t *st;
    const char *path;    /* as given, for messages and %s %n %e */
    const char *section; /* FILE:SECTION's, or NULL: ours */
    FILE *fp;
    int line;    /* lines read so far */
    bool failed; /* an error was printed: read no further */
    bool has_fw; /* a [fcgi-wsgi] header was seen */
    bool has_uwsgi;
    bool has_section; /* a [SECTION] header was seen */
    bool in_ours;     /* the current section is the one read */
    bool format;      /* expanding a log format: %(var) kept */
    entry_t *entries;
    size_t nentries;
    char *abspath; /* %p */
    char *absdir;  /* %d, with a trailing '/' */
} ini_file_t;

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

/* Prints "fcgi-wsgi: PATH:LINE: KEY: message" (KEY may be NULL). */
static void ini_error(ini_file_t *f, int line, const char *key,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
ini_error(ini_file_t *f, int line, const char *key, const char *fmt, ...)
{
    va_list ap;

    fprintf(f->st->err, "fcgi-wsgi: %s:%d: ", f->path, line);
    if (key != NULL) {
        fprintf(f->st->err, "%s: ", key);
    }
    va_start(ap, fmt);
    vfprintf(f->st->err, fmt, ap);
    va_end(ap);
    fputc('\n', f->st->err);
    f->failed = true;
}

/* Notes a "[name]" header; false if the line is not one. */
static bool
note_section(ini_file_t *f, const char *line)
{
    const char *close = strchr(line, ']');
    size_t len;

    if (close == NULL) {
        return false;
    }
    len = (size_t)(close - line - 1);
    f->in_ours = false;
    if (f->section != NULL) {
        if (len == strlen(f->section) &&
            strncmp(line + 1, f->section, len) == 0) {
            f->has_section = f->in_ours = true;
        }
    } else if (len == 9 && strncmp(line + 1, "fcgi-wsgi", len) == 0) {
        f->has_fw = f->in_ours = true;
    } else if (len == 5 && strncmp(line + 1, "uwsgi", len) == 0) {
        f->has_uwsgi = f->in_ours = true;
    }
    return true;
}

/*
 * libinih's reader: one line of the file into str (num bytes), with the
 * workarounds listed at the top of this file.  Returns NULL at the end of
 * the file or after printing an error (f->failed).
 */
static char *
ini_read_line(char *str, int num, void *stream)
{
    ini_file_t *f = stream;
    size_t len;
    size_t lead;
    bool too_long = false;

    if (f->failed) {
        return NULL;
    }
    errno = 0;
    if (fgets(str, num, f->fp) == NULL) {
        if (ferror(f->fp)) {
            fprintf(f->st->err, "fcgi-wsgi: %s: cannot read: %s\n", f->path,
                    strerror(errno != 0 ? errno : EIO));
            f->failed = true;
        }
        return NULL;
    }
    f->line++;
    len = strlen(str);
    if (len > 0 && str[len - 1] == '\n') {
        str[--len] = '\0';
    } else {
        int next = getc(f->fp);

        while (next != EOF && next != '\n') {
            too_long = true; /* read the rest: it may be skipped below */
            next = getc(f->fp);
        }
    }
    if (len > 0 && str[len - 1] == '\r') {
        str[--len] = '\0';
    }
    if (f->line == 1 && strncmp(str, "\xEF\xBB\xBF", 3) == 0) {
        memmove(str, str + 3, len - 3 + 1);
        len -= 3;
    }
    lead = strspn(str, " \t");
    memmove(str, str + lead, len - lead + 1);

    if (str[0] != '[' && !f->in_ours) {
        str[0] = '\0'; /* another tool's section: libinih need not see it */
        return str;
    }
    if (too_long) {
        ini_error(f, f->line, NULL,
                  "line too long (the limit is %d characters)", num - 1);
        return NULL;
    }
    if (str[0] == '\0' || str[0] == ';' || str[0] == '#') {
        return str;
    }
    if (str[0] == '[') {
        if (!note_section(f, str)) {
            ini_error(f, f->line, NULL, "expected [SECTION]");
            return NULL;
        }
        return str;
    }
    {
        const char *eq = strchr(str, '=');
        const char *colon = strchr(str, ':');

        if (eq == NULL || eq == str || (colon != NULL && colon < eq)) {
            ini_error(f, f->line, NULL, "expected KEY = VALUE");
            return NULL;
        }
    }
    return str;
}

/* libinih's handler: keeps the entry for later.  Never fails. */
static int
ini_collect(void *user, const char *section, const char *name,
            const char *value)
{
    ini_file_t *f = user;
    entry_t *e;

    f->entries =
        conf_realloc(f->entries, (f->nentries + 1) * sizeof(f->entries[0]));
    e = &f->entries[f->nentries++];
    e->section = conf_strdup(section);
    e->name = conf_strdup(name);
    e->value = conf_strdup(value != NULL ? value : "");
    e->line = f->line;
    return 1;
}

static fw_conf_vars_t *
vars_of(fw_conf_state_t *st)
{
    if (st->vars == NULL) {
        st->vars = conf_oom(calloc(1, sizeof(*st->vars)));
    }
    return st->vars;
}

static void
var_set(fw_conf_state_t *st, const char *name, const char *value)
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

/* Notes a key of the user's, set at f's line (a placeholder if used). */
static void
custom_add(ini_file_t *f, const char *name, int line)
{
    fw_conf_vars_t *v = vars_of(f->st);
    custom_t *c;
    char where[FW_CONF_MSG_MAX];

    for (size_t i = 0; i < v->ncustoms; i++) {
        if (strcmp(v->customs[i].name, name) == 0) {
            return; /* set again: the first place is the one to report */
        }
    }
    snprintf(where, sizeof(where), "%s:%d", f->path, line);
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

static const char *expand_depth(ini_file_t *f, const char *value, int depth,
                                char **out);

/*
 * $(VAR), $(VAR:-DEFAULT) (when VAR is unset or empty), $(VAR-DEFAULT)
 * (when unset), as uWSGI reads them; inner is what the parentheses hold,
 * DEFAULT substituted in turn.  Unset without a default is an error
 * (uWSGI would keep the text "$(VAR)").  Adds the value to b; NULL or a
 * message.
 */
static const char *
expand_env(ini_file_t *f, const char *inner, int depth, buf_t *b)
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
expand_file(ini_file_t *f, const char *inner, int depth, buf_t *b)
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
expand_percent(ini_file_t *f, char x, const char *name, buf_t *b)
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
expand_depth(ini_file_t *f, const char *value, int depth, char **out)
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

static const char *
expand(ini_file_t *f, const char *value, char **out)
{
    return expand_depth(f, value, 0, out);
}

/* set-placeholder = NAME=VALUE, and set = NAME=VALUE for a NAME that is
 * no option (uWSGI's set). */
static const char *
set_placeholder(ini_file_t *f, const char *value)
{
    const char *eq = strchr(value, '=');
    char *name;

    if (eq == NULL || eq == value) {
        return fw_conf_table_msg(f->st, "expected NAME=VALUE, got '%s'",
                                 value);
    }
    name = conf_strndup(value, (size_t)(eq - value));
    var_set(f->st, name, eq + 1);
    free(name);
    return NULL;
}

/*
 * A key that is no option of fcgi-wsgi's: uWSGI's verdict for one of
 * uWSGI's (its value taken as written, but a flag's: substituted), else a
 * key of the user's, kept as a placeholder (fw_conf_ini_finish reports it
 * if no %(key) uses it).  NULL or a message.
 */
static const char *
apply_other(ini_file_t *f, const entry_t *e)
{
    const fw_uwsgi_opt_t *u = fw_conf_uwsgi_find(e->name);
    char *value = NULL;
    const char *msg;

    if (u != NULL && u->arg != FW_UWSGI_ARG_FLAG) {
        return fw_conf_uwsgi_use(f->st, u, e->value);
    }
    msg = expand(f, e->value, &value);
    if (msg == NULL && u != NULL) {
        msg = fw_conf_uwsgi_use(f->st, u, value);
    } else if (msg == NULL) {
        custom_add(f, e->name, e->line);
        var_set(f->st, e->name, value);
    }
    free(value);
    return msg;
}

/* set = NAME=VALUE: the option NAME (as NAME = VALUE would), or %(NAME). */
static const char *
apply_set(ini_file_t *f, const char *value)
{
    const char *eq = strchr(value, '=');
    char *name;
    const fw_opt_t *opt;
    const char *msg;

    if (eq == NULL || eq == value) {
        return set_placeholder(f, value);
    }
    name = conf_strndup(value, (size_t)(eq - value));
    opt = fw_conf_table_find(name);
    if (opt != NULL && fw_conf_table_takes_value(opt) &&
        opt->type < FW_OPT_INI) {
        msg = fw_conf_table_set(f->st, opt, eq + 1);
        if (msg == NULL) {
            var_set(f->st, opt->name, eq + 1);
        }
    } else if (opt == NULL && fw_conf_uwsgi_find(name) != NULL) {
        msg = fw_conf_uwsgi_use(f->st, fw_conf_uwsgi_find(name), eq + 1);
    } else if (opt == NULL) {
        msg = set_placeholder(f, value);
    } else {
        msg = fw_conf_table_msg(f->st, "cannot set %s this way", name);
    }
    free(name);
    return msg;
}

/*
 * ini = FILE[:SECTION], or uWSGI's ini = :SECTION (a section of this
 * file).  0, or -1 after printing one line.
 */
static int
include(ini_file_t *f, const char *spec)
{
    char *self;
    int rc;

    if (spec[0] != ':') {
        return fw_conf_ini_load(f->st, spec);
    }
    self = conf_oom(malloc(strlen(f->path) + strlen(spec) + 1));
    strcpy(self, f->path);
    strcat(self, spec);
    rc = fw_conf_ini_load(f->st, self);
    free(self);
    return rc;
}

/*
 * Applies one entry of the chosen section: finds the key, substitutes,
 * sets.  Returns 0, or -1 after printing one line.
 */
static int
apply_entry(ini_file_t *f, const entry_t *e)
{
    const fw_opt_t *opt;
    char *value = NULL;
    const char *msg;
    int rc = 0;

    if (e->name[0] == '-') {
        ini_error(f, e->line, e->name,
                  "write the option without leading '-' in an ini file");
        return -1;
    }
    opt = fw_conf_table_find(e->name);
    if (opt == NULL) {
        msg = apply_other(f, e);
        if (msg != NULL) {
            ini_error(f, e->line, e->name, "%s", msg);
            return -1;
        }
        return 0;
    }
    if (!fw_conf_table_takes_value(opt)) {
        ini_error(f, e->line, e->name, "%s",
                  fw_conf_table_set(f->st, opt, e->value));
        return -1;
    }
    f->format = opt->format;
    msg = expand(f, e->value, &value);
    f->format = false;
    if (msg == NULL) {
        switch (opt->type) {
        case FW_OPT_INI:
            if (value[0] == '\0') {
                msg = "needs a value";
            } else if (f->st->ini_depth >= FW_CONF_INI_DEPTH) {
                msg = fw_conf_table_msg(f->st,
                                        "ini files nested more than %d deep",
                                        FW_CONF_INI_DEPTH);
            } else if (include(f, value) < 0) {
                rc = -1;
            }
            break;
        case FW_OPT_PLACEHOLDER:
            msg = set_placeholder(f, value);
            break;
        case FW_OPT_SET:
            msg = apply_set(f, value);
            break;
        default:
            msg = fw_conf_table_set(f->st, opt, value);
            if (msg == NULL) {
                var_set(f->st, opt->name, value);
            }
            break;
        }
    }
    if (msg != NULL) {
        ini_error(f, e->line, e->name, "%s", msg);
        rc = -1;
    }
    free(value);
    return rc;
}

/* Where the file is, for %p %d %c.  0, or -1 after printing one line. */
static int
locate(ini_file_t *f)
{
    char *slash;

    f->abspath = realpath(f->path, NULL);
    if (f->abspath == NULL) {
        fprintf(f->st->err, "fcgi-wsgi: %s: cannot read: %s\n", f->path,
                strerror(errno));
        return -1;
    }
    slash = strrchr(f->abspath, '/');
    f->absdir = conf_strndup(f->abspath, (size_t)(slash - f->abspath) + 1);
    return 0;
}

static void
ini_file_free(ini_file_t *f)
{
    for (size_t i = 0; i < f->nentries; i++) {
        free(f->entries[i].section);
        free(f->entries[i].name);
        free(f->entries[i].value);
    }
    free(f->entries);
    free(f->abspath);
    free(f->absdir);
    if (f->fp != NULL) {
        fclose(f->fp);
    }
}

/*
 * FILE:SECTION into the file and the section (NULL: ours).  uWSGI splits
 * at the last ':'; here only when what follows names a section (no '/'),
 * so that a path with a ':' in a directory still reads.  Malloc'd path.
 */
static char *
split_spec(const char *spec, const char **section)
{
    const char *colon = strrchr(spec, ':');

    *section = NULL;
    if (colon == NULL || colon == spec || colon[1] == '\0' ||
        strchr(colon, '/') != NULL) {
        return conf_strdup(spec);
    }
    *section = colon + 1;
    return conf_strndup(spec, (size_t)(colon - spec));
}

/*
 * Reads the ini file of spec (FILE or FILE:SECTION) into st->c: the
 * SECTION named, else [fcgi-wsgi], or [uwsgi] if there is none; other
 * sections are ignored.  Keys apply in order; repeated list keys append.
 * Returns 0, or -1 after printing one line to st->err.
 */
int
fw_conf_ini_load(fw_conf_state_t *st, const char *spec)
{
    ini_file_t f;
    const char *section;
    char *path;
    int rc;

    memset(&f, 0, sizeof(f));
    path = split_spec(spec, &f.section);
    f.st = st;
    f.path = path;
    f.fp = fopen(path, "r");
    if (f.fp == NULL) {
        fprintf(st->err, "fcgi-wsgi: %s: cannot read: %s\n", path,
                strerror(errno));
        free(path);
        return -1;
    }
    rc = locate(&f) < 0 ? -1
                        : ini_parse_stream(ini_read_line, &f, ini_collect, &f);
    if (rc > 0 && !f.failed) {
        fprintf(st->err, "fcgi-wsgi: %s:%d: cannot parse this line\n", path,
                rc);
    }
    if (rc == 0 && !f.failed) {
        if (f.section != NULL && !f.has_section) {
            fprintf(st->err, "fcgi-wsgi: %s: no [%s] section\n", path,
                    f.section);
            rc = -1;
        } else if (f.section == NULL && !f.has_fw && !f.has_uwsgi) {
            fprintf(st->err,
                    "fcgi-wsgi: %s: no [fcgi-wsgi] or [uwsgi] section: put "
                    "the options under [fcgi-wsgi]\n",
                    path);
            rc = -1;
        }
    }
    if (rc != 0 || f.failed) {
        ini_file_free(&f);
        free(path);
        return -1;
    }
    section = f.section != NULL ? f.section : f.has_fw ? "fcgi-wsgi" : "uwsgi";
    st->ini_depth++;
    for (size_t i = 0; i < f.nentries && rc == 0; i++) {
        if (strcmp(f.entries[i].section, section) == 0) {
            rc = apply_entry(&f, &f.entries[i]);
        }
    }
    st->ini_depth--;
    ini_file_free(&f);
    free(path);
    return rc;
}

/*
 * The end of a load's ini files: with check, a key of the user's that no
 * %(key) used is an error, "unknown option" (maybe "did you mean ...?"),
 * printed for the first such key.  Releases the placeholders either way.
 * 0, or -1 after printing one line.
 */
int
fw_conf_ini_finish(fw_conf_state_t *st, bool check)
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
