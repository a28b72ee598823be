/*
 * print_config.c: --print-config (deploy/: how fcgi-wsgi is deployed
 * behind a web server or under systemd).  Each target is one function that
 * prints a file's text from the loaded configuration; the options given
 * are written back as a command line (table order, canonical names), so
 * that the text says how fcgi-wsgi itself runs.  Only formatting: the one
 * thing read from the system is whether a static-map target is a file.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/print_config.h"

#define PC_PATH_MAX 4096

/* One static-map entry, made absolute and without trailing slashes. */
typedef struct {
    char prefix[PC_PATH_MAX]; /* "/static" ("" never: checked) */
    char dir[PC_PATH_MAX];    /* "/srv/app/static", or a file's path */
    bool is_file;             /* DIR names a file: an exact URL */
} static_entry_t;

/* What every target needs, worked out once. */
typedef struct {
    const fw_conf_t *c;
    FILE *out;
    FILE *err;
    char app_dir[PC_PATH_MAX]; /* chdir made absolute (or the cwd) */
    char cwd[PC_PATH_MAX];
    char socket_path[PC_PATH_MAX]; /* FW_SOCK_UNIX: absolute */
    char client_host[300];         /* FW_SOCK_TCP: where a client connects */
    static_entry_t *statics;
    size_t nstatics;
} pc_t;

/* ---- paths ------------------------------------------------------------- */

/*
 * base + "/" + path (path alone when absolute), with "." and ".."
 * resolved and repeated or trailing '/' removed, into out.  0, or -1 when
 * it does not fit.
 */
static int
path_join(char *out, size_t size, const char *base, const char *path)
{
    char joined[2 * PC_PATH_MAX + 2];
    size_t o = 0;
    const char *p;
    int n;

    n = path[0] == '/' ? snprintf(joined, sizeof(joined), "%s", path)
                       : snprintf(joined, sizeof(joined), "%s/%s", base, path);
    if (n < 0 || (size_t)n >= sizeof(joined)) {
        return -1;
    }
    for (p = joined; *p != '\0';) {
        size_t len;

        p += strspn(p, "/");
        len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.')) {
            p += len;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            if (o > 0) {
                o--;
            }
            p += len;
            continue;
        }
        if (o + len + 2 > size) {
            return -1;
        }
        out[o++] = '/';
        memcpy(out + o, p, len);
        o += len;
        p += len;
    }
    if (o == 0) {
        out[o++] = '/';
    }
    out[o] = '\0';
    return 0;
}

/* ---- quoting ----------------------------------------------------------- */

static bool
has_any(const char *s, const char *chars)
{
    return s[0] == '\0' || s[strcspn(s, chars)] != '\0';
}

/* A double-quoted string (lighttpd always; nginx, Apache when needed). */
static void
put_dquoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
    fputc('"', out);
}

/* nginx and Apache: double quotes when a value needs them. */
static void
put_quoted(FILE *out, const char *s)
{
    if (!has_any(s, " \t;{}\"'\\#")) {
        fputs(s, out);
        return;
    }
    put_dquoted(out, s);
}

/* A shell word (single quotes when needed), for the comments. */
static void
put_shell(FILE *out, const char *s)
{
    bool plain = s[0] != '\0';

    for (const char *p = s; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && strchr("_./:=@%+,-", *p) == NULL) {
            plain = false;
        }
    }
    if (plain) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s != '\0'; s++) {
        if (*s == '\'') {
            fputs("'\\''", out);
        } else {
            fputc(*s, out);
        }
    }
    fputc('\'', out);
}

/*
 * A word of a systemd Exec line: '%' (specifiers) and '$' (variables) are
 * doubled; double quotes when it holds blanks, quotes, backslashes, or is
 * ";" (the command separator).
 */
