/*
 * observe.c: the hooks of observe.h, which only dispatch to scoreboard.c,
 * status.c, access_log.c and harakiri.c.  Holds the one piece of state
 * that belongs to none of them: the descriptor the stack dumps go to.
 */
/* dup3 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "bridge/observe/observe.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"
#include "pyglue/traceback_dump.h"

/* A worker's copy of the log descriptor that faulthandler writes to. */
static int observe_dump_fd = -1;
/* Request slots per worker, for fw_scoreboard_claim. */
static int observe_threads;

int
fw_observe_setup(const fw_observe_config_t *oc, int listen_fd)
{
    observe_threads = oc->threads;
    fw_status_configure(oc->status_path, oc->ping_path, oc->ping_response,
                        oc->pool, listen_fd);
    fw_harakiri_configure(oc->harakiri, oc->slowlog);
    return fw_access_log_configure(oc->access_log);
}

void
fw_observe_worker_start(void)
{
    (void)fw_scoreboard_claim(observe_threads);
    (void)fw_access_log_open();
    if (!fw_harakiri_enabled()) {
        return;
    }
    /* until faulthandler takes it (or if it cannot), the signal must not
     * kill the worker: slowlog sends it to workers that go on */
    signal(FW_HARAKIRI_DUMP_SIGNAL, SIG_IGN);
    observe_dump_fd = fcntl(fw_log_fd(), F_DUPFD_CLOEXEC, 3);
    if (observe_dump_fd < 0) {
        fw_log(FW_LOG_ERROR,
               "stack dumps: dup: %s: harakiri and slowlog "
               "will log no Python stacks",
               strerror(errno));
        return;
    }
    (void)fw_pyglue_dump_on_signal(FW_HARAKIRI_DUMP_SIGNAL, observe_dump_fd);
}

void
fw_observe_reopen(void)
{
    (void)fw_access_log_reopen();
    if (observe_dump_fd >= 0 && fw_log_fd() != observe_dump_fd &&
        dup3(fw_log_fd(), observe_dump_fd, O_CLOEXEC) < 0) {
        fw_log(FW_LOG_ERROR, "stack dumps: dup3: %s", strerror(errno));
    }
}

void
fw_observe_tick(void)
{
    fw_harakiri_tick();
    fw_status_sample();
}
