/*
 * recycle.c: when a worker leaves by itself, after the request that
 * crossed max-requests (plus a random 0..delta drawn per process, so that
 * workers started together do not all leave together) or reload-on-rss
 * (its RSS read from /proc/self/statm, kept open).  It decides, says why
 * and raises SIGUSR2; stopping is loop.c's and the main thread's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/serve/serve_int.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"

/* The config, this process's request limit (max-requests plus its
 * jitter), /proc/self/statm kept open for reload-on-rss, and why the
 * worker leaves (set once, by the thread that decides it). */
static const fw_worker_config_t *recycle_conf;
static uint64_t recycle_request_limit;
static int recycle_statm_fd = -1;
static long recycle_page_size = 4096;
static atomic_int recycle_decided;
static char recycle_why[128];

void
fw_recycle_setup(const fw_worker_config_t *wc)
{
    long page = sysconf(_SC_PAGESIZE);

    recycle_conf = wc;
    recycle_page_size = page > 0 ? page : 4096;
    recycle_request_limit = 0;
    if (wc->max_requests > 0) {
        unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
        int jitter = wc->max_requests_delta > 0
                         ? rand_r(&seed) % (wc->max_requests_delta + 1)
                         : 0;

        recycle_request_limit = (uint64_t)wc->max_requests + (uint64_t)jitter;
    }
    if (wc->reload_on_rss > 0) {
        recycle_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (recycle_statm_fd < 0) {
            fw_log(FW_LOG_WARN, "reload-on-rss: /proc/self/statm: %s",
                   strerror(errno));
        }
    }
}

/* This process's resident set in MiB, from /proc/self/statm; -1 if
 * unreadable. */
static long
recycle_rss_mib(void)
{
    char buf[128];
    unsigned long size = 0, resident = 0;
    ssize_t n = pread(recycle_statm_fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) {
        return -1;
    }
    return (long)(resident * (unsigned long)recycle_page_size >> 20);
}

int
fw_recycle_due(void)
{
    fw_score_worker_t *w;
    uint64_t served;
    long rss = -1;

    if (recycle_conf == NULL || recycle_conf->slot < 0) {
        return 0;
    }
    w = fw_scoreboard_worker(recycle_conf->slot);
    served = atomic_load(&w->requests);
    if (recycle_request_limit > 0 && served >= recycle_request_limit) {
        if (atomic_exchange(&recycle_decided, 1) == 0) {
            snprintf(recycle_why, sizeof(recycle_why),
                     "max-requests: %llu requests served",
                     (unsigned long long)served);
            return 1;
        }
        return 0;
    }
    if (recycle_statm_fd >= 0 &&
        (rss = recycle_rss_mib()) >= recycle_conf->reload_on_rss) {
        if (atomic_exchange(&recycle_decided, 1) == 0) {
            snprintf(recycle_why, sizeof(recycle_why),
                     "reload-on-rss: RSS %ld MiB >= %d MiB", rss,
                     recycle_conf->reload_on_rss);
            return 1;
        }
    }
    return 0;
}

void
fw_recycle_announce(void)
{
    kill(getpid(), SIGUSR2);
    if (recycle_conf->master > 0 && getppid() == recycle_conf->master) {
        kill(recycle_conf->master, SIGUSR2);
    }
}

int
fw_recycle_started(void)
{
    return atomic_load(&recycle_decided);
}

const char *
fw_recycle_reason(void)
{
    return recycle_why;
}
