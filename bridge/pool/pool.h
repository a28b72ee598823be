/*
 * pool.h: the process manager, the room that starts, watches and stops
 * worker processes: the master's state machine (master.c), the pool's
 * size (pm.c), reloads (reload.c), the decisions as pure functions
 * (pool_rules.c), forking and reaping (children.c), signals as bytes on a
 * self-pipe (signals.c), the shared scoreboard every process writes its
 * state to (scoreboard.c), the pidfile, privileges, and systemd
 * notifications.  pool_int.h is what master.c, pm.c and reload.c share.
 */
#ifndef FW_POOL_H
#define FW_POOL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "conf/conf.h"
#include "pyglue/gateway.h"
#include "pyglue/pyglue.h"

/* -------------------------------------------------------------------- */
/*
 * master.c: the process manager.  It forks the workers (static, dynamic or
 * ondemand: pm.c), replaces the ones that die or recycle, reloads (SIGHUP,
 * touch-reload: reload.c) without closing the listening socket, and stops
 * them.  It never serves a request.
 */

/*
 * What the master image before a reload's exec hands to the new one, in
 * the environment (FW_LISTEN_FD, FW_OLD_WORKERS, FW_GENERATION); written
 * and read in reload.c.
 */
typedef struct {
    int listen_fd;      /* -1: a first start, not a reload */
    pid_t *old_workers; /* still serving; retired once the new are ready */
    size_t nold_workers;
    uint64_t generation;   /* of the new image: the old one's + 1 */
    int autoreload_fds[2]; /* py-autoreload's socket pair, kept open
                              across the exec (autoreload.c); -1: none */
} fw_reload_handover_t;

typedef struct {
    /* every worker's (bridge/serve/serve.h; a copy gets its slot at fork) */
    const struct fw_worker_config_s *worker;
    const fw_app_config_t *app; /* NULL: the app cannot be loaded (a
                                   reload that failed early): the old
                                   workers keep serving, none is forked */
    int lazy_apps;              /* import in each worker, not the master */
    fw_pm_e pm;
    int max_children;                        /* static: the pool's size */
    int start_servers, min_spare, max_spare; /* dynamic */
    int idle_timeout;                        /* ondemand, seconds */
    char *const *touch_reload;               /* files or directories */
    size_t ntouch_reload;
    int py_autoreload; /* seconds between looks at the workers' modules
                          (autoreload.c); 0: off */
    /* what a reload's exec needs: the same program, argv and environment
     * as at the first start, in the directory it was started in */
    char **argv;
    char *const *envp;
    int cwd_fd;
    const fw_reload_handover_t *handover;
} fw_master_config_t;

/*
 * Reads the handover variables (and removes them from the environment,
 * so that neither the application nor a later reload sees them).  A first
 * start gets listen_fd -1.  Release with fw_reload_handover_free.  Both
 * are in reload.c, beside the exec that writes them.
 */
void fw_reload_handover_take(fw_reload_handover_t *h);
void fw_reload_handover_free(fw_reload_handover_t *h);

/*
 * Runs the pool until SIGTERM/SIGINT (graceful) or SIGQUIT (immediate).
 * Without lazy-apps, Python is started and the app imported here, before
 * the first fork.  Returns the master's exit status: 0 after a stop, 1
 * when the application could not be loaded at the first start.  A reload
 * does not return (exec); a worker process never returns from here.
 */
int fw_master_run(const fw_master_config_t *mc);

/* -------------------------------------------------------------------- */
/*
 * pool_rules.c: the pool's decisions as pure functions: counts, the
 * configuration and the time come in, decisions come out.  No I/O, no
 * globals, no clock read: master.c, pm.c, reload.c and children.c gather
 * the facts, call these, and act (fork, SIGTERM, log).  Unit-tested on
 * exact inputs.
 */

/* The master's states; the transitions allowed between them are the table
 * in pool_rules.c (fw_pool_rules_transition). */
