/*
 * mem_gateway.h: an in-memory fw_request_t for the unit tests: params from
 * a list (copied into length-delimited pairs), a body from a buffer (handed
 * out in chunks of a chosen size), the response and the log captured in
 * growing buffers.  No socket anywhere.
 */
#ifndef FW_MEM_GATEWAY_H
#define FW_MEM_GATEWAY_H

#include <stddef.h>
#include "pyglue/gateway.h"

#define MEM_PARAMS_MAX 128

typedef struct {
    fw_request_t req;     /* input_terminated 1 unless a test sets it */
    fw_gateway_ops_t ops; /* req.ops points here (no write_nowait
                             unless mem_request_nowait) */
    fw_param_t params[MEM_PARAMS_MAX]; /* copies, req.params points here */
    char *param_mem[MEM_PARAMS_MAX];   /* malloc'd: name NUL value NUL */
    const char *body;                  /* request body (not copied) */
    size_t body_len;
    size_t body_pos;
    size_t read_chunk; /* largest piece one read() returns; 0 = any */
    int read_calls;
    int fail_write; /* write() fails when set */
    char *out;      /* everything written, NUL-terminated */
    size_t out_len;
    int write_calls; /* also those made through write_nowait */
    int flush_calls;
    int nowait_calls;
    int nowait_full;             /* write_nowait says the socket is full */
    size_t out_len_at_flush[64]; /* out_len at each flush, first 64 */
} mem_request_t;

/*
 * Makes a request from NULL-terminated "NAME=VALUE" strings (split at the
 * first '='; a string without one is a name with an empty value) and a
 * body.  The role is FW_ROLE_RESPONDER and req.input_terminated is 1: a
 * test sets either in m->req after this call.
 */
void mem_request_init(mem_request_t *m, const char *const *params,
                      const char *body, size_t body_len);

/*
 * The same from explicit length-delimited pairs (a NUL or a '=' inside a
 * name or value is kept), as a FastCGI server may send them.  The bytes are
 * copied, each followed by an uncounted NUL as gateway.h promises.
 */
void mem_request_init_pairs(mem_request_t *m, const fw_param_t *params,
                            size_t nparams, const char *body, size_t body_len);
void mem_request_free(mem_request_t *m);

/* Gives m a write_nowait (gateway.h) for writes up to max bytes: write()
 * then flush() when asked, or 1 when m->nowait_full is set. */
void mem_request_nowait(mem_request_t *m, size_t max);

/* The log sink the tests install: captures everything (and echoes it to
 * stderr when FW_TEST_VERBOSE is set). */
void mem_log_sink(fw_log_level_e level, const char *msg, size_t len);
const char *mem_log_text(void); /* all messages since the last reset */
void mem_log_reset(void);

#endif /* FW_MEM_GATEWAY_H */
