/*
 * access_log.h: one line per request in the `access-log` file, written
 * by the serving thread that ran it with one write(2) on an O_APPEND
 * descriptor.  Off unless configured.  Never logs through fw_log and never
 * blocks on anything but that write.
 */
#ifndef FW_ACCESS_LOG_H
#define FW_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bridge/fcgi_io.h"

/*
 * Remembers path (NULL or "": no access log) and checks, by opening it,
 * that workers will be able to append to it.  Before the fork.  0, or -1
 * after logging.
 */
int fw_access_log_configure(const char *path);

/* In a worker before it serves: opens the file.  0, or -1 after logging
 * (the worker serves without an access log). */
int fw_access_log_open(void);

/* SIGUSR1: opens the path again onto the same descriptor number, so that
 * serving threads never see a closed one.  0, or -1 after logging. */
int fw_access_log_reopen(void);

/*
 * Logs the request c holds (its params are still there: call before
 * fw_fcgi_io_end) with its response status and body bytes as counted by
 * fcgi_io, and its duration in µs.  Does nothing when off.
 */
void fw_access_log_request(const fw_fcgi_conn_t *c, uint64_t duration_us);

/*
 * Formats one line into buf (with its '\n'), Common Log Format followed
 * by the duration in µs and the worker's pid:
 *   ADDR - - [24/Nov/2025:09:50:00 +0100] "GET /uri HTTP/1.1" 200 1234 567
 * 4321 The request line's quotes, backslashes, control and non-ASCII bytes are
 * written \xHH; a long URI is cut to fit.  Returns the length (< size;
 * size must be at least 256).
 */
size_t fw_access_log_format(char *buf, size_t size, char **params, int status,
                            uint64_t bytes, uint64_t duration_us,
                            time_t started, pid_t pid);

#endif /* FW_ACCESS_LOG_H */
