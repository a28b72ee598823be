/*
 * conf_table.c: every option once (name, aliases, type, group, default,
 * help), the generic setters that parse and store a value, the write-back
 * of the options given, and fw_conf_free.  Adding an option is one row
 * here (plus a check hook in conf_check_*.c if its value needs more than
 * its type checks; and WHY_OURS for its uWSGI names in conf_uwsgi.c).
 * Setters print nothing: they return a message and the caller says where.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <strings.h>

#include "conf/conf_int.h"

#define FIELD(f) .field = true, .off = offsetof(fw_conf_t, f)
#define FW_MIB (1024LL * 1024)
/* socket-timeout, keepalive-timeout: a day, far from overflowing in ms */
#define FW_CONF_MAX_TIMEOUT 86400

#define SOCKET .group = FW_GROUP_SOCKET
#define APP .group = FW_GROUP_APP
#define POOL .group = FW_GROUP_POOL
#define LIMITS .group = FW_GROUP_LIMITS
#define LOGS .group = FW_GROUP_LOGS
#define RELOAD .group = FW_GROUP_RELOAD
#define CONFIG .group = FW_GROUP_CONFIG

/*
 * Every option of fcgi-wsgi.  --help shows them by group, in this order
 * (also the order of fw_conf_given_args).  The uWSGI names an option
 * answers to are its name and aliases: conf_uwsgi.c marks them
 * implemented.  A row without help is left out of --help.
 */
