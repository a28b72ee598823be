/*
 * wire_out.c: the records we write, and the buffers of the parser.  Every
 * FastCGI record header we send is packed by fw_wire_header; the answer
 * buffer (w->out) collects records until the connection sends them.  No
 * I/O, no logging.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge/wire/wire_int.h"

void *
fw_wire_realloc(void *p, size_t size)
{
    void *n = realloc(p, size);

    if (n == NULL) {
        abort();
    }
    return n;
}

void
fw_wire_reserve(unsigned char **buf, size_t *cap, size_t len, size_t more)
{
    size_t want = len + more;
    size_t n = *cap != 0 ? *cap : 256;

    if (want <= *cap) {
        return;
    }
    while (n < want) {
        n *= 2;
    }
    *buf = fw_wire_realloc(*buf, n);
    *cap = n;
}

void
fw_wire_header(unsigned char *h, unsigned type, unsigned id,
               size_t content_len, size_t padding_len)
{
    h[0] = FCGI_VERSION_1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)((id >> 8) & 0xff);
    h[3] = (unsigned char)(id & 0xff);
    h[4] = (unsigned char)((content_len >> 8) & 0xff);
    h[5] = (unsigned char)(content_len & 0xff);
    h[6] = (unsigned char)padding_len;
    h[7] = 0;
}

int
fw_wire_out_put(fw_wire_t *w, const void *buf, size_t len, size_t limit)
{
    if (w->out_len + len > limit) {
        return -1;
    }
    fw_wire_reserve(&w->out, &w->out_cap, w->out_len, len);
    memcpy(w->out + w->out_len, buf, len);
    w->out_len += len;
    return 0;
}

int
fw_wire_out_record(fw_wire_t *w, unsigned type, unsigned id,
                   const void *content, size_t len, size_t limit)
{
    unsigned char h[FCGI_HEADER_LEN];

    if (len > FCGI_MAX_LENGTH || w->out_len + FCGI_HEADER_LEN + len > limit) {
        return -1;
    }
    fw_wire_header(h, type, id, len, 0);
    (void)fw_wire_out_put(w, h, sizeof(h), limit);
    if (len > 0) {
        (void)fw_wire_out_put(w, content, len, limit);
    }
    return 0;
}

int
fw_wire_out_end_request(fw_wire_t *w, unsigned id, uint32_t app_status,
                        unsigned protocol_status, size_t limit)
{
    unsigned char body[8] = {0};

    body[0] = (unsigned char)(app_status >> 24);
    body[1] = (unsigned char)(app_status >> 16);
    body[2] = (unsigned char)(app_status >> 8);
    body[3] = (unsigned char)app_status;
    body[4] = (unsigned char)protocol_status;
    return fw_wire_out_record(w, FCGI_END_REQUEST, id, body, sizeof(body),
                              limit);
}

void
fw_wire_out_sent(fw_wire_t *w, size_t n)
{
    if (n >= w->out_len) {
        w->out_len = 0;
        return;
    }
    memmove(w->out, w->out + n, w->out_len - n);
    w->out_len -= n;
}
