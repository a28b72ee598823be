/*
 * observe.h: seeing inside, the room of the features that read the
 * scoreboard or follow requests: the hooks the pool calls (observe.c), the
 * status and ping pages (status*.c), the access log (access_log.c), a
 * worker's stdout, stderr and stack dumps turned into log lines
 * (capture.c), harakiri and slowlog (harakiri.c).
 */
#ifndef FW_OBSERVE_H
#define FW_OBSERVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pyglue/gateway.h"
#include "pyglue/pyglue.h"

/* -------------------------------------------------------------------- */
/*
 * observe.c: the hooks through which the process manager runs the
 * "seeing inside" features (scoreboard, status and ping pages, access
 * log, harakiri, slowlog).  Each is one call at one place, so that main.c,
 * master.c and serve's worker.c and loop.c carry one line per hook and
 * nothing else; loop.c also calls fw_status_wants/fw_status_serve (the
 * status and ping pages) around each request.
 */

/* What the "seeing inside" features are told, filled by map.c from the
 * configuration.  The strings must stay valid while the process runs. */
typedef struct {
    const char *status_path;   /* NULL: no status page */
    const char *ping_path;     /* NULL: no ping page */
    const char *ping_response; /* the ping page's text */
    const char *pool;          /* the pool's name on the pages */
    const char *access_log;    /* NULL: no access log */
    const char *log_format;    /* NULL: combined (and, with no
                                  access_log, no request lines) */
    int log_x_forwarded_for;   /* %(addr) from X-Forwarded-For */
    const char *logto;         /* the log file; NULL: stderr */
    const char *log_date;      /* fw_log_set_date's spec; NULL: default */
    long long log_maxsize;     /* bytes; 0: no rotation */
    int harakiri;              /* seconds; 0: off */
    int slowlog;               /* seconds; 0: off */
    int threads;               /* request slots of a worker, >= 1 */
} fw_observe_config_t;

/*
 * main, before the first fork and before Python starts: configures the
 * pages, the log's date, the access log (its format compiled, its file
 * checked by opening it) and the limits; sets PYTHONUNBUFFERED=1 (unless
 * set) so that print() reaches the log at once and no buffered output is
 * copied into the workers by fork.  listen_fd: the listening socket (its
 * queue is reported).  The scoreboard is the master's.  0, or -1 after
 * logging: the server must not start.
 */
int fw_observe_setup(const fw_observe_config_t *oc, int listen_fd);

/*
 * A worker, in its main thread before its serving threads start (Python
 * started, GIL not held): takes a scoreboard slot, opens the access log,
 * captures its stdout and stderr (capture.c), registers the stack dump
 * signal when harakiri or slowlog is on.
 */
void fw_observe_worker_start(void);

/*
 * A worker, when it is about to exit (Python finalised, or never to be):
 * logs what its stdout and stderr still held.
 */
void fw_observe_worker_stop(void);

/*
 * A serving thread, around each request: begin marks the scoreboard slot
 * busy and tags the thread's log lines with the request; end waits until
 * what the request printed is logged (capture.c), frees the slot, counts
 * the response in the pool's figures when `counted` (not a status or ping
 * page) and writes the access log line.
 */
void fw_observe_request_begin(int thread, fw_request_t *r);
void fw_observe_request_end(int thread, fw_request_t *r, int counted);

/* A worker on SIGUSR1, after the log was reopened: reopens the access log
 * and points the stack dumps at the new log. */
void fw_observe_reopen(void);

/*
 * The master, about every 200 ms, after fw_scoreboard_reap: runs harakiri
 * and slowlog, samples the listen queue, rotates the log and the access
 * log past log-maxsize (then every worker reopens them, as on SIGUSR1).
 * Never blocks.
 */
void fw_observe_tick(void);

/* -------------------------------------------------------------------- */
/*
 * capture.c: what a worker writes outside fw_log, turned into log lines by
 * one reader thread: its descriptors 1 and 2 become pipes (so print(),
 * logging's StreamHandler, C extensions and subprocesses all arrive), each
 * line logged as "STDOUT"/"STDERR" with the request the worker runs when
 * it runs exactly one; and the Python stack dumps of harakiri and slowlog,
 * collected from their own pipe and logged as one block (one write(2)),
 * so that two workers' dumps never interleave.
 */

