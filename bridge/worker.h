/*
 * worker.h: a serving process: N threads that each accept a connection,
 * read the FastCGI request, hand it to pyglue and end it; and the process's
 * main thread, which only waits for signals and stops the threads.
 */
#ifndef FW_WORKER_H
#define FW_WORKER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int listen_fd;
    int threads;            /* serving threads, >= 1 */
    int shutdown_timeout;   /* seconds a graceful stop waits for requests */
    const char *logto;      /* reopened on SIGUSR1 */
    int slot;               /* scoreboard slot (set by the master's fork) */
    pid_t master;           /* poked (SIGUSR2) when this worker leaves */
    int max_requests;       /* recycle after this many requests; 0: never */
    int max_requests_delta; /* + a random 0..delta, drawn per process */
    int reload_on_rss;      /* recycle above this RSS, MiB; 0: never */
    /* the FastCGI wire (bridge/wire/wire_conn.h) */
    int socket_timeout;            /* seconds for a peer's next bytes */
    int keepalive_timeout;         /* seconds a kept connection may idle */
    size_t buffer_size;            /* PARAMS bytes a request may send */
    unsigned long long limit_post; /* body bytes; 0: unlimited */
    size_t post_buffering;         /* length-less body kept in memory */
    int max_reqs;                  /* processes x threads: GET_VALUES */
    int force_authorizer;          /* role = authorizer */
} fw_worker_config_t;

/*
 * Serves until SIGTERM or SIGINT (graceful: stop accepting, finish what
 * runs, at most shutdown_timeout seconds) or SIGQUIT (at once), or until
 * it recycles itself (max-requests, reload-on-rss: a graceful stop after
 * the request that crossed the limit).  Python must be started; it is
 * finalised here after a graceful stop.  Returns the process exit status.
 * Call from the main thread.
 */
int fw_worker_run(const fw_worker_config_t *wc);

#endif /* FW_WORKER_H */
