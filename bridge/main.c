/*
 * main.c: wiring only.  Reads the configuration, prepares the process
 * (environment, directory, log, socket), starts Python and hands over to
 * the worker.  Exit status: 0 after a stop, 1 when start-up failed, 2 for a
 * bad configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/fcgi_io.h"
#include "bridge/listen.h"
#include "bridge/log.h"
#include "bridge/master.h"
#include "bridge/worker.h"
#include "conf/conf.h"
#include "pyglue/pyglue.h"

#define FW_LISTEN_BACKLOG 1024
#define FW_SHUTDOWN_TIMEOUT 30

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

int
main(int argc, char **argv)
{
    fw_conf_t conf;
    fw_listener_t listener = {.fd = -1};
    fw_app_config_t app;
    fw_worker_config_t wc;
    char cwd[4096];
    int status = 1;

    switch (fw_conf_load(&conf, argc, argv, stdout, stderr)) {
    case FW_CONF_OK:
        break;
    case FW_CONF_EXIT:
        fw_conf_free(&conf);
        return 0;
    case FW_CONF_ERROR:
        fw_conf_free(&conf);
        return 2;
    }

    if (fw_log_open(conf.logto) < 0) {
        fprintf(stderr, "fcgi-wsgi: logto %s: %s\n", conf.logto,
                strerror(errno));
        fw_conf_free(&conf);
        return 2;
    }

    if (main_set_env(&conf.env) < 0) {
        goto done;
    }
    if (conf.chdir != NULL && chdir(conf.chdir) < 0) {
        fw_log(FW_LOG_ERROR, "chdir %s: %s", conf.chdir, strerror(errno));
        goto done;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        fw_log(FW_LOG_ERROR, "getcwd: %s", strerror(errno));
        goto done;
    }

    if (conf.listen.kind == FW_SOCK_NONE) {
        if (fw_listen_inherit(&listener) < 0) {
            fprintf(stderr,
                    "fcgi-wsgi: no socket given and fd 0 is not a listening "
                    "socket: set socket = unix:PATH or HOST:PORT (see "
                    "--help)\n");
            status = 2;
            goto done;
        }
    } else if (fw_listen_open(&listener, &conf.listen, conf.chmod_socket,
                              FW_LISTEN_BACKLOG) < 0) {
        goto done;
    }

    if (fw_fcgi_io_global_init() < 0) {
        goto done;
    }

    memset(&app, 0, sizeof(app));
    app.program = argv[0];
    app.home = conf.home;
    app.chdir = cwd;
    app.pythonpath = (const char *const *)conf.pythonpath.items;
    app.npythonpath = conf.pythonpath.n;
    app.module = conf.module;
    app.callable = conf.callable;
    app.mount = conf.mount;
    app.multithread = conf.threads > 1;
    app.multiprocess = conf.processes > 1;
    app.log = fw_log_write;

    if (fw_pyglue_start(&app) < 0) {
        goto done;
    }

    fw_log(FW_LOG_INFO,
           "serving %s:%s on %s with %d process(es) of %d thread(s)",
           conf.module, conf.callable != NULL ? conf.callable : "application",
           listener.name, conf.processes, conf.threads);

    wc.listen_fd = listener.fd;
    wc.threads = conf.threads;
    wc.shutdown_timeout = FW_SHUTDOWN_TIMEOUT;
    wc.logto = conf.logto;
    status = conf.processes > 1 ? fw_master_run(&wc, conf.processes)
                                : fw_worker_run(&wc);
    fw_log(FW_LOG_INFO, "stopped");

done:
    fw_listen_close(&listener);
    fw_conf_free(&conf);
    return status;
}
