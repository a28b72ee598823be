/*
 * listen.c: opens, inherits (fd 0), adopts (kept across a reload's exec)
 * and closes the listening socket, and asks the kernel how long its queue
 * is.  Only the master side opens it, before any worker runs; it never
 * accepts.
 */
/* netlink's sock_diag and TCP_INFO need more than POSIX.1-2008. */
#define _DEFAULT_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge/serve/serve.h"
#include "bridge/log.h"

/* sd_listen_fds(3): the first socket systemd passes, and a sane most. */
#define LISTEN_SYSTEMD_FD 3
#define LISTEN_SYSTEMD_MAX 1024

/*
 * A new unix stream socket and the address of path (which conf/ checked
 * fits in sun_path).  The fd, or -1 after logging.
 */
static int
listen_unix_socket(const char *path, struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "socket(): %s", strerror(errno));
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return fd;
}

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

    fd = listen_unix_socket(path, &sa);
    if (fd < 0) {
        return -1;
    }
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

    fd = listen_unix_socket(path, &sa);
    if (fd < 0) {
        return -1;
    }

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
        fw_log(FW_LOG_ERROR, "socket %s:%d: %s", host, port, gai_strerror(rc));
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

/* Takes systemd's LISTEN_* variables out of the environment. */
static void
listen_forget_systemd(void)
{
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

/*
 * systemd's socket activation (sd_listen_fds(3)): LISTEN_PID names this
 * process and LISTEN_FDS counts the sockets passed from fd 3 on;
 * LISTEN_FDNAMES, optional, names them (":"-separated).  The three are
 * taken out of the environment whatever they say, so that the
 * application's children never take the sockets for their own.  Returns
 * how many sockets are ours (0: not activated), with the first one's name
 * copied to name (or ""); -1 after logging when LISTEN_FDS is not a
 * number.
 */
static int
listen_systemd_fds(char *name, size_t name_size)
{
    const char *pid_s = getenv("LISTEN_PID");
    const char *fds_s = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    char *end;
    long pid, fds;
    int count = 0;

    name[0] = '\0';
    if (pid_s != NULL && fds_s != NULL) {
        errno = 0;
        pid = strtol(pid_s, &end, 10);
        if (errno == 0 && *end == '\0' && pid == (long)getpid()) {
            errno = 0;
            fds = strtol(fds_s, &end, 10);
            if (errno != 0 || *end != '\0' || fds < 0 ||
                fds > LISTEN_SYSTEMD_MAX) {
                fw_log(FW_LOG_ERROR, "LISTEN_FDS=%s: not a socket count",
                       fds_s);
                count = -1;
            } else {
                count = (int)fds;
            }
        }
    }
    if (count > 0 && names != NULL) {
        snprintf(name, name_size, "%.*s", (int)strcspn(names, ":"), names);
    }
    listen_forget_systemd();
    return count;
}

/*
 * Serves the first socket systemd passed (fd 3); the others, if any, are
 * closed.  0, or -1 after logging (fd 3 is not a listening socket).
 */
static int
listen_systemd(fw_listener_t *l, int count, const char *fdname)
{
    char where[sizeof(l->name)];

    if (fw_listen_adopt(l, LISTEN_SYSTEMD_FD, NULL) < 0) {
        fw_log(FW_LOG_ERROR,
               "systemd passed %d socket(s) (LISTEN_FDS) but fd %d is not a "
               "listening socket: check the .socket unit (ListenStream=)",
               count, LISTEN_SYSTEMD_FD);
        return -1;
    }
    for (int fd = LISTEN_SYSTEMD_FD + 1; fd < LISTEN_SYSTEMD_FD + count;
         fd++) {
        close(fd);
    }
    if (count > 1) {
        fw_log(FW_LOG_WARN,
               "systemd passed %d sockets: serving the first (fd %d), "
               "closed the others",
               count, LISTEN_SYSTEMD_FD);
    }
    memcpy(where, l->name, sizeof(where));
    snprintf(l->name, sizeof(l->name), "%.200s (systemd socket%s%.60s)", where,
             fdname[0] != '\0' ? " " : "", fdname);
    return 0;
}

int
fw_listen_open(fw_listener_t *l, const fw_sockaddr_conf_t *addr, unsigned mode,
               int backlog)
{
    char fdname[64];
    int systemd = addr->kind != FW_SOCK_NONE
                      ? listen_systemd_fds(fdname, sizeof(fdname))
                      : 0;

    if (systemd > 0) {
        fw_log(FW_LOG_WARN,
               "socket is set: the %d socket(s) systemd passed are not "
               "served (leave socket out to serve them)",
               systemd);
    }
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

const char *
fw_listen_check_dir(const char *path, char *msg, size_t size)
{
    char dir[4096];
    char *slash;
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        slash[slash == dir ? 1 : 0] = '\0'; /* "/x.sock": "/" */
    }
    if (stat(dir, &st) < 0) {
        snprintf(msg, size, "socket unix:%s: directory %s: %s", path, dir,
                 strerror(errno));
        return msg;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(msg, size, "socket unix:%s: %s is not a directory", path,
                 dir);
        return msg;
    }
    return NULL;
}

int
fw_listen_inherit(fw_listener_t *l)
{
    int listening = 0;
    socklen_t len = sizeof(listening);
    char fdname[64];
    int count = listen_systemd_fds(fdname, sizeof(fdname));

    if (count != 0) {
        return count < 0 ? -1 : listen_systemd(l, count, fdname);
    }
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) <
            0 ||
        !listening) {
        return -1;
    }
    l->fd = STDIN_FILENO;
    snprintf(l->name, sizeof(l->name), "the listening socket on fd 0");
    return 0;
}

