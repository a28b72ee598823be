/*
 * main.c: wiring only.  Reads the configuration, prepares the process
 * (environment, directory, log, socket, pid file, privileges) and hands
 * over to the master, which always runs.  Exit status: 0 after a stop, 1
 * when start-up failed, 2 for a bad configuration.
 *
 * The same program is the new master image of a reload (master.c execs
 * it): then the socket is adopted instead of bound, and a failure here
 * does not end the process, since the old workers still serve: the master
 * runs without an application and keeps them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/serve/serve.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"
#include "bridge/observe/observe.h"
#include "conf/conf.h"
#include "pyglue/pyglue.h"

#define FW_LISTEN_BACKLOG 1024

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
 * The listening socket: adopted after a reload's exec (a changed socket
 * option cannot apply: it is logged), inherited on fd 0, or bound.
 * 0, -1 after logging, or 2 (a usage error, printed).
 */
static int
main_listen(fw_listener_t *l, const fw_conf_t *conf,
            const fw_master_handover_t *h)
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
 * Apache's mod_fcgid starts each application process itself, with the
 * listening socket on fd 0, and sends it one request at a time: it starts
 * more processes when it wants more.  Such a launch (fd 0, parent named
 * apache2 or httpd) serves one request at a time whatever the ini says.
 */
static void
main_fit_mod_fcgid(fw_conf_t *conf, const fw_listener_t *l)
{
    char path[64], comm[32] = "";
    FILE *f;

    if (l->fd != STDIN_FILENO) {
        return;
    }
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)getppid());
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    if (fgets(comm, sizeof(comm), f) == NULL) {
        comm[0] = '\0';
    }
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    if (strcmp(comm, "apache2") != 0 && strcmp(comm, "httpd") != 0) {
        return;
    }
    if (conf->max_children > 1 || conf->threads > 1) {
        fw_log(FW_LOG_INFO,
               "started by %s (mod_fcgid): serving one request at a time; "
               "mod_fcgid starts more processes when it needs them "
               "(processes %d and threads %d ignored)",
               comm, conf->max_children, conf->threads);
    }
    conf->processes = 1;
    conf->max_children = 1;
    conf->threads = 1;
    conf->pm_mode = FW_PM_STATIC;
}

