/*
 * gateway_log.h: the printf-like front of a log sink (gateway.h's
 * fw_gateway_log_pt).  The bridge's fw_log and pyglue's fw_errors_log are
 * this one function bound to their sinks, so a message is formatted one
 * way on both sides.  Header only: it needs nothing of Python or of the
 * bridge.
 */
#ifndef FW_GATEWAY_LOG_H
#define FW_GATEWAY_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

/*
 * Formats fmt and hands the message to sink: from a stack buffer when it
 * fits, else from malloc'd memory (cut to the stack buffer when malloc
 * fails); fmt itself when it cannot be formatted.
 */
__attribute__((format(printf, 3, 4))) static inline void
fw_gateway_log(fw_gateway_log_pt sink, fw_log_level_e level, const char *fmt,
               ...)
{
    char small[1024];
    char *big;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        sink(level, fmt, strlen(fmt));
        return;
    }
    if ((size_t)n < sizeof(small)) {
        sink(level, small, (size_t)n);
        return;
    }
    big = malloc((size_t)n + 1);
    if (big == NULL) {
        sink(level, small, sizeof(small) - 1); /* cut */
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sink(level, big, (size_t)n);
    free(big);
}

#endif /* FW_GATEWAY_LOG_H */
