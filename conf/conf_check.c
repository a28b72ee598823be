/*
 * conf_check.c: checks of values that their type alone cannot check
 * (socket address, module name, mount prefix, env, allowed-clients), run
 * when an option is set, and the check of the whole once everything is
 * loaded.  It reads strings only: it opens, binds and resolves nothing.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conf/conf_int.h"

#define SOCKET_FORMS                                                          \
    "expected unix:PATH, a PATH containing '/', HOST:PORT, [IPv6]:PORT or "   \
    ":PORT"

static const char *
parse_port(fw_conf_state_t *st, const char *port, const char *value, int *out)
{
    long n = 0;

    if (*port == '\0' || port[strspn(port, "0123456789")] != '\0' ||
        strlen(port) > 5 || (n = strtol(port, NULL, 10)) < 1 || n > 65535) {
        return fw_conf_table_msg(st, "port must be 1 to 65535, got '%s'",
                                 value);
    }
    *out = (int)n;
    return NULL;
}

static const char *
parse_unix(fw_conf_state_t *st, const char *path, fw_sockaddr_conf_t *out)
{
    size_t sun_path = sizeof(((struct sockaddr_un *)NULL)->sun_path);
    size_t limit =
        (sun_path < sizeof(out->path) ? sun_path : sizeof(out->path)) - 1;
    size_t len = strlen(path);

    if (len == 0) {
        return "expected a path after unix:";
    }
    if (len > limit) {
        return fw_conf_table_msg(st,
                                 "unix socket path is %zu bytes long; the "
                                 "limit is %zu",
                                 len, limit);
    }
    out->kind = FW_SOCK_UNIX;
    memcpy(out->path, path, len + 1);
    return NULL;
}

/*
 * Parses a socket address (the forms in SOCKET_FORMS) into st->c->listen.
 * ":PORT" means 127.0.0.1, never every interface.  IPv6 hosts are stored
 * without their brackets; host names are kept for the bridge to resolve.
 */
const char *
fw_conf_check_socket(fw_conf_state_t *st, const char *value, char **keep)
{
    fw_sockaddr_conf_t addr;
    const char *colon;
    const char *host;
    size_t host_len;
    const char *msg;

    (void)keep;
    memset(&addr, 0, sizeof(addr));
    if (strncmp(value, "unix:", 5) == 0) {
        msg = parse_unix(st, value + 5, &addr);
    } else if (strchr(value, '/') != NULL) {
        msg = parse_unix(st, value, &addr);
    } else {
        if (value[0] == '[') {
            const char *close = strchr(value, ']');
            unsigned char buf[16];
            char *inside;
            int ok;

            if (close == NULL || close[1] != ':') {
                return fw_conf_table_msg(st, SOCKET_FORMS ", got '%s'", value);
            }
            inside = conf_strndup(value + 1, (size_t)(close - value - 1));
            ok = inet_pton(AF_INET6, inside, buf) == 1;
            free(inside);
            if (!ok) {
                return fw_conf_table_msg(
                    st, "expected an IPv6 address inside [ ], got '%s'",
                    value);
            }
            host = value + 1;
            host_len = (size_t)(close - value - 1);
            colon = close + 1;
        } else {
            colon = strrchr(value, ':');
            if (colon == NULL) {
                return fw_conf_table_msg(st, SOCKET_FORMS ", got '%s'", value);
            }
            host = value;
            host_len = (size_t)(colon - value);
            if (memchr(host, ':', host_len) != NULL) {
                return fw_conf_table_msg(st,
                                         "write an IPv6 address in brackets, "
                                         "as [::1]:9000, got '%s'",
                                         value);
            }
            if (host_len == 0) {
                host = "127.0.0.1";
                host_len = strlen(host);
            }
        }
        if (host_len >= sizeof(addr.host)) {
            return fw_conf_table_msg(st, "host name too long in '%.40s...'",
                                     value);
        }
        msg = parse_port(st, colon + 1, value, &addr.port);
        if (msg == NULL) {
            addr.kind = FW_SOCK_TCP;
            memcpy(addr.host, host, host_len);
            addr.host[host_len] = '\0';
        }
    }
    if (msg == NULL) {
        st->c->listen = addr;
    }
    return msg;
}

/* A Python identifier: ASCII letters, digits, '_', and any non-ASCII. */
static bool
is_identifier(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!(ch == '_' || ch >= 0x80 || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) {
            return false;
        }
    }
    return true;
}