const fw_opt_t fw_conf_table_rows[] = {
    {.name = "socket",
     .aliases = "fastcgi-socket s",
     .type = FW_OPT_STR,
     SOCKET,
     FIELD(socket),
     .check = fw_conf_check_socket,
     .metavar = "ADDR",
     .help = "where to listen (see Sockets below)"},
    {.name = "chdir",
     .aliases = "chdir2 force-cwd",
     .type = FW_OPT_STR,
     APP,
     FIELD(chdir),
     .metavar = "DIR",
     .help = "directory to run the application in"},
    {.name = "home",
     .aliases = "virtualenv venv pyhome H",
     .type = FW_OPT_STR,
     APP,
     FIELD(home),
     .metavar = "DIR",
     .help = "Python virtualenv to run in"},
    {.name = "module",
     .aliases = "wsgi w",
     .type = FW_OPT_STR,
     APP,
     FIELD(module),
     .check = fw_conf_check_module,
     .metavar = "MODULE",
     .help = "WSGI module, config.wsgi[:callable]"},
    {.name = "wsgi-file",
     .aliases = "file",
     .type = FW_OPT_STR,
     APP,
     FIELD(wsgi_file),
     .check = fw_conf_check_wsgi_file,
     .metavar = "FILE",
     .help = "or a Python file holding the app"},
    {.name = "callable",
     .type = FW_OPT_STR,
     APP,
     FIELD(callable),
     .check = fw_conf_check_callable,
     .def = "application",
     .metavar = "NAME",
     .help = "name of the WSGI callable in module"},
    {.name = "mount",
     .type = FW_OPT_STR,
     APP,
     FIELD(mount),
     .check = fw_conf_check_mount,
     .metavar = "PREFIX",
     .help = "URL prefix: /app or /app=MODULE"},
    {.name = "pythonpath",
     .aliases = "python-path pp early-pythonpath early-python-path",
     .type = FW_OPT_LIST,
     APP,
     FIELD(pythonpath),
     .metavar = "DIR",
     .help = "add to sys.path (repeatable)"},
    {.name = "env",
     .type = FW_OPT_LIST,
     APP,
     FIELD(env),
     .check = fw_conf_check_env,
     .metavar = "KEY=VALUE",
     .help = "set in the environment (repeatable)"},
    {.name = "processes",
     .aliases = "workers p",
     .type = FW_OPT_INT,
     POOL,
     FIELD(processes),
     .min = 1,
     .max = INT_MAX,
     .def = "1",
     .metavar = "N",
     .help = "worker processes"},
    {.name = "threads",
     .type = FW_OPT_INT,
     POOL,
     FIELD(threads),
     .min = 1,
     .max = INT_MAX,
     .def = "1",
     .metavar = "N",
     .help = "threads in each worker process"},
    {.name = "lazy-apps",
     .aliases = "lazy",
     .type = FW_OPT_BOOL,
     APP,
     FIELD(lazy_apps),
     .bare = "true",
     .def = "false",
     .metavar = "[BOOL]",
     .help = "import the app in each worker"},
    {.name = "pm",
     .type = FW_OPT_STR,
     POOL,
     FIELD(pm),
     .check = fw_conf_check_pm,
     .def = "static",
     .metavar = "MODE",
     .help = "static, dynamic or ondemand"},
    {.name = "max-children",
     .type = FW_OPT_INT,
     POOL,
     FIELD(max_children),
     .min = 1,
     .max = INT_MAX,
     .metavar = "N",
     .help = "dynamic/ondemand: most workers"},
    {.name = "start-servers",
     .type = FW_OPT_INT,
     POOL,
     FIELD(start_servers),
     .min = 1,
     .max = INT_MAX,
     .metavar = "N",
     .help = "dynamic: workers at start"},
    {.name = "min-spare-servers",
     .aliases = "min-spare",
     .type = FW_OPT_INT,
     POOL,
     FIELD(min_spare),
     .min = 1,
     .max = INT_MAX,
     .def = "1",
     .metavar = "N",
     .help = "dynamic: fewest idle workers"},
    {.name = "max-spare-servers",
     .aliases = "max-spare",
     .type = FW_OPT_INT,
     POOL,
     FIELD(max_spare),
     .min = 1,
     .max = INT_MAX,
     .metavar = "N",
     .help = "dynamic: most idle workers"},
    {.name = "idle-timeout",
     .type = FW_OPT_INT,
     POOL,
     FIELD(idle_timeout),
     .min = 1,
     .max = INT_MAX,
     .def = "10",
     .metavar = "S",
     .help = "ondemand: idle seconds before exit"},
    {.name = "max-requests",
     .type = FW_OPT_INT,
     RELOAD,
     FIELD(max_requests),
     .min = 0,
     .max = INT_MAX,
     .def = "0",
     .metavar = "N",
     .help = "recycle a worker after N requests"},
    {.name = "max-requests-delta",
     .type = FW_OPT_INT,
     RELOAD,
     FIELD(max_requests_delta),
     .min = 0,
     .max = INT_MAX,
     .def = "0",
     .metavar = "N",
     .help = "add a random 0..N per worker"},
    {.name = "reload-on-rss",
     .type = FW_OPT_INT,
     RELOAD,
     FIELD(reload_on_rss),
     .min = 0,
     .max = INT_MAX,
     .def = "0",
     .metavar = "MIB",
     .help = "recycle a worker above this RSS"},
    {.name = "worker-shutdown-timeout",
     .aliases = "worker-reload-mercy reload-mercy",
     .type = FW_OPT_INT,
     RELOAD,
     FIELD(worker_shutdown_timeout),
     .min = 1,
     .max = INT_MAX,
     .def = "30",
     .help = "seconds a graceful stop may take"},
    {.name = "touch-reload",
     .aliases = "touch-workers-reload touch-chain-reload fs-reload "
                "fs-brutal-reload",
     .type = FW_OPT_LIST,
     RELOAD,
     FIELD(touch_reload),
     .metavar = "PATH",
     .help = "reload when PATH (file, dir) changes"},
    {.name = "py-autoreload",
     .aliases = "py-auto-reload python-autoreload python-auto-reload",
     .type = FW_OPT_INT,
     RELOAD,
     FIELD(py_autoreload),
     .min = 0,
     .max = 86400,
     .def = "0",
     .metavar = "N",
     .help = "dev: reload when a module changes"},
    {.name = "pidfile",
     .aliases = "pidfile2 safe-pidfile safe-pidfile2",
     .type = FW_OPT_STR,
     POOL,
     FIELD(pidfile),
     .metavar = "FILE",
     .help = "write the master's pid here"},
    {.name = "uid",
     .aliases = "immediate-uid",
     .type = FW_OPT_STR,
     POOL,
     FIELD(uid),
     .metavar = "USER",
     .help = "run as this user (after binding)"},
    {.name = "gid",
     .aliases = "immediate-gid",
     .type = FW_OPT_STR,
     POOL,
     FIELD(gid),
     .metavar = "GROUP",
     .help = "run as this group"},
    {.name = "allow-root",
     .aliases = "R",
     .type = FW_OPT_BOOL,
     POOL,
     FIELD(allow_root),
     .bare = "true",
     .def = "false",
     .metavar = "[BOOL]",
     .help = "serve as root, with no uid"},
    {.name = "chown-socket",
     .type = FW_OPT_STR,
     SOCKET,
     FIELD(chown_socket),
     .metavar = "USER[:GRP]",
     .help = "owner of the unix socket file"},
    {.name = "chmod-socket",
     .aliases = "chmod C",
     .type = FW_OPT_MODE,
     SOCKET,
     FIELD(chmod_socket),
     .bare = "666",
     .def = "660",
     .metavar = "[MODE]",
     .help = "unix socket mode, octal; bare: 666"},
    {.name = "logto",
     .aliases = "logto2",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(logto),
     .metavar = "FILE",
     .help = "log to this file, not stderr"},
    /* logs (bridge/log.h, access_log.c of bridge/observe/observe.h) */
    {.name = "log-format",
     .aliases = "logformat",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(log_format),
     .format = true,
     .metavar = "FORMAT",
     .help = "access line, uWSGI %(vars): combined"},
    {.name = "log-x-forwarded-for",
     .type = FW_OPT_BOOL,
     LOGS,
     FIELD(log_x_forwarded_for),
     .bare = "true",
     .def = "false",
     .help = "%(addr): X-Forwarded-For's first"},
    {.name = "log-date",
     .aliases = "logdate",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(log_date),
     .bare = "true",
     .metavar = "[FMT]",
     .help = "log lines' date: strftime FMT, false"},
    {.name = "log-maxsize",
     .type = FW_OPT_SIZE,
     LOGS,
     FIELD(log_maxsize),
     .size_min = 0,
     .size_max = LLONG_MAX,
     .def = "0",
     .metavar = "SIZE",
     .help = "rotate logto, access-log past SIZE"},
    /* seeing inside (bridge/observe.h) */
    {.name = "access-log",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(access_log),
     .metavar = "FILE",
     .help = "log one line per request to FILE"},
    {.name = "status-path",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(status_path),
     .check = fw_conf_check_url_path,
     .metavar = "PATH",
     .help = "answer PATH with the pool's status"},
    {.name = "ping-path",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(ping_path),
     .check = fw_conf_check_url_path,
     .metavar = "PATH",
     .help = "answer PATH with ping-response"},
    {.name = "ping-response",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(ping_response),
     .def = "pong",
     .metavar = "TEXT",
     .help = "the text of the ping page"},
    {.name = "pool-name",
     .type = FW_OPT_STR,
     LOGS,
     FIELD(pool_name),
     .metavar = "NAME",
     .help = "pool name (default: the module)"},
    {.name = "harakiri",
     .type = FW_OPT_INT,
     LIMITS,
     FIELD(harakiri),
     .min = 0,
     .max = INT_MAX,
     .def = "0",
     .metavar = "S",
     .help = "kill a worker stuck for S s"},
    {.name = "slowlog",
     .type = FW_OPT_INT,
     LOGS,
     FIELD(slowlog),
     .min = 0,
     .max = INT_MAX,
     .def = "0",
     .metavar = "S",
     .help = "log stacks of requests over S s"},
    {.name = "socket-timeout",
     .aliases = "z",
     .type = FW_OPT_INT,
     LIMITS,
     FIELD(socket_timeout),
     .min = 1,
     .max = FW_CONF_MAX_TIMEOUT,
     .def = "60",
     .metavar = "S",
     .help = "close a peer silent S s mid-request"},
    {.name = "keepalive-timeout",
     .type = FW_OPT_INT,
     LIMITS,
     FIELD(keepalive_timeout),
     .min = 1,
     .max = FW_CONF_MAX_TIMEOUT,
     .def = "75",
     .metavar = "S",
     .help = "close a kept connection idle for S s"},
    {.name = "socket-sndbuf",
     .type = FW_OPT_SIZE,
     LIMITS,
     FIELD(socket_sndbuf),
     .size_min = 0,
     .size_max = 64 * FW_MIB,
     .def = "1m",
     .metavar = "SIZE",
     .help = "send buffer of unix-socket answers"},
    {.name = "buffer-size",
     .aliases = "b",
     .type = FW_OPT_SIZE,
     LIMITS,
     FIELD(buffer_size),
     .size_min = 1024,
     .size_max = 16 * FW_MIB,
     .def = "64k",
     .metavar = "SIZE",
     .help = "most bytes of params; more get 431"},
    {.name = "limit-post",
     .type = FW_OPT_SIZE,
     LIMITS,
     FIELD(limit_post),
     .size_min = 0,
     .size_max = LLONG_MAX,
     .def = "0",
     .metavar = "SIZE",
     .help = "most bytes of a body (0: no limit)"},
    {.name = "disable-sendfile",
     .type = FW_OPT_BOOL,
     LIMITS,
     FIELD(disable_sendfile),
     .bare = "true",
     .def = "false",
     .metavar = "[BOOL]",
     .help = "file_wrapper: no sendfile(2)"},
    {.name = "post-buffering",
     .type = FW_OPT_SIZE,
     LIMITS,
     FIELD(post_buffering),
     .size_min = 0,
     .size_max = 1024 * FW_MIB,
     .def = "1m",
     .metavar = "SIZE",
     .help = "unsized body: in memory, then a file"},
    {.name = "allowed-clients",
     .aliases = "listen.allowed_clients",
     .type = FW_OPT_LIST,
     SOCKET,
     FIELD(allowed_clients),
     .check = fw_conf_check_allowed_clients,
     .metavar = "ADDRS",
     .help = "TCP clients allowed (default: any)"},
    {.name = "role",
     .type = FW_OPT_STR,
     SOCKET,
     FIELD(role),
     .check = fw_conf_check_role,
     .def = "auto",
     .metavar = "ROLE",
     .help = "authorizer: FastCGI Authorizer"},
    {.name = "static-map",
     .type = FW_OPT_LIST,
     CONFIG,
     FIELD(static_map),
     .check = fw_conf_check_static_map,
     .metavar = "URL=DIR",
     .help = "print-config: DIR served at URL"},
    {.name = "static-map2",
     .type = FW_OPT_LIST,
     CONFIG,
     .check = fw_conf_check_static_map2},
    {.name = "print-config",
     .type = FW_OPT_STR,
     CONFIG,
     FIELD(print_config),
     .check = fw_conf_check_print_config,
     .metavar = "TARGET",
     .help = "print a web server/systemd config"},
    {.name = "ini",
     .aliases = "include inherit",
     .type = FW_OPT_INI,
     CONFIG,
     .metavar = "FILE[:SEC]",
     .help = "read options from FILE (or: FILE.ini)"},
    {.name = "set-placeholder",
     .aliases = "set-ph",
     .type = FW_OPT_PLACEHOLDER,
     CONFIG,
     .metavar = "N=VALUE",
     .help = "ini files only: define %(N)"},
    {.name = "set",
     .aliases = "S",
     .type = FW_OPT_SET,
     CONFIG,
     .metavar = "N=VALUE",
     .help = "ini files only: option N, or %(N)"},
    {.name = "help",
     .aliases = "usage h",
     .type = FW_OPT_HELP,
     CONFIG,
     .help = "print this help"},
    {.name = "version",
     .aliases = "v V",
     .type = FW_OPT_VERSION,
     CONFIG,
     .help = "print its and its libraries' versions"},
    {.name = "test-config",
     .aliases = "t",
     .type = FW_OPT_BOOL,
     CONFIG,
     FIELD(test_config),
     .bare = "true",
     .def = "false",
     .metavar = "[BOOL]",
     .help = "check, import the app, print, exit"},
    {.name = "protocol",
     .aliases = "socket-protocol",
     .type = FW_OPT_STR,
     SOCKET,
     .check = fw_conf_check_protocol},
};

