/*
 * wire_parse.c: the FastCGI record parser (see wire.h).  No I/O, no
 * logging: the connection (wire_conn.c, wire_request.c) feeds it the bytes
 * it reads and sends what it queues (wire_out.c).  Every length a peer
 * sends is checked against what was actually received before it is used.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge/wire/wire_int.h"

/* The management variables we answer in GET_VALUES_RESULT. */
enum { WIRE_VAR_MAX_CONNS = 1, WIRE_VAR_MAX_REQS = 2, WIRE_VAR_MPXS = 4 };

void
fw_wire_init(fw_wire_t *w, const fw_wire_limits_t *lim)
{
    memset(w, 0, sizeof(*w));
    w->lim = *lim;
}

void
fw_wire_free(fw_wire_t *w)
{
    fw_wire_limits_t lim = w->lim;

    free(w->rec);
    free(w->raw);
    free(w->store);
    free(w->params);
    free(w->out);
    fw_wire_init(w, &lim);
}

/* Frees *buf when its capacity passed max (a request made it grow). */
static void
wire_shrink(void **buf, size_t *cap, size_t max)
{
    if (*cap > max) {
        free(*buf);
        *buf = NULL;
        *cap = 0;
    }
}

void
fw_wire_reset(fw_wire_t *w)
{
    fw_wire_t keep = *w;

    wire_shrink((void **)&keep.raw, &keep.raw_cap, 64u << 10);
    wire_shrink((void **)&keep.store, &keep.store_cap, 64u << 10);
    wire_shrink((void **)&keep.params, &keep.params_cap, 1024);
    wire_shrink((void **)&keep.out, &keep.out_cap, 64u << 10);
    free(keep.rec); /* only management records need it */
    fw_wire_init(w, &keep.lim);
    w->raw = keep.raw;
    w->raw_cap = keep.raw_cap;
    w->store = keep.store;
    w->store_cap = keep.store_cap;
    w->params = keep.params;
    w->params_cap = keep.params_cap;
    w->out = keep.out;
    w->out_cap = keep.out_cap;
}

/*
 * Reads one name-value length (1 byte, or 4 with the high bit set) at
 * *pos of p[0..len).  -1 when the stream ends inside it.
 */
static int
wire_pair_len(const unsigned char *p, size_t len, size_t *pos, size_t *out)
{
    if (*pos >= len) {
        return -1;
    }
    if ((p[*pos] & 0x80) == 0) {
        *out = p[*pos];
        *pos += 1;
        return 0;
    }
    if (len - *pos < 4) {
        return -1;
    }
    *out = ((size_t)(p[*pos] & 0x7f) << 24) | ((size_t)p[*pos + 1] << 16) |
           ((size_t)p[*pos + 2] << 8) | p[*pos + 3];
    *pos += 4;
    return 0;
}

/*
 * Walks the name-value pairs of w->raw in one pass: copies each name and
 * value, NUL-terminated, into w->store and fills w->params.  The store
 * never needs more than the raw stream's length (each pair's two NULs fit
 * in the two or more bytes of its length prefixes), so only the params
 * array grows on the way.  Returns the pair count, or -1 when a length
 * runs past the end of the stream.
 */
static long
wire_pairs(fw_wire_t *w)
{
    const unsigned char *p = w->raw;
    size_t len = w->raw_len;
    size_t pos = 0, at = 0;
    size_t n = 0;

    while (pos < len) {
        size_t nl, vl;
        fw_param_t *pr;

        if (wire_pair_len(p, len, &pos, &nl) < 0 ||
            wire_pair_len(p, len, &pos, &vl) < 0 || nl > len - pos ||
            vl > len - pos - nl) {
            return -1;
        }
        if (n == w->params_cap) {
            w->params_cap = w->params_cap ? 2 * w->params_cap : 32;
            w->params =
                fw_wire_realloc(w->params, w->params_cap * sizeof(fw_param_t));
        }
        pr = &w->params[n++];
        memcpy(w->store + at, p + pos, nl);
        w->store[at + nl] = '\0';
        pr->name = w->store + at;
        pr->name_len = nl;
        at += nl + 1;
        memcpy(w->store + at, p + pos + nl, vl);
        w->store[at + vl] = '\0';
        pr->value = w->store + at;
        pr->value_len = vl;
        at += vl + 1;
        pos += nl + vl;
    }
    return (long)n;
}

