/*
 * log_stub.c: the fuzz build's log: the scanner under test never logs, but
 * fcgi_guard.c links against fw_log for its socket half.
 */
#include "bridge/log.h"

void
fw_log(fw_log_level_e level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}
