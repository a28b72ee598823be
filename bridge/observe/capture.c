/*
 * capture.c: a worker's stdout and stderr, and its Python stack dumps,
 * turned into log lines (observe.h) by one reader thread that blocks every
 * signal and runs no Python.  Descriptors 1 and 2 are pipes, so whatever
 * writes to them (print(), logging's StreamHandler, a C extension, a
 * subprocess) arrives; each line is logged with one write(2) by this one
 * thread, so lines never interleave mid-line.  The dumps come through a
 * pipe of their own: faulthandler writes the stacks there in its signal
 * handler, then calls ours (chained), which writes one byte on the mark
 * pipe: the reader then logs the whole dump as one message.
 */
/* pipe2, F_SETPIPE_SZ */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/observe/observe.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"

/* Bytes read at once from a pipe. */
#define CAPTURE_READ 65536
/* A stack dump kept for one message; the rest is left out (and said). */
#define CAPTURE_DUMP_MAX (256 * 1024)
#define CAPTURE_DUMP_NOTE 80
/* How long the end of a request waits for its output to be logged. */
#define CAPTURE_SYNC_NS (100 * 1000000L)
/* The request tag of a line: "METHOD URI". */
#define CAPTURE_TAG_MAX 300
/* Reads of one pipe when it is drained at the end. */
#define CAPTURE_LAST_READS 64

/* The pipes the reader polls, by what comes through them. */
enum {
    SRC_STDOUT = 0,
    SRC_STDERR,
    SRC_DUMP, /* faulthandler's stacks */
    SRC_MARK, /* one byte once a dump is complete */
    SRC_STOP, /* the worker is leaving */
    SRC_COUNT
};

static const char *const capture_words[2] = {"STDOUT", "STDERR"};

static int capture_fd[SRC_COUNT] = {-1, -1, -1, -1, -1}; /* read ends */
static int capture_mark_wr = -1;
static int capture_stop_wr = -1;
static int capture_slot = -1;
static int capture_running;
static pthread_t capture_thread;
static fw_log_stream_t capture_streams[2];
static char *capture_dump; /* CAPTURE_DUMP_MAX + CAPTURE_DUMP_NOTE */
static size_t capture_dump_len;
static size_t capture_dump_dropped;

/* The reader holds bytes it read and has not logged yet; the end of a
 * request waits on capture_cond until it has. */
static atomic_int capture_busy;
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t capture_cond = PTHREAD_COND_INITIALIZER;

/* Chained after faulthandler's handler: the dump before it is complete.
 * Async-signal-safe; a full mark pipe drops the byte (a mark is
 * waiting already). */
static void
capture_dump_done(int sig)
{
    int saved = errno;

    (void)sig;
    (void)!write(capture_mark_wr, "", 1);
    errno = saved;
}

/* A whole line of stdout or stderr (arg: its word), tagged with the
 * request the worker runs when it runs exactly one. */
static void
capture_emit(void *arg, const char *line, size_t len, int cut)
{
    static const char note[] = " [line cut]";
    char tag[CAPTURE_TAG_MAX];
    char cutline[FW_LOG_STREAM_LINE + sizeof(note)];
    size_t tlen = fw_scoreboard_running(capture_slot, tag, sizeof(tag));

    if (cut) {
        memcpy(cutline, line, len);
        memcpy(cutline + len, note, sizeof(note) - 1);
        line = cutline;
        len += sizeof(note) - 1;
    }
    fw_log_write_as(arg, tlen > 0 ? tag : NULL, tlen, line, len);
}

/* Keeps what a dump read brought, up to CAPTURE_DUMP_MAX. */
static void
capture_dump_add(const char *data, size_t n)
{
    size_t room = CAPTURE_DUMP_MAX - capture_dump_len;
    size_t take = n < room ? n : room;

    memcpy(capture_dump + capture_dump_len, data, take);
    capture_dump_len += take;
    capture_dump_dropped += n - take;
}

/* Logs the dump gathered so far as one message, and forgets it. */
static void
capture_dump_flush(void)
{
    if (capture_dump_len == 0) {
        return;
    }
    if (capture_dump_dropped > 0) {
        int n = snprintf(capture_dump + capture_dump_len, CAPTURE_DUMP_NOTE,
                         "\n(%zu more bytes of the stacks left out)",
                         capture_dump_dropped);

        capture_dump_len += n > 0 ? (size_t)n : 0;
    }
    fw_log_write_as("STACK", NULL, 0, capture_dump, capture_dump_len);
    capture_dump_len = 0;
    capture_dump_dropped = 0;
}

