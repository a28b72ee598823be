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
    /* as an alias takes them: "/static/" and "/srv/app/static/" for a
       directory, prefix and dir as they are for a file */
    char url[PC_PATH_MAX + 2];
    char path[PC_PATH_MAX + 2];
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
    char client_addr[300];         /* ...the same without [ ] (IPv6) */
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
                                            "callable", "test-config", NULL};
/* ...and under systemd, the socket is systemd's (socket activation) and
 * the working directory is the chdir. */
static const char *const skip_systemd[] = {
    "print-config", "static-map", "callable",    "socket", "chmod-socket",
    "chown-socket", "chdir",      "test-config", NULL};

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

/* The mount prefix, or "" (none). */
static const char *
mount_of(const pc_t *pc)
{
    return pc->c->mount != NULL ? pc->c->mount : "";
}

/*
 * fcgi-wsgi's address as a web server names its upstream: unix_prefix and
 * the socket's path ("unix:/run/app.sock"), or HOST:PORT ("[::1]:9000").
 */
static void
put_upstream(pc_t *pc, const char *unix_prefix)
{
    char addr[PC_PATH_MAX + 16];

    if (pc->c->listen.kind == FW_SOCK_UNIX) {
        snprintf(addr, sizeof(addr), "%s%s", unix_prefix, pc->socket_path);
    } else {
        snprintf(addr, sizeof(addr), "%s:%d", pc->client_host,
                 pc->c->listen.port);
    }
    put_quoted(pc->out, addr);
}

/* ---- nginx ------------------------------------------------------------- */

/* The end of a location that goes to fcgi-wsgi. */
static void
put_nginx_pass(pc_t *pc)
{
    fputs("    include fastcgi_params;\n    fastcgi_pass ", pc->out);
    put_upstream(pc, "unix:");
    fputs(";\n}\n", pc->out);
}