/*
 * Starts the capture: slot is the worker's scoreboard slot (-1: lines get
 * no request), dump_signal the signal whose faulthandler dump is collected
 * (0: none).  Returns the descriptor faulthandler is to write the dumps to
 * (-1: no dump pipe; then use the log).  On failure the worker's output
 * stays where it was (logged).  Once, in the worker's main thread, before
 * the serving threads start.
 */
int fw_capture_start(int slot, int dump_signal);

/* A serving thread at the end of a request: returns once what the process
 * wrote to its stdout and stderr so far is logged (at most 100 ms). */
void fw_capture_sync(void);

/* The worker is about to exit: logs what is left in the pipes and stops
 * the reader. */
void fw_capture_stop(void);

/* -------------------------------------------------------------------- */
/*
 * The status and ping pages, answered by the bridge itself without the
 * application, in four files: status.c serves them (which requests, which
 * format, the response), status_snapshot.c copies the scoreboard into one
 * data source, status_render.c renders it per format (plain text in
 * php-fpm's layout, JSON, OpenMetrics) and status_buf.c is their output
 * buffer.  Nothing here runs Python or blocks on anything but the web
 * server's connection.
 */

typedef enum {
    FW_STATUS_PLAIN = 0,  /* "key: value" lines, php-fpm's layout */
    FW_STATUS_JSON,       /* one object; per-worker details in "workers" */
    FW_STATUS_OPENMETRICS /* Prometheus text, ends with "# EOF" */
} fw_status_format_e;

/* The request-duration histogram's finite buckets (Prometheus's default
 * bounds, 5 ms to 10 s), and the status classes counted. */
#define FW_STATUS_BUCKETS 11
#define FW_STATUS_CLASSES 6

/* One serving thread of a worker, as the snapshot saw it. */
typedef struct {
    int busy;
    char method[16];
    char uri[256];
    uint64_t duration_us;      /* of the running request; 0 when idle */
    uint64_t last_duration_us; /* of the last finished one */
} fw_status_thread_t;

/* One worker process (a live scoreboard slot). */
typedef struct {
    int number; /* slot + 1 */
    pid_t pid;
    const char *state;   /* "starting", "idle", "busy", "stopping" */
    uint64_t started_at; /* Unix time */
    uint64_t requests;
    uint64_t rss_kb;             /* 0: unknown */
    fw_status_thread_t *threads; /* `threads` of the snapshot */
} fw_status_worker_t;

typedef struct {
    const char *pool;
    uint64_t now;        /* Unix time of the snapshot */
    uint64_t start_time; /* Unix time the pool started */
    uint64_t accepted;
    long listen_queue;     /* -1: unknown */
    long max_listen_queue; /* -1: unknown */
    long listen_queue_len; /* the backlog; -1: unknown */
    int idle_workers;
    int active_workers;
    int total_workers;
    int max_active_workers;
    uint64_t max_children_reached;
    uint64_t slow_requests;
    uint64_t harakiri_kills;
    int threads; /* per worker */
    int nworkers;
    fw_status_worker_t *workers;
    /* the application's finished requests (status and ping pages not
     * counted): how long they took, as a histogram whose bucket i counts
     * those within bucket_le_us[i] and above the bucket before (the last,
     * FW_STATUS_BUCKETS, those above them all); their total time; their
     * responses by status class */
    uint64_t bucket_le_us[FW_STATUS_BUCKETS];
    uint64_t buckets[FW_STATUS_BUCKETS + 1];
    uint64_t duration_sum_us;
    uint64_t responses[FW_STATUS_CLASSES]; /* "other", 1xx .. 5xx */
} fw_status_snapshot_t;

/* A growing output buffer; `failed` once an allocation failed. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} fw_status_buf_t;

/*
 * What the pages answer: the paths (NULL: no such page), the pool name,
 * the ping text, and the listening socket whose queue is reported (-1:
 * none).  Call once before the fork; the strings must stay valid.
 */