typedef enum {
    FW_POOL_STARTING = 0, /* the master image starts: no worker forked */
    FW_POOL_RUNNING,      /* serving; the pool follows pm */
    FW_POOL_RELOADING,    /* a reload's new generation is starting while
                             the previous image's workers serve */
    FW_POOL_STOPPING,     /* graceful stop: workers finish their requests */
    FW_POOL_QUITTING      /* immediate stop: SIGQUIT, then SIGKILL */
} fw_pool_state_e;

/* The guards against respawn storms (see fw_pool_guard_t). */
#define FW_POOL_CRASH_LOOP 5      /* deaths in a row that make a loop */
#define FW_POOL_BACKOFF_MAX 30.0  /* seconds: the longest back-off */
#define FW_POOL_QUICK_SECONDS 1.0 /* a ready worker dying sooner: quick */
#define FW_POOL_FORKS_MIN 16      /* forks a second allowed, at least */

/* The options the rules read. */
typedef struct {
    fw_pm_e pm;
    int max_children;                        /* static: the pool's size */
    int start_servers, min_spare, max_spare; /* dynamic */
    int idle_timeout;                        /* ondemand, seconds */
} fw_pool_rules_config_t;

/* What the master sees now: the current generation's workers (adopted
 * ones excluded) and its own state. */
typedef struct {
    int starting;     /* forked, not accepting yet */
    int idle;         /* ready, no request running */
    int busy;         /* ready, at least one request running */
    int free_threads; /* threads of ready workers waiting for a request */
    fw_pool_state_e state;
    int can_spawn;      /* the app is loaded (or lazy): workers can fork */
    int may_fork;       /* the guard allows a fork now (spawn_wait 0) */
    int initial_done;   /* dynamic: start-servers asked for already */
    int reload_target;  /* RELOADING: new workers wanted before the old go */
    int pending;        /* a connection waits in the listening queue */
    double last_shrink; /* dynamic: when an idle worker was last retired */
} fw_pool_view_t;

/* What the master is to do now. */
typedef struct {
    int spawn;           /* workers to fork (the fork rate may cut it) */
    int initial_done;    /* the new value of fw_pool_view_t.initial_done */
    int full;            /* wanted more than max-children allows */
    int full_over;       /* room again: a later `full` is a new episode */
    int full_if_pending; /* at max-children, no free thread: `full` if a
                            connection waits (the master polls to see) */
    int retire_longest;  /* dynamic: retire the worker idle the longest */
    int retire_idle;     /* ondemand: retire each idle worker whose
                            idle_since <= retire_before */
    double retire_before;
} fw_pool_decision_t;

/*
 * The pool rules, once per master loop (php-fpm's pm):
 *   static    max_children workers, always.
 *   dynamic   start_servers at first; then at least min_spare idle (or
 *             starting); above max_spare idle, the one idle the longest
 *             goes, one a second; never above max_children.
 *   ondemand  none until a connection waits; a worker idle for
 *             idle_timeout seconds goes.
 * dynamic and ondemand: a waiting connection with no free thread and no
 * worker starting forks one more.  RELOADING: the new generation first
 * gets reload_target workers.  Nothing is forked unless can_spawn and
 * may_fork.  now: monotonic seconds.
 */
fw_pool_decision_t fw_pool_rules_decide(const fw_pool_rules_config_t *cfg,
                                        const fw_pool_view_t *v, double now);

/*
 * Whether the master should wait on the listening socket (to grow the
 * pool on a connection): dynamic or ondemand, serving, may fork, no
 * worker starting (it will take the connection), no free thread, and
 * room below max_children.
 */
int fw_pool_rules_wants_listen(const fw_pool_rules_config_t *cfg,
                               const fw_pool_view_t *v);

/* The new generation's workers wanted ready before a reload retires the
 * old ones: the pool's size (static), start_servers (dynamic); ondemand:
 * none, or one with lazy_apps (it proves that the new code imports). */