const size_t fw_conf_table_nrows =
    sizeof(fw_conf_table_rows) / sizeof(fw_conf_table_rows[0]);

/* True if name is word or one of the space-separated words in list. */
static bool
in_words(const char *list, const char *name)
{
    size_t len = strlen(name);

    while (list != NULL && *list != '\0') {
        size_t n = strcspn(list, " ");

        if (n == len && strncmp(list, name, n) == 0) {
            return true;
        }
        list += n;
        list += strspn(list, " ");
    }
    return false;
}

/* The row for name (canonical or alias), or NULL. */
const fw_opt_t *
fw_conf_table_find(const char *name)
{
    for (size_t i = 0; i < fw_conf_table_nrows; i++) {
        const fw_opt_t *opt = &fw_conf_table_rows[i];

        if (strcmp(opt->name, name) == 0 || in_words(opt->aliases, name)) {
            return opt;
        }
    }
    return NULL;
}

/* Whether the option is followed by a value (maybe optional: .bare). */
bool
fw_conf_table_takes_value(const fw_opt_t *opt)
{
    return opt->type != FW_OPT_HELP && opt->type != FW_OPT_VERSION;
}

/* Formats a setter's message into st->msg and returns it. */
const char *
fw_conf_table_msg(fw_conf_state_t *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
    return st->msg;
}

