/*
 * canon.h: what both sides of the differential test share: reading a
 * stream file, and printing bytes in the canonical escaped form that
 * run_diff.py compares (ours.c and oracle_libfcgi.c).
 */
#ifndef FW_DIFF_CANON_H
#define FW_DIFF_CANON_H

#include <stdio.h>
#include <stdlib.h>

/* Bytes as text: printable ASCII but '\\' as is, the rest as \xNN. */
static inline void
put_escaped(const void *bytes, size_t n)
{
    const unsigned char *p = bytes;

    for (size_t i = 0; i < n; i++) {
        if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\') {
            putchar(p[i]);
        } else {
            printf("\\x%02x", p[i]);
        }
    }
}

/* The whole file at path (malloc'ed, *len bytes), or NULL after perror. */
static inline unsigned char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL) {
        perror(path);
        return NULL;
    }
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            if (buf == NULL) {
                perror("realloc");
                exit(2);
            }
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

#endif /* FW_DIFF_CANON_H */