static void
put_systemd(FILE *out, const char *s)
{
    bool quote = has_any(s, " \t\"'\\") || strcmp(s, ";") == 0;

    if (quote) {
        fputc('"', out);
    }
    for (; *s != '\0'; s++) {
        if (*s == '%' || *s == '$') {
            fputc(*s, out);
        } else if (quote && (*s == '"' || *s == '\\')) {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
    if (quote) {
        fputc('"', out);
    }
}

/* Options that only print-config reads: never part of the command line. */
static const char *const skip_printing[] = {"print-config", "static-map",
                                            "callable", NULL};
/* ...and under socket activation, the socket is systemd's. */
static const char *const skip_systemd[] = {
    "print-config", "static-map",   "callable", "socket",
    "chmod-socket", "chown-socket", NULL};

/* "#   fcgi-wsgi --socket ... --module ..." */
static void
put_command_comment(pc_t *pc)
{
    fw_strlist_t a = {0};

    fw_conf_given_args(pc->c, skip_printing, &a);
    fputs("#   fcgi-wsgi", pc->out);
    for (size_t i = 0; i < a.n; i++) {
        fputc(' ', pc->out);
        put_shell(pc->out, a.items[i]);
    }
    fputc('\n', pc->out);
    fw_conf_strlist_free(&a);
}

static void
put_header(pc_t *pc, const char *target, const char *what)
{
    fprintf(pc->out,
            "# %s\n"
            "# Printed by `fcgi-wsgi --print-config %s` (fcgi-wsgi %s) "
            "for:\n",
            what, target, FW_VERSION);
    put_command_comment(pc);
    fputc('\n', pc->out);
}

/* ---- the web servers --------------------------------------------------- */

/* The mount prefix, or "" (none). */
static const char *
mount_of(const pc_t *pc)
{
    return pc->c->mount != NULL ? pc->c->mount : "";
}

/* "127.0.0.1:9000", "[::1]:9000" or "unix:/path" */
static void
put_nginx_upstream(pc_t *pc)
{
    char addr[PC_PATH_MAX + 16];

    if (pc->c->listen.kind == FW_SOCK_UNIX) {
        snprintf(addr, sizeof(addr), "unix:%s", pc->socket_path);
    } else {
        snprintf(addr, sizeof(addr), "%s:%d", pc->client_host,
                 pc->c->listen.port);
    }
    put_quoted(pc->out, addr);
}

static void
print_nginx(pc_t *pc)
{
    const char *mount = mount_of(pc);

    put_header(pc, "nginx",
               "nginx in front of fcgi-wsgi.  Put these lines inside your "
               "server { } block\n"
               "# (for example in /etc/nginx/sites-available/), then "
               "`nginx -t` and reload nginx.\n"
               "# The stock fastcgi_params send the whole path as "
               "SCRIPT_NAME; fcgi-wsgi moves it\n"
               "# to PATH_INFO (or splits it at the mount).");
    fputs("# Uploads: nginx refuses request bodies over 1 MiB unless told "
          "otherwise:\n"
          "# client_max_body_size 20m;\n\n",
          pc->out);
    for (size_t i = 0; i < pc->nstatics; i++) {
        const static_entry_t *e = &pc->statics[i];
        char path[PC_PATH_MAX + 2];

        if (e->is_file) {
            fputs("location = ", pc->out);
            put_quoted(pc->out, e->prefix);
            fputs(" {\n    alias ", pc->out);
            put_quoted(pc->out, e->dir);
        } else {
            snprintf(path, sizeof(path), "%s/", e->prefix);
            fputs("location ", pc->out);
            put_quoted(pc->out, path);
            fputs(" {\n    alias ", pc->out);
            snprintf(path, sizeof(path), "%s/", e->dir);
            put_quoted(pc->out, path);
        }
        fputs(";\n}\n\n", pc->out);
    }
    if (mount[0] != '\0') {
        char path[PC_PATH_MAX + 2];

        fputs("location = ", pc->out);
        put_quoted(pc->out, mount);
        snprintf(path, sizeof(path), "%s/", mount);
        fputs(" {\n    return 301 ", pc->out);
        put_quoted(pc->out, path);
        fputs(";\n}\n\nlocation ", pc->out);
        put_quoted(pc->out, path);
    } else {
        fputs("location /", pc->out);
    }
    fputs(" {\n    include fastcgi_params;\n    fastcgi_pass ", pc->out);
    put_nginx_upstream(pc);
    fputs(";\n}\n", pc->out);
}

/* s with the characters a regular expression treats specially escaped
 * by `escape` (the backslash as the config file writes it). */
static void
put_regex_literal(FILE *out, const char *s, const char *escape)
{
    for (; *s != '\0'; s++) {
        if (strchr(".^$*+?()[]{}|\\", *s) != NULL) {
            fputs(escape, out);
        }
        fputc(*s, out);
    }
}

static void
print_apache(pc_t *pc)
{
    const char *mount = mount_of(pc);
    char path[PC_PATH_MAX + 2];
    char target[3 * PC_PATH_MAX];

    put_header(pc, "apache",
               "Apache 2.4 in front of fcgi-wsgi (mod_proxy_fcgi).  Put "
               "these lines inside your\n"
               "# <VirtualHost> (for example in "
               "/etc/apache2/sites-available/), enable the modules\n"
               "# (`a2enmod proxy_fcgi alias`), then `apache2ctl "
               "configtest` and reload Apache.\n"
               "# mod_proxy_fcgi sends the whole path as SCRIPT_NAME; "
               "fcgi-wsgi moves it to\n"
               "# PATH_INFO (or splits it at the mount).");
    for (size_t i = 0; i < pc->nstatics; i++) {
        const static_entry_t *e = &pc->statics[i];

        if (e->is_file) {
            fputs("Alias ", pc->out);
            put_quoted(pc->out, e->prefix);
            fputc(' ', pc->out);
            put_quoted(pc->out, e->dir);
            fputs("\n<Location ", pc->out);
            put_quoted(pc->out, e->prefix);
            fputs(">\n    Require all granted\n</Location>\nProxyPass ",
                  pc->out);
            put_quoted(pc->out, e->prefix);
        } else {
            snprintf(path, sizeof(path), "%s/", e->prefix);
            fputs("Alias ", pc->out);
            put_quoted(pc->out, path);
            snprintf(path, sizeof(path), "%s/", e->dir);
            fputc(' ', pc->out);
            put_quoted(pc->out, path);
            fputs("\n<Directory ", pc->out);
            put_quoted(pc->out, path);
            fputs(">\n    Require all granted\n</Directory>\nProxyPass ",
                  pc->out);
            snprintf(path, sizeof(path), "%s/", e->prefix);
            put_quoted(pc->out, path);
        }
        fputs(" !\n\n", pc->out);
    }
    snprintf(path, sizeof(path), "%s/", mount);
    if (pc->c->listen.kind == FW_SOCK_UNIX) {
        snprintf(target, sizeof(target), "unix:%s|fcgi://localhost%s",
                 pc->socket_path, path);
    } else {
        snprintf(target, sizeof(target), "fcgi://%s:%d%s", pc->client_host,
                 pc->c->listen.port, path);
    }
    if (mount[0] != '\0') {
        fputs("RedirectMatch 301 ^", pc->out);
        put_regex_literal(pc->out, mount, "\\");
        fputs("$ ", pc->out);
        put_quoted(pc->out, path);
        fputc('\n', pc->out);
    }
    fputs("# CGIPassAuth: the Authorization header reaches the "
          "application.\n<Location ",
          pc->out);
    put_quoted(pc->out, path);
    fputs(">\n    CGIPassAuth On\n</Location>\nProxyPass ", pc->out);
    put_quoted(pc->out, path);
    fputc(' ', pc->out);
    put_quoted(pc->out, target);
    fputc('\n', pc->out);
}

static void
print_lighttpd(pc_t *pc)
{
    const char *mount = mount_of(pc);
    const char *in = pc->nstatics > 0 ? "    " : ""; /* in the condition */
    char path[PC_PATH_MAX + 2];

    put_header(pc, "lighttpd",
               "lighttpd in front of fcgi-wsgi.  Include this file from "
               "lighttpd.conf (for\n"
               "# example as /etc/lighttpd/conf-enabled/90-fcgi-wsgi.conf), "
               "with mod_fastcgi\n"
               "# and mod_alias in server.modules (`lighty-enable-mod "
               "fastcgi`), then\n"
               "# `lighttpd -tt -f /etc/lighttpd/lighttpd.conf` and reload "
               "lighttpd.");
    for (size_t i = 0; i < pc->nstatics; i++) {
        const static_entry_t *e = &pc->statics[i];

        fputs("alias.url += ( ", pc->out);
        if (e->is_file) {
            put_dquoted(pc->out, e->prefix);
            fputs(" => ", pc->out);
            put_dquoted(pc->out, e->dir);
        } else {
            snprintf(path, sizeof(path), "%s/", e->prefix);
            put_dquoted(pc->out, path);
            fputs(" => ", pc->out);
            snprintf(path, sizeof(path), "%s/", e->dir);
            put_dquoted(pc->out, path);
        }
        fputs(" )\n", pc->out);
    }
    if (pc->nstatics > 0) {
        /* the files are lighttpd's: they never go to the application */
        fputs("\n$HTTP[\"url\"] !~ \"^(", pc->out);
        for (size_t i = 0; i < pc->nstatics; i++) {
            const static_entry_t *e = &pc->statics[i];

            fputs(i > 0 ? "|" : "", pc->out);
            put_regex_literal(pc->out, e->prefix, "\\\\");
            fputs(e->is_file ? "$" : "/", pc->out);
        }
        fputs(")\" {\n", pc->out);
    }
    fprintf(pc->out, "%sfastcgi.server += ( ", in);
    put_dquoted(pc->out, mount[0] != '\0' ? mount : "/");
    fputs(" => ( (\n", pc->out);
    if (pc->c->listen.kind == FW_SOCK_UNIX) {
        fprintf(pc->out, "%s    \"socket\" => ", in);
        put_dquoted(pc->out, pc->socket_path);
        fputs(",\n", pc->out);
    } else {
        char host[sizeof(pc->client_host)];

        /* lighttpd wants an IPv6 address without its brackets */
        snprintf(
            host, sizeof(host), "%.*s",
            (int)strcspn(pc->client_host + (pc->client_host[0] == '['), "]"),
            pc->client_host + (pc->client_host[0] == '['));
        fprintf(pc->out, "%s    \"host\" => ", in);
        put_dquoted(pc->out, host);
        fprintf(pc->out, ",\n%s    \"port\" => %d,\n", in, pc->c->listen.port);
    }
    fprintf(pc->out, "%s    \"check-local\" => \"disable\"", in);
    if (mount[0] == '\0') {
        /* "/" as SCRIPT_NAME + the rest as PATH_INFO, not a file name */
        fprintf(pc->out, ",\n%s    \"fix-root-scriptname\" => \"enable\"", in);
    }
    fprintf(pc->out, "\n%s) ) )\n", in);
    if (pc->nstatics > 0) {
        fputs("}\n", pc->out);
    }
}

/* ---- systemd ----------------------------------------------------------- */

static void
print_systemd_service(pc_t *pc)
{
    char exe[PC_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    fw_strlist_t a = {0};

    exe[n > 0 ? (size_t)n : 0] = '\0';
    if (n <= 0) {
        snprintf(exe, sizeof(exe), "/usr/local/bin/fcgi-wsgi");
    }
    put_header(pc, "systemd",
               "systemd: fcgi-wsgi as a service, started by the socket of "
               "the same name.  Save\n"
               "# as /etc/systemd/system/NAME.service, and `fcgi-wsgi "
               "--print-config systemd-socket`\n"
               "# as NAME.socket; then `systemctl daemon-reload && systemctl "
               "enable --now NAME.socket`.");
    fprintf(pc->out,
            "[Unit]\n"
            "Description=fcgi-wsgi: %s\n"
            "Requires=%%N.socket\n"
            "After=%%N.socket network.target\n"
            "\n"
            "[Service]\n"
            "# READY=1 once the workers accept, RELOADING=1 on reload, "
            "STOPPING=1 on stop.\n"
            "# NotifyAccess=main (the default) is right: only fcgi-wsgi's "
            "main process\n"
            "# (the master) notifies; workers and the application's "
            "children never do.\n"
            "Type=notify\n"
            "WorkingDirectory=",
            pc->c->module);
    put_systemd(pc->out, pc->cwd);
    fputs("\nExecStart=", pc->out);
    put_systemd(pc->out, exe);
    fw_conf_given_args(pc->c, skip_systemd, &a);
    for (size_t i = 0; i < a.n; i++) {
        fputc(' ', pc->out);
        put_systemd(pc->out, a.items[i]);
    }
    fw_conf_strlist_free(&a);
    fprintf(pc->out,
            "\n"
            "ExecReload=/bin/kill -HUP $MAINPID\n"
            "# SIGTERM: finish the running requests (up to %d s), then "
            "exit.\n"
            "KillSignal=SIGTERM\n"
            "TimeoutStopSec=%d\n"
            "Restart=on-failure\n",
            pc->c->worker_shutdown_timeout,
            pc->c->worker_shutdown_timeout + 15);
    if (pc->c->uid == NULL && !pc->c->allow_root) {
        fputs("# fcgi-wsgi refuses to serve as root: set the user here (or "
              "uid =, or\n"
              "# allow-root = true to run as root anyway)\n"
              "# User=www-data\n"
              "# Group=www-data\n",
              pc->out);
    }
    fputs("\n[Install]\nWantedBy=multi-user.target\n", pc->out);
}

static void
print_systemd_socket(pc_t *pc)
{
    const fw_conf_t *c = pc->c;

    put_header(pc, "systemd-socket",
               "systemd: the listening socket of fcgi-wsgi, passed to the "
               "service of the same\n"
               "# name (socket activation: restarts and reloads lose no "
               "connection).  Save as\n"
               "# /etc/systemd/system/NAME.socket next to NAME.service "
               "(`fcgi-wsgi --print-config\n"
               "# systemd`).");
    fprintf(pc->out,
            "[Unit]\n"
            "Description=fcgi-wsgi socket: %s\n"
            "\n"
            "[Socket]\n"
            "ListenStream=",
            c->module);
    if (c->listen.kind == FW_SOCK_UNIX) {
        put_systemd(pc->out, pc->socket_path);
        fprintf(pc->out, "\nSocketMode=%04o\n", c->chmod_socket);
        if (c->chown_socket != NULL) {
            char owner[256];
            const char *colon = strchr(c->chown_socket, ':');

            snprintf(owner, sizeof(owner), "%.*s",
                     colon != NULL ? (int)(colon - c->chown_socket) : 255,
                     c->chown_socket);
            fputs("SocketUser=", pc->out);
            put_systemd(pc->out, owner);
            fputc('\n', pc->out);
            if (colon != NULL) {
                fputs("SocketGroup=", pc->out);
                put_systemd(pc->out, colon + 1);
                fputc('\n', pc->out);
            }
        } else {
            fputs("# the web server's group, so that it may connect "
                  "(Debian: www-data)\n"
                  "SocketGroup=www-data\n",
                  pc->out);
        }
    } else if (strchr(c->listen.host, ':') != NULL) {
        fprintf(pc->out, "[%s]:%d\n", c->listen.host, c->listen.port);
    } else {
        fprintf(pc->out, "%s:%d\n", c->listen.host, c->listen.port);
    }
    fputs("\n[Install]\nWantedBy=sockets.target\n", pc->out);
}

/* ---- the whole --------------------------------------------------------- */

/* Fills pc's paths and static entries.  0, or -1 after printing a line. */
static int
pc_prepare(pc_t *pc)
{
    const fw_conf_t *c = pc->c;

    if (getcwd(pc->cwd, sizeof(pc->cwd)) == NULL ||
        path_join(pc->app_dir, sizeof(pc->app_dir), pc->cwd,
                  c->chdir != NULL ? c->chdir : ".") < 0) {
        fprintf(pc->err, "fcgi-wsgi: --print-config: the directory's path "
                         "is too long\n");
        return -1;
    }
    if (c->listen.kind == FW_SOCK_UNIX &&
        path_join(pc->socket_path, sizeof(pc->socket_path), pc->app_dir,
                  c->listen.path) < 0) {
        fprintf(pc->err, "fcgi-wsgi: --print-config: socket path too long\n");
        return -1;
    }
    if (c->listen.kind == FW_SOCK_TCP) {
        const char *host = c->listen.host;

        if (strcmp(host, "0.0.0.0") == 0) {
            host = "127.0.0.1"; /* every interface: connect locally */
        } else if (strcmp(host, "::") == 0) {
            host = "::1";
        }
        snprintf(pc->client_host, sizeof(pc->client_host),
                 strchr(host, ':') != NULL ? "[%s]" : "%s", host);
    }
    pc->statics = calloc(c->static_map.n + 1, sizeof(pc->statics[0]));
    if (pc->statics == NULL) {
        fprintf(pc->err, "fcgi-wsgi: --print-config: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < c->static_map.n; i++) {
        static_entry_t *e = &pc->statics[pc->nstatics];
        const char *item = c->static_map.items[i];
        const char *eq = strchr(item, '=');
        size_t len = (size_t)(eq - item);
        struct stat sb;

        while (len > 1 && item[len - 1] == '/') {
            len--;
        }
        snprintf(e->prefix, sizeof(e->prefix), "%.*s", (int)len, item);
        if (path_join(e->dir, sizeof(e->dir), pc->app_dir, eq + 1) < 0) {
            fprintf(pc->err, "fcgi-wsgi: static-map: path too long\n");
            return -1;
        }
        e->is_file = stat(e->dir, &sb) == 0 && S_ISREG(sb.st_mode);
        pc->nstatics++;
    }
    return 0;
}

int
fw_print_config(const fw_conf_t *c, FILE *out, FILE *err)
{
    pc_t pc;
    int rc = 0;

    memset(&pc, 0, sizeof(pc));
    pc.c = c;
    pc.out = out;
    pc.err = err;
    if (c->listen.kind == FW_SOCK_NONE) {
        fprintf(err,
                "fcgi-wsgi: --print-config %s needs socket = unix:PATH or "
                "HOST:PORT: %s\n",
                c->print_config,
                c->print_target >= FW_PRINT_SYSTEMD
                    ? "where systemd listens for fcgi-wsgi"
                    : "where the web server connects to fcgi-wsgi");
        return -1;
    }
    if (pc_prepare(&pc) < 0) {
        free(pc.statics);
        return -1;
    }
    switch (c->print_target) {
    case FW_PRINT_NGINX:
        print_nginx(&pc);
        break;
    case FW_PRINT_APACHE:
        print_apache(&pc);
        break;
    case FW_PRINT_LIGHTTPD:
        print_lighttpd(&pc);
        break;
    case FW_PRINT_SYSTEMD:
        print_systemd_service(&pc);
        break;
    case FW_PRINT_SYSTEMD_SOCKET:
        print_systemd_socket(&pc);
        break;
    default:
        rc = -1; /* FW_PRINT_NONE: nothing asked */
        break;
    }
    free(pc.statics);
    return rc;
}
