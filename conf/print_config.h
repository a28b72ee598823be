/*
 * print_config.h: `fcgi-wsgi --print-config TARGET`: the configuration a
 * web server (nginx, apache, lighttpd) or systemd needs to run fcgi-wsgi
 * with the options given, printed instead of serving.  It only formats
 * text from the loaded configuration: it opens and starts nothing.
 */
#ifndef FW_PRINT_CONFIG_H
#define FW_PRINT_CONFIG_H

#include "conf/conf_int.h"

/* The check hooks of the table's rows static-map and print-config. */
const char *fw_print_config_check_static_map(fw_conf_state_t *st,
                                             const char *value, char **keep);
const char *fw_print_config_check_target(fw_conf_state_t *st,
                                         const char *value, char **keep);

/*
 * Prints st->c->print_config's configuration for st->c (checked already)
 * to st->out.  The target needs `socket` (where the web server connects,
 * or where systemd listens).  Paths in the output are absolute: relative
 * ones are taken from chdir, as fcgi-wsgi takes its socket path.  0, or
 * -1 after printing one line to st->err.
 */
int fw_print_config(fw_conf_state_t *st);

#endif /* FW_PRINT_CONFIG_H */
