/*
 * test_print_config.c: `fcgi-wsgi --print-config TARGET` from the outside:
 * command lines in, the exact lines of each target's text out (socket
 * forms, mount, static-map, quoting, the command line written back), and
 * the one-line errors.  The e2e tests (tests/e2e/test_print_config.py)
 * run the same texts in the real servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "deploy/print_config.h"

#define MAX_ARGS 32

typedef struct {
    fw_conf_t c;
    fw_conf_result_e rc;
    char *out;
    char *err;
} run_t;

static char cwd[4096];

/*
 * What main does with "fcgi-wsgi" + the NULL-ended args: fw_conf_load,
 * then, when print-config is set, fw_print_config: FW_CONF_EXIT when it
 * printed, FW_CONF_ERROR when it could not.
 */
static void
run(run_t *r, const char *const *args)
{
    char *argv[MAX_ARGS + 2];
    int argc = 1;
    size_t out_len, err_len;
    FILE *out = open_memstream(&r->out, &out_len);
    FILE *err = open_memstream(&r->err, &err_len);

    assert_non_null(out);
    assert_non_null(err);
    argv[0] = "fcgi-wsgi";
    for (int i = 0; args[i] != NULL; i++) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    r->rc = fw_conf_load(&r->c, argc, argv, out, err);
    if (r->rc == FW_CONF_OK && r->c.print_target != FW_PRINT_NONE) {
        r->rc = fw_print_config(&r->c, out, err) == 0 ? FW_CONF_EXIT
                                                      : FW_CONF_ERROR;
    }
    assert_int_equal(fclose(out), 0);
    assert_int_equal(fclose(err), 0);
}

static void
run_done(run_t *r)
{
    fw_conf_free(&r->c);
    free(r->out);
    free(r->err);
}

/* Fails (printing the text) unless text has a line equal to line. */
static void
assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if (len == n && memcmp(p, line, n) == 0) {
            return;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    print_error("no line '%s' in:\n%s\n", line, text);
    fail();
}

static void
assert_no_text(const char *text, const char *needle)
{
    if (strstr(text, needle) != NULL) {
        print_error("'%s' should not be in:\n%s\n", needle, text);
        fail();
    }
}

/* Runs a print that must succeed: FW_CONF_EXIT, nothing on stderr. */
static void
run_ok(run_t *r, const char *const *args)
{
    run(r, args);
    if (r->rc != FW_CONF_EXIT || r->err[0] != '\0') {
        print_error("rc %d, stderr: %s\nstdout: %s\n", r->rc, r->err, r->out);
        fail();
    }
}

/* The line "prefix" + cwd + "suffix". */
static void
assert_cwd_line(const char *text, const char *prefix, const char *suffix)
{
    char line[8192];

    snprintf(line, sizeof(line), "%s%s%s", prefix, cwd, suffix);
    assert_line(text, line);
}

static void
test_nginx_unix_static(void **state)
{
    const char *args[] = {"--print-config",
                          "nginx",
                          "--socket",
                          "unix:run/app.sock",
                          "--chdir",
                          "site",
                          "--module",
                          "config.wsgi",
                          "--static-map",
                          "/static/=/srv/app/static/",
                          NULL};
    run_t r;

    (void)state;
    run_ok(&r, args);
    assert_line(r.out, "location /static/ {");
    assert_line(r.out, "    alias /srv/app/static/;");
    assert_line(r.out, "location / {");
    assert_line(r.out, "    include fastcgi_params;");
    /* a relative socket path is the chdir's, as fcgi-wsgi binds it */
    assert_cwd_line(r.out, "    fastcgi_pass unix:", "/site/run/app.sock;");
    assert_line(r.out, "#   fcgi-wsgi --socket unix:run/app.sock --chdir "
                       "site --module config.wsgi");
    run_done(&r);
}