/* The PARAMS stream is complete: builds w->params.  0, or -1 if it is
 * malformed. */
static int
wire_params_done(fw_wire_t *w)
{
    long n;

    w->nparams = 0;
    if (w->params_too_large) {
        return 0;
    }
    if (w->raw_len > w->store_cap) {
        w->store = fw_wire_realloc(w->store, w->raw_len);
        w->store_cap = w->raw_len;
    }
    n = wire_pairs(w);
    if (n < 0) {
        return -1;
    }
    w->nparams = (size_t)n;
    return 0;
}

/* The value we give for one management variable. */
static int
wire_var_value(const fw_wire_t *w, int var, char *buf, size_t size)
{
    int v = var == WIRE_VAR_MAX_CONNS  ? w->lim.max_conns
            : var == WIRE_VAR_MAX_REQS ? w->lim.max_reqs
                                       : 0;
    size_t i = size;

    /* right to left: a non-negative int */
    if (v < 0) {
        v = 0;
    }
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    memmove(buf, buf + i, size - i);
    return (int)(size - i);
}

/*
 * Answers a complete GET_VALUES record (content in w->rec): each known
 * name asked, once, in the order asked; unknown names skipped.  -1 when
 * the answer cannot be queued (the peer does not read) or the names are
 * malformed.
 */
static int
wire_get_values(fw_wire_t *w)
{
    static const struct {
        const char *name;
        size_t len;
        int var;
    } vars[] = {
        {FCGI_MAX_CONNS, sizeof(FCGI_MAX_CONNS) - 1, WIRE_VAR_MAX_CONNS},
        {FCGI_MAX_REQS, sizeof(FCGI_MAX_REQS) - 1, WIRE_VAR_MAX_REQS},
        {FCGI_MPXS_CONNS, sizeof(FCGI_MPXS_CONNS) - 1, WIRE_VAR_MPXS},
    };
    unsigned char answer[3 * (2 + 16 + 11)];
    size_t alen = 0, pos = 0;
    int seen = 0;

    while (pos < w->rec_have) {
        size_t nl, vl;

        if (wire_pair_len(w->rec, w->rec_have, &pos, &nl) < 0 ||
            wire_pair_len(w->rec, w->rec_have, &pos, &vl) < 0 ||
            nl > w->rec_have - pos || vl > w->rec_have - pos - nl) {
            return -1;
        }
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
            char value[11];
            int len;

            if (nl != vars[i].len || (seen & vars[i].var) != 0 ||
                memcmp(w->rec + pos, vars[i].name, nl) != 0) {
                continue;
            }
            seen |= vars[i].var;
            len = wire_var_value(w, vars[i].var, value, sizeof(value));
            answer[alen++] = (unsigned char)nl;
            answer[alen++] = (unsigned char)len;
            memcpy(answer + alen, vars[i].name, nl);
            alen += nl;
            memcpy(answer + alen, value, (size_t)len);
            alen += (size_t)len;
        }
        pos += nl + vl;
    }
    return fw_wire_out_record(w, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID,
                              answer, alen, FW_WIRE_ANSWERS_MAX);
}

/* A BEGIN_REQUEST record is complete (content in w->rec). */
static fw_wire_event_e
wire_begin(fw_wire_t *w)
{
    unsigned role;

    if (w->rec_have != sizeof(FCGI_BeginRequestBody)) {
        w->error = "BEGIN_REQUEST record of the wrong length";
        return FW_WIRE_ERROR;
    }
    if (w->active_id != 0) {
        if (w->id == w->active_id) {
            w->error = "second BEGIN_REQUEST for the active request";
            return FW_WIRE_ERROR;
        }
        if (fw_wire_out_end_request(w, w->id, 0, FCGI_CANT_MPX_CONN,
                                    FW_WIRE_ANSWERS_MAX) < 0) {
            w->error = "the web server reads none of our answers";
            return FW_WIRE_ERROR;
        }
        return FW_WIRE_MORE;
    }
    role = ((unsigned)w->begin[0] << 8) | w->begin[1];
    if (role != FCGI_RESPONDER && role != FCGI_AUTHORIZER) {
        if (fw_wire_out_end_request(w, w->id, 0, FCGI_UNKNOWN_ROLE,
                                    FW_WIRE_ANSWERS_MAX) < 0) {
            w->error = "the web server reads none of our answers";
            return FW_WIRE_ERROR;
        }
        return FW_WIRE_MORE;
    }
    w->active_id = w->id;
    w->role = (int)role;
    w->keep_conn = (w->begin[2] & FCGI_KEEP_CONN) != 0;
    w->phase = FW_WIRE_PARAMS;
    w->params_too_large = 0;
    w->params_bytes = 0;
    w->raw_len = 0;
    w->nparams = 0;
    return FW_WIRE_MORE;
}

