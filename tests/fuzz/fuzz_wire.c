/*
 * fuzz_wire.c: libFuzzer target for the FastCGI record parser
 * (bridge/wire/wire_parse.c), the code that reads whatever anyone who can
 * reach the socket sends.  `make fuzz` runs it under ASan+UBSan; it must
 * never read past what it was given, loop, leak or disagree with itself.
 *
 * An input is 4 bytes of set-up, then the stream:
 *   byte 0     how the connection layer behaves (the MODE_* bits) and the
 *              params limit;
 *   bytes 1-3  the seed of the sizes the stream is cut into; the low bit
 *              of byte 1 set: the second parse reuses the first parser
 *              after fw_wire_reset (as a worker does for its next
 *              connection).
 * Each stream is parsed twice, cut into those pieces and whole, and the
 * two outcomes (events, params, body bytes, answers) must be the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "bridge/wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SETUP_LEN 4

enum {
    MODE_END_AT_REQUEST = 1, /* end each request as soon as it starts */
    MODE_TOOK = 2,           /* read STDIN content past the parser */
    MODE_DRAIN = 4,          /* send the answers after every call */
    MODE_BIG_NUMBERS = 64,   /* GET_VALUES answers INT_MAX... */
    MODE_NEGATIVE = 128      /* ... or negative limits (answered 0) */
};

static const size_t params_limits[8] = {0,   1,    16,    64,
                                        100, 1024, 65536, 1 << 20};

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            __builtin_trap();                                                 \
        }                                                                     \
    } while (0)

/* What one parse of the stream gave, reduced to hashes. */
typedef struct {
    fw_wire_t w;
    unsigned mode;
    uint64_t events;  /* FNV-1a of the events, params and body bytes */
    uint64_t answers; /* FNV-1a of every answer byte queued */
    int in_body;      /* the last thing hashed was body bytes */
    int error;
    size_t out_at_error;
} drive_t;

static void
hash(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++) {
        *h = (*h ^ c[i]) * 0x100000001b3ULL;
    }
}

/* A new event: its tag (body bytes that follow body bytes are one). */
static void
tag(drive_t *d, unsigned char t)
{
    if (t == 'I' && d->in_body) {
        return;
    }
    d->in_body = t == 'I';
    hash(&d->events, &t, 1);
}

static void
send_answers(drive_t *d)
{
    hash(&d->answers, d->w.out, d->w.out_len);
    fw_wire_out_sent(&d->w, d->w.out_len);
    CHECK(d->w.out_len == 0);
}

/* The invariants that hold between any two calls. */
static void
check_state(const drive_t *d)
{
    const fw_wire_t *w = &d->w;

    CHECK(w->out_len <= FW_WIRE_ANSWERS_MAX);
    CHECK(w->hdr_have < FCGI_HEADER_LEN);
    CHECK(w->content_left <= FCGI_MAX_LENGTH);
    CHECK(w->padding_left <= 255);
    CHECK(fw_wire_stdin_left(w) <= w->content_left);
    CHECK((w->phase == FW_WIRE_IDLE) == (w->active_id == 0));
    CHECK(w->active_id <= 0xffff);
    if (w->phase != FW_WIRE_IDLE) {
        CHECK(w->role == FCGI_RESPONDER || w->role == FCGI_AUTHORIZER);
    }
}

/* The params of a REQUEST event: within bounds, NUL-terminated, and no
 * more bytes than the peer sent. */
static void
check_request(drive_t *d)
{
    const fw_wire_t *w = &d->w;
    size_t total = 0;
    unsigned char head[3] = {(unsigned char)w->role,
                             (unsigned char)w->keep_conn,
                             (unsigned char)w->params_too_large};

    CHECK(w->phase == FW_WIRE_BODY);
    if (w->params_too_large) {
        CHECK(w->nparams == 0);
        CHECK(w->params_bytes > w->lim.params_max);
    } else {
        CHECK(w->params_bytes <= w->lim.params_max);
    }
    hash(&d->events, head, sizeof(head));
    hash(&d->events, &w->active_id, sizeof(w->active_id));
    hash(&d->events, &w->nparams, sizeof(w->nparams));
    for (size_t i = 0; i < w->nparams; i++) {
        const fw_param_t *p = &w->params[i];

        CHECK(p->name[p->name_len] == '\0');
        CHECK(p->value[p->value_len] == '\0');
        /* each pair costs its bytes and at least two length bytes */
        total += p->name_len + p->value_len + 2;
        CHECK(total <= w->params_bytes);
        hash(&d->events, &p->name_len, sizeof(p->name_len));
        hash(&d->events, p->name, p->name_len);
        hash(&d->events, &p->value_len, sizeof(p->value_len));
        hash(&d->events, p->value, p->value_len);
    }
}

static void
request_end(drive_t *d)
{
    hash(&d->events, &d->w.ignored, sizeof(d->w.ignored));
    fw_wire_request_end(&d->w);
    CHECK(d->w.phase == FW_WIRE_IDLE && d->w.ignored == 0);
}

/* Feeds one piece (copied to its own block, so ASan sees any read past
 * it) until it is used up or the parser stops on an error. */
