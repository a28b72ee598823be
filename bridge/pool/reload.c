/*
 * reload.c: how the master reloads (master.c decides when, and which
 * signal wins over a reload).  It checks that the configuration still
 * loads (if not, it logs why and nothing changes), then re-executes the
 * master: execve of /proc/self/exe with its first argv and environment,
 * in the directory it was started in.  The listening socket stays open
 * across the exec (no FD_CLOEXEC) and its number goes in FW_LISTEN_FD;
 * the running workers (its children, and still the new image's) go in
 * FW_OLD_WORKERS, the new generation's number in FW_GENERATION.  The new
 * image reads them back (fw_reload_handover_take), re-reads the
 * configuration, adopts the socket (listen.c) and the old workers, and
 * starts in RELOADING: it imports the new code (unless lazy-apps), forks
 * the new workers, then retires the old (fw_reload_retire_old).
 * Connections wait in the socket's backlog meanwhile: none is refused.
 * With lazy-apps the new workers import the code themselves, and the old
 * ones are retired only once one of them is ready, so broken new code
 * never empties the pool.  A touch-reload file touched (or a file written
 * or added in a touch-reload directory) does what SIGHUP does.
 * py-autoreload's socket pair (autoreload.c) is kept open across the exec
 * too, its numbers in FW_AUTORELOAD_FDS.  It never changes the master's
 * state.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/pool/pool_int.h"
#include "bridge/serve/serve.h"
#include "bridge/log.h"

#define RELOAD_ENV_LISTEN "FW_LISTEN_FD"
#define RELOAD_ENV_OLD "FW_OLD_WORKERS"
#define RELOAD_ENV_GENERATION "FW_GENERATION"
#define RELOAD_ENV_AUTORELOAD "FW_AUTORELOAD_FDS"

/* ----------------------------------------------------------- hand-over */

/* The pids of "1,2,3" into h->old_workers (what does not parse ends the
 * list). */
static void
reload_parse_pids(fw_reload_handover_t *h, const char *list)
{
    size_t n = 1;

    for (const char *p = list; *p != '\0'; p++) {
        n += *p == ',';
    }
    h->old_workers = calloc(n, sizeof(*h->old_workers));
    for (const char *p = list; h->old_workers != NULL && *p != '\0';) {
        char *end;
        long pid = strtol(p, &end, 10);

        if (end == p) {
            break;
        }
        if (pid > 0) {
            h->old_workers[h->nold_workers++] = (pid_t)pid;
        }
        p = *end == ',' ? end + 1 : end;
    }
}

void
fw_reload_handover_take(fw_reload_handover_t *h)
{
    const char *fd = getenv(RELOAD_ENV_LISTEN);
    const char *old = getenv(RELOAD_ENV_OLD);
    const char *gen = getenv(RELOAD_ENV_GENERATION);
    const char *pair = getenv(RELOAD_ENV_AUTORELOAD);
    int r, w;

    memset(h, 0, sizeof(*h));
    h->listen_fd = -1;
    h->autoreload_fds[0] = h->autoreload_fds[1] = -1;
    if (fd != NULL && fd[0] != '\0' && fd[strspn(fd, "0123456789")] == '\0') {
        h->listen_fd = atoi(fd);
    }
    if (gen != NULL) {
        h->generation = strtoull(gen, NULL, 10);
    }
    if (h->listen_fd >= 0 && old != NULL) {
        reload_parse_pids(h, old);
    }
    if (h->listen_fd >= 0 && pair != NULL &&
        sscanf(pair, "%d,%d", &r, &w) == 2 && r >= 0 && w >= 0) {
        h->autoreload_fds[0] = r;
        h->autoreload_fds[1] = w;
    }
    unsetenv(RELOAD_ENV_LISTEN);
    unsetenv(RELOAD_ENV_OLD);
    unsetenv(RELOAD_ENV_GENERATION);
    unsetenv(RELOAD_ENV_AUTORELOAD);
}

void
fw_reload_handover_free(fw_reload_handover_t *h)
{
    free(h->old_workers);
    h->old_workers = NULL;
    h->nold_workers = 0;
}

void
fw_reload_adopt(const fw_reload_handover_t *h)
{
    for (size_t i = 0; h != NULL && h->listen_fd >= 0 && i < h->nold_workers;
         i++) {
        fw_children_adopt(h->old_workers[i]);
    }
}

int
fw_reload_retire_old(double now)
{
    int old = 0;

    for (int i = 0; i < fw_children_capacity(); i++) {
        fw_child_t *c = fw_children_at(i);

        if (c->pid > 0 && c->adopted && c->state != FW_CHILD_RETIRING) {
            fw_children_retire(c, now);
            old++;
        }
    }
    return old;
}

/* ------------------------------------------------------ start directory */

/*
 * Relative paths in argv are the start directory's: goes there (when it
 * is known) and returns a descriptor of the directory to come back to
 * with reload_leave_start_dir, or -1.
 */
