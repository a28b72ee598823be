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
    FW_OPT_INI,         /* read that ini file there and then */
    FW_OPT_PLACEHOLDER, /* ini files only: NAME=VALUE defines %(NAME) */
    FW_OPT_HELP,        /* command line only: print --help, exit */
    FW_OPT_VERSION,     /* command line only: print the version, exit */
    FW_OPT_REFUSE,      /* always an error; .help is the message */
    FW_OPT_LATER        /* a uWSGI option we do not implement yet: error */
} fw_opt_type_e;

/*
 * A check hook for FW_OPT_STR and FW_OPT_LIST: it sees the value before it
 * is stored and returns NULL or a message (made with fw_conf_table_msg).
 * It may set *keep to a malloc'd string to store instead of the value.
 */
typedef const char *(*fw_opt_check_fn)(fw_conf_state_t *st, const char *value,
                                       char **keep);

/*
 * One row of the option table.  A row of a value type (STR to BOOL)
 * without a field is a uWSGI option accepted and ignored: its value is
 * still checked.  A name ending in '*' matches every name with that prefix.
 */
struct fw_opt {
    const char *name;    /* canonical, as in uWSGI */
    const char *aliases; /* space separated; one letter: also -X */
    fw_opt_type_e type;
    bool field;            /* the value is stored at .off in fw_conf_t */
    size_t off;            /* offsetof(fw_conf_t, ...) */
    fw_opt_check_fn check; /* optional, STR and LIST */
    int min, max;          /* FW_OPT_INT */
    long long size_min, size_max; /* FW_OPT_SIZE */
    const char *bare;    /* value when given with none; NULL: required */
    const char *def;     /* default, applied first and shown by --help */
    const char *metavar; /* --help: "--chdir DIR" */
    const char *help;    /* --help: one line; FW_OPT_REFUSE: the error */
};

/* One fw_conf_load call: the config being filled and what goes with it. */
struct fw_conf_state {
    fw_conf_t *c;
    FILE *out;
    FILE *err;
    char *module_callable; /* the ":callable" part of the last module */
    char *mount_module;    /* the module part of mount = /app=pkg.mod */
    int ini_depth;         /* ini files being read, one inside another */
    char msg[FW_CONF_MSG_MAX];
};

/* conf_table.c */
extern const fw_opt_t fw_conf_table_rows[];
extern const size_t fw_conf_table_nrows;
const fw_opt_t *fw_conf_table_find(const char *name);
bool fw_conf_table_takes_value(const fw_opt_t *opt);
void fw_conf_table_defaults(fw_conf_state_t *st);
const char *fw_conf_table_set(fw_conf_state_t *st, const fw_opt_t *opt,
                              const char *value);
const char *fw_conf_table_msg(fw_conf_state_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* conf_ini.c */
int fw_conf_ini_load(fw_conf_state_t *st, const char *path);

/* conf_check.c: hooks named by the table, and the check of the whole */
const char *fw_conf_check_socket(fw_conf_state_t *st, const char *value,
                                 char **keep);
const char *fw_conf_check_module(fw_conf_state_t *st, const char *value,
                                 char **keep);
const char *fw_conf_check_callable(fw_conf_state_t *st, const char *value,
                                   char **keep);
const char *fw_conf_check_mount(fw_conf_state_t *st, const char *value,
                                char **keep);
const char *fw_conf_check_env(fw_conf_state_t *st, const char *value,
                              char **keep);
const char *fw_conf_check_pm(fw_conf_state_t *st, const char *value,
                             char **keep);
const char *fw_conf_check_role(fw_conf_state_t *st, const char *value,
                               char **keep);
const char *fw_conf_check_url_path(fw_conf_state_t *st, const char *value,
                                   char **keep);
const char *fw_conf_check_allowed_clients(fw_conf_state_t *st,
                                          const char *value, char **keep);
const char *fw_conf_check_print_config(fw_conf_state_t *st, const char *value,
                                       char **keep);
const char *fw_conf_check_static_map(fw_conf_state_t *st, const char *value,
                                     char **keep);
int fw_conf_check_pool(fw_conf_state_t *st);
int fw_conf_check_all(fw_conf_state_t *st);

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
