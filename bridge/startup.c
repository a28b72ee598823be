/*
 * startup.c: --version's lines and the start-up block (startup.h).  Each
 * line is made from what the caller found (the socket's owner and mode,
 * the user) and the loaded configuration; Python is described without
 * starting it (pyglue/home.c).  It prints or emits; it decides nothing.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "bridge/startup.h"
#include "bridge/log.h"
#include "bridge/pool/pool.h"
#include "pyglue/pyglue.h"

/* Neither library has a version call: the Makefile passes what
 * pkg-config said at build. */
#ifndef FW_LIBFCGI_VERSION
#define FW_LIBFCGI_VERSION "unknown"
#endif
#ifndef FW_INIH_VERSION
#define FW_INIH_VERSION "unknown"
#endif

void
fw_startup_print_version(FILE *out)
{
    fprintf(out,
            "fcgi-wsgi %s\n"
            "libpython %s (%s)\n"
            "libfcgi %s (fastcgi.h, at build)\n"
            "libinih %s (at build)\n",
            FW_VERSION, fw_pyglue_version(), fw_pyglue_library(),
            FW_LIBFCGI_VERSION, FW_INIH_VERSION);
}

/* "process" or "processes", "thread" or "threads": the ending for n. */
static const char *
ending(int n, const char *many)
{
    return n == 1 ? "" : many;
}

static void
startup_socket(const fw_startup_t *s, char *line, size_t size)
{
    char owner[160];

    if (!s->unix_file) {
        snprintf(line, size, "socket %s", s->socket);
        return;
    }
    fw_privs_owner_name(s->socket_uid, s->socket_gid, owner, sizeof(owner));
    snprintf(line, size, "socket %s, owner %s, mode %04o%s", s->socket, owner,
             s->socket_mode,
             s->socket_bound ? "" : " (once bound; -t binds nothing)");
}

static void
startup_app(const fw_startup_t *s, char *line, size_t size)
{
    const fw_conf_t *c = s->conf;

    snprintf(line, size, "application %s:%s in %s%s%s, imported %s", c->module,
             c->callable != NULL ? c->callable : "application", s->cwd,
             c->mount != NULL ? ", mounted at " : "",
             c->mount != NULL ? c->mount : "",
             c->lazy_apps ? "in each worker (lazy-apps)"
                          : "in the master before the workers fork "
                            "(preload)");
}

static void
startup_pool(const fw_startup_t *s, char *line, size_t size)
{
    const fw_conf_t *c = s->conf;
    const char *pm = "static", *up_to = "";
    char rest[160] = "";

    switch (c->pm_mode) {
    case FW_PM_STATIC:
        break;
    case FW_PM_DYNAMIC:
        pm = "dynamic";
        up_to = "up to ";
        snprintf(rest, sizeof(rest), " (%d at start, %d to %d idle)",
                 c->start_servers, c->min_spare, c->max_spare);
        break;
    case FW_PM_ONDEMAND:
        pm = "ondemand";
        up_to = "up to ";
        snprintf(rest, sizeof(rest),
                 ", forked when a connection waits, gone after %d s idle",
                 c->idle_timeout);
        break;
    }
    snprintf(line, size, "pool: pm %s, %s%d process%s of %d thread%s%s", pm,
             up_to, c->max_children, ending(c->max_children, "es"), c->threads,
             ending(c->threads, "s"), rest);
}

static void
startup_user(const fw_startup_t *s, char *line, size_t size)
{
    struct passwd *pw = getpwuid(s->uid);
    struct group *gr = getgrgid(s->gid);

    snprintf(line, size, "running as uid %ld (%s), gid %ld (%s)", (long)s->uid,
             pw != NULL ? pw->pw_name : "no name", (long)s->gid,
             gr != NULL ? gr->gr_name : "no name");
}

void
fw_startup_block(const fw_startup_t *s, fw_startup_emit_pt emit, void *arg)
{
    char line[1024], prefix[600];

    snprintf(line, sizeof(line),
             "fcgi-wsgi %s %s (libpython %s, libfcgi %s, libinih %s)",
             FW_VERSION, s->what, fw_pyglue_version(), FW_LIBFCGI_VERSION,
             FW_INIH_VERSION);
    emit(arg, line);
    startup_socket(s, line, sizeof(line));
    emit(arg, line);
    fw_pyglue_describe_home(s->conf->home, prefix, sizeof(prefix));
    snprintf(line, sizeof(line), "python %s, %s", fw_pyglue_version(), prefix);
    emit(arg, line);
    startup_app(s, line, sizeof(line));
    emit(arg, line);
    startup_pool(s, line, sizeof(line));
    emit(arg, line);
    startup_user(s, line, sizeof(line));
    emit(arg, line);
}

void
fw_startup_to_log(void *arg, const char *line)
{
    (void)arg;
    fw_log(FW_LOG_INFO, "%s", line);
}

void
fw_startup_to_file(void *arg, const char *line)
{
    fprintf((FILE *)arg, "%s\n", line);
}
