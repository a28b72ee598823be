/*
 * conf_check_pool.c: the checks of the pool's options: pm when it is set,
 * and once everything is loaded, the pool's sizes as php-fpm checks them
 * and PHP_FCGI_CHILDREN from the environment.  It starts nothing.
 */
#include "conf/conf_int.h"

/* pm = static | dynamic | ondemand (php-fpm's words, fw_pm_e's order). */
const char *
fw_conf_check_pm(fw_conf_state_t *st, const char *value, char **keep)
{
    static const char *const modes[] = {"static", "dynamic", "ondemand"};
    size_t i = 0;
    const char *msg = FW_CONF_ONE_OF(st, value, modes, &i);

    (void)keep;
    if (msg == NULL) {
        st->c->pm_mode = (fw_pm_e)i;
    }
    return msg;
}

static bool
given(fw_conf_state_t *st, const char *name)
{
    return st->c->given[fw_conf_table_find(name) - fw_conf_table_rows];
}

/*
 * The pool's sizes, as php-fpm checks them.  static: processes workers
 * (max-children alone may say it instead).  dynamic and ondemand:
 * max-children, or processes; dynamic: 1 <= min-spare <= max-spare <=
 * max-children (max-spare defaults to min(3, max-children), at least
 * min-spare) and min-spare <= start-servers <= max-spare (default: halfway).
 * Fills the derived values; prints one line and returns -1 on a misfit.
 */
int
fw_conf_check_pool(fw_conf_state_t *st)
{
    fw_conf_t *c = st->c;

    if (c->max_children == 0) {
        c->max_children = c->processes;
    } else if (c->pm_mode == FW_PM_STATIC) {
        if (given(st, "processes") && c->processes != c->max_children) {
            fprintf(st->err,
                    "fcgi-wsgi: pm = static: processes = %d and "
                    "max-children = %d disagree: give one\n",
                    c->processes, c->max_children);
            return -1;
        }
        c->processes = c->max_children;
    }
    if (c->pm_mode != FW_PM_DYNAMIC) {
        return 0;
    }
    if (c->max_spare == 0) {
        c->max_spare = c->max_children < 3 ? c->max_children : 3;
        if (c->max_spare < c->min_spare) {
            c->max_spare = c->min_spare;
        }
    }
    if (c->min_spare > c->max_spare || c->max_spare > c->max_children) {
        fprintf(st->err,
                "fcgi-wsgi: pm = dynamic needs min-spare-servers (%d) <= "
                "max-spare-servers (%d) <= max-children (%d)\n",
                c->min_spare, c->max_spare, c->max_children);
        return -1;
    }
    if (c->start_servers == 0) {
        c->start_servers = c->min_spare + (c->max_spare - c->min_spare) / 2;
    }
    if (c->start_servers < c->min_spare || c->start_servers > c->max_spare) {
        fprintf(st->err,
                "fcgi-wsgi: pm = dynamic needs min-spare-servers (%d) <= "
                "start-servers (%d) <= max-spare-servers (%d)\n",
                c->min_spare, c->start_servers, c->max_spare);
        return -1;
    }
    return 0;
}

/*
 * PHP_FCGI_CHILDREN, set by the web servers and spawners that start
 * FastCGI programs (lighttpd's bin-environment, spawn-fcgi -C N), is the
 * worker count when processes is not given; 0 means one process, as in
 * PHP; empty is as unset.  An option given in a file or on the command
 * line wins.  Prints one line to st->err and returns -1 for a value that
 * is not a whole number.
 */
int
fw_conf_check_php_fcgi_children(fw_conf_state_t *st)
{
    const fw_opt_t *processes = fw_conf_table_find("processes");
    const char *value = getenv("PHP_FCGI_CHILDREN");
    const char *msg;

    if (value == NULL || value[0] == '\0' ||
        st->c->given[processes - fw_conf_table_rows]) {
        return 0;
    }
    if (value[strspn(value, "0")] == '\0') {
        st->c->processes = 1;
        return 0;
    }
    msg = fw_conf_table_set(st, processes, value);
    if (msg != NULL) {
        fprintf(st->err,
                "fcgi-wsgi: PHP_FCGI_CHILDREN in the environment: %s\n", msg);
        return -1;
    }
    return 0;
}