int fw_pool_rules_reload_target(const fw_pool_rules_config_t *cfg,
                                int lazy_apps);

/* Whether a reload completed: RELOADING, the app loaded, reload_target
 * workers of the new generation ready (idle or busy). */
int fw_pool_rules_reload_done(const fw_pool_view_t *v);

/*
 * The master's state machine, one row per state (the table itself is in
 * pool_rules.c): whether the master may go from `from` to `to`.
 * reload_done: fw_pool_rules_reload_done now (RELOADING -> RUNNING needs
 * it).  Staying in a state is not a transition: 0.
 */
int fw_pool_rules_transition(fw_pool_state_e from, fw_pool_state_e to,
                             int reload_done);

/* "RUNNING" and so on. */
const char *fw_pool_rules_state_name(fw_pool_state_e s);

/* Whether the master serves in state s (RUNNING or RELOADING): it keeps
 * the pool, replaces workers, and takes a reload. */
int fw_pool_rules_serving(fw_pool_state_e s);

/* Whether sig, found waiting when a reload is about to re-execute, wins
 * over the reload: a stop (SIGTERM, SIGINT, SIGQUIT) does; the reload is
 * dropped and the stop done. */
int fw_pool_rules_cancels_reload(int sig);

/*
 * What a touch-reload path looked like at one check: a file's mtime; for a
 * directory, the newest change time (ctime: a file written, added or
 * renamed into it) of the files in it that count
 * (fw_pool_rules_dir_entry_counts), or zero when it holds none.
 */
typedef struct {
    int exists;
    struct timespec mtime;
    int is_dir;
} fw_pool_stamp_t;

/* Whether a touch-reload path was touched between two checks: it exists
 * now, and did not before, or changed kind, or (a file) has another mtime,
 * or (a directory) has a newer one: a file in it was written or added.  A
 * path removed is not a touch, nor is a file removed from a directory. */
int fw_pool_rules_touched(const fw_pool_stamp_t *before,
                          const fw_pool_stamp_t *now);

/* Whether a directory entry counts for touch-reload: not ".", "..", a
 * hidden file (".name": an editor's swap file) or a backup ("name~"). */
int fw_pool_rules_dir_entry_counts(const char *name);

/*
 * py-autoreload: whether a module file that last changed at `changed` (its
 * ctime, which no copy tool can set back) is news to report: later than
 * the code was loaded (`loaded`: the master image's start) and than the
 * change already reported for that file (`told`; zero: none).  The master
 * takes a report with the same rule, `told` zero and `loaded` its own
 * start: a change from before it started is what it loaded already.
 */
int fw_pool_rules_autoreload_due(const struct timespec *loaded,
                                 const struct timespec *told,
                                 const struct timespec *changed);

/*
 * The two guards against respawn storms, as a value the caller keeps:
 *  - the crash-loop back-off, for workers that die before they are ready
 *    (the app cannot start): after FW_POOL_CRASH_LOOP in a row, forking
 *    pauses 1, 2, 4 ... FW_POOL_BACKOFF_MAX s, one step per round of
 *    workers; a worker that gets ready ends it;
 *  - a bound on the fork rate, for workers that die once ready (a request
 *    killed them; replaced at once): at most forks_max (max(16, slots))
 *    forks a second, the next waiting for the second to end.  Ready
 *    workers that die within FW_POOL_QUICK_SECONDS without having served
 *    a request, FW_POOL_CRASH_LOOP times in a row, bring the bound down to
 *    one fork a second until a worker lives or serves.
 */
typedef struct {
    int crashes;       /* in a row: died before they were ready */
    int backoffs;      /* back-offs since a worker was last ready */
    double respawn_at; /* the back-off: no fork before this */
    int quick_deaths;  /* in a row: ready, died at once, served nothing */
    int forks_max;     /* forks in one second */
    double window_at;  /* the current second began */
    int window_forks;  /* forks in it */
} fw_pool_guard_t;

