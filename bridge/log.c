/*
 * log.c: formats log lines and writes each message with one write(2) on an
 * O_APPEND descriptor, so lines from threads and processes never interleave;
 * rotates a log file by size; turns a byte stream into lines.  Never logs
 * from a signal handler.
 */
/* dup3 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"

/* Room for the prefix: date, role, pid, word and a request's tag. */
#define LOG_PREFIX_MAX 512
/* The request tag of a serving thread: its method and URI, cut. */
#define LOG_TAG_MAX 300

typedef enum {
    LOG_DATE_DEFAULT = 0, /* "2025-11-24 09:50:00.123" */
    LOG_DATE_NONE,        /* no date */
    LOG_DATE_FORMAT       /* strftime(log_date_format) */
} log_date_e;

static int log_fd = STDERR_FILENO;
/* What "no logto" writes to: stderr, or a copy of it once descriptor 2
 * was given to something else (fw_log_detach_stderr). */
static int log_stderr_fd = STDERR_FILENO;
static char log_role[32] = "main";
static log_date_e log_date_mode;
static const char *log_date_format;
static _Thread_local const fw_request_t *log_request;

/* The log file (log_path when logto was relative); NULL: stderr. */
static const char *log_file;
static char log_path[PATH_MAX];

static const char *const log_levels[] = {"ERROR", "WARN", "INFO", "DEBUG"};

/*
 * The file a logto path names: a relative one is taken from the directory
 * the log was first opened in (before chdir), so that a reopen (SIGUSR1,
 * log-maxsize) finds the same file.
 */
static const char *
log_resolve(const char *path)
{
    static char given[PATH_MAX];
    char cwd[PATH_MAX];
    int n;

    if (path[0] == '/') {
        return path;
    }
    if (log_path[0] != '\0' && strcmp(given, path) == 0) {
        return log_path;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return path;
    }
    n = snprintf(given, sizeof(given), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(given)) {
        given[0] = '\0';
        return path;
    }
    n = snprintf(log_path, sizeof(log_path), "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= sizeof(log_path)) {
        log_path[0] = given[0] = '\0';
        return path;
    }
    return log_path;
}

/* Whether descriptor fd writes to the open file *was describes. */
static int
log_same_file(int fd, const struct stat *was)
{
    struct stat st;

    return fstat(fd, &st) == 0 && st.st_dev == was->st_dev &&
           st.st_ino == was->st_ino;
}

int
fw_log_open(const char *path)
{
    int fd, old = log_fd;
    struct stat was;
    int have_was, follow[2];

    if (path == NULL || path[0] == '\0') {
        log_fd = log_stderr_fd;
        if (old != log_stderr_fd) {
            close(old);
        }
        return 0;
    }
    path = log_resolve(path);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    log_file = path;
    if (old == log_stderr_fd) {
        log_fd = fd;
        return 0;
    }
    /* descriptors 1 and 2 that are the old file (fw_log_take_stdio, a
     * worker's capture stopped) follow it to the new one */
    have_was = fstat(old, &was) == 0;
    for (int i = 0; i < 2; i++) {
        follow[i] = have_was && log_same_file(i + 1, &was);
    }
    /* the same number, so that no thread ever writes to a closed one */
    if (dup3(fd, old, O_CLOEXEC) < 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    close(fd);
    for (int i = 0; i < 2; i++) {
        if (follow[i]) {
            (void)dup2(old, i + 1);
        }
    }
    return 0;
}

int
fw_log_fd(void)
{
    return log_fd;
}

const char *
fw_log_file(void)
{
    return log_fd == log_stderr_fd ? NULL : log_file;
}

int
fw_log_detach_stderr(void)
{
    int fd;

    if (log_stderr_fd != STDERR_FILENO) {
        return 0;
    }
    fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        return -1;
    }
    if (log_fd == STDERR_FILENO) {
        log_fd = fd;
    }
    log_stderr_fd = fd;
    return 0;
}

int
fw_log_take_stdio(void)
{
    if (fw_log_file() == NULL) {
        return 0;
    }
    if (fw_log_detach_stderr() < 0) {
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0) {
        return -1;
    }
    return 0;
}