void fw_status_configure(const char *status_path, const char *ping_path,
                         const char *ping_response, const char *pool,
                         int listen_fd);

/*
 * Whether r's params ask for the status or the ping page: their path is
 * SCRIPT_NAME+PATH_INFO, or DOCUMENT_URI, or REQUEST_URI without its
 * query.  Reads only r->params.  Costs nothing when neither page is
 * configured.
 */
int fw_status_wants(const fw_request_t *r);

/*
 * Answers a request for which fw_status_wants said yes: reads what is left
 * of its body, renders the page in the format the query names (json,
 * openmetrics, else plain) and writes the CGI response through r->ops.
 * FW_PYGLUE_DONE, or FW_PYGLUE_ABORT when the web server is gone.
 */
fw_pyglue_result_e fw_status_serve(fw_request_t *r);

/*
 * status_snapshot.c: copies the scoreboard into s (allocating its arrays):
 * counters, every live worker and its threads, the queue of listen_fd
 * now (-1: none) and each worker's RSS from /proc; s->pool is pool_name
 * (not copied).  0, or -1 (no scoreboard, or out of memory) after
 * logging.  Release with fw_status_snapshot_free.
 */
int fw_status_snapshot_take(fw_status_snapshot_t *s, const char *pool_name,
                            int listen_fd);
void fw_status_snapshot_free(fw_status_snapshot_t *s);

/* status_render.c: renders s in fmt, appending to out.  Pure.  0, or -1
 * if out of memory. */
int fw_status_render(const fw_status_snapshot_t *s, fw_status_format_e fmt,
                     fw_status_buf_t *out);

/* The Content-Type of fmt. */
const char *fw_status_content_type(fw_status_format_e fmt);

/*
 * The format a QUERY_STRING query[0..len) names: "json", "openmetrics",
 * else plain (also when query is NULL).
 */
fw_status_format_e fw_status_format_of(const char *query, size_t len);

/* In the master, each tick: raises the pool's max listen queue to the
 * queue the kernel reports now (fw_listen_queue, serve.h). */
void fw_status_sample(void);

/*
 * status_buf.c: appends to b; after a failed allocation they do nothing
 * and b->failed stays set.  fw_status_buf_json_str: s quoted and escaped
 * as a JSON string, bytes that are not UTF-8 as U+FFFD.
 * fw_status_buf_label: s as an OpenMetrics label value (quoted; \\, \"
 * and \n escaped).  fw_status_buf_plain: s for a plain-text line, control
 * characters and bytes that are not UTF-8 as '?'.  fw_status_buf_time:
 * Unix time t as "24/Nov/2025:09:50:00 +0100" in local time.
 */