/* How a worker of this image ended (adopted workers are not counted). */
typedef struct {
    int ready;       /* it had been accepting */
    int expected;    /* told to stop, stopping by itself, or a stop */
    int clean;       /* exit status 0 */
    int served;      /* its slot shows a request served or running */
    double ready_at; /* monotonic seconds; 0: unknown (now is used) */
} fw_pool_death_t;

/* What a death changed in the guard, for the caller to log. */
typedef struct {
    int crash;      /* died before it was ready, unexpectedly */
    double backoff; /* > 0: a back-off of this many seconds began */
    int quick_loop; /* the quick deaths just reached the threshold */
} fw_pool_verdict_t;

/* A guard for `slots` worker slots, nothing counted. */
void fw_pool_rules_guard_init(fw_pool_guard_t *g, int slots);

/* Counts the end of a worker at now. */
fw_pool_verdict_t fw_pool_rules_died(fw_pool_guard_t *g,
                                     const fw_pool_death_t *d, double now);

/* A worker got ready: the application starts, the back-off ends. */
void fw_pool_rules_ready(fw_pool_guard_t *g);

/* A worker ready since ready_at is alive at now: past
 * FW_POOL_QUICK_SECONDS, the quick deaths in a row end. */
void fw_pool_rules_alive(fw_pool_guard_t *g, double ready_at, double now);

/* Counts a fork at now; 1 when it used the second's last allowed fork
 * (under the normal bound: the caller logs it), else 0. */
int fw_pool_rules_forked(fw_pool_guard_t *g, double now);

/* Seconds from now until a fork is allowed; 0: now. */
double fw_pool_rules_spawn_wait(const fw_pool_guard_t *g, double now);

/* -------------------------------------------------------------------- */
/*
 * children.c: the master's table of worker processes: fork one into a
 * scoreboard slot, follow its state from the scoreboard, reap it, say how
 * it ended (and what it was serving), and guard against crash loops.  It
 * decides nothing about how many workers there should be: pm.c does.
 */

/* A worker's life as the master sees it. */
typedef enum {
    FW_CHILD_STARTING = 0, /* forked; not accepting yet (lazy: importing) */
    FW_CHILD_READY,        /* accepting connections */
    FW_CHILD_LEAVING,      /* stopping by itself (max-requests,
                              reload-on-rss): finishing its requests */
    FW_CHILD_RETIRING      /* told by the master to stop (reload, shrink,
                              stop): finishing its requests */
} fw_child_state_e;

typedef struct {
    pid_t pid;           /* 0: a free entry */
    int slot;            /* scoreboard slot; -1: adopted (see below) */
    int adopted;         /* forked by the master image before a reload:
                            no slot, never replaced, retired when the new
                            generation is ready */
    uint64_t generation; /* reload generation it was forked in */
    fw_child_state_e state;
    double started_at; /* monotonic seconds */
    double ready_at;   /* monotonic seconds; 0 before ready */
    double idle_since; /* monotonic: last time it was seen serving */
    uint64_t seen_requests;
    double kill_at; /* LEAVING/RETIRING: SIGKILL after this */
} fw_child_t;

/* What one fw_children_reap found. */
typedef struct {
    int exited;         /* children reaped */
    int crashed;        /* of which died before they were ready */
    int failed_to_load; /* of which exited FW_CHILD_EXIT_NO_APP */
} fw_children_reaped_t;

/* A worker that could not import the application exits with this. */
#define FW_CHILD_EXIT_NO_APP 22

/*
 * The child's side of a fork: runs in the new process (signals reset,
 * scoreboard slot set, log role "worker N") and returns its exit status.
 */
typedef int (*fw_children_run_pt)(void *arg, int slot);

/*
 * The table for `slots` scoreboard slots of `threads` request slots (the
 * scoreboard is created by the caller) plus adopted workers.  grace: the
 * seconds a stopping worker gets before SIGKILL.  0, or -1 after logging.
 */
int fw_children_init(int slots, int threads, double grace);