/*
 * One read of pipe src into buf, handed on: 1 when bytes came, 0 when
 * none were waiting, -1 at the end of the pipe (every writer gone; it is
 * closed then).
 */
static int
capture_read(int src, char *buf)
{
    ssize_t n = read(capture_fd[src], buf, CAPTURE_READ);

    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    if (n == 0) {
        if (src <= SRC_STDERR) {
            fw_log_stream_end(&capture_streams[src], capture_emit,
                              (void *)capture_words[src]);
        }
        close(capture_fd[src]);
        capture_fd[src] = -1;
        return -1;
    }
    switch (src) {
    case SRC_STDOUT:
    case SRC_STDERR:
        fw_log_stream_feed(&capture_streams[src], buf, (size_t)n, capture_emit,
                           (void *)capture_words[src]);
        break;
    case SRC_DUMP:
        capture_dump_add(buf, (size_t)n);
        break;
    default:
        break; /* SRC_MARK, SRC_STOP: the byte says it all */
    }
    return 1;
}

/* Reads what src holds now, at most `reads` times. */
static void
capture_drain(int src, char *buf, int reads)
{
    while (capture_fd[src] >= 0 && reads-- > 0 && capture_read(src, buf) > 0) {
    }
}

/* The reader has logged what it read: wakes the requests waiting. */
static void
capture_idle(void)
{
    pthread_mutex_lock(&capture_lock);
    atomic_store(&capture_busy, 0);
    pthread_cond_broadcast(&capture_cond);
    pthread_mutex_unlock(&capture_lock);
}

/*
 * The reader: one read per ready pipe per round (a chatty subprocess does
 * not starve the others); a mark logs the dump; a stop drains everything
 * and leaves.
 */
