/*
 * log.h: the one log of the process: stderr or the `logto` file.  Every
 * line carries a date (log-date), the role and pid, a word (the level, or
 * where the line came from: STDOUT, STDERR, STACK) and, in a serving
 * thread, the request it serves.  Each message is one write(2), so lines
 * of threads and processes never interleave.  Safe from any thread; never
 * from a signal handler.
 */
#ifndef FW_LOG_H
#define FW_LOG_H

#include <stddef.h>
#include "pyglue/gateway.h"
#include "pyglue/gateway_log.h"

/* The longest line written (prefix included): a longer one is cut. */
#define FW_LOG_LINE_MAX 8192
/* The most one message may take; the lines past it are left out. */
#define FW_LOG_MESSAGE_MAX (1024 * 1024)

/*
 * Opens `path` for appending (NULL: stderr); a relative path is taken from
 * the directory of its first opening, so that a reopen after chdir finds
 * the same file.  0, or -1 with errno set.
 */
int fw_log_open(const char *path);

/* The descriptor lines go to now (it changes when the log is reopened). */
int fw_log_fd(void);

/* The log file's path as opened (absolute when it was given relative);
 * NULL when the log is stderr. */
const char *fw_log_file(void);

/*
 * Before a process points its descriptor 2 elsewhere (a worker's capture
 * pipe): the log keeps writing to what stderr was, through a copy of it.
 * 0, or -1 with errno set (the log is unchanged).
 */
int fw_log_detach_stderr(void);

/*
 * With logto: descriptors 1 and 2 become the log file, as uWSGI's logto
 * makes them, so that what this process writes outside fw_log (an import
 * printing, a warning, CPython's own fatal errors) reaches the log at once,
 * with nothing in between to lose it if the process dies; they follow the
 * log when it is reopened.  Without logto nothing changes.  0, or -1 with
 * errno set.
 */
int fw_log_take_stdio(void);

/* Names this process in every line: "master", "worker 3"... */
void fw_log_set_role(const char *role);

/*
 * log-date: NULL, "true", "yes", "on" or "1": the default date
 * ("2025-11-24 09:50:00.123"); "false", "no", "off" or "0": no date (a
 * journal dates the lines itself); anything else: a strftime(3) format.
 * The string must stay valid.
 */
void fw_log_set_date(const char *spec);

/*
 * The request this thread serves from now (NULL: none): its method and
 * URI follow the word of each line the thread logs, until cleared.  r's
 * params must stay valid until then.
 */
void fw_log_set_request(const fw_request_t *r);

/* The sink pyglue writes through (fw_gateway_log_pt): multi-line messages
 * get the prefix on every line. */
void fw_log_write(fw_log_level_e level, const char *msg, size_t len);

/*
 * fw_log_write with `word` in place of the level and `tag` (tag_len bytes;
 * NULL: none) in place of the thread's request: "... STDERR [GET /x] msg".
 * Control characters of the tag are written '?'.
 */
void fw_log_write_as(const char *word, const char *tag, size_t tag_len,
                     const char *msg, size_t len);

/* fw_log(level, fmt, ...): formats one message (gateway_log.h, as pyglue
 * does) and writes it with fw_log_write. */
#define fw_log(level, ...) fw_gateway_log(fw_log_write, (level), __VA_ARGS__)

/*
 * log-maxsize: when the file at path is larger than max_bytes, renames it
 * to PATH.<Unix time> (uWSGI's name; PATH.<time>.N when that exists) and
 * writes the new name to `rotated` (size bytes).  1 when it did, 0 when
 * the file is within the size (or absent), -1 after logging a failure.
 * The caller reopens the file in every process that writes to it.
 */
int fw_log_rotate_if_over(const char *path, long long max_bytes, char *rotated,
                          size_t size);

/*
 * Turns a stream of bytes into lines (a worker's stdout and stderr): fed
 * with what each read(2) returned, it calls emit for every whole line
 * (without its "\n" or "\r\n").  A line longer than FW_LOG_STREAM_LINE is
 * emitted cut (cut = 1) when the buffer fills, and the rest of it, up to
 * its newline, is dropped: memory stays bounded.
 */
#define FW_LOG_STREAM_LINE 4096

typedef void (*fw_log_emit_pt)(void *arg, const char *line, size_t len,
                               int cut);

typedef struct {
    char buf[FW_LOG_STREAM_LINE];
    size_t len;
    int dropping; /* a cut line: bytes are dropped up to its newline */
} fw_log_stream_t;

void fw_log_stream_feed(fw_log_stream_t *s, const char *data, size_t n,
                        fw_log_emit_pt emit, void *arg);

/* At the end of the stream: emits the line left without its newline. */
void fw_log_stream_end(fw_log_stream_t *s, fw_log_emit_pt emit, void *arg);

#endif /* FW_LOG_H */