/* Takes over a worker of the previous master image (same process, before
 * the reload's exec).  A pid that is not our child is dropped. */
void fw_children_adopt(pid_t pid);

/*
 * Forks a worker into a free slot, with the master's signals blocked
 * around fork() and CPython's fork hooks (fw_pyglue_fork).  The child
 * calls run(arg, slot) and exits with what it returns.  Returns the
 * entry, or NULL (no free slot, or fork failed: logged).
 */
fw_child_t *fw_children_spawn(fw_children_run_pt run, void *arg,
                              uint64_t generation);

/*
 * Reaps every child that ended (waitpid until none), logs each (pid,
 * status or signal, the requests it was serving when it died) and counts
 * it for the guards (fw_children_may_spawn).  The caller then frees the
 * scoreboard slots (fw_scoreboard_reap), after the log has read them.
 * stopping: the master is stopping, so clean exits are expected and not
 * reported one by one.
 */
fw_children_reaped_t fw_children_reap(int stopping);

/*
 * Reads the scoreboard: STARTING -> READY when the worker accepts,
 * READY -> LEAVING when it stops by itself, idle times; samples each
 * worker's RSS into the scoreboard about once a second.  Also SIGKILLs
 * a LEAVING/RETIRING worker past its kill_at.
 */
void fw_children_refresh(double now);

/* Sends sig to every child (adopted included). */
void fw_children_signal_all(int sig);

/* SIGTERM to c (graceful: it finishes its requests), state RETIRING;
 * SIGKILL after the grace period if it is still there. */
void fw_children_retire(fw_child_t *c, double now);

/* Every entry, free ones included: for (i < fw_children_capacity()). */
int fw_children_capacity(void);
fw_child_t *fw_children_at(int i);

/* Children alive (adopted included). */
int fw_children_alive(void);

/* Requests being served by c now (0 for an adopted worker: unknown). */
int fw_children_active(const fw_child_t *c);

/*
 * Whether a fork is allowed at now, under the guards against respawn
 * storms (fw_pool_guard_t: the crash-loop back-off and the fork rate).
 */
int fw_children_may_spawn(double now);

/* Seconds from now until fw_children_may_spawn allows a fork; 0: now. */
double fw_children_spawn_wait(double now);

/* Monotonic seconds. */
double fw_children_now(void);

/* -------------------------------------------------------------------- */
/*
 * signals.c: the master's signals.  Each handler writes the signal's number
 * as one byte on a self-pipe and does nothing else; the master polls the
 * pipe's read end with its other descriptors and reads the bytes back.
 */

/*
 * Makes the self-pipe and installs the handlers for SIGTERM, SIGINT,
 * SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 and SIGCHLD, then unblocks those
 * signals (a signal that arrived while they were blocked, say across the
 * exec of a reload, is delivered now).  0, or -1 after logging.
 */
int fw_signals_install(void);

/* The pipe's read end, to poll for POLLIN. */
int fw_signals_fd(void);

/* The next signal received, or 0 when none is waiting.  Never blocks. */
int fw_signals_take(void);

/* Blocks the master's signals (before fork and exec); *old gets the mask
 * to restore with fw_signals_restore.  Signals caught but not yet taken
 * become pending again, so that an exec (which closes the self-pipe)
 * keeps them for the new image. */
void fw_signals_block(sigset_t *old);
void fw_signals_restore(const sigset_t *old);

/*
 * In a child just forked with the master's signals blocked: the handlers
 * go back to their defaults, the pipe is closed, and the signals a worker
 * takes with sigtimedwait (SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
 * SIGUSR2) stay blocked; the rest (SIGCHLD) is unblocked.
 */
void fw_signals_in_child(void);

/* "SIGTERM" for SIGTERM, and so on for the signals above. */
const char *fw_signals_name(int sig);