static void
test_nginx_mount_tcp_any(void **state)
{
    const char *args[] = {
        "--print-config",    "nginx", "--socket", "0.0.0.0:9000", "--mount",
        "/app=pkg.wsgi:app", NULL};
    run_t r;

    (void)state;
    run_ok(&r, args);
    assert_line(r.out, "location = /app {");
    assert_line(r.out, "    return 301 /app/;");
    assert_line(r.out, "location /app/ {");
    assert_line(r.out, "    fastcgi_pass 127.0.0.1:9000;"); /* not 0.0.0.0 */
    assert_line(r.out, "#   fcgi-wsgi --socket 0.0.0.0:9000 --module "
                       "pkg.wsgi --callable app --mount /app");
    run_done(&r);
}

static void
test_nginx_static_file_and_quoting(void **state)
{
    char map[4200];
    const char *args[] = {"--print-config",
                          "nginx",
                          "--socket",
                          "[::]:9000",
                          "--module",
                          "a",
                          "--static-map",
                          map,
                          "--static-map",
                          "/media=/srv/my media",
                          NULL};
    run_t r;

    (void)state;
    /* an existing file: an exact location */
    snprintf(map, sizeof(map), "/favicon.ico=%s/Makefile", cwd);
    run_ok(&r, args);
    assert_line(r.out, "location = /favicon.ico {");
    assert_cwd_line(r.out, "    alias ", "/Makefile;");
    assert_line(r.out, "location /media/ {");
    assert_line(r.out, "    alias \"/srv/my media/\";");
    assert_line(r.out, "    fastcgi_pass [::1]:9000;");
    run_done(&r);
}

static void
test_apache(void **state)
{
    const char *args[] = {"--print-config",
                          "apache",
                          "--socket",
                          "/run/app.sock",
                          "--module",
                          "config.wsgi",
                          "--static-map",
                          "/static=/srv/static",
                          NULL};
    const char *mount[] = {"--print-config", "apache",   "--socket",
                           "127.0.0.1:9000", "--module", "m",
                           "--mount",        "/app",     NULL};
    run_t r;

    (void)state;
    run_ok(&r, args);
    assert_line(r.out, "Alias /static/ /srv/static/");
    assert_line(r.out, "<Directory /srv/static/>");
    assert_line(r.out, "    Require all granted");
    assert_line(r.out, "ProxyPass /static/ !");
    assert_line(r.out, "<Location />");
    assert_line(r.out, "    CGIPassAuth On");
    assert_line(r.out, "ProxyPass / unix:/run/app.sock|fcgi://localhost/");
    run_done(&r);

    run_ok(&r, mount);
    assert_line(r.out, "RedirectMatch 301 ^/app$ /app/");
    assert_line(r.out, "<Location /app/>");
    assert_line(r.out, "ProxyPass /app/ fcgi://127.0.0.1:9000/app/");
    run_done(&r);
}

static void
test_lighttpd(void **state)
{
    const char *args[] = {"--print-config",
                          "lighttpd",
                          "--socket",
                          "/run/app.sock",
                          "--module",
                          "config.wsgi",
                          "--static-map",
                          "/static/=/srv/static",
                          "--static-map",
                          "/robots.txt=/etc/hostname",
                          NULL};
    const char *v6[] = {"--print-config", "lighttpd", "--socket",
                        "[::]:9000",      "--module", "m",
                        "--mount",        "/app",     NULL};
    run_t r;

    (void)state;
    run_ok(&r, args);
    assert_line(r.out, "alias.url += ( \"/static/\" => \"/srv/static/\" )");
    assert_line(r.out,
                "alias.url += ( \"/robots.txt\" => \"/etc/hostname\" )");
    assert_line(r.out, "$HTTP[\"url\"] !~ \"^(/static/|/robots\\\\.txt$)\" {");
    assert_line(r.out, "    fastcgi.server += ( \"/\" => ( (");
    assert_line(r.out, "        \"socket\" => \"/run/app.sock\",");
    assert_line(r.out, "        \"check-local\" => \"disable\",");
    assert_line(r.out, "        \"fix-root-scriptname\" => \"enable\"");
    assert_line(r.out, "}");
    run_done(&r);

    run_ok(&r, v6);
    assert_line(r.out, "fastcgi.server += ( \"/app\" => ( (");
    assert_line(r.out, "    \"host\" => \"::1\",");
    assert_line(r.out, "    \"port\" => 9000,");
    assert_no_text(r.out, "fix-root-scriptname");
    run_done(&r);
}

