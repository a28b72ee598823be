/*
 * access_log.c: the access log (observe.h): log-format compiled once at
 * start-up into segments, each line formatted into a stack buffer and
 * written with one write(2) on an O_APPEND descriptor, so that lines from
 * every thread and process land whole.  The date is formatted once a
 * second per thread.
 */
/* dup3 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge/observe/observe.h"
#include "bridge/log.h"

#define ACCESS_LINE_MAX 8192
/* REMOTE_ADDR (or X-Forwarded-For) bytes written: an IPv6 address with a
 * zone fits. */
#define ACCESS_ADDR_MAX 64
/* What a number and a date need at most. */
#define ACCESS_NUMBER_MAX 20
#define ACCESS_DATE_MAX 26

/* What a variable stands for. */
typedef enum {
    VAR_PARAM = 0, /* a request param, escaped ("-" when absent) */
    VAR_ADDR,      /* REMOTE_ADDR, or X-Forwarded-For's first entry */
    VAR_LTIME,     /* the request's start, Apache style */
    VAR_STATUS,
    VAR_SIZE, /* response body bytes */
    VAR_MSECS,
    VAR_MICROS,
    VAR_PID,
    VAR_WID,   /* the worker's number */
    VAR_EPOCH, /* Unix time now */
    VAR_TIME   /* Unix time of the request's start */
} access_var_e;

/* uWSGI's request log variables (its LogFormat page) we have. */
static const struct {
    const char *name;
    access_var_e kind;
    const char *param; /* VAR_PARAM, VAR_ADDR */
} access_vars[] = {
    {"addr", VAR_ADDR, "REMOTE_ADDR"},
    {"user", VAR_PARAM, "REMOTE_USER"},
    {"ltime", VAR_LTIME, NULL},
    {"method", VAR_PARAM, "REQUEST_METHOD"},
    {"uri", VAR_PARAM, "REQUEST_URI"},
    {"proto", VAR_PARAM, "SERVER_PROTOCOL"},
    {"status", VAR_STATUS, NULL},
    {"size", VAR_SIZE, NULL},
    {"rsize", VAR_SIZE, NULL},
    {"referer", VAR_PARAM, "HTTP_REFERER"},
    {"uagent", VAR_PARAM, "HTTP_USER_AGENT"},
    {"host", VAR_PARAM, "HTTP_HOST"},
    {"cl", VAR_PARAM, "CONTENT_LENGTH"},
    {"msecs", VAR_MSECS, NULL},
    {"micros", VAR_MICROS, NULL},
    {"pid", VAR_PID, NULL},
    {"wid", VAR_WID, NULL},
    {"epoch", VAR_EPOCH, NULL},
    {"time", VAR_TIME, NULL},
    {"var.NAME", VAR_PARAM, NULL}, /* any request param */
};
#define ACCESS_NVARS (sizeof(access_vars) / sizeof(access_vars[0]))
#define ACCESS_VAR_ANY (ACCESS_NVARS - 1)
#define ACCESS_VAR_PREFIX "var."

static const char *access_path;
static int access_to_log; /* lines go to the main log (fw_log_fd) */
static int access_fd = -1;
static int access_worker;
static int access_xff;
static fw_access_format_t access_format;

/* The bytes segment s needs at least (a string var: "-"). */
static size_t
segment_min(const fw_access_segment_t *s)
{
    if (s->var < 0) {
        return s->len;
    }
    switch (access_vars[s->var].kind) {
    case VAR_PARAM:
    case VAR_ADDR:
        return 1;
    case VAR_LTIME:
        return ACCESS_DATE_MAX;
    default:
        return ACCESS_NUMBER_MAX;
    }
}

/* Appends a segment; -1 when there are too many (err set). */
static int
add_segment(fw_access_format_t *f, int var, const char *text, size_t len,
            char *err, size_t errsize)
{
    if (f->n == FW_ACCESS_SEGMENTS_MAX) {
        snprintf(err, errsize, "more than %d pieces of text and variables",
                 FW_ACCESS_SEGMENTS_MAX);
        return -1;
    }
    f->seg[f->n++] =
        (fw_access_segment_t){.var = var, .text = text, .len = len};
    return 0;
}

/* The variable named name[0..len), as add_segment takes it: its index, and
 * for %(var.NAME) the param's name in *text and *tlen.  -1 if unknown. */
static int
find_var(const char *name, size_t len, const char **text, size_t *tlen)
{
    size_t plen = sizeof(ACCESS_VAR_PREFIX) - 1;

    if (len > plen && memcmp(name, ACCESS_VAR_PREFIX, plen) == 0) {
        *text = name + plen;
        *tlen = len - plen;
        return (int)ACCESS_VAR_ANY;
    }
    for (size_t i = 0; i < ACCESS_VAR_ANY; i++) {
        if (strlen(access_vars[i].name) == len &&
            memcmp(access_vars[i].name, name, len) == 0) {
            *text = access_vars[i].param;
            *tlen = *text != NULL ? strlen(*text) : 0;
            return (int)i;
        }
    }
    return -1;
}