/* -------------------------------------------------------------------- */
/*
 * scoreboard.c: what every worker is doing, in memory shared by the master
 * and its workers (mmap'd before the first fork, so it survives worker
 * deaths and is read by the master, the status page, harakiri and
 * slowlog).  One slot per worker process, one request slot per serving
 * thread.  Each field has one writer (named on it); readers tolerate a torn
 * string and never block a writer.
 */

typedef enum {
    FW_WORKER_EMPTY = 0, /* no process in this slot */
    FW_WORKER_STARTING,  /* forked, not yet accepting */
    FW_WORKER_IDLE,      /* accepting; no thread serves a request */
    FW_WORKER_BUSY,      /* at least one thread serves a request */
    FW_WORKER_STOPPING   /* told to stop (stop, reload, recycling) */
} fw_worker_state_e;

typedef struct {
    /* written by the serving thread */
    atomic_int busy;                   /* 1 while a request runs */
    atomic_uint_fast64_t seq;          /* requests begun by this thread */
    _Atomic uint64_t started_us;       /* CLOCK_MONOTONIC µs, request start */
    _Atomic uint64_t last_duration_us; /* of the last finished request */
    char method[16];
    char uri[256]; /* REQUEST_URI (or SCRIPT_NAME+PATH_INFO) */
    /* written by the master */
    atomic_uint_fast64_t slowlog_seq;  /* seq already reported as slow */
    atomic_uint_fast64_t harakiri_seq; /* seq whose worker is being killed */
} fw_score_request_t;

typedef struct {
    /* written by the worker when it takes the slot, cleared by the master
     * (fw_scoreboard_reap) once the process is gone */
    _Atomic pid_t pid;   /* 0: the slot is free */
    atomic_int state;    /* fw_worker_state_e */
    uint64_t started_at; /* CLOCK_REALTIME seconds */
    uint64_t rss_kb;     /* sampled by the master from /proc */
    uint64_t generation; /* reload generation it was forked in */
    /* written by the worker's threads */
    atomic_uint_fast64_t requests; /* finished requests, all threads */
    atomic_int active;             /* threads serving a request now */
} fw_score_worker_t;

/* The request-duration histogram's bounds (Prometheus's default buckets,
 * 5 ms to 10 s) and the status classes counted. */
#define FW_SCORE_BUCKETS 11
#define FW_SCORE_CLASSES 6
extern const uint64_t fw_scoreboard_bucket_le_us[FW_SCORE_BUCKETS];

typedef struct {
    uint64_t start_time;           /* CLOCK_REALTIME s: the pool started */
    atomic_uint_fast64_t accepted; /* requests begun, status pages too */
    atomic_uint_fast64_t slow_requests;        /* by the master (slowlog) */
    atomic_uint_fast64_t harakiri_kills;       /* by the master (harakiri) */
    atomic_uint_fast64_t max_children_reached; /* by the master's pm */
    atomic_int max_active;                     /* most workers busy at once */
    atomic_int active_workers;    /* workers with a request running */
    atomic_int active_threads;    /* requests running, whole pool */
    atomic_long max_listen_queue; /* most connections seen waiting */
    /* by the serving threads (fw_scoreboard_count_response): the
     * application's finished requests, by duration (bucket i: within
     * fw_scoreboard_bucket_le_us[i] and above bucket i-1; the last: above
     * them all), their total time, and by status class ([0]: other, no
     * response; [1..5]: 1xx..5xx) */
    atomic_uint_fast64_t duration_buckets[FW_SCORE_BUCKETS + 1];
    atomic_uint_fast64_t duration_sum_us;
    atomic_uint_fast64_t responses[FW_SCORE_CLASSES];
    int processes;   /* workers the pool is configured for */
    int max_workers; /* slots */
    int threads;     /* request slots per worker */
} fw_score_pool_t;

/*
 * Maps the shared scoreboard for max_workers slots of `threads` request
 * slots each.  Before the first fork.  0, or -1 after logging.
 */
int fw_scoreboard_create(int max_workers, int threads);

fw_score_pool_t *fw_scoreboard_pool(void);
fw_score_worker_t *fw_scoreboard_worker(int index);
fw_score_request_t *fw_scoreboard_request(int index, int thread);