static void
test_systemd_service(void **state)
{
    const char *args[] = {
        "--print-config", "systemd",   "--socket", "unix:/run/app.sock",
        "--chmod-socket", "666",       "--module", "config.wsgi",
        "--processes",    "4",         "--env",    "GREETING=50% off $5",
        "--static-map",   "/s=/srv/s", NULL};
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char line[8192];
    run_t r;

    (void)state;
    assert_true(n > 0);
    exe[n] = '\0';
    run_ok(&r, args);
    assert_line(r.out, "[Unit]");
    assert_line(r.out, "Requires=%N.socket");
    assert_line(r.out, "Type=notify");
    assert_cwd_line(r.out, "WorkingDirectory=", "");
    /* socket activation: no --socket; % and $ doubled, blanks quoted */
    snprintf(line, sizeof(line),
             "ExecStart=%s --module config.wsgi --env \"GREETING=50%%%% off "
             "$$5\" --processes 4",
             exe);
    assert_line(r.out, line);
    assert_line(r.out, "ExecReload=/bin/kill -HUP $MAINPID");
    assert_line(r.out, "KillSignal=SIGTERM");
    assert_line(r.out, "WantedBy=multi-user.target");
    run_done(&r);
}

/*
 * The root note: only without a uid or allow-root; allow-root is written
 * back as one word.
 */
static void
test_systemd_root_note(void **state)
{
    const char *root[] = {"--print-config", "systemd",  "--socket",
                          "127.0.0.1:9000", "--module", "a",
                          "--allow-root",   NULL};
    const char *plain[] = {
        "--print-config", "systemd", "--socket", "127.0.0.1:9000",
        "--module",       "a",       NULL};
    run_t r;

    (void)state;
    run_ok(&r, root);
    assert_non_null(strstr(r.out, " --module a --allow-root=true\n"));
    assert_null(strstr(r.out, "refuses to serve as root"));
    run_done(&r);

    run_ok(&r, plain);
    assert_non_null(strstr(r.out, "# fcgi-wsgi refuses to serve as root: "
                                  "set the user here (or uid =, or\n"
                                  "# allow-root = true to run as root "
                                  "anyway)\n# User=www-data\n"));
    run_done(&r);
}

static void
test_systemd_socket(void **state)
{
    const char *unix_args[] = {
        "--print-config", "systemd-socket", "--socket", "unix:app.sock",
        "--chdir",        "/srv/app",       "--module", "m",
        "--chown-socket", "www:web",        NULL};
    const char *tcp_args[] = {"--print-config",
                              "systemd-socket",
                              "--socket",
                              ":9000",
                              "--module",
                              "m",
                              NULL};
    run_t r;

    (void)state;
    run_ok(&r, unix_args);
    assert_line(r.out, "[Socket]");
    assert_line(r.out, "ListenStream=/srv/app/app.sock");
    assert_line(r.out, "SocketMode=0660");
    assert_line(r.out, "SocketUser=www");
    assert_line(r.out, "SocketGroup=web");
    assert_line(r.out, "WantedBy=sockets.target");
    run_done(&r);

    run_ok(&r, tcp_args);
    assert_line(r.out, "ListenStream=127.0.0.1:9000");
    assert_no_text(r.out, "SocketMode");
    run_done(&r);
}

