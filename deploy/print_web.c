/*
 * print_web.c: --print-config for the web servers in front of fcgi-wsgi:
 * nginx, Apache, lighttpd, Caddy and H2O, each a function that prints the
 * lines to put in the server's config, from what print_config.c worked
 * out.  Only formatting: it reads nothing from the system.
 */
#include <stdbool.h>
#include <string.h>

#include "deploy/print_int.h"

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
    if (!fw_print_has_any(s, " \t;{}\"'\\#")) {
        fputs(s, out);
        return;
    }
    put_dquoted(out, s);
}

/* The mount prefix, or "" (none). */
static const char *
mount_of(const fw_print_ctx_t *pc)
{
    return pc->c->mount != NULL ? pc->c->mount : "";
}

/*
 * fcgi-wsgi's address as a web server names its upstream: unix_prefix and
 * the socket's path ("unix:/run/app.sock"), or HOST:PORT ("[::1]:9000").
 */
static void
put_upstream(fw_print_ctx_t *pc, const char *unix_prefix)
{
    char addr[FW_PRINT_PATH_MAX + 16];

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
put_nginx_pass(fw_print_ctx_t *pc)
{
    fputs("    include fastcgi_params;\n    fastcgi_pass ", pc->out);
    put_upstream(pc, "unix:");
    fputs(";\n}\n", pc->out);
}

void
fw_print_web_nginx(fw_print_ctx_t *pc)
{
    const char *mount = mount_of(pc);

    fputs("# Uploads: nginx refuses request bodies over 1 MiB unless told "
          "otherwise:\n"
          "# client_max_body_size 20m;\n\n"
          "# Faster: nginx may keep its connections to fcgi-wsgi open "
          "(twice the\n# small requests a second in make bench). In the "
          "http { } block:\n#   upstream fcgi_wsgi { server ",
          pc->out);
    put_upstream(pc, "unix:");
    fputs("; keepalive 64; }\n# and in the locations below: "
          "fastcgi_pass fcgi_wsgi; fastcgi_keep_conn on;\n\n",
          pc->out);
    for (size_t i = 0; i < pc->nstatics; i++) {
        const fw_print_static_t *e = &pc->statics[i];

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
        char path[FW_PRINT_PATH_MAX + 2];

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

void
fw_print_web_apache(fw_print_ctx_t *pc)
{
    const char *mount = mount_of(pc);
    char path[FW_PRINT_PATH_MAX + 2];
    char target[3 * FW_PRINT_PATH_MAX];

    for (size_t i = 0; i < pc->nstatics; i++) {
        const fw_print_static_t *e = &pc->statics[i];
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

void
fw_print_web_lighttpd(fw_print_ctx_t *pc)
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
            const fw_print_static_t *e = &pc->statics[i];

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
put_caddy_static(fw_print_ctx_t *pc, const fw_print_static_t *e)
{
    char text[FW_PRINT_PATH_MAX + 4];
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

void
fw_print_web_caddy(fw_print_ctx_t *pc)
{
    const char *mount = mount_of(pc);
    char text[FW_PRINT_PATH_MAX + 16];

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

void
fw_print_web_h2o(fw_print_ctx_t *pc)
{
    const char *mount = mount_of(pc);

    fputs("paths:\n", pc->out);
    for (size_t i = 0; i < pc->nstatics; i++) {
        const fw_print_static_t *e = &pc->statics[i];

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
