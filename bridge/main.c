/*
 * main.c: wiring only.  Reads the configuration, prepares the process
 * (environment, directory, log, socket, pid file, privileges) and hands
 * over to the master, which always runs (or serves one CGI request).  The
 * one place where options reach their users: map_* below fill each
 * module's own config struct.  Exit status: 0 after a stop (or a -t whose
 * checks passed), 1 when start-up failed, 2 for a bad configuration.
 *
 * The same program is the new master image of a reload (pool/reload.c execs
 * it): then the socket is adopted instead of bound, and a failure here
 * does not end the process, since the old workers still serve: the master
 * runs without an application and keeps them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/serve/serve.h"
#include "bridge/log.h"
#include "bridge/startup.h"
#include "bridge/pool/pool.h"
#include "bridge/observe/observe.h"
#include "conf/conf.h"
#include "deploy/print_config.h"
#include "pyglue/pyglue.h"

#define FW_LISTEN_BACKLOG 1024

/* A step's result: go on to the next step, or end with this exit status. */
#define MAIN_GO (-1)

/* What main() wires together; released by main_end. */
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
} main_t;

extern char **environ;

/* env = KEY=VALUE lines, set before Python starts.  0 or -1. */
static int
main_set_env(const fw_strlist_t *env)
{
    for (size_t i = 0; i < env->n; i++) {
        char *item = env->items[i];
        char *eq = strchr(item, '=');
        int rc;

        if (eq == NULL) {
            continue; /* conf rejects these */
        }
        *eq = '\0';
        rc = setenv(item, eq + 1, 1);
        *eq = '=';
        if (rc < 0) {
            fw_log(FW_LOG_ERROR, "env %s: %s", item, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* A copy of the environment as it is now (for a reload's exec), or NULL
 * when out of memory. */
static char **
main_copy_env(void)
{
    size_t n = 0;
    char **copy;

    while (environ[n] != NULL) {
        n++;
    }
    copy = calloc(n + 1, sizeof(*copy));
    for (size_t i = 0; copy != NULL && i < n; i++) {
        copy[i] = strdup(environ[i]);
        if (copy[i] == NULL) {
            return NULL; /* the process ends soon: no need to free */
        }
    }
    return copy;
}

/*
 * A start refused for a cause the configuration gives (a user, a
 * directory, home): one line "fcgi-wsgi: ..." on stderr, as for an error
 * of the configuration itself, also written to the log when that is a
 * file (logto) or the start a reload's (whose stderr nobody reads).
 * Returns 2, the exit status of a bad configuration.
 */
static int
main_refuse(const main_t *m, const char *msg)
{
    fprintf(stderr, "fcgi-wsgi: %s\n", msg);
    if (m->reload || (m->conf.logto != NULL && !m->conf.test_config)) {
        fw_log(FW_LOG_ERROR, "%s%s", m->reload ? "reload: " : "", msg);
    }
    return 2;
}

/*
 * The listening socket: adopted after a reload's exec (a changed socket
 * option cannot apply: it is logged), inherited on fd 0, or bound.
 * 0, -1 after logging, or 2 (a usage error, printed).
 */
static int
main_listen(fw_listener_t *l, const fw_conf_t *conf,
            const fw_reload_handover_t *h)
{
    const char *own =
        conf->listen.kind == FW_SOCK_UNIX ? conf->listen.path : NULL;

    if (h->listen_fd >= 0) {
        if (fw_listen_adopt(l, h->listen_fd, own) < 0) {
            fw_log(FW_LOG_ERROR, "reload: fd %d is not a listening socket",
                   h->listen_fd);
            return -1;
        }
        if (conf->socket != NULL && own != NULL && l->unix_path[0] == '\0') {
            fw_log(FW_LOG_WARN,
                   "reload: socket changed to %s: still serving %s (a "
                   "restart applies it)",
                   conf->socket, l->name);
        }
        return 0;
    }
    if (conf->listen.kind == FW_SOCK_NONE) {
        if (fw_listen_inherit(l) < 0 && fw_cgi_detect() == 0) {
            fprintf(stderr,
                    "fcgi-wsgi: no socket given and fd 0 is not a listening "
                    "socket: set socket = unix:PATH or HOST:PORT (see "
                    "--help)\n");
            return 2;
        }
        return 0;
    }
    return fw_listen_open(l, &conf->listen, conf->chmod_socket,
                          FW_LISTEN_BACKLOG);
}

/*
 * Apache's mod_fcgid sends each process it starts one request at a time,
 * and starts more processes when it wants more: such a launch
 * (fw_listen_by_mod_fcgid) serves one request at a time whatever the ini
 * says.  Adjusts conf before it is mapped to the modules.
 */
static void
main_fit_mod_fcgid(fw_conf_t *conf, const fw_listener_t *l)
{
    char parent[32];

    if (!fw_listen_by_mod_fcgid(l, parent, sizeof(parent))) {
        return;
    }
    if (conf->max_children > 1 || conf->threads > 1) {
        fw_log(FW_LOG_INFO,
               "started by %s (mod_fcgid): serving one request at a time; "
               "mod_fcgid starts more processes when it needs them "
               "(processes %d and threads %d ignored)",
               parent, conf->max_children, conf->threads);
    }
    conf->processes = 1;
    conf->max_children = 1;
    conf->threads = 1;
    conf->pm_mode = FW_PM_STATIC;
}

/* ---- the mapping: the configuration, as each module is told it ---- */
/*
 * Every option reaches its user here and only here: each module owns its
 * config struct (pyglue's fw_app_config_t, observe's fw_observe_config_t,
 * serve's fw_worker_config_t, pool's fw_master_config_t) and one function
 * below fills it from the loaded configuration, as one initializer that
 * reads as a table (field = option; a field left out is zero).  No
 * defaults here: conf has applied the table's and derived the rest
 * (fw_conf_load, fw_conf_defaults).  The structs point into conf, which
 * outlives them.
 */

static void
map_app(fw_app_config_t *app, const fw_conf_t *c, const char *program,
        const char *cwd)
{
    *app = (fw_app_config_t){
        .program = program,
        .home = c->home,
        .chdir = cwd,
        .pythonpath = (const char *const *)c->pythonpath.items,
        .npythonpath = c->pythonpath.n,
        .module = c->module,
        .wsgi_file = c->wsgi_file,
        .callable = c->callable,
        .mount = c->mount,
        .multithread = c->threads > 1,
        .multiprocess = c->max_children > 1,
        .log = fw_log_write,
    };
}

static void
map_observe(fw_observe_config_t *oc, const fw_conf_t *c)
{
    *oc = (fw_observe_config_t){
        .status_path = c->status_path,
        .ping_path = c->ping_path,
        .ping_response = c->ping_response,
        .pool = c->pool_name,
        .access_log = c->access_log,
        .log_format = c->log_format,
        .log_x_forwarded_for = c->log_x_forwarded_for,
        .logto = c->logto,
        .log_date = c->log_date,
        .log_maxsize = c->log_maxsize,
        .harakiri = c->harakiri,
        .slowlog = c->slowlog,
        .threads = c->threads,
    };
}

static void
map_worker(fw_worker_config_t *wc, const fw_conf_t *c, int listen_fd)
{
    *wc = (fw_worker_config_t){
        .listen_fd = listen_fd,
        .slot = -1, /* set by the master's fork */
        .threads = c->threads,
        .shutdown_timeout = c->worker_shutdown_timeout,
        .logto = c->logto,
        .max_requests = c->max_requests,
        .max_requests_delta = c->max_requests_delta,
        .reload_on_rss = c->reload_on_rss,
        .socket_timeout = c->socket_timeout,
        .keepalive_timeout = c->keepalive_timeout,
        .buffer_size = (size_t)c->buffer_size,
        .limit_post = (unsigned long long)c->limit_post,
        .post_buffering = (size_t)c->post_buffering,
        .max_reqs = c->max_children * c->threads,
        .force_authorizer = c->force_authorizer,
    };
}

/* app: NULL when the application cannot be loaded (fw_master_config_t). */
static void
map_master(fw_master_config_t *mc, const main_t *m, const fw_app_config_t *app,
           const fw_worker_config_t *wc)
{
    const fw_conf_t *c = &m->conf;

    *mc = (fw_master_config_t){
        .app = app,
        .lazy_apps = c->lazy_apps,
        .pm = c->pm_mode,
        .max_children = c->max_children,
        .start_servers = c->start_servers,
        .min_spare = c->min_spare,
        .max_spare = c->max_spare,
        .idle_timeout = c->idle_timeout,
        .touch_reload = c->touch_reload.items,
        .ntouch_reload = c->touch_reload.n,
        .argv = m->argv,
        .envp = m->envp,
        .cwd_fd = m->cwd_fd,
        .handover = &m->handover,
        .worker = wc,
        .py_autoreload = c->py_autoreload,
    };
}

/* ---- the steps ---- */

/* What this image starts from: a reload's handover (the socket and the
 * old workers), the environment and directory a reload execs with. */
static void
main_begin(main_t *m, char **argv)
{
    memset(m, 0, sizeof(*m));
    m->argv = argv;
    m->listener.fd = -1;
    fw_reload_handover_take(&m->handover);
    m->reload = m->handover.listen_fd >= 0;
    m->envp = main_copy_env();
    m->cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * The configuration, or --help, --version, --print-config.  A reload
 * whose configuration no longer loads goes on with the table's defaults
 * and *no_app set: the old workers keep serving.  MAIN_GO or the exit
 * status.
 */
static int
main_load_conf(main_t *m, int argc, bool *no_app)
{
    *no_app = false;
    switch (fw_conf_load(&m->conf, argc, m->argv, stdout, stderr)) {
    case FW_CONF_OK:
        break;
    case FW_CONF_EXIT:
        if (m->conf.show_version) {
            fw_startup_print_version(stdout);
        }
        return 0;
    case FW_CONF_ERROR:
        if (!m->reload) {
            return 2;
        }
        fw_conf_free(&m->conf);
        fw_conf_defaults(&m->conf);
        *no_app = true;
        return MAIN_GO;
    }
    if (m->conf.print_target != FW_PRINT_NONE) {
        return fw_print_config(&m->conf, stdout, stderr) == 0 ? 0 : 2;
    }
    return MAIN_GO;
}

/* The log (a reload keeps the old one if the new cannot be opened) and
 * systemd's NOTIFY_SOCKET, before Python starts. */
static int
main_open_log(main_t *m)
{
    if (fw_log_open(m->conf.logto) < 0) {
        fprintf(stderr, "fcgi-wsgi: logto %s: %s\n", m->conf.logto,
                strerror(errno));
        if (!m->reload) {
            return 2;
        }
    }
    fw_log_set_role("master");
    fw_notify_init();
    if (m->envp == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return 1;
    }
    return MAIN_GO;
}

/* uid, gid, chown-socket resolved, and root refused unless allowed. */
static int
main_check_privs(main_t *m)
{
    const fw_conf_t *c = &m->conf;
    const char *msg =
        fw_privs_resolve(&m->privs, c->uid, c->gid, c->chown_socket);

    if (msg == NULL) {
        msg = fw_privs_check_root(&m->privs, c->allow_root);
    }
    if (msg != NULL) {
        return main_refuse(m, msg);
    }
    return MAIN_GO;
}

/* What the configuration has to say at start (conf's notices: uWSGI
 * options ignored; its warnings: static-map), once the start is allowed. */
static void
main_log_conf_notes(const fw_conf_t *c)
{
    for (size_t i = 0; i < c->notices.n; i++) {
        fw_log(FW_LOG_INFO, "%s", c->notices.items[i]);
    }
    for (size_t i = 0; i < c->warnings.n; i++) {
        fw_log(FW_LOG_WARN, "%s", c->warnings.items[i]);
    }
}

/* env = lines, who may connect (FCGI_WEB_SERVER_ADDRS comes from the
 * environment), chdir, and home checked there (a relative home is the
 * chdir's, as for Python): the process as the application will see it. */
static int
main_set_process(main_t *m)
{
    const fw_conf_t *c = &m->conf;
    char msg[1024];

    if (main_set_env(&c->env) < 0) {
        return 1;
    }
    if (fw_allow_setup((const char *const *)c->allowed_clients.items,
                       c->allowed_clients.n) < 0) {
        return 2;
    }
    if (c->chdir != NULL && chdir(c->chdir) < 0) {
        snprintf(msg, sizeof(msg), "chdir %s: %s", c->chdir, strerror(errno));
        return main_refuse(m, msg);
    }
    if (getcwd(m->cwd, sizeof(m->cwd)) == NULL) {
        fw_log(FW_LOG_ERROR, "getcwd: %s", strerror(errno));
        return 1;
    }
    if (fw_pyglue_check_home(c->home, msg, sizeof(msg)) != NULL) {
        return main_refuse(m, msg);
    }
    return MAIN_GO;
}

/*
 * The unix socket file of ours (a first start's, or a reload's when the
 * address is unchanged): its owner and mode as configured (a reload says
 * what it cannot change), remembered for the start-up block with the
 * warning to log after it when the web server's usual user could not
 * connect (fw_privs_web_access: looked at before the privileges drop).
 * 0, or -1 after logging (a first start only).
 */
static int
main_own_socket(main_t *m)
{
    const char *path = m->listener.unix_path;

    if (fw_privs_own_socket(&m->privs, path, m->conf.chmod_socket, m->reload) <
        0) {
        return -1;
    }
    m->socket_file = path[0] != '\0' && stat(path, &m->socket_st) == 0;
    if (m->socket_file &&
        fw_privs_web_access(path, m->socket_st.st_uid, m->socket_st.st_gid,
                            (unsigned)m->socket_st.st_mode & 07777,
                            m->access_warning,
                            sizeof(m->access_warning)) == NULL) {
        m->access_warning[0] = '\0';
    }
    return 0;
}

/* The listening socket (none: a CGI request), fitted to mod_fcgid, its
 * owner set; then the pid file and the privileges dropped. */
static int
main_open_socket(main_t *m)
{
    int rc = main_listen(&m->listener, &m->conf, &m->handover);

    if (rc != 0) {
        return rc == 2 ? 2 : 1;
    }
    main_fit_mod_fcgid(&m->conf, &m->listener);
    if (main_own_socket(m) < 0) {
        return 1;
    }
    if (m->conf.pidfile != NULL && fw_pidfile_write(m->conf.pidfile) < 0 &&
        !m->reload) {
        return 1;
    }
    if (fw_privs_drop(&m->privs) < 0) {
        return 1;
    }
    return MAIN_GO;
}

/* The status and ping pages, the access log, harakiri and slowlog. */
static int
main_setup_observe(main_t *m)
{
    fw_observe_config_t oc;

    map_observe(&oc, &m->conf);
    return fw_observe_setup(&oc, m->listener.fd) < 0 ? 1 : MAIN_GO;
}

/*
 * Everything before the application: each step MAIN_GO or the exit
 * status of a start that failed.
 */
static int
main_prepare(main_t *m)
{
    int rc = main_open_log(m);

    if (rc == MAIN_GO) {
        rc = main_check_privs(m);
    }
    if (rc == MAIN_GO) {
        main_log_conf_notes(&m->conf);
        rc = main_set_process(m);
    }
    if (rc == MAIN_GO) {
        rc = main_open_socket(m);
    }
    if (rc == MAIN_GO) {
        rc = main_setup_observe(m);
    }
    return rc;
}

/* ---- the start-up block, and -t ---- */

static void
main_emit_log(void *arg, const char *line)
{
    (void)arg;
    fw_log(FW_LOG_INFO, "%s", line);
}

static void
main_emit_file(void *arg, const char *line)
{
    fprintf((FILE *)arg, "%s\n", line);
}

/* The start-up block (bridge/startup.h) of this process as it is now:
 * the user it runs as, the socket file's owner and mode as found (or, for
 * -t, as they will be). */
static void
main_report(const main_t *m, const char *what, fw_startup_emit_pt emit,
            void *arg)
{
    fw_startup_t s = {
        .conf = &m->conf,
        .what = what,
        .socket = m->listener.name,
        .unix_file = m->socket_file,
        .socket_uid = m->socket_st.st_uid,
        .socket_gid = m->socket_st.st_gid,
        .socket_mode = (unsigned)m->socket_st.st_mode & 07777,
        .socket_bound = m->listener.fd >= 0,
        .cwd = m->cwd,
        .uid = getuid(),
        .gid = getgid(),
    };

    fw_startup_block(&s, emit, arg);
}

/*
 * -t: the socket a start would bind, without binding it: its directory
 * exists, and the owner and mode it would get (for the block, and the web
 * server's access, a warning on stderr).  MAIN_GO or 2.
 */
static int
main_test_socket(main_t *m)
{
    const fw_conf_t *c = &m->conf;
    char msg[1024];
    uid_t uid;
    gid_t gid;

    if (c->listen.kind != FW_SOCK_UNIX) {
        snprintf(m->listener.name, sizeof(m->listener.name), "%s",
                 c->socket != NULL ? c->socket
                                   : "none set: the one on fd 0 (spawn-fcgi, "
                                     "mod_fcgid) or systemd's");
        return MAIN_GO;
    }
    snprintf(m->listener.name, sizeof(m->listener.name), "unix:%s",
             c->listen.path);
    if (fw_listen_check_dir(c->listen.path, msg, sizeof(msg)) != NULL) {
        return main_refuse(m, msg);
    }
    fw_privs_socket_owner(&m->privs, &uid, &gid);
    m->socket_file = true;
    m->socket_st.st_uid = uid != (uid_t)-1 ? uid : geteuid();
    m->socket_st.st_gid = gid != (gid_t)-1 ? gid : getegid();
    m->socket_st.st_mode = (mode_t)c->chmod_socket;
    if (fw_privs_web_access(c->listen.path, m->socket_st.st_uid,
                            m->socket_st.st_gid, c->chmod_socket, msg,
                            sizeof(msg)) != NULL) {
        fprintf(stderr, "fcgi-wsgi: warning: %s\n", msg);
    }
    return MAIN_GO;
}

/*
 * -t / --test-config (php-fpm -t, nginx -t): what a start does before it
 * serves, but binding nothing: the users, chdir and home, the socket's
 * directory, the privileges dropped, the application imported; then the
 * start-up block on stdout.  The exit status: 0; 2 after one line (a
 * check failed); 1 when the application does not import (logged).
 */
static int
main_test_config(main_t *m)
{
    const fw_conf_t *c = &m->conf;
    fw_app_config_t app;
    int rc;

    fw_log_set_role("test");
    rc = main_check_privs(m);
    if (rc == MAIN_GO) {
        rc = main_set_process(m);
    }
    if (rc == MAIN_GO) {
        rc = main_test_socket(m);
    }
    if (rc == MAIN_GO && fw_privs_drop(&m->privs) < 0) {
        rc = 1;
    }
    if (rc != MAIN_GO) {
        return rc;
    }
    map_app(&app, c, m->argv[0], m->cwd);
    if (fw_pyglue_start(&app) < 0) {
        return 1;
    }
    fw_pyglue_stop();
    main_report(m, "configuration test", main_emit_file, stdout);
    printf("fcgi-wsgi: test successful: the configuration (%s) checks "
           "and %s:%s imports\n",
           c->ini_files.n > 0 ? c->ini_files.items[0] : "command line",
           c->module, c->callable);
    return 0;
}

/* Serves: one CGI request when nothing listens, else the pool (app NULL:
 * none is forked).  The exit status. */
static int
main_serve(main_t *m, bool no_app)
{
    fw_app_config_t app;
    fw_worker_config_t wc;
    fw_master_config_t mc;
    int status;

    map_app(&app, &m->conf, m->argv[0], m->cwd);
    if (!no_app && m->listener.fd < 0) { /* serve/cgi.c: serve, exit */
        return fw_cgi_serve(&app);
    }
    if (!no_app) {
        main_report(m, m->reload ? "reloading" : "starting", main_emit_log,
                    NULL);
        if (m->access_warning[0] != '\0') {
            fw_log(FW_LOG_WARN, "%s", m->access_warning);
        }
    }
    map_worker(&wc, &m->conf, m->listener.fd);
    map_master(&mc, m, no_app ? NULL : &app, &wc);
    status = fw_master_run(&mc);
    fw_log(FW_LOG_INFO, "stopped");
    return status;
}

/*
 * A reload that cannot start the application (its configuration, or a
 * step of main_prepare, failed): the socket stays open and the old
 * workers keep serving; the master forks nothing.  The exit status.
 */
static int
main_keep_old_workers(main_t *m)
{
    const fw_conf_t *c = &m->conf;

    fw_log_set_role("master");
    if (m->listener.fd < 0 &&
        fw_listen_adopt(&m->listener, m->handover.listen_fd,
                        c->listen.kind == FW_SOCK_UNIX ? c->listen.path
                                                       : NULL) < 0) {
        return 1;
    }
    return main_serve(m, true);
}

static void
main_end(main_t *m)
{
    if (m->conf.pidfile != NULL) {
        fw_pidfile_remove(m->conf.pidfile);
    }
    fw_listen_close(&m->listener);
    fw_reload_handover_free(&m->handover);
    fw_conf_free(&m->conf);
}

int
main(int argc, char **argv)
{
    main_t m;
    bool no_app;
    int status;

    main_begin(&m, argv);
    status = main_load_conf(&m, argc, &no_app);
    if (status == MAIN_GO && m.conf.test_config) {
        status = main_test_config(&m);
    } else if (status == MAIN_GO && !no_app) {
        status = main_prepare(&m);
        if (status == MAIN_GO) {
            status = main_serve(&m, false);
        } else if (m.reload) {
            no_app = true;
        }
    }
    if (no_app) {
        status = main_keep_old_workers(&m);
    }
    main_end(&m);
    return status;
}
