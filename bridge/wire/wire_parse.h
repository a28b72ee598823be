/*
 * wire_parse.h: the FastCGI record parser of one connection, as a pure
 * state machine: bytes in, events and answer bytes out.  It parses every
 * record from the first byte to the close (header, content, padding, every
 * type, every request id) and never touches a socket, so the unit tests,
 * the fuzzer and the differential test against libfcgi drive it on exact
 * bytes.  The record layout and constants are libfcgi's fastcgi.h.
 */
#ifndef FW_WIRE_PARSE_H
#define FW_WIRE_PARSE_H

#include <fastcgi.h>
#include <stddef.h>
#include <stdint.h>

#include "pyglue/gateway.h"

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
    unsigned char hdr[FCGI_HEADER_LEN];
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
 * The active request is over (answered with END_REQUEST): its later
 * records are ignored, the next BEGIN_REQUEST starts a new one, and the
 * drain count restarts.
 */
void fw_wire_request_end(fw_wire_t *w);

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

/* Fills an 8-byte record header. */
void fw_wire_header(unsigned char *h, unsigned type, unsigned id,
                    size_t content_len, size_t padding_len);

#endif /* FW_WIRE_PARSE_H */
