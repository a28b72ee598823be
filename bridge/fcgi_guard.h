/*
 * fcgi_guard.h: looks at a new request's first records before libfcgi
 * reads them, so that what libfcgi 2.4.2 mishandles never reaches it
 * (../shared/LIBFCGI.md): management records, unknown roles, padded
 * BEGIN_REQUEST, PARAMS whose lengths overrun the data (CVE-2025-23016),
 * garbage.  It peeks (MSG_PEEK) and never blocks.
 */
#ifndef FW_FCGI_GUARD_H
#define FW_FCGI_GUARD_H

#include <stddef.h>

typedef enum {
    FW_GUARD_READY = 0, /* BEGIN_REQUEST and all PARAMS are there: serve */
    FW_GUARD_WAIT,      /* not all of it has arrived: wait for readability */
    FW_GUARD_CLOSE,     /* closed by the peer, or refused (reason logged):
                           close the connection */
    FW_GUARD_MANAGEMENT /* fw_fcgi_guard_scan only: a management record
                           (request id 0) comes first */
} fw_guard_result_e;

/* The largest BEGIN_REQUEST + PARAMS we accept (what nginx's
 * fastcgi_buffer_size allows is far less). */
#define FW_GUARD_MAX 65536

/*
 * Checks what has arrived on fd without consuming the request's records.
 * Answers FCGI_GET_VALUES itself (and consumes it), and answers a request
 * for an unknown role with END_REQUEST(FCGI_UNKNOWN_ROLE).  `kept` says the
 * connection served a request before (its closing is then no news).
 */
fw_guard_result_e fw_fcgi_guard_check(int fd, int kept);

/*
 * The same check on bytes in memory (for tests and for the function above).
 * READY: a whole BEGIN_REQUEST + PARAMS for a known role.  WAIT: a prefix
 * of one.  MANAGEMENT: the first record has request id 0; *consumed is its
 * length.  CLOSE: *why says what is wrong, or is NULL when the request asks
 * for an unknown role (*role, *request_id set: answer FCGI_UNKNOWN_ROLE).
 */
fw_guard_result_e fw_fcgi_guard_scan(const unsigned char *buf, size_t len,
                                     size_t *consumed, int *role,
                                     int *request_id, const char **why);

#endif /* FW_FCGI_GUARD_H */
