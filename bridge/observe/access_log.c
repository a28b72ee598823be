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

#include "bridge/observe/observe.h"
#include "bridge/log.h"

#define ACCESS_LINE_MAX 4096
/* Room kept after the request line for the numbers that follow it. */
#define ACCESS_TAIL 96
/* REMOTE_ADDR bytes written (an IPv6 address with a zone fits). */
#define ACCESS_ADDR_MAX 64

static const char *access_path;
static int access_fd = -1;

/* Opens the access log for appending; on failure logs "access-log PATH:
 * <when>ERROR<outcome>".  The descriptor, or -1. */
static int
access_open_path(const char *when, const char *outcome)
{
    int fd =
        open(access_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "access-log %s: %s%s%s", access_path, when,
               strerror(errno), outcome);
    }
    return fd;
}

int
fw_access_log_configure(const char *path)
{
    int fd;

    access_path = path != NULL && path[0] != '\0' ? path : NULL;
    if (access_path == NULL) {
        return 0;
    }
    fd = access_open_path("", "");
    if (fd < 0) {
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
    access_fd = access_open_path("", ": no access log");
    return access_fd < 0 ? -1 : 0;
}

int
fw_access_log_reopen(void)
{
    int fd;

    if (access_path == NULL || access_fd < 0) {
        return fw_access_log_open();
    }
    fd = access_open_path("reopen: ", "");
    if (fd < 0) {
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

/*
 * Appends param p's value (p may be NULL) escaped at buf+*used: quotes,
 * backslashes, control (NUL too) and non-ASCII bytes as \xHH.  Stops
 * before limit; "-" when p is absent or empty.
 */
static void
access_escaped(char *buf, size_t *used, size_t limit, const fw_param_t *p)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *s = p != NULL && p->value_len > 0 ? p->value : "-";
    size_t len = p != NULL && p->value_len > 0 ? p->value_len : 1;

    for (size_t i = 0; i < len && *used + 4 < limit; i++) {
        unsigned char c = (unsigned char)s[i];

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
fw_access_log_format(char *buf, size_t size, const fw_request_t *r, int status,
                     uint64_t bytes, uint64_t duration_us, time_t started,
                     pid_t pid)
{
    size_t used = 0;
    int n;

    access_escaped(buf, &used, ACCESS_ADDR_MAX + 4,
                   FW_PARAM(r, "REMOTE_ADDR"));
    n = snprintf(buf + used, size - used, " - - %s \"", access_date(started));
    used += n < 0 ? 0 : (size_t)n;
    access_escaped(buf, &used, size - ACCESS_TAIL,
                   FW_PARAM(r, "REQUEST_METHOD"));
    buf[used++] = ' ';
    access_escaped(buf, &used, size - ACCESS_TAIL - 16,
                   FW_PARAM(r, "REQUEST_URI"));
    buf[used++] = ' ';
    access_escaped(buf, &used, size - ACCESS_TAIL,
                   FW_PARAM(r, "SERVER_PROTOCOL"));
    n = snprintf(buf + used, size - used,
                 "\" %d %" PRIu64 " %" PRIu64 " %ld\n", status, bytes,
                 duration_us, (long)pid);
    if (n > 0) {
        used += (size_t)n < size - used ? (size_t)n : size - used - 1;
    }
    return used;
}

void
fw_access_log_request(const fw_request_t *r, int status, uint64_t body_bytes,
                      uint64_t duration_us)
{
    char line[ACCESS_LINE_MAX];
    size_t len;

    if (access_fd < 0) {
        return;
    }
    len = fw_access_log_format(
        line, sizeof(line), r, status, body_bytes, duration_us,
        time(NULL) - (time_t)(duration_us / 1000000u), getpid());
    (void)!write(access_fd, line, len);
}
