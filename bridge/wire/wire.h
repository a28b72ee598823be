/*
 * wire.h: the FastCGI wire, the room that alone reads and writes FastCGI
 * sockets; this header is its whole API.  Two parts: records (wire_parse.c
 * reads them, a pure state machine over bytes that the unit tests, the
 * fuzzer and the differential test drive; wire_out.c packs the ones we
 * write) and one connection (wire_conn.c drives it without blocking from
 * the worker's epoll loop between requests; wire_request.c presents it to
 * pyglue as its request while the application runs; wire_spool.c keeps a
 * length-less body).  Record constants are libfcgi's fastcgi.h; record
 * headers are packed by fw_wire_header, nowhere else.  The room's shared
 * internals are in wire_int.h, which nothing outside bridge/wire/ includes;
 * it alone includes libfcgi's fastcgi.h, so that no other room compiles
 * against a libfcgi header.
 */
#ifndef FW_WIRE_H
#define FW_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pyglue/gateway.h"

/* A record header's length (FCGI_HEADER_LEN; wire_int.h checks they agree). */
#define FW_WIRE_HEADER_LEN 8

/* -------------------------------------------------------------------- */
/*
 * wire_parse.c: the FastCGI record parser of one connection, as a pure
 * state machine: bytes in, events and answer bytes out.  It parses every
 * record from the first byte to the close (header, content, padding, every
 * type, every request id) and never touches a socket, so the unit tests,
 * the fuzzer and the differential test against libfcgi drive it on exact
 * bytes.  The record layout and constants are libfcgi's fastcgi.h.
 */

/* Answer bytes the parser queues on its own (GET_VALUES_RESULT,
 * UNKNOWN_TYPE, END_REQUEST for refused ids) while the peer reads none. */
#define FW_WIRE_ANSWERS_MAX 65536

typedef struct {
    size_t params_max; /* buffer-size: PARAMS bytes one request may send */
    int max_conns;     /* answered to FCGI_GET_VALUES */
    int max_reqs;
} fw_wire_limits_t;

typedef enum {
    FW_WIRE_MORE = 0,  /* every byte given was used: feed more */
    FW_WIRE_REQUEST,   /* the active request's PARAMS are complete */
    FW_WIRE_STDIN,     /* body bytes of the active request (data, len) */
    FW_WIRE_STDIN_END, /* the empty STDIN record of the active request */
    FW_WIRE_ABORT,     /* ABORT_REQUEST for the active request */
    FW_WIRE_ERROR      /* not FastCGI any more: close (w->error says why) */
} fw_wire_event_e;

/* Where the active request stands. */
typedef enum {
    FW_WIRE_IDLE = 0, /* no active request: waiting for BEGIN_REQUEST */
    FW_WIRE_PARAMS,   /* BEGIN_REQUEST seen, PARAMS arriving */
    FW_WIRE_BODY,     /* PARAMS complete, STDIN arriving */
    FW_WIRE_BODY_END  /* the empty STDIN record came */
} fw_wire_phase_e;

typedef struct {
    fw_wire_limits_t lim;

    /* the record being parsed */
    unsigned char hdr[FW_WIRE_HEADER_LEN];
    size_t hdr_have;        /* 0..8 bytes of its header */
    unsigned type;          /* FCGI_* record type */
    unsigned id;            /* request id */
    size_t content_left;    /* content bytes still to come */
    size_t padding_left;    /* padding bytes still to come */
    unsigned char begin[8]; /* a BEGIN_REQUEST record's content */
    unsigned char *rec;     /* a management record's content (<= 65535) */
    size_t rec_have;        /* content bytes of either seen so far */

    /* the active request */
    fw_wire_phase_e phase;
    unsigned active_id;   /* 0: none */
    int role;             /* FCGI_RESPONDER or FCGI_AUTHORIZER */
    int keep_conn;        /* FCGI_KEEP_CONN was set */
    int params_too_large; /* PARAMS passed lim.params_max: none kept */
    size_t params_bytes;  /* PARAMS content bytes seen */
    unsigned char *raw;   /* the PARAMS stream as sent */
    size_t raw_len, raw_cap;
    char *store; /* names and values, each NUL-terminated */
    size_t store_cap;
    fw_param_t *params; /* into store; valid until the next request */
    size_t nparams, params_cap;

    /* content bytes of records ignored (inactive ids, DATA, STDIN after
     * its end...) since the last fw_wire_request_end: the drain count */
    uint64_t ignored;

    /* answer bytes to send: the parser's own answers, and whatever the
     * connection layer appends (fw_wire_out_*) */
    unsigned char *out;
    size_t out_len, out_cap;

    /* a BEGIN_REQUEST header that came after the active request's body
     * (a pipelined request): held, unparsed, until fw_wire_request_end */
    int held;

    const char *error; /* set with FW_WIRE_ERROR */
} fw_wire_t;

