/*
 * observe.c: the hooks of observe.h, which only dispatch to scoreboard.c,
 * status.c, access_log.c, capture.c and harakiri.c, and the master's
 * log-maxsize rotation.  Holds the state that belongs to none of them: the
 * descriptor the stack dumps go to, and the files rotated.
 */
/* dup3 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/observe/observe.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"
#include "pyglue/traceback_dump.h"

/* The descriptor faulthandler writes to: the capture's dump pipe, or (if
 * it could not be made) a worker's copy of the log descriptor. */
static int observe_dump_fd = -1;
static int observe_dump_is_log;
/* Request slots per worker, for fw_scoreboard_claim. */
static int observe_threads;
/* log-maxsize, and the files it watches (NULL: none; a file whose
 * rotation failed is watched no more). */
static long long observe_maxsize;
static const char *observe_logto;
static const char *observe_access;

int
fw_observe_setup(const fw_observe_config_t *oc, int listen_fd)
{
    observe_threads = oc->threads;
    observe_maxsize = oc->log_maxsize;
    fw_log_set_date(oc->log_date);
    /* print() reaches the capture at once, and the master's buffered
     * output is not copied into each worker by fork */
    (void)setenv("PYTHONUNBUFFERED", "1", 0);
    fw_status_configure(oc->status_path, oc->ping_path, oc->ping_response,
                        oc->pool, listen_fd);
    fw_harakiri_configure(oc->harakiri, oc->slowlog);
    if (fw_access_log_configure(oc->access_log, oc->log_format,
                                oc->log_x_forwarded_for) < 0) {
        return -1;
    }
    if (observe_maxsize > 0) {
        /* the file as opened, before any chdir */
        observe_logto = oc->logto != NULL ? fw_log_file() : NULL;
        observe_access = fw_access_log_path();
    }
    return 0;
}

void
fw_observe_worker_start(void)
{
    int slot = fw_scoreboard_claim(observe_threads);
    int dump = fw_harakiri_enabled() ? FW_HARAKIRI_DUMP_SIGNAL : 0;

    (void)fw_access_log_open(slot + 1);
    if (dump != 0) {
        /* until faulthandler takes it (or if it cannot), the signal must
         * not kill the worker: slowlog sends it to workers that go on */
        signal(dump, SIG_IGN);
    }
    observe_dump_fd = fw_capture_start(slot, dump);
    if (dump == 0) {
        return;
    }
    if (observe_dump_fd < 0) {
        observe_dump_is_log = 1;
        observe_dump_fd = fcntl(fw_log_fd(), F_DUPFD_CLOEXEC, 3);
    }
    if (observe_dump_fd < 0) {
        fw_log(FW_LOG_ERROR,
               "stack dumps: dup: %s: harakiri and slowlog "
               "will log no Python stacks",
               strerror(errno));
        return;
    }
    (void)fw_pyglue_dump_on_signal(dump, observe_dump_fd);
}

void
fw_observe_worker_stop(void)
{
    fw_capture_stop();
}

void
fw_observe_request_begin(int thread, fw_request_t *r)
{
    fw_scoreboard_request_begin(thread, r);
    fw_log_set_request(r);
}

void
fw_observe_request_end(int thread, fw_request_t *r, int counted)
{
    uint64_t us;

    fw_capture_sync();
    us = fw_scoreboard_request_end(thread);
    fw_log_set_request(NULL);
    if (counted) {
        fw_scoreboard_count_response(r->response_status, us);
    }
    fw_access_log_request(r, r->response_status, r->response_body_bytes, us);
}

void
fw_observe_reopen(void)
{
    (void)fw_access_log_reopen();
    if (observe_dump_is_log && observe_dump_fd >= 0 &&
        fw_log_fd() != observe_dump_fd &&
        dup3(fw_log_fd(), observe_dump_fd, O_CLOEXEC) < 0) {
        fw_log(FW_LOG_ERROR, "stack dumps: dup3: %s", strerror(errno));
    }
}

/*
 * log-maxsize, for one file: 1 when it was renamed (the caller has it
 * reopened); a failure (logged) stops watching it.
 */
static int
rotate_one(const char **path, int is_log)
{
    char rotated[4200];
    int rc = fw_log_rotate_if_over(*path, observe_maxsize, rotated,
                                   sizeof(rotated));

    if (rc < 0) {
        fw_log(FW_LOG_ERROR, "log-maxsize: %s is no longer rotated", *path);
        *path = NULL;
        return 0;
    }
    if (rc == 0) {
        return 0;
    }
    if (is_log && fw_log_open(*path) < 0) {
        fw_log(FW_LOG_ERROR, "log-maxsize: cannot reopen %s: %s", *path,
               strerror(errno));
    }
    fw_log(FW_LOG_INFO, "log-maxsize: %s passed %lld bytes: renamed to %s",
           *path, observe_maxsize, rotated);
    return 1;
}

void
fw_observe_tick(void)
{
    int rotated = 0;

    fw_harakiri_tick();
    fw_status_sample();
    if (observe_logto != NULL) {
        rotated |= rotate_one(&observe_logto, 1);
    }
    if (observe_access != NULL) {
        rotated |= rotate_one(&observe_access, 0);
    }
    if (rotated) {
        /* as on SIGUSR1: each worker reopens the log and the access log */
        fw_children_signal_all(SIGUSR1);
    }
}