static void *
field_of(fw_conf_t *c, const fw_opt_t *opt)
{
    return (char *)c + opt->off;
}

static bool
all_digits(const char *s, const char *digits)
{
    return *s != '\0' && s[strspn(s, digits)] == '\0';
}

static const char *
parse_int(fw_conf_state_t *st, const fw_opt_t *opt, const char *value,
          int *out)
{
    long n;
    char *end;

    if (all_digits(value, "0123456789")) {
        errno = 0;
        n = strtol(value, &end, 10);
        if (errno == 0 && *end == '\0' && n >= opt->min && n <= opt->max) {
            *out = (int)n;
            return NULL;
        }
    }
    if (opt->max == INT_MAX) {
        return fw_conf_table_msg(st, "expected a whole number >= %d, got '%s'",
                                 opt->min, value);
    }
    return fw_conf_table_msg(st,
                             "expected a whole number from %d to %d, got '%s'",
                             opt->min, opt->max, value);
}

/* "16m", "1k", "1000": n in the largest unit that divides it. */
static void
size_text(long long n, char *buf, size_t size)
{
    static const char units[] = "gmk";

    for (int i = 0; n != 0 && i < 3; i++) {
        long long unit = 1LL << (10 * (3 - i));

        if (n % unit == 0) {
            snprintf(buf, size, "%lld%c", n / unit, units[i]);
            return;
        }
    }
    snprintf(buf, size, "%lld", n);
}

