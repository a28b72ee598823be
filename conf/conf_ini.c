/*
 * conf_ini.c: reads an ini file's [fcgi-wsgi] section (or [uwsgi] if it
 * has none, or the section named by FILE:SECTION) through libinih and
 * hands each "key = value" to the table, after uWSGI's substitutions
 * (conf_subst.c).  A key that is no option is a placeholder of the user's
 * (uWSGI's custom keys), and an error if no %(key) uses it.  It reports
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
    entry_t *entries;
    size_t nentries;
    char *abspath; /* %p */
    char *absdir;  /* %d, with a trailing '/' */
} ini_file_t;

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

/* fw_conf_subst_expand on a value of f (format: a log format's). */
static const char *
expand(ini_file_t *f, const char *value, bool format, char **out)
{
    const fw_subst_file_t from = {f->st, f->path, f->abspath, f->absdir,
                                  format};

    return fw_conf_subst_expand(&from, value, out);
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
    fw_conf_subst_define(f->st, name, eq + 1);
    free(name);
    return NULL;
}

/*
 * A key that is no option of fcgi-wsgi's: uWSGI's verdict for one of
 * uWSGI's (its value taken as written, but a flag's: substituted), else a
 * key of the user's, kept as a placeholder (fw_conf_subst_finish reports it
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
    msg = expand(f, e->value, false, &value);
    if (msg == NULL && u != NULL) {
        msg = fw_conf_uwsgi_use(f->st, u, value);
    } else if (msg == NULL) {
        fw_conf_subst_custom(f->st, e->name, f->path, e->line);
        fw_conf_subst_define(f->st, e->name, value);
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
            fw_conf_subst_define(f->st, opt->name, eq + 1);
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
    msg = expand(f, e->value, opt->format, &value);
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
                fw_conf_subst_define(f->st, opt->name, value);
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
