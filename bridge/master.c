/*
 * master.c: the master process of a pool.  It sleeps in sigtimedwait and
 * acts on what arrives: a dead worker is logged and replaced (with a back-off
 * when every new worker dies at once), a stop is passed on to the workers.
 *
 * States (one transition each way, written here only):
 *   RUNNING  -> STOPPING  on SIGTERM/SIGINT: workers get SIGTERM and finish
 *                         their requests; the master waits for all of them.
 *   any      -> QUITTING  on SIGQUIT: workers get SIGQUIT and stop at once.
 *   STOPPING -> QUITTING  when shutdown_timeout passes: SIGKILL what is left.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/master.h"
#include "pyglue/pyglue.h"

/* A worker that dies sooner than this after its start counts as a crash. */
#define FW_CRASH_SECONDS 1.0
/* This many crashes in a row start the back-off. */
#define FW_CRASH_LOOP 5
#define FW_BACKOFF_MAX 30.0

typedef enum {
    MASTER_RUNNING = 0, /* serving; dead workers are replaced */
    MASTER_STOPPING,    /* graceful stop: waiting for workers to finish */
    MASTER_QUITTING     /* immediate stop: workers killed */
} master_state_e;

typedef struct {
    pid_t pid;         /* 0: empty slot */
    double started_at; /* monotonic seconds */
} master_slot_t;

static double
master_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
master_signal_all(master_slot_t *slots, int n, int sig)
{
    for (int i = 0; i < n; i++) {
        if (slots[i].pid > 0) {
            kill(slots[i].pid, sig);
        }
    }
}

static int
master_alive(const master_slot_t *slots, int n)
{
    int alive = 0;

    for (int i = 0; i < n; i++) {
        alive += slots[i].pid > 0;
    }
    return alive;
}

/* In the child: become worker `index`; never returns. */
static void
master_become_worker(const fw_worker_config_t *wc, int index)
{
    char role[32];

    snprintf(role, sizeof(role), "worker %d", index + 1);
    fw_log_set_role(role);
    exit(fw_worker_run(wc));
}

/* Forks worker `index` into its slot.  0, or -1 after logging. */
static int
master_spawn(const fw_worker_config_t *wc, master_slot_t *slot, int index)
{
    pid_t pid = fw_pyglue_fork();

    if (pid < 0) {
        fw_log(FW_LOG_ERROR, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        master_become_worker(wc, index);
    }
    slot->pid = pid;
    slot->started_at = master_now();
    return 0;
}

/* Logs how a worker ended; returns 1 when it counts as a crash. */
static int
master_log_exit(int index, pid_t pid, int status, double lived,
                master_state_e state)
{
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 0 && state != MASTER_RUNNING) {
            return 0;
        }
        fw_log(WEXITSTATUS(status) == 0 ? FW_LOG_INFO : FW_LOG_ERROR,
               "worker %d (pid %ld) exited with status %d after %.1f s",
               index + 1, (long)pid, WEXITSTATUS(status), lived);
    } else if (WIFSIGNALED(status)) {
        fw_log(FW_LOG_ERROR,
               "worker %d (pid %ld) was killed by signal %d (%s) after "
               "%.1f s",
               index + 1, (long)pid, WTERMSIG(status),
               strsignal(WTERMSIG(status)), lived);
    }
    return lived < FW_CRASH_SECONDS;
}

int
fw_master_run(const fw_worker_config_t *wc, int processes)
{
    master_slot_t *slots;
    master_state_e state = MASTER_RUNNING;
    sigset_t waited;
    double deadline = 0, respawn_at = 0;
    int crashes = 0;

    slots = calloc((size_t)processes, sizeof(*slots));
    if (slots == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return 1;
    }
    fw_log_set_role("master");

    sigemptyset(&waited);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGQUIT);
    sigaddset(&waited, SIGHUP);
    sigaddset(&waited, SIGUSR1);
    sigaddset(&waited, SIGUSR2);
    sigaddset(&waited, SIGCHLD);
    sigprocmask(SIG_BLOCK, &waited, NULL);

    for (;;) {
        struct timespec tick = {0, 200 * 1000000L};
        int sig, status;
        pid_t pid;
        double now;

        /* Replace dead workers, unless stopping or backing off. */
        now = master_now();
        if (state == MASTER_RUNNING && now >= respawn_at) {
            for (int i = 0; i < processes; i++) {
                if (slots[i].pid == 0 && master_spawn(wc, &slots[i], i) < 0) {
                    break;
                }
            }
        }

        sig = sigtimedwait(&waited, NULL, &tick);

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < processes; i++) {
                if (slots[i].pid != pid) {
                    continue;
                }
                slots[i].pid = 0;
                if (master_log_exit(i, pid, status,
                                    master_now() - slots[i].started_at,
                                    state)) {
                    crashes++;
                } else {
                    crashes = 0;
                }
            }
        }
        if (state == MASTER_RUNNING && crashes >= FW_CRASH_LOOP) {
            double wait = 1.0 * (1 << (crashes - FW_CRASH_LOOP < 5
                                           ? crashes - FW_CRASH_LOOP
                                           : 5));

            if (wait > FW_BACKOFF_MAX) {
                wait = FW_BACKOFF_MAX;
            }
            if (respawn_at <= master_now()) {
                fw_log(FW_LOG_ERROR,
                       "crash loop: %d workers in a row died within %.0f s "
                       "of starting; next try in %.0f s",
                       crashes, FW_CRASH_SECONDS, wait);
                respawn_at = master_now() + wait;
            }
        }

        switch (sig) {
        case SIGTERM:
        case SIGINT:
            if (state == MASTER_RUNNING) {
                fw_log(FW_LOG_INFO, "%s: graceful stop of %d worker(s)",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT",
                       master_alive(slots, processes));
                state = MASTER_STOPPING;
                deadline = master_now() + wc->shutdown_timeout + 1;
                master_signal_all(slots, processes, SIGTERM);
            }
            break;
        case SIGQUIT:
            fw_log(FW_LOG_INFO, "SIGQUIT: immediate stop");
            state = MASTER_QUITTING;
            deadline = master_now() + 2;
            master_signal_all(slots, processes, SIGQUIT);
            break;
        case SIGUSR1:
            if (fw_log_open(wc->logto) < 0) {
                fw_log(FW_LOG_ERROR, "SIGUSR1: cannot reopen %s: %s",
                       wc->logto, strerror(errno));
            }
            master_signal_all(slots, processes, SIGUSR1);
            break;
        default:
            break;
        }

        if (state != MASTER_RUNNING) {
            if (master_alive(slots, processes) == 0) {
                break;
            }
            if (master_now() > deadline) {
                fw_log(FW_LOG_WARN, "killing %d worker(s) still running",
                       master_alive(slots, processes));
                master_signal_all(slots, processes, SIGKILL);
                deadline = master_now() + 5;
            }
        }
    }

    free(slots);
    if (state == MASTER_STOPPING) {
        fw_pyglue_stop();
    }
    return 0;
}
