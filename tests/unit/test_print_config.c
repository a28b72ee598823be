/*
 * test_print_config.c: `fcgi-wsgi --print-config TARGET` from the outside:
 * command lines in, the exact lines of each target's text out (socket
 * forms, mount, static-map, quoting, the command line written back), and
 * the one-line errors.  Most checks are rows of two tables (print_cases,
 * err_cases), one cmocka test per row.  The e2e tests
 * (tests/e2e/test_print_config.py) run the same texts in the real servers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/conf_fixture.h"

static char cwd[4096];
static char exe[4096];

/* {cwd}: the test's directory; {exe}: this program, as ExecStart names
 * it. */
static const fx_token_t tokens[] = {
    {"{cwd}", cwd}, {"{exe}", exe}, {NULL, NULL}};

/* Runs a print that must succeed: FW_CONF_EXIT, nothing on stderr. */
static void
run_ok(fx_conf_run_t *r, const char *const *args)
{
    fx_conf_run(r, args, tokens, 1);
    if (r->rc != FW_CONF_EXIT || r->err[0] != '\0') {
        print_error("rc %d, stderr: %s\nstdout: %s\n", r->rc, r->err, r->out);
        fail();
    }
}

/* ---- what each target prints ---- */

typedef struct {
    const char *name;
    const char *args[16];  /* after "fcgi-wsgi", NULL-ended */
    const char *lines[12]; /* whole lines of the output */
    const char *has[2];    /* text of the output (it may span lines) */
    const char *absent[2]; /* text the output must not hold */
} print_case_t;