/* In a worker after fork: which slot is mine (used by the hooks below).
 * Takes the slot over: pid, start time and counters are reset. */
void fw_scoreboard_set_self(int index);

/*
 * In a worker that was given no slot (fw_scoreboard_set_self was not
 * called): takes the first free one, and marks it idle (accepting).  A
 * worker running without a master and so without a scoreboard first makes
 * one of one slot of `threads` request slots.  Returns the slot index, or
 * -1 when there is no free slot (the hooks then do nothing).
 */
int fw_scoreboard_claim(int threads);

/*
 * In the master, on each tick: frees the slots of workers that are gone
 * (their pid no longer exists), taking their running requests off the
 * pool's counts.  A new worker can only take a slot once it is free.
 */
void fw_scoreboard_reap(void);

/* Serving-thread hooks: around each request.  begin copies r's
 * REQUEST_METHOD and REQUEST_URI (by their length, cut to fit; a NUL
 * inside becomes '?') and reads nothing else of r.  end returns the
 * request's duration in µs (measured without a scoreboard too). */
void fw_scoreboard_request_begin(int thread, const fw_request_t *r);
uint64_t fw_scoreboard_request_end(int thread);

/* A finished request of the application: its duration in the histogram
 * and its status (0: none sent) in its class.  No-op without a
 * scoreboard. */
void fw_scoreboard_count_response(int status, uint64_t duration_us);

/*
 * The one request worker slot `index` runs now, as "METHOD URI" in buf
 * (size bytes, control characters as '?'): its length, or 0 when the
 * worker runs none or several (which one printed cannot be told).
 */
size_t fw_scoreboard_running(int index, char *buf, size_t size);

/* CLOCK_MONOTONIC in µs: the clock of started_us. */
uint64_t fw_scoreboard_now_us(void);

/* pid's resident set in KiB from /proc/PID/statm; 0 when unreadable. */
uint64_t fw_scoreboard_rss_kb(pid_t pid);

/* -------------------------------------------------------------------- */
/*
 * pidfile.c: the `pidfile` option: the master's pid, written once it
 * serves, removed when it exits.  Nothing else is kept in the file.
 */

/* Writes "PID\n" to path (replacing what was there; nothing to do when
 * it holds our pid already: a reload).  0, or -1 after logging. */
int fw_pidfile_write(const char *path);

/* Removes path if it still holds our pid (a newer server's file is left
 * alone).  Logs a failure; returns nothing. */
void fw_pidfile_remove(const char *path);

/* -------------------------------------------------------------------- */
/*
 * privs.c: `uid`, `gid`, `chown-socket` and `chmod-socket`: names or
 * numbers resolved at start-up, the socket file's owner and mode set after
 * binding (again at each reload), and the privileges dropped after that
 * (before the application is imported); `allow-root`: no serving as root
 * unless asked; whether the web server's usual user may connect.
 */

typedef struct {
    int set_uid, set_gid;
    uid_t uid;
    gid_t gid;
    char user[256]; /* for the supplementary groups; "" if unknown */
    int chown_socket;
    uid_t socket_uid; /* (uid_t)-1: unchanged */
    gid_t socket_gid; /* (gid_t)-1: unchanged */
} fw_privs_t;

/*
 * Resolves the option values (each NULL when not given).  uid without gid
 * takes the user's primary group.  Returns NULL, or a message such as
 * "uid: no such user 'www'" (in a static buffer) for the caller to print.
 */
const char *fw_privs_resolve(fw_privs_t *p, const char *uid, const char *gid,
                             const char *chown_socket);

/*
 * The root guard (php-fpm's -R): started as root (euid 0) and told to
 * become no other user (no uid, or a uid that is root), fcgi-wsgi would
 * serve as root.  Returns NULL when it would not, or allow_root is set;
 * else the message (in a static buffer) for the caller to print.
 */
