/*
 * print_config.c: --print-config (deploy/: how fcgi-wsgi is deployed
 * behind a web server or under systemd).  The targets' table and what
 * every target needs, worked out once (paths made absolute, static-map
 * entries, the address a client connects to); each target's text is
 * printed by its family's file (print_web.c, print_systemd.c).  The
 * options given are written back as a command line (table order,
 * canonical names), so that the text says how fcgi-wsgi itself runs.
 * Only formatting: the one thing read from the system is whether a
 * static-map target is a file.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/print_config.h"
#include "deploy/print_int.h"

/* ---- paths ------------------------------------------------------------- */

/*
 * base + "/" + path (path alone when absolute), with "." and ".."
 * resolved and repeated or trailing '/' removed, into out.  0, or -1 when
 * it does not fit.
 */
int
fw_print_path_join(char *out, size_t size, const char *base, const char *path)
{
    char joined[2 * FW_PRINT_PATH_MAX + 2];
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

bool
fw_print_has_any(const char *s, const char *chars)
{
    return s[0] == '\0' || s[strcspn(s, chars)] != '\0';
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

/* Options that only print-config reads: never part of the command line. */
static const char *const skip_printing[] = {"print-config", "static-map",
                                            "callable", "test-config", NULL};

/* "#   fcgi-wsgi --socket ... --module ..." */
static void
put_command_comment(fw_print_ctx_t *pc)
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

/* ---- the targets ------------------------------------------------------- */

/* One --print-config target: its renderer and the comment above it. */
typedef struct {
    const char *name;  /* as --print-config takes it */
    const char *about; /* the first lines of the comment, without the
                          first "# " */
    const char *needs; /* what the socket option is to it */
    void (*print)(fw_print_ctx_t *pc);
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
         FOR_WEB_SERVER, fw_print_web_nginx},
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
         FOR_WEB_SERVER, fw_print_web_apache},
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
         FOR_WEB_SERVER, fw_print_web_lighttpd},
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
         FOR_WEB_SERVER, fw_print_web_caddy},
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
         FOR_WEB_SERVER, fw_print_web_h2o},
    [FW_PRINT_SYSTEMD] = {"systemd",
                          "systemd: fcgi-wsgi as a service.  Save as "
                          "/etc/systemd/system/NAME.service.",
                          FOR_SYSTEMD, fw_print_systemd_service},
    [FW_PRINT_SYSTEMD_SOCKET] =
        {"systemd-socket",
         "systemd: the listening socket of fcgi-wsgi, passed to the "
         "service of the same\n"
         "# name (socket activation: restarts and reloads lose no "
         "connection).  Save as\n"
         "# /etc/systemd/system/NAME.socket next to NAME.service "
         "(`fcgi-wsgi --print-config\n"
         "# systemd`).",
         FOR_SYSTEMD, fw_print_systemd_socket},
};

/* ---- the whole --------------------------------------------------------- */

/* Fills pc's paths and static entries.  0, or -1 after printing a line. */
static int
pc_prepare(fw_print_ctx_t *pc)
{
    const fw_conf_t *c = pc->c;

    if (getcwd(pc->cwd, sizeof(pc->cwd)) == NULL ||
        fw_print_path_join(pc->app_dir, sizeof(pc->app_dir), pc->cwd,
                           c->chdir != NULL ? c->chdir : ".") < 0) {
        fprintf(pc->err, "fcgi-wsgi: --print-config: the directory's path "
                         "is too long\n");
        return -1;
    }
    if (c->listen.kind == FW_SOCK_UNIX &&
        fw_print_path_join(pc->socket_path, sizeof(pc->socket_path),
                           pc->app_dir, c->listen.path) < 0) {
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
        fw_print_static_t *e = &pc->statics[pc->nstatics];
        const char *item = c->static_map.items[i];
        const char *eq = strchr(item, '=');
        size_t len = (size_t)(eq - item);
        const char *slash;
        struct stat sb;

        while (len > 1 && item[len - 1] == '/') {
            len--;
        }
        snprintf(e->prefix, sizeof(e->prefix), "%.*s", (int)len, item);
        if (fw_print_path_join(e->dir, sizeof(e->dir), pc->app_dir, eq + 1) <
            0) {
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
    fw_print_ctx_t pc;

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
