/*
 * print_config.h: `fcgi-wsgi --print-config TARGET`: the configuration a
 * web server (nginx, apache, lighttpd) or systemd needs to run fcgi-wsgi
 * with the options given, printed instead of serving.  It only formats
 * text from a loaded configuration: it opens and starts nothing.  conf/
 * checks the options it reads (print-config, static-map); it knows
 * nothing of this module.
 */
#ifndef FW_PRINT_CONFIG_H
#define FW_PRINT_CONFIG_H

#include <stdio.h>

#include "conf/conf.h"

/*
 * Prints the text of c->print_target for c (loaded by fw_conf_load, which
 * returned FW_CONF_OK) to out.  The target needs `socket` (where the web
 * server connects, or where systemd listens).  Paths in the output are
 * absolute: relative ones are taken from chdir, as fcgi-wsgi takes its
 * socket path.  0, or -1 after printing one line to err.
 */
int fw_print_config(const fw_conf_t *c, FILE *out, FILE *err);

#endif /* FW_PRINT_CONFIG_H */