/* A parser with no request active.  Allocates nothing yet. */
void fw_wire_init(fw_wire_t *w, const fw_wire_limits_t *lim);

/* Releases every buffer; w can be fw_wire_init'ed again. */
void fw_wire_free(fw_wire_t *w);

/* Forgets the stream (a new connection follows), keeping the buffers
 * that are small enough to be worth keeping. */
void fw_wire_reset(fw_wire_t *w);

/*
 * Parses buf[0..len) up to the next event.  *used is the count of bytes
 * consumed (all of them with FW_WIRE_MORE); call again with the rest.
 * FW_WIRE_STDIN points *data into buf (*data_len bytes).  After
 * FW_WIRE_ERROR the parser is stuck: close the connection.
 */
fw_wire_event_e fw_wire_parse(fw_wire_t *w, const unsigned char *buf,
                              size_t len, size_t *used,
                              const unsigned char **data, size_t *data_len);

/*
 * A pipelined request is waiting behind the active one: nothing more is
 * parsed (fw_wire_parse uses no byte) until fw_wire_request_end.  A reader
 * stops reading the socket meanwhile.
 */
int fw_wire_paused(const fw_wire_t *w);

/*
 * The parser is inside STDIN content of the active request: the count of
 * content bytes the record still holds (0 otherwise).  A reader may take
 * up to that many straight from the socket into its own buffer and then
 * call fw_wire_stdin_took: no copy through a read buffer.
 */
size_t fw_wire_stdin_left(const fw_wire_t *w);
void fw_wire_stdin_took(fw_wire_t *w, size_t n);

/*
 * Inside STDIN content: the bytes that follow the record's content up to
 * the end of the next record's header (the padding, then the header).  A
 * reader that takes the rest of the content straight from the socket may
 * take these into the read buffer with the same call.
 */
size_t fw_wire_stdin_tail(const fw_wire_t *w);

/*
 * The active request is over (answered with END_REQUEST): its later
 * records are ignored, the next BEGIN_REQUEST starts a new one, and the
 * drain count restarts.
 */
void fw_wire_request_end(fw_wire_t *w);

/* -------------------------------------------------------------------- */
/*
 * wire_out.c: the records we write.  Record headers are packed here and
 * nowhere else; the answer buffer (w->out) collects what the parser
 * answers on its own and what the connection appends, until it is sent.
 */

/* Largest record content we write: a multiple of 8, so never padded. */
#define FW_WIRE_RECORD_MAX 65528

/* Fills an 8-byte record header. */
void fw_wire_header(unsigned char *h, unsigned type, unsigned id,
                    size_t content_len, size_t padding_len);

/* Appends len bytes to the answer buffer.  0, or -1 when it would grow
 * past `limit` bytes (nothing appended). */
int fw_wire_out_put(fw_wire_t *w, const void *buf, size_t len, size_t limit);

/* Appends one record (header, content, no padding).  0 or -1, as above. */
int fw_wire_out_record(fw_wire_t *w, unsigned type, unsigned id,
                       const void *content, size_t len, size_t limit);

/* Appends END_REQUEST for id with the given statuses.  0 or -1. */
int fw_wire_out_end_request(fw_wire_t *w, unsigned id, uint32_t app_status,
                            unsigned protocol_status, size_t limit);

/* Drops the first n answer bytes (they were sent). */
void fw_wire_out_sent(fw_wire_t *w, size_t n);