/* "unknown variable %(x) in log-format; known: addr user ..." */
static void
unknown_var(const char *name, size_t len, char *err, size_t errsize)
{
    int n = snprintf(err, errsize, "unknown variable %%(%.*s); known:",
                     (int)(len < 64 ? len : 64), name);

    for (size_t i = 0; i < ACCESS_NVARS && n > 0 && (size_t)n < errsize; i++) {
        n +=
            snprintf(err + n, errsize - (size_t)n, " %s", access_vars[i].name);
    }
}

int
fw_access_format_parse(const char *spec, fw_access_format_t *f, char *err,
                       size_t errsize)
{
    const char *p = spec, *lit = spec;
    size_t tail = 0;

    f->n = 0;
    while (*p != '\0') {
        const char *name, *end, *text = NULL;
        size_t tlen = 0;
        int var;

        if (p[0] != '%' || p[1] != '(') {
            p++;
            continue;
        }
        name = p + 2;
        end = strchr(name, ')');
        if (end == NULL) {
            snprintf(err, errsize, "'%%(' without its ')': %.40s", p);
            return -1;
        }
        var = find_var(name, (size_t)(end - name), &text, &tlen);
        if (var < 0) {
            unknown_var(name, (size_t)(end - name), err, errsize);
            return -1;
        }
        if ((p > lit &&
             add_segment(f, -1, lit, (size_t)(p - lit), err, errsize) < 0) ||
            add_segment(f, var, text, tlen, err, errsize) < 0) {
            return -1;
        }
        p = lit = end + 1;
    }
    if (p > lit &&
        add_segment(f, -1, lit, (size_t)(p - lit), err, errsize) < 0) {
        return -1;
    }
    for (size_t i = f->n; i-- > 0;) {
        f->seg[i].tail = tail;
        tail += segment_min(&f->seg[i]);
    }
    return 0;
}

/* Opens the access log for appending; on failure logs "access-log PATH:
 * <when>ERROR<outcome>".  The descriptor, or -1. */
static int
access_open_path(const char *when, const char *outcome)
{
    int fd =
        open(access_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0) {
        fw_log(FW_LOG_ERROR, "access-log %s: %s%s%s", access_path, when,
               strerror(errno), outcome);
    }
    return fd;
}

