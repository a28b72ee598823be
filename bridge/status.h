/*
 * status.h: the status and ping pages, answered by the bridge itself
 * without the application.  One data source (a snapshot copied out of the
 * scoreboard) and one renderer per format: plain text (php-fpm's layout),
 * JSON and OpenMetrics.  Nothing here runs Python or blocks on anything
 * but the web server's connection.
 */
#ifndef FW_STATUS_H
#define FW_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyglue/pyglue.h"

typedef enum {
    FW_STATUS_PLAIN = 0,  /* "key: value" lines, php-fpm's layout */
    FW_STATUS_JSON,       /* one object; per-worker details in "workers" */
    FW_STATUS_OPENMETRICS /* Prometheus text, ends with "# EOF" */
} fw_status_format_e;

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
 * Copies the scoreboard into s (allocating its arrays): counters, every
 * live worker and its threads, the listen queue now and each worker's RSS
 * from /proc.  0, or -1 (no scoreboard, or out of memory) after logging.
 * Release with fw_status_snapshot_free.
 */
int fw_status_snapshot_take(fw_status_snapshot_t *s);
void fw_status_snapshot_free(fw_status_snapshot_t *s);

/* Renders s in fmt, appending to out.  0, or -1 if out of memory. */
int fw_status_render(const fw_status_snapshot_t *s, fw_status_format_e fmt,
                     fw_status_buf_t *out);

/* The Content-Type of fmt. */
const char *fw_status_content_type(fw_status_format_e fmt);

/*
 * The format a QUERY_STRING query[0..len) names: "json", "openmetrics",
 * else plain (also when query is NULL).
 */
fw_status_format_e fw_status_format_of(const char *query, size_t len);

/*
 * The listening socket's queue: connections waiting to be accepted, and
 * the backlog (TCP_INFO for TCP, sock_diag for unix sockets).  0, or -1
 * when the kernel does not say (both then -1).
 */
int fw_status_listen_queue(int fd, long *queue, long *backlog);

/* In the master, each tick: raises the pool's max listen queue. */
void fw_status_sample(void);

void fw_status_buf_free(fw_status_buf_t *b);

#endif /* FW_STATUS_H */
