/*
 * wire_spool.c: a request body sent without CONTENT_LENGTH (nginx with
 * fastcgi_request_buffering off and a chunked upload).  The connection
 * reads it whole before the application runs, in memory up to
 * post-buffering and then in an unlinked temp file, so that the
 * application sees a CONTENT_LENGTH; wsgi.input reads it back.  Knows
 * nothing of sockets or records.
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/wire/wire_int.h"

/* A memory buffer larger than this is not kept for the next request. */
#define SPOOL_KEEP_MAX (64u << 10)

/* Appends to the memory buffer.  0, or -1 after logging. */
static int
spool_to_memory(fw_spool_t *s, const unsigned char *p, size_t n)
{
    if (s->mem_len + n > s->mem_cap) {
        size_t cap = s->mem_cap != 0 ? s->mem_cap : 16384;
        unsigned char *grown;

        while (cap < s->mem_len + n) {
            cap *= 2;
        }
        grown = realloc(s->mem, cap);
        if (grown == NULL) {
            fw_log(FW_LOG_ERROR, "request body: out of memory");
            return -1;
        }
        s->mem = grown;
        s->mem_cap = cap;
    }
    memcpy(s->mem + s->mem_len, p, n);
    s->mem_len += n;
    return 0;
}

/* Opens the temp file (in $TMPDIR, else /tmp) and moves what is in
 * memory there.  0, or -1 after logging. */
static int
spool_open_file(fw_spool_t *s)
{
    const char *dir = getenv("TMPDIR");

    if (dir == NULL || *dir == '\0') {
        dir = "/tmp";
    }
    s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        fw_log(FW_LOG_ERROR, "request body: temp file in %s: %s", dir,
               strerror(errno));
        return -1;
    }
    if (s->mem_len > 0 &&
        pwrite(s->fd, s->mem, s->mem_len, 0) != (ssize_t)s->mem_len) {
        fw_log(FW_LOG_ERROR, "request body: temp file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
fw_spool_put(fw_spool_t *s, const unsigned char *p, size_t n, size_t mem_max)
{
    if (s->fd < 0 && s->mem_len + n <= mem_max) {
        if (spool_to_memory(s, p, n) < 0) {
            return -1;
        }
        s->size += n;
        return 0;
    }
    if (s->fd < 0 && spool_open_file(s) < 0) {
        return -1;
    }
    if (pwrite(s->fd, p, n, (off_t)s->size) != (ssize_t)n) {
        fw_log(FW_LOG_ERROR, "request body: temp file: %s", strerror(errno));
        return -1;
    }
    s->size += n;
    return 0;
}

void
fw_spool_done(fw_spool_t *s, fw_request_t *r, const fw_param_t *params,
              size_t nparams)
{
    size_t n = 0;

    if (s->size == 0) {
        return; /* no body: the params stay as sent */
    }
    if (nparams + 1 > s->params_cap) {
        s->params =
            fw_wire_realloc(s->params, (nparams + 1) * sizeof(fw_param_t));
        s->params_cap = nparams + 1;
    }
    snprintf(s->content_length, sizeof(s->content_length), "%llu",
             (unsigned long long)s->size);
    for (size_t i = 0; i < nparams; i++) {
        const fw_param_t *p = &params[i];

        if (p->name_len == 14 && memcmp(p->name, "CONTENT_LENGTH", 14) == 0) {
            continue;
        }
        s->params[n++] = *p;
    }
    s->params[n].name = "CONTENT_LENGTH";
    s->params[n].name_len = 14;
    s->params[n].value = s->content_length;
    s->params[n].value_len = strlen(s->content_length);
    r->params = s->params;
    r->nparams = n + 1;
}

ssize_t
fw_spool_read(fw_spool_t *s, char *buf, size_t len)
{
    uint64_t left = s->size - s->pos;
    ssize_t n;

    if (len > left) {
        len = (size_t)left;
    }
    if (len == 0) {
        return 0;
    }
    if (s->fd < 0) {
        memcpy(buf, s->mem + s->pos, len);
        s->pos += len;
        return (ssize_t)len;
    }
    n = pread(s->fd, buf, len, (off_t)s->pos);
    if (n < 0) {
        fw_log(FW_LOG_ERROR, "request body: temp file: %s", strerror(errno));
        return -1;
    }
    s->pos += (uint64_t)n;
    return n;
}

static void
spool_free_memory(fw_spool_t *s)
{
    free(s->mem);
    s->mem = NULL;
    s->mem_cap = 0;
}

void
fw_spool_reset(fw_spool_t *s)
{
    s->mem_len = 0;
    s->size = 0;
    s->pos = 0;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->mem_cap > SPOOL_KEEP_MAX) {
        spool_free_memory(s);
    }
}

void
fw_spool_release(fw_spool_t *s)
{
    fw_spool_reset(s);
    spool_free_memory(s);
}
