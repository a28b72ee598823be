/*
 * harakiri.h: the master's watch over running requests.  A request running
 * longer than `slowlog` seconds has its worker's Python stacks logged once;
 * one running longer than `harakiri` seconds has them logged, then its
 * worker is killed (SIGKILL) and the master replaces it.  Reads the
 * scoreboard only; sends signals; never waits.
 */
#ifndef FW_HARAKIRI_H
#define FW_HARAKIRI_H

#include <signal.h>

/* Makes a worker write every thread's Python stack to the log.  No thread
 * of a worker blocks it. */
#define FW_HARAKIRI_DUMP_SIGNAL (SIGRTMIN + 2)

/* Time a worker has to write its stacks before the SIGKILL, in µs. */
#define FW_HARAKIRI_DUMP_WAIT_US 200000u

/* The limits in seconds (0: off).  Before the fork. */
void fw_harakiri_configure(int harakiri, int slowlog);

/* Whether either limit is on (workers then register the dump signal). */
int fw_harakiri_enabled(void);

/*
 * In the master, about every 200 ms: looks at every running request and
 * acts on those past a limit.  A worker being killed with requests
 * running on other threads first stops accepting (SIGTERM) and is killed
 * once those finish, or after another `harakiri` seconds.
 */
void fw_harakiri_tick(void);

#endif /* FW_HARAKIRI_H */
