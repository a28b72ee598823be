/*
 * status_buf.c: the status page's output buffer (observe.h) and the
 * escapes each format needs: JSON strings, OpenMetrics label values,
 * plain-text lines, times.  Knows nothing of the snapshot or the pages;
 * an allocation failure only sets `failed`, checked once at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/observe/observe.h"

/* Room for `more` bytes and the NUL after them.  0, or -1 with failed
 * set (then and from now on). */
static int
buf_reserve(fw_status_buf_t *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->failed) {
        return -1;
    }
    if (b->len + more + 1 <= b->cap) {
        return 0;
    }
    cap = b->cap != 0 ? b->cap : 4096;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void
fw_status_buf_add(fw_status_buf_t *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0) {
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
fw_status_buf_str(fw_status_buf_t *b, const char *s)
{
    fw_status_buf_add(b, s, strlen(s));
}

void
fw_status_buf_printf(fw_status_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
fw_status_buf_free(fw_status_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the
 * bytes there are not one (a torn or cut string, or not UTF-8).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;

    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/*
 * s as a JSON string: quoted, escaped; bytes that are not UTF-8 become
 * U+FFFD, so the document always parses.
 */
void
fw_status_buf_json_str(fw_status_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    fw_status_buf_add(b, "\"", 1);
    while (n > 0) {
        size_t len = utf8_len(p, n);

        if (len == 0) {
            fw_status_buf_str(b, "\\ufffd");
            len = 1;
        } else if (*p == '"' || *p == '\\') {
            fw_status_buf_printf(b, "\\%c", *p);
        } else if (*p < 0x20 || *p == 0x7f) {
            fw_status_buf_printf(b, "\\u%04x", *p);
        } else {
            fw_status_buf_add(b, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
    fw_status_buf_add(b, "\"", 1);
}

/* s as an OpenMetrics label value: quoted, with \\, \" and \n escaped. */
void
fw_status_buf_label(fw_status_buf_t *b, const char *s)
{
    fw_status_buf_add(b, "\"", 1);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            fw_status_buf_printf(b, "\\%c", *s);
        } else if (*s == '\n') {
            fw_status_buf_str(b, "\\n");
        } else {
            fw_status_buf_add(b, s, 1);
        }
    }
    fw_status_buf_add(b, "\"", 1);
}

/* s for a plain-text line: control characters and bytes that are not
 * UTF-8 become '?'. */
void
fw_status_buf_plain(fw_status_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    while (n > 0) {
        size_t len = utf8_len(p, n);

        if (len == 0 || *p < 0x20 || *p == 0x7f) {
            fw_status_buf_add(b, "?", 1);
            len = 1;
        } else {
            fw_status_buf_add(b, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
}

/* "24/Nov/2025:09:50:00 +0100" (php-fpm's and the access log's form). */
void
fw_status_buf_time(fw_status_buf_t *b, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[64];

    localtime_r(&tt, &tm);
    strftime(text, sizeof(text), "%d/%b/%Y:%H:%M:%S %z", &tm);
    fw_status_buf_str(b, text);
}