/* -------------------------------------------------------------------- */
/*
 * One FastCGI connection, the only code that reads or writes a FastCGI
 * socket, in three files:
 *  - wire_conn.c, between requests: driven by the worker's epoll loop and
 *    never blocking (fw_conn_advance); it answers what the wire answers by
 *    itself (management records, refused ids, 413, 431) and closes
 *    with a lingering close;
 *  - wire_request.c, while the application runs: pyglue's request
 *    (fw_request_t), reading the body and writing the response with the
 *    socket-timeout as the longest wait;
 *  - wire_spool.c: a body sent without CONTENT_LENGTH, read whole before
 *    the application runs.
 * The worker owns the descriptor's place in the epoll set and its
 * deadline (bridge/serve/conns.c).
 */

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
    size_t sndbuf;                 /* SO_SNDBUF once full; 0: never */
    size_t buffer_size;            /* PARAMS bytes a request may send */
    unsigned long long limit_post; /* body bytes; 0: unlimited */
    size_t post_buffering;         /* length-less body kept in memory */
    int max_conns;                 /* answered to FCGI_GET_VALUES */
    int max_reqs;
    int force_authorizer; /* role = authorizer */
    int disable_sendfile; /* no sendfile op: file_wrapper is iterated */
} fw_conn_conf_t;

/* What the worker does with a connection next. */
typedef enum {
    FW_CONN_SERVE = 0, /* a request is ready in c->req: serve it */
    FW_CONN_WAIT,      /* park it until readable (or writable:
                          fw_conn_wants_write), at most fw_conn_wait_ms */
    FW_CONN_CLOSE      /* close it (fw_conn_close) */
} fw_conn_next_e;

/* The body of the request being served (wire_request.c); all zero at the
 * start of each request. */
typedef struct {
    const unsigned char *chunk; /* STDIN bytes parsed, not yet read */
    size_t chunk_len;
    int ended;          /* the empty STDIN record came */
    int peer_aborted;   /* ABORT_REQUEST came */
    int discarding;     /* the app reads no more body */
    int spooling;       /* reading a length-less body before the app */
    uint64_t discarded; /* body bytes thrown away */
    int64_t looked_ns;  /* a streamed response last read what the web
                           server sent (CLOCK_MONOTONIC; 0: not yet) */
} fw_conn_body_t;

/* A length-less body (wire_spool.c): in memory up to post-buffering, then
 * in an unlinked temp file; read back by the application. */
typedef struct {
    unsigned char *mem; /* in memory... */
    size_t mem_len, mem_cap;
    int fd;             /* ...then in the temp file (-1: none) */
    uint64_t size, pos; /* bytes spooled, bytes read back */
    fw_param_t *params; /* the request's params with CONTENT_LENGTH set */
    size_t params_cap;
    char content_length[24];
} fw_spool_t;

typedef struct fw_conn_s fw_conn_t;

struct fw_conn_s {
    int fd;

    /* the worker's bookkeeping (bridge/serve/conns.c) */
    uint32_t gen;        /* changes each time the slot gets a new fd */
    int parked;          /* waiting in the epoll set */
    int in_epoll;        /* registered (armed or not) */
    int64_t deadline_ms; /* closed when still parked at this time */
    int64_t parked_ms;   /* when it was parked (oldest idle go first) */
    fw_conn_t *prev, *next;

    fw_wire_t wire;
    size_t in_pos, in_len; /* unparsed bytes: in[in_pos..in_len) */

    unsigned served;       /* requests answered on this connection */
    int closing;           /* answered and not kept: close once sent */
    int lingering;         /* write side shut: discarding until EOF */
    int64_t linger_until;  /* ms */
    int broken;            /* the socket failed or timed out */
    int sndbuf_raised;     /* SO_SNDBUF set to fw_conn_conf_t.sndbuf */
    const char *close_why; /* logged when closed for a reason */

    /* the request being served */
    fw_request_t req;
    fw_conn_body_t body;
    fw_spool_t spool;

    /* last: fw_conns_open zeroes the fields above and leaves this as
     * malloc gave it, so the pages a connection never reads into are
     * never touched (7 KiB a kept connection instead of 11) */
    unsigned char in[FW_CONN_IN_SIZE];
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

/* Monotonic milliseconds. */
int64_t fw_conn_now_ms(void);

#endif /* FW_WIRE_H */