int
fw_access_log_configure(const char *path, const char *format,
                        int x_forwarded_for)
{
    char err[512];
    int fd;

    access_path = path != NULL && path[0] != '\0' ? path : NULL;
    access_to_log = access_path == NULL && format != NULL;
    access_xff = x_forwarded_for;
    if (fw_access_format_parse(format != NULL ? format : FW_ACCESS_COMBINED,
                               &access_format, err, sizeof(err)) < 0) {
        fw_log(FW_LOG_ERROR, "log-format: %s", err);
        return -1;
    }
    if (access_path == NULL) {
        return 0;
    }
    fd = access_open_path("", "");
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

const char *
fw_access_log_path(void)
{
    return access_path;
}

int
fw_access_log_open(int worker)
{
    access_worker = worker;
    if (access_path == NULL || access_fd >= 0) {
        return 0;
    }
    access_fd = access_open_path("", ": no access log");
    return access_fd < 0 ? -1 : 0;
}

int
fw_access_log_reopen(void)
{
    int fd;

    if (access_path == NULL || access_fd < 0) {
        return fw_access_log_open(access_worker);
    }
    fd = access_open_path("reopen: ", "");
    if (fd < 0) {
        return -1;
    }
    if (fd != access_fd) {
        if (dup3(fd, access_fd, O_CLOEXEC) < 0) {
            fw_log(FW_LOG_ERROR, "access-log %s: reopen: dup3: %s",
                   access_path, strerror(errno));
            close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}

/*
 * Appends s[0..len) (NULL or empty: "-") escaped at buf+*used: quotes,
 * backslashes, control (NUL too) and non-ASCII bytes as \xHH.  Stops
 * where the next byte might not fit before limit.
 */
static void
access_escaped(char *buf, size_t *used, size_t limit, const char *s,
               size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    if (s == NULL || len == 0) {
        s = "-";
        len = 1;
    }
    for (size_t i = 0; i < len && *used + 4 <= limit; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            buf[(*used)++] = '\\';
            buf[(*used)++] = 'x';
            buf[(*used)++] = hex[c >> 4];
            buf[(*used)++] = hex[c & 15];
        } else {
            buf[(*used)++] = (char)c;
        }
    }
}

/* "24/Nov/2025:09:50:00 +0100", remade only when the second changes. */
static const char *
access_date(time_t t)
{
    static _Thread_local time_t cached_at = -1;
    static _Thread_local char cached[40];

    if (t != cached_at) {
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(cached, sizeof(cached), "%d/%b/%Y:%H:%M:%S %z", &tm);
        cached_at = t;
    }
    return cached;
}

/* The client's address: X-Forwarded-For's first entry (spaces trimmed)
 * when asked and present, else REMOTE_ADDR. */
static void
access_addr(const fw_request_t *r, int xff, const char **s, size_t *len)
{
    const fw_param_t *p = xff ? FW_PARAM(r, "HTTP_X_FORWARDED_FOR") : NULL;

    if (p != NULL) {
        const char *v = p->value;
        const char *comma = memchr(v, ',', p->value_len);
        size_t n = comma != NULL ? (size_t)(comma - v) : p->value_len;

        while (n > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            n--;
        }
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
            n--;
        }
        if (n > 0) {
            *s = v;
            *len = n;
            return;
        }
    }
    p = FW_PARAM(r, "REMOTE_ADDR");
    *s = p != NULL ? p->value : NULL;
    *len = p != NULL ? p->value_len : 0;
}

/* The number (or date) variable kind stands for, in tmp. */
static size_t
access_number(char *tmp, size_t size, access_var_e kind,
              const fw_access_facts_t *a)
{
    uint64_t v;
    int n;

    switch (kind) {
    case VAR_LTIME:
        return (size_t)snprintf(tmp, size, "%s", access_date(a->started));
    case VAR_STATUS:
        v = (uint64_t)(a->status > 0 ? a->status : 0);
        break;
    case VAR_SIZE:
        v = a->body_bytes;
        break;
    case VAR_MSECS:
        v = a->duration_us / 1000u;
        break;
    case VAR_MICROS:
        v = a->duration_us;
        break;
    case VAR_PID:
        v = (uint64_t)a->pid;
        break;
    case VAR_WID:
        v = (uint64_t)(a->worker > 0 ? a->worker : 0);
        break;
    case VAR_EPOCH:
        v = (uint64_t)a->now;
        break;
    default: /* VAR_TIME */
        v = (uint64_t)a->started;
        break;
    }
    n = snprintf(tmp, size, "%" PRIu64, v);
    return n < 0 ? 0 : (size_t)n;
}

/* Copies n bytes of s at buf+*used, at most up to limit. */
static void
access_copy(char *buf, size_t *used, size_t limit, const char *s, size_t n)
{
    size_t room = limit > *used ? limit - *used : 0;

    n = n < room ? n : room;
    memcpy(buf + *used, s, n);
    *used += n;
}

size_t
fw_access_log_format(char *buf, size_t size, const fw_access_format_t *f,
                     const fw_request_t *r, const fw_access_facts_t *a)
{
    size_t used = 0;

    for (size_t i = 0; i < f->n; i++) {
        const fw_access_segment_t *s = &f->seg[i];
        /* what the segments after this one need stays free, and the
         * '\n' with one byte to spare (the length stays below size) */
        size_t limit = size - 2 > s->tail ? size - 2 - s->tail : 0;
        const fw_param_t *p;
        const char *v;
        size_t vlen;
        char tmp[48];

        if (s->var < 0) {
            access_copy(buf, &used, limit, s->text, s->len);
            continue;
        }
        switch (access_vars[s->var].kind) {
        case VAR_PARAM:
            p = fw_gateway_param(r, s->text, s->len);
            access_escaped(buf, &used, limit, p != NULL ? p->value : NULL,
                           p != NULL ? p->value_len : 0);
            break;
        case VAR_ADDR:
            access_addr(r, a->x_forwarded_for, &v, &vlen);
            /* room for ACCESS_ADDR_MAX bytes (an escape needs 4) */
            if (limit > used + ACCESS_ADDR_MAX + 3) {
                limit = used + ACCESS_ADDR_MAX + 3;
            }
            access_escaped(buf, &used, limit, v, vlen);
            break;
        default:
            vlen =
                access_number(tmp, sizeof(tmp), access_vars[s->var].kind, a);
            access_copy(buf, &used, limit, tmp, vlen);
            break;
        }
    }
    buf[used++] = '\n';
    return used;
}

void
fw_access_log_request(const fw_request_t *r, int status, uint64_t body_bytes,
                      uint64_t duration_us)
{
    char line[ACCESS_LINE_MAX];
    time_t now;
    size_t len;
    int fd = access_to_log ? fw_log_fd() : access_fd;

    if (fd < 0 || (!access_to_log && access_path == NULL)) {
        return;
    }
    now = time(NULL);
    len = fw_access_log_format(
        line, sizeof(line), &access_format, r,
        &(fw_access_facts_t){
            .status = status,
            .body_bytes = body_bytes,
            .duration_us = duration_us,
            .started = now - (time_t)(duration_us / 1000000u),
            .now = now,
            .pid = getpid(),
            .worker = access_worker,
            .x_forwarded_for = access_xff,
        });
    (void)!write(fd, line, len);
}