static void
feed(drive_t *d, const uint8_t *piece, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    const unsigned char *p = copy;
    size_t left = len;
    int idle = 0;

    CHECK(copy != NULL);
    memcpy(copy, piece, len);
    while (left > 0 && !d->error) {
        size_t used = (size_t)-1, data_len = (size_t)-1, took;
        const unsigned char *data = NULL;
        fw_wire_event_e ev;

        took = d->mode & MODE_TOOK ? fw_wire_stdin_left(&d->w) : 0;
        if (took > 0) {
            /* a reader taking body bytes straight from the socket */
            took = took < left ? took : left;
            tag(d, 'I');
            hash(&d->events, p, took);
            fw_wire_stdin_took(&d->w, took);
            p += took;
            left -= took;
            continue;
        }
        ev = fw_wire_parse(&d->w, p, left, &used, &data, &data_len);
        CHECK(used <= left);
        /* an event may use no byte; three in a row is a loop */
        idle = used == 0 ? idle + 1 : 0;
        CHECK(idle < 3);
        switch (ev) {
        case FW_WIRE_MORE:
            CHECK(used == left);
            break;
        case FW_WIRE_REQUEST:
            tag(d, 'R');
            check_request(d);
            if (d->mode & MODE_END_AT_REQUEST) {
                request_end(d);
            }
            break;
        case FW_WIRE_STDIN:
            CHECK(d->w.active_id != 0);
            CHECK(data_len > 0 && data >= p && data + data_len <= p + used);
            tag(d, 'I');
            hash(&d->events, data, data_len);
            break;
        case FW_WIRE_STDIN_END:
            CHECK(d->w.phase == FW_WIRE_BODY_END);
            tag(d, 'E');
            request_end(d);
            break;
        case FW_WIRE_ABORT:
            CHECK(d->w.active_id != 0);
            tag(d, 'A');
            request_end(d);
            break;
        case FW_WIRE_ERROR: {
            size_t again;
            const unsigned char *no;
            size_t no_len;

            CHECK(d->w.error != NULL);
            tag(d, 'X');
            d->error = 1;
            d->out_at_error = d->w.out_len;
            /* stuck: it stays an error, using nothing */
            CHECK(fw_wire_parse(&d->w, p, left, &again, &no, &no_len) ==
                      FW_WIRE_ERROR &&
                  again == 0);
            break;
        }
        default:
            CHECK(0);
        }
        if (ev != FW_WIRE_STDIN) {
            CHECK(data == NULL && data_len == 0);
        }
        if (!d->error) {
            check_state(d);
        }
        p += used;
        left -= used;
        if (d->mode & MODE_DRAIN) {
            send_answers(d);
        }
    }
    free(copy);
}

static void
drive_init(drive_t *d, unsigned mode)
{
    fw_wire_limits_t lim;

    memset(d, 0, sizeof(*d));
    lim.params_max = params_limits[(mode >> 3) & 7];
    lim.max_conns = mode & MODE_BIG_NUMBERS ? 2147483647 : 16;
    lim.max_reqs = mode & MODE_BIG_NUMBERS ? 1000000000 : 1;
    if (mode & MODE_NEGATIVE) {
        lim.max_conns = -lim.max_conns;
        lim.max_reqs = -1;
    }
    d->mode = mode;
    d->events = d->answers = 0xcbf29ce484222325ULL;
    fw_wire_init(&d->w, &lim);
}

/* Takes over the parser of `from` (its next connection): reset, it must
 * behave as a new one. */
static void
drive_reuse(drive_t *d, drive_t *from)
{
    fw_wire_free(&d->w);
    d->w = from->w;
    fw_wire_init(&from->w, &d->w.lim);
    fw_wire_reset(&d->w);
    CHECK(d->w.phase == FW_WIRE_IDLE && d->w.active_id == 0);
    CHECK(d->w.hdr_have == 0 && d->w.content_left == 0);
    CHECK(d->w.padding_left == 0 && d->w.out_len == 0);
    CHECK(d->w.error == NULL && d->w.ignored == 0);
}

/* The next piece size: mostly small, sometimes large. */
static size_t
next_size(uint32_t *seed)
{
    uint32_t x = *seed;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *seed = x;
    switch (x & 3) {
    case 0:
        return 1 + (x >> 2) % 8;
    case 1:
        return 1 + (x >> 2) % 64;
    case 2:
        return 1 + (x >> 2) % 4096;
    default:
        return 1 + (x >> 2) % 70000;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drive_t cut, whole;
    uint32_t seed;
    unsigned mode;
    const uint8_t *stream;
    size_t len, at = 0;
    int bound_hit;

    if (size < SETUP_LEN) {
        return 0;
    }
    mode = data[0];
    seed = ((uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3]) + 1;
    stream = data + SETUP_LEN;
    len = size - SETUP_LEN;

    drive_init(&cut, mode);
    while (at < len && !cut.error) {
        size_t n = next_size(&seed);

        n = n < len - at ? n : len - at;
        feed(&cut, stream + at, n);
        at += n;
    }
    send_answers(&cut);
    drive_init(&whole, mode);
    if (data[1] & 1) {
        drive_reuse(&whole, &cut);
    }
    feed(&whole, stream, len);
    send_answers(&whole);

    /*
     * Cut or whole, the same outcome.  Except where the answers bound was
     * reached: how many answers wait when it is checked depends on how
     * often they are sent, so on the cuts.
     */
    bound_hit =
        (cut.error && cut.out_at_error + 128 > FW_WIRE_ANSWERS_MAX) ||
        (whole.error && whole.out_at_error + 128 > FW_WIRE_ANSWERS_MAX);
    if (!bound_hit) {
        CHECK(cut.error == whole.error);
        CHECK(cut.events == whole.events);
    }
    if (!bound_hit && !cut.error) {
        CHECK(cut.answers == whole.answers);
    }
    fw_wire_free(&cut.w);
    fw_wire_free(&whole.w);
    return 0;
}
