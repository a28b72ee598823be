/*
 * startup.h: what a start tells the operator: --version's lines, and the
 * start-up block that the master logs once per image (and -t prints):
 * the version, the socket with its owner and mode, the Python and its
 * prefix, the application and where it is imported, the pool, the user.
 * It reports; it checks, opens and changes nothing.
 */
#ifndef FW_STARTUP_H
#define FW_STARTUP_H

#include <stdio.h>
#include <sys/types.h>

#include "conf/conf.h"

/* What the block says; everything else comes from conf. */
typedef struct {
    const fw_conf_t *conf;
    const char *what;   /* "starting", "reloading", "test" (-t) */
    const char *socket; /* "unix:/run/app.sock", "127.0.0.1:9000", ... */
    int unix_file;      /* a unix socket file of ours: its owner, mode: */
    uid_t socket_uid;
    gid_t socket_gid;
    unsigned socket_mode;
    int socket_bound; /* 0 (-t): the owner and mode it will get */
    const char *cwd;  /* the application's directory */
    uid_t uid;        /* the user and group the application runs as */
    gid_t gid;
} fw_startup_t;

/* Receives each line of the block (no newline). */
typedef void (*fw_startup_emit_pt)(void *arg, const char *line);

/*
 * --version, -v, -V: fcgi-wsgi's version, then the libpython it runs
 * (its version and file), the libfcgi whose fastcgi.h it was built with
 * and the inih it links (their versions as pkg-config gave them at build:
 * neither library says at run time).
 */
void fw_startup_print_version(FILE *out);

/* The block, line by line, to emit. */
void fw_startup_block(const fw_startup_t *s, fw_startup_emit_pt emit,
                      void *arg);

/* Emitters: each line to the log at INFO (arg unused), or to the FILE *
 * arg with a newline. */
void fw_startup_to_log(void *arg, const char *line);
void fw_startup_to_file(void *arg, const char *line);

#endif /* FW_STARTUP_H */
