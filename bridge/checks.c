/*
 * checks.c: what a start checks before it serves, each failure one line
 * and exit status 2: the users (uid, gid, root), the process as the
 * application will see it (env, who may connect, chdir, home); and -t,
 * which makes the same checks and imports the application, binding
 * nothing.  main.c calls them in order; nothing here opens the socket or
 * starts serving.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/main_int.h"
#include "bridge/log.h"

int
fw_checks_refuse(const fw_main_t *m, const char *msg)
{
    fprintf(stderr, "fcgi-wsgi: %s\n", msg);
    if (m->reload || (m->conf.logto != NULL && !m->conf.test_config)) {
        fw_log(FW_LOG_ERROR, "%s%s", m->reload ? "reload: " : "", msg);
    }
    return 2;
}

int
fw_checks_privs(fw_main_t *m)
{
    const fw_conf_t *c = &m->conf;
    const char *msg =
        fw_privs_resolve(&m->privs, c->uid, c->gid, c->chown_socket);

    if (msg == NULL) {
        msg = fw_privs_check_root(&m->privs, c->allow_root);
    }
    if (msg != NULL) {
        return fw_checks_refuse(m, msg);
    }
    return FW_MAIN_GO;
}

/* env = KEY=VALUE lines, set before Python starts.  0 or -1. */
static int
checks_set_env(const fw_strlist_t *env)
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
fw_checks_process(fw_main_t *m)
{
    const fw_conf_t *c = &m->conf;
    char msg[1024];

    if (checks_set_env(&c->env) < 0) {
        return 1;
    }
    if (fw_allow_setup((const char *const *)c->allowed_clients.items,
                       c->allowed_clients.n) < 0) {
        return 2;
    }
    if (c->chdir != NULL && chdir(c->chdir) < 0) {
        snprintf(msg, sizeof(msg), "chdir %s: %s", c->chdir, strerror(errno));
        return fw_checks_refuse(m, msg);
    }
    if (getcwd(m->cwd, sizeof(m->cwd)) == NULL) {
        fw_log(FW_LOG_ERROR, "getcwd: %s", strerror(errno));
        return 1;
    }
    if (fw_pyglue_check_home(c->home, msg, sizeof(msg)) != NULL) {
        return fw_checks_refuse(m, msg);
    }
    return FW_MAIN_GO;
}

/*
 * -t: the socket a start would bind, without binding it: its directory
 * exists, and the owner and mode it would get (for the block, and the web
 * server's access, a warning on stderr).  FW_MAIN_GO or 2.
 */
static int
checks_test_socket(fw_main_t *m)
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
        return FW_MAIN_GO;
    }
    snprintf(m->listener.name, sizeof(m->listener.name), "unix:%s",
             c->listen.path);
    if (fw_listen_check_dir(c->listen.path, msg, sizeof(msg)) != NULL) {
        return fw_checks_refuse(m, msg);
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
    return FW_MAIN_GO;
}

int
fw_checks_test_config(fw_main_t *m)
{
    const fw_conf_t *c = &m->conf;
    fw_app_config_t app;
    fw_startup_t block;
    int rc;

    fw_log_set_role("test");
    rc = fw_checks_privs(m);
    if (rc == FW_MAIN_GO) {
        rc = fw_checks_process(m);
    }
    if (rc == FW_MAIN_GO) {
        rc = checks_test_socket(m);
    }
    if (rc == FW_MAIN_GO && fw_privs_drop(&m->privs) < 0) {
        rc = 1;
    }
    if (rc != FW_MAIN_GO) {
        return rc;
    }
    fw_map_app(&app, c, m->argv[0], m->cwd);
    if (fw_pyglue_start(&app) < 0) {
        return 1;
    }
    fw_pyglue_stop();
    fw_map_startup(&block, m, "configuration test");
    fw_startup_block(&block, fw_startup_to_file, stdout);
    printf("fcgi-wsgi: test successful: the configuration (%s) checks "
           "and %s:%s imports\n",
           c->ini_files.n > 0 ? c->ini_files.items[0] : "command line",
           c->module, c->callable);
    return 0;
}
