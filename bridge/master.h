/*
 * master.h: the process manager.  It forks the workers (static, dynamic or
 * ondemand), replaces the ones that die or recycle, reloads (SIGHUP,
 * touch-reload) without closing the listening socket, and stops them.
 * It never serves a request.
 */
#ifndef FW_MASTER_H
#define FW_MASTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bridge/worker.h"
#include "conf/conf.h"
#include "pyglue/pyglue.h"

/*
 * What the master image before a reload's exec hands to the new one, in
 * the environment (FW_LISTEN_FD, FW_OLD_WORKERS, FW_GENERATION).
 */
typedef struct {
    int listen_fd;      /* -1: a first start, not a reload */
    pid_t *old_workers; /* still serving; retired once the new are ready */
    size_t nold_workers;
    uint64_t generation; /* of the new image: the old one's + 1 */
} fw_master_handover_t;

typedef struct {
    fw_worker_config_t worker;  /* every worker's (its slot is set at fork) */
    const fw_app_config_t *app; /* NULL: the app cannot be loaded (a
                                   reload that failed early): the old
                                   workers keep serving, none is forked */
    int lazy_apps;              /* import in each worker, not the master */
    fw_pm_e pm;
    int max_children;                        /* static: the pool's size */
    int start_servers, min_spare, max_spare; /* dynamic */
    int idle_timeout;                        /* ondemand, seconds */
    char *const *touch_reload;
    size_t ntouch_reload;
    /* what a reload's exec needs: the same program, argv and environment
     * as at the first start, in the directory it was started in */
    char **argv;
    char *const *envp;
    int cwd_fd;
    const fw_master_handover_t *handover;
} fw_master_config_t;

/*
 * Reads the handover variables (and removes them from the environment,
 * so that neither the application nor a later reload sees them).  A first
 * start gets listen_fd -1.  Release with fw_master_handover_free.
 */
void fw_master_handover_take(fw_master_handover_t *h);
void fw_master_handover_free(fw_master_handover_t *h);

/*
 * Runs the pool until SIGTERM/SIGINT (graceful) or SIGQUIT (immediate).
 * Without lazy-apps, Python is started and the app imported here, before
 * the first fork.  Returns the master's exit status: 0 after a stop, 1
 * when the application could not be loaded at the first start.  A reload
 * does not return (exec); a worker process never returns from here.
 */
int fw_master_run(const fw_master_config_t *mc);

#endif /* FW_MASTER_H */
