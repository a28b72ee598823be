/*
 * input.h: wsgi.input, the request body as a Python file-like object that
 * streams from the gateway as the application reads.  One object per
 * request; it goes dead (raises ValueError) when its request ends.
 * Requires Python.h to be included first.
 */
#ifndef FW_INPUT_H
#define FW_INPUT_H

#include "pyglue/gateway.h"

/* Readies the type (GIL held).  0, or -1 with an exception set. */
int fw_input_init_type(void);

/*
 * A new wsgi.input reading r's body.  content_length is CONTENT_LENGTH, or
 * -1 when it was absent or not a number: the body then ends where the
 * gateway says so.  Never reads past content_length.  New reference, or
 * NULL with an exception set.  GIL held.
 */
PyObject *fw_input_new(fw_request_t *r, long long content_length);

/*
 * Reads and discards what is left of the body, up to the gateway's end of
 * STDIN (past CONTENT_LENGTH too).  The response path calls it before the
 * first byte of the response goes out: web servers stop sending the body
 * once the response starts (nginx drops its buffered copy), and libfcgi
 * needs STDIN consumed.  If the application could still have read some of
 * what was discarded, its later reads raise OSError saying so.  Returns at
 * once when STDIN was consumed already.  GIL held on entry and return,
 * released while reading.  0, or -1 when the connection failed (now or
 * during an earlier read); never sets an exception.
 */
int fw_input_drain(PyObject *input);

/*
 * Ends the object's request: every later call raises ValueError and the
 * request is never touched again.  Waits for a read another thread may be
 * doing.  GIL held.
 */
void fw_input_detach(PyObject *input);

#endif /* FW_INPUT_H */
