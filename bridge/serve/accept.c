/*
 * accept.c: a connection taken off the listening socket by a serving
 * thread: accept4, the peer checked (allow.c), the connection given a
 * slot (conns.c).  Out of descriptors, the oldest idle connection is
 * closed, or the waiting one refused through a spare descriptor.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/serve/serve_int.h"
#include "bridge/wire/wire.h"
#include "bridge/log.h"

static int accept_listen_fd = -1;
static int accept_spare_fd = -1; /* given up when out of descriptors */

void
fw_accept_setup(int listen_fd)
{
    accept_listen_fd = listen_fd;
    accept_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of descriptors: the oldest idle connection is closed to make room;
 * with none, the spare descriptor is given up for a moment to accept the
 * waiting connection and close it, so the queue does not spin epoll.
 */
static void
accept_out_of_fds(void)
{
    static _Atomic int64_t last_log;
    int64_t now = fw_conn_now_ms();
    int fd;

    if (fw_conns_evict_idle()) {
        return;
    }
    if (accept_spare_fd >= 0) {
        close(accept_spare_fd);
        accept_spare_fd = -1;
    }
    fd = accept(accept_listen_fd, NULL, NULL);
    if (fd >= 0) {
        close(fd);
    }
    accept_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (now - atomic_load(&last_log) >= 1000) {
        atomic_store(&last_log, now);
        fw_log(FW_LOG_WARN,
               "accept: out of descriptors with %d connections open, none "
               "idle: refused a connection",
               fw_conns_count());
    }
}

fw_conn_t *
fw_accept_one(void)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(accept_listen_fd, (struct sockaddr *)&peer, &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd >= 0) {
        if (!fw_allow_check((struct sockaddr *)&peer, peer_len)) {
            close(fd);
            return NULL;
        }
        return fw_conns_open(fd);
    }
    switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
        break;
    case EMFILE:
    case ENFILE:
        accept_out_of_fds();
        break;
    default:
        fw_log(FW_LOG_ERROR, "accept: %s: pausing 100 ms", strerror(errno));
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        break;
    }
    return NULL;
}
