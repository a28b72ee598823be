/*
 * master.h: the process manager: forks `processes` workers, replaces the
 * ones that die, passes stop and log signals on to them.  Runs no request.
 */
#ifndef FW_MASTER_H
#define FW_MASTER_H

#include "bridge/worker.h"

/*
 * Runs the pool until SIGTERM/SIGINT (graceful) or SIGQUIT (immediate).
 * Python is started (the app imported) before the fork.  Returns the
 * master's exit status; a worker process never returns from here.
 */
int fw_master_run(const fw_worker_config_t *wc, int processes);

#endif /* FW_MASTER_H */
