/*
 * start_response.h: the start_response callable handed to the
 * application, which is the request's fw_response_t (response_send.h).
 * start_response only validates and stores the header block;
 * response_send.c sends it.  Requires Python.h to be included first.
 */
#ifndef FW_START_RESPONSE_H
#define FW_START_RESPONSE_H

#include <stddef.h>

#include "pyglue/response_send.h"

/* Readies the type (GIL held).  0, or -1 with an exception set. */
int fw_start_response_init_type(void);

/*
 * A new start_response for request r: the response state, made by
 * fw_response_init (see there for out and out_cap).  New reference, or
 * NULL with an exception set.  GIL held.
 */
fw_response_t *fw_start_response_new(fw_request_t *r, char *out,
                                     size_t out_cap);

#endif /* FW_START_RESPONSE_H */