/*
 * A size: digits, then maybe one of k/K, m/M, g/G (1024-based), within
 * [size_min, size_max] of opt.
 */
static const char *
parse_size(fw_conf_state_t *st, const fw_opt_t *opt, const char *value,
           long long *out)
{
    size_t digits = strspn(value, "0123456789");
    const char *unit = value + digits;
    int shift = -1;
    char lo[32];
    char hi[32];

    switch (*unit) {
    case '\0':
        shift = 0;
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        break;
    }
    if (digits > 0 && digits <= 18 && shift >= 0 &&
        (shift == 0 || unit[1] == '\0')) {
        long long n = strtoll(value, NULL, 10);

        if (n <= (LLONG_MAX >> shift)) {
            n <<= shift;
            if (n >= opt->size_min && n <= opt->size_max) {
                *out = n;
                return NULL;
            }
        }
    }
    size_text(opt->size_min, lo, sizeof(lo));
    size_text(opt->size_max, hi, sizeof(hi));
    if (opt->size_max == LLONG_MAX) {
        return fw_conf_table_msg(st,
                                 "expected a size >= %s in bytes, or with "
                                 "k, m or g (1024-based) as 64k, got '%s'",
                                 lo, value);
    }
    return fw_conf_table_msg(st,
                             "expected a size from %s to %s in bytes, or "
                             "with k, m or g (1024-based) as 64k, got '%s'",
                             lo, hi, value);
}

