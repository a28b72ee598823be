/*
 * log.h: the one log of the process: stderr or the `logto` file.  Every
 * line carries a timestamp, the level, the role and pid.  Safe from any
 * thread; never from a signal handler.
 */
#ifndef FW_LOG_H
#define FW_LOG_H

#include <stddef.h>
#include "pyglue/gateway.h"

/* Opens `path` for appending (NULL: stderr).  0, or -1 with errno set. */
int fw_log_open(const char *path);

/* The descriptor lines go to now (it changes when the log is reopened). */
int fw_log_fd(void);

/* Names this process in every line: "master", "worker 3"... */
void fw_log_set_role(const char *role);

void fw_log(fw_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The sink pyglue writes through (fw_gateway_log_pt): multi-line messages
 * get the prefix on every line. */
void fw_log_write(fw_log_level_e level, const char *msg, size_t len);

#endif /* FW_LOG_H */
