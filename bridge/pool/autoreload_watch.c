/*
 * autoreload_watch.c: py-autoreload in a worker: a thread reads the
 * module files through pyglue every N seconds and watches their
 * directories with inotify (where inotify cannot, it stats each file every
 * N seconds); a change that is news (fw_autoreload_due) is reported to
 * the master (fw_autoreload_report, autoreload.c).  A worker logs nothing
 * of a change: the master's reload line names the file.  Never in the
 * master: no thread there, no Python call.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/pool/pool_int.h"
#include "bridge/log.h"

/* What a directory's inotify watch reports: a file written and closed,
 * renamed into it (an editor's save), created, or touched. */
#define AUTORELOAD_EVENTS                                                     \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB)

/* A module file: its path as __file__ gave it, its directory, and the
 * change reported last. */
typedef struct {
    char *path;
    int dir;              /* in watch_t.dirs; -1: not there at first look */
    struct timespec told; /* zero: none */
} watch_file_t;

/* A directory holding module files; wd -1: its files are polled. */
typedef struct {
    char *path;
    int wd;
} watch_dir_t;

/* A map from a string to an index, open addressing (0: empty slot). */
typedef struct {
    size_t *slots; /* index + 1 */
    size_t cap;    /* a power of two, or 0 */
    size_t used;
} watch_map_t;

typedef struct {
    int seconds;
    int inotify_fd; /* -1: every file is polled */
    watch_file_t *files;
    size_t nfiles, files_cap;
    watch_dir_t *dirs;
    size_t ndirs, dirs_cap;
    watch_map_t file_map, dir_map;
    size_t scanned; /* files[0 .. scanned) were looked at once */
    int oom;        /* out of memory: the watch stops */
    int warned;     /* a directory could not be watched: logged once */
} watch_t;

static uint64_t
watch_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return h;
}

/* The slot of key (len bytes) in map, whose entries' strings are
 * names(i): either the slot holding it, or the empty one it would take. */
static size_t *
watch_map_slot(const watch_map_t *map, const char *key, size_t len,
               const char *(*name)(const watch_t *, size_t), const watch_t *w)
{
    size_t mask = map->cap - 1;

    for (size_t i = watch_hash(key, len) & mask;; i = (i + 1) & mask) {
        size_t *slot = &map->slots[i];
        const char *s;

        if (*slot == 0) {
            return slot;
        }
        s = name(w, *slot - 1);
        if (strncmp(s, key, len) == 0 && s[len] == '\0') {
            return slot;
        }
    }
}

/* Makes room for one more entry (load at most a half).  0, or -1 (OOM). */
static int
watch_map_grow(watch_map_t *map, size_t count,
               const char *(*name)(const watch_t *, size_t), const watch_t *w)
{
    watch_map_t bigger;

    if ((map->used + 1) * 2 <= map->cap) {
        return 0;
    }
    bigger.cap = map->cap > 0 ? map->cap * 2 : 256;
    bigger.used = 0;
    bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
    if (bigger.slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const char *s = name(w, i);

        *watch_map_slot(&bigger, s, strlen(s), name, w) = i + 1;
        bigger.used++;
    }
    free(map->slots);
    *map = bigger;
    return 0;
}

static const char *
watch_file_name(const watch_t *w, size_t i)
{
    return w->files[i].path;
}

static const char *
watch_dir_name(const watch_t *w, size_t i)
{
    return w->dirs[i].path;
}

/* Grows an array of elements of size `size` to hold one more.  0, or -1
 * (OOM). */
static int
watch_reserve(void **items, size_t count, size_t *cap, size_t size)
{
    void *more;

    if (count < *cap) {
        return 0;
    }
    more = realloc(*items, (*cap > 0 ? *cap * 2 : 64) * size);
    if (more == NULL) {
        return -1;
    }
    *items = more;
    *cap = *cap > 0 ? *cap * 2 : 64;
    return 0;
}

/*
 * The directory of path (absolute: up to its last '/'), added and watched
 * if new.  Its index, or -1 (OOM).  A directory inotify cannot watch is
 * polled; the first such case is logged.
 */