static int
reload_enter_start_dir(const fw_master_config_t *mc)
{
    int here;

    if (mc->cwd_fd < 0) {
        return -1;
    }
    here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)!fchdir(mc->cwd_fd);
    return here;
}

static void
reload_leave_start_dir(int here)
{
    if (here >= 0) {
        (void)!fchdir(here);
        close(here);
    }
}

/* ---------------------------------------------------------------- exec */

/* The new image's environment: the first one plus the hand-over. */
typedef struct {
    char **envp;   /* malloc'd; its strings are borrowed or below */
    char *old_var; /* "FW_OLD_WORKERS=1,2,3", malloc'd */
    char listen_var[64];
    char gen_var[64];
    char autoreload_var[64]; /* "FW_AUTORELOAD_FDS=5,6", or "" */
} reload_env_t;

/* The descriptors the new image takes over, open across the exec (-1:
 * none), and their flags before (fcntl F_GETFD; -1: not open). */
typedef struct {
    int fds[3];
    int flags[3];
} reload_keep_t;

/* "FW_OLD_WORKERS=1,2,3" of every live child, malloc'd; NULL on OOM. */
static char *
reload_old_workers_var(void)
{
    size_t size =
        sizeof(RELOAD_ENV_OLD) + 1 + (size_t)fw_children_alive() * 24 + 1;
    char *var = malloc(size);
    size_t used;

    if (var == NULL) {
        return NULL;
    }
    used = (size_t)snprintf(var, size, "%s=", RELOAD_ENV_OLD);
    for (int i = 0; i < fw_children_capacity() && used < size; i++) {
        const fw_child_t *c = fw_children_at(i);

        if (c->pid > 0) {
            used += (size_t)snprintf(var + used, size - used, "%s%ld",
                                     var[used - 1] == '=' ? "" : ",",
                                     (long)c->pid);
        }
    }
    return var;
}

static void
reload_env_free(reload_env_t *e)
{
    free(e->envp);
    free(e->old_var);
    e->envp = NULL;
    e->old_var = NULL;
}

/* Fills e for generation next.  0, or -1 out of memory (nothing held). */
static int
reload_env_make(reload_env_t *e, const fw_master_config_t *mc, uint64_t next)
{
    size_t n = 0, k = 0;

    while (mc->envp != NULL && mc->envp[n] != NULL) {
        n++;
    }
    e->envp = calloc(n + 5, sizeof(*e->envp));
    e->old_var = reload_old_workers_var();
    if (e->envp == NULL || e->old_var == NULL) {
        reload_env_free(e);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        e->envp[k++] = mc->envp[i];
    }
    snprintf(e->listen_var, sizeof(e->listen_var), "%s=%d", RELOAD_ENV_LISTEN,
             mc->worker->listen_fd);
    snprintf(e->gen_var, sizeof(e->gen_var), "%s=%llu", RELOAD_ENV_GENERATION,
             (unsigned long long)next);
    e->envp[k++] = e->listen_var;
    e->envp[k++] = e->old_var;
    e->envp[k++] = e->gen_var;
    if (e->autoreload_var[0] != '\0') {
        e->envp[k++] = e->autoreload_var;
    }
    e->envp[k] = NULL;
    return 0;
}

/* Clears close-on-exec on what the new image takes over: the listening
 * socket and py-autoreload's pair (its variable set in e). */
static void
reload_keep_open(reload_keep_t *keep, const fw_master_config_t *mc,
                 reload_env_t *e)
{
    int pair[2];

    fw_autoreload_handover(pair);
    keep->fds[0] = mc->worker->listen_fd;
    keep->fds[1] = pair[0];
    keep->fds[2] = pair[1];
    for (int i = 0; i < 3; i++) {
        keep->flags[i] = keep->fds[i] >= 0 ? fcntl(keep->fds[i], F_GETFD) : -1;
        if (keep->flags[i] >= 0) {
            (void)fcntl(keep->fds[i], F_SETFD, keep->flags[i] & ~FD_CLOEXEC);
        }
    }
    e->autoreload_var[0] = '\0';
    if (keep->flags[1] >= 0 && keep->flags[2] >= 0) {
        snprintf(e->autoreload_var, sizeof(e->autoreload_var), "%s=%d,%d",
                 RELOAD_ENV_AUTORELOAD, pair[0], pair[1]);
    }
}

/* The exec failed: the flags as they were. */
static void
reload_keep_undo(const reload_keep_t *keep)
{
    for (int i = 0; i < 3; i++) {
        if (keep->flags[i] >= 0) {
            (void)fcntl(keep->fds[i], F_SETFD, keep->flags[i]);
        }
    }
}