static const char *
parse_mode(fw_conf_state_t *st, const char *value, unsigned *out)
{
    unsigned long n;

    if (all_digits(value, "01234567") && strlen(value) <= 4) {
        n = strtoul(value, NULL, 8);
        if (n <= 0777) {
            *out = (unsigned)n;
            return NULL;
        }
    }
    return fw_conf_table_msg(
        st, "expected an octal file mode such as 660, got '%s'", value);
}

static const char *const bool_yes[] = {"true", "yes", "on", "1"};
static const char *const bool_no[] = {"false", "no", "off", "0"};

const char *
fw_conf_parse_bool(fw_conf_state_t *st, const char *value, bool *out)
{
    for (size_t i = 0; i < sizeof(bool_yes) / sizeof(bool_yes[0]); i++) {
        if (strcasecmp(value, bool_yes[i]) == 0) {
            *out = true;
            return NULL;
        }
        if (strcasecmp(value, bool_no[i]) == 0) {
            *out = false;
            return NULL;
        }
    }
    return fw_conf_table_msg(
        st, "expected true or false (yes/no, on/off, 1/0), got '%s'", value);
}

bool
fw_conf_is_bool_word(const char *value)
{
    for (size_t i = 0; i < sizeof(bool_yes) / sizeof(bool_yes[0]); i++) {
        if (strcasecmp(value, bool_yes[i]) == 0 ||
            strcasecmp(value, bool_no[i]) == 0) {
            return true;
        }
    }
    return false;
}

void
fw_conf_list_append(fw_strlist_t *l, char *item)
{
    l->items = conf_realloc(l->items, (l->n + 1) * sizeof(l->items[0]));
    l->items[l->n++] = item;
}

/*
 * Parses value by opt's type and stores it in st->c (unless the row has no
 * field: a no-op).  An empty or NULL value means "given bare": opt->bare,
 * or an error if the option needs a value.  Returns NULL or a message.
 */
static const char *
set_value(fw_conf_state_t *st, const fw_opt_t *opt, const char *value)
{
    char *keep = NULL;
    const char *msg = NULL;
    int n = 0;
    long long size = 0;
    unsigned mode = 0;
    bool b = false;

    switch (opt->type) {
    case FW_OPT_HELP:
    case FW_OPT_VERSION:
        return "only on the command line";
    case FW_OPT_INI:
    case FW_OPT_PLACEHOLDER:
    case FW_OPT_SET:
        return "cannot be set here";
    default:
        break;
    }
    if (value == NULL || value[0] == '\0') {
        if (opt->bare == NULL) {
            return "needs a value";
        }
        value = opt->bare;
    }
    switch (opt->type) {
    case FW_OPT_STR:
    case FW_OPT_LIST:
        if (opt->check != NULL) {
            msg = opt->check(st, value, &keep);
            if (msg != NULL) {
                free(keep);
                return msg;
            }
        }
        if (!opt->field) {
            free(keep);
            return NULL;
        }
        if (keep == NULL) {
            keep = conf_strdup(value);
        }
        if (opt->type == FW_OPT_LIST) {
            fw_conf_list_append(field_of(st->c, opt), keep);
        } else {
            char **slot = field_of(st->c, opt);

            free(*slot);
            *slot = keep;
        }
        return NULL;
    case FW_OPT_INT:
        msg = parse_int(st, opt, value, &n);
        if (msg == NULL && opt->field) {
            *(int *)field_of(st->c, opt) = n;
        }
        return msg;
    case FW_OPT_SIZE:
        msg = parse_size(st, opt, value, &size);
        if (msg == NULL && opt->field) {
            *(long long *)field_of(st->c, opt) = size;
        }
        return msg;
    case FW_OPT_MODE:
        msg = parse_mode(st, value, &mode);
        if (msg == NULL && opt->field) {
            *(unsigned *)field_of(st->c, opt) = mode;
        }
        return msg;
    case FW_OPT_BOOL:
        msg = fw_conf_parse_bool(st, value, &b);
        if (msg == NULL && opt->field) {
            *(bool *)field_of(st->c, opt) = b;
        }
        return msg;
    default:
        return "cannot be set here";
    }
}

/*
 * Sets opt from the user's value (see set_value) and remembers that the
 * user gave it.  Returns NULL or a message for the caller to print after
 * "FILE:LINE: key: " or "--key: ".
 */