static int
watch_dir(watch_t *w, const char *path)
{
    size_t len = (size_t)(strrchr(path, '/') - path);
    size_t *slot;
    watch_dir_t *d;

    len = len > 0 ? len : 1; /* "/x.py": "/" */
    if (w->dir_map.cap > 0) {
        slot = watch_map_slot(&w->dir_map, path, len, watch_dir_name, w);
        if (*slot != 0) {
            return (int)(*slot - 1);
        }
    }
    if (watch_map_grow(&w->dir_map, w->ndirs, watch_dir_name, w) < 0 ||
        watch_reserve((void **)&w->dirs, w->ndirs, &w->dirs_cap,
                      sizeof(*w->dirs)) < 0) {
        return -1;
    }
    d = &w->dirs[w->ndirs];
    d->path = strndup(path, len);
    if (d->path == NULL) {
        return -1;
    }
    d->wd = -1;
    if (w->inotify_fd >= 0) {
        d->wd = inotify_add_watch(w->inotify_fd, d->path, AUTORELOAD_EVENTS);
        if (d->wd < 0 && !w->warned) {
            w->warned = 1;
            fw_log(FW_LOG_WARN,
                   "py-autoreload: inotify cannot watch %s: %s; its files "
                   "and those of any other such directory are looked at "
                   "every %d s",
                   d->path, strerror(errno), w->seconds);
        }
    }
    *watch_map_slot(&w->dir_map, d->path, len, watch_dir_name, w) =
        w->ndirs + 1;
    w->dir_map.used++;
    return (int)w->ndirs++;
}

/* fw_pyglue_file_pt: a module file, added if new (looked at later, out
 * of the GIL), its path made absolute (the key of inotify's events).  GIL
 * held: no Python, no log. */