static void
print_nginx(pc_t *pc)
{
    const char *mount = mount_of(pc);

    fputs("# Uploads: nginx refuses request bodies over 1 MiB unless told "
          "otherwise:\n"
          "# client_max_body_size 20m;\n\n",
          pc->out);
    for (size_t i = 0; i < pc->nstatics; i++) {
        const static_entry_t *e = &pc->statics[i];

        fputs(e->is_file ? "location = " : "location ", pc->out);
        put_quoted(pc->out, e->url);
        fputs(" {\n    alias ", pc->out);
        put_quoted(pc->out, e->path);
        fputs(";\n}\n\n", pc->out);
    }
    if (pc->c->status_path != NULL) {
        fputs("# fcgi-wsgi's status page, for this machine only\n"
              "location = ",
              pc->out);
        put_quoted(pc->out, pc->c->status_path);
        fputs(" {\n    allow 127.0.0.1;\n    allow ::1;\n    deny all;\n",
              pc->out);
        put_nginx_pass(pc);
        fputc('\n', pc->out);
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
    fputs(" {\n", pc->out);
    put_nginx_pass(pc);
}

/* ---- Apache ------------------------------------------------------------ */

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

    for (size_t i = 0; i < pc->nstatics; i++) {
        const static_entry_t *e = &pc->statics[i];
        /* a file's URL is granted; a directory's files are */
        const char *block = e->is_file ? "Location" : "Directory";

        fputs("Alias ", pc->out);
        put_quoted(pc->out, e->url);
        fputc(' ', pc->out);
        put_quoted(pc->out, e->path);
        fprintf(pc->out, "\n<%s ", block);
        put_quoted(pc->out, e->is_file ? e->url : e->path);
        fprintf(pc->out, ">\n    Require all granted\n</%s>\nProxyPass ",
                block);
        put_quoted(pc->out, e->url);
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

/* ---- lighttpd ---------------------------------------------------------- */

static void
print_lighttpd(pc_t *pc)
{
    const char *mount = mount_of(pc);
    const char *in = pc->nstatics > 0 ? "    " : ""; /* in the condition */

    for (size_t i = 0; i < pc->nstatics; i++) {
        fputs("alias.url += ( ", pc->out);
        put_dquoted(pc->out, pc->statics[i].url);
        fputs(" => ", pc->out);
        put_dquoted(pc->out, pc->statics[i].path);
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
        /* lighttpd wants an IPv6 address without its brackets */
        fprintf(pc->out, "%s    \"host\" => ", in);
        put_dquoted(pc->out, pc->client_addr);
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

/* ---- Caddy ------------------------------------------------------------- */

/*
 * A static-map entry as a Caddy route: a directory's prefix stripped
 * (handle_path) before its files are looked up under it; a file's one
 * URL rewritten to the file's name in its directory.
 */
static void
put_caddy_static(pc_t *pc, const static_entry_t *e)
{
    char text[PC_PATH_MAX + 4];
    const char *slash = strrchr(e->dir, '/'); /* absolute: never NULL */

    if (e->is_file) {
        fputs("handle ", pc->out);
        put_quoted(pc->out, e->prefix);
        snprintf(text, sizeof(text), "%.*s",
                 slash > e->dir ? (int)(slash - e->dir) : 1, e->dir);
    } else {
        snprintf(text, sizeof(text), "%s*", e->url);
        fputs("handle_path ", pc->out);
        put_quoted(pc->out, text);
        snprintf(text, sizeof(text), "%s", e->dir);
    }
    fputs(" {\n\troot * ", pc->out);
    put_quoted(pc->out, text);
    if (e->is_file) {
        fputs("\n\trewrite * ", pc->out);
        put_quoted(pc->out, slash);
    }
    fputs("\n\tfile_server\n}\n\n", pc->out);
}

static void
print_caddy(pc_t *pc)
{
    const char *mount = mount_of(pc);
    char text[PC_PATH_MAX + 16];

    for (size_t i = 0; i < pc->nstatics; i++) {
        put_caddy_static(pc, &pc->statics[i]);
    }
    if (mount[0] != '\0') {
        snprintf(text, sizeof(text), "%s/", mount);
        fputs("redir ", pc->out);
        put_quoted(pc->out, mount);
        fputc(' ', pc->out);
        put_quoted(pc->out, text);
        fputs(" 301\n", pc->out);
        snprintf(text, sizeof(text), "%s/*", mount);
        fputs("handle ", pc->out);
        put_quoted(pc->out, text);
        fputs(" {\n", pc->out);
    } else {
        fputs("handle {\n", pc->out);
    }
    fputs("\treverse_proxy ", pc->out);
    put_upstream(pc, "unix/");
    /* flush_interval -1: a streamed response is not held in Caddy's
       buffer */
    fputs(" {\n\t\ttransport fastcgi\n\t\tflush_interval -1\n\t}\n}\n",
          pc->out);
}

/* ---- H2O --------------------------------------------------------------- */

static void
print_h2o(pc_t *pc)
{
    const char *mount = mount_of(pc);

    fputs("paths:\n", pc->out);
    for (size_t i = 0; i < pc->nstatics; i++) {
        const static_entry_t *e = &pc->statics[i];

        fputs("  ", pc->out);
        put_dquoted(pc->out, e->prefix);
        fputs(e->is_file ? ":\n    file.file: " : ":\n    file.dir: ",
              pc->out);
        put_dquoted(pc->out, e->dir);
        fputc('\n', pc->out);
    }
    fputs("  ", pc->out);
    put_dquoted(pc->out, mount[0] != '\0' ? mount : "/");
    fputs(":\n    fastcgi.connect:\n", pc->out);
    if (pc->c->listen.kind == FW_SOCK_UNIX) {
        /* H2O's name for a unix socket's path is "port" */
        fputs("      port: ", pc->out);
        put_dquoted(pc->out, pc->socket_path);
        fputs("\n      type: unix\n", pc->out);
    } else {
        fputs("      host: ", pc->out);
        put_dquoted(pc->out, pc->client_addr);
        fprintf(pc->out, "\n      port: %d\n      type: tcp\n",
                pc->c->listen.port);
    }
}

/* ---- systemd ----------------------------------------------------------- */

/*
 * The words after ExecStart's program: with ini files, the files (absolute)
 * and a relative chdir made absolute, since the service starts in the
 * chdir; else the options given, with logto (opened before the chdir)
 * made absolute.
 */
static void
put_systemd_args(pc_t *pc)
{
    const fw_conf_t *c = pc->c;
    fw_strlist_t a = {0};
    char path[PC_PATH_MAX];

    if (c->ini_files.n > 0) {
        for (size_t i = 0; i < c->ini_files.n; i++) {
            fputs(" --ini ", pc->out);
            put_systemd(pc->out, path_join(path, sizeof(path), pc->cwd,
                                           c->ini_files.items[i]) == 0
                                     ? path
                                     : c->ini_files.items[i]);
        }
        if (c->chdir != NULL && c->chdir[0] != '/') {
            fputs(" --chdir ", pc->out);
            put_systemd(pc->out, pc->app_dir);
        }
        return;
    }
    fw_conf_given_args(c, skip_systemd, &a);
    for (size_t i = 0; i < a.n; i++) {
        const char *word = a.items[i];

        if (i > 0 && strcmp(a.items[i - 1], "--logto") == 0 &&
            path_join(path, sizeof(path), pc->cwd, word) == 0) {
            word = path;
        }
        fputc(' ', pc->out);
        put_systemd(pc->out, word);
    }
    fw_conf_strlist_free(&a);
}

static void
print_systemd_service(pc_t *pc)
{
    bool with_ini = pc->c->ini_files.n > 0;
    char exe[PC_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    exe[n > 0 ? (size_t)n : 0] = '\0';
    if (n <= 0) {
        snprintf(exe, sizeof(exe), "/usr/local/bin/fcgi-wsgi");
    }
    if (with_ini) {
        fputs("# It runs the ini file as it is: fcgi-wsgi binds the ini's "
              "socket itself (no\n"
              "# .socket unit), and `systemctl reload` (SIGHUP) reads the "
              "file again.  Options\n"
              "# given on the command line next to the ini file are not "
              "part of ExecStart:\n"
              "# put them in the file.  `systemctl daemon-reload && "
              "systemctl enable --now\n"
              "# NAME.service`.\n",
              pc->out);
    } else {
        fputs("# Socket activation: started by the socket of the same name "
              "(`fcgi-wsgi\n"
              "# --print-config systemd-socket` as NAME.socket); then "
              "`systemctl daemon-reload\n"
              "# && systemctl enable --now NAME.socket`.\n",
              pc->out);
    }
    fprintf(pc->out,
            "[Unit]\n"
            "Description=fcgi-wsgi: %s\n"
            "%s"
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
            pc->c->module,
            with_ini ? "After=network.target\n"
                     : "Requires=%N.socket\nAfter=%N.socket network.target\n");
    put_systemd(pc->out, pc->app_dir);
    fputs("\nExecStart=", pc->out);
    put_systemd(pc->out, exe);
    put_systemd_args(pc);
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

/* ---- the targets ------------------------------------------------------- */

/* One --print-config target: its renderer and the comment above it. */
typedef struct {
    const char *name;  /* as --print-config takes it */
    const char *about; /* the first lines of the comment, without the
                          first "# " */
    const char *needs; /* what the socket option is to it */
    void (*print)(pc_t *pc);
} target_t;

#define FOR_WEB_SERVER "where the web server connects to fcgi-wsgi"
#define FOR_SYSTEMD "where systemd listens for fcgi-wsgi"

static const target_t targets[] = {
    [FW_PRINT_NGINX] =
        {"nginx",
         "nginx in front of fcgi-wsgi.  Put these lines inside your "
         "server { } block\n"
         "# (for example in /etc/nginx/sites-available/), then "
         "`nginx -t` and reload nginx.\n"
         "# The stock fastcgi_params send the whole path as "
         "SCRIPT_NAME; fcgi-wsgi moves it\n"
         "# to PATH_INFO (or splits it at the mount).",
         FOR_WEB_SERVER, print_nginx},
    [FW_PRINT_APACHE] =
        {"apache",
         "Apache 2.4 in front of fcgi-wsgi (mod_proxy_fcgi).  Put "
         "these lines inside your\n"
         "# <VirtualHost> (for example in "
         "/etc/apache2/sites-available/), enable the modules\n"
         "# (`a2enmod proxy_fcgi alias`), then `apache2ctl "
         "configtest` and reload Apache.\n"
         "# mod_proxy_fcgi sends the whole path as SCRIPT_NAME; "
         "fcgi-wsgi moves it to\n"
         "# PATH_INFO (or splits it at the mount).",
         FOR_WEB_SERVER, print_apache},
    [FW_PRINT_LIGHTTPD] =
        {"lighttpd",
         "lighttpd in front of fcgi-wsgi.  Include this file from "
         "lighttpd.conf (for\n"
         "# example as /etc/lighttpd/conf-enabled/90-fcgi-wsgi.conf), "
         "with mod_fastcgi\n"
         "# and mod_alias in server.modules (`lighty-enable-mod "
         "fastcgi`), then\n"
         "# `lighttpd -tt -f /etc/lighttpd/lighttpd.conf` and reload "
         "lighttpd.",
         FOR_WEB_SERVER, print_lighttpd},
    [FW_PRINT_CADDY] =
        {"caddy",
         "Caddy 2 in front of fcgi-wsgi (reverse_proxy, transport "
         "fastcgi).  Put these\n"
         "# lines inside your site block (example.com { } in "
         "/etc/caddy/Caddyfile) or\n"
         "# `import` this file there, then `caddy validate --config "
         "/etc/caddy/Caddyfile`\n"
         "# and reload Caddy.  Caddy sends the whole path as PATH_INFO "
         "(fcgi-wsgi splits\n"
         "# it at the mount) and a chunked upload with CONTENT_LENGTH -1 "
         "(fcgi-wsgi reads\n"
         "# it to its end and gives the application its length).",
         FOR_WEB_SERVER, print_caddy},
    [FW_PRINT_H2O] =
        {"h2o",
         "H2O in front of fcgi-wsgi (fastcgi.connect).  These lines are "
         "a host's\n"
         "# settings: put them under your host in /etc/h2o/h2o.conf, "
         "indented, or include\n"
         "# this file there as the host's value:\n"
         "#   hosts:\n"
         "#     \"example.com:80\": !file /etc/h2o/fcgi-wsgi.conf\n"
         "# then `h2o -t -c /etc/h2o/h2o.conf` and reload H2O.  H2O sends "
         "the whole path\n"
         "# as PATH_INFO (fcgi-wsgi splits it at the mount).",
         FOR_WEB_SERVER, print_h2o},
    [FW_PRINT_SYSTEMD] = {"systemd",
                          "systemd: fcgi-wsgi as a service.  Save as "
                          "/etc/systemd/system/NAME.service.",
                          FOR_SYSTEMD, print_systemd_service},
    [FW_PRINT_SYSTEMD_SOCKET] =
        {"systemd-socket",
         "systemd: the listening socket of fcgi-wsgi, passed to the "
         "service of the same\n"
         "# name (socket activation: restarts and reloads lose no "
         "connection).  Save as\n"
         "# /etc/systemd/system/NAME.socket next to NAME.service "
         "(`fcgi-wsgi --print-config\n"
         "# systemd`).",
         FOR_SYSTEMD, print_systemd_socket},
};

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
        snprintf(pc->client_addr, sizeof(pc->client_addr), "%s", host);
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
        const char *slash;
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
        slash = e->is_file ? "" : "/";
        snprintf(e->url, sizeof(e->url), "%s%s", e->prefix, slash);
        snprintf(e->path, sizeof(e->path), "%s%s", e->dir, slash);
        pc->nstatics++;
    }
    return 0;
}

int
fw_print_config(const fw_conf_t *c, FILE *out, FILE *err)
{
    const target_t *t;
    pc_t pc;

    if (c->print_target <= FW_PRINT_NONE ||
        (size_t)c->print_target >= sizeof(targets) / sizeof(targets[0])) {
        return -1; /* nothing asked */
    }
    t = &targets[c->print_target];
    if (c->listen.kind == FW_SOCK_NONE) {
        fprintf(err,
                "fcgi-wsgi: --print-config %s needs socket = unix:PATH or "
                "HOST:PORT: %s\n",
                t->name, t->needs);
        return -1;
    }
    memset(&pc, 0, sizeof(pc));
    pc.c = c;
    pc.out = out;
    pc.err = err;
    if (pc_prepare(&pc) < 0) {
        free(pc.statics);
        return -1;
    }
    fprintf(out,
            "# %s\n"
            "# Printed by `fcgi-wsgi --print-config %s` (fcgi-wsgi %s) "
            "for:\n",
            t->about, t->name, FW_VERSION);
    put_command_comment(&pc);
    fputc('\n', out);
    t->print(&pc);
    free(pc.statics);
    return 0;
}