const char *fw_privs_check_root(const fw_privs_t *p, int allow_root);

/*
 * The owner the unix socket file gets: chown-socket's user (and group, if
 * given), else the uid and gid the process becomes (so that a start as
 * root gives the socket to that user, and the master, once it is that
 * user, may still chmod it at a reload).  (uid_t)-1 / (gid_t)-1: left as
 * bind made it.
 */
void fw_privs_socket_owner(const fw_privs_t *p, uid_t *uid, gid_t *gid);

/*
 * Makes the socket file at path (NULL or "": not a unix socket of ours)
 * have the owner above and mode (chmod-socket); what already matches is
 * left alone.  At a first start a failure is an error: -1 after logging.
 * At a reload (reload set: the master is the user it became, rarely
 * root) each change is logged as it is applied, or with why it cannot be
 * ("a restart applies it"), and 0 is returned.
 */
int fw_privs_own_socket(const fw_privs_t *p, const char *path, unsigned mode,
                        int reload);

/* "www-data:www-data" for uid 33, gid 33 (numbers when unnamed). */
void fw_privs_owner_name(uid_t uid, gid_t gid, char *out, size_t size);

/*
 * Whether the web server's usual user (the first of www-data, nginx,
 * apache, lighttpd that exists) may connect to the unix socket at path
 * (relative: to the current directory) once it is owned by uid:gid with
 * mode: search permission on every directory above it, write permission
 * on it.  NULL when it may (or none of those users exists), else one line
 * naming who cannot, why, and the option that fixes it, in msg.
 */
const char *fw_privs_web_access(const char *path, uid_t uid, gid_t gid,
                                unsigned mode, char *msg, size_t size);

/*
 * Drops to gid (supplementary groups: the user's, or gid alone) and uid.
 * Already running as them (the master re-executed by a reload): nothing
 * to do.  0, or -1 after logging.
 */
int fw_privs_drop(const fw_privs_t *p);

/* -------------------------------------------------------------------- */
/*
 * notify.c: systemd's readiness protocol (sd_notify(3), Type=notify),
 * spoken without libsystemd: one datagram per state change to the unix
 * socket named by $NOTIFY_SOCKET.  Without that variable every call is a
 * no-op, and so is every call from a process other than the one that ran
 * fw_notify_init (a forked worker): systemd listens to the main process.
 */

/*
 * Reads NOTIFY_SOCKET ("/path", or "@name" in the abstract namespace) and
 * takes it out of the environment, so that the application's children do
 * not inherit it (a reload's exec passes the environment the process
 * started with: the new image reads it again).  Once, before Python
 * starts.  An address that cannot be used is logged (a warning) and
 * notification stays off.
 */
void fw_notify_init(void);

/*
 * READY=1: the workers accept.  Sent when the state was not READY already
 * (start-up, or the end of a reload), so it may be called on every turn
 * of a loop.  0, or -1 when the datagram could not be sent (the first
 * failure is logged).
 */
int fw_notify_ready(void);

/* RELOADING=1 with MONOTONIC_USEC=monotonic_us (CLOCK_MONOTONIC in µs, as
 * systemd wants it: fw_scoreboard_now_us): a reload starts. */
int fw_notify_reloading(uint64_t monotonic_us);

/* STOPPING=1: a stop starts; later calls send nothing more. */
int fw_notify_stopping(void);

/*
 * STATUS=<text>: one line for `systemctl status`.  Sent only when the text
 * differs from the last one sent.
 */
int fw_notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The master's tick: READY=1 (fw_notify_ready) when `ready` says the pool
 * serves, and STATUS= with its state, "3 workers, 1 busy, 1520 requests"
 * (busy and requests from the scoreboard when there is one), at the first
 * call after fw_notify_init and then once a second at most.  workers: how
 * many run now; now: monotonic seconds (the caller's clock, as for the
 * pool rules).
 */
void fw_notify_pool(int ready, int workers, double now);

#endif /* FW_POOL_H */
