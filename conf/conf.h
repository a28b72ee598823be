/*
 * conf.h: fcgi-wsgi's configuration, from the command line and ini files.
 * One table (conf_table.c) names every option once; the command line and
 * the ini reader both feed it "key = value" lines.  Nothing here starts or
 * opens anything: it only reads, checks and reports.
 */
#ifndef FW_CONF_H
#define FW_CONF_H

#include <stdbool.h>
#include <stdio.h>

/* --version's first line: "fcgi-wsgi 0.1.0" */
#define FW_VERSION "0.1.0"

typedef struct {
    char **items;
    size_t n;
} fw_strlist_t;

typedef enum {
    FW_SOCK_NONE = 0, /* no socket option: serve a listener on fd 0 */
    FW_SOCK_UNIX,
    FW_SOCK_TCP
} fw_sock_kind_e;

typedef struct {
    fw_sock_kind_e kind;
    char path[108]; /* FW_SOCK_UNIX: sun_path */
    char host[256]; /* FW_SOCK_TCP: numeric address or name */
    int port;       /* FW_SOCK_TCP: 1..65535 */
} fw_sockaddr_conf_t;

/* pm: how the pool's size follows the load (php-fpm's pm). */
typedef enum {
    FW_PM_STATIC = 0, /* always `processes` workers */
    FW_PM_DYNAMIC,    /* start-servers, then min/max-spare idle ones */
    FW_PM_ONDEMAND    /* none until a connection waits; idle-timeout */
} fw_pm_e;

/* print-config: the text --print-config prints (deploy/print_config.c). */
typedef enum {
    FW_PRINT_NONE = 0,      /* serve: print nothing */
    FW_PRINT_NGINX,         /* a server block for nginx */
    FW_PRINT_APACHE,        /* mod_proxy_fcgi lines for Apache */
    FW_PRINT_LIGHTTPD,      /* mod_fastcgi lines for lighttpd */
    FW_PRINT_CADDY,         /* a site block's lines for Caddy */
    FW_PRINT_H2O,           /* a host's settings for H2O */
    FW_PRINT_SYSTEMD,       /* the .service */
    FW_PRINT_SYSTEMD_SOCKET /* the .socket (socket activation) */
} fw_print_target_e;

typedef struct {
    /* as written by the user */
    char *socket;
    char *chdir;
    char *home;
    char *module;    /* "pkg.mod" (the ":callable" part is split off);
                        with wsgi_file: the name the file is loaded under
                        (uWSGI's "uwsgi_file_" + its path) */
    char *wsgi_file; /* a Python file holding the application (uWSGI's
                        wsgi-file), relative to chdir; or NULL */
    char *callable;  /* never NULL after FW_CONF_OK; default "application" */
    fw_strlist_t pythonpath;
    fw_strlist_t env; /* "KEY=VALUE" */
    char *logto;
    char *mount; /* URL prefix "/app" (no trailing '/'), or NULL: root */
    unsigned chmod_socket; /* octal, default 0660 */
    int processes;
    int threads;

    /* the process manager (bridge/pool/) */
    bool lazy_apps;    /* import the app in each worker, not the master */
    char *pm;          /* static | dynamic | ondemand */
    int max_children;  /* 0: processes (after the checks: the pool max) */
    int start_servers; /* 0: between the spares (after the checks) */
    int min_spare;
    int max_spare;          /* 0: min(3, max_children) (after the checks) */
    int idle_timeout;       /* ondemand: seconds idle before a worker goes */
    int max_requests;       /* recycle a worker after this many; 0: never */
    int max_requests_delta; /* + a random 0..delta per worker */
    int reload_on_rss;      /* MiB; 0: never */
    int worker_shutdown_timeout; /* seconds a graceful stop may take */
    fw_strlist_t touch_reload;   /* reload when a file's mtime changes,
                                    or a file in a directory */
    int py_autoreload; /* seconds between looks at sys.modules; 0: off */
    char *pidfile;
    char *uid;
    char *gid;
    char *chown_socket; /* USER[:GROUP] */

    /* roles and deployment (bridge/wire/, deploy/print_config.c) */
    char *role;              /* "auto" (each request's) or "authorizer" */
    fw_strlist_t static_map; /* "URLPREFIX=DIR": for --print-config only */
    char *print_config;      /* print this target's config, then exit
                                (as c->print_target after the checks) */
    fw_strlist_t ini_files;  /* the ini files the command line named, as
                                given (--print-config systemd runs them) */
    bool test_config;        /* -t: check, import the app, print the
                                start-up summary, exit; nothing bound */
    bool show_version;       /* --version was given: the caller prints
                                the versions (bridge/startup.c) */

    /* logs (bridge/log.h, bridge/observe/observe.h) */
    char *log_format;         /* NULL: combined; no access-log: the log */
    bool log_x_forwarded_for; /* %(addr) from X-Forwarded-For */
    char *log_date;           /* NULL/true: default; false; strftime */
    long long log_maxsize;    /* bytes; 0: no rotation */

    /* seeing inside (bridge/observe/observe.h) */
    char *access_log;    /* NULL: no access log */
    char *status_path;   /* NULL: no status page */
    char *ping_path;     /* NULL: no ping page */
    char *ping_response; /* default "pong" */
    char *pool_name;     /* after the checks: the module's if not given */
    int harakiri;        /* seconds; 0: off */
    int slowlog;         /* seconds; 0: off */

    /* the FastCGI wire: limits and who may connect (bridge/wire/,
     * bridge/allow.c, bridge/privs.c) */
    int socket_timeout;           /* seconds waiting for a peer's next bytes */
    int keepalive_timeout;        /* seconds a kept connection may sit idle */
    long long socket_sndbuf;      /* SO_SNDBUF a unix-socket connection is
                                     raised to when an answer fills it; 0:
                                     the kernel's */
    long long buffer_size;        /* bytes of PARAMS a request may send */
    long long limit_post;         /* bytes of body; 0: unlimited */
    long long post_buffering;     /* bytes of a length-less body kept in
                                     memory before it goes to a temp file */
    fw_strlist_t allowed_clients; /* "ADDR[/BITS],...": each item checked
                                     with fw_conf_parse_cidr, no spaces */
    bool allow_root;              /* serve as root without uid/gid */
    bool disable_sendfile;        /* wsgi.file_wrapper: read and write the
                                     file, no sendfile(2) */

    /* derived by the checks */
    bool force_authorizer; /* role = authorizer */
    fw_sockaddr_conf_t listen;
    fw_pm_e pm_mode;
    fw_print_target_e print_target; /* print-config */

    /* per option table row: set by the user, not a default (for
       fw_conf_given_args); owned, released by fw_conf_free */
    bool *given;

    /* lines for the start-up log, each once (owned): uWSGI options that
       are accepted and ignored (notices, INFO) and what the user must know
       (warnings, WARN: static-map) */
    fw_strlist_t notices;
    fw_strlist_t warnings;
} fw_conf_t;

