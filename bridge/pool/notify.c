/*
 * notify.c: sd_notify without libsystemd.  Each message is one datagram
 * sent from a fresh SOCK_DGRAM socket to $NOTIFY_SOCKET (systemd reads the
 * sender's pid from the kernel's credentials), so no descriptor stays open
 * and none leaks into a worker.  It never blocks and never fails the
 * server: systemd's readiness is a courtesy, serving is the job.  It reads
 * no clock: the times it sends or paces by come from the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"

#define NOTIFY_MSG_MAX 512
#define NOTIFY_STATUS_PERIOD 1.0 /* seconds between the pool's STATUS= */

/* What systemd was told last; each state is announced once. */
typedef enum {
    NOTIFY_NONE = 0, /* nothing sent yet */
    NOTIFY_READY,
    NOTIFY_RELOADING,
    NOTIFY_STOPPING
} notify_state_e;

static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len; /* 0: notification is off */
static char notify_env[sizeof(notify_addr.sun_path) + 1]; /* for logs */
static pid_t notify_pid; /* the process that may notify */
static notify_state_e notify_state;
static char notify_last_status[NOTIFY_MSG_MAX];
static int notify_status_sent;  /* the pool's STATUS= went out once */
static double notify_status_at; /* the caller's time of the last one */
static int notify_failed;       /* a send failed and was logged */

void
fw_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t len;

    notify_addr_len = 0;
    notify_state = NOTIFY_NONE;
    notify_last_status[0] = '\0';
    notify_status_sent = 0;
    notify_failed = 0;
    if (path == NULL || path[0] == '\0') {
        return;
    }
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') ||
        len >= sizeof(notify_addr.sun_path)) {
        fw_log(FW_LOG_WARN,
               "NOTIFY_SOCKET=%s: not a unix socket path or @name: systemd "
               "will not hear that the server is ready",
               path);
        unsetenv("NOTIFY_SOCKET");
        return;
    }
    memset(&notify_addr, 0, sizeof(notify_addr));
    notify_addr.sun_family = AF_UNIX;
    memcpy(notify_addr.sun_path, path, len);
    if (path[0] == '@') {
        notify_addr.sun_path[0] = '\0'; /* abstract: no terminating NUL */
        notify_addr_len =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        notify_addr_len =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    memcpy(notify_env, path, len + 1);
    notify_pid = getpid();
    unsetenv("NOTIFY_SOCKET");
}

/*
 * Sends msg as one datagram.  0 (sent, or notification off here), or -1:
 * the first failure is logged, later ones only counted.
 */
static int
notify_send(const char *msg)
{
    int fd;
    ssize_t sent;

    if (notify_addr_len == 0 || getpid() != notify_pid) {
        return 0;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sent = -1;
    } else {
        do {
            sent =
                sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
                       (const struct sockaddr *)&notify_addr, notify_addr_len);
        } while (sent < 0 && errno == EINTR);
        close(fd);
    }
    if (sent < 0) {
        if (!notify_failed) {
            fw_log(FW_LOG_WARN, "NOTIFY_SOCKET %s: cannot send '%.40s': %s",
                   notify_env, msg, strerror(errno));
        }
        notify_failed = 1;
        return -1;
    }
    return 0;
}

int
fw_notify_ready(void)
{
    if (notify_state == NOTIFY_READY || notify_state == NOTIFY_STOPPING) {
        return 0;
    }
    notify_state = NOTIFY_READY;
    return notify_send("READY=1");
}

int
fw_notify_reloading(uint64_t monotonic_us)
{
    char msg[64];

    if (notify_state == NOTIFY_STOPPING) {
        return 0;
    }
    notify_state = NOTIFY_RELOADING;
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)monotonic_us);
    return notify_send(msg);
}

int
fw_notify_stopping(void)
{
    if (notify_state == NOTIFY_STOPPING) {
        return 0;
    }
    notify_state = NOTIFY_STOPPING;
    return notify_send("STOPPING=1");
}

int
fw_notify_status(const char *fmt, ...)
{
    char msg[NOTIFY_MSG_MAX];
    va_list ap;
    int n;

    if (notify_addr_len == 0) {
        return 0;
    }
    n = snprintf(msg, sizeof(msg), "STATUS=");
    va_start(ap, fmt);
    (void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    msg[strcspn(msg, "\n")] = '\0'; /* one line: no other field smuggled */
    if (strcmp(msg, notify_last_status) == 0) {
        return 0;
    }
    memcpy(notify_last_status, msg, sizeof(msg));
    return notify_send(msg);
}

void
fw_notify_pool(int ready, int workers, double now)
{
    fw_score_pool_t *pool = fw_scoreboard_pool();

    if (notify_addr_len == 0 || getpid() != notify_pid) {
        return;
    }
    if (ready) {
        (void)fw_notify_ready();
    }
    if (notify_status_sent && now - notify_status_at < NOTIFY_STATUS_PERIOD) {
        return;
    }
    notify_status_sent = 1;
    notify_status_at = now;
    if (pool == NULL) {
        (void)fw_notify_status("%d worker%s", workers,
                               workers == 1 ? "" : "s");
        return;
    }
    (void)fw_notify_status("%d worker%s, %d busy, %llu requests", workers,
                           workers == 1 ? "" : "s",
                           atomic_load(&pool->active_workers),
                           (unsigned long long)atomic_load(&pool->accepted));
}
