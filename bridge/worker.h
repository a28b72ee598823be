/*
 * worker.h: a serving process: N threads that each accept a connection,
 * read the FastCGI request, hand it to pyglue and end it; and the process's
 * main thread, which only waits for signals and stops the threads.
 */
#ifndef FW_WORKER_H
#define FW_WORKER_H

typedef struct {
    int listen_fd;
    int threads;          /* serving threads, >= 1 */
    int shutdown_timeout; /* seconds a graceful stop waits for requests */
    const char *logto;    /* reopened on SIGUSR1 */
} fw_worker_config_t;

/*
 * Serves until SIGTERM or SIGINT (graceful: stop accepting, finish what
 * runs, at most shutdown_timeout seconds) or SIGQUIT (at once).  Python
 * must be started; it is finalised here after a graceful stop.  Returns
 * the process exit status.  Call from the main thread.
 */
int fw_worker_run(const fw_worker_config_t *wc);

#endif /* FW_WORKER_H */