void fw_status_buf_add(fw_status_buf_t *b, const char *s, size_t n);
void fw_status_buf_str(fw_status_buf_t *b, const char *s);
void fw_status_buf_printf(fw_status_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fw_status_buf_json_str(fw_status_buf_t *b, const char *s);
void fw_status_buf_label(fw_status_buf_t *b, const char *s);
void fw_status_buf_plain(fw_status_buf_t *b, const char *s);
void fw_status_buf_time(fw_status_buf_t *b, uint64_t t);
/* Frees b's data and empties it. */
void fw_status_buf_free(fw_status_buf_t *b);

/* -------------------------------------------------------------------- */
/*
 * access_log.c: one line per request, in the `access-log` file (or, when
 * only log-format is given, in the log, as uWSGI does), formatted by
 * log-format, written by the serving thread that ran it with one write(2)
 * on an O_APPEND descriptor.  Off unless configured.  Never logs through
 * fw_log once configured and never blocks on anything but that write.
 */

/* uWSGI's combined-style line: the default log-format. */
#define FW_ACCESS_COMBINED                                                    \
    "%(addr) - %(user) [%(ltime)] \"%(method) %(uri) %(proto)\" "             \
    "%(status) %(size) \"%(referer)\" \"%(uagent)\""

/* A compiled log-format: literal text and variables, in order. */
#define FW_ACCESS_SEGMENTS_MAX 64

typedef struct {
    int var;          /* -1: the literal text; else a variable */
    const char *text; /* the literal, or the param a variable reads */
    size_t len;
    size_t tail; /* bytes the segments after this one need at least */
} fw_access_segment_t;

typedef struct {
    fw_access_segment_t seg[FW_ACCESS_SEGMENTS_MAX];
    size_t n;
} fw_access_format_t;

/*
 * Compiles spec (uWSGI's syntax: text and %(name) variables; see README
 * "Logs" for the names, and %(var.NAME) for any request param) into f,
 * which points into spec.  0, or -1 with the reason in err ("unknown
 * variable %(x); known: ...").  Pure.
 */
int fw_access_format_parse(const char *spec, fw_access_format_t *f, char *err,
                           size_t errsize);

/* What a line says besides the request's params. */
typedef struct {
    int status; /* 0: no response was sent */
    uint64_t body_bytes;
    uint64_t duration_us;
    time_t started; /* the request's start */
    time_t now;
    pid_t pid;
    int worker;          /* %(wid); 0: unknown */
    int x_forwarded_for; /* %(addr) from X-Forwarded-For's first entry */
} fw_access_facts_t;

/*
 * Formats one line for r into buf (with its '\n'), as f says.  Params are
 * taken by their length: quotes, backslashes, control (NUL too) and
 * non-ASCII bytes are written \xHH; "-" stands for an absent or empty
 * one; the address is cut at 64 bytes, a long value cut so that what
 * follows it fits.  Returns the length (< size; size must be at least
 * 256).  Pure but for the date's per-thread cache.
 */
size_t fw_access_log_format(char *buf, size_t size,
                            const fw_access_format_t *f, const fw_request_t *r,
                            const fw_access_facts_t *a);

/*
 * Remembers path (NULL or "": no access file), compiles format (NULL: the
 * combined format; given without a path, the lines go to the log) and
 * checks, by opening it, that workers will be able to append to the file.
 * Before the fork.  0, or -1 after logging (an unknown variable, say).
 */
int fw_access_log_configure(const char *path, const char *format,
                            int x_forwarded_for);

/* The access file's path; NULL when none. */
const char *fw_access_log_path(void);

/* In a worker before it serves (worker: its number for %(wid)): opens
 * the file.  0, or -1 after logging (the worker serves without one). */
int fw_access_log_open(int worker);

/* SIGUSR1: opens the path again onto the same descriptor number, so that
 * serving threads never see a closed one.  0, or -1 after logging. */
int fw_access_log_reopen(void);

/*
 * Logs request r (call while its params are still valid, before the
 * connection layer ends it) with the response status and body bytes the
 * caller counted (status 0: no response was sent) and its duration in µs.
 * Reads only r->params.  Does nothing when off.
 */
void fw_access_log_request(const fw_request_t *r, int status,
                           uint64_t body_bytes, uint64_t duration_us);

/* -------------------------------------------------------------------- */
/*
 * harakiri.c: the master's watch over running requests.  A request running
 * longer than `slowlog` seconds has its worker's Python stacks logged once;
 * one running longer than `harakiri` seconds has them logged, then its
 * worker is killed (SIGKILL) and the master replaces it.  Reads the
 * scoreboard only; sends signals; never waits.
 */

/* Makes a worker write every thread's Python stack to the log.  No thread
 * of a worker blocks it. */
#define FW_HARAKIRI_DUMP_SIGNAL (SIGRTMIN + 2)

/* Time a worker has to write its stacks before the SIGKILL, in µs. */
#define FW_HARAKIRI_DUMP_WAIT_US 200000u

/* The limits in seconds (0: off).  Before the fork. */
void fw_harakiri_configure(int harakiri, int slowlog);

/* Whether either limit is on (workers then register the dump signal). */
int fw_harakiri_enabled(void);

/*
 * In the master, about every 200 ms: looks at every running request and
 * acts on those past a limit.  A worker being killed with requests
 * running on other threads first stops accepting (SIGTERM) and is killed
 * once those finish, or after another `harakiri` seconds.
 */
void fw_harakiri_tick(void);

#endif /* FW_OBSERVE_H */