/* A record whose content we collect whole: BEGIN_REQUEST, and every
 * management record (request id 0). */
static int
wire_collects(const fw_wire_t *w)
{
    return w->id == FCGI_NULL_REQUEST_ID || w->type == FCGI_BEGIN_REQUEST;
}

/* The whole content of a collected record is in w->rec: act on it. */
static fw_wire_event_e
wire_collected(fw_wire_t *w)
{
    if (w->id != FCGI_NULL_REQUEST_ID) {
        return wire_begin(w);
    }
    if (w->type == FCGI_GET_VALUES) {
        if (wire_get_values(w) < 0) {
            w->error = "bad FCGI_GET_VALUES record, or answers not read";
            return FW_WIRE_ERROR;
        }
        return FW_WIRE_MORE;
    }
    {
        unsigned char body[8] = {(unsigned char)w->type};

        if (fw_wire_out_record(w, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID,
                               body, sizeof(body), FW_WIRE_ANSWERS_MAX) < 0) {
            w->error = "the web server reads none of our answers";
            return FW_WIRE_ERROR;
        }
    }
    return FW_WIRE_MORE;
}

/*
 * A record header is complete: checks it and acts on what needs no
 * content.  An empty record of the active request is an event of its own.
 */
static fw_wire_event_e
wire_header_done(fw_wire_t *w)
{
    const unsigned char *h = w->hdr;

    if (h[0] != FCGI_VERSION_1) {
        w->error = "not a FastCGI version 1 record";
        return FW_WIRE_ERROR;
    }
    w->type = h[1];
    w->id = ((unsigned)h[2] << 8) | h[3];
    w->content_left = ((size_t)h[4] << 8) | h[5];
    w->padding_left = h[6];
    w->hdr_have = 0;
    w->rec_have = 0;

    if (wire_collects(w)) {
        if (w->id == FCGI_NULL_REQUEST_ID && w->rec == NULL) {
            w->rec = fw_wire_realloc(NULL, FCGI_MAX_LENGTH);
        }
        return w->content_left == 0 ? wire_collected(w) : FW_WIRE_MORE;
    }
    if (w->id != w->active_id) {
        return FW_WIRE_MORE; /* inactive id: ignored (spec 3.3) */
    }
    switch (w->type) {
    case FCGI_ABORT_REQUEST:
        return FW_WIRE_ABORT;
    case FCGI_PARAMS:
        if (w->phase == FW_WIRE_PARAMS && w->content_left == 0) {
            if (wire_params_done(w) < 0) {
                w->error = "malformed FCGI_PARAMS name-value pairs";
                return FW_WIRE_ERROR;
            }
            w->phase = FW_WIRE_BODY;
            return FW_WIRE_REQUEST;
        }
        return FW_WIRE_MORE;
    case FCGI_STDIN:
        if (w->phase == FW_WIRE_PARAMS) {
            w->error = "FCGI_STDIN before the end of FCGI_PARAMS";
            return FW_WIRE_ERROR;
        }
        if (w->phase == FW_WIRE_BODY && w->content_left == 0) {
            w->phase = FW_WIRE_BODY_END;
            return FW_WIRE_STDIN_END;
        }
        return FW_WIRE_MORE;
    default:
        return FW_WIRE_MORE;
    }
}

/* Stores PARAMS content of the active request, within the limit. */
static void
wire_params_take(fw_wire_t *w, const unsigned char *p, size_t n)
{
    w->params_bytes += n;
    if (w->params_too_large) {
        return;
    }
    if (w->params_bytes > w->lim.params_max) {
        w->params_too_large = 1;
        w->raw_len = 0;
        return;
    }
    fw_wire_reserve(&w->raw, &w->raw_cap, w->raw_len, n);
    memcpy(w->raw + w->raw_len, p, n);
    w->raw_len += n;
}

/*
 * Takes header bytes from p[0..len) (between records).  Returns the count
 * used; once the header is complete, *ev is what it says, or the parser
 * holds it (a pipelined BEGIN_REQUEST waits for the active request).
 */
