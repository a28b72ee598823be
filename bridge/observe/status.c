/*
 * status.c: the status and ping pages (observe.h), the thin layer that
 * serves them: which requests are ours, which format the query names, and
 * the CGI response written through the request's ops.  The page itself is
 * a snapshot (status_snapshot.c) rendered (status_render.c).  Never calls
 * into Python; never blocks but on the web server.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "bridge/log.h"
#include "bridge/observe/observe.h"
#include "bridge/pool/pool.h"
#include "bridge/serve/serve.h"

/* Request bodies a status request may carry and we read past. */
#define STATUS_BODY_MAX (1024 * 1024)

static const char *status_path;
static const char *ping_path;
static const char *ping_response = "pong";
static const char *status_pool = "www";
static int status_listen_fd = -1;

void
fw_status_configure(const char *status, const char *ping,
                    const char *ping_text, const char *pool, int listen_fd)
{
    status_path = status != NULL && status[0] != '\0' ? status : NULL;
    ping_path = ping != NULL && ping[0] != '\0' ? ping : NULL;
    if (ping_text != NULL) {
        ping_response = ping_text;
    }
    if (pool != NULL && pool[0] != '\0') {
        status_pool = pool;
    }
    status_listen_fd = listen_fd;
}

/* ---- which requests are ours ------------------------------------------ */

/*
 * Whether the request's path is `path` (a C string): SCRIPT_NAME+PATH_INFO
 * when either is given (nginx's fastcgi_params, lighttpd, mod_fcgid), else
 * DOCUMENT_URI, else REQUEST_URI up to its first '?'.  The values are
 * compared as the bytes they are: a NUL inside one never matches.
 */
static int
path_is(const fw_request_t *r, const char *path)
{
    const fw_param_t *script = FW_PARAM(r, "SCRIPT_NAME");
    const fw_param_t *info = FW_PARAM(r, "PATH_INFO");
    const fw_param_t *uri;
    size_t plen = strlen(path);

    if (script != NULL || info != NULL) {
        size_t slen = script != NULL ? script->value_len : 0;
        size_t ilen = info != NULL ? info->value_len : 0;

        return slen + ilen == plen &&
               (slen == 0 || memcmp(path, script->value, slen) == 0) &&
               (ilen == 0 || memcmp(path + slen, info->value, ilen) == 0);
    }
    uri = FW_PARAM(r, "DOCUMENT_URI");
    if (uri != NULL) {
        return uri->value_len == plen && memcmp(uri->value, path, plen) == 0;
    }
    uri = FW_PARAM(r, "REQUEST_URI");
    return uri != NULL && uri->value_len >= plen &&
           memcmp(uri->value, path, plen) == 0 &&
           (uri->value_len == plen || uri->value[plen] == '?');
}

int
fw_status_wants(const fw_request_t *r)
{
    if (status_path == NULL && ping_path == NULL) {
        return 0;
    }
    return (status_path != NULL && path_is(r, status_path)) ||
           (ping_path != NULL && path_is(r, ping_path));
}

/* ---- which format ---------------------------------------------------- */

const char *
fw_status_content_type(fw_status_format_e fmt)
{
    switch (fmt) {
    case FW_STATUS_JSON:
        return "application/json";
    case FW_STATUS_OPENMETRICS:
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    default:
        return "text/plain; charset=utf-8";
    }
}

/*
 * Whether query[0..len) has the key `name` ("json", "a=1&json=x"): a
 * '&'-separated field that is name, or starts with name and '='.
 */
static int
query_has(const char *query, size_t len, const char *name)
{
    size_t n = strlen(name);
    size_t i = 0;

    while (i < len) {
        const char *field = query + i;
        const char *amp = memchr(field, '&', len - i);
        size_t flen = amp != NULL ? (size_t)(amp - field) : len - i;

        if (flen >= n && memcmp(field, name, n) == 0 &&
            (flen == n || field[n] == '=')) {
            return 1;
        }
        i += flen + 1;
    }
    return 0;
}