/* An ini file's options are written back like the command line's. */
static void
test_ini_written_back(void **state)
{
    char dir[] = "/tmp/fw-pc-XXXXXX";
    char ini[64];
    FILE *fp;
    const char *args[] = {"--print-config", "nginx", ini, NULL};
    run_t r;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(ini, sizeof(ini), "%s/app.ini", dir);
    fp = fopen(ini, "w");
    assert_non_null(fp);
    fputs("[uwsgi]\nsocket = 127.0.0.1:8001\nmodule = config.wsgi\n"
          "static-map = /static=/srv/static\nthreads = 2\nmaster = true\n",
          fp);
    assert_int_equal(fclose(fp), 0);
    run_ok(&r, args);
    assert_line(r.out, "#   fcgi-wsgi --socket 127.0.0.1:8001 --module "
                       "config.wsgi --threads 2");
    assert_line(r.out, "    fastcgi_pass 127.0.0.1:8001;");
    run_done(&r);
    unlink(ini);
    rmdir(dir);
}

typedef struct {
    const char *name;
    const char *args[12];
    const char *err;
} err_case_t;

static const err_case_t err_cases[] = {
    {"no socket",
     {"--print-config", "nginx", "--module", "m", NULL},
     "fcgi-wsgi: --print-config nginx needs socket = unix:PATH or "
     "HOST:PORT: where the web server connects to fcgi-wsgi\n"},
    {"no socket, systemd",
     {"--print-config", "systemd", "--module", "m", NULL},
     "fcgi-wsgi: --print-config systemd needs socket = unix:PATH or "
     "HOST:PORT: where systemd listens for fcgi-wsgi\n"},
    {"unknown target",
     {"--print-config", "traefik", "--module", "m", NULL},
     "fcgi-wsgi: --print-config: expected nginx, apache, lighttpd, caddy, "
     "h2o, systemd or systemd-socket, got 'traefik'\n"},
    {"static-map without =",
     {"--static-map", "/static", "--module", "m", NULL},
     "fcgi-wsgi: --static-map: expected /URLPREFIX=DIR, such as "
     "/static/=/srv/app/static, got '/static'\n"},
    {"static-map of /",
     {"--static-map", "/=/srv", "--module", "m", NULL},
     "fcgi-wsgi: --static-map: a URL prefix of / would hide the "
     "application, got '/=/srv'\n"},
    {"static-map with a quote",
     {"--static-map", "/s=/srv/\"x", "--module", "m", NULL},
     "fcgi-wsgi: --static-map: control characters, quotes and backslashes "
     "cannot go into a web server's config, got '/s=/srv/\"x'\n"},
    {"role",
     {"--role", "filter", "--module", "m", NULL},
     "fcgi-wsgi: --role: expected auto or authorizer, got 'filter'\n"},
};

static void
test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        run_t r;

        run(&r, err_cases[i].args);
        if (r.rc != FW_CONF_ERROR || strcmp(r.err, err_cases[i].err) != 0) {
            print_error("case '%s': rc %d\n  want: %s  got:  %s\n",
                        err_cases[i].name, r.rc, err_cases[i].err, r.err);
            fail();
        }
        assert_string_equal(r.out, "");
        run_done(&r);
    }
}

/* role = authorizer is derived; static-map is kept; nothing printed. */
static void
test_options_stored(void **state)
{
    const char *args[] = {
        "--role", "authorizer",   "--module", "m", "--static-map",
        "/a=/b",  "--static-map", "/c=/d",    NULL};
    const char *plain[] = {"--module", "m", NULL};
    run_t r;

    (void)state;
    run(&r, args);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_true(r.c.force_authorizer);
    assert_string_equal(r.c.role, "authorizer");
    assert_int_equal(r.c.static_map.n, 2);
    assert_string_equal(r.c.static_map.items[1], "/c=/d");
    assert_null(r.c.print_config);
    run_done(&r);

    run(&r, plain);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_false(r.c.force_authorizer);
    assert_string_equal(r.c.role, "auto");
    run_done(&r);
}

