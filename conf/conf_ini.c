/*
 * conf_ini.c: reads an ini file's [fcgi-wsgi] section (or [uwsgi] if it
 * has none) through libinih and hands each "key = value" to the table,
 * after uWSGI's substitutions (%d %p %s %n %e %c %% %(name)).  It reports
 * FILE:LINE: KEY: on errors and starts nothing.
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

/* A key set in this file (or a placeholder), for %(name). */
typedef struct {
    char *name;
    char *value;
} var_t;

typedef struct {
    fw_conf_state_t *st;
    const char *path; /* as given, for messages and %s %n %e */
    FILE *fp;
    int line;    /* lines read so far */
    bool failed; /* an error was printed: read no further */
    bool has_fw; /* a [fcgi-wsgi] header was seen */
    bool has_uwsgi;
    bool in_ours; /* the current section is [fcgi-wsgi] or [uwsgi] */
    entry_t *entries;
    size_t nentries;
    var_t *vars;
    size_t nvars;
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
    if (len == 9 && strncmp(line + 1, "fcgi-wsgi", len) == 0) {
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

static void
var_set(ini_file_t *f, const char *name, const char *value)
{
    f->vars = conf_realloc(f->vars, (f->nvars + 1) * sizeof(f->vars[0]));
    f->vars[f->nvars].name = conf_strdup(name);
    f->vars[f->nvars].value = conf_strdup(value);
    f->nvars++;
}

/* The last value set for name (an option by any of its names, or a
 * placeholder) in this file, else the environment variable, else NULL. */
static const char *
var_get(ini_file_t *f, const char *name)
{
    const fw_opt_t *opt = fw_conf_table_find(name);
    const char *key = opt != NULL ? opt->name : name;

    for (size_t i = f->nvars; i > 0; i--) {
        if (strcmp(f->vars[i - 1].name, key) == 0) {
            return f->vars[i - 1].value;
        }
    }
    return getenv(name);
}

/*
 * uWSGI's substitutions in value.  Returns NULL with *out set to a new
 * string, or a message (then *out is NULL).
 */
static const char *
expand(ini_file_t *f, const char *value, char **out)
{
    const char *base = strrchr(f->path, '/');
    const char *ext;
    const char *dir_end = f->absdir + strlen(f->absdir) - 1; /* the '/' */
    const char *dir_name = dir_end;
    buf_t b = {NULL, 0, 0};
    const char *p = value;

    base = base != NULL ? base + 1 : f->path;
    ext = strrchr(base, '.');
    if (ext == NULL || ext == base) {
        ext = base + strlen(base);
    }
    while (dir_name > f->absdir && dir_name[-1] != '/') {
        dir_name--;
    }
    buf_add(&b, "", 0);
    *out = NULL;
    for (;;) {
        const char *pct = strchr(p, '%');

        if (pct == NULL) {
            buf_adds(&b, p);
            break;
        }
        buf_add(&b, p, (size_t)(pct - p));
        p = pct + 2;
        switch (pct[1]) {
        case 'd':
            buf_adds(&b, f->absdir);
            break;
        case 'p':
            buf_adds(&b, f->abspath);
            break;
        case 's':
            buf_adds(&b, base);
            break;
        case 'n':
            buf_add(&b, base, (size_t)(ext - base));
            break;
        case 'e':
            buf_adds(&b, *ext == '.' ? ext + 1 : ext);
            break;
        case 'c':
            buf_add(&b, dir_name, (size_t)(dir_end - dir_name));
            break;
        case '%':
            buf_adds(&b, "%");
            break;
        case '(': {
            const char *close = strchr(pct + 2, ')');
            const char *found;
            char *name;

            if (close == NULL) {
                free(b.s);
                return fw_conf_table_msg(f->st, "unterminated %%( in '%s'",
                                         value);
            }
            name = conf_strndup(pct + 2, (size_t)(close - pct - 2));
            found = var_get(f, name);
            if (found == NULL) {
                fw_conf_table_msg(f->st,
                                  "unknown %%(%s): not a key set above in "
                                  "this file nor an environment variable",
                                  name);
                free(name);
                free(b.s);
                return f->st->msg;
            }
            free(name);
            buf_adds(&b, found);
            p = close + 1;
            break;
        }
        case '\0':
            free(b.s);
            return "a '%' ends the value: write %% for a '%'";
        default:
            free(b.s);
            return fw_conf_table_msg(f->st,
                                     "unknown substitution '%%%c' (known: "
                                     "%%d %%p %%s %%n %%e %%c %%%% "
                                     "%%(NAME))",
                                     pct[1]);
        }
    }
    *out = b.s;
    return NULL;
}

/* set-placeholder = NAME=VALUE */
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
    var_set(f, name, eq + 1);
    free(name);
    return NULL;
}

/*
 * Applies one entry of the chosen section: checks the key, substitutes,
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
        ini_error(f, e->line, e->name, "unknown option; see fcgi-wsgi --help");
        return -1;
    }
    if (!fw_conf_table_takes_value(opt)) {
        ini_error(f, e->line, e->name, "%s",
                  fw_conf_table_set(f->st, opt, e->value));
        return -1;
    }
    msg = expand(f, e->value, &value);
    if (msg == NULL) {
        switch (opt->type) {
        case FW_OPT_INI:
            if (value[0] == '\0') {
                msg = "needs a value";
            } else if (f->st->ini_depth >= FW_CONF_INI_DEPTH) {
                msg = fw_conf_table_msg(f->st,
                                        "ini files nested more than %d deep",
                                        FW_CONF_INI_DEPTH);
            } else if (fw_conf_ini_load(f->st, value) < 0) {
                rc = -1;
            }
            break;
        case FW_OPT_PLACEHOLDER:
            msg = set_placeholder(f, value);
            break;
        default:
            msg = fw_conf_table_set(f->st, opt, value);
            if (msg == NULL) {
                var_set(f, opt->name, value);
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
    for (size_t i = 0; i < f->nvars; i++) {
        free(f->vars[i].name);
        free(f->vars[i].value);
    }
    free(f->vars);
    free(f->abspath);
    free(f->absdir);
    if (f->fp != NULL) {
        fclose(f->fp);
    }
}

/*
 * Reads the ini file at path into st->c: the [fcgi-wsgi] section, or
 * [uwsgi] if there is none; other sections are ignored.  Keys apply in
 * order; repeated list keys append.  Returns 0, or -1 after printing one
 * line to st->err.
 */
int
fw_conf_ini_load(fw_conf_state_t *st, const char *path)
{
    ini_file_t f;
    const char *section;
    int rc;

    memset(&f, 0, sizeof(f));
    f.st = st;
    f.path = path;
    f.fp = fopen(path, "r");
    if (f.fp == NULL) {
        fprintf(st->err, "fcgi-wsgi: %s: cannot read: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (locate(&f) < 0) {
        ini_file_free(&f);
        return -1;
    }
    rc = ini_parse_stream(ini_read_line, &f, ini_collect, &f);
    if (f.failed) {
        ini_file_free(&f);
        return -1;
    }
    if (rc != 0) {
        fprintf(st->err, "fcgi-wsgi: %s:%d: cannot parse this line\n", path,
                rc);
        ini_file_free(&f);
        return -1;
    }
    if (!f.has_fw && !f.has_uwsgi) {
        fprintf(st->err,
                "fcgi-wsgi: %s: no [fcgi-wsgi] or [uwsgi] section: put the "
                "options under [fcgi-wsgi]\n",
                path);
        ini_file_free(&f);
        return -1;
    }
    section = f.has_fw ? "fcgi-wsgi" : "uwsgi";

    st->ini_depth++;
    rc = 0;
    for (size_t i = 0; i < f.nentries && rc == 0; i++) {
        if (strcmp(f.entries[i].section, section) == 0) {
            rc = apply_entry(&f, &f.entries[i]);
        }
    }
    st->ini_depth--;
    ini_file_free(&f);
    return rc;
}
