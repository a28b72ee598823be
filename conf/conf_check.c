/*
 * conf_check.c: the check of the whole once everything is loaded
 * (fw_conf_check_all, which runs the checks of conf_check_app.c,
 * conf_check_pool.c and conf_check_web.c), and the word-list check the
 * hooks share.  The hooks that check a value when an option is set are in
 * conf_check_*.c, by what they check.  It reads strings only.
 */
#include "conf/conf_int.h"

/*
 * value is one of the n words: NULL with *index set to its place, or the
 * message "expected A, B or C, got 'value'".
 */
const char *
fw_conf_check_one_of(fw_conf_state_t *st, const char *value,
                     const char *const *words, size_t n, size_t *index)
{
    char list[FW_CONF_MSG_MAX / 2];
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(value, words[i]) == 0) {
            *index = i;
            return NULL;
        }
    }
    for (size_t i = 0; i < n && len < sizeof(list); i++) {
        int w = snprintf(list + len, sizeof(list) - len, "%s%s",
                         i == 0      ? ""
                         : i + 1 < n ? ", "
                                     : " or ",
                         words[i]);

        len += w > 0 ? (size_t)w : 0;
    }
    return fw_conf_table_msg(st, "expected %s, got '%s'", list, value);
}

/*
 * The checks of the whole, once every file and option is in: an
 * application is given, and its ":callable" part agrees with callable
 * (fw_conf_check_app); PHP_FCGI_CHILDREN applies if processes was not given;
 * the pool's sizes fit (fw_conf_check_pool); pool-name is the module's when
 * not given; static-map gets its warning.  Prints one line to st->err and
 * returns -1, or returns 0.
 */
int
fw_conf_check_all(fw_conf_state_t *st)
{
    fw_conf_t *c = st->c;

    if (fw_conf_check_php_fcgi_children(st) < 0 ||
        fw_conf_check_pool(st) < 0 || fw_conf_check_app(st) < 0) {
        return -1;
    }
    if (c->pool_name == NULL) {
        c->pool_name = conf_strdup(c->module);
    }
    fw_conf_check_warn_static_map(st);
    return 0;
}