fw_status_format_e
fw_status_format_of(const char *query, size_t len)
{
    if (query == NULL) {
        return FW_STATUS_PLAIN;
    }
    if (query_has(query, len, "json")) {
        return FW_STATUS_JSON;
    }
    if (query_has(query, len, "openmetrics")) {
        return FW_STATUS_OPENMETRICS;
    }
    return FW_STATUS_PLAIN;
}

/* ---- answering -------------------------------------------------------- */

/* Reads the rest of the request body (at most STATUS_BODY_MAX). 0 or -1. */
static int
drain_body(fw_request_t *r)
{
    char scrap[4096];
    size_t total = 0;

    for (;;) {
        ssize_t n = r->ops->read(r, scrap, sizeof(scrap));

        if (n == 0) {
            return 0;
        }
        if (n < 0 || (total += (size_t)n) > STATUS_BODY_MAX) {
            return -1;
        }
    }
}

/* Writes a whole CGI response.  0 or -1. */
static int
respond(fw_request_t *r, const char *status, const char *type,
        const char *body, size_t len, int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "Status: %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-cache, no-store, must-revalidate, "
                     "max-age=0\r\n"
                     "\r\n",
                     status, type, len);

    if (n < 0 || (size_t)n >= sizeof(head) ||
        r->ops->write(r, head, (size_t)n) < 0) {
        return -1;
    }
    /* for the access log, as pyglue sets them (gateway.h) */
    r->response_status =
        (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
    if (!head_only && len > 0) {
        if (r->ops->write(r, body, len) < 0) {
            return -1;
        }
        r->response_body_bytes = len;
    }
    return r->ops->flush(r);
}

fw_pyglue_result_e
fw_status_serve(fw_request_t *r)
{
    const fw_param_t *method = FW_PARAM(r, "REQUEST_METHOD");
    const fw_param_t *query = FW_PARAM(r, "QUERY_STRING");
    int head_only = method != NULL && method->value_len == 4 &&
                    memcmp(method->value, "HEAD", 4) == 0;
    fw_status_format_e fmt;
    fw_status_snapshot_t snap;
    fw_status_buf_t page = {0};
    int rc;

    if (drain_body(r) < 0) {
        return FW_PYGLUE_ABORT;
    }
    if (ping_path != NULL && path_is(r, ping_path) &&
        (status_path == NULL || !path_is(r, status_path))) {
        rc = respond(r, "200 OK", "text/plain; charset=utf-8", ping_response,
                     strlen(ping_response), head_only);
        return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
    }

    fmt = query != NULL ? fw_status_format_of(query->value, query->value_len)
                        : FW_STATUS_PLAIN;
    if (fw_status_snapshot_take(&snap, status_pool, status_listen_fd) < 0) {
        static const char msg[] = "status unavailable\n";

        rc = respond(r, "503 Service Unavailable", "text/plain", msg,
                     sizeof(msg) - 1, head_only);
        return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
    }
    rc = fw_status_render(&snap, fmt, &page);
    fw_status_snapshot_free(&snap);
    if (rc < 0) {
        static const char msg[] = "out of memory\n";

        fw_status_buf_free(&page);
        rc = respond(r, "500 Internal Server Error", "text/plain", msg,
                     sizeof(msg) - 1, head_only);
        return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
    }
    rc = respond(r, "200 OK", fw_status_content_type(fmt), page.data, page.len,
                 head_only);
    fw_status_buf_free(&page);
    return rc < 0 ? FW_PYGLUE_ABORT : FW_PYGLUE_DONE;
}

/* ---- the master's sample ---------------------------------------------- */

void
fw_status_sample(void)
{
    static int unsupported;
    fw_score_pool_t *pool = fw_scoreboard_pool();
    long queue, backlog, max;

    if (pool == NULL || unsupported || status_listen_fd < 0) {
        return;
    }
    if (fw_listen_queue(status_listen_fd, &queue, &backlog) < 0) {
        unsupported = 1; /* the kernel will not say: stop asking */
        return;
    }
    max = atomic_load(&pool->max_listen_queue);
    while (queue > max && !atomic_compare_exchange_weak(
                              &pool->max_listen_queue, &max, queue)) {
    }
}