/*
 * A print that must succeed, as a table: its arguments, lines its text
 * must have and strings it must not.  "{cwd}" in any of them stands for
 * the current directory.
 */
typedef struct {
    const char *name;
    const char *args[16];
    const char *lines[16];
    const char *absent[4];
} print_case_t;

static const print_case_t print_cases[] = {
    {"caddy: a directory, a file, a mount, a unix socket",
     {"--print-config", "caddy", "--socket", "unix:run/app.sock", "--chdir",
      "site", "--module", "config.wsgi", "--static-map",
      "/static/=/srv/app/static/", "--static-map",
      "/favicon.ico={cwd}/Makefile", "--mount", "/app", NULL},
     {"handle_path /static/* {", "\troot * /srv/app/static", "\tfile_server",
      "handle /favicon.ico {", "\troot * {cwd}", "\trewrite * /Makefile",
      "redir /app /app/ 301", "handle /app/* {",
      "\treverse_proxy unix/{cwd}/site/run/app.sock {",
      "\t\ttransport fastcgi", "\t\tflush_interval -1", NULL},
     {NULL}},
    {"caddy: TCP at the root",
     {"--print-config", "caddy", "--socket", "[::]:9000", "--module", "m",
      NULL},
     {"handle {", "\treverse_proxy [::1]:9000 {", NULL},
     {"redir", "file_server", NULL}},
    {"h2o: a directory, a file, a unix socket (its path is \"port\")",
     {"--print-config", "h2o", "--socket", "/run/app.sock", "--module",
      "config.wsgi", "--static-map", "/static/=/srv/my static", "--static-map",
      "/robots.txt=/etc/hostname", NULL},
     {"paths:", "  \"/static\":", "    file.dir: \"/srv/my static\"",
      "  \"/robots.txt\":", "    file.file: \"/etc/hostname\"",
      "  \"/\":", "    fastcgi.connect:", "      port: \"/run/app.sock\"",
      "      type: unix", NULL},
     {NULL}},
    {"h2o: TCP (an address without brackets) under a mount",
     {"--print-config", "h2o", "--socket", "[::]:9000", "--module", "m",
      "--mount", "/app", NULL},
     {"  \"/app\":", "      host: \"::1\"", "      port: 9000",
      "      type: tcp", NULL},
     {NULL}},
    {"nginx: the status page, for this machine only",
     {"--print-config", "nginx", "--socket", "127.0.0.1:9000", "--module", "m",
      "--status-path", "/fcgi-status", NULL},
     {"location = /fcgi-status {", "    allow 127.0.0.1;", "    allow ::1;",
      "    deny all;", "    fastcgi_pass 127.0.0.1:9000;", "location / {",
      NULL},
     {NULL}},
    {"nginx: no status page, no restriction",
     {"--print-config", "nginx", "--socket", "127.0.0.1:9000", "--module", "m",
      NULL},
     {"location / {", NULL},
     {"deny all", NULL}},
};

/* s with "{cwd}" (once, if there) replaced by the current directory. */
static void
with_cwd(char *out, size_t size, const char *s)
{
    const char *at = strstr(s, "{cwd}");

    if (at == NULL) {
        snprintf(out, size, "%s", s);
    } else {
        snprintf(out, size, "%.*s%s%s", (int)(at - s), s, cwd, at + 5);
    }
}

