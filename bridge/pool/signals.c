/*
 * signals.c: the master's self-pipe (php-fpm's fpm_signals.c idea).  The
 * handlers only write one byte; everything else happens in the master's
 * loop.  Nothing here logs from a handler or touches Python.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"

static const int signals_handled[] = {SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                                      SIGUSR1, SIGUSR2, SIGCHLD};
#define SIGNALS_N (sizeof(signals_handled) / sizeof(signals_handled[0]))

static int signals_pipe[2] = {-1, -1};

static void
signals_handler(int sig)
{
    int saved = errno;
    unsigned char byte = (unsigned char)sig;

    /* A full pipe drops the byte: the master has plenty to read already,
     * and it reaps and checks its state on every tick anyway. */
    (void)!write(signals_pipe[1], &byte, 1);
    errno = saved;
}

static void
signals_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < SIGNALS_N; i++) {
        sigaddset(set, signals_handled[i]);
    }
}

static int
signals_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -1;
    }
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
        return -1;
    }
    return 0;
}

int
fw_signals_install(void)
{
    struct sigaction sa;
    sigset_t set;

    if (pipe(signals_pipe) < 0 ||
        signals_nonblock_cloexec(signals_pipe[0]) < 0 ||
        signals_nonblock_cloexec(signals_pipe[1]) < 0) {
        fw_log(FW_LOG_ERROR, "signal pipe: %s", strerror(errno));
        return -1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = signals_handler;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < SIGNALS_N; i++) {
        int flags = signals_handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0;

        sa.sa_flags = SA_RESTART | flags;
        if (sigaction(signals_handled[i], &sa, NULL) < 0) {
            fw_log(FW_LOG_ERROR, "sigaction(%d): %s", signals_handled[i],
                   strerror(errno));
            return -1;
        }
    }
    signals_set(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

int
fw_signals_fd(void)
{
    return signals_pipe[0];
}

int
fw_signals_take(void)
{
    unsigned char byte;

    for (;;) {
        ssize_t n = read(signals_pipe[0], &byte, 1);

        if (n == 1) {
            return byte;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return 0;
    }
}

void
fw_signals_block(sigset_t *old)
{
    sigset_t set;
    int sig;

    signals_set(&set);
    sigprocmask(SIG_BLOCK, &set, old);
    /* caught but not yet taken: pending again, so an exec keeps them */
    while ((sig = fw_signals_take()) > 0) {
        raise(sig);
    }
}

void
fw_signals_restore(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}

void
fw_signals_in_child(void)
{
    struct sigaction sa;
    sigset_t keep;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < SIGNALS_N; i++) {
        sigaction(signals_handled[i], &sa, NULL);
    }
    if (signals_pipe[0] >= 0) {
        close(signals_pipe[0]);
        close(signals_pipe[1]);
        signals_pipe[0] = signals_pipe[1] = -1;
    }
    signals_set(&keep);
    sigdelset(&keep, SIGCHLD);
    sigprocmask(SIG_SETMASK, &keep, NULL);
}

const char *
fw_signals_name(int sig)
{
    switch (sig) {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGQUIT:
        return "SIGQUIT";
    case SIGHUP:
        return "SIGHUP";
    case SIGUSR1:
        return "SIGUSR1";
    case SIGUSR2:
        return "SIGUSR2";
    case SIGCHLD:
        return "SIGCHLD";
    default:
        return "a signal";
    }
}
