/*
 * conns.h: the FastCGI connections a worker process holds open, and their
 * place in the worker's epoll set.  A connection is either being served by
 * one thread, or parked: in the epoll set (one-shot) with a deadline, on a
 * list in the order it was parked.  Parked connections past their deadline
 * are closed by whichever thread sweeps; near the descriptor limit the
 * oldest idle ones are closed first.  Thread-safe (one mutex).
 */
#ifndef FW_CONNS_H
#define FW_CONNS_H

#include <stdint.h>

#include "bridge/wire/wire_conn.h"

/* epoll data that is not a connection */
#define FW_CONNS_EV_LISTEN UINT64_MAX
#define FW_CONNS_EV_WAKE (UINT64_MAX - 1)

/*
 * Sizes the table for this process's descriptor limit.  epfd: the epoll
 * set connections are parked in.  0, or -1 after logging.
 */
int fw_conns_setup(int epfd);

/* The connection limit answered to FCGI_GET_VALUES (FCGI_MAX_CONNS). */
int fw_conns_max(void);

/*
 * A connection for fd, just accepted: closes the oldest idle connection
 * first when the process is near its descriptor limit.  NULL (fd closed,
 * logged) when no room can be made.
 */
fw_conn_t *fw_conns_open(int fd);

/*
 * accept() failed for lack of descriptors: closes the oldest idle
 * connection.  1 if one was closed, 0 if none could be.
 */
int fw_conns_evict_idle(void);

/* Parks c (after FW_CONN_WAIT): in the epoll set, deadline from now. */
void fw_conns_park(fw_conn_t *c);

/* The connection an epoll event names, taken out of the parked list; NULL
 * when the event is stale (the connection was closed meanwhile). */
fw_conn_t *fw_conns_take(uint64_t data);

/* Closes c (not parked), logging `why` when not NULL. */
void fw_conns_close(fw_conn_t *c, const char *why);

/*
 * Closes the parked connections past their deadline.  Returns the ms until
 * the next deadline (at most 1000), for epoll_wait.  Cheap to call often:
 * only one thread sweeps at a time.
 */
int fw_conns_sweep(void);

/* Connections open (parked or being served). */
int fw_conns_count(void);

#endif /* FW_CONNS_H */
