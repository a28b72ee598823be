/*
 * main.c: wiring only.  Reads the configuration, prepares the process
 * (environment, directory, log, socket, pid file, privileges) and hands
 * over to the master, which always runs (or serves one CGI request).  The
 * options reach their users through map.c, which fills each module's own
 * config struct; what a start checks (and -t) is checks.c's.  Exit
 * status: 0 after a stop (or a -t whose checks passed), 1 when start-up
 * failed, 2 for a bad configuration.
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

#include "bridge/main_int.h"
#include "bridge/log.h"
#include "deploy/print_config.h"

#define FW_LISTEN_BACKLOG 1024

extern char **environ;

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

/* ---- the steps ---- */

/* What this image starts from: a reload's handover (the socket and the
 * old workers), the environment and directory a reload execs with. */
static void
main_begin(fw_main_t *m, char **argv)
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
 * and *no_app set: the old workers keep serving.  FW_MAIN_GO or the exit
 * status.
 */
static int
main_load_conf(fw_main_t *m, int argc, bool *no_app)
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
        return FW_MAIN_GO;
    }
    if (m->conf.print_target != FW_PRINT_NONE) {
        return fw_print_config(&m->conf, stdout, stderr) == 0 ? 0 : 2;
    }
    return FW_MAIN_GO;
}

/* The log (a reload keeps the old one if the new cannot be opened) and
 * systemd's NOTIFY_SOCKET, before Python starts. */
static int
main_open_log(fw_main_t *m)
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
    return FW_MAIN_GO;
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

/*
 * The unix socket file of ours (a first start's, or a reload's when the
 * address is unchanged): its owner and mode as configured (a reload says
 * what it cannot change), remembered for the start-up block with the
 * warning to log after it when the web server's usual user could not
 * connect (fw_privs_web_access: looked at before the privileges drop).
 * 0, or -1 after logging (a first start only).
 */
static int
main_own_socket(fw_main_t *m)
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
main_open_socket(fw_main_t *m)
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
    return FW_MAIN_GO;
}

/* The status and ping pages, the access log, harakiri and slowlog. */
static int
main_setup_observe(fw_main_t *m)
{
    fw_observe_config_t oc;

    fw_map_observe(&oc, &m->conf);
    return fw_observe_setup(&oc, m->listener.fd) < 0 ? 1 : FW_MAIN_GO;
}

/*
 * Everything before the application: each step FW_MAIN_GO or the exit
 * status of a start that failed.
 */
static int
main_prepare(fw_main_t *m)
{
    int rc = main_open_log(m);

    if (rc == FW_MAIN_GO) {
        rc = fw_checks_privs(m);
    }
    if (rc == FW_MAIN_GO) {
        main_log_conf_notes(&m->conf);
        rc = fw_checks_process(m);
    }
    if (rc == FW_MAIN_GO) {
        rc = main_open_socket(m);
    }
    if (rc == FW_MAIN_GO) {
        rc = main_setup_observe(m);
    }
    return rc;
}

/* socket-sndbuf above what the kernel allows a socket: said once, with
 * the sysctl that lifts the cap (the kernel would cut it silently). */
static void
main_say_sndbuf_cap(const fw_main_t *m)
{
    long long want = m->conf.socket_sndbuf;
    long long cap = fw_listen_sndbuf_cap(m->listener.fd, want);

    if (cap > 0) {
        fw_log(FW_LOG_INFO,
               "socket-sndbuf %lld KiB: the kernel allows a socket %lld KiB "
               "(net.core.wmem_max), so answers above about twice that wait "
               "for the web server to read; sysctl -w "
               "net.core.wmem_max=%lld lifts the cap",
               want / 1024, cap / 1024, want);
    }
}

/* Serves: one CGI request when nothing listens, else the pool (app NULL:
 * none is forked).  The exit status. */
static int
main_serve(fw_main_t *m, bool no_app)
{
    fw_app_config_t app;
    fw_worker_config_t wc;
    fw_master_config_t mc;
    fw_startup_t block;
    int status;

    fw_map_app(&app, &m->conf, m->argv[0], m->cwd);
    if (!no_app && m->listener.fd < 0) { /* serve/cgi.c: serve, exit */
        return fw_cgi_serve(&app);
    }
    if (!no_app) {
        fw_map_startup(&block, m, m->reload ? "reloading" : "starting");
        fw_startup_block(&block, fw_startup_to_log, NULL);
        if (m->access_warning[0] != '\0') {
            fw_log(FW_LOG_WARN, "%s", m->access_warning);
        }
        main_say_sndbuf_cap(m);
    }
    fw_map_worker(&wc, &m->conf, m->listener.fd);
    fw_map_master(&mc, m, no_app ? NULL : &app, &wc);
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
main_keep_old_workers(fw_main_t *m)
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
main_end(fw_main_t *m)
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
    fw_main_t m;
    bool no_app;
    int status;

    main_begin(&m, argv);
    status = main_load_conf(&m, argc, &no_app);
    if (status == FW_MAIN_GO && m.conf.test_config) {
        status = fw_checks_test_config(&m);
    } else if (status == FW_MAIN_GO && !no_app) {
        status = main_prepare(&m);
        if (status == FW_MAIN_GO) {
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
