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

#include "pyglue/gateway.h"

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
 * Logs request r (call while its params are still valid, before the
 * connection layer ends it) with the response status and body bytes the
 * caller counted (status 0: no response was sent) and its duration in µs.
 * Reads only r->params.  Does nothing when off.
 */
void fw_access_log_request(const fw_request_t *r, int status,
                           uint64_t body_bytes, uint64_t duration_us);

/*
 * Formats one line for r into buf (with its '\n'), Common Log Format
 * followed by the duration in µs and the worker's pid:
 *   ADDR - - [24/Nov/2025:09:50:00 +0100] "GET / HTTP/1.1" 200 12 567 4321
 *
 * Params are taken by their length: quotes, backslashes, control (NUL
 * too) and non-ASCII bytes of the address and the request line are
 * written \xHH; "-" stands for an absent or empty one; the address is cut
 * at 64 bytes and a long URI to fit.  Returns the length (< size; size
 * must be at least 256).
 */
size_t fw_access_log_format(char *buf, size_t size, const fw_request_t *r,
                            int status, uint64_t bytes, uint64_t duration_us,
                            time_t started, pid_t pid);

#endif /* FW_ACCESS_LOG_H */
