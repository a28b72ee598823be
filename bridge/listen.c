/*
 * listen.c: opens, inherits and closes the listening socket.  Only the
 * master side calls it, before any worker runs; it never accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge/listen.h"
#include "bridge/log.h"

/*
 * A unix socket path that exists: a server still answering there keeps it
 * (error), a dead one's file is removed.  Anything but a socket is never
 * removed.  0 when the path is free now, -1 after logging.
 */
static int
listen_clear_stale(const char *path)
{
    struct stat st;
    struct sockaddr_un sa;
    int fd, rc;

    if (lstat(path, &st) < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fw_log(FW_LOG_ERROR, "socket %s: the path exists and is not a socket",
               path);
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "socket(): %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        fw_log(FW_LOG_ERROR,
               "socket %s: another server is listening there already", path);
        return -1;
    }

    if (unlink(path) < 0 && errno != ENOENT) {
        fw_log(FW_LOG_ERROR, "socket %s: cannot remove the stale file: %s",
               path, strerror(errno));
        return -1;
    }
    fw_log(FW_LOG_INFO, "socket %s: replaced a stale socket file", path);
    return 0;
}

static int
listen_unix(fw_listener_t *l, const char *path, unsigned mode, int backlog)
{
    struct sockaddr_un sa;
    int fd;

    if (listen_clear_stale(path) < 0) {
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "socket(): %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);

    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fw_log(FW_LOG_ERROR, "socket unix:%s: cannot bind: %s", path,
               strerror(errno));
        close(fd);
        return -1;
    }
    snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);

    if (chmod(path, mode) < 0) {
        fw_log(FW_LOG_ERROR, "socket unix:%s: chmod %o: %s", path, mode,
               strerror(errno));
        goto error;
    }
    if (listen(fd, backlog) < 0) {
        fw_log(FW_LOG_ERROR, "socket unix:%s: listen: %s", path,
               strerror(errno));
        goto error;
    }
    l->fd = fd;
    snprintf(l->name, sizeof(l->name), "unix:%s", path);
    return 0;

error:
    close(fd);
    unlink(path);
    l->unix_path[0] = '\0';
    return -1;
}

static int
listen_tcp(fw_listener_t *l, const char *host, int port, int backlog)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[16];
    int fd = -1, on = 1, rc, saved = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(service, sizeof(service), "%d", port);

    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        fw_log(FW_LOG_ERROR, "socket %s:%d: %s", host, port,
               gai_strerror(rc));
        return -1;
    }

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, backlog) == 0) {
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);

    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "socket %s:%d: cannot listen: %s", host, port,
               strerror(saved));
        return -1;
    }
    l->fd = fd;
    snprintf(l->name, sizeof(l->name), "%s:%d", host, port);
    return 0;
}

int
fw_listen_open(fw_listener_t *l, const fw_sockaddr_conf_t *addr,
               unsigned mode, int backlog)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;

    switch (addr->kind) {
    case FW_SOCK_UNIX:
        return listen_unix(l, addr->path, mode, backlog);
    case FW_SOCK_TCP:
        return listen_tcp(l, addr->host, addr->port, backlog);
    case FW_SOCK_NONE:
        break;
    }
    return fw_listen_inherit(l);
}

int
fw_listen_inherit(fw_listener_t *l)
{
    int listening = 0;
    socklen_t len = sizeof(listening);

    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &listening,
                   &len) < 0 ||
        !listening) {
        return -1;
    }
    l->fd = STDIN_FILENO;
    snprintf(l->name, sizeof(l->name), "the listening socket on fd 0");
    return 0;
}

void
fw_listen_close(fw_listener_t *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->unix_path[0] != '\0') {
        unlink(l->unix_path);
        l->unix_path[0] = '\0';
    }
}