/* Dotted identifiers: "config.wsgi". */
static bool
is_module_name(const char *s, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!is_identifier(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

/*
 * Checks "pkg.mod[:callable]".  Returns NULL with *module_len set to the
 * length of the module part, or a message.
 */
static const char *
check_module_spec(fw_conf_state_t *st, const char *value, size_t *module_len)
{
    const char *colon = strchr(value, ':');
    size_t len = colon != NULL ? (size_t)(colon - value) : strlen(value);
    size_t vlen = strlen(value);

    if (strchr(value, '/') != NULL ||
        (vlen > 3 && strcmp(value + vlen - 3, ".py") == 0)) {
        return fw_conf_table_msg(st,
                                 "expected a module name, not a file: "
                                 "config.wsgi rather than config/wsgi.py "
                                 "(set chdir or pythonpath to its "
                                 "directory), or wsgi-file = FILE, got '%s'",
                                 value);
    }
    if (!is_module_name(value, len) ||
        (colon != NULL && !is_identifier(colon + 1, strlen(colon + 1)))) {
        return fw_conf_table_msg(st,
                                 "expected a Python module such as "
                                 "config.wsgi or config.wsgi:application, "
                                 "got '%s'",
                                 value);
    }
    *module_len = len;
    return NULL;
}

/*
 * module = pkg.mod[:callable]: stores "pkg.mod" and remembers the callable
 * part (or its absence) for fw_conf_check_all.
 */
const char *
fw_conf_check_module(fw_conf_state_t *st, const char *value, char **keep)
{
    size_t len;
    const char *msg = check_module_spec(st, value, &len);

    if (msg != NULL) {
        return msg;
    }
    free(st->module_callable);
    st->module_callable =
        value[len] == ':' ? conf_strdup(value + len + 1) : NULL;
    *keep = conf_strndup(value, len);
    return NULL;
}

const char *
fw_conf_check_callable(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (!is_identifier(value, strlen(value))) {
        return fw_conf_table_msg(
            st, "expected a Python name such as application, got '%s'", value);
    }
    return NULL;
}

/* A file for uWSGI's file loader: NAME.py or NAME.wsgi. */
static bool
is_python_file(const char *value)
{
    size_t n = strlen(value);

    return (n > 3 && strcmp(value + n - 3, ".py") == 0) ||
           (n > 5 && strcmp(value + n - 5, ".wsgi") == 0);
}

/*
 * mount = /PREFIX or uWSGI's mount = /PREFIX=pkg.mod[:callable] (or
 * /PREFIX=FILE.py, a wsgi-file).  Stores the prefix; the module or file
 * part is kept for fw_conf_check_all, which uses it if no module (or
 * wsgi-file) is given otherwise.
 */
const char *
fw_conf_check_mount(fw_conf_state_t *st, const char *value, char **keep)
{
    const char *eq = strchr(value, '=');
    size_t len = eq != NULL ? (size_t)(eq - value) : strlen(value);
    bool file = eq != NULL && is_python_file(eq + 1);
    size_t module_len;
    const char *msg;

    if (len < 2 || value[0] != '/' || value[len - 1] == '/') {
        return fw_conf_table_msg(st,
                                 "expected a URL prefix such as /app "
                                 "(starting with '/', not ending with '/'), "
                                 "got '%s'",
                                 value);
    }
    if (eq != NULL && !file) {
        msg = check_module_spec(st, eq + 1, &module_len);
        if (msg != NULL) {
            return msg;
        }
    }
    free(st->mount_module);
    free(st->mount_file);
    st->mount_module = eq != NULL && !file ? conf_strdup(eq + 1) : NULL;
    st->mount_file = file ? conf_strdup(eq + 1) : NULL;
    *keep = conf_strndup(value, len);
    return NULL;
}

/* wsgi-file = FILE (uWSGI's): any path; pyglue opens it after chdir. */
const char *
fw_conf_check_wsgi_file(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (value[strspn(value, " \t")] == '\0') {
        return fw_conf_table_msg(st, "expected a file name, got '%s'", value);
    }
    return NULL;
}

/*
 * value is one of the n words: NULL with *index set to its place, or the
 * message "expected A, B or C, got 'value'".
 */
static const char *
one_of(fw_conf_state_t *st, const char *value, const char *const *words,
       size_t n, size_t *index)
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

#define ONE_OF(st, value, words, index)                                       \
    one_of((st), (value), (words), sizeof(words) / sizeof((words)[0]), (index))

/*
 * protocol = fastcgi (uWSGI's protocol of its default sockets): fcgi-wsgi's
 * only one; another is the error uWSGI's HTTP options get.
 */
const char *
fw_conf_check_protocol(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (strcmp(value, "fastcgi") == 0) {
        return NULL;
    }
    return fw_conf_table_msg(st,
                             "fcgi-wsgi speaks FastCGI only: protocol = "
                             "fastcgi (or none) with a web server in front "
                             "(nginx fastcgi_pass), got '%s'",
                             value);
}

const char *
fw_conf_check_env(fw_conf_state_t *st, const char *value, char **keep)
{
    const char *eq = strchr(value, '=');

    (void)keep;
    if (eq == NULL || eq == value) {
        return fw_conf_table_msg(st, "expected KEY=VALUE, got '%s'", value);
    }
    return NULL;
}

/*
 * role = auto (each request's, from the web server) | authorizer (every
 * request is served in the FastCGI Authorizer role).
 */
const char *
fw_conf_check_role(fw_conf_state_t *st, const char *value, char **keep)
{
    static const char *const roles[] = {"auto", "authorizer"};
    size_t i = 0;
    const char *msg = ONE_OF(st, value, roles, &i);

    (void)keep;
    if (msg == NULL) {
        st->c->force_authorizer = i == 1;
    }
    return msg;
}

/* pm = static | dynamic | ondemand (php-fpm's words, fw_pm_e's order). */
const char *
fw_conf_check_pm(fw_conf_state_t *st, const char *value, char **keep)
{
    static const char *const modes[] = {"static", "dynamic", "ondemand"};
    size_t i = 0;
    const char *msg = ONE_OF(st, value, modes, &i);

    (void)keep;
    if (msg == NULL) {
        st->c->pm_mode = (fw_pm_e)i;
    }
    return msg;
}

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
    msg = ONE_OF(st, value, targets, &i);
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

/* Clears the bits of a past its first prefix bits (nbytes long). */
static void
cidr_mask(unsigned char *a, size_t nbytes, int prefix)
{
    for (size_t i = 0; i < nbytes; i++) {
        int keep = prefix - (int)(i * 8);

        if (keep <= 0) {
            a[i] = 0;
        } else if (keep < 8) {
            a[i] &= (unsigned char)(0xff << (8 - keep));
        }
    }
}

int
fw_conf_parse_cidr(const char *s, size_t len, fw_cidr_t *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    char text[64]; /* the longest IPv6 text is 45 bytes */
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : len;
    int max_bits;
    long bits = -1;

    memset(out, 0, sizeof(*out));
    if (addr_len == 0 || addr_len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, s, addr_len);
    text[addr_len] = '\0';
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        max_bits = 32;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        max_bits = 128;
    } else {
        return -1;
    }
    if (slash != NULL) {
        size_t n = len - addr_len - 1;

        if (n == 0 || n > 3) {
            return -1;
        }
        bits = 0;
        for (size_t i = 0; i < n; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9') {
                return -1;
            }
            bits = bits * 10 + (slash[1 + i] - '0');
        }
        if (bits > max_bits) {
            return -1;
        }
    }
    out->prefix = bits >= 0 ? (int)bits : max_bits;
    if (out->family == AF_INET6 && out->prefix >= 96 &&
        memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    cidr_mask(out->addr, sizeof(out->addr), out->prefix);
    return 0;
}

/*
 * allowed-clients = ADDR[/BITS][, ADDR[/BITS]]... (php-fpm's
 * listen.allowed_clients; repeatable).  Each entry must parse
 * (fw_conf_parse_cidr); the value is kept without its blanks.
 */
const char *
fw_conf_check_allowed_clients(fw_conf_state_t *st, const char *value,
                              char **keep)
{
    size_t vlen = strlen(value);
    char *out = conf_oom(malloc(vlen + 1));
    size_t used = 0;
    const char *p = value;

    for (;;) {
        size_t n = strcspn(p, ",");
        size_t lead = strspn(p, " \t");
        size_t end = n;
        fw_cidr_t cidr;

        while (end > lead && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
            end--;
        }
        if (end == lead ||
            fw_conf_parse_cidr(p + lead, end - lead, &cidr) < 0) {
            free(out);
            if (end == lead) {
                return fw_conf_table_msg(
                    st,
                    "an empty entry in '%s': expected IPv4/IPv6 "
                    "addresses or networks separated by commas",
                    value);
            }
            return fw_conf_table_msg(
                st,
                "'%.*s' is not an IPv4/IPv6 address or network: expected "
                "such as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8 (IPv4 up to "
                "/32, IPv6 up to /128), separated by commas",
                (int)(end - lead), p + lead);
        }
        if (used > 0) {
            out[used++] = ',';
        }
        memcpy(out + used, p + lead, end - lead);
        used += end - lead;
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
    out[used] = '\0';
    *keep = out;
    return NULL;
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

/*
 * PHP_FCGI_CHILDREN, set by the web servers and spawners that start
 * FastCGI programs (lighttpd's bin-environment, spawn-fcgi -C N), is the
 * worker count when processes is not given; 0 means one process, as in
 * PHP; empty is as unset.  An option given in a file or on the command
 * line wins.  Prints one line to st->err and returns -1 for a value that
 * is not a whole number.
 */
static int
check_php_fcgi_children(fw_conf_state_t *st)
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

/*
 * The name a wsgi-file is loaded under, as uWSGI names it: "uwsgi_file_"
 * and the path with every character that cannot be in a Python name made
 * '_' (uWSGI changes '.' and '/' only).  Malloc'd.
 */
static char *
wsgi_file_module(const char *path)
{
    static const char prefix[] = "uwsgi_file_";
    size_t n = strlen(path);
    char *name = conf_oom(malloc(sizeof(prefix) + n));

    memcpy(name, prefix, sizeof(prefix) - 1);
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = (unsigned char)path[i];

        name[sizeof(prefix) - 1 + i] =
            ch == '\0' || is_identifier((const char *)&ch, 1) ? (char)ch : '_';
    }
    return name;
}

/*
 * The application: module (or mount = /PREFIX=MODULE), or wsgi-file (or
 * mount = /PREFIX=FILE.py), one of them.  A wsgi-file's module is the
 * name it is loaded under; its pool is named after the file.  Prints one
 * line and returns -1, or returns 0.
 */
static int
check_app(fw_conf_state_t *st)
{
    fw_conf_t *c = st->c;

    if (c->module != NULL && c->wsgi_file != NULL) {
        fprintf(st->err,
                "fcgi-wsgi: module = %s and wsgi-file = %s both "
                "name the application: give one\n",
                c->module, c->wsgi_file);
        return -1;
    }
    if (c->module == NULL && c->wsgi_file == NULL &&
        st->mount_module != NULL) {
        char *keep = NULL;

        if (fw_conf_check_module(st, st->mount_module, &keep) != NULL) {
            free(keep);
            fprintf(st->err, "fcgi-wsgi: mount: %s\n", st->msg);
            return -1;
        }
        c->module = keep;
    }
    if (c->module == NULL && c->wsgi_file == NULL && st->mount_file != NULL) {
        c->wsgi_file = conf_strdup(st->mount_file);
    }
    if (c->wsgi_file != NULL) {
        c->module = wsgi_file_module(c->wsgi_file);
        if (c->pool_name == NULL) {
            c->pool_name = conf_strdup(c->wsgi_file);
        }
    }
    if (c->module == NULL) {
        fprintf(st->err, "fcgi-wsgi: no module given: set module = pkg.wsgi "
                         "(or --module), or wsgi-file = FILE\n");
        return -1;
    }
    return 0;
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
static void
warn_static_map(fw_conf_state_t *st)
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

/*
 * The checks of the whole, once every file and option is in: an
 * application is given (check_app), and its ":callable" part agrees with
 * callable; PHP_FCGI_CHILDREN applies if processes was not given; the
 * pool's sizes fit (fw_conf_check_pool); pool-name is the module's when
 * not given; static-map gets its warning.  Prints one line to st->err and
 * returns -1, or returns 0.
 */
int
fw_conf_check_all(fw_conf_state_t *st)
{
    fw_conf_t *c = st->c;
    const fw_opt_t *callable = fw_conf_table_find("callable");

    if (check_php_fcgi_children(st) < 0 || fw_conf_check_pool(st) < 0 ||
        check_app(st) < 0) {
        return -1;
    }
    if (st->module_callable != NULL) {
        if (st->c->given[callable - fw_conf_table_rows] &&
            strcmp(c->callable, st->module_callable) != 0) {
            fprintf(st->err,
                    "fcgi-wsgi: callable = %s disagrees with module = "
                    "%s:%s: give the callable once\n",
                    c->callable, c->module, st->module_callable);
            return -1;
        }
        free(c->callable);
        c->callable = st->module_callable;
        st->module_callable = NULL;
    }
    if (c->pool_name == NULL) {
        c->pool_name = conf_strdup(c->module);
    }
    warn_static_map(st);
    return 0;
}
