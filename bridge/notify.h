/*
 * notify.h: systemd's readiness protocol (sd_notify(3), Type=notify),
 * spoken without libsystemd: one datagram per state change to the unix
 * socket named by $NOTIFY_SOCKET.  Without that variable every call is a
 * no-op, and so is every call from a process other than the one that ran
 * fw_notify_init (a forked worker): systemd listens to the main process.
 */
#ifndef FW_NOTIFY_H
#define FW_NOTIFY_H

/*
 * Reads NOTIFY_SOCKET ("/path", or "@name" in the abstract namespace) and
 * takes it out of the environment, so that the application's children do
 * not inherit it (a reload's exec passes the environment the process
 * started with: the new image reads it again).  Once, before Python
 * starts.  An address that cannot be used is logged (a warning) and
 * notification stays off.
 */
void fw_notify_init(void);

/*
 * READY=1: the workers accept.  Sent when the state was not READY already
 * (start-up, or the end of a reload), so it may be called on every turn
 * of a loop.  0, or -1 when the datagram could not be sent (the first
 * failure is logged).
 */
int fw_notify_ready(void);

/* RELOADING=1 (with MONOTONIC_USEC): a reload (SIGHUP) starts. */
int fw_notify_reloading(void);

/* STOPPING=1: a stop starts; later calls send nothing more. */
int fw_notify_stopping(void);

/*
 * STATUS=<text>: one line for `systemctl status`.  Sent only when the text
 * differs from the last one sent.
 */
int fw_notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The master's tick: READY=1 (fw_notify_ready) when `ready` says the pool
 * serves, and at most once a second STATUS= with its state, "3 workers,
 * 1 busy, 1520 requests" (busy and requests from the scoreboard when there
 * is one).  workers: how many run now.
 */
void fw_notify_pool(int ready, int workers);

#endif /* FW_NOTIFY_H */
