/*
 * test_conf.c: conf/ from the outside: command lines and ini files in,
 * fw_conf_t fields and the exact lines a user sees out.  Most checks are
 * rows of two tables (ok_cases, err_cases), one cmocka test per row.  Ini
 * files are written into a mkdtemp directory that the group removes.
 */
#define _XOPEN_SOURCE 700 /* realpath() */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/conf_fixture.h"

#define MAX_ARGS 40
#define X50 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define MAX_EXPECT 16

static char tmpdir[256];     /* realpath of the mkdtemp directory */
static char tmpdir_name[64]; /* its last component, for %c */

static char ini_path[300]; /* {ini}: the ini file a case writes */
static char inc_path[300]; /* {inc}: the file it includes */

/* What a case's strings may name (filled by group_setup). */
static const fx_token_t tokens[] = {{"{dirname}", tmpdir_name},
                                    {"{dir}", tmpdir},
                                    {"{ini}", ini_path},
                                    {"{inc}", inc_path},
                                    {NULL, NULL}};

/* text after fx_subst with the tokens above (malloc'd). */
static char *
subst(const char *text)
{
    return fx_subst(text, tokens);
}

/* Runs fw_conf_load on args (a NULL-ended list, after subst). */
static void
run_args(fx_conf_run_t *r, const char *const *args)
{
    fx_conf_run(r, args, tokens, 0);
}

/* Writes content to the file named (after subst) by name. */
static void
write_file(const char *name, const char *content)
{
    char *path = subst(name);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(content, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    free(path);
}

/* "a|b|c", or "" for an empty list */
static void
list_text(const fw_strlist_t *l, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < l->n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? "|" : "",
                         l->items[i]);

        used += w > 0 ? (size_t)w : 0;
    }
}

