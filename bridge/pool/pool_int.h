/*
 * pool_int.h: what the master's files share inside bridge/pool/ and nothing
 * outside the room includes: the master's hands on the pool's size (pm.c),
 * the mechanics of a reload (reload.c) and py-autoreload (autoreload.c,
 * autoreload_watch.c).
 * pool.h is the room's API.
 */
#ifndef FW_POOL_INT_H
#define FW_POOL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bridge/pool/pool.h"

/* -------------------------------------------------------------------- */
/*
 * pm.c: keeps the pool's size as fw_pool_rules_decide says: gathers the
 * view of this generation's workers, forks, retires idle ones.  Never
 * changes the master's state; master.c passes it in.
 */

typedef struct {
    const fw_master_config_t *mc;
    fw_pool_rules_config_t rules; /* the options pool_rules.c reads */
    uint64_t generation;          /* the workers it forks belong to it */
    int can_spawn;      /* the app is loaded (or lazy): workers can fork */
    int reload_target;  /* new workers ready before the old ones go */
    int initial_done;   /* dynamic: start-servers forked */
    double last_shrink; /* dynamic: one idle worker retired per second */
    double last_full;   /* max-children reached: counted once a second */
    int full_logged;    /* max-children reached: logged once per episode */
} fw_pm_t;

/* The options of mc, generation, the reload target; can_spawn 0 (the
 * master sets it once the app is loaded). */
void fw_pm_init(fw_pm_t *pm, const fw_master_config_t *mc,
                uint64_t generation);

/*
 * What the pool rules need to know now: the current generation's workers
 * (adopted ones excluded) by state, the free threads, and the master's
 * state.  pending is left 0 (the master's poll knows).
 */
fw_pool_view_t fw_pm_view(const fw_pm_t *pm, fw_pool_state_e state,
                          double now);

/* Whether a worker of this generation has ever been ready (accepting). */
int fw_pm_any_ready(void);

/* Whether the master should poll the listening socket to grow the pool
 * on a connection (fw_pool_rules_wants_listen). */
int fw_pm_wants_listen(const fw_pm_t *pm, fw_pool_state_e state, double now);

/*
 * The pool rules once per turn of the master's loop, and what they decide
 * done: fork (as far as the fork rate allows), count and log max-children
 * reached, retire idle workers.  pending: a connection was waiting on the
 * listening socket (seen by the master's poll).
 */
void fw_pm_maintain(fw_pm_t *pm, fw_pool_state_e state, double now,
                    int pending);

/* -------------------------------------------------------------------- */
/*
 * reload.c: how a reload is done (master.c decides when): the check that
 * the configuration still loads, the exec of a new master image with the
 * hand-over in its environment, the adoption of the old workers by the new
 * image and their retirement, and the touch-reload files.
 */

/* The touch-reload files and directories, and how each looked at the
 * last check. */
typedef struct {
    char *const *paths;
    size_t npaths;
    fw_pool_stamp_t *seen; /* one per path */
} fw_reload_touch_t;

/* Takes each file's first stamp.  0, or -1 after logging (out of
 * memory).  Release with fw_reload_touch_free. */
int fw_reload_touch_init(fw_reload_touch_t *t, char *const *paths,
                         size_t npaths);
void fw_reload_touch_free(fw_reload_touch_t *t);

/* The first path touched (fw_pool_rules_touched) since the last check,
 * or NULL; every path's stamp is taken again. */
const char *fw_reload_touched(fw_reload_touch_t *t);

/*
 * Loads the configuration again, from the start directory with the first
 * argv, to see that it is valid.  0, or -1 after logging what is wrong
 * with it ("<why>: reload cancelled ...").
 */
int fw_reload_check_conf(const fw_master_config_t *mc, const char *why);

/*
 * execve of /proc/self/exe with the first argv and environment plus the
 * hand-over (the listening socket kept open, every live worker, the next
 * generation), in the start directory, the master's signals blocked
 * across it.  Returns only when the exec failed (logged, everything put
 * back): the master goes on as it was.
 */
void fw_reload_exec(const fw_master_config_t *mc, uint64_t generation,
                    const char *why);

/* The new image of a reload takes over the previous image's workers (h:
 * NULL or a first start: none). */
void fw_reload_adopt(const fw_reload_handover_t *h);

/* A reload completed: SIGTERM to every adopted worker not yet told
 * (they finish their requests).  Returns how many were told. */
int fw_reload_retire_old(double now);

/* -------------------------------------------------------------------- */
/*
 * autoreload.c: py-autoreload.  Each worker's thread watches the files of
 * the modules it imported and reports a change to the master on a socket
 * pair that outlives reloads; the master reloads as for SIGHUP.
 */

/*
 * The master, at the start of each image: takes the pair over from the
 * previous image (mc->handover) or makes it, and notes the image's start
 * (a change reported from before it is the reload it is).  Off
 * (py_autoreload 0): closes a pair handed over.  A failure is logged and
 * leaves py-autoreload off.
 */
void fw_autoreload_open(const fw_master_config_t *mc);

/* The pair to keep open across a reload's exec (-1, -1: none). */
void fw_autoreload_handover(int fds[2]);

/*
 * The master, once a turn: reads the reports waiting (never blocks) and
 * returns the path of the first change made after this image started
 * (in a static buffer, fit for a log line), or NULL.
 */
const char *fw_autoreload_changed(void);

/*
 * A worker, once its application is imported, on its main thread: with
 * seconds > 0 and the pair open, closes the master's end and starts the
 * watch (fw_autoreload_watch).
 */
void fw_autoreload_start(int seconds);

/* Whether a file's change at `changed` is news: later than this master
 * image's start and than `told`, the change reported last (zero: none). */
int fw_autoreload_due(const struct timespec *told,
                      const struct timespec *changed);

/* A worker: sends the change of path (its ctime) to the master (a full
 * queue: the master has others to read; dropped). */
void fw_autoreload_report(const char *path, const struct timespec *changed);

/* -------------------------------------------------------------------- */
/*
 * autoreload_watch.c: a worker's watch of its modules' files, a thread
 * that reports each change that is news (fw_autoreload_due) with
 * fw_autoreload_report.
 */

/*
 * Reads the module files (from this thread: it fences pyglue's later
 * calls off the interpreter's finalisation) and starts the watching
 * thread (signals blocked in it): a scan every `seconds`, inotify events
 * in between.  Logs why it cannot.
 */
void fw_autoreload_watch(int seconds);

#endif /* FW_POOL_INT_H */
