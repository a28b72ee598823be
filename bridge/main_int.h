/*
 * main_int.h: what the program's start shares between its files and
 * nothing else includes: what main() wires together (fw_main_t, main.c),
 * the configuration as each module is told it (map.c), and the checks a
 * start makes before it serves, which -t runs without serving (checks.c).
 */
#ifndef FW_MAIN_INT_H
#define FW_MAIN_INT_H

#include <stdbool.h>
#include <sys/stat.h>

#include "bridge/observe/observe.h"
#include "bridge/pool/pool.h"
#include "bridge/serve/serve.h"
#include "bridge/startup.h"
#include "conf/conf.h"
#include "pyglue/pyglue.h"

/* A step's result: go on to the next step, or end with this exit status. */
#define FW_MAIN_GO (-1)

/* What main() wires together; released by main.c's main_end. */
typedef struct {
    char **argv;
    char **envp;    /* a copy of the start environment, for a reload */
    int cwd_fd;     /* the start directory, for a reload's exec */
    char cwd[4096]; /* the application's directory (after chdir) */
    bool reload;    /* this image was exec'd by a reload */
    fw_reload_handover_t handover;
    fw_conf_t conf;
    fw_listener_t listener;
    fw_privs_t privs;
    struct stat socket_st;     /* the unix socket file of ours, once owned */
    bool socket_file;          /* socket_st is set */
    char access_warning[1024]; /* the web server could not connect: why */
} fw_main_t;

/* -------------------------------------------------------------------- */
/*
 * map.c: every option reaches its user here and only here: each module
 * owns its config struct and one function fills it from the loaded
 * configuration.
 */

void fw_map_app(fw_app_config_t *app, const fw_conf_t *c, const char *program,
                const char *cwd);
void fw_map_observe(fw_observe_config_t *oc, const fw_conf_t *c);
void fw_map_worker(fw_worker_config_t *wc, const fw_conf_t *c, int listen_fd);

/* app: NULL when the application cannot be loaded (fw_master_config_t). */
void fw_map_master(fw_master_config_t *mc, const fw_main_t *m,
                   const fw_app_config_t *app, const fw_worker_config_t *wc);

/* The start-up block (bridge/startup.h) of this process as it is now:
 * the user it runs as, the socket file's owner and mode as found (or, for
 * -t, as they will be). */
void fw_map_startup(fw_startup_t *s, const fw_main_t *m, const char *what);

/* -------------------------------------------------------------------- */
/*
 * checks.c: what a start checks before it serves, each failure one line:
 * the users, the process as the application will see it (env, who may
 * connect, chdir, home); and -t, which makes them binding nothing.  Each
 * returns FW_MAIN_GO or the exit status.
 */

/*
 * A start refused for a cause the configuration gives (a user, a
 * directory, home): one line "fcgi-wsgi: ..." on stderr, as for an error
 * of the configuration itself, also written to the log when that is a
 * file (logto) or the start a reload's (whose stderr nobody reads).
 * Returns 2, the exit status of a bad configuration.
 */
int fw_checks_refuse(const fw_main_t *m, const char *msg);

/* uid, gid, chown-socket resolved, and root refused unless allowed. */
int fw_checks_privs(fw_main_t *m);

/* env = lines, who may connect (FCGI_WEB_SERVER_ADDRS comes from the
 * environment), chdir, and home checked there (a relative home is the
 * chdir's, as for Python): the process as the application will see it. */
int fw_checks_process(fw_main_t *m);

/*
 * -t / --test-config (php-fpm -t, nginx -t): what a start does before it
 * serves, but binding nothing: the users, chdir and home, the socket's
 * directory, the privileges dropped, the application imported; then the
 * start-up block on stdout.  The exit status: 0; 2 after one line (a
 * check failed); 1 when the application does not import (logged).
 */
int fw_checks_test_config(fw_main_t *m);

#endif /* FW_MAIN_INT_H */
