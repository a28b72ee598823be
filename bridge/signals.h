/*
 * signals.h: the master's signals.  Each handler writes the signal's number
 * as one byte on a self-pipe and does nothing else; the master polls the
 * pipe's read end with its other descriptors and reads the bytes back.
 */
#ifndef FW_SIGNALS_H
#define FW_SIGNALS_H

#include <signal.h>

/*
 * Makes the self-pipe and installs the handlers for SIGTERM, SIGINT,
 * SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 and SIGCHLD, then unblocks those
 * signals (a signal that arrived while they were blocked, say across the
 * exec of a reload, is delivered now).  0, or -1 after logging.
 */
int fw_signals_install(void);

/* The pipe's read end, to poll for POLLIN. */
int fw_signals_fd(void);

/* The next signal received, or 0 when none is waiting.  Never blocks. */
int fw_signals_take(void);

/* Blocks the master's signals (before fork and exec); *old gets the mask
 * to restore with fw_signals_restore. */
void fw_signals_block(sigset_t *old);
void fw_signals_restore(const sigset_t *old);

/*
 * In a child just forked with the master's signals blocked: the handlers
 * go back to their defaults, the pipe is closed, and the signals a worker
 * takes with sigtimedwait (SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
 * SIGUSR2) stay blocked; the rest (SIGCHLD) is unblocked.
 */
void fw_signals_in_child(void);

/* "SIGTERM" for SIGTERM, and so on for the signals above. */
const char *fw_signals_name(int sig);

#endif /* FW_SIGNALS_H */