typedef enum {
    FW_CONF_OK = 0, /* serve */
    FW_CONF_EXIT,   /* --help was printed, or --version asked: exit 0 */
    FW_CONF_ERROR   /* a one-line error was printed to stderr: exit 2 */
} fw_conf_result_e;

/*
 * Fills c from argv: first the ini files it names (--ini FILE[:SECTION],
 * or a bare FILE.ini[:SECTION]), then every other option, so the command
 * line wins.  Then checks the whole: module given, socket well formed,
 * ranges.  Errors are printed to err as "fcgi-wsgi: FILE:LINE: key:
 * message" (or "fcgi-wsgi: --key: message"), one line each.  uWSGI's
 * options that are accepted but ignored, and what the user must know
 * (static-map), are left in c->notices and c->warnings for the log.
 * c needs no initialisation: it is cleared and given its defaults first.
 * Whatever the result, release c with fw_conf_free afterwards.  --help
 * prints to out and returns FW_CONF_EXIT, and so does --print-config
 * uwsgi-options (every uWSGI option and its verdict, as the README lists
 * them); --version sets c->show_version and returns FW_CONF_EXIT (the
 * caller prints what it links).  Other --print-config targets are only
 * checked and stored (c->print_target): the caller prints the text
 * (deploy/print_config.h).
 */
fw_conf_result_e fw_conf_load(fw_conf_t *c, int argc, char **argv, FILE *out,
                              FILE *err);

/* Releases everything fw_conf_load allocated; c may be half filled. */
void fw_conf_free(fw_conf_t *c);

/*
 * Fills c with the option table's defaults alone, as a command line with
 * no options would (the pool's sizes derived as the checks derive them),
 * without the module a load requires: for a master that serves no
 * application (a reload whose configuration no longer loads).  Release
 * with fw_conf_free.
 */
void fw_conf_defaults(fw_conf_t *c);

/*
 * The options the user gave to fw_conf_load (not the defaults), written
 * back as a command line that loads to the same configuration: in table
 * order under canonical names, "--name" then "value" (sizes in bytes, a
 * mode in octal), a boolean as one word "--name=true"; module always, and
 * callable when not "application".  Names in skip (NULL-terminated) are
 * left out.  Appends to out (malloc'd strings; release with
 * fw_conf_strlist_free).
 */
void fw_conf_given_args(const fw_conf_t *c, const char *const *skip,
                        fw_strlist_t *out);
void fw_conf_strlist_free(fw_strlist_t *l);

/* Prints --help: every option with its default and one line of meaning. */
void fw_conf_usage(FILE *out);

/* One address or network of allowed-clients (or FCGI_WEB_SERVER_ADDRS). */
typedef struct {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network order; AF_INET uses 4; bits past
                               the prefix are 0 */
    int prefix;             /* leading bits that must match */
} fw_cidr_t;

/*
 * Parses the len bytes at s, "ADDR" or "ADDR/BITS" (IPv4 up to /32, IPv6
 * up to /128, numeric only, no spaces), into out.  An IPv4-mapped IPv6
 * network (::ffff:10.0.0.0/104) becomes the IPv4 one (10.0.0.0/8).  Pure:
 * the conf checks and bridge/allow.c share it.  0, or -1 if it is not one.
 */
int fw_conf_parse_cidr(const char *s, size_t len, fw_cidr_t *out);

#endif /* FW_CONF_H */
