/*
 * access_log.c: the access log (access_log.h).  The line is formatted into
 * a stack buffer and written with one write(2): lines from every thread
 * and process land whole.  The date is formatted once a second per thread.
 */
/* dup3 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge/access_log.h"
#include "bridge/log.h"

#define ACCESS_LINE_MAX 4096
/* Room kept after the request line for the numbers that follow it. */
#define ACCESS_TAIL 96

static const char *access_path;
static int access_fd = -1;

static int
access_open_path(void)
{
    return open(access_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int
fw_access_log_configure(const char *path)
{
    int fd;

    access_path = path != NULL && path[0] != '\0' ? path : NULL;
    if (access_path == NULL) {
        return 0;
    }
    fd = access_open_path();
    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "access-log %s: %s", access_path,
               strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

int
fw_access_log_open(void)
{
    if (access_path == NULL || access_fd >= 0) {
        return 0;
    }
    access_fd = access_open_path();
    if (access_fd < 0) {
        fw_log(FW_LOG_ERROR, "access-log %s: %s: no access log", access_path,
               strerror(errno));
        return -1;
    }
    return 0;
}

int
fw_access_log_reopen(void)
{
    int fd;

    if (access_path == NULL || access_fd < 0) {
        return fw_access_log_open();
    }
    fd = access_open_path();
    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "access-log %s: reopen: %s", access_path,
               strerror(errno));
        return -1;
    }
    if (fd != access_fd) {
        if (dup3(fd, access_fd, O_CLOEXEC) < 0) {
            fw_log(FW_LOG_ERROR, "access-log %s: reopen: dup3: %s",
                   access_path, strerror(errno));
            close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}

/* The value of param `name` (nlen bytes long), or "-". */
static const char *
access_param(char **params, const char *name, size_t nlen)
{
    for (char **p = params; p != NULL && *p != NULL; p++) {
        if (strncmp(*p, name, nlen) == 0 && (*p)[nlen] == '=') {
            return (*p)[nlen + 1] != '\0' ? *p + nlen + 1 : "-";
        }
    }
    return "-";
}

#define ACCESS_PARAM(params, lit) access_param(params, lit, sizeof(lit) - 1)

/* Appends s escaped (\xHH) at buf+*used, stopping before limit. */
static void
access_escaped(char *buf, size_t *used, size_t limit, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0' && *used + 4 < limit; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            buf[(*used)++] = '\\';
            buf[(*used)++] = 'x';
            buf[(*used)++] = hex[c >> 4];
            buf[(*used)++] = hex[c & 15];
        } else {
            buf[(*used)++] = (char)c;
        }
    }
}

/* "[24/Nov/2025:09:50:00 +0100]", remade only when the second changes. */
static const char *
access_date(time_t t)
{
    static _Thread_local time_t cached_at = -1;
    static _Thread_local char cached[40];

    if (t != cached_at) {
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(cached, sizeof(cached), "[%d/%b/%Y:%H:%M:%S %z]", &tm);
        cached_at = t;
    }
    return cached;
}

size_t
fw_access_log_format(char *buf, size_t size, char **params, int status,
                     uint64_t bytes, uint64_t duration_us, time_t started,
                     pid_t pid)
{
    size_t used;
    int n;

    n = snprintf(buf, size, "%.64s - - %s \"",
                 ACCESS_PARAM(params, "REMOTE_ADDR"), access_date(started));
    used = n < 0 ? 0 : (size_t)n;
    access_escaped(buf, &used, size - ACCESS_TAIL,
                   ACCESS_PARAM(params, "REQUEST_METHOD"));
    buf[used++] = ' ';
    access_escaped(buf, &used, size - ACCESS_TAIL - 16,
                   ACCESS_PARAM(params, "REQUEST_URI"));
    buf[used++] = ' ';
    access_escaped(buf, &used, size - ACCESS_TAIL,
                   ACCESS_PARAM(params, "SERVER_PROTOCOL"));
    n = snprintf(buf + used, size - used,
                 "\" %d %" PRIu64 " %" PRIu64 " %ld\n", status, bytes,
                 duration_us, (long)pid);
    if (n > 0) {
        used += (size_t)n < size - used ? (size_t)n : size - used - 1;
    }
    return used;
}

void
fw_access_log_request(const fw_fcgi_conn_t *c, uint64_t duration_us)
{
    char line[ACCESS_LINE_MAX];
    size_t len;

    if (access_fd < 0) {
        return;
    }
    len = fw_access_log_format(
        line, sizeof(line), c->req.params, fw_fcgi_io_status(c),
        c->resp_body_bytes, duration_us,
        time(NULL) - (time_t)(duration_us / 1000000u), getpid());
    (void)!write(access_fd, line, len);
}
