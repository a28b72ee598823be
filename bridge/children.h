/*
 * children.h: the master's table of worker processes: fork one into a
 * scoreboard slot, follow its state from the scoreboard, reap it, say how
 * it ended (and what it was serving), and guard against crash loops.  It
 * decides nothing about how many workers there should be: master.c does.
 */
#ifndef FW_CHILDREN_H
#define FW_CHILDREN_H

#include <stdint.h>
#include <sys/types.h>

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
 * Whether a fork is allowed at now, under two guards.  The crash-loop
 * back-off: after 5 workers in a row died before they were ready (the app
 * cannot start), forking pauses 1, 2, 4... up to 30 s, one step per round
 * of workers; a worker that gets ready ends it.  The fork rate: a worker
 * that dies once ready (a request killed it) is replaced at once, but at
 * most max(16, slots) workers start in a second, the next waiting for the
 * second to end (at most 1 s); after 5 ready workers in a row died within
 * a second without serving a request, one a second, until one serves.
 */
int fw_children_may_spawn(double now);

/* Seconds from now until fw_children_may_spawn allows a fork; 0: now. */
double fw_children_spawn_wait(double now);

/* Monotonic seconds. */
double fw_children_now(void);

#endif /* FW_CHILDREN_H */