static const print_case_t print_cases[] = {
    {.name = "nginx: unix socket, static-map",
     .args = {"--print-config", "nginx", "--socket", "unix:run/app.sock",
              "--chdir", "site", "--module", "config.wsgi", "--static-map",
              "/static/=/srv/app/static/"},
     .lines = {"location /static/ {", "    alias /srv/app/static/;",
               "location / {", "    include fastcgi_params;",
               /* a relative socket path is the chdir's, as fcgi-wsgi
                * binds it */
               "    fastcgi_pass unix:{cwd}/site/run/app.sock;",
               "#   fcgi-wsgi --socket unix:run/app.sock --chdir site "
               "--module config.wsgi"}},
    {.name = "nginx: mount, TCP on any address",
     .args = {"--print-config", "nginx", "--socket", "0.0.0.0:9000", "--mount",
              "/app=pkg.wsgi:app"},
     .lines =
         {"location = /app {", "    return 301 /app/;", "location /app/ {",
          "    fastcgi_pass 127.0.0.1:9000;", /* not 0.0.0.0 */
          /* kept connections, in a comment: the same address */
          "#   upstream fcgi_wsgi { server 127.0.0.1:9000; keepalive 64; }",
          "# and in the locations below: fastcgi_pass fcgi_wsgi; "
          "fastcgi_keep_conn on;",
          "#   fcgi-wsgi --socket 0.0.0.0:9000 --module pkg.wsgi "
          "--callable app --mount /app"}},
    {.name = "nginx: a static file, a quoted directory",
     .args = {"--print-config", "nginx", "--socket", "[::]:9000", "--module",
              "a",
              /* an existing file: an exact location */
              "--static-map", "/favicon.ico={cwd}/Makefile", "--static-map",
              "/media=/srv/my media"},
     .lines = {"location = /favicon.ico {", "    alias {cwd}/Makefile;",
               "location /media/ {", "    alias \"/srv/my media/\";",
               "    fastcgi_pass [::1]:9000;"}},
    {.name = "apache: unix socket, static-map",
     .args = {"--print-config", "apache", "--socket", "/run/app.sock",
              "--module", "config.wsgi", "--static-map",
              "/static=/srv/static"},
     .lines = {"Alias /static/ /srv/static/", "<Directory /srv/static/>",
               "    Require all granted", "ProxyPass /static/ !",
               "<Location />", "    CGIPassAuth On",
               "ProxyPass / unix:/run/app.sock|fcgi://localhost/"}},
    {.name = "apache: mount",
     .args = {"--print-config", "apache", "--socket", "127.0.0.1:9000",
              "--module", "m", "--mount", "/app"},
     .lines = {"RedirectMatch 301 ^/app$ /app/", "<Location /app/>",
               "ProxyPass /app/ fcgi://127.0.0.1:9000/app/"}},
    {.name = "lighttpd: unix socket, static-map",
     .args = {"--print-config", "lighttpd", "--socket", "/run/app.sock",
              "--module", "config.wsgi", "--static-map",
              "/static/=/srv/static", "--static-map",
              "/robots.txt=/etc/hostname"},
     .lines = {"alias.url += ( \"/static/\" => \"/srv/static/\" )",
               "alias.url += ( \"/robots.txt\" => \"/etc/hostname\" )",
               "$HTTP[\"url\"] !~ \"^(/static/|/robots\\\\.txt$)\" {",
               "    fastcgi.server += ( \"/\" => ( (",
               "        \"socket\" => \"/run/app.sock\",",
               "        \"check-local\" => \"disable\",",
               "        \"fix-root-scriptname\" => \"enable\"", "}"}},
    {.name = "lighttpd: IPv6, mount",
     .args = {"--print-config", "lighttpd", "--socket", "[::]:9000",
              "--module", "m", "--mount", "/app"},
     .lines = {"fastcgi.server += ( \"/app\" => ( (",
               "    \"host\" => \"::1\",", "    \"port\" => 9000,"},
     .absent = {"fix-root-scriptname"}},
    {.name = "systemd: the service",
     .args = {"--print-config", "systemd", "--socket", "unix:/run/app.sock",
              "--chmod-socket", "666", "--module", "config.wsgi",
              "--processes", "4", "--env", "GREETING=50% off $5",
              "--static-map", "/s=/srv/s"},
     .lines = {"[Unit]", "Requires=%N.socket", "Type=notify",
               "WorkingDirectory={cwd}",
               /* socket activation: no --socket; % and $ doubled, blanks
                * quoted */
               "ExecStart={exe} --module config.wsgi "
               "--env \"GREETING=50%% off $$5\" --processes 4",
               "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM",
               "WantedBy=multi-user.target"}},
    /* the root note: only without a uid or allow-root; allow-root is
     * written back as one word */
    {.name = "systemd: allow-root",
     .args = {"--print-config", "systemd", "--socket", "127.0.0.1:9000",
              "--module", "a", "--allow-root"},
     .has = {" --module a --allow-root=true\n"},
     .absent = {"refuses to serve as root"}},
    {.name = "systemd: the root note",
     .args = {"--print-config", "systemd", "--socket", "127.0.0.1:9000",
              "--module", "a"},
     .has = {"# fcgi-wsgi refuses to serve as root: set the user here "
             "(or uid =, or\n"
             "# allow-root = true to run as root anyway)\n"
             "# User=www-data\n"}},
    {.name = "systemd-socket: unix",
     .args = {"--print-config", "systemd-socket", "--socket", "unix:app.sock",
              "--chdir", "/srv/app", "--module", "m", "--chown-socket",
              "www:web"},
     .lines = {"[Socket]", "ListenStream=/srv/app/app.sock", "SocketMode=0660",
               "SocketUser=www", "SocketGroup=web",
               "WantedBy=sockets.target"}},
    {.name = "systemd-socket: TCP",
     .args = {"--print-config", "systemd-socket", "--socket", ":9000",
              "--module", "m"},
     .lines = {"ListenStream=127.0.0.1:9000"},
     .absent = {"SocketMode"}},
    {.name = "caddy: a directory, a file, a mount, a unix socket",
     .args = {"--print-config", "caddy", "--socket", "unix:run/app.sock",
              "--chdir", "site", "--module", "config.wsgi", "--static-map",
              "/static/=/srv/app/static/", "--static-map",
              "/favicon.ico={cwd}/Makefile", "--mount", "/app"},
     .lines = {"handle_path /static/* {", "\troot * /srv/app/static",
               "\tfile_server", "handle /favicon.ico {", "\troot * {cwd}",
               "\trewrite * /Makefile", "redir /app /app/ 301",
               "handle /app/* {",
               "\treverse_proxy unix/{cwd}/site/run/app.sock {",
               "\t\ttransport fastcgi", "\t\tflush_interval -1"}},
    {.name = "caddy: TCP at the root",
     .args = {"--print-config", "caddy", "--socket", "[::]:9000", "--module",
              "m"},
     .lines = {"handle {", "\treverse_proxy [::1]:9000 {"},
     .absent = {"redir", "file_server"}},
    {.name = "h2o: a directory, a file, a unix socket (its path is \"port\")",
     .args = {"--print-config", "h2o", "--socket", "/run/app.sock", "--module",
              "config.wsgi", "--static-map", "/static/=/srv/my static",
              "--static-map", "/robots.txt=/etc/hostname"},
     .lines = {"paths:", "  \"/static\":", "    file.dir: \"/srv/my static\"",
               "  \"/robots.txt\":", "    file.file: \"/etc/hostname\"",
               "  \"/\":", "    fastcgi.connect:",
               "      port: \"/run/app.sock\"", "      type: unix"}},
    {.name = "h2o: TCP (an address without brackets) under a mount",
     .args = {"--print-config", "h2o", "--socket", "[::]:9000", "--module",
              "m", "--mount", "/app"},
     .lines = {"  \"/app\":", "      host: \"::1\"", "      port: 9000",
               "      type: tcp"}},
    {.name = "nginx: the status page, for this machine only",
     .args = {"--print-config", "nginx", "--socket", "127.0.0.1:9000",
              "--module", "m", "--status-path", "/fcgi-status"},
     .lines = {"location = /fcgi-status {", "    allow 127.0.0.1;",
               "    allow ::1;", "    deny all;",
               "    fastcgi_pass 127.0.0.1:9000;", "location / {"}},
    {.name = "nginx: no status page, no restriction",
     .args = {"--print-config", "nginx", "--socket", "127.0.0.1:9000",
              "--module", "m"},
     .lines = {"location / {"},
     .absent = {"deny all"}},
};