int
fw_listen_adopt(fw_listener_t *l, int fd, const char *own_path)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int listening = 0;
    socklen_t ilen = sizeof(listening);
    char host[256];
    int flags;

    listen_forget_systemd(); /* a reload's exec passes them on: stale */
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) < 0 ||
        !listening || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -1;
    }
    if (fd != STDIN_FILENO) {
        flags = fcntl(fd, F_GETFD);
        if (flags >= 0) {
            (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
    }
    l->fd = fd;
    if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *sa = (const struct sockaddr_un *)&ss;

        snprintf(l->name, sizeof(l->name), "unix:%.*s",
                 (int)sizeof(sa->sun_path), sa->sun_path);
        if (own_path != NULL &&
            strncmp(own_path, sa->sun_path, sizeof(sa->sun_path)) == 0) {
            snprintf(l->unix_path, sizeof(l->unix_path), "%s", own_path);
        }
    } else if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
                           NULL, 0, NI_NUMERICHOST) == 0) {
        int port = ss.ss_family == AF_INET6
                       ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);

        snprintf(l->name, sizeof(l->name),
                 ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
    } else {
        snprintf(l->name, sizeof(l->name), "the listening socket on fd %d",
                 fd);
    }
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

/*
 * mod_fcgid's launch, told from what it leaves: the socket inherited on
 * fd 0, and the parent process named apache2 or httpd in /proc/PPID/comm.
 */
int
fw_listen_by_mod_fcgid(const fw_listener_t *l, char *parent, size_t size)
{
    char path[64], comm[32] = "";
    FILE *f;

    if (l->fd != STDIN_FILENO) {
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)getppid());
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(comm, sizeof(comm), f) == NULL) {
        comm[0] = '\0';
    }
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    if (strcmp(comm, "apache2") != 0 && strcmp(comm, "httpd") != 0) {
        return 0;
    }
    snprintf(parent, size, "%s", comm);
    return 1;
}

/* ---- the listen queue ------------------------------------------------- */

/*
 * A unix socket's queue through sock_diag: for a listening socket the
 * kernel reports the pending connections as rqueue and the backlog as
 * wqueue.  0 or -1.
 */
static int
listen_unix_queue(int fd, long *queue, long *backlog)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg;
    union {
        struct nlmsghdr nlh;
        char bytes[8192];
    } reply;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct stat st;
    struct nlmsghdr *h;
    ssize_t n;
    int nl, rc = -1;

    if (fstat(fd, &st) < 0) {
        return -1;
    }
    nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) {
        return -1;
    }
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST;
    msg.req.sdiag_family = AF_UNIX;
    msg.req.udiag_states = ~0u;
    msg.req.udiag_ino = (__u32)st.st_ino;
    msg.req.udiag_show = UDIAG_SHOW_RQLEN;
    msg.req.udiag_cookie[0] = ~0u; /* no cookie: look up by inode */
    msg.req.udiag_cookie[1] = ~0u;
    if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
               sizeof(kernel)) < 0) {
        goto done;
    }
    n = recv(nl, &reply, sizeof(reply), 0);
    if (n < 0) {
        goto done;
    }
    for (h = &reply.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        struct unix_diag_msg *m = NLMSG_DATA(h);
        struct rtattr *a;
        size_t alen;

        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
            h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
            m->udiag_state != TCP_LISTEN) {
            break; /* NLMSG_ERROR (no such socket, no unix_diag), or the
                      socket does not listen */
        }
        alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
        for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
             a = RTA_NEXT(a, alen)) {
            if (a->rta_type == UNIX_DIAG_RQLEN &&
                RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
                struct unix_diag_rqlen *q = RTA_DATA(a);

                *queue = (long)q->udiag_rqueue;
                *backlog = (long)q->udiag_wqueue;
                rc = 0;
            }
        }
        break;
    }

done:
    close(nl);
    return rc;
}

long long
fw_listen_sndbuf_cap(int fd, long long want)
{
    FILE *f;
    long long max = -1;

    if (want <= 0 || fd < 0 || !fw_listen_is_unix(fd)) {
        return 0;
    }
    f = fopen("/proc/sys/net/core/wmem_max", "re");
    if (f != NULL) {
        if (fscanf(f, "%lld", &max) != 1) {
            max = -1;
        }
        fclose(f);
    }
    return max >= 0 && max < want ? max : 0;
}

int
fw_listen_is_unix(int fd)
{
    struct sockaddr_storage addr;
    socklen_t alen = sizeof(addr);

    return getsockname(fd, (struct sockaddr *)&addr, &alen) == 0 &&
           addr.ss_family == AF_UNIX;
}

int
fw_listen_queue(int fd, long *queue, long *backlog)
{
    struct sockaddr_storage addr;
    socklen_t alen = sizeof(addr);

    *queue = *backlog = -1;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&addr, &alen) < 0) {
        return -1;
    }
    if (addr.ss_family == AF_INET || addr.ss_family == AF_INET6) {
        struct tcp_info info;
        socklen_t ilen = sizeof(info);

        /* on a listening socket: unacked = queue, sacked = backlog */
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) < 0 ||
            info.tcpi_state != TCP_LISTEN) {
            return -1;
        }
        *queue = (long)info.tcpi_unacked;
        *backlog = (long)info.tcpi_sacked;
        return 0;
    }
    if (addr.ss_family == AF_UNIX &&
        listen_unix_queue(fd, queue, backlog) == 0) {
        return 0;
    }
    *queue = *backlog = -1;
    return -1;
}
