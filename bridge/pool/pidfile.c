/*
 * pidfile.c: writes and removes the pid file.  The file is written to a
 * temporary name in the same directory and renamed, so a reader never sees
 * it empty or half written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"

/* The pid in path, or -1 when it cannot be read. */
static long
pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int
fw_pidfile_write(const char *path)
{
    char tmp[4096], line[32];
    int fd, n, len;

    if (pidfile_read(path) == (long)getpid()) {
        return 0; /* a reload's new image: the same pid is there */
    }

    n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        fw_log(FW_LOG_ERROR, "pidfile %s: path too long", path);
        return -1;
    }
    len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "pidfile %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write(fd, line, (size_t)len) != len) {
        fw_log(FW_LOG_ERROR, "pidfile %s: write: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        fw_log(FW_LOG_ERROR, "pidfile %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void
fw_pidfile_remove(const char *path)
{
    if (pidfile_read(path) != (long)getpid()) {
        return;
    }
    if (unlink(path) < 0) {
        fw_log(FW_LOG_WARN, "pidfile %s: cannot remove it: %s", path,
               strerror(errno));
    }
}