/* {cwd} and {exe} in the lines stand for themselves. */
static void
test_print_case(void **state)
{
    const print_case_t *tc = *state;
    fx_conf_run_t r;

    run_ok(&r, tc->args);
    for (size_t i = 0; i < FX_COUNT(tc->lines) && tc->lines[i] != NULL; i++) {
        char *line = fx_subst(tc->lines[i], tokens);

        fx_assert_line(r.out, line);
        free(line);
    }
    for (size_t i = 0; i < FX_COUNT(tc->has) && tc->has[i] != NULL; i++) {
        fx_assert_contains(r.out, tc->has[i]);
    }
    for (size_t i = 0; i < FX_COUNT(tc->absent) && tc->absent[i] != NULL;
         i++) {
        fx_assert_absent(r.out, tc->absent[i]);
    }
    fx_conf_run_done(&r);
}

/* An ini file's options are written back like the command line's. */
static void
test_ini_written_back(void **state)
{
    char dir[] = "/tmp/fw-pc-XXXXXX";
    char ini[64];
    FILE *fp;
    const char *args[] = {"--print-config", "nginx", ini, NULL};
    fx_conf_run_t r;

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
    fx_assert_line(r.out, "#   fcgi-wsgi --socket 127.0.0.1:8001 --module "
                          "config.wsgi --threads 2");
    fx_assert_line(r.out, "    fastcgi_pass 127.0.0.1:8001;");
    fx_conf_run_done(&r);
    unlink(ini);
    rmdir(dir);
}

typedef struct {
    const char *name;
    const char *args[12];
    const char *err;
} err_case_t;

static const err_case_t err_cases[] = {
    {.name = "no socket",
     .args = {"--print-config", "nginx", "--module", "m", NULL},
     .err = "fcgi-wsgi: --print-config nginx needs socket = unix:PATH or "
            "HOST:PORT: where the web server connects to fcgi-wsgi\n"},
    {.name = "no socket, systemd",
     .args = {"--print-config", "systemd", "--module", "m", NULL},
     .err = "fcgi-wsgi: --print-config systemd needs socket = unix:PATH or "
            "HOST:PORT: where systemd listens for fcgi-wsgi\n"},
    {.name = "unknown target",
     .args = {"--print-config", "traefik", "--module", "m", NULL},
     .err = "fcgi-wsgi: --print-config: expected nginx, apache, lighttpd, "
            "caddy, h2o, systemd or systemd-socket, got 'traefik'\n"},
    {.name = "static-map without =",
     .args = {"--static-map", "/static", "--module", "m", NULL},
     .err = "fcgi-wsgi: --static-map: expected /URLPREFIX=DIR, such as "
            "/static/=/srv/app/static, got '/static'\n"},
    {.name = "static-map of /",
     .args = {"--static-map", "/=/srv", "--module", "m", NULL},
     .err = "fcgi-wsgi: --static-map: a URL prefix of / would hide the "
            "application, got '/=/srv'\n"},
    {.name = "static-map with a quote",
     .args = {"--static-map", "/s=/srv/\"x", "--module", "m", NULL},
     .err =
         "fcgi-wsgi: --static-map: control characters, quotes and backslashes "
         "cannot go into a web server's config, got '/s=/srv/\"x'\n"},
    {.name = "role",
     .args = {"--role", "filter", "--module", "m", NULL},
     .err = "fcgi-wsgi: --role: expected auto or authorizer, got 'filter'\n"},
};

