/*
 * autoreload.c: py-autoreload, for development: a change to the file of
 * any module a worker imported reloads the pool, as SIGHUP does.
 *
 * The watch lives in each worker, which alone knows what it imported
 * (Django imports the views at the first request, in a worker):
 * autoreload_watch.c.  A file changed later than the master image started,
 * and than the change it reported already (fw_autoreload_due), is
 * reported to the master as one datagram (its ctime and path) on a socket
 * pair that the master makes at its first start and keeps across reloads
 * like the listening socket: a worker of an earlier image, still serving
 * after a reload whose new code did not import, can ask for the next one.
 * This file holds the pair and its datagrams, both ends: the master reads
 * them on each turn of its loop and takes the first change from after its
 * own start; an earlier one is the reload it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/pool/pool_int.h"
#include "bridge/log.h"

/* Datagrams the master reads in one turn, at most. */
#define AUTORELOAD_READ_MAX 64

/* This master image's pair ([0] the master reads, [1] the workers send),
 * and when the image started (CLOCK_REALTIME, the clock of ctime); both
 * inherited by the workers it forks. */
static int autoreload_fds[2] = {-1, -1};
static struct timespec autoreload_loaded;

/* One report: the file's ctime, then its path (not NUL-terminated). */
typedef struct {
    struct timespec changed;
    char path[PATH_MAX];
} autoreload_msg_t;

static void
autoreload_close(void)
{
    for (int i = 0; i < 2; i++) {
        if (autoreload_fds[i] >= 0) {
            close(autoreload_fds[i]);
            autoreload_fds[i] = -1;
        }
    }
}

void
fw_autoreload_open(const fw_master_config_t *mc)
{
    const fw_reload_handover_t *h = mc->handover;
    int fds[2];

    autoreload_close();
    if (h != NULL && h->autoreload_fds[0] >= 0 && h->autoreload_fds[1] >= 0) {
        fds[0] = h->autoreload_fds[0];
        fds[1] = h->autoreload_fds[1];
        if (mc->py_autoreload <= 0) { /* turned off by this reload */
            close(fds[0]);
            close(fds[1]);
            return;
        }
        /* kept open across the exec: close-on-exec again */
        (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        (void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    } else if (mc->py_autoreload <= 0) {
        return;
    } else if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) < 0) {
        fw_log(FW_LOG_ERROR, "py-autoreload: socketpair: %s: off",
               strerror(errno));
        return;
    }
    autoreload_fds[0] = fds[0];
    autoreload_fds[1] = fds[1];
    clock_gettime(CLOCK_REALTIME, &autoreload_loaded);
}

void
fw_autoreload_handover(int fds[2])
{
    fds[0] = autoreload_fds[0];
    fds[1] = autoreload_fds[1];
}

/* The path of m (n bytes received) made fit for one log line, in out. */
static void
autoreload_path_text(const autoreload_msg_t *m, size_t n, char *out,
                     size_t size)
{
    size_t len = n - offsetof(autoreload_msg_t, path);

    if (len >= size) {
        len = size - 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)m->path[i];

        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    out[len] = '\0';
}

const char *
fw_autoreload_changed(void)
{
    static char path[PATH_MAX];
    static const struct timespec none;
    autoreload_msg_t m;

    for (int i = 0; autoreload_fds[0] >= 0 && i < AUTORELOAD_READ_MAX; i++) {
        ssize_t n = recv(autoreload_fds[0], &m, sizeof(m), MSG_DONTWAIT);

        if (n < 0) {
            break;
        }
        if ((size_t)n <= offsetof(autoreload_msg_t, path) ||
            !fw_pool_rules_autoreload_due(&autoreload_loaded, &none,
                                          &m.changed)) {
            continue; /* loaded already: the reload this image is */
        }
        autoreload_path_text(&m, (size_t)n, path, sizeof(path));
        return path;
    }
    return NULL;
}

int
fw_autoreload_due(const struct timespec *told, const struct timespec *changed)
{
    return fw_pool_rules_autoreload_due(&autoreload_loaded, told, changed);
}

void
fw_autoreload_report(const char *path, const struct timespec *changed)
{
    autoreload_msg_t m;
    size_t len = strlen(path);

    if (len > sizeof(m.path)) {
        len = sizeof(m.path);
    }
    m.changed = *changed;
    memcpy(m.path, path, len);
    (void)!send(autoreload_fds[1], &m, offsetof(autoreload_msg_t, path) + len,
                MSG_DONTWAIT | MSG_NOSIGNAL);
}

void
fw_autoreload_start(int seconds)
{
    if (seconds <= 0 || autoreload_fds[1] < 0) {
        return;
    }
    close(autoreload_fds[0]); /* the master's end */
    autoreload_fds[0] = -1;
    fw_autoreload_watch(seconds);
}