static void
test_print_cases(void **state)
{
    static char words[3][16][8192];

    (void)state;
    for (size_t i = 0; i < sizeof(print_cases) / sizeof(print_cases[0]); i++) {
        const print_case_t *pcase = &print_cases[i];
        const char *args[16];
        run_t r;
        size_t k;

        for (k = 0; pcase->args[k] != NULL; k++) {
            with_cwd(words[0][k], sizeof(words[0][k]), pcase->args[k]);
            args[k] = words[0][k];
        }
        args[k] = NULL;
        run_ok(&r, args);
        for (k = 0; pcase->lines[k] != NULL; k++) {
            with_cwd(words[1][k], sizeof(words[1][k]), pcase->lines[k]);
            assert_line(r.out, words[1][k]);
        }
        for (k = 0; pcase->absent[k] != NULL; k++) {
            with_cwd(words[2][k], sizeof(words[2][k]), pcase->absent[k]);
            assert_no_text(r.out, words[2][k]);
        }
        run_done(&r);
    }
}

/* Writes text to the file at path (created or emptied). */
static void
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/*
 * systemd: with an ini file, ExecStart runs it (absolute) and nothing
 * else, WorkingDirectory is its chdir, no socket unit; without one, the
 * chdir is the WorkingDirectory (not an option) and logto is absolute.
 */
static void
test_systemd_ini_and_chdir(void **state)
{
    char dir[] = "/tmp/fw-pc-XXXXXX";
    char line[16384];
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const char *with_ini[] = {"--print-config", "systemd", "app.ini",
                              "--processes",    "3",       NULL};
    const char *rel_chdir[] = {"--print-config", "systemd", "--ini", "x.ini",
                               NULL};
    const char *no_ini[] = {"--print-config", "systemd", "--socket",
                            "127.0.0.1:9000", "--chdir", "/srv/app",
                            "--module",       "m",       "--logto",
                            "log/app.log",    NULL};
    run_t r;

    (void)state;
    assert_true(n > 0);
    exe[n] = '\0';
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    write_text("app.ini", "[uwsgi]\nsocket = /run/app.sock\n"
                          "chdir = /srv/app\nmodule = config.wsgi\n");
    run_ok(&r, with_ini);
    assert_line(r.out, "WorkingDirectory=/srv/app");
    snprintf(line, sizeof(line), "ExecStart=%s --ini %s/app.ini", exe, dir);
    assert_line(r.out, line);
    assert_line(r.out, "ExecReload=/bin/kill -HUP $MAINPID");
    assert_line(r.out, "After=network.target");
    assert_no_text(r.out, "Requires=");
    run_done(&r);

    /* a relative chdir: made absolute, as the service starts there */
    write_text("x.ini", "[uwsgi]\nsocket = 127.0.0.1:9000\nchdir = site\n"
                        "module = m\n");
    run_ok(&r, rel_chdir);
    snprintf(line, sizeof(line), "WorkingDirectory=%s/site", dir);
    assert_line(r.out, line);
    snprintf(line, sizeof(line), "ExecStart=%s --ini %s/x.ini --chdir %s/site",
             exe, dir, dir);
    assert_line(r.out, line);
    run_done(&r);
    unlink("app.ini");
    unlink("x.ini");
    assert_int_equal(chdir(cwd), 0);
    rmdir(dir);

    run_ok(&r, no_ini);
    assert_line(r.out, "WorkingDirectory=/srv/app");
    snprintf(line, sizeof(line),
             "ExecStart=%s --module m --logto %s/log/app.log", exe, cwd);
    assert_line(r.out, line);
    assert_line(r.out, "Requires=%N.socket");
    run_done(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nginx_unix_static),
        cmocka_unit_test(test_nginx_mount_tcp_any),
        cmocka_unit_test(test_nginx_static_file_and_quoting),
        cmocka_unit_test(test_apache),
        cmocka_unit_test(test_lighttpd),
        cmocka_unit_test(test_systemd_service),
        cmocka_unit_test(test_systemd_root_note),
        cmocka_unit_test(test_systemd_socket),
        cmocka_unit_test(test_ini_written_back),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_options_stored),
        cmocka_unit_test(test_print_cases),
        cmocka_unit_test(test_systemd_ini_and_chdir),
    };

    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