static void
test_err_case(void **state)
{
    const err_case_t *tc = *state;
    fx_conf_run_t r;

    fx_conf_run(&r, tc->args, NULL, 1);
    if (r.rc != FW_CONF_ERROR || strcmp(r.err, tc->err) != 0) {
        print_error("rc %d\n  want: %s  got:  %s\n", r.rc, tc->err, r.err);
        fail();
    }
    assert_string_equal(r.out, "");
    fx_conf_run_done(&r);
}

/* role = authorizer is derived; static-map is kept; nothing printed. */
static void
test_options_stored(void **state)
{
    const char *args[] = {
        "--role", "authorizer",   "--module", "m", "--static-map",
        "/a=/b",  "--static-map", "/c=/d",    NULL};
    const char *plain[] = {"--module", "m", NULL};
    fx_conf_run_t r;

    (void)state;
    fx_conf_run(&r, args, NULL, 1);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_true(r.c.force_authorizer);
    assert_string_equal(r.c.role, "authorizer");
    assert_int_equal(r.c.static_map.n, 2);
    assert_string_equal(r.c.static_map.items[1], "/c=/d");
    assert_null(r.c.print_config);
    fx_conf_run_done(&r);

    fx_conf_run(&r, plain, NULL, 1);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_false(r.c.force_authorizer);
    assert_string_equal(r.c.role, "auto");
    fx_conf_run_done(&r);
}

/* Writes text to the file at path (created or emptied). */
static void
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
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
    const char *with_ini[] = {"--print-config", "systemd", "app.ini",
                              "--processes",    "3",       NULL};
    const char *rel_chdir[] = {"--print-config", "systemd", "--ini", "x.ini",
                               NULL};
    const char *no_ini[] = {"--print-config", "systemd", "--socket",
                            "127.0.0.1:9000", "--chdir", "/srv/app",
                            "--module",       "m",       "--logto",
                            "log/app.log",    NULL};
    fx_conf_run_t r;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    write_text("app.ini", "[uwsgi]\nsocket = /run/app.sock\n"
                          "chdir = /srv/app\nmodule = config.wsgi\n");
    run_ok(&r, with_ini);
    fx_assert_line(r.out, "WorkingDirectory=/srv/app");
    snprintf(line, sizeof(line), "ExecStart=%s --ini %s/app.ini", exe, dir);
    fx_assert_line(r.out, line);
    fx_assert_line(r.out, "ExecReload=/bin/kill -HUP $MAINPID");
    fx_assert_line(r.out, "After=network.target");
    fx_assert_absent(r.out, "Requires=");
    fx_conf_run_done(&r);

    /* a relative chdir: made absolute, as the service starts there */
    write_text("x.ini", "[uwsgi]\nsocket = 127.0.0.1:9000\nchdir = site\n"
                        "module = m\n");
    run_ok(&r, rel_chdir);
    snprintf(line, sizeof(line), "WorkingDirectory=%s/site", dir);
    fx_assert_line(r.out, line);
    snprintf(line, sizeof(line), "ExecStart=%s --ini %s/x.ini --chdir %s/site",
             exe, dir, dir);
    fx_assert_line(r.out, line);
    fx_conf_run_done(&r);
    unlink("app.ini");
    unlink("x.ini");
    assert_int_equal(chdir(cwd), 0);
    rmdir(dir);

    run_ok(&r, no_ini);
    fx_assert_line(r.out, "WorkingDirectory=/srv/app");
    snprintf(line, sizeof(line),
             "ExecStart=%s --module m --logto %s/log/app.log", exe, cwd);
    fx_assert_line(r.out, line);
    fx_assert_line(r.out, "Requires=%N.socket");
    fx_conf_run_done(&r);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_ini_written_back),
        cmocka_unit_test(test_options_stored),
        cmocka_unit_test(test_systemd_ini_and_chdir),
    };
    static const fx_table_t tables[] = {
        FX_TABLE(print_cases, test_print_case, NULL),
        FX_TABLE(err_cases, test_err_case, NULL),
    };
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (getcwd(cwd, sizeof(cwd)) == NULL || n <= 0) {
        return 1;
    }
    exe[n] = '\0';
    return fx_run_group("print_config", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), NULL, NULL);
}
