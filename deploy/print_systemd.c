/*
 * print_systemd.c: --print-config systemd and systemd-socket: the service
 * unit that runs fcgi-wsgi (with its options or its ini files) and the
 * socket unit that listens for it, from what print_config.c worked out.
 * Only formatting: the one thing read from the system is the path of the
 * running program, for ExecStart.
 */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "deploy/print_int.h"

/*
 * A word of a systemd Exec line: '%' (specifiers) and '$' (variables) are
 * doubled; double quotes when it holds blanks, quotes, backslashes, or is
 * ";" (the command separator).
 */
static void
put_systemd(FILE *out, const char *s)
{
    bool quote = fw_print_has_any(s, " \t\"'\\") || strcmp(s, ";") == 0;

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

/* Options never on systemd's command line: those only print-config
 * reads; the socket, which is systemd's (socket activation); and the
 * chdir, which is the working directory. */
static const char *const skip_systemd[] = {
    "print-config", "static-map", "callable",    "socket", "chmod-socket",
    "chown-socket", "chdir",      "test-config", NULL};

/*
 * The words after ExecStart's program: with ini files, the files (absolute)
 * and a relative chdir made absolute, since the service starts in the
 * chdir; else the options given, with logto (opened before the chdir)
 * made absolute.
 */
static void
put_systemd_args(fw_print_ctx_t *pc)
{
    const fw_conf_t *c = pc->c;
    fw_strlist_t a = {0};
    char path[FW_PRINT_PATH_MAX];

    if (c->ini_files.n > 0) {
        for (size_t i = 0; i < c->ini_files.n; i++) {
            fputs(" --ini ", pc->out);
            put_systemd(pc->out,
                        fw_print_path_join(path, sizeof(path), pc->cwd,
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
            fw_print_path_join(path, sizeof(path), pc->cwd, word) == 0) {
            word = path;
        }
        fputc(' ', pc->out);
        put_systemd(pc->out, word);
    }
    fw_conf_strlist_free(&a);
}

void
fw_print_systemd_service(fw_print_ctx_t *pc)
{
    bool with_ini = pc->c->ini_files.n > 0;
    char exe[FW_PRINT_PATH_MAX];
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

void
fw_print_systemd_socket(fw_print_ctx_t *pc)
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
