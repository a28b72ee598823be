/*
 * wire_conn.h: one FastCGI connection, the only code that reads or writes
 * a FastCGI socket.  Between requests it is driven by the worker's epoll
 * loop without ever blocking (fw_conn_advance); while the application runs
 * it is pyglue's request (fw_request_t), reading the body and writing the
 * response with the socket-timeout as the longest wait.  Records are
 * parsed by wire_parse.c; the worker owns the descriptor's place in the
 * epoll set and its deadline (bridge/conns.c).
 */
#ifndef FW_WIRE_CONN_H
#define FW_WIRE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/wire/wire_parse.h"
#include "pyglue/gateway.h"

/* Read buffer of a connection. */
#define FW_CONN_IN_SIZE 16384

/* Bytes a peer may send that nobody reads (the rest of a body after the
 * response, records of ended requests) before the connection is closed
 * instead of drained.  Draining costs no thread (it happens in the epoll
 * loop) and spares the web server a reset while it still sends: a large
 * upload the app answered without reading ends cleanly. */
#define FW_CONN_DRAIN_MAX (64u << 20)

/* How long a connection that is not kept may take to close after its
 * answer while it still sends (the lingering close), ms. */
#define FW_CONN_LINGER_MS 2000

typedef struct {
    int socket_timeout;            /* seconds: longest wait for a peer */
    int keepalive_timeout;         /* seconds a kept connection may idle */
    size_t buffer_size;            /* PARAMS bytes a request may send */
    unsigned long long limit_post; /* body bytes; 0: unlimited */
    size_t post_buffering;         /* length-less body kept in memory */
    int max_conns;                 /* answered to FCGI_GET_VALUES */
    int max_reqs;
    int force_authorizer; /* role = authorizer */
} fw_conn_conf_t;

/* What the worker does with a connection next. */
typedef enum {
    FW_CONN_SERVE = 0, /* a request is ready in c->req: serve it */
    FW_CONN_WAIT,      /* park it until readable (or writable:
                          fw_conn_wants_write), at most fw_conn_wait_ms */
    FW_CONN_CLOSE      /* close it (fw_conn_close) */
} fw_conn_next_e;

typedef struct fw_conn_s fw_conn_t;

struct fw_conn_s {
    int fd;

    /* the worker's bookkeeping (bridge/conns.c) */
    uint32_t gen;        /* changes each time the slot gets a new fd */
    int parked;          /* waiting in the epoll set */
    int in_epoll;        /* registered (armed or not) */
    int64_t deadline_ms; /* closed when still parked at this time */
    int64_t parked_ms;   /* when it was parked (oldest idle go first) */
    fw_conn_t *prev, *next;

    fw_wire_t wire;
    unsigned char in[FW_CONN_IN_SIZE];
    size_t in_pos, in_len; /* unparsed bytes: in[in_pos..in_len) */

    fw_request_t req;
    unsigned served;       /* requests answered on this connection */
    int spooling;          /* reading a length-less body before the app */
    int closing;           /* answered and not kept: close once sent */
    int lingering;         /* write side shut: discarding until EOF */
    int64_t linger_until;  /* ms */
    const char *close_why; /* logged when closed for a reason */

    /* the request being served */
    const unsigned char *chunk; /* STDIN bytes parsed, not yet read */
    size_t chunk_len;
    int body_ended;       /* the empty STDIN record came */
    int peer_aborted;     /* ABORT_REQUEST came */
    int discarding;       /* the app reads no more body */
    int broken;           /* the socket failed or timed out */
    uint64_t discarded;   /* body bytes thrown away */
    unsigned char *spool; /* a length-less body: in memory... */
    size_t spool_len, spool_cap;
    int spool_fd; /* ...then in an unlinked temp file (-1) */
    uint64_t spool_size, spool_pos;
    fw_param_t *params; /* the params with CONTENT_LENGTH set */
    size_t params_cap;
    char content_length[24];

    /* the response as written, for the access log */
    int resp_status;
    int resp_started;
    int resp_head_match;
    uint64_t resp_body_bytes;
};

/* Once per process, before any connection: the limits. */
void fw_conn_setup(const fw_conn_conf_t *conf);

/* Makes c a fresh connection on fd (accepted, non-blocking). */
void fw_conn_open(fw_conn_t *c, int fd);

/*
 * Moves the connection on without blocking: sends queued answers, reads
 * what has arrived, parses it, answers what the wire itself answers
 * (GET_VALUES, refused ids, 413, 431), spools a length-less body.  Returns
 * what to do next.
 */
fw_conn_next_e fw_conn_advance(fw_conn_t *c, int64_t now_ms);

/*
 * After pyglue handled c->req: ends the request (END_REQUEST, unless the
 * response was cut off by the application: then the connection is
 * dropped) and moves on like fw_conn_advance: a pipelined request may be
 * ready at once.  May block up to the socket-timeout sending.
 */
fw_conn_next_e fw_conn_finish(fw_conn_t *c, int cut_off, int64_t now_ms);

/* While parked: wants EPOLLOUT too (answers are queued). */
int fw_conn_wants_write(const fw_conn_t *c);

/* While parked: the time it may wait, from now, ms. */
int64_t fw_conn_wait_ms(const fw_conn_t *c);

/* While parked: kept open between requests with nothing under way. */
int fw_conn_is_idle(const fw_conn_t *c);

/* Closes the descriptor and releases per-connection buffers that are not
 * worth keeping; c can be fw_conn_open'ed again. */
void fw_conn_close(fw_conn_t *c);

/* The status code of the response (200 with no Status line), 0 if none. */
int fw_conn_status(const fw_conn_t *c);

/* Monotonic milliseconds. */
int64_t fw_conn_now_ms(void);

#endif /* FW_WIRE_CONN_H */
