/*
 * map.c: the configuration, as each module is told it.  Every option
 * reaches its user here and only here: each module owns its config struct
 * (pyglue's fw_app_config_t, observe's fw_observe_config_t, serve's
 * fw_worker_config_t, pool's fw_master_config_t, the start-up block's
 * fw_startup_t) and one function below fills it from the loaded
 * configuration, as one initializer that reads as a table (field = option;
 * a field left out is zero).  No defaults here: conf has applied the
 * table's and derived the rest (fw_conf_load, fw_conf_defaults).  The
 * structs point into conf, which outlives them.
 */
#include <unistd.h>

#include "bridge/main_int.h"
#include "bridge/log.h"

void
fw_map_app(fw_app_config_t *app, const fw_conf_t *c, const char *program,
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

void
fw_map_observe(fw_observe_config_t *oc, const fw_conf_t *c)
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

void
fw_map_worker(fw_worker_config_t *wc, const fw_conf_t *c, int listen_fd)
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
        /* TCP's send buffer grows by itself (net.ipv4.tcp_wmem); setting
         * SO_SNDBUF would stop that */
        .socket_sndbuf =
            fw_listen_is_unix(listen_fd) ? (size_t)c->socket_sndbuf : 0,
        .buffer_size = (size_t)c->buffer_size,
        .limit_post = (unsigned long long)c->limit_post,
        .post_buffering = (size_t)c->post_buffering,
        .max_reqs = c->max_children * c->threads,
        .force_authorizer = c->force_authorizer,
        .disable_sendfile = c->disable_sendfile,
    };
}

void
fw_map_master(fw_master_config_t *mc, const fw_main_t *m,
              const fw_app_config_t *app, const fw_worker_config_t *wc)
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

void
fw_map_startup(fw_startup_t *s, const fw_main_t *m, const char *what)
{
    *s = (fw_startup_t){
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
}
