/*
 * conf_int.h: what the conf/ files share and nobody else sees: the option
 * table's row type, the loader's state and the checked allocator.  Code
 * outside conf/ includes conf.h only.
 */
#ifndef FW_CONF_INT_H
#define FW_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define FW_CONF_MSG_MAX 512 /* a setter's message, value included */
#define FW_CONF_INI_DEPTH 8 /* ini files including ini files */

typedef struct fw_conf_state fw_conf_state_t;
typedef struct fw_opt fw_opt_t;

/* How an option's value is written, and where it goes. */
typedef enum {
    FW_OPT_STR,         /* char *: the last one given wins */
    FW_OPT_LIST,        /* fw_strlist_t: every one given is appended */
    FW_OPT_INT,         /* int within [min, max] */
    FW_OPT_SIZE,        /* long long bytes within [size_min, size_max]:
                           digits, maybe k, m or g (1024-based) */
    FW_OPT_MODE,        /* unsigned: an octal file mode, 0 to 0777 */
    FW_OPT_BOOL,        /* bool: true/false, yes/no, on/off, 1/0 */
    FW_OPT_INI,         /* read that ini file (FILE[:SECTION]) there */
    FW_OPT_PLACEHOLDER, /* ini files only: NAME=VALUE defines %(NAME) */
    FW_OPT_SET,         /* ini files only: NAME=VALUE sets the option NAME,
                           or defines %(NAME) if it is no option */
    FW_OPT_HELP,        /* command line only: print --help, exit */
    FW_OPT_VERSION      /* command line only: print the version, exit */
} fw_opt_type_e;

/* The sections of --help, in order. */
typedef enum {
    FW_GROUP_SOCKET = 0,
    FW_GROUP_APP,
    FW_GROUP_POOL,
    FW_GROUP_LIMITS,
    FW_GROUP_LOGS,
    FW_GROUP_RELOAD,
    FW_GROUP_CONFIG,
    FW_GROUP_COUNT
} fw_opt_group_e;

/*
 * A check hook for FW_OPT_STR and FW_OPT_LIST: it sees the value before it
 * is stored and returns NULL or a message (made with fw_conf_table_msg).
 * It may set *keep to a malloc'd string to store instead of the value.
 */
typedef const char *fw_opt_check_fn(fw_conf_state_t *st, const char *value,
                                    char **keep);

/*
 * One row of the option table.  A row of a value type (STR to BOOL)
 * without a field checks its value and stores nothing (protocol).
 * uWSGI's options that are not rows here are in conf_uwsgi.c.
 */
struct fw_opt {
    const char *name;    /* canonical, as in uWSGI */
    const char *aliases; /* space separated; one letter: also -X */
    fw_opt_type_e type;
    fw_opt_group_e group;   /* its section of --help */
    bool field;             /* the value is stored at .off in fw_conf_t */
    size_t off;             /* offsetof(fw_conf_t, ...) */
    fw_opt_check_fn *check; /* optional, STR and LIST */
    int min, max;           /* FW_OPT_INT */
    long long size_min, size_max; /* FW_OPT_SIZE */
    const char *bare;    /* value when given with none; NULL: required */
    const char *def;     /* default, applied first and shown by --help */
    const char *metavar; /* --help: "--chdir DIR" */
    const char *help;    /* --help: one line; FW_OPT_REFUSE: the error */
    bool format;         /* a log format: its %(var) are left as written */
};

/* What fcgi-wsgi does with an option of uWSGI's (conf_uwsgi.c). */
typedef enum {
    FW_UWSGI_OURS = 0, /* implemented: an option or alias of conf_table.c */
    FW_UWSGI_IGNORED,  /* accepted, logged once at start: does not apply */
    FW_UWSGI_PENDING,  /* accepted, logged once at start: not yet applied */
    FW_UWSGI_REFUSED   /* an error: the reason, and what to do instead */
} fw_uwsgi_verdict_e;

/* uWSGI's kind of argument for an option. */
typedef enum {
    FW_UWSGI_ARG_FLAG = 0, /* none, or a boolean (no_argument) */
    FW_UWSGI_ARG_VALUE,    /* required_argument */
    FW_UWSGI_ARG_OPTIONAL  /* optional_argument: only --name=VALUE */
} fw_uwsgi_arg_e;

typedef struct {
    fw_uwsgi_verdict_e verdict;
    const char *text; /* one line: why, and what to do instead */
} fw_uwsgi_reason_t;

/* One option of uWSGI's: its name, argument and verdict (a reason). */
typedef struct {
    const char *name;  /* as uWSGI spells it; one letter: -X */
    unsigned char arg; /* fw_uwsgi_arg_e */
    unsigned char why; /* index in fw_conf_uwsgi_reasons */
} fw_uwsgi_opt_t;

/* A value that gives an option of uWSGI's another reason (conf_uwsgi.c). */
typedef struct {
    const char *name;
    const char *value; /* exactly, as written */
    unsigned char why; /* index in fw_conf_uwsgi_reasons */
} fw_uwsgi_value_t;

/* The placeholders and custom keys of one load (conf_subst.c). */
typedef struct fw_conf_vars fw_conf_vars_t;