void
fw_reload_exec(const fw_master_config_t *mc, uint64_t generation,
               const char *why)
{
    reload_env_t env;
    reload_keep_t keep;
    sigset_t saved_mask;
    int here, saved;

    reload_keep_open(&keep, mc, &env);
    if (reload_env_make(&env, mc, generation + 1) < 0) {
        reload_keep_undo(&keep);
        fw_log(FW_LOG_ERROR, "%s: reload: out of memory", why);
        return;
    }
    fw_log(FW_LOG_INFO,
           "%s: reload: re-executing with %d worker(s) still serving", why,
           fw_children_alive());

    fflush(NULL);
    /* blocked across the exec: the new image takes them once ready */
    fw_signals_block(&saved_mask);
    here = reload_enter_start_dir(mc);
    /* systemd: RELOADING=1; the new image sends READY=1 */
    fw_notify_reloading(fw_scoreboard_now_us());
    execve("/proc/self/exe", mc->argv, env.envp);
    saved = errno;

    reload_leave_start_dir(here);
    reload_keep_undo(&keep);
    fw_signals_restore(&saved_mask);
    reload_env_free(&env);
    fw_log(FW_LOG_ERROR,
           "%s: reload: exec /proc/self/exe: %s; the workers "
           "keep serving",
           why, strerror(saved));
}

/* -------------------------------------------------- configuration check */

/* Logs why the configuration did not load: err's text, its trailing
 * newlines cut. */
static void
reload_log_invalid(const char *why, char *err, size_t err_len)
{
    while (err_len > 0 && err[err_len - 1] == '\n') {
        err[--err_len] = '\0';
    }
    fw_log(FW_LOG_ERROR,
           "%s: reload cancelled, the configuration is not valid; the "
           "workers keep serving: %s",
           why, err_len > 0 ? err : "(no message)");
}

int
fw_reload_check_conf(const fw_master_config_t *mc, const char *why)
{
    fw_conf_t conf;
    char *err = NULL, *out = NULL;
    size_t err_len = 0, out_len = 0;
    FILE *err_fp = open_memstream(&err, &err_len);
    FILE *out_fp = open_memstream(&out, &out_len);
    int argc = 0, rc = -1, here;

    if (err_fp == NULL || out_fp == NULL) {
        fw_log(FW_LOG_ERROR, "%s: reload: open_memstream: %s", why,
               strerror(errno));
        goto done;
    }
    while (mc->argv[argc] != NULL) {
        argc++;
    }
    here = reload_enter_start_dir(mc);
    rc = fw_conf_load(&conf, argc, mc->argv, out_fp, err_fp) == FW_CONF_OK
             ? 0
             : -1;
    fw_conf_free(&conf);
    reload_leave_start_dir(here);
    fflush(err_fp);
    if (rc < 0) {
        reload_log_invalid(why, err, err_len);
    }

done:
    if (err_fp != NULL) {
        fclose(err_fp);
    }
    if (out_fp != NULL) {
        fclose(out_fp);
    }
    free(err);
    free(out);
    return rc;
}

/* --------------------------------------------------------- touch-reload */

/* The newest ctime of the files in dir that count
 * (fw_pool_rules_dir_entry_counts), into s->mtime; zero when none (or
 * dir cannot be read). */
static void
reload_stamp_dir(const char *dir, fw_pool_stamp_t *s)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        struct stat st;

        if (!fw_pool_rules_dir_entry_counts(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &st, 0) < 0) {
            continue;
        }
        if (st.st_ctim.tv_sec > s->mtime.tv_sec ||
            (st.st_ctim.tv_sec == s->mtime.tv_sec &&
             st.st_ctim.tv_nsec > s->mtime.tv_nsec)) {
            s->mtime = st.st_ctim;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

/* How path looks now: a file's mtime, a directory's newest file. */
static void
reload_stamp(const char *path, fw_pool_stamp_t *s)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    if (stat(path, &st) == 0) {
        s->exists = 1;
        s->is_dir = S_ISDIR(st.st_mode);
        s->mtime = st.st_mtim;
        if (s->is_dir) {
            memset(&s->mtime, 0, sizeof(s->mtime));
            reload_stamp_dir(path, s);
        }
    }
}

int
fw_reload_touch_init(fw_reload_touch_t *t, char *const *paths, size_t npaths)
{
    t->paths = paths;
    t->npaths = npaths;
    t->seen = calloc(npaths + 1, sizeof(*t->seen));
    if (t->seen == NULL) {
        fw_log(FW_LOG_ERROR, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < npaths; i++) {
        reload_stamp(paths[i], &t->seen[i]);
    }
    return 0;
}

void
fw_reload_touch_free(fw_reload_touch_t *t)
{
    free(t->seen);
    t->seen = NULL;
    t->npaths = 0;
}

const char *
fw_reload_touched(fw_reload_touch_t *t)
{
    const char *which = NULL;

    for (size_t i = 0; i < t->npaths; i++) {
        fw_pool_stamp_t now;

        reload_stamp(t->paths[i], &now);
        if (which == NULL && fw_pool_rules_touched(&t->seen[i], &now)) {
            which = t->paths[i];
        }
        t->seen[i] = now;
    }
    return which;
}
