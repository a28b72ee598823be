/*
 * observe.h: the hooks through which the process manager runs the
 * "seeing inside" features (scoreboard, status and ping pages, access
 * log, harakiri, slowlog).  Each is one call at one place, so that main.c,
 * master.c and worker.c carry one line per hook and nothing else; worker.c
 * also calls fw_status_wants/fw_status_serve (the status and ping pages)
 * and fw_access_log_request around each request.
 */
#ifndef FW_OBSERVE_H
#define FW_OBSERVE_H

#include "bridge/access_log.h"
#include "bridge/status.h"
#include "conf/conf.h"

/*
 * main, before the first fork: configures the pages, the access log
 * (checked by opening it) and the limits.  listen_fd: the listening socket
 * (its queue is reported).  The scoreboard is the master's (or, with no
 * master, the worker's: fw_observe_worker_start).  0, or -1 after logging:
 * the server must not start.
 */
int fw_observe_setup(const fw_conf_t *conf, int listen_fd);

/* Whether something needs the master's tick (harakiri, slowlog): then
 * the pool runs with a master even for one process. */
int fw_observe_needs_master(void);

/*
 * A worker, in its main thread before its serving threads start (Python
 * started, GIL not held): takes a scoreboard slot, opens the access log,
 * registers the stack dump signal when harakiri or slowlog is on.
 */
void fw_observe_worker_start(void);

/* A worker on SIGUSR1, after the log was reopened: reopens the access log
 * and points the stack dumps at the new log. */
void fw_observe_reopen(void);

/*
 * The master, about every 200 ms, after fw_scoreboard_reap: runs harakiri
 * and slowlog, samples the listen queue.  Never blocks.
 */
void fw_observe_tick(void);

#endif /* FW_OBSERVE_H */
