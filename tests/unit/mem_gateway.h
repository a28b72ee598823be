/*
 * mem_gateway.h: an in-memory fw_request_t for the unit tests: params from
 * a list, a body from a buffer (handed out in chunks of a chosen size), the
 * response and the log captured in growing buffers.  No socket anywhere.
 */
#ifndef FW_MEM_GATEWAY_H
#define FW_MEM_GATEWAY_H

#include <stddef.h>
#include "pyglue/gateway.h"

typedef struct {
    fw_request_t req;
    char *params[128];    /* "NAME=VALUE", NULL-terminated copy */
    const char *body;     /* request body (not copied) */
    size_t body_len;
    size_t body_pos;
    size_t read_chunk;    /* largest piece one read() returns; 0 = any */
    int read_calls;
    int fail_write;       /* write() fails when set */
    char *out;            /* everything written, NUL-terminated */
    size_t out_len;
    int write_calls;
    int flush_calls;
    size_t out_len_at_flush[64]; /* out_len at each flush, first 64 */
} mem_request_t;

/* Makes a request from NULL-terminated "NAME=VALUE" strings and a body. */
void mem_request_init(mem_request_t *m, const char *const *params,
                      const char *body, size_t body_len);
void mem_request_free(mem_request_t *m);

/* The log sink the tests install: captures everything (and echoes it to
 * stderr when FW_TEST_VERBOSE is set). */
void mem_log_sink(fw_log_level_e level, const char *msg, size_t len);
const char *mem_log_text(void);  /* all messages since the last reset */
void mem_log_reset(void);

#endif /* FW_MEM_GATEWAY_H */
