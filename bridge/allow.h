/*
 * allow.h: who may connect.  allowed-clients (php-fpm's
 * listen.allowed_clients) and libfcgi's FCGI_WEB_SERVER_ADDRS become one
 * list of networks at start-up; each accepted connection's peer is checked
 * against it.  It only answers: closing a refused connection is the
 * caller's.
 */
#ifndef FW_ALLOW_H
#define FW_ALLOW_H

#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"

/*
 * Builds the list from conf->allowed_clients and, when it is set and not
 * empty, the environment's FCGI_WEB_SERVER_ADDRS (comma-separated
 * addresses or networks, as allowed-clients): a peer in either is
 * allowed.  Neither given: every peer is allowed.  Call once in the master
 * before the workers are forked (after env = lines are applied); a second
 * call replaces the list.  0, or -1 after logging (a bad
 * FCGI_WEB_SERVER_ADDRS entry, out of memory).
 */
int fw_allow_setup(const fw_conf_t *conf);

/*
 * Whether the peer that accept() returned in sa (len bytes, as accept()
 * filled them) may talk to us: 1 allowed, 0 refused.  Unix sockets are
 * always allowed; an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is matched
 * against the IPv4 networks; an empty list allows everything.  A refusal
 * is logged, at most one line a second per process, naming the address
 * and counting the refusals not logged since the last line.  Allocates
 * nothing and never blocks; safe from any thread once set up.
 */
int fw_allow_check(const struct sockaddr *sa, socklen_t len);

/* Releases the list (everything is allowed again). */
void fw_allow_free(void);

/* For tests: the monotonic clock in ms that the refusal lines are
 * rate-limited by; NULL restores CLOCK_MONOTONIC. */
void fw_allow_set_clock(uint64_t (*now_ms)(void));

#endif /* FW_ALLOW_H */
