/*
 * conf_check_web.c: the checks of what goes to or comes from the web
 * server's config: print-config, static-map, static-map2, status-path and
 * ping-path; and the start-up warning that static-map needs the web
 * server.  It reads strings only: it writes no config itself
 * (deploy/print_config.c does).
 */
#include "conf/conf_int.h"

/*
 * print-config = nginx | apache | lighttpd | caddy | h2o | systemd |
 * systemd-socket: the text deploy/print_config.c prints, as
 * c->print_target; or uwsgi-options, which fw_conf_load prints itself
 * (conf_usage.c).
 */
const char *
fw_conf_check_print_config(fw_conf_state_t *st, const char *value, char **keep)
{
    /* fw_print_target_e's order from FW_PRINT_NGINX (the message leaves
       uwsgi-options out: not a web server's, --help names it apart) */
    static const char *const targets[] = {
        "nginx", "apache",  "lighttpd",      "caddy",
        "h2o",   "systemd", "systemd-socket"};
    size_t i = 0;
    const char *msg;

    (void)keep;
    st->print_uwsgi = strcmp(value, "uwsgi-options") == 0;
    if (st->print_uwsgi) {
        st->c->print_target = FW_PRINT_NONE;
        return NULL;
    }
    msg = FW_CONF_ONE_OF(st, value, targets, &i);
    if (msg == NULL) {
        st->c->print_target = (fw_print_target_e)(FW_PRINT_NGINX + i);
    }
    return msg;
}

/*
 * static-map = /URLPREFIX=DIR (uWSGI's form), for --print-config: text
 * that goes into a web server's config, so no quotes, backslashes or
 * control characters, and a path that fits (4096 bytes).
 */
const char *
fw_conf_check_static_map(fw_conf_state_t *st, const char *value, char **keep)
{
    const char *eq = strchr(value, '=');
    size_t prefix_len = eq != NULL ? (size_t)(eq - value) : 0;

    (void)keep;
    if (eq == NULL || value[0] != '/' || eq[1] == '\0') {
        return fw_conf_table_msg(st,
                                 "expected /URLPREFIX=DIR, such as "
                                 "/static/=/srv/app/static, got '%s'",
                                 value);
    }
    if (strspn(value, "/") >= prefix_len) {
        return fw_conf_table_msg(st,
                                 "a URL prefix of / would hide the "
                                 "application, got '%s'",
                                 value);
    }
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' ||
            *p == 0x7f) {
            return fw_conf_table_msg(st,
                                     "control characters, quotes and "
                                     "backslashes cannot go into a web "
                                     "server's config, got '%s'",
                                     value);
        }
    }
    if (strlen(value) >= 4096) {
        return "too long";
    }
    return NULL;
}

/*
 * static-map2 = /URLPREFIX=DOCROOT (uWSGI's): the file of /URLPREFIX/x is
 * DOCROOT/URLPREFIX/x, so it is static-map = /URLPREFIX=DOCROOT/URLPREFIX;
 * checked as that and added to the static-map list.
 */
const char *
fw_conf_check_static_map2(fw_conf_state_t *st, const char *value, char **keep)
{
    const char *eq = strchr(value, '=');
    size_t prefix_len;
    size_t root_len;
    char *map;
    const char *msg;

    msg = fw_conf_check_static_map(st, value, keep);
    if (msg != NULL) {
        return msg;
    }
    prefix_len = (size_t)(eq - value);
    root_len = strlen(eq + 1);
    while (root_len > 1 && eq[root_len] == '/') {
        root_len--; /* DOCROOT's trailing '/': the prefix starts with one */
    }
    map = conf_oom(malloc(prefix_len + 1 + root_len + prefix_len + 1));
    snprintf(map, prefix_len + 1 + root_len + prefix_len + 1, "%.*s=%.*s%.*s",
             (int)prefix_len, value, (int)root_len, eq + 1, (int)prefix_len,
             value);
    msg = fw_conf_check_static_map(st, map, keep);
    if (msg != NULL) {
        free(map);
        return msg;
    }
    fw_conf_list_append(&st->c->static_map, map);
    return NULL;
}

/*
 * status-path, ping-path: a URL path as the web server passes it, "/" and
 * then no space, control character, '?' or '#'.
 */
const char *
fw_conf_check_url_path(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (value[0] != '/') {
        return fw_conf_table_msg(
            st, "expected a URL path such as /fcgi-status, got '%s'", value);
    }
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#') {
            return fw_conf_table_msg(st,
                                     "a URL path has no space, control "
                                     "character, '?' or '#', got '%s'",
                                     value);
        }
    }
    return NULL;
}

/* Appends to b the word, quoted for a POSIX shell when it needs it. */
static void
shell_word(char *b, size_t size, const char *word)
{
    size_t used = strlen(b);

    if (word[0] != '\0' &&
        word[strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                          "YZ0123456789-_./=:,@%+")] == '\0') {
        snprintf(b + used, size - used, " %s", word);
        return;
    }
    snprintf(b + used, size - used, " '");
    for (const char *p = word; *p != '\0'; p++) {
        used = strlen(b);
        snprintf(b + used, size - used, *p == '\'' ? "'\\''" : "%c", *p);
    }
    used = strlen(b);
    snprintf(b + used, size - used, "'");
}

/*
 * static-map: fcgi-wsgi serves no file, so the web server must, or those
 * URLs reach the application: one warning for the start-up log, with the
 * command that prints the web server's part.
 */
void
fw_conf_check_warn_static_map(fw_conf_state_t *st)
{
    const fw_strlist_t *maps = &st->c->static_map;
    char prefixes[256] = "";
    char command[1024] = "fcgi-wsgi";
    char line[sizeof(prefixes) + sizeof(command) + 256];

    if (maps->n == 0 || st->c->print_target != FW_PRINT_NONE) {
        return;
    }
    for (size_t i = 0; i < maps->n; i++) {
        size_t used = strlen(prefixes);

        snprintf(prefixes + used, sizeof(prefixes) - used, "%s%.*s",
                 i > 0 ? ", " : "", (int)strcspn(maps->items[i], "="),
                 maps->items[i]);
    }
    for (int i = 1; i < st->argc; i++) {
        shell_word(command, sizeof(command), st->argv[i]);
    }
    snprintf(line, sizeof(line),
             "static-map (%s): fcgi-wsgi serves no files, the web server "
             "must (else these URLs reach the application): %s "
             "--print-config nginx prints its part (or apache, lighttpd)",
             prefixes, command);
    fw_conf_list_append(&st->c->warnings, conf_strdup(line));
}
