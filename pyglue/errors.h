/*
 * errors.h: the process-wide log sink as seen from pyglue: the one way
 * pyglue writes a message or a traceback to the server's log (the
 * wsgi.errors object is errors_stream.h's).  Requires Python.h to be
 * included first.
 */
#ifndef FW_ERRORS_H
#define FW_ERRORS_H

#include "gateway.h"
#include "gateway_log.h"

/* Sets where every message goes; called once before anything else. */
void fw_errors_set_sink(fw_gateway_log_pt sink);

/* Writes one message to the sink (stderr before one is set); no GIL
 * needed. */
void fw_errors_write(fw_log_level_e level, const char *msg, size_t len);

/* Formats and writes one message to the sink (no GIL needed):
 * fw_errors_log(level, fmt, ...). */
#define fw_errors_log(level, ...)                                             \
    fw_gateway_log(fw_errors_write, (level), __VA_ARGS__)

/*
 * Writes the current Python exception's traceback to the log at
 * FW_LOG_ERROR, preceded by the line `context` (may be NULL), then clears
 * the exception.  GIL held.  Never raises.
 */
void fw_errors_log_exception(const char *context);

/*
 * Drops the traceback formatter that the first fw_errors_log_exception
 * imported and kept (GIL held); the next call imports it again.
 */
void fw_errors_fini(void);

#endif /* FW_ERRORS_H */