int
main(int argc, char **argv)
{
    fw_conf_t conf;
    fw_master_handover_t handover;
    fw_listener_t listener = {.fd = -1};
    fw_privs_t privs;
    fw_app_config_t app;
    fw_master_config_t mc;
    const char *msg;
    char **envp;
    char cwd[4096];
    int cwd_fd, reload, rc, status = 1;

    /* A reload's exec hands the socket and the old workers over. */
    fw_master_handover_take(&handover);
    reload = handover.listen_fd >= 0;
    envp = main_copy_env();
    cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    memset(&mc, 0, sizeof(mc));
    memset(&app, 0, sizeof(app));

    switch (fw_conf_load(&conf, argc, argv, stdout, stderr)) {
    case FW_CONF_OK:
        break;
    case FW_CONF_EXIT:
        fw_conf_free(&conf);
        return 0;
    case FW_CONF_ERROR:
        if (reload) {
            goto keep_old_workers;
        }
        fw_conf_free(&conf);
        return 2;
    }

    if (fw_log_open(conf.logto) < 0) {
        fprintf(stderr, "fcgi-wsgi: logto %s: %s\n", conf.logto,
                strerror(errno));
        if (!reload) {
            fw_conf_free(&conf);
            return 2;
        }
    }
    fw_log_set_role("master");
    fw_notify_init(); /* systemd's NOTIFY_SOCKET, before Python starts */
    if (envp == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        goto failed;
    }

    msg = fw_privs_resolve(&privs, conf.uid, conf.gid, conf.chown_socket);
    if (msg == NULL) {
        msg = fw_privs_check_root(&privs, conf.allow_root);
    }
    if (msg != NULL) {
        fprintf(stderr, "fcgi-wsgi: %s\n", msg);
        if (!reload) {
            fw_conf_free(&conf);
            return 2;
        }
        goto failed;
    }
    if (main_set_env(&conf.env) < 0) {
        goto failed;
    }
    if (fw_allow_setup(&conf) < 0) { /* after env: FCGI_WEB_SERVER_ADDRS */
        status = 2;
        goto failed;
    }
    if (conf.chdir != NULL && chdir(conf.chdir) < 0) {
        fw_log(FW_LOG_ERROR, "chdir %s: %s", conf.chdir, strerror(errno));
        goto failed;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        fw_log(FW_LOG_ERROR, "getcwd: %s", strerror(errno));
        goto failed;
    }

    rc = main_listen(&listener, &conf, &handover);
    if (rc != 0) {
        status = rc == 2 ? 2 : 1;
        goto failed;
    }
    main_fit_mod_fcgid(&conf, &listener);
    if (!reload && listener.unix_path[0] != '\0' &&
        fw_privs_chown_socket(&privs, listener.unix_path) < 0) {
        goto failed;
    }
    if (conf.pidfile != NULL && fw_pidfile_write(conf.pidfile) < 0 &&
        !reload) {
        goto failed;
    }
    if (fw_privs_drop(&privs) < 0) {
        goto failed;
    }
    if (fw_scoreboard_create(2 * conf.max_children, conf.threads) < 0) {
        goto failed;
    }
    if (fw_observe_setup(&conf, listener.fd) < 0) {
        goto failed;
    }

    app.program = argv[0];
    app.home = conf.home;
    app.chdir = cwd;
    app.pythonpath = (const char *const *)conf.pythonpath.items;
    app.npythonpath = conf.pythonpath.n;
    app.module = conf.module;
    app.callable = conf.callable;
    app.mount = conf.mount;
    app.multithread = conf.threads > 1;
    app.multiprocess = conf.max_children > 1;
    app.log = fw_log_write;
    if (listener.fd < 0) { /* a CGI request (bridge/cgi.c): serve, exit */
        status = fw_cgi_serve(&app);
        goto done;
    }

    mc.app = &app;
    mc.worker.threads = conf.threads;
    mc.worker.shutdown_timeout = conf.worker_shutdown_timeout;
    mc.worker.logto = conf.logto;
    mc.worker.max_requests = conf.max_requests;
    mc.worker.max_requests_delta = conf.max_requests_delta;
    mc.worker.reload_on_rss = conf.reload_on_rss;
    mc.worker.socket_timeout = conf.socket_timeout;
    mc.worker.keepalive_timeout = conf.keepalive_timeout;
    mc.worker.buffer_size = (size_t)conf.buffer_size;
    mc.worker.limit_post = (unsigned long long)conf.limit_post;
    mc.worker.post_buffering = (size_t)conf.post_buffering;
    mc.worker.max_reqs = conf.max_children * conf.threads;
    mc.worker.force_authorizer = conf.force_authorizer;
    mc.lazy_apps = conf.lazy_apps;
    mc.pm = conf.pm_mode;
    mc.max_children = conf.max_children;
    mc.start_servers = conf.start_servers;
    mc.min_spare = conf.min_spare;
    mc.max_spare = conf.max_spare;
    mc.idle_timeout = conf.idle_timeout;
    mc.touch_reload = conf.touch_reload.items;
    mc.ntouch_reload = conf.touch_reload.n;
    goto run;

keep_old_workers:
    /* A reload whose configuration no longer loads: keep the socket
     * open and the old workers serving; fork nothing. */
    fw_log_set_role("master");
    fw_conf_free(&conf);
    memset(&conf, 0, sizeof(conf));
    conf.threads = 1;
    conf.worker_shutdown_timeout = 30;
    conf.max_children = 1;

failed:
    if (!reload) {
        goto done;
    }
    if (listener.fd < 0 &&
        fw_listen_adopt(&listener, handover.listen_fd,
                        conf.listen.kind == FW_SOCK_UNIX ? conf.listen.path
                                                         : NULL) < 0) {
        goto done;
    }
    mc.app = NULL;
    mc.worker.threads = conf.threads > 0 ? conf.threads : 1;
    mc.worker.shutdown_timeout =
        conf.worker_shutdown_timeout > 0 ? conf.worker_shutdown_timeout : 30;
    mc.worker.logto = conf.logto;
    mc.max_children = conf.max_children > 0 ? conf.max_children : 1;

run:
    mc.worker.listen_fd = listener.fd;
    mc.worker.slot = -1;
    mc.argv = argv;
    mc.envp = envp;
    mc.cwd_fd = cwd_fd;
    mc.handover = &handover;
    status = fw_master_run(&mc);
    fw_log(FW_LOG_INFO, "stopped");

done:
    if (conf.pidfile != NULL) {
        fw_pidfile_remove(conf.pidfile);
    }
    fw_listen_close(&listener);
    fw_master_handover_free(&handover);
    fw_conf_free(&conf);
    return status;
}