/* The text of one field of c, by name, as the tables write it. */
static void
field_text(const fw_conf_t *c, const char *field, char *buf, size_t size)
{
#define STR_FIELD(f)                                                          \
    if (strcmp(field, #f) == 0) {                                             \
        snprintf(buf, size, "%s", c->f != NULL ? c->f : "(null)");            \
        return;                                                               \
    }
    STR_FIELD(socket)
    STR_FIELD(chdir)
    STR_FIELD(home)
    STR_FIELD(module)
    STR_FIELD(callable)
    STR_FIELD(logto)
    STR_FIELD(mount)
    STR_FIELD(access_log)
    STR_FIELD(status_path)
    STR_FIELD(ping_path)
    STR_FIELD(ping_response)
    STR_FIELD(pool_name)
    STR_FIELD(wsgi_file)
    STR_FIELD(log_format)
#undef STR_FIELD
    if (strcmp(field, "pythonpath") == 0) {
        list_text(&c->pythonpath, buf, size);
    } else if (strcmp(field, "static_map") == 0) {
        list_text(&c->static_map, buf, size);
    } else if (strcmp(field, "notices") == 0) {
        list_text(&c->notices, buf, size);
    } else if (strcmp(field, "warnings") == 0) {
        list_text(&c->warnings, buf, size);
    } else if (strcmp(field, "env") == 0) {
        list_text(&c->env, buf, size);
    } else if (strcmp(field, "chmod") == 0) {
        snprintf(buf, size, "%o", c->chmod_socket);
    } else if (strcmp(field, "processes") == 0) {
        snprintf(buf, size, "%d", c->processes);
    } else if (strcmp(field, "threads") == 0) {
        snprintf(buf, size, "%d", c->threads);
    } else if (strcmp(field, "pm") == 0) {
        snprintf(buf, size, "%s/%s",
                 c->pm_mode == FW_PM_STATIC    ? "static"
                 : c->pm_mode == FW_PM_DYNAMIC ? "dynamic"
                                               : "ondemand",
                 c->pm != NULL ? c->pm : "(null)");
    } else if (strcmp(field, "pool") == 0) {
        snprintf(buf, size, "max %d start %d spare %d-%d idle %d",
                 c->max_children, c->start_servers, c->min_spare, c->max_spare,
                 c->idle_timeout);
    } else if (strcmp(field, "recycle") == 0) {
        snprintf(buf, size, "lazy %d requests %d+%d rss %d shutdown %d",
                 (int)c->lazy_apps, c->max_requests, c->max_requests_delta,
                 c->reload_on_rss, c->worker_shutdown_timeout);
    } else if (strcmp(field, "touch_reload") == 0) {
        list_text(&c->touch_reload, buf, size);
    } else if (strcmp(field, "py_autoreload") == 0) {
        snprintf(buf, size, "%d", c->py_autoreload);
    } else if (strcmp(field, "identity") == 0) {
        snprintf(buf, size, "pidfile %s uid %s gid %s chown %s",
                 c->pidfile != NULL ? c->pidfile : "(null)",
                 c->uid != NULL ? c->uid : "(null)",
                 c->gid != NULL ? c->gid : "(null)",
                 c->chown_socket != NULL ? c->chown_socket : "(null)");
    } else if (strcmp(field, "harakiri") == 0) {
        snprintf(buf, size, "%d", c->harakiri);
    } else if (strcmp(field, "slowlog") == 0) {
        snprintf(buf, size, "%d", c->slowlog);
    } else if (strcmp(field, "wire") == 0) {
        snprintf(buf, size,
                 "socket-timeout %d keepalive-timeout %d buffer-size %lld "
                 "limit-post %lld post-buffering %lld",
                 c->socket_timeout, c->keepalive_timeout, c->buffer_size,
                 c->limit_post, c->post_buffering);
    } else if (strcmp(field, "allowed_clients") == 0) {
        list_text(&c->allowed_clients, buf, size);
    } else if (strcmp(field, "allow_root") == 0) {
        snprintf(buf, size, "%d", (int)c->allow_root);
    } else if (strcmp(field, "listen") == 0) {
        switch (c->listen.kind) {
        case FW_SOCK_NONE:
            snprintf(buf, size, "none");
            break;
        case FW_SOCK_UNIX:
            snprintf(buf, size, "unix %s", c->listen.path);
            break;
        case FW_SOCK_TCP:
            snprintf(buf, size, "tcp %s %d", c->listen.host, c->listen.port);
            break;
        }
    } else {
        fail_msg("no field '%s' in the test", field);
    }
}

static void
expect_str(const char *name, const char *what, const char *want,
           const char *got)
{
    if (got == NULL) {
        got = "(null)";
    }
    if (strcmp(want, got) != 0) {
        print_error("case '%s': %s\n  want: '%s'\n  got:  '%s'\n", name, what,
                    want, got);
        fail();
    }
}

/* ---- successful loads: ini file, command line, expected fields ---- */

typedef struct {
    const char *name;
    const char *ini;              /* written to {ini} first, if not NULL */
    const char *inc;              /* written to {inc} first, if not NULL */
    const char *args[MAX_ARGS];   /* command line, NULL-ended */
    const char *want[MAX_EXPECT]; /* "field=value" (value after subst) */
} ok_case_t;

static const ok_case_t ok_cases[] = {
    {"defaults",
     NULL,
     NULL,
     {"--module", "m"},
     {"socket=(null)", "listen=none", "chdir=(null)", "home=(null)",
      "module=m", "callable=application",
      "pythonpath=", "env=", "logto=(null)", "mount=(null)", "chmod=660",
      "processes=1", "threads=1"}},
    {"cli: every option",
     NULL,
     NULL,
     {"--socket",       "unix:/run/app.sock",
      "--chdir",        "/srv/app",
      "--home",         "/srv/venv",
      "--module",       "config.wsgi",
      "--callable",     "app",
      "--pythonpath",   "/a",
      "--pythonpath",   "/b",
      "--env",          "A=1",
      "--env",          "B=x=y",
      "--logto",        "/var/log/app.log",
      "--mount",        "/app",
      "--chmod-socket", "600",
      "--processes",    "4",
      "--threads",      "8"},
     {"socket=unix:/run/app.sock", "listen=unix /run/app.sock",
      "chdir=/srv/app", "home=/srv/venv", "module=config.wsgi", "callable=app",
      "pythonpath=/a|/b", "env=A=1|B=x=y", "logto=/var/log/app.log",
      "mount=/app", "chmod=600", "processes=4", "threads=8"}},
    {"cli: --key=value for every option",
     NULL,
     NULL,
     {"--socket=127.0.0.1:9000", "--chdir=/srv/app", "--home=/srv/venv",
      "--module=config.wsgi:app", "--pythonpath=/a", "--env=A=1", "--logto=/l",
      "--mount=/app", "--chmod-socket=640", "--processes=2", "--threads=3",
      "--callable=app", "--master=false"},
     {"listen=tcp 127.0.0.1 9000", "chdir=/srv/app", "home=/srv/venv",
      "module=config.wsgi", "callable=app", "pythonpath=/a", "env=A=1",
      "logto=/l", "mount=/app", "chmod=640", "processes=2", "threads=3"}},
    {"ini: every option",
     "; a comment\n"
     "# another\n"
     "[fcgi-wsgi]\n"
     "socket = unix:/run/app.sock\n"
     "chdir = /srv/app\n"
     "home = /srv/venv\n"
     "module = config.wsgi\n"
     "callable = app\n"
     "pythonpath = /a\n"
     "pythonpath = /b\n"
     "env = A=1\n"
     "env = B=x=y\n"
     "logto = /var/log/app.log\n"
     "mount = /app\n"
     "chmod-socket = 600\n"
     "processes = 4\n"
     "threads = 8\n",
     NULL,
     {"--ini", "{ini}"},
     {"socket=unix:/run/app.sock", "listen=unix /run/app.sock",
      "chdir=/srv/app", "home=/srv/venv", "module=config.wsgi", "callable=app",
      "pythonpath=/a|/b", "env=A=1|B=x=y", "logto=/var/log/app.log",
      "mount=/app", "chmod=600", "processes=4", "threads=8"}},
    {"ini: a bare FILE.ini argument, and --ini=FILE",
     "[fcgi-wsgi]\nmodule = a\npythonpath = /x\n",
     "[fcgi-wsgi]\npythonpath = /y\n",
     {"{ini}", "--ini={inc}"},
     {"module=a", "pythonpath=/x|/y"}},
    {"ini: the command line wins; lists: file items then cli items",
     "[fcgi-wsgi]\nmodule = a\nprocesses = 2\nsocket = :9000\n"
     "pythonpath = /f1\npythonpath = /f2\nenv = F=1\nchdir = /file\n",
     NULL,
     {"--pythonpath", "/c1", "--module", "b", "--ini", "{ini}", "-p", "3",
      "--env", "C=2", "--socket", "/run/b.sock"},
     {"module=b", "processes=3", "listen=unix /run/b.sock",
      "pythonpath=/f1|/f2|/c1", "env=F=1|C=2", "chdir=/file"}},
    {"ini: the last value of a scalar wins",
     "[fcgi-wsgi]\nmodule = a\nmodule = b\nthreads = 2\nthreads = 5\n",
     NULL,
     {"{ini}"},
     {"module=b", "threads=5"}},
    {"ini: [fcgi-wsgi] is preferred over [uwsgi]",
     "[uwsgi]\nmodule = from_uwsgi\nhttp = :8000\n"
     "[fcgi-wsgi]\nmodule = from_fw\n",
     NULL,
     {"{ini}"},
     {"module=from_fw"}},
    {"ini: [uwsgi] when there is no [fcgi-wsgi]; other sections ignored",
     "before = any section\n"
     "[other]\nmodule = no\nbogus = 1\n"
     "[uwsgi]\nmodule = yes\n"
     "[more]\nmodule = no either\n",
     NULL,
     {"{ini}"},
     {"module=yes"}},
    {"ini: other sections may hold anything",
     "no section = here\nnot even a key\n"
     "[tox]\ndeps =\n    pytest\n    django\nlist: without equals\n"
     "long = " X50 X50 X50 X50 X50 "\n"
     "[uwsgi]\nmodule = a\n[more]\n  indented only\n",
     NULL,
     {"{ini}"},
     {"module=a"}},
    {"ini: a Django project's uwsgi.ini, with uWSGI's no-ops",
     "[uwsgi]\n"
     "chdir = /srv/mysite\n"
     "module = mysite.wsgi:application\n"
     "home = /srv/venv\n"
     "master = true\n"
     "processes = 4\n"
     "threads = 2\n"
     "socket = /run/mysite.sock\n"
     "chmod-socket = 664\n"
     "vacuum = true\n"
     "die-on-term = true\n"
     "enable-threads = true\n"
     "strict = true\n"
     "single-interpreter = true\n"
     "need-app = true\n"
     "manage-script-name = true\n"
     "no-orphans = true\n"
     "thunder-lock = true\n"
     "auto-procname = true\n"
     "memory-report = true\n"
     "disable-logging = true\n"
     "log-master = true\n"
     "log-date = %%Y-%%m-%%d\n"
     "plugins = python3\n"
     "plugin = python3\n"
     "procname-prefix = mysite-\n"
     "procname-prefix-spaced = mysite\n"
     "buffer-size = 32768\n"
     "post-buffering = 8192\n",
     NULL,
     {"{ini}"},
     {"chdir=/srv/mysite", "module=mysite.wsgi", "callable=application",
      "home=/srv/venv", "processes=4", "threads=2",
      "listen=unix /run/mysite.sock", "chmod=664"}},
    {"ini: booleans in every spelling",
     "[uwsgi]\nmodule = a\nmaster = true\nvacuum = false\nstrict = yes\n"
     "need-app = no\nno-orphans = on\nthunder-lock = off\n"
     "die-on-term = 1\nenable-threads = 0\nlog-master = TRUE\n"
     "memory-report =\n",
     NULL,
     {"{ini}"},
     {"module=a"}},
    {"cli: a bare boolean means true and takes no value",
     NULL,
     NULL,
     {"--master", "--module", "a", "--vacuum", "--die-on-term=no"},
     {"module=a"}},
    {"ini: indented lines are lines of their own (no continuation)",
     "[fcgi-wsgi]\nmodule = a\n    processes = 3\n\tthreads = 2\n",
     NULL,
     {"{ini}"},
     {"module=a", "processes=3", "threads=2"}},
    {"ini: comments, inline ' ;' comments, blanks, CRLF, a BOM",
     "\xEF\xBB\xBF[fcgi-wsgi]\r\n"
     "; comment\r\n"
     "# comment\r\n"
     "\r\n"
     "module = a ; the application\r\n"
     "socket = :9000\r\n",
     NULL,
     {"{ini}"},
     {"module=a", "listen=tcp 127.0.0.1 9000", "socket=:9000"}},
    {"ini: ini = FILE reads that file there and then",
     "[fcgi-wsgi]\nmodule = a\npythonpath = /1\nini = %dinc.ini\n"
     "pythonpath = /3\n",
     "[uwsgi]\npythonpath = /2\nmodule = b\n",
     {"{ini}"},
     {"module=b", "pythonpath=/1|/2|/3"}},
    {"socket: unix:PATH",
     NULL,
     NULL,
     {"--module", "a", "--socket", "unix:/run/app.sock"},
     {"listen=unix /run/app.sock"}},
    {"socket: a PATH with '/'",
     NULL,
     NULL,
     {"--module", "a", "--socket", "/run/app.sock"},
     {"listen=unix /run/app.sock"}},
    {"socket: a relative PATH with '/'",
     NULL,
     NULL,
     {"--module", "a", "--socket", "./app.sock"},
     {"listen=unix ./app.sock"}},
    {"socket: unix:relative",
     NULL,
     NULL,
     {"--module", "a", "--socket", "unix:app.sock"},
     {"listen=unix app.sock"}},
    {"socket: HOST:PORT with a name",
     NULL,
     NULL,
     {"--module", "a", "--socket", "localhost:9000"},
     {"listen=tcp localhost 9000"}},
    {"socket: HOST:PORT with an IPv4 address",
     NULL,
     NULL,
     {"--module", "a", "--socket", "10.1.2.3:65535"},
     {"listen=tcp 10.1.2.3 65535"}},
    {"socket: :PORT means 127.0.0.1 only",
     NULL,
     NULL,
     {"--module", "a", "--socket", ":9000"},
     {"listen=tcp 127.0.0.1 9000", "socket=:9000"}},
    {"socket: 0.0.0.0:PORT for every interface",
     NULL,
     NULL,
     {"--module", "a", "--socket", "0.0.0.0:1"},
     {"listen=tcp 0.0.0.0 1"}},
    {"socket: [::1]:PORT",
     NULL,
     NULL,
     {"--module", "a", "--socket", "[::1]:9000"},
     {"listen=tcp ::1 9000"}},
    {"socket: [::]:PORT",
     NULL,
     NULL,
     {"--module", "a", "--socket", "[::]:9000"},
     {"listen=tcp :: 9000"}},
    {"socket: the last one wins",
     NULL,
     NULL,
     {"--module", "a", "--socket", ":9000", "-s", "/run/x.sock"},
     {"listen=unix /run/x.sock"}},
    {"subst: %d %p %s %n %e %c %%",
     "[fcgi-wsgi]\nmodule = a\n"
     "chdir = %d\n"
     "logto = %p\n"
     "home = %s|%n|%e|%c|100%%\n",
     NULL,
     {"{ini}"},
     {"chdir={dir}/", "logto={dir}/t.ini", "home=t.ini|t|ini|{dirname}|100%"}},
    {"subst: %(name) of keys above, by any of their names",
     "[uwsgi]\nchdir = /srv/site\nvenv = %(chdir)/venv\n"
     "module = a\npythonpath = %(home)/lib\npythonpath = %(pyhome)/x\n"
     "logto = %(pythonpath)\n",
     NULL,
     {"{ini}"},
     {"home=/srv/site/venv", "pythonpath=/srv/site/venv/lib|/srv/site/venv/x",
      "logto=/srv/site/venv/x"}},
    {"subst: %(NAME) from the environment",
     "[fcgi-wsgi]\nmodule = a\nchdir = %(FW_TEST_VAR)/x\n",
     NULL,
     {"{ini}"},
     {"chdir=from-env/x"}},
    {"subst: set-placeholder and set-ph define %(NAME)",
     "[uwsgi]\nset-placeholder = base=/srv/app\nset-ph = app=mysite\n"
     "chdir = %(base)\nmodule = %(app).wsgi\nmount = /%(app)\n",
     NULL,
     {"{ini}"},
     {"chdir=/srv/app", "module=mysite.wsgi", "mount=/mysite"}},
    {"subst: a key of the file wins over the environment",
     "[fcgi-wsgi]\nmodule = a\nset-ph = FW_TEST_VAR=from-file\n"
     "chdir = %(FW_TEST_VAR)\n",
     NULL,
     {"{ini}"},
     {"chdir=from-file"}},
    {"module: pkg.mod:callable is split",
     NULL,
     NULL,
     {"--module", "config.wsgi:app"},
     {"module=config.wsgi", "callable=app"}},
    {"module: callable given apart",
     NULL,
     NULL,
     {"--module", "config.wsgi", "--callable", "app"},
     {"module=config.wsgi", "callable=app"}},
    {"module: callable given twice, the same",
     NULL,
     NULL,
     {"--callable", "app", "--module", "config.wsgi:app"},
     {"module=config.wsgi", "callable=app"}},
    {"module: the cli module replaces the file's, callable part too",
     "[fcgi-wsgi]\nmodule = a:app\n",
     NULL,
     {"{ini}", "--module", "b"},
     {"module=b", "callable=application"}},
    {"module: non-ASCII identifiers",
     NULL,
     NULL,
     {"--module", "caf\xc3\xa9.wsgi:\xc3\xa0pp"},
     {"module=caf\xc3\xa9.wsgi", "callable=\xc3\xa0pp"}},
    {"mount: a bare prefix",
     NULL,
     NULL,
     {"--module", "a", "--mount", "/app"},
     {"mount=/app", "module=a"}},
    {"mount: uWSGI's PREFIX=MODULE sets module",
     "[uwsgi]\nmount = /app=config.wsgi:application\n",
     NULL,
     {"{ini}"},
     {"mount=/app", "module=config.wsgi", "callable=application"}},
    {"mount: PREFIX=MODULE:CALLABLE",
     NULL,
     NULL,
     {"--mount", "/a/b=config.wsgi:app"},
     {"mount=/a/b", "module=config.wsgi", "callable=app"}},
    {"mount: module given otherwise wins over mount's",
     "[uwsgi]\nmount = /app=config.wsgi:app\n",
     NULL,
     {"{ini}", "--module", "other.wsgi"},
     {"mount=/app", "module=other.wsgi", "callable=application"}},
    {"seeing inside: off by default, ping answers pong, pool named after "
     "the module",
     NULL,
     NULL,
     {"--module", "a"},
     {"harakiri=0", "slowlog=0", "status_path=(null)", "ping_path=(null)",
      "ping_response=pong", "pool_name=a", "access_log=(null)"}},
    {"seeing inside: every option, from an ini file",
     "[uwsgi]\nmodule = a\nharakiri = 30\nharakiri-verbose = true\n"
     "slowlog = 5\nstatus-path = /fcgi-status\nping-path = /ping\n"
     "ping-response = ok\npool-name = www\naccess-log = /var/log/a.log\n",
     NULL,
     {"{ini}"},
     {"harakiri=30", "slowlog=5", "status_path=/fcgi-status",
      "ping_path=/ping", "ping_response=ok", "pool_name=www",
      "access_log=/var/log/a.log"}},
    {"process manager: defaults",
     NULL,
     NULL,
     {"--module", "a"},
     {"pm=static/static", "pool=max 1 start 0 spare 1-0 idle 10",
      "recycle=lazy 0 requests 0+0 rss 0 shutdown 30",
      "touch_reload=", "py_autoreload=0",
      "identity=pidfile (null) uid (null) gid (null) chown (null)"}},
    {"process manager: py-autoreload, uWSGI's names",
     "[uwsgi]\nmodule = a\npython-autoreload = 3\n",
     NULL,
     {"{ini}", "--py-auto-reload", "2"},
     {"py_autoreload=2"}},
    {"process manager: py-autoreload in uWSGI's ini",
     "[uwsgi]\nmodule = a\npy-autoreload = 1\n",
     NULL,
     {"{ini}"},
     {"py_autoreload=1"}},
    {"process manager: static, max-children alone sets processes",
     NULL,
     NULL,
     {"--module", "a", "--max-children", "4"},
     {"processes=4", "pool=max 4 start 0 spare 1-0 idle 10"}},
    {"process manager: dynamic, spares derived from processes",
     NULL,
     NULL,
     {"--module", "a", "--pm", "dynamic", "--processes", "8"},
     {"pm=dynamic/dynamic", "pool=max 8 start 2 spare 1-3 idle 10"}},
    {"process manager: dynamic, a small pool, aliases",
     NULL,
     NULL,
     {"--module", "a", "--pm", "dynamic", "--max-children", "2", "--min-spare",
      "1", "--max-spare", "2"},
     {"pool=max 2 start 1 spare 1-2 idle 10"}},
    {"process manager: ondemand in an ini file",
     "[fcgi-wsgi]\nmodule = a\npm = ondemand\nmax-children = 5\n"
     "idle-timeout = 3\n",
     NULL,
     {"{ini}"},
     {"pm=ondemand/ondemand", "pool=max 5 start 0 spare 1-0 idle 3"}},
    {"process manager: recycling, reload, identity",
     NULL,
     NULL,
     {"--module",
      "a",
      "--lazy-apps",
      "--max-requests",
      "100",
      "--max-requests-delta",
      "10",
      "--reload-on-rss",
      "512",
      "--worker-reload-mercy",
      "5",
      "--touch-reload",
      "/a",
      "--touch-reload",
      "/b",
      "--pidfile",
      "/run/fw.pid",
      "--uid",
      "www-data",
      "--gid",
      "33",
      "--chown-socket",
      "www-data:www-data"},
     {"recycle=lazy 1 requests 100+10 rss 512 shutdown 5",
      "touch_reload=/a|/b",
      "identity=pidfile /run/fw.pid uid www-data gid 33 chown "
      "www-data:www-data"}},
    {"process manager: lazy = false in uWSGI's ini",
     "[uwsgi]\nmodule = a\nlazy = false\nworker-shutdown-timeout = 9\n",
     NULL,
     {"{ini}"},
     {"recycle=lazy 0 requests 0+0 rss 0 shutdown 9"}},
    {"chmod-socket: octal",
     NULL,
     NULL,
     {"--module", "a", "--chmod-socket", "0644"},
     {"chmod=644"}},
    {"chmod-socket: bare on the command line means 666",
     NULL,
     NULL,
     {"--module", "a", "--chmod-socket"},
     {"chmod=666"}},
    {"chmod-socket: bare before another option",
     NULL,
     NULL,
     {"--chmod-socket", "--module", "a"},
     {"chmod=666", "module=a"}},
    {"chmod-socket: empty in an ini file means 666",
     "[uwsgi]\nmodule = a\nchmod-socket =\n",
     NULL,
     {"{ini}"},
     {"chmod=666"}},
    {"chmod-socket: 0 is a mode",
     NULL,
     NULL,
     {"--module", "a", "--chmod-socket=0"},
     {"chmod=0"}},
    {"wire: defaults",
     NULL,
     NULL,
     {"--module", "a"},
     {"wire=socket-timeout 60 keepalive-timeout 75 buffer-size 65536 "
      "limit-post 0 post-buffering 1048576",
      "allowed_clients=", "allow_root=0"}},
    {"wire: sizes with k, m, g suffixes, either case",
     NULL,
     NULL,
     {"--module", "a", "--buffer-size", "32k", "--limit-post", "10M",
      "--post-buffering", "1G", "--socket-timeout", "5",
      "--keepalive-timeout=300"},
     {"wire=socket-timeout 5 keepalive-timeout 300 buffer-size 32768 "
      "limit-post 10485760 post-buffering 1073741824"}},
    {"wire: uWSGI's plain bytes in an ini file",
     "[uwsgi]\nmodule = a\nbuffer-size = 65535\npost-buffering = 8192\n"
     "limit-post = 2g\nsocket-timeout = 4\n",
     NULL,
     {"{ini}"},
     {"wire=socket-timeout 4 keepalive-timeout 75 buffer-size 65535 "
      "limit-post 2147483648 post-buffering 8192"}},
    {"wire: the bounds themselves",
     NULL,
     NULL,
     {"--module", "a", "--buffer-size", "1024", "--post-buffering", "0",
      "--limit-post", "8388608g", "--socket-timeout", "86400",
      "--keepalive-timeout", "1"},
     {"wire=socket-timeout 86400 keepalive-timeout 1 buffer-size 1024 "
      "limit-post 9007199254740992 post-buffering 0"}},
    {"wire: buffer-size up to 16m",
     NULL,
     NULL,
     {"--module", "a", "--buffer-size", "16m", "--post-buffering", "1024m"},
     {"wire=socket-timeout 60 keepalive-timeout 75 buffer-size 16777216 "
      "limit-post 0 post-buffering 1073741824"}},
    {"allowed-clients: comma-separated and repeated, blanks dropped",
     NULL,
     NULL,
     {"--module", "a", "--allowed-clients", "127.0.0.1, 10.0.0.0/8 ,\t::1",
      "--allowed-clients", "fd00::/8"},
     {"allowed_clients=127.0.0.1,10.0.0.0/8,::1|fd00::/8"}},
    {"allowed-clients: php-fpm's listen.allowed_clients in an ini file",
     "[fcgi-wsgi]\nmodule = a\nlisten.allowed_clients = 192.168.1.10\n"
     "allowed-clients = ::ffff:10.0.0.0/104, 2001:db8::/32\n",
     NULL,
     {"{ini}"},
     {"allowed_clients=192.168.1.10|::ffff:10.0.0.0/104,2001:db8::/32"}},
    {"allowed-clients: file items, then command-line items",
     "[fcgi-wsgi]\nmodule = a\nallowed-clients = 10.1.0.0/16\n",
     NULL,
     {"{ini}", "--listen.allowed_clients", "0.0.0.0/0,::/0"},
     {"allowed_clients=10.1.0.0/16|0.0.0.0/0,::/0"}},
    {"allow-root: bare, -R, and in an ini file",
     "[fcgi-wsgi]\nmodule = a\nallow-root = yes\n",
     NULL,
     {"{ini}"},
     {"allow_root=1"}},
    {"allow-root: -R on the command line",
     NULL,
     NULL,
     {"-R", "--module", "a"},
     {"allow_root=1"}},
    {"allow-root: the command line says false",
     "[fcgi-wsgi]\nmodule = a\nallow-root = true\n",
     NULL,
     {"{ini}", "--allow-root=false"},
     {"allow_root=0"}},
    {"uwsgi: ignored options are noted once each for the start-up log",
     "[uwsgi]\nmodule = a\nmaster = true\nvacuum = true\nmaster = 1\n"
     "enable-threads =\nthunder-lock = false\nplugins = python3\n",
     NULL,
     {"{ini}"},
     {"notices=uWSGI option master ignored: fcgi-wsgi always runs a master "
      "process|uWSGI option vacuum ignored: the unix socket and the pidfile "
      "are removed at exit anyway|uWSGI option enable-threads ignored: "
      "Python threads are always enabled|uWSGI option plugins ignored: "
      "CPython is built in: there are no plugins to load",
      "warnings="}},
    {"uwsgi: a log format's %(var) are kept as written, $(VAR) expanded",
     "[uwsgi]\nmodule = a\nlog-format = %(addr) - %(user) [%(ltime)] "
     "%(status) $(FW_TEST_VAR)\nlogformat-strftime = true\n",
     NULL,
     {"{ini}"},
     {"log_format=%(addr) - %(user) [%(ltime)] %(status) from-env",
      "notices=uWSGI option logformat-strftime accepted, not applied yet: "
      "write a log-format with %(micros) or %(ltime) (its date format is "
      "fixed for now)"}},
    {"uwsgi: a flag given false asks nothing, even a refused one",
     "[uwsgi]\nmodule = a\nvhost = false\ncheap = no\nprotocol = fastcgi\n"
     "socket-protocol = fastcgi\n",
     NULL,
     {"{ini}"},
     {"notices=", "module=a"}},
    {"cli: booleans take a value as uWSGI's do",
     NULL,
     NULL,
     {"--module", "a", "--enable-threads", "true", "--master", "1",
      "--lazy-apps", "no", "--allow-root", "off", "--vacuum", "-M", "0"},
     {"recycle=lazy 0 requests 0+0 rss 0 shutdown 30", "allow_root=0",
      "notices=uWSGI option enable-threads ignored: Python threads are "
      "always enabled|uWSGI option master ignored: fcgi-wsgi always runs a "
      "master process|uWSGI option vacuum ignored: the unix socket and the "
      "pidfile are removed at exit anyway"}},
    {"cli: a boolean's value only if it is a boolean word",
     NULL,
     NULL,
     {"--lazy-apps", "--module", "a", "--allow-root", "-M"},
     {"recycle=lazy 1 requests 0+0 rss 0 shutdown 30", "allow_root=1"}},
    {"cli: uWSGI's one-letter options",
     NULL,
     NULL,
     {"-w", "a", "-M", "-T", "-b", "32768", "-t", "30", "-z", "5", "-C",
      "600"},
     {"module=a", "harakiri=30", "chmod=600",
      "wire=socket-timeout 5 keepalive-timeout 75 buffer-size 32768 "
      "limit-post 0 post-buffering 1048576"}},
    {"subst: $(VAR), $(VAR:-DEFAULT), $(VAR-DEFAULT)",
     "[uwsgi]\nmodule = a\nchdir = $(FW_TEST_VAR)/x\n"
     "home = $(FW_TEST_UNSET:-/srv/%n)\nlogto = $(FW_TEST_EMPTY:-empty)|"
     "$(FW_TEST_EMPTY-unset)|$(FW_TEST_UNSET-unset)|$5|a@b\n"
     "processes = $(FW_TEST_UNSET:-$(FW_TEST_UNSET2:-3))\n",
     NULL,
     {"{ini}"},
     {"chdir=from-env/x", "home=/srv/t", "logto=empty||unset|$5|a@b",
      "processes=3"}},
    {"subst: @(FILE), less its final newline; its name substituted",
     "[uwsgi]\nmodule = a\nchdir = @(%dinc.ini)/app\n",
     "/from/a/file\n",
     {"{ini}"},
     {"chdir=/from/a/file/app"}},
    {"subst: keys of the user's are placeholders (uWSGI's custom keys)",
     "[uwsgi]\ninstance_dir = /srv/site\nproject = mysite\n"
     "chdir = %(instance_dir)/%(project)\nmodule = %(project).wsgi\n",
     NULL,
     {"{ini}"},
     {"chdir=/srv/site/mysite", "module=mysite.wsgi"}},
    {"subst: a placeholder of an included file, used after it",
     "[uwsgi]\nini = %dinc.ini\nchdir = %(base)/app\nmodule = a\n",
     "[uwsgi]\nbase = /srv/base\n",
     {"{ini}"},
     {"chdir=/srv/base/app"}},
    {"set: an option, or a placeholder",
     "[uwsgi]\nset = processes=3\nset = where=/srv/w\nchdir = %(where)\n"
     "set = module=a\n",
     NULL,
     {"{ini}"},
     {"processes=3", "chdir=/srv/w", "module=a"}},
    {"ini: FILE:SECTION, on the command line and in ini =",
     "[uwsgi]\nmodule = dev.wsgi\nprocesses = 1\n"
     "[production]\nmodule = prod.wsgi\nprocesses = 4\nini = %dinc.ini:more\n",
     "[uwsgi]\nthreads = 9\n[more]\nthreads = 2\n",
     {"{ini}:production"},
     {"module=prod.wsgi", "processes=4", "threads=2"}},
    {"ini: --ini FILE:SECTION",
     "[uwsgi]\nmodule = dev.wsgi\n[staging]\nmodule = staging.wsgi\n",
     NULL,
     {"--ini", "{ini}:staging"},
     {"module=staging.wsgi"}},
    {"wsgi-file: loaded under uWSGI's name, its pool named after it",
     "[uwsgi]\nchdir = /srv/app\nwsgi-file = app.py\ncallable = app\n",
     NULL,
     {"{ini}"},
     {"wsgi_file=app.py", "module=uwsgi_file_app_py", "callable=app",
      "pool_name=app.py"}},
    {"wsgi-file: file, a path with odd characters",
     NULL,
     NULL,
     {"--file", "/srv/my-site/wsgi.py"},
     {"wsgi_file=/srv/my-site/wsgi.py",
      "module=uwsgi_file__srv_my_site_wsgi_py", "callable=application"}},
    {"wsgi-file: mount = /PREFIX=FILE.py",
     "[uwsgi]\nmount = /app=%dapp.wsgi\n",
     NULL,
     {"{ini}"},
     {"mount=/app", "wsgi_file={dir}/app.wsgi"}},
    {"static-map and static-map2, and the warning that names the command",
     "[uwsgi]\nmodule = a\nstatic-map = /static=/srv/s\n"
     "static-map2 = /media=/srv/m/\n",
     NULL,
     {"{ini}", "--threads", "2"},
     {"static_map=/static=/srv/s|/media=/srv/m/media",
      "warnings=static-map (/static, /media): fcgi-wsgi serves no files, "
      "the web server must (else these URLs reach the application): "
      "fcgi-wsgi {ini} --threads 2 --print-config nginx prints its part (or "
      "apache, lighttpd)"}},
    {"static-map: no warning when printing the config",
     "[uwsgi]\nmodule = a\nsocket = :9000\nstatic-map = /static=/srv/s\n",
     NULL,
     {"{ini}", "--print-config", "systemd"},
     {"warnings="}},
};

static void
test_ok_case(void **state)
{
    const ok_case_t *tc = *state;
    fx_conf_run_t r;

    if (tc->ini != NULL) {
        write_file("{ini}", tc->ini);
    }
    if (tc->inc != NULL) {
        write_file("{inc}", tc->inc);
    }
    run_args(&r, tc->args);
    expect_str(tc->name, "stderr", "", r.err);
    expect_str(tc->name, "stdout", "", r.out);
    assert_int_equal(r.rc, FW_CONF_OK);
    for (int i = 0; i < MAX_EXPECT && tc->want[i] != NULL; i++) {
        const char *eq = strchr(tc->want[i], '=');
        char field[32];
        char got[1024];
        char *want;

        assert_non_null(eq);
        snprintf(field, sizeof(field), "%.*s", (int)(eq - tc->want[i]),
                 tc->want[i]);
        field_text(&r.c, field, got, sizeof(got));
        want = subst(eq + 1);
        expect_str(tc->name, field, want, got);
        free(want);
    }
    fx_conf_run_done(&r);
}

/* ---- errors: ini file, command line, the exact line on stderr ---- */

typedef struct {
    const char *name;
    const char *ini; /* written to {ini} first, if not NULL */
    const char *args[MAX_ARGS];
    const char *want; /* stderr, after subst */
} err_case_t;

#define HTTP_ERR                                                              \
    "fcgi-wsgi speaks FastCGI only: put a web server in front (nginx "        \
    "fastcgi_pass) and use socket = ...; see README.md 'Migrating from "      \
    "uWSGI'\n"
#define FORMS                                                                 \
    "expected unix:PATH, a PATH containing '/', HOST:PORT, [IPv6]:PORT or "   \
    ":PORT"

static const err_case_t err_cases[] = {
    {"ini: unknown key, with file:line:key",
     "[fcgi-wsgi]\nmodule = a\n\nbogus = 1\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:4: bogus: unknown option; see fcgi-wsgi --help\n"},
    {"cli: unknown option",
     NULL,
     {"--module", "a", "--bogus", "1"},
     "fcgi-wsgi: --bogus: unknown option; see fcgi-wsgi --help\n"},
    {"cli: unknown option in --key=value form",
     NULL,
     {"--bogus=1"},
     "fcgi-wsgi: --bogus: unknown option; see fcgi-wsgi --help\n"},
    {"cli: unknown one-letter option (not uWSGI's either)",
     NULL,
     {"-X", "1"},
     "fcgi-wsgi: -X: unknown option; see fcgi-wsgi --help\n"},
    {"cli: a long name with one dash",
     NULL,
     {"-socket", ":1"},
     "fcgi-wsgi: -socket: unexpected argument; options start with --, ini "
     "files end in .ini\n"},
    {"cli: a one-letter alias with two dashes",
     NULL,
     {"--s", ":1"},
     "fcgi-wsgi: --s: unknown option; see fcgi-wsgi --help\n"},
    {"cli: a stray argument",
     NULL,
     {"--module", "a", "app.conf"},
     "fcgi-wsgi: app.conf: unexpected argument; options start with --, ini "
     "files end in .ini\n"},
    {"cli: a value missing at the end",
     NULL,
     {"--module", "a", "--socket"},
     "fcgi-wsgi: --socket: needs a value\n"},
    {"cli: an empty value",
     NULL,
     {"--module="},
     "fcgi-wsgi: --module: needs a value\n"},
    {"cli: --ini without a file",
     NULL,
     {"--ini="},
     "fcgi-wsgi: --ini: needs a value\n"},
    {"ini: bad whole number",
     "[fcgi-wsgi]\nmodule = a\nprocesses = abc\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: processes: expected a whole number >= 1, got "
     "'abc'\n"},
    {"cli: zero threads",
     NULL,
     {"--module", "a", "--threads", "0"},
     "fcgi-wsgi: --threads: expected a whole number >= 1, got '0'\n"},
    {"cli: negative processes, by alias",
     NULL,
     {"--module", "a", "-p", "-3"},
     "fcgi-wsgi: -p: expected a whole number >= 1, got '-3'\n"},
    {"cli: a number too big for an int",
     NULL,
     {"--module", "a", "--workers=99999999999"},
     "fcgi-wsgi: --workers: expected a whole number >= 1, got "
     "'99999999999'\n"},
    {"ini: bad boolean",
     "[uwsgi]\nmodule = a\nmaster = maybe\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: master: expected true or false (yes/no, on/off, "
     "1/0), got 'maybe'\n"},
    {"cli: bad boolean",
     NULL,
     {"--vacuum=perhaps"},
     "fcgi-wsgi: --vacuum: expected true or false (yes/no, on/off, 1/0), "
     "got 'perhaps'\n"},
    {"ini: env without '='",
     "[fcgi-wsgi]\nmodule = a\nenv = DJANGO_SETTINGS_MODULE\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: env: expected KEY=VALUE, got "
     "'DJANGO_SETTINGS_MODULE'\n"},
    {"cli: env with an empty key",
     NULL,
     {"--env", "=x"},
     "fcgi-wsgi: --env: expected KEY=VALUE, got '=x'\n"},
    {"missing module, empty command line",
     NULL,
     {NULL},
     "fcgi-wsgi: no module given: set module = pkg.wsgi (or --module), or "
     "wsgi-file = FILE\n"},
    {"missing module, ini without one",
     "[fcgi-wsgi]\nsocket = :9000\n",
     {"{ini}"},
     "fcgi-wsgi: no module given: set module = pkg.wsgi (or --module), or "
     "wsgi-file = FILE\n"},
    {"an empty [fcgi-wsgi] still wins over [uwsgi]",
     "[uwsgi]\nmodule = a\n[fcgi-wsgi]\n",
     {"{ini}"},
     "fcgi-wsgi: no module given: set module = pkg.wsgi (or --module), or "
     "wsgi-file = FILE\n"},
    {"ini: http in [uwsgi]",
     "[uwsgi]\nmodule = a\nhttp = :8000\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: http: " HTTP_ERR},
    {"ini: http-socket",
     "[uwsgi]\nhttp-socket = :8000\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: http-socket: " HTTP_ERR},
    {"ini: http-timeout (any http-*)",
     "[uwsgi]\nhttp-timeout = 60\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: http-timeout: " HTTP_ERR},
    {"cli: https",
     NULL,
     {"--https", ":443,c,k"},
     "fcgi-wsgi: --https: " HTTP_ERR},
    {"cli: http11-socket",
     NULL,
     {"--http11-socket=:80"},
     "fcgi-wsgi: --http11-socket: " HTTP_ERR},
    {"cli: status-path is a URL path",
     NULL,
     {"--module", "a", "--status-path", "status"},
     "fcgi-wsgi: --status-path: expected a URL path such as /fcgi-status, "
     "got 'status'\n"},
    {"cli: ping-path has no query",
     NULL,
     {"--module", "a", "--ping-path", "/ping?x"},
     "fcgi-wsgi: --ping-path: a URL path has no space, control character, "
     "'?' or '#', got '/ping?x'\n"},
    {"cli: harakiri is whole seconds",
     NULL,
     {"--module", "a", "--harakiri", "1.5"},
     "fcgi-wsgi: --harakiri: expected a whole number >= 0, got '1.5'\n"},
    {"ini: uWSGI's max-worker-lifetime refused, with what to do instead",
     "[uwsgi]\nmodule = a\nmax-worker-lifetime = 30\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: max-worker-lifetime: recycle workers with "
     "max-requests (and max-requests-delta)\n"},
    {"ini: uWSGI's hooks refused",
     "[uwsgi]\nhook-master-start = exec:true\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: hook-master-start: hooks: run these steps in the "
     "systemd unit (ExecStartPre=) or in the module that holds the "
     "application\n"},
    {"cli: uWSGI's chroot refused",
     NULL,
     {"--chroot", "/srv"},
     "fcgi-wsgi: --chroot: set RootDirectory= in the systemd unit\n"},
    {"ini: uWSGI's cache2 refused",
     "[uwsgi]\nmodule = a\ncache2 = name=mycache,items=100\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: cache2: uWSGI's caches: use Django's cache "
     "framework (Redis, memcached, database or file)\n"},
    {"cli: uWSGI's gevent refused, its value taken",
     NULL,
     {"--module", "a", "--gevent", "100"},
     "fcgi-wsgi: --gevent: fcgi-wsgi serves each request on a thread: use "
     "threads = N (a gevent or asyncio application needs a server of its "
     "kind)\n"},
    {"cli: uWSGI's -d (daemonize) refused",
     NULL,
     {"--module", "a", "-d", "/var/log/x.log"},
     "fcgi-wsgi: -d: run fcgi-wsgi in the foreground under systemd "
     "(--print-config systemd) or another supervisor; logto writes a log "
     "file\n"},
    {"ini: protocol other than fastcgi",
     "[uwsgi]\nmodule = a\nprotocol = http\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: protocol: fcgi-wsgi speaks FastCGI only: protocol "
     "= fastcgi (or none) with a web server in front (nginx fastcgi_pass), "
     "got 'http'\n"},
    {"ini: a uWSGI flag's value is a boolean",
     "[uwsgi]\nmodule = a\nvacuum = sometimes\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: vacuum: expected true or false (yes/no, on/off, "
     "1/0), got 'sometimes'\n"},
    {"ini: a typo gets a suggestion",
     "[uwsgi]\nmodule = a\nproceses = 4\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: proceses: unknown option; did you mean "
     "processes?\n"},
    {"ini: a typo of an alias and of a uWSGI name",
     "[uwsgi]\nmodule = a\nenable-thread = true\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: enable-thread: unknown option; did you mean "
     "enable-threads?\n"},
    {"cli: a typo gets a suggestion with its dashes",
     NULL,
     {"--module", "a", "--harakri", "30"},
     "fcgi-wsgi: --harakri: unknown option; did you mean --harakiri?\n"},
    {"ini: a key of the user's that no %(key) uses is unknown, reported "
     "after the file",
     "[uwsgi]\nmodule = a\nmax_requests = 100\nprocesses = 2\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: max_requests: unknown option; did you mean "
     "max-requests?\n"},
    {"ini: $(VAR) unset, no default",
     "[uwsgi]\nmodule = a\nprocesses = $(FW_TEST_UNSET)\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: processes: $(FW_TEST_UNSET): not set in the "
     "environment (write $(FW_TEST_UNSET:-DEFAULT) for a default)\n"},
    {"ini: $(VAR) substituted, then checked",
     "[uwsgi]\nmodule = a\nprocesses = $(FW_TEST_VAR)\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: processes: expected a whole number >= 1, got "
     "'from-env'\n"},
    {"ini: unterminated $(",
     "[uwsgi]\nmodule = a\nchdir = $(HOME\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: chdir: unterminated $( in '$(HOME'\n"},
    {"ini: @(FILE) missing",
     "[uwsgi]\nmodule = a\nchdir = @(%dnone.txt)\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: chdir: @({dir}/none.txt): cannot read: No such "
     "file or directory\n"},
    {"ini: FILE:SECTION without that section",
     "[uwsgi]\nmodule = a\n",
     {"{ini}:production"},
     "fcgi-wsgi: {ini}: no [production] section\n"},
    {"ini: ini = FILE:SECTION without that section",
     "[uwsgi]\nmodule = a\nini = %p:nope\n",
     {"--ini", "{ini}"},
     "fcgi-wsgi: {ini}: no [nope] section\n"},
    {"module and wsgi-file both",
     "[uwsgi]\nmodule = a\nwsgi-file = app.py\n",
     {"{ini}"},
     "fcgi-wsgi: module = a and wsgi-file = app.py both name the "
     "application: give one\n"},
    {"cli: set is for ini files",
     NULL,
     {"--set", "a=b"},
     "fcgi-wsgi: --set: only in ini files\n"},
    {"cli: py-autoreload is a number of seconds",
     NULL,
     {"--module", "a", "--py-autoreload", "-1"},
     "fcgi-wsgi: --py-autoreload: expected a whole number from 0 to 86400, "
     "got '-1'\n"},
    {"cli: pm, an unknown mode",
     NULL,
     {"--module", "a", "--pm", "sometimes"},
     "fcgi-wsgi: --pm: expected static, dynamic or ondemand, got "
     "'sometimes'\n"},
    {"ini: pm dynamic, min-spare above max-spare",
     "[fcgi-wsgi]\nmodule = a\npm = dynamic\nmax-children = 4\n"
     "min-spare-servers = 3\nmax-spare-servers = 2\n",
     {"{ini}"},
     "fcgi-wsgi: pm = dynamic needs min-spare-servers (3) <= "
     "max-spare-servers (2) <= max-children (4)\n"},
    {"cli: pm dynamic, max-spare above max-children",
     NULL,
     {"--module", "a", "--pm", "dynamic", "--max-children", "2", "--max-spare",
      "3"},
     "fcgi-wsgi: pm = dynamic needs min-spare-servers (1) <= "
     "max-spare-servers (3) <= max-children (2)\n"},
    {"cli: pm dynamic, start-servers outside the spares",
     NULL,
     {"--module", "a", "--pm", "dynamic", "--processes", "8",
      "--start-servers", "5"},
     "fcgi-wsgi: pm = dynamic needs min-spare-servers (1) <= "
     "start-servers (5) <= max-spare-servers (3)\n"},
    {"cli: pm static, processes and max-children disagree",
     NULL,
     {"--module", "a", "--processes", "2", "--max-children", "3"},
     "fcgi-wsgi: pm = static: processes = 2 and max-children = 3 "
     "disagree: give one\n"},
    {"cli: max-requests is a number",
     NULL,
     {"--module", "a", "--max-requests", "many"},
     "fcgi-wsgi: --max-requests: expected a whole number >= 0, got "
     "'many'\n"},
    {"socket :0",
     NULL,
     {"--module", "a", "--socket", ":0"},
     "fcgi-wsgi: --socket: port must be 1 to 65535, got ':0'\n"},
    {"socket :70000",
     "[fcgi-wsgi]\nmodule = a\nsocket = :70000\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: socket: port must be 1 to 65535, got ':70000'\n"},
    {"socket host: without a port",
     NULL,
     {"-s", "localhost:"},
     "fcgi-wsgi: -s: port must be 1 to 65535, got 'localhost:'\n"},
    {"socket host:abc",
     NULL,
     {"-s", "localhost:http"},
     "fcgi-wsgi: -s: port must be 1 to 65535, got 'localhost:http'\n"},
    {"socket nohost",
     NULL,
     {"--socket", "nohost"},
     "fcgi-wsgi: --socket: " FORMS ", got 'nohost'\n"},
    {"socket unix: without a path",
     NULL,
     {"--socket", "unix:"},
     "fcgi-wsgi: --socket: expected a path after unix:\n"},
    {"socket [not-ipv6]:PORT",
     NULL,
     {"--socket", "[foo]:9000"},
     "fcgi-wsgi: --socket: expected an IPv6 address inside [ ], got "
     "'[foo]:9000'\n"},
    {"socket [::1] without a port",
     NULL,
     {"--socket", "[::1]"},
     "fcgi-wsgi: --socket: " FORMS ", got '[::1]'\n"},
    {"socket IPv6 without brackets",
     NULL,
     {"--socket", "::1:9000"},
     "fcgi-wsgi: --socket: write an IPv6 address in brackets, as "
     "[::1]:9000, got '::1:9000'\n"},
    {"ini: %(unknown)",
     "[fcgi-wsgi]\nmodule = a\nchdir = %(nope)/x\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: chdir: unknown %(nope): not a key set above nor "
     "an environment variable\n"},
    {"ini: %(name) of a key set below is unknown",
     "[fcgi-wsgi]\nchdir = %(module)\nmodule = a\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: chdir: unknown %(module): not a key set above "
     "nor an environment variable\n"},
    {"ini: unterminated %(",
     "[fcgi-wsgi]\nchdir = %(base\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: chdir: unterminated %( in '%(base'\n"},
    {"ini: unknown %k",
     "[uwsgi]\nprocesses = %k\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: processes: unknown substitution '%k' (known: %d "
     "%p %s %n %e %c %% %(NAME) $(VAR) @(FILE))\n"},
    {"ini: a lone % at the end",
     "[uwsgi]\nchdir = /srv/100%\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: chdir: a '%' ends the value: write %% for a "
     "'%'\n"},
    {"ini: set-placeholder without '='",
     "[uwsgi]\nset-ph = base\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: set-ph: expected NAME=VALUE, got 'base'\n"},
    {"cli: set-placeholder is for ini files",
     NULL,
     {"--set-ph", "a=b"},
     "fcgi-wsgi: --set-ph: only in ini files\n"},
    {"missing ini file",
     NULL,
     {"--ini", "{dir}/none.ini"},
     "fcgi-wsgi: {dir}/none.ini: cannot read: No such file or directory\n"},
    {"missing bare FILE.ini",
     NULL,
     {"{dir}/none.ini"},
     "fcgi-wsgi: {dir}/none.ini: cannot read: No such file or directory\n"},
    {"ini file that is a directory",
     NULL,
     {"--ini", "{dir}"},
     "fcgi-wsgi: {dir}: cannot read: Is a directory\n"},
    {"ini: missing included file",
     "[fcgi-wsgi]\nini = %dnone.ini\n",
     {"{ini}"},
     "fcgi-wsgi: {dir}/none.ini: cannot read: No such file or directory\n"},
    {"ini: including itself",
     "[fcgi-wsgi]\nini = %p\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: ini: ini files nested more than 8 deep\n"},
    {"ini: no [fcgi-wsgi] or [uwsgi] section",
     "module = a\n[app]\nsocket = :1\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}: no [fcgi-wsgi] or [uwsgi] section: put the options "
     "under [fcgi-wsgi]\n"},
    {"ini: an empty file",
     "",
     {"{ini}"},
     "fcgi-wsgi: {ini}: no [fcgi-wsgi] or [uwsgi] section: put the options "
     "under [fcgi-wsgi]\n"},
    {"ini: a key with a leading '-'",
     "[uwsgi]\n--socket = :1\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: --socket: write the option without leading '-' "
     "in an ini file\n"},
    {"ini: a line without '='",
     "[uwsgi]\nmodule = a\nmaster\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: expected KEY = VALUE\n"},
    {"ini: key: value is not uWSGI's",
     "[uwsgi]\nmodule: a\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: expected KEY = VALUE\n"},
    {"ini: an unclosed section",
     "[uwsgi\nmodule = a\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:1: expected [SECTION]\n"},
    {"ini: an empty value",
     "[uwsgi]\nmodule = a\nsocket =\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: socket: needs a value\n"},
    {"ini: help is for the command line",
     "[fcgi-wsgi]\nhelp = true\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: help: only on the command line\n"},
    {"module: a file name",
     NULL,
     {"--module", "config/wsgi.py"},
     "fcgi-wsgi: --module: expected a module name, not a file: config.wsgi "
     "rather than config/wsgi.py (set chdir or pythonpath to its "
     "directory), or wsgi-file = FILE, got 'config/wsgi.py'\n"},
    {"module: not an identifier",
     NULL,
     {"--module", "1config.wsgi"},
     "fcgi-wsgi: --module: expected a Python module such as config.wsgi or "
     "config.wsgi:application, got '1config.wsgi'\n"},
    {"module: an empty callable",
     NULL,
     {"-w", "config.wsgi:"},
     "fcgi-wsgi: -w: expected a Python module such as config.wsgi or "
     "config.wsgi:application, got 'config.wsgi:'\n"},
    {"module: two dots",
     NULL,
     {"--wsgi", "config..wsgi"},
     "fcgi-wsgi: --wsgi: expected a Python module such as config.wsgi or "
     "config.wsgi:application, got 'config..wsgi'\n"},
    {"callable: not a name",
     NULL,
     {"--callable", "get_app()"},
     "fcgi-wsgi: --callable: expected a Python name such as application, "
     "got 'get_app()'\n"},
    {"callable: disagrees with module's",
     "[fcgi-wsgi]\nmodule = config.wsgi:app\n",
     {"{ini}", "--callable", "other"},
     "fcgi-wsgi: callable = other disagrees with module = config.wsgi:app: "
     "give the callable once\n"},
    {"mount: without a leading '/'",
     NULL,
     {"--module", "a", "--mount", "app"},
     "fcgi-wsgi: --mount: expected a URL prefix such as /app (starting with "
     "'/', not ending with '/'), got 'app'\n"},
    {"mount: with a trailing '/'",
     "[uwsgi]\nmount = /app/=config.wsgi\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: mount: expected a URL prefix such as /app "
     "(starting with '/', not ending with '/'), got '/app/=config.wsgi'\n"},
    {"mount: / alone",
     NULL,
     {"--module", "a", "--mount", "/"},
     "fcgi-wsgi: --mount: expected a URL prefix such as /app (starting with "
     "'/', not ending with '/'), got '/'\n"},
    {"mount: a bad module part",
     NULL,
     {"--mount", "/app=app/wsgi"},
     "fcgi-wsgi: --mount: expected a module name, not a file: config.wsgi "
     "rather than config/wsgi.py (set chdir or pythonpath to its "
     "directory), or wsgi-file = FILE, got 'app/wsgi'\n"},
    {"chmod-socket: not octal",
     NULL,
     {"--module", "a", "--chmod-socket=999"},
     "fcgi-wsgi: --chmod-socket: expected an octal file mode such as 660, "
     "got '999'\n"},
    {"chmod-socket: too big",
     "[uwsgi]\nchmod-socket = 17777\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:2: chmod-socket: expected an octal file mode such as "
     "660, got '17777'\n"},
    {"buffer-size: below 1k",
     NULL,
     {"--module", "a", "--buffer-size", "1023"},
     "fcgi-wsgi: --buffer-size: expected a size from 1k to 16m in bytes, or "
     "with k, m or g (1024-based) as 64k, got '1023'\n"},
    {"buffer-size: above 16m",
     "[uwsgi]\nmodule = a\nbuffer-size = 17m\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: buffer-size: expected a size from 1k to 16m in "
     "bytes, or with k, m or g (1024-based) as 64k, got '17m'\n"},
    {"buffer-size: one byte above 16m",
     NULL,
     {"--module", "a", "--buffer-size=16777217"},
     "fcgi-wsgi: --buffer-size: expected a size from 1k to 16m in bytes, or "
     "with k, m or g (1024-based) as 64k, got '16777217'\n"},
    {"post-buffering: above 1g",
     "[uwsgi]\nmodule = a\npost-buffering = 1025m\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: post-buffering: expected a size from 0 to 1g in "
     "bytes, or with k, m or g (1024-based) as 64k, got '1025m'\n"},
    {"limit-post: an unknown suffix",
     NULL,
     {"--module", "a", "--limit-post", "10x"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got '10x'\n"},
    {"limit-post: two letters",
     NULL,
     {"--module", "a", "--limit-post", "10kb"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got '10kb'\n"},
    {"limit-post: negative",
     NULL,
     {"--module", "a", "--limit-post", "-1"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got '-1'\n"},
    {"limit-post: a fraction",
     NULL,
     {"--module", "a", "--limit-post", "1.5m"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got '1.5m'\n"},
    {"limit-post: a suffix alone",
     NULL,
     {"--module", "a", "--limit-post", "k"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got 'k'\n"},
    {"limit-post: too big for 64 bits",
     NULL,
     {"--module", "a", "--limit-post", "8589934592g"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got '8589934592g'\n"},
    {"limit-post: too many digits",
     NULL,
     {"--module", "a", "--limit-post", "99999999999999999999"},
     "fcgi-wsgi: --limit-post: expected a size >= 0 in bytes, or with k, m "
     "or g (1024-based) as 64k, got '99999999999999999999'\n"},
    {"socket-timeout: 0",
     NULL,
     {"--module", "a", "--socket-timeout", "0"},
     "fcgi-wsgi: --socket-timeout: expected a whole number from 1 to 86400, "
     "got '0'\n"},
    {"keepalive-timeout: more than a day",
     "[fcgi-wsgi]\nmodule = a\nkeepalive-timeout = 86401\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: keepalive-timeout: expected a whole number from 1 "
     "to 86400, got '86401'\n"},
    {"allowed-clients: an IPv4 prefix over 32",
     NULL,
     {"--module", "a", "--allowed-clients", "10.0.0.0/33"},
     "fcgi-wsgi: --allowed-clients: '10.0.0.0/33' is not an IPv4/IPv6 "
     "address or network: expected such as 127.0.0.1, 10.0.0.0/8, ::1 or "
     "fd00::/8 (IPv4 up to /32, IPv6 up to /128), separated by commas\n"},
    {"allowed-clients: an IPv6 prefix over 128",
     NULL,
     {"--module", "a", "--allowed-clients", "::1/129"},
     "fcgi-wsgi: --allowed-clients: '::1/129' is not an IPv4/IPv6 address "
     "or network: expected such as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8 "
     "(IPv4 up to /32, IPv6 up to /128), separated by commas\n"},
    {"allowed-clients: the bad entry of a list, in an ini file",
     "[fcgi-wsgi]\nmodule = a\nallowed-clients = 127.0.0.1, 300.1.1.1, "
     "::1\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: allowed-clients: '300.1.1.1' is not an IPv4/IPv6 "
     "address or network: expected such as 127.0.0.1, 10.0.0.0/8, ::1 or "
     "fd00::/8 (IPv4 up to /32, IPv6 up to /128), separated by commas\n"},
    {"allowed-clients: a host name",
     "[fcgi-wsgi]\nmodule = a\nlisten.allowed_clients = localhost\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: listen.allowed_clients: 'localhost' is not an "
     "IPv4/IPv6 address or network: expected such as 127.0.0.1, "
     "10.0.0.0/8, ::1 or fd00::/8 (IPv4 up to /32, IPv6 up to /128), "
     "separated by commas\n"},
    {"allowed-clients: a prefix without bits",
     NULL,
     {"--module", "a", "--allowed-clients", "10.0.0.0/"},
     "fcgi-wsgi: --allowed-clients: '10.0.0.0/' is not an IPv4/IPv6 address "
     "or network: expected such as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8 "
     "(IPv4 up to /32, IPv6 up to /128), separated by commas\n"},
    {"allowed-clients: an IPv6 zone",
     NULL,
     {"--module", "a", "--allowed-clients", "fe80::1%eth0"},
     "fcgi-wsgi: --allowed-clients: 'fe80::1%eth0' is not an IPv4/IPv6 "
     "address or network: expected such as 127.0.0.1, 10.0.0.0/8, ::1 or "
     "fd00::/8 (IPv4 up to /32, IPv6 up to /128), separated by commas\n"},
    {"allowed-clients: a short IPv4 address",
     NULL,
     {"--module", "a", "--allowed-clients", "10.1"},
     "fcgi-wsgi: --allowed-clients: '10.1' is not an IPv4/IPv6 address or "
     "network: expected such as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8 "
     "(IPv4 up to /32, IPv6 up to /128), separated by commas\n"},
    {"allowed-clients: an empty entry",
     NULL,
     {"--module", "a", "--allowed-clients", "127.0.0.1,,::1"},
     "fcgi-wsgi: --allowed-clients: an empty entry in '127.0.0.1,,::1': "
     "expected IPv4/IPv6 addresses or networks separated by commas\n"},
    {"allowed-clients: a comma alone",
     "[fcgi-wsgi]\nmodule = a\nallowed-clients = ,\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: allowed-clients: an empty entry in ',': expected "
     "IPv4/IPv6 addresses or networks separated by commas\n"},
    {"allowed-clients: empty",
     "[fcgi-wsgi]\nmodule = a\nallowed-clients =\n",
     {"{ini}"},
     "fcgi-wsgi: {ini}:3: allowed-clients: needs a value\n"},
    {"allow-root: not a boolean",
     NULL,
     {"--module", "a", "--allow-root=maybe"},
     "fcgi-wsgi: --allow-root: expected true or false (yes/no, on/off, 1/0), "
     "got 'maybe'\n"},
    {"cli: the first error is the only one",
     NULL,
     {"--threads", "x", "--processes", "y"},
     "fcgi-wsgi: --threads: expected a whole number >= 1, got 'x'\n"},
};

static void
test_err_case(void **state)
{
    const err_case_t *tc = *state;
    char *want = subst(tc->want);
    fx_conf_run_t r;

    if (tc->ini != NULL) {
        write_file("{ini}", tc->ini);
    }
    run_args(&r, tc->args);
    expect_str(tc->name, "stderr", want, r.err);
    expect_str(tc->name, "stdout", "", r.out);
    assert_int_equal(r.rc, FW_CONF_ERROR);
    free(want);
    fx_conf_run_done(&r);
}

/* ---- the rest: cases that build their input ---- */

/* Every alias, on the command line and in an ini file. */
static void
test_aliases(void **state)
{
    static const struct {
        const char *opt; /* as on the command line */
        const char *value;
        const char *field;
        const char *want;
    } rows[] = {
        {"--fastcgi-socket", ":9000", "listen", "tcp 127.0.0.1 9000"},
        {"-s", ":9001", "listen", "tcp 127.0.0.1 9001"},
        {"--virtualenv", "/v1", "home", "/v1"},
        {"--venv", "/v2", "home", "/v2"},
        {"--pyhome", "/v3", "home", "/v3"},
        {"-H", "/v4", "home", "/v4"},
        {"--wsgi", "w1.wsgi", "module", "w1.wsgi"},
        {"-w", "w2.wsgi", "module", "w2.wsgi"},
        {"--python-path", "/p1", "pythonpath", "/p1"},
        {"--pp", "/p2", "pythonpath", "/p2"},
        {"--workers", "5", "processes", "5"},
        {"-p", "6", "processes", "6"},
        {"-R", "1", "allow_root", "1"},
        {"--listen.allowed_clients", "10.0.0.0/8", "allowed_clients",
         "10.0.0.0/8"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *cli[] = {"--module", "a", rows[i].opt, rows[i].value,
                             NULL};
        const char *ini_args[] = {"{ini}", NULL};
        const char *key = rows[i].opt + (rows[i].opt[1] == '-' ? 2 : 1);
        char ini[256];
        char got[256];
        fx_conf_run_t r;

        run_args(&r, cli);
        expect_str(rows[i].opt, "stderr", "", r.err);
        field_text(&r.c, rows[i].field, got, sizeof(got));
        expect_str(rows[i].opt, rows[i].field, rows[i].want, got);
        fx_conf_run_done(&r);

        snprintf(ini, sizeof(ini), "[uwsgi]\nmodule = a\n%s = %s\n", key,
                 rows[i].value);
        write_file("{ini}", ini);
        run_args(&r, ini_args);
        expect_str(key, "stderr", "", r.err);
        field_text(&r.c, rows[i].field, got, sizeof(got));
        expect_str(key, rows[i].field, rows[i].want, got);
        fx_conf_run_done(&r);
    }
}

/*
 * A line of 199 characters is read; one of 200 is an error, not two lines
 * (libinih's buffer, as Debian builds it, is 200 bytes with the NUL).
 */
static void
test_ini_line_too_long(void **state)
{
    const char *args[] = {"{ini}", NULL};
    char ini[600];
    char *want;
    fx_conf_run_t r;

    (void)state;
    /* "chdir = /" is 9 characters, then 190 more */
    snprintf(ini, sizeof(ini), "[fcgi-wsgi]\nmodule = a\nchdir = /%0190d\n",
             0);
    write_file("{ini}", ini);
    run_args(&r, args);
    expect_str("199 characters", "stderr", "", r.err);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_int_equal(strlen(r.c.chdir), 191);
    fx_conf_run_done(&r);

    snprintf(ini, sizeof(ini), "[fcgi-wsgi]\nmodule = a\nchdir = /%0191d\n",
             0);
    write_file("{ini}", ini);
    run_args(&r, args);
    want = subst("fcgi-wsgi: {ini}:3: line too long (the limit is 199 "
                 "characters)\n");
    expect_str("200 characters", "stderr", want, r.err);
    assert_int_equal(r.rc, FW_CONF_ERROR);
    free(want);
    fx_conf_run_done(&r);
}

/* The longest unix socket path that fits, and one byte more. */
static void
test_socket_path_limit(void **state)
{
    char path[200];
    const char *args[] = {"--module", "a", "--socket", path, NULL};
    fx_conf_run_t r;

    (void)state;
    memset(path, 'x', sizeof(path));
    path[0] = '/';
    path[107] = '\0';
    run_args(&r, args);
    expect_str("107 bytes", "stderr", "", r.err);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_int_equal(r.c.listen.kind, FW_SOCK_UNIX);
    assert_string_equal(r.c.listen.path, path);
    fx_conf_run_done(&r);

    path[107] = 'x';
    path[108] = '\0';
    run_args(&r, args);
    expect_str("108 bytes", "stderr",
               "fcgi-wsgi: --socket: unix socket path is 108 bytes long; the "
               "limit is 107\n",
               r.err);
    assert_int_equal(r.rc, FW_CONF_ERROR);
    fx_conf_run_done(&r);
}

/* --version, -v and -V ask the caller to print the versions (what it
 * links is not conf's to know) and stop the load, whatever follows. */
static void
test_version(void **state)
{
    static const char *const spellings[] = {"--version", "-v", "-V"};
    fx_conf_run_t r;

    (void)state;
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        const char *args[] = {spellings[i], "--no-such-option", NULL};

        run_args(&r, args);
        assert_int_equal(r.rc, FW_CONF_EXIT);
        assert_true(r.c.show_version);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err, "");
        fx_conf_run_done(&r);
    }
}

/* -t / --test-config: a boolean; the configuration is still loaded and
 * checked whole (the caller tests and exits). */
static void
test_test_config(void **state)
{
    const char *short_args[] = {"-t", "--module", "app", NULL};
    const char *long_args[] = {"--test-config", "--module", "app", NULL};
    const char *no_module[] = {"-t", NULL};
    fx_conf_run_t r;

    (void)state;
    run_args(&r, short_args);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_true(r.c.test_config);
    fx_conf_run_done(&r);

    run_args(&r, long_args);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_true(r.c.test_config);
    assert_false(r.c.show_version);
    fx_conf_run_done(&r);

    run_args(&r, no_module);
    assert_int_equal(r.rc, FW_CONF_ERROR);
    fx_conf_run_done(&r);
}

/* --help lists every option with its default; it wins over what follows. */
static void
test_help(void **state)
{
    static const char *const lines[] = {
        "  --socket ADDR ",
        "      also --fastcgi-socket, -s\n",
        "  --chdir DIR ",
        "  --home DIR ",
        "      also --virtualenv, --venv, --pyhome, -H\n",
        "  --module MODULE ",
        "      also --wsgi, -w\n",
        "  --callable NAME ",
        " application  name of the WSGI callable in module\n",
        "  --mount PREFIX ",
        "  --pythonpath DIR ",
        "      also --python-path, --pp, --early-pythonpath, "
        "--early-python-path\n",
        "  --env KEY=VALUE ",
        "  --processes N ",
        "      also --workers, -p\n",
        "  --threads N ",
        "  --chmod-socket [MODE] ",
        " 660          unix socket mode, octal; bare: 666\n",
        "  --logto FILE ",
        "  --allow-root [BOOL] ",
        " false        serve as root, with no uid\n",
        "      also -R\n",
        "      also --chmod, -C\n",
        "  --socket-timeout S ",
        " 60           close a peer silent S s mid-request\n",
        "  --keepalive-timeout S ",
        " 75           close a kept connection idle for S s\n",
        "  --buffer-size SIZE ",
        " 64k          most bytes of params; more get 431\n",
        "  --limit-post SIZE ",
        " 0            most bytes of a body (0: no limit)\n",
        "  --post-buffering SIZE ",
        " 1m           unsized body: in memory, then a file\n",
        "  --allowed-clients ADDRS ",
        "      also --listen.allowed_clients\n",
        "Sizes: bytes, or with k, m or g (1024-based): 64k, 1m.\n",
        "  --help ",
        "  --version ",
        ":PORT binds 127.0.0.1 only",
        "\nSocket:\n  --socket ADDR ",
        "\nApplication:\n  --chdir DIR ",
        "  --wsgi-file FILE ",
        "      also --file\n",
        "\nPool:\n  --processes N ",
        "\nLimits:\n  --harakiri S ",
        "\nLogs and status:\n  --logto FILE ",
        "\nRecycling and reloading:\n  --max-requests N ",
        "\nConfiguration:\n  --static-map URL=DIR ",
        "  --ini FILE[:SEC] ",
        "      also --touch-workers-reload, --touch-chain-reload, "
        "--fs-reload,\n"
        "        --fs-brutal-reload\n",
        "$(VAR:-DEFAULT)",
        "fcgi-wsgi --print-config uwsgi-options lists them all.\n",
    };
    const char *args[] = {"--help", "--bogus", NULL};
    fx_conf_run_t r;

    (void)state;
    run_args(&r, args);
    assert_int_equal(r.rc, FW_CONF_EXIT);
    assert_string_equal(r.err, "");
    assert_true(strncmp(r.out, "usage: fcgi-wsgi ", 17) == 0);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (strstr(r.out, lines[i]) == NULL) {
            print_error("--help lacks '%s' in:\n%s", lines[i], r.out);
            fail();
        }
    }
    for (const char *p = r.out; *p != '\0';) {
        size_t n = strcspn(p, "\n");

        if (n > 79) {
            print_error("--help line longer than 79: %.*s\n", (int)n, p);
            fail();
        }
        p += n + (p[n] == '\n');
    }
    fx_conf_run_done(&r);

    /* fw_conf_usage alone prints the same */
    {
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);

        assert_non_null(fp);
        fw_conf_usage(fp);
        assert_int_equal(fclose(fp), 0);
        assert_true(strstr(buf, "  --socket ADDR ") != NULL);
        free(buf);
    }
}

/* --help is handled before any ini file is read. */
static void
test_help_before_ini(void **state)
{
    const char *args[] = {"--ini", "{dir}/none.ini", "--help", NULL};
    fx_conf_run_t r;

    (void)state;
    run_args(&r, args);
    assert_int_equal(r.rc, FW_CONF_EXIT);
    assert_string_equal(r.err, "");
    fx_conf_run_done(&r);
}

/* fw_conf_free on a zeroed, a filled and a freed config. */
static void
test_conf_free(void **state)
{
    const char *args[] = {"--module", "a",     "--pythonpath",
                          "/x",       "--env", "A=1",
                          "--socket", ":1",    NULL};
    fw_conf_t zero;
    fx_conf_run_t r;

    (void)state;
    memset(&zero, 0, sizeof(zero));
    fw_conf_free(&zero);
    run_args(&r, args);
    assert_int_equal(r.rc, FW_CONF_OK);
    fw_conf_free(&r.c);
    assert_null(r.c.module);
    assert_null(r.c.pythonpath.items);
    assert_int_equal(r.c.pythonpath.n, 0);
    fx_conf_run_done(&r); /* frees again */
}

/* fw_conf_load clears whatever the struct held before. */
static void
test_load_clears(void **state)
{
    const char *args[] = {"--module", "a", NULL};
    fx_conf_run_t r;

    (void)state;
    memset(&r.c, 0xa5, sizeof(r.c));
    run_args(&r, args);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_null(r.c.chdir);
    assert_int_equal(r.c.env.n, 0);
    assert_int_equal(r.c.listen.kind, FW_SOCK_NONE);
    fx_conf_run_done(&r);
}

/*
 * PHP_FCGI_CHILDREN (lighttpd's bin-environment, spawn-fcgi -C) is the
 * worker count when processes is not given: 0 means one process, empty is
 * as unset; an option in a file or on the command line wins; a bad value
 * is one error line.
 */
static void
test_php_fcgi_children(void **state)
{
    static const struct {
        const char *env;  /* PHP_FCGI_CHILDREN, or NULL: unset */
        const char *ini;  /* written to {ini} and read, or NULL */
        const char *opt;  /* a --processes value, or NULL */
        const char *want; /* processes, or the error line */
        fw_conf_result_e rc;
    } rows[] = {
        {NULL, NULL, NULL, "1", FW_CONF_OK},
        {"4", NULL, NULL, "4", FW_CONF_OK},
        {"0", NULL, NULL, "1", FW_CONF_OK},
        {"00", NULL, NULL, "1", FW_CONF_OK},
        {"4", NULL, "2", "2", FW_CONF_OK},
        {"4", "[fcgi-wsgi]\nmodule = a\nprocesses = 3\n", NULL, "3",
         FW_CONF_OK},
        {"4", "[fcgi-wsgi]\nmodule = a\n", NULL, "4", FW_CONF_OK},
        {"many", NULL, NULL,
         "fcgi-wsgi: PHP_FCGI_CHILDREN in the environment: expected a whole "
         "number >= 1, got 'many'\n",
         FW_CONF_ERROR},
        {"", NULL, NULL, "1", FW_CONF_OK},
        {"-2", NULL, NULL,
         "fcgi-wsgi: PHP_FCGI_CHILDREN in the environment: expected a whole "
         "number >= 1, got '-2'\n",
         FW_CONF_ERROR},
        {"many", NULL, "2", "2", FW_CONF_OK},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *args[6] = {"--module", "a", NULL};
        char name[64];
        char got[32];
        fx_conf_run_t r;

        snprintf(name, sizeof(name), "PHP_FCGI_CHILDREN row %zu", i);
        if (rows[i].ini != NULL) {
            write_file("{ini}", rows[i].ini);
            args[0] = "{ini}";
            args[1] = NULL;
        }
        if (rows[i].opt != NULL) {
            size_t n = rows[i].ini != NULL ? 1 : 2;

            args[n] = "--processes";
            args[n + 1] = rows[i].opt;
            args[n + 2] = NULL;
        }
        if (rows[i].env != NULL) {
            assert_int_equal(setenv("PHP_FCGI_CHILDREN", rows[i].env, 1), 0);
        } else {
            assert_int_equal(unsetenv("PHP_FCGI_CHILDREN"), 0);
        }
        run_args(&r, args);
        assert_int_equal(unsetenv("PHP_FCGI_CHILDREN"), 0);
        expect_str(name, "stdout", "", r.out);
        if (rows[i].rc == FW_CONF_OK) {
            expect_str(name, "stderr", "", r.err);
            field_text(&r.c, "processes", got, sizeof(got));
            expect_str(name, "processes", rows[i].want, got);
        } else {
            expect_str(name, "stderr", rows[i].want, r.err);
        }
        assert_int_equal(r.rc, rows[i].rc);
        fx_conf_run_done(&r);
    }
}

/*
 * fw_conf_parse_cidr, shared with bridge/allow.c: families, prefixes, the
 * host bits cleared, IPv4-mapped networks made IPv4, and what it refuses.
 */
static void
test_parse_cidr(void **state)
{
    static const struct {
        const char *text;
        int family; /* 0: refused */
        int prefix;
        unsigned char addr[16];
    } rows[] = {
        {"127.0.0.1", AF_INET, 32, {127, 0, 0, 1}},
        {"10.1.2.3/8", AF_INET, 8, {10}},
        {"192.168.255.1/23", AF_INET, 23, {192, 168, 254}},
        {"0.0.0.0/0", AF_INET, 0, {0}},
        {"::1", AF_INET6, 128, {[15] = 1}},
        {"fd00::1/8", AF_INET6, 8, {0xfd}},
        {"2001:db8:ffff::/33", AF_INET6, 33, {0x20, 0x01, 0x0d, 0xb8, 0x80}},
        {"::/0", AF_INET6, 0, {0}},
        {"::ffff:10.1.2.3", AF_INET, 32, {10, 1, 2, 3}},
        {"::ffff:10.0.0.0/104", AF_INET, 8, {10}},
        {"::ffff:0:0/96", AF_INET, 0, {0}},
        {"::ffff:0:0/95", AF_INET6, 95, {[10] = 0xff, [11] = 0xfe}},
        {"10.0.0.0/33", 0, 0, {0}},
        {"::/129", 0, 0, {0}},
        {"10.0.0.0/", 0, 0, {0}},
        {"10.0.0.0/0008", 0, 0, {0}},
        {"10.0.0.0/-1", 0, 0, {0}},
        {"10.0.0.0/8/8", 0, 0, {0}},
        {"/8", 0, 0, {0}},
        {"", 0, 0, {0}},
        {"10.0.0.256", 0, 0, {0}},
        {"10.0.0", 0, 0, {0}},
        {" 10.0.0.1", 0, 0, {0}},
        {"localhost", 0, 0, {0}},
        {"fe80::1%lo", 0, 0, {0}},
        {"1:2:3:4:5:6:7:8:9", 0, 0, {0}},
        {"0000:0000:0000:0000:0000:ffff:255.255.255.255:1", 0, 0, {0}},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fw_cidr_t got;
        int rc = fw_conf_parse_cidr(rows[i].text, strlen(rows[i].text), &got);

        if (rows[i].family == 0) {
            if (rc != -1) {
                print_error("'%s': accepted, expected refused\n",
                            rows[i].text);
                fail();
            }
            continue;
        }
        if (rc != 0 || got.family != rows[i].family ||
            got.prefix != rows[i].prefix ||
            memcmp(got.addr, rows[i].addr, sizeof(got.addr)) != 0) {
            print_error("'%s': rc %d family %d prefix %d, expected family %d "
                        "prefix %d (or other bytes)\n",
                        rows[i].text, rc, got.family, got.prefix,
                        rows[i].family, rows[i].prefix);
            fail();
        }
    }
    /* only len bytes are read: "10.0.0.0/8" of "10.0.0.0/8,9" */
    {
        fw_cidr_t got;

        assert_int_equal(fw_conf_parse_cidr("10.0.0.0/8,9", 10, &got), 0);
        assert_int_equal(got.prefix, 8);
        assert_int_equal(fw_conf_parse_cidr("10.0.0.0/24", 10, &got), 0);
        assert_int_equal(got.prefix, 2);
    }
}

/*
 * fw_conf_given_args writes the options given back as a command line that
 * loads (what --print-config prints): sizes in bytes, booleans as one word
 * (--allow-root=true: a bare boolean takes no "true" after it), the names
 * in skip left out, defaults never written.
 */
static void
test_given_args_write_back(void **state)
{
    const char *args[] = {"--print-config",
                          "systemd",
                          "--socket",
                          "127.0.0.1:9000",
                          "--module",
                          "a",
                          "--allow-root",
                          "--lazy-apps=false",
                          "--buffer-size",
                          "32k",
                          "--limit-post",
                          "1g",
                          "--allowed-clients",
                          "10.0.0.0/8, ::1",
                          "--socket-timeout",
                          "5",
                          NULL};
    const char *const skip[] = {"print-config", "socket", NULL};
    const char *words[24];
    char line[1024] = "";
    fw_strlist_t l = {0};
    fx_conf_run_t r;
    fx_conf_run_t again;

    (void)state;
    run_args(&r, args);
    expect_str("given args", "stderr", "", r.err);
    assert_int_equal(r.rc, FW_CONF_OK);
    assert_int_equal(r.c.print_target, FW_PRINT_SYSTEMD);
    fw_conf_given_args(&r.c, skip, &l);
    assert_true(l.n < 24);
    for (size_t i = 0; i < l.n; i++) {
        strcat(line, i > 0 ? " " : "");
        strcat(line, l.items[i]);
        words[i] = l.items[i];
    }
    words[l.n] = NULL;
    expect_str("given args", "command line",
               "--module a --lazy-apps=false --allow-root=true "
               "--socket-timeout 5 --buffer-size 32768 --limit-post "
               "1073741824 --allowed-clients 10.0.0.0/8,::1",
               line);

    /* the words load, with the same values */
    run_args(&again, words);
    expect_str("the written command line", "stderr", "", again.err);
    assert_int_equal(again.rc, FW_CONF_OK);
    assert_true(again.c.allow_root);
    assert_false(again.c.lazy_apps);
    assert_int_equal(again.c.buffer_size, 32768);
    assert_int_equal(again.c.limit_post, 1073741824LL);
    assert_int_equal(again.c.socket_timeout, 5);
    assert_int_equal(again.c.print_target, FW_PRINT_NONE);
    fx_conf_run_done(&again);
    fw_conf_strlist_free(&l);
    fx_conf_run_done(&r);

    /* a wsgi-file is written as one, not as the module it makes */
    {
        const char *file_args[] = {"--wsgi-file", "/srv/app.py", "--callable",
                                   "app", NULL};
        const char *const skip_callable[] = {"callable", NULL};

        run_args(&r, file_args);
        assert_int_equal(r.rc, FW_CONF_OK);
        fw_conf_given_args(&r.c, skip_callable, &l);
        line[0] = '\0';
        for (size_t i = 0; i < l.n; i++) {
            strcat(line, i > 0 ? " " : "");
            strcat(line, l.items[i]);
        }
        expect_str("given args", "wsgi-file",
                   "--callable app --wsgi-file /srv/app.py", line);
    }
    fw_conf_strlist_free(&l);
    fx_conf_run_done(&r);
}

/*
 * fw_conf_defaults: the table's defaults, the pool's sizes derived (a
 * master without an application sizes its scoreboard from them).
 */
static void
test_defaults_alone(void **state)
{
    fw_conf_t c;

    (void)state;
    fw_conf_defaults(&c);
    assert_int_equal(c.processes, 1);
    assert_int_equal(c.max_children, 1);
    assert_int_equal(c.threads, 1);
    assert_int_equal(c.worker_shutdown_timeout, 30);
    assert_int_equal(c.pm_mode, FW_PM_STATIC);
    assert_string_equal(c.callable, "application");
    assert_null(c.module);
    fw_conf_free(&c);
}

/* ---- the group ---- */

static int
remove_tree(const char *path)
{
    struct stat sb;

    if (lstat(path, &sb) < 0) {
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;

        if (d == NULL) {
            return -1;
        }
        while ((e = readdir(d)) != NULL) {
            char child[512];

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int
group_setup(void **state)
{
    char made[] = "/tmp/fw-conf-XXXXXX";
    char *real;
    const char *slash;

    (void)state;
    if (mkdtemp(made) == NULL) {
        return -1;
    }
    real = realpath(made, NULL);
    if (real == NULL) {
        return -1;
    }
    snprintf(tmpdir, sizeof(tmpdir), "%s", real);
    free(real);
    slash = strrchr(tmpdir, '/');
    snprintf(tmpdir_name, sizeof(tmpdir_name), "%s", slash + 1);
    snprintf(ini_path, sizeof(ini_path), "%s/t.ini", tmpdir);
    snprintf(inc_path, sizeof(inc_path), "%s/inc.ini", tmpdir);
    if (setenv("FW_TEST_EMPTY", "", 1) < 0 || unsetenv("FW_TEST_UNSET") < 0 ||
        unsetenv("FW_TEST_UNSET2") < 0) {
        return -1;
    }
    return setenv("FW_TEST_VAR", "from-env", 1);
}

static int
group_teardown(void **state)
{
    (void)state;
    return remove_tree(tmpdir);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_ini_line_too_long),
        cmocka_unit_test(test_socket_path_limit),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_test_config),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_help_before_ini),
        cmocka_unit_test(test_conf_free),
        cmocka_unit_test(test_load_clears),
        cmocka_unit_test(test_php_fcgi_children),
        cmocka_unit_test(test_parse_cidr),
        cmocka_unit_test(test_given_args_write_back),
        cmocka_unit_test(test_defaults_alone),
    };
    static const fx_table_t tables[] = {
        FX_TABLE(ok_cases, test_ok_case, NULL),
        FX_TABLE(err_cases, test_err_case, NULL),
    };

    return fx_run_group("conf", fixed, FX_COUNT(fixed), tables,
                        FX_COUNT(tables), group_setup, group_teardown);
}
