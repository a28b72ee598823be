/*
 * log.c: formats log lines and writes each message with one write(2) on an
 * O_APPEND descriptor, so lines from threads and processes never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"

static int log_fd = STDERR_FILENO;
static char log_role[32] = "main";

static const char *const log_levels[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int
fw_log_open(const char *path)
{
    int fd;

    if (path == NULL || path[0] == '\0') {
        log_fd = STDERR_FILENO;
        return 0;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    if (log_fd != STDERR_FILENO) {
        close(log_fd);
    }
    log_fd = fd;
    return 0;
}

int
fw_log_fd(void)
{
    return log_fd;
}

void
fw_log_set_role(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

static size_t
log_prefix(char *buf, size_t size, fw_log_level_e level)
{
    struct timespec now;
    struct tm tm;
    size_t n;
    int m;

    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    m = snprintf(buf + n, size - n, ".%03ld [%s pid %ld] %s ",
                 now.tv_nsec / 1000000, log_role, (long)getpid(),
                 log_levels[level]);
    return m < 0 ? n : n + (size_t)m;
}

/*
 * Writes msg (len bytes, may hold several lines) with the prefix on each
 * line.  Long messages (tracebacks) go out in as few writes as fit in the
 * stack buffer; each line is whole in one write.
 */
void
fw_log_write(fw_log_level_e level, const char *msg, size_t len)
{
    char buf[8192];
    char prefix[128];
    size_t plen, used = 0;

    plen = log_prefix(prefix, sizeof(prefix), level);

    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r')) {
        len--;
    }

    do {
        const char *nl = memchr(msg, '\n', len);
        size_t line = nl != NULL ? (size_t)(nl - msg) : len;
        size_t take = line;

        if (plen + take + 1 > sizeof(buf)) {
            take = sizeof(buf) - plen - 1; /* cut an over-long line */
        }
        if (used + plen + take + 1 > sizeof(buf)) {
            (void)!write(log_fd, buf, used);
            used = 0;
        }
        memcpy(buf + used, prefix, plen);
        memcpy(buf + used + plen, msg, take);
        used += plen + take;
        buf[used++] = '\n';

        if (nl == NULL) {
            break;
        }
        msg = nl + 1;
        len -= line + 1;
    } while (len > 0);

    if (used > 0) {
        (void)!write(log_fd, buf, used);
    }
}