/* One fw_conf_load call: the config being filled and what goes with it. */
struct fw_conf_state {
    fw_conf_t *c;
    FILE *out;
    FILE *err;
    int argc; /* the command line, for the static-map warning */
    char **argv;
    char *module_callable; /* the ":callable" part of the last module */
    char *mount_module;    /* the module part of mount = /app=pkg.mod */
    char *mount_file;      /* or its file part: mount = /app=app.py */
    bool print_uwsgi;      /* print-config = uwsgi-options */
    int ini_depth;         /* ini files being read, one inside another */
    fw_conf_vars_t *vars;  /* %(NAME) across the ini files (conf_subst.c) */
    char msg[FW_CONF_MSG_MAX];
};

/* conf_table.c */
extern const fw_opt_t fw_conf_table_rows[];
extern const size_t fw_conf_table_nrows;
const fw_opt_t *fw_conf_table_find(const char *name);
bool fw_conf_table_takes_value(const fw_opt_t *opt);
const char *fw_conf_parse_bool(fw_conf_state_t *st, const char *value,
                               bool *out);
bool fw_conf_is_bool_word(const char *value);
void fw_conf_list_append(fw_strlist_t *l, char *item);
void fw_conf_table_defaults(fw_conf_state_t *st);
const char *fw_conf_table_set(fw_conf_state_t *st, const fw_opt_t *opt,
                              const char *value);
const char *fw_conf_table_msg(fw_conf_state_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* conf_ini.c: reads FILE[:SECTION] into st->c; 0, or -1 after one line */
int fw_conf_ini_load(fw_conf_state_t *st, const char *spec);

/* conf_subst.c: uWSGI's substitutions, and the keys %(NAME) reads */

/* The ini file a value is read from, as the substitutions need it. */
typedef struct {
    fw_conf_state_t *st;
    const char *path;    /* as given, for messages and %s %n %e */
    const char *abspath; /* %p */
    const char *absdir;  /* %d, with a trailing '/' */
    bool format;         /* a log format's value: its %(var) are kept */
} fw_subst_file_t;

const char *fw_conf_subst_expand(const fw_subst_file_t *f, const char *value,
                                 char **out);
void fw_conf_subst_define(fw_conf_state_t *st, const char *name,
                          const char *value);
void fw_conf_subst_custom(fw_conf_state_t *st, const char *name,
                          const char *path, int line);
int fw_conf_subst_finish(fw_conf_state_t *st, bool check);

/* conf_uwsgi.c: the data */
extern const fw_uwsgi_reason_t fw_conf_uwsgi_reasons[];
extern const size_t fw_conf_uwsgi_nreasons;
extern const fw_uwsgi_opt_t fw_conf_uwsgi_rows[];
extern const size_t fw_conf_uwsgi_nrows;
extern const fw_uwsgi_value_t fw_conf_uwsgi_values[];
extern const size_t fw_conf_uwsgi_nvalues;

/* conf_lookup.c: names to rows, uWSGI's verdicts, "did you mean" */
const fw_uwsgi_opt_t *fw_conf_uwsgi_find(const char *name);
const char *fw_conf_uwsgi_use(fw_conf_state_t *st, const fw_uwsgi_opt_t *u,
                              const char *value);
const char *fw_conf_unknown_msg(fw_conf_state_t *st, const char *name,
                                const char *dashes);

/* conf_usage.c: --help, and --print-config uwsgi-options */
void fw_conf_uwsgi_print(FILE *out);

/*
 * conf_check*.c: the hooks the table names, each a fw_opt_check_fn (defined
 * with that signature), and the checks of the whole, each of which prints
 * one line to st->err and returns -1, or returns 0.
 */

/* conf_check.c: the check of the whole; the hooks' word-list check */
int fw_conf_check_all(fw_conf_state_t *st);
const char *fw_conf_check_one_of(fw_conf_state_t *st, const char *value,
                                 const char *const *words, size_t n,
                                 size_t *index);
#define FW_CONF_ONE_OF(st, value, words, index)                               \
    fw_conf_check_one_of((st), (value), (words),                              \
                         sizeof(words) / sizeof((words)[0]), (index))

/* conf_check_listen.c: where fcgi-wsgi listens, and who may connect */
fw_opt_check_fn fw_conf_check_socket, fw_conf_check_protocol,
    fw_conf_check_role, fw_conf_check_allowed_clients;

/* conf_check_app.c: the application */
fw_opt_check_fn fw_conf_check_module, fw_conf_check_callable,
    fw_conf_check_mount, fw_conf_check_wsgi_file, fw_conf_check_env;
int fw_conf_check_app(fw_conf_state_t *st);

/* conf_check_pool.c: the pool's sizes */
fw_opt_check_fn fw_conf_check_pm;
int fw_conf_check_pool(fw_conf_state_t *st);
int fw_conf_check_php_fcgi_children(fw_conf_state_t *st);

/* conf_check_web.c: what goes to or comes from the web server's config */
fw_opt_check_fn fw_conf_check_print_config, fw_conf_check_static_map,
    fw_conf_check_static_map2, fw_conf_check_url_path;
void fw_conf_check_warn_static_map(fw_conf_state_t *st);

/* The checked allocator: out of memory ends the program, with a line. */
static inline void *
conf_oom(void *p)
{
    if (p == NULL) {
        fputs("fcgi-wsgi: out of memory\n", stderr);
        abort();
    }
    return p;
}

static inline void *
conf_realloc(void *p, size_t n)
{
    return conf_oom(realloc(p, n == 0 ? 1 : n));
}

static inline char *
conf_strdup(const char *s)
{
    return conf_oom(strdup(s));
}

static inline char *
conf_strndup(const char *s, size_t n)
{
    char *p = conf_oom(malloc(n + 1));

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

#endif /* FW_CONF_INT_H */