static size_t
wire_take_header(fw_wire_t *w, const unsigned char *p, size_t len,
                 fw_wire_event_e *ev)
{
    size_t n = FCGI_HEADER_LEN - w->hdr_have;

    if (n > len) {
        n = len;
    }
    memcpy(w->hdr + w->hdr_have, p, n);
    w->hdr_have += n;
    if (w->hdr_have < FCGI_HEADER_LEN) {
        return n;
    }
    if (w->active_id != 0 && w->phase == FW_WIRE_BODY_END &&
        w->hdr[1] == FCGI_BEGIN_REQUEST &&
        (w->hdr[2] != 0 || w->hdr[3] != 0)) {
        w->held = 1; /* the next request, pipelined: it waits for this one */
        return n;
    }
    *ev = wire_header_done(w);
    return n;
}

/*
 * Takes n content bytes of the current record from p (n is at most what
 * the record still holds): collected, kept as PARAMS, given out as STDIN
 * (*data, *data_len), or ignored.  Returns the event they make.
 */
static fw_wire_event_e
wire_take_content(fw_wire_t *w, const unsigned char *p, size_t n,
                  const unsigned char **data, size_t *data_len)
{
    int active = w->id == w->active_id;

    w->content_left -= n;
    if (wire_collects(w)) {
        if (w->id == FCGI_NULL_REQUEST_ID) {
            memcpy(w->rec + w->rec_have, p, n);
        } else if (w->rec_have < sizeof(w->begin)) {
            size_t room = sizeof(w->begin) - w->rec_have;

            memcpy(w->begin + w->rec_have, p, n < room ? n : room);
        }
        w->rec_have += n;
        return w->content_left == 0 ? wire_collected(w) : FW_WIRE_MORE;
    }
    if (active && w->type == FCGI_PARAMS && w->phase == FW_WIRE_PARAMS) {
        wire_params_take(w, p, n);
        return FW_WIRE_MORE;
    }
    if (active && w->type == FCGI_STDIN && w->phase == FW_WIRE_BODY) {
        *data = p;
        *data_len = n;
        return FW_WIRE_STDIN;
    }
    w->ignored += n;
    return FW_WIRE_MORE;
}

fw_wire_event_e
fw_wire_parse(fw_wire_t *w, const unsigned char *buf, size_t len, size_t *used,
              const unsigned char **data, size_t *data_len)
{
    size_t pos = 0;
    fw_wire_event_e ev = FW_WIRE_MORE;

    *data = NULL;
    *data_len = 0;
    *used = 0;
    if (w->error != NULL) {
        return FW_WIRE_ERROR;
    }
    if (w->held) {
        if (w->active_id != 0) {
            return FW_WIRE_MORE; /* paused behind the active request */
        }
        w->held = 0;
        ev = wire_header_done(w);
    }
    while (pos < len && ev == FW_WIRE_MORE && !w->held) {
        size_t n = len - pos;

        if (w->content_left == 0 && w->padding_left == 0) {
            pos += wire_take_header(w, buf + pos, n, &ev);
        } else if (w->content_left == 0) {
            n = w->padding_left < n ? w->padding_left : n;
            w->padding_left -= n;
            pos += n;
        } else {
            n = w->content_left < n ? w->content_left : n;
            ev = wire_take_content(w, buf + pos, n, data, data_len);
            pos += n;
        }
    }
    *used = pos;
    return ev;
}

int
fw_wire_paused(const fw_wire_t *w)
{
    return w->held && w->active_id != 0;
}

size_t
fw_wire_stdin_left(const fw_wire_t *w)
{
    if (w->hdr_have == 0 && w->content_left > 0 && w->type == FCGI_STDIN &&
        w->id == w->active_id && w->active_id != 0 &&
        w->phase == FW_WIRE_BODY) {
        return w->content_left;
    }
    return 0;
}

void
fw_wire_stdin_took(fw_wire_t *w, size_t n)
{
    w->content_left -= n;
}

size_t
fw_wire_stdin_tail(const fw_wire_t *w)
{
    return w->padding_left + FCGI_HEADER_LEN;
}

void
fw_wire_request_end(fw_wire_t *w)
{
    w->active_id = 0;
    w->phase = FW_WIRE_IDLE;
    w->ignored = 0;
}