static void *
capture_main(void *arg)
{
    static char buf[CAPTURE_READ];
    int stopping = 0;

    (void)arg;
    while (!stopping) {
        struct pollfd pfd[SRC_COUNT];
        int src_of[SRC_COUNT], n = 0;

        for (int src = 0; src < SRC_COUNT; src++) {
            if (capture_fd[src] >= 0) {
                pfd[n] = (struct pollfd){capture_fd[src], POLLIN, 0};
                src_of[n++] = src;
            }
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        atomic_store(&capture_busy, 1);
        for (int i = 0; i < n; i++) {
            if (pfd[i].revents == 0) {
                continue;
            }
            if (src_of[i] == SRC_STOP) {
                stopping = 1;
            } else if (src_of[i] == SRC_MARK) {
                capture_drain(SRC_MARK, buf, CAPTURE_LAST_READS);
                capture_drain(SRC_DUMP, buf, CAPTURE_LAST_READS);
                capture_dump_flush();
            } else {
                (void)capture_read(src_of[i], buf);
            }
        }
        capture_idle();
    }
    for (int src = SRC_STDOUT; src <= SRC_DUMP; src++) {
        capture_drain(src, buf, CAPTURE_LAST_READS);
    }
    for (int src = SRC_STDOUT; src <= SRC_STDERR; src++) {
        fw_log_stream_end(&capture_streams[src], capture_emit,
                          (void *)capture_words[src]);
    }
    if (capture_dump != NULL) {
        capture_dump_flush();
    }
    capture_idle();
    return NULL;
}

/* Closes both ends of each pipe in fds (pairs; -1: none). */
static void
close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

/* A pipe whose read end does not block; both ends close on exec. */
static int
capture_pipe(int ends[2])
{
    if (pipe2(ends, O_CLOEXEC) < 0) {
        return -1;
    }
    return fcntl(ends[0], F_SETFL, O_NONBLOCK);
}

/*
 * The dump pipe and the mark pipe, the dump buffer, and our handler
 * (faulthandler chains to it).  0, or -1 (logged) with nothing made.
 */
static int
capture_dump_setup(int dump_signal, int *dump, int *mark)
{
    struct sigaction sa;

    capture_dump = malloc(CAPTURE_DUMP_MAX + CAPTURE_DUMP_NOTE);
    if (capture_dump == NULL || capture_pipe(dump) < 0 ||
        capture_pipe(mark) < 0 || fcntl(mark[1], F_SETFL, O_NONBLOCK) < 0) {
        fw_log(FW_LOG_ERROR,
               "stack dumps: %s: written to the log as they "
               "come",
               capture_dump == NULL ? "out of memory" : strerror(errno));
        free(capture_dump);
        capture_dump = NULL;
        close_all(dump, 2);
        close_all(mark, 2);
        return -1;
    }
    capture_fd[SRC_DUMP] = dump[0];
    capture_fd[SRC_MARK] = mark[0];
    capture_mark_wr = mark[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = capture_dump_done;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(dump_signal, &sa, NULL);
    return 0;
}

/* Starts the reader with every signal blocked in it. */
static int
capture_thread_start(void)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&capture_thread, NULL, capture_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int
fw_capture_start(int slot, int dump_signal)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, stop[2] = {-1, -1};
    int dump[2] = {-1, -1}, mark[2] = {-1, -1};
    int saved[2] = {-1, -1};

    capture_slot = slot;
    if (capture_pipe(out) < 0 || capture_pipe(err) < 0 ||
        capture_pipe(stop) < 0 || fw_log_detach_stderr() < 0 ||
        (saved[0] = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) < 0 ||
        (saved[1] = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0) {
        fw_log(FW_LOG_ERROR,
               "stdout/stderr capture: %s: the application's output does "
               "not reach the log",
               strerror(errno));
        goto fail;
    }
    fflush(stdout);
    fflush(stderr);
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0) {
        fw_log(FW_LOG_ERROR, "stdout/stderr capture: dup2: %s",
               strerror(errno));
        goto restore;
    }
    capture_fd[SRC_STDOUT] = out[0];
    capture_fd[SRC_STDERR] = err[0];
    capture_fd[SRC_STOP] = stop[0];
    capture_stop_wr = stop[1];
    if (dump_signal != 0 && capture_dump_setup(dump_signal, dump, mark) < 0) {
        dump[1] = -1;
    }
    if (capture_thread_start() != 0) {
        fw_log(FW_LOG_ERROR, "stdout/stderr capture: cannot start its "
                             "thread");
        goto restore;
    }
    capture_running = 1;
    close(out[1]);
    close(err[1]);
    close_all(saved, 2);
    return dump[1];

restore:
    (void)dup2(saved[0], STDOUT_FILENO);
    (void)dup2(saved[1], STDERR_FILENO);
    if (capture_mark_wr >= 0) {
        signal(dump_signal, SIG_IGN);
    }
    for (int src = 0; src < SRC_COUNT; src++) {
        capture_fd[src] = -1;
    }
    capture_mark_wr = capture_stop_wr = -1;
    free(capture_dump);
    capture_dump = NULL;
fail:
    close_all(out, 2);
    close_all(err, 2);
    close_all(stop, 2);
    close_all(dump, 2);
    close_all(mark, 2);
    close_all(saved, 2);
    return -1;
}

/* Whether bytes wait in the stdout or stderr pipe: one poll(2) for both,
 * as it runs after every request. */
static int
capture_pending(void)
{
    struct pollfd p[2] = {
        {.fd = capture_fd[SRC_STDOUT], .events = POLLIN},
        {.fd = capture_fd[SRC_STDERR], .events = POLLIN},
    };

    return poll(p, 2, 0) > 0;
}

void
fw_capture_sync(void)
{
    struct timespec deadline;

    /* the pipe first: the reader marks itself busy before it reads */
    if (!capture_running ||
        (!capture_pending() && !atomic_load(&capture_busy))) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += CAPTURE_SYNC_NS;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&capture_lock);
    while (capture_pending() || atomic_load(&capture_busy)) {
        if (pthread_cond_timedwait(&capture_cond, &capture_lock, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&capture_lock);
}

void
fw_capture_stop(void)
{
    if (!capture_running) {
        return;
    }
    fflush(stdout);
    fflush(stderr);
    (void)!write(capture_stop_wr, "", 1);
    pthread_join(capture_thread, NULL);
    capture_running = 0;
    /* what is written after this (exit handlers) goes to the log as it
     * is, rather than into pipes nobody reads */
    (void)dup2(fw_log_fd(), STDOUT_FILENO);
    (void)dup2(fw_log_fd(), STDERR_FILENO);
}