const char *
fw_conf_table_set(fw_conf_state_t *st, const fw_opt_t *opt, const char *value)
{
    const char *msg = set_value(st, opt, value);

    if (msg == NULL) {
        st->c->given[opt - fw_conf_table_rows] = true;
    }
    return msg;
}

/* Applies every row's default; the values in the table are well formed. */
void
fw_conf_table_defaults(fw_conf_state_t *st)
{
    for (size_t i = 0; i < fw_conf_table_nrows; i++) {
        const fw_opt_t *opt = &fw_conf_table_rows[i];

        if (opt->def != NULL && opt->field) {
            const char *msg = set_value(st, opt, opt->def);

            if (msg != NULL) {
                fprintf(stderr, "fcgi-wsgi: default of %s: %s\n", opt->name,
                        msg);
                abort();
            }
        }
    }
}

void
fw_conf_free(fw_conf_t *c)
{
    for (size_t i = 0; i < fw_conf_table_nrows; i++) {
        const fw_opt_t *opt = &fw_conf_table_rows[i];

        if (!opt->field) {
            continue;
        }
        if (opt->type == FW_OPT_STR) {
            char **slot = field_of(c, opt);

            free(*slot);
            *slot = NULL;
        } else if (opt->type == FW_OPT_LIST) {
            fw_conf_strlist_free(field_of(c, opt));
        }
    }
    fw_conf_strlist_free(&c->ini_files);
    free(c->given);
    c->given = NULL;
    fw_conf_strlist_free(&c->notices);
    fw_conf_strlist_free(&c->warnings);
}

void
fw_conf_strlist_free(fw_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static bool
is_one_of(const char *name, const char *const *names)
{
    for (; names != NULL && *names != NULL; names++) {
        if (strcmp(name, *names) == 0) {
            return true;
        }
    }
    return false;
}

static void
args_add_opt(fw_strlist_t *a, const char *name, const char *value)
{
    char flag[80];

    snprintf(flag, sizeof(flag), "--%s", name);
    fw_conf_list_append(a, conf_strdup(flag));
    fw_conf_list_append(a, conf_strdup(value));
}

void
fw_conf_given_args(const fw_conf_t *c, const char *const *skip,
                   fw_strlist_t *out)
{
    char num[32];

    for (size_t i = 0; i < fw_conf_table_nrows; i++) {
        const fw_opt_t *opt = &fw_conf_table_rows[i];
        const void *field = (const char *)c + opt->off;

        if (strcmp(opt->name, "module") == 0) {
            if (c->wsgi_file == NULL) { /* else: its wsgi-file row */
                args_add_opt(out, "module", c->module);
            }
            if (c->callable != NULL &&
                strcmp(c->callable, "application") != 0) {
                args_add_opt(out, "callable", c->callable);
            }
            continue;
        }
        if (c->given == NULL || !c->given[i] || !opt->field ||
            is_one_of(opt->name, skip)) {
            continue;
        }
        switch (opt->type) {
        case FW_OPT_STR:
            if (*(char *const *)field != NULL) {
                args_add_opt(out, opt->name, *(char *const *)field);
            }
            break;
        case FW_OPT_LIST: {
            const fw_strlist_t *l = field;

            for (size_t j = 0; j < l->n; j++) {
                args_add_opt(out, opt->name, l->items[j]);
            }
            break;
        }
        case FW_OPT_INT:
            snprintf(num, sizeof(num), "%d", *(const int *)field);
            args_add_opt(out, opt->name, num);
            break;
        case FW_OPT_SIZE:
            snprintf(num, sizeof(num), "%lld", *(const long long *)field);
            args_add_opt(out, opt->name, num);
            break;
        case FW_OPT_MODE:
            snprintf(num, sizeof(num), "%03o", *(const unsigned *)field);
            args_add_opt(out, opt->name, num);
            break;
        case FW_OPT_BOOL: {
            /* one word: a boolean given bare takes no "true" after it */
            char word[96];

            snprintf(word, sizeof(word), "--%s=%s", opt->name,
                     *(const bool *)field ? "true" : "false");
            fw_conf_list_append(out, conf_strdup(word));
            break;
        }
        default:
            break;
        }
    }
}
