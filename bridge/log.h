/*
 * log.h: the one log of the process: stderr or the `logto` file.  Every
 * line carries a timestamp, the level, the role and pid.  Safe from any
 * thread; never from a signal handler.
 */
#ifndef FW_LOG_H
#define FW_LOG_H

#include <stddef.h>
#include "pyglue/gateway.h"
#include "pyglue/gateway_log.h"

/* Opens `path` for appending (NULL: stderr).  0, or -1 with errno set. */
int fw_log_open(const char *path);

/* The descriptor lines go to now (it changes when the log is reopened). */
int fw_log_fd(void);

/* Names this process in every line: "master", "worker 3"... */
void fw_log_set_role(const char *role);

/* The sink pyglue writes through (fw_gateway_log_pt): multi-line messages
 * get the prefix on every line. */
void fw_log_write(fw_log_level_e level, const char *msg, size_t len);

/* fw_log(level, fmt, ...): formats one message (gateway_log.h, as pyglue
 * does) and writes it with fw_log_write. */
#define fw_log(level, ...) fw_gateway_log(fw_log_write, (level), __VA_ARGS__)

#endif /* FW_LOG_H */