void
fw_log_set_role(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

void
fw_log_set_date(const char *spec)
{
    static const char *const on[] = {"true", "yes", "on", "1"};
    static const char *const off[] = {"false", "no", "off", "0"};

    log_date_mode = LOG_DATE_DEFAULT;
    if (spec == NULL || spec[0] == '\0') {
        return;
    }
    log_date_mode = LOG_DATE_FORMAT;
    log_date_format = spec;
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        if (strcasecmp(spec, on[i]) == 0) {
            log_date_mode = LOG_DATE_DEFAULT;
        } else if (strcasecmp(spec, off[i]) == 0) {
            log_date_mode = LOG_DATE_NONE;
        }
    }
}

void
fw_log_set_request(const fw_request_t *r)
{
    log_request = r;
}

/* Appends at most max bytes of s (n bytes) to buf+*used, control
 * characters as '?'. */
static void
log_put_clean(char *buf, size_t *used, const char *s, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[(*used)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
}

/* The date of a line, as log-date says, followed by a space ("" when
 * none). */
static size_t
log_date(char *buf, size_t size)
{
    struct timespec now;
    struct tm tm;
    size_t n;
    int m;

    if (log_date_mode == LOG_DATE_NONE) {
        return 0;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    if (log_date_mode == LOG_DATE_FORMAT) {
        /* the user's format (log-date), as uWSGI takes it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        n = strftime(buf, size - 1, log_date_format, &tm);
#pragma GCC diagnostic pop
        buf[n++] = ' ';
        return n;
    }
    n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    m = snprintf(buf + n, size - n, ".%03ld ", now.tv_nsec / 1000000);
    return m < 0 ? n : n + (size_t)m;
}

/* "DATE [ROLE pid N] WORD [TAG] " in buf (LOG_PREFIX_MAX bytes). */
static size_t
log_prefix(char *buf, const char *word, const char *tag, size_t tag_len)
{
    size_t n = log_date(buf, 96);
    int m = snprintf(buf + n, LOG_PREFIX_MAX - n, "[%s pid %ld] %.16s ",
                     log_role, (long)getpid(), word);

    n += m < 0 ? 0 : (size_t)m;
    if (tag != NULL) {
        buf[n++] = '[';
        log_put_clean(buf, &n, tag, tag_len, LOG_TAG_MAX);
        buf[n++] = ']';
        buf[n++] = ' ';
    }
    return n;
}

/* The tag of the request this thread serves: "GET /path", cut. */
static size_t
log_request_tag(char *tag)
{
    const fw_param_t *method = FW_PARAM(log_request, "REQUEST_METHOD");
    const fw_param_t *uri = FW_PARAM(log_request, "REQUEST_URI");
    size_t n = 0;

    if (method != NULL) {
        log_put_clean(tag, &n, method->value, method->value_len, 16);
    }
    tag[n++] = ' ';
    if (uri != NULL) {
        log_put_clean(tag, &n, uri->value, uri->value_len,
                      LOG_TAG_MAX - 1 - n);
    }
    return n;
}

/* How long one line of n bytes may be after a prefix of plen. */
static size_t
log_line_take(size_t n, size_t plen)
{
    size_t max = FW_LOG_LINE_MAX - plen - 1;

    return n < max ? n : max;
}

/*
 * Copies the lines of msg[*pos..len), each after the prefix and cut to a
 * line of FW_LOG_LINE_MAX, into buf as long as whole lines fit in cap
 * (at least FW_LOG_LINE_MAX: one always does); *pos advances past them.
 * An empty message is one line of its own.  Returns the bytes used.
 */
static size_t
log_compose(char *buf, size_t cap, const char *prefix, size_t plen,
            const char *msg, size_t len, size_t *pos)
{
    size_t used = 0;

    do {
        const char *line = msg + *pos;
        const char *nl = memchr(line, '\n', len - *pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - *pos;
        size_t take = log_line_take(n, plen);

        if (used + plen + take + 1 > cap) {
            break;
        }
        memcpy(buf + used, prefix, plen);
        memcpy(buf + used + plen, line, take);
        used += plen + take;
        buf[used++] = '\n';
        *pos += nl != NULL ? n + 1 : n;
    } while (*pos < len);
    return used;
}

/* The bytes log_compose needs for the whole of msg. */
static size_t
log_measure(size_t plen, const char *msg, size_t len)
{
    size_t need = 0, pos = 0;

    do {
        const char *nl = memchr(msg + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (msg + pos)) : len - pos;

        need += plen + log_line_take(n, plen) + 1;
        pos += nl != NULL ? n + 1 : n;
    } while (pos < len);
    return need;
}

/*
 * Writes msg with the prefix on each of its lines in one write(2): from
 * the stack when it fits, else from one allocation of at most
 * FW_LOG_MESSAGE_MAX (the lines past it are left out, and a line says
 * so); when that allocation fails, in writes of whole lines.
 */
void
fw_log_write_as(const char *word, const char *tag, size_t tag_len,
                const char *msg, size_t len)
{
    char stack[FW_LOG_LINE_MAX];
    char prefix[LOG_PREFIX_MAX];
    char *buf = stack;
    size_t plen, need, cap = sizeof(stack), pos = 0;

    plen = log_prefix(prefix, word, tag, tag_len);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r')) {
        len--;
    }
    need = log_measure(plen, msg, len);
    if (need > cap) {
        size_t want = need < FW_LOG_MESSAGE_MAX ? need : FW_LOG_MESSAGE_MAX;
        char *big = malloc(want);

        if (big != NULL) {
            buf = big;
            cap = want;
        }
    }
    for (;;) {
        size_t used = log_compose(buf, cap, prefix, plen, msg, len, &pos);

        (void)!write(log_fd, buf, used);
        if (pos >= len) {
            break;
        }
        if (buf != stack) {
            char note[80];
            size_t npos = 0;
            int n = snprintf(note, sizeof(note),
                             "(%zu more bytes of this message left out)",
                             len - pos);

            used = log_compose(stack, sizeof(stack), prefix, plen, note,
                               (size_t)n, &npos);
            (void)!write(log_fd, stack, used);
            break;
        }
    }
    if (buf != stack) {
        free(buf);
    }
}

void
fw_log_write(fw_log_level_e level, const char *msg, size_t len)
{
    char tag[LOG_TAG_MAX];

    if (log_request == NULL) {
        fw_log_write_as(log_levels[level], NULL, 0, msg, len);
        return;
    }
    fw_log_write_as(log_levels[level], tag, log_request_tag(tag), msg, len);
}

int
fw_log_rotate_if_over(const char *path, long long max_bytes, char *rotated,
                      size_t size)
{
    struct stat st;
    long now = (long)time(NULL);
    int n;

    if (path == NULL || max_bytes <= 0 || stat(path, &st) < 0 ||
        (long long)st.st_size <= max_bytes) {
        return 0;
    }
    n = snprintf(rotated, size, "%s.%ld", path, now);
    for (int i = 1;
         n > 0 && (size_t)n < size && i < 1000 && access(rotated, F_OK) == 0;
         i++) {
        n = snprintf(rotated, size, "%s.%ld.%d", path, now, i);
    }
    if (n < 0 || (size_t)n >= size) {
        fw_log(FW_LOG_ERROR, "log-maxsize: %s: name too long to rotate", path);
        return -1;
    }
    if (rename(path, rotated) < 0) {
        fw_log(FW_LOG_ERROR, "log-maxsize: rename %s to %s: %s", path, rotated,
               strerror(errno));
        return -1;
    }
    return 1;
}

void
fw_log_stream_feed(fw_log_stream_t *s, const char *data, size_t n,
                   fw_log_emit_pt emit, void *arg)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t chunk = nl != NULL ? (size_t)(nl - data) : n;
        size_t step = nl != NULL ? chunk + 1 : chunk;

        if (s->dropping) {
            s->dropping = nl == NULL;
        } else if (s->len + chunk > sizeof(s->buf)) {
            memcpy(s->buf + s->len, data, sizeof(s->buf) - s->len);
            emit(arg, s->buf, sizeof(s->buf), 1);
            s->len = 0;
            s->dropping = nl == NULL;
        } else {
            memcpy(s->buf + s->len, data, chunk);
            s->len += chunk;
            if (nl != NULL) {
                size_t len = s->len;

                if (len > 0 && s->buf[len - 1] == '\r') {
                    len--;
                }
                emit(arg, s->buf, len, 0);
                s->len = 0;
            }
        }
        data += step;
        n -= step;
    }
}

void
fw_log_stream_end(fw_log_stream_t *s, fw_log_emit_pt emit, void *arg)
{
    if (s->len > 0) {
        emit(arg, s->buf, s->len, 0);
    }
    s->len = 0;
    s->dropping = 0;
}
