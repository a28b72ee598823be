/*
 * print_int.h: what the files of deploy/ share with each other and with
 * nobody else: the facts every target needs, worked out once
 * (print_config.c), and the renderers of each family of targets
 * (print_web.c, print_systemd.c).  The room's API is print_config.h.
 */
#ifndef FW_PRINT_INT_H
#define FW_PRINT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"

#define FW_PRINT_PATH_MAX 4096

/* One static-map entry, made absolute and without trailing slashes. */
typedef struct {
    char prefix[FW_PRINT_PATH_MAX]; /* "/static" ("" never: checked) */
    char dir[FW_PRINT_PATH_MAX];    /* "/srv/app/static", or a file's path */
    bool is_file;                   /* DIR names a file: an exact URL */
    /* as an alias takes them: "/static/" and "/srv/app/static/" for a
       directory, prefix and dir as they are for a file */
    char url[FW_PRINT_PATH_MAX + 2];
    char path[FW_PRINT_PATH_MAX + 2];
} fw_print_static_t;

/* What every target needs, worked out once. */
typedef struct {
    const fw_conf_t *c;
    FILE *out;
    FILE *err;
    char app_dir[FW_PRINT_PATH_MAX]; /* chdir made absolute (or the cwd) */
    char cwd[FW_PRINT_PATH_MAX];
    char socket_path[FW_PRINT_PATH_MAX]; /* FW_SOCK_UNIX: absolute */
    char client_host[300]; /* FW_SOCK_TCP: where a client connects */
    char client_addr[300]; /* ...the same without [ ] (IPv6) */
    fw_print_static_t *statics;
    size_t nstatics;
} fw_print_ctx_t;

/* ---- print_config.c: paths and words --------------------------------- */

/*
 * base + "/" + path (path alone when absolute), with "." and ".."
 * resolved and repeated or trailing '/' removed, into out.  0, or -1 when
 * it does not fit.
 */
int fw_print_path_join(char *out, size_t size, const char *base,
                       const char *path);

/* s is empty or holds one of chars: it needs quotes. */
bool fw_print_has_any(const char *s, const char *chars);

/* ---- print_web.c: the web servers' configs ---------------------------- */

void fw_print_web_nginx(fw_print_ctx_t *pc);
void fw_print_web_apache(fw_print_ctx_t *pc);
void fw_print_web_lighttpd(fw_print_ctx_t *pc);
void fw_print_web_caddy(fw_print_ctx_t *pc);
void fw_print_web_h2o(fw_print_ctx_t *pc);

/* ---- print_systemd.c: systemd's units --------------------------------- */

void fw_print_systemd_service(fw_print_ctx_t *pc);
void fw_print_systemd_socket(fw_print_ctx_t *pc);

#endif /* FW_PRINT_INT_H */