static void
watch_add(void *arg, const char *path)
{
    watch_t *w = arg;
    char abs[PATH_MAX];
    size_t len;
    size_t *slot;
    watch_file_t *f;

    if (w->oom) {
        return;
    }
    if (path[0] != '/') {
        char cwd[PATH_MAX];

        if (getcwd(cwd, sizeof(cwd)) == NULL ||
            snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >=
                (int)sizeof(abs)) {
            return;
        }
        path = abs;
    }
    len = strlen(path);
    if (w->file_map.cap > 0) {
        slot = watch_map_slot(&w->file_map, path, len, watch_file_name, w);
        if (*slot != 0) {
            return;
        }
    }
    if (watch_map_grow(&w->file_map, w->nfiles, watch_file_name, w) < 0 ||
        watch_reserve((void **)&w->files, w->nfiles, &w->files_cap,
                      sizeof(*w->files)) < 0) {
        w->oom = 1;
        return;
    }
    f = &w->files[w->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    if (f->path == NULL) {
        w->oom = 1;
        return;
    }
    f->dir = -1;
    *watch_map_slot(&w->file_map, path, len, watch_file_name, w) =
        w->nfiles + 1;
    w->file_map.used++;
    w->nfiles++;
}

/* Looks at f: a change that is news is reported. */
static void
watch_check(watch_file_t *f)
{
    struct stat st;

    if (stat(f->path, &st) == 0 && fw_autoreload_due(&f->told, &st.st_ctim)) {
        f->told = st.st_ctim;
        fw_autoreload_report(f->path, &f->told);
    }
}

/*
 * The module files new since the last scan: each gets its directory
 * (watched) and a first look, which reports a change made since the
 * master image started (before this worker watched).  A file not there
 * at its first look (a module from a zip) is left alone.  0, or -1: the
 * interpreter is gone or memory ran out, the watch stops.
 */
static int
watch_scan(watch_t *w)
{
    if (fw_pyglue_module_files(watch_add, w) < 0 || w->oom) {
        return -1;
    }
    for (; w->scanned < w->nfiles; w->scanned++) {
        watch_file_t *f = &w->files[w->scanned];
        struct stat st;

        if (stat(f->path, &st) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        f->dir = watch_dir(w, f->path);
        if (f->dir < 0) {
            return -1;
        }
        watch_check(f);
    }
    return 0;
}

/* Every file whose directory inotify does not watch (all of them: every
 * file, after the events overflowed). */
static void
watch_poll(watch_t *w, int all)
{
    for (size_t i = 0; i < w->scanned; i++) {
        watch_file_t *f = &w->files[i];

        if (f->dir >= 0 && (all || w->dirs[f->dir].wd < 0)) {
            watch_check(f);
        }
    }
}

/* One inotify event: a name in a watched directory that is a module file
 * is looked at; a watch gone (its directory removed) leaves its files
 * polled. */
static void
watch_event(watch_t *w, const struct inotify_event *ev)
{
    char path[PATH_MAX];
    size_t *slot;
    size_t d;
    int n;

    for (d = 0; d < w->ndirs && w->dirs[d].wd != ev->wd; d++) {
    }
    if (d == w->ndirs) {
        return;
    }
    if (ev->mask & IN_IGNORED) {
        w->dirs[d].wd = -1;
        return;
    }
    if (ev->len == 0) {
        return;
    }
    n = snprintf(path, sizeof(path), "%s/%s",
                 strcmp(w->dirs[d].path, "/") == 0 ? "" : w->dirs[d].path,
                 ev->name);
    if (n < 0 || n >= (int)sizeof(path)) {
        return;
    }
    slot = watch_map_slot(&w->file_map, path, (size_t)n, watch_file_name, w);
    if (*slot != 0 && w->files[*slot - 1].dir == (int)d) {
        watch_check(&w->files[*slot - 1]);
    }
}

/* Reads the events waiting. */
static void
watch_events(watch_t *w)
{
    char buf[16384]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    while ((n = read(w->inotify_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;

            if (ev->mask & IN_Q_OVERFLOW) {
                watch_poll(w, 1);
            } else {
                watch_event(w, ev);
            }
            p += sizeof(*ev) + ev->len;
        }
    }
}

/* Waits up to ms for inotify events (or just waits, with none) and reads
 * them. */
static void
watch_wait(watch_t *w, int ms)
{
    struct pollfd p = {.fd = w->inotify_fd, .events = POLLIN};

    if (w->inotify_fd < 0) {
        nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    } else if (poll(&p, 1, ms) > 0) {
        watch_events(w);
    }
}

static double
watch_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The thread: a scan every `seconds` (then the polled files), events as
 * they come in between.  Runs until the interpreter is finalised or the
 * process ends. */
static void *
watch_main(void *arg)
{
    watch_t *w = arg;
    double next = 0;

    for (;;) {
        double now = watch_now();

        if (now >= next) {
            int first = next == 0;

            if (watch_scan(w) < 0) {
                break;
            }
            if (first) {
                fw_log(FW_LOG_INFO,
                       "py-autoreload: watching %zu module file(s) in %zu "
                       "director%s (%s), new imports every %d s",
                       w->scanned, w->ndirs, w->ndirs == 1 ? "y" : "ies",
                       w->inotify_fd >= 0 ? "inotify" : "polled", w->seconds);
            } else {
                watch_poll(w, 0);
            }
            next = now + w->seconds;
        }
        watch_wait(w, (int)((next - now) * 1000) + 1);
    }
    if (w->oom) {
        fw_log(FW_LOG_ERROR, "py-autoreload: out of memory: off");
    }
    return NULL;
}

void
fw_autoreload_watch(int seconds)
{
    static watch_t w;
    sigset_t all, old;
    pthread_t tid;
    int rc;

    w.seconds = seconds;
    /* the first look, from this thread: it fences pyglue's later calls
     * off the interpreter's finalisation (fw_pyglue_module_files) */
    if (fw_pyglue_module_files(watch_add, &w) < 0 || w.oom) {
        fw_log(FW_LOG_ERROR, "py-autoreload: cannot read sys.modules: off");
        return;
    }
    w.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w.inotify_fd < 0) {
        fw_log(FW_LOG_WARN,
               "py-autoreload: inotify: %s: the module files are looked at "
               "every %d s",
               strerror(errno), seconds);
    }
    /* the thread takes no signal: the worker's main thread does */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&tid, NULL, watch_main, &w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fw_log(FW_LOG_ERROR, "py-autoreload: cannot start its thread: %s",
               strerror(rc));
        return;
    }
    pthread_detach(tid);
}
