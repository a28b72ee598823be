/*
 * test_wire.c: the FastCGI record parser (bridge/wire/wire_parse.c) on
 * exact bytes: every record type, padding 0-255 on each, every split of a
 * stream, management records in the middle of a request, the answers it
 * queues (byte for byte), refusals, pipelining, abort, limits, malformed
 * name-value pairs.  No socket: bytes in, events and answer bytes out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "bridge/observe/observe.h"
#include "bridge/wire/wire.h"

/* Answers to FCGI_GET_VALUES come from these (the digits are checked). */
#define MAX_CONNS 12
#define MAX_REQS 34

/* ------------------------------------------------------------ byte buffers */

typedef struct {
    unsigned char *b;
    size_t n, cap;
} buf_t;

static void
b_put(buf_t *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;

        while (cap < o->n + n) {
            cap *= 2;
        }
        o->b = realloc(o->b, cap);
        assert_non_null(o->b);
        o->cap = cap;
    }
    if (n > 0) {
        memcpy(o->b + o->n, p, n);
    }
    o->n += n;
}

static void
b_byte(buf_t *o, unsigned v)
{
    unsigned char c = (unsigned char)v;

    b_put(o, &c, 1);
}

static void
b_free(buf_t *o)
{
    free(o->b);
    memset(o, 0, sizeof(*o));
}

/* One record, any version; padding bytes are 0xA5 so that reading them as
 * content shows. */
static void
b_rec_v(buf_t *o, unsigned version, unsigned type, unsigned id,
        const void *content, size_t len, unsigned pad)
{
    unsigned char h[8] = {(unsigned char)version,    (unsigned char)type,
                          (unsigned char)(id >> 8),  (unsigned char)id,
                          (unsigned char)(len >> 8), (unsigned char)len,
                          (unsigned char)pad,        0};

    assert_true(len <= 0xffff && pad <= 0xff);
    b_put(o, h, 8);
    b_put(o, content, len);
    for (unsigned i = 0; i < pad; i++) {
        b_byte(o, 0xa5);
    }
}

static void
b_rec(buf_t *o, unsigned type, unsigned id, const void *content, size_t len,
      unsigned pad)
{
    b_rec_v(o, 1, type, id, content, len, pad);
}

static void
b_begin(buf_t *o, unsigned id, unsigned role, unsigned flags, unsigned pad)
{
    unsigned char body[8] = {0};

    body[0] = (unsigned char)(role >> 8);
    body[1] = (unsigned char)role;
    body[2] = (unsigned char)flags;

    b_rec(o, FCGI_BEGIN_REQUEST, id, body, 8, pad);
}

/* A name-value pair length: 1 byte below 128, else 4 with the high bit. */
static void
b_len(buf_t *o, size_t len)
{
    if (len < 128) {
        b_byte(o, (unsigned)len);
        return;
    }
    b_byte(o, (unsigned)((len >> 24) | 0x80));
    b_byte(o, (unsigned)(len >> 16));
    b_byte(o, (unsigned)(len >> 8));
    b_byte(o, (unsigned)len);
}

static void
b_pairn(buf_t *o, const void *name, size_t nl, const void *value, size_t vl)
{
    b_len(o, nl);
    b_len(o, vl);
    b_put(o, name, nl);
    b_put(o, value, vl);
}

static void
b_pair(buf_t *o, const char *name, const char *value)
{
    b_pairn(o, name, strlen(name), value, strlen(value));
}

/* A stream (PARAMS, STDIN): content cut into records of at most rec_max
 * bytes, each padded with pad, then the empty record that ends it. */
static void
b_stream(buf_t *o, unsigned type, unsigned id, const void *content, size_t len,
         size_t rec_max, unsigned pad)
{
    const unsigned char *p = content;

    while (len > 0) {
        size_t n = len < rec_max ? len : rec_max;

        b_rec(o, type, id, p, n, pad);
        p += n;
        len -= n;
    }
    b_rec(o, type, id, "", 0, pad);
}

/* ------------------------------------------------------------ event log */

/* The event log and the hex dumps grow in the status page's buffer
 * (bridge/observe/status_buf.c, linked into every unit test). */
typedef fw_status_buf_t str_t;
#define str_add fw_status_buf_printf

/* Bytes as text: printable ASCII as is, others (and '\\', ' ') as \xNN. */
static void
str_esc(str_t *s, const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++) {
        if (c[i] > 0x20 && c[i] < 0x7f && c[i] != '\\') {
            str_add(s, "%c", c[i]);
        } else {
            str_add(s, "\\x%02x", c[i]);
        }
    }
}

static void
str_hex(str_t *s, const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++) {
        str_add(s, "%02x", c[i]);
    }
}

/* ------------------------------------------------------------ driver */

/* When the driver (standing for the connection layer) ends a request. */
typedef enum {
    END_AT_STDIN_END = 0, /* after the body, like a responder */
    END_AT_REQUEST        /* as soon as the params are in (body unread) */
} end_at_e;

/*
 * One parser and what came out of it: the event log (one line per event,
 * consecutive STDIN events merged into one "IN" line), every answer byte
 * the parser queued, whether it stopped with FW_WIRE_ERROR.
 */
typedef struct {
    fw_wire_t w;
    end_at_e end_at;
    int drain; /* take the answers out after every call (out_sent) */
    str_t log;
    buf_t out; /* the answers, in order, drained or not */
    int in_body;
    int error;
    uint64_t ignored_at_end; /* w.ignored when the last request ended */
} run_t;

static const fw_wire_limits_t default_lim = {65536, MAX_CONNS, MAX_REQS};

static void
run_init(run_t *r, const fw_wire_limits_t *lim)
{
    memset(r, 0, sizeof(*r));
    fw_wire_init(&r->w, lim ? lim : &default_lim);
}

static void
run_free(run_t *r)
{
    fw_wire_free(&r->w);
    free(r->log.data);
    b_free(&r->out);
}

static void
close_body(run_t *r)
{
    if (r->in_body) {
        str_add(&r->log, "\n");
        r->in_body = 0;
    }
}

static void
take_answers(run_t *r)
{
    b_put(&r->out, r->w.out, r->w.out_len);
    fw_wire_out_sent(&r->w, r->w.out_len);
    assert_int_equal(r->w.out_len, 0);
}

static void
request_end(run_t *r)
{
    r->ignored_at_end = r->w.ignored;
    fw_wire_request_end(&r->w);
    assert_int_equal(r->w.phase, FW_WIRE_IDLE);
}

static void
log_request(run_t *r)
{
    fw_wire_t *w = &r->w;

    str_add(&r->log, "REQ(id=%u role=%d keep=%d%s n=%zu)", w->active_id,
            w->role, w->keep_conn, w->params_too_large ? " too_large" : "",
            w->nparams);
    if (w->params_too_large) {
        assert_int_equal(w->nparams, 0);
    }
    for (size_t i = 0; i < w->nparams; i++) {
        const fw_param_t *p = &w->params[i];

        /* each followed by a NUL that is not counted */
        assert_int_equal(p->name[p->name_len], '\0');
        assert_int_equal(p->value[p->value_len], '\0');
        str_add(&r->log, " ");
        str_esc(&r->log, p->name, p->name_len);
        str_add(&r->log, "=");
        str_esc(&r->log, p->value, p->value_len);
    }
    str_add(&r->log, "\n");
}

/*
 * Feeds one chunk (its own allocation, so that ASan sees any read past its
 * end) until every byte is used or the parser stops on an error.
 */
static void
feed_chunk(run_t *r, const unsigned char *src, size_t len)
{
    unsigned char *chunk = malloc(len ? len : 1);
    const unsigned char *p = chunk;
    size_t left = len;
    int stuck = 0;

    assert_non_null(chunk);
    memcpy(chunk, src, len);
    while (!r->error && left > 0) {
        size_t used = (size_t)-1, data_len = (size_t)-1;
        const unsigned char *data = NULL;
        fw_wire_event_e ev;

        ev = fw_wire_parse(&r->w, p, left, &used, &data, &data_len);
        assert_true(used <= left);
        if (ev == FW_WIRE_MORE) {
            assert_int_equal(used, left);
        }
        /* an event may use no byte, but not forever */
        stuck = used == 0 ? stuck + 1 : 0;
        assert_true(stuck < 4);
        if (ev != FW_WIRE_STDIN && ev != FW_WIRE_MORE) {
            close_body(r);
        }
        switch (ev) {
        case FW_WIRE_MORE:
            break;
        case FW_WIRE_REQUEST:
            assert_int_equal(r->w.phase, FW_WIRE_BODY);
            log_request(r);
            if (r->end_at == END_AT_REQUEST) {
                request_end(r);
            }
            break;
        case FW_WIRE_STDIN:
            /* the body bytes point into what was given, and were used */
            assert_true(data_len > 0);
            assert_true(data >= p && data + data_len <= p + used);
            if (!r->in_body) {
                str_add(&r->log, "IN ");
                r->in_body = 1;
            }
            str_esc(&r->log, data, data_len);
            break;
        case FW_WIRE_STDIN_END:
            str_add(&r->log, "END\n");
            request_end(r);
            break;
        case FW_WIRE_ABORT:
            str_add(&r->log, "ABORT\n");
            request_end(r);
            break;
        case FW_WIRE_ERROR:
            assert_non_null(r->w.error);
            str_add(&r->log, "ERROR\n");
            r->error = 1;
            break;
        default:
            fail_msg("unknown event %d", (int)ev);
        }
        p += used;
        left -= used;
        if (r->drain) {
            take_answers(r);
        }
    }
    free(chunk);
}

/* Feeds buf cut at the given positions (ascending, inside (0, len)). */
static void
feed_cuts(run_t *r, const unsigned char *buf, size_t len, const size_t *cuts,
          size_t ncuts)
{
    size_t at = 0;

    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        feed_chunk(r, buf + at, end - at);
        at = end;
    }
    close_body(r);
}

static void
feed_all(run_t *r, const buf_t *in)
{
    feed_cuts(r, in->b, in->n, NULL, 0);
}

/* The whole outcome as one string: the log, then the answers in hex. */
static char *
outcome(run_t *r)
{
    str_t s = {0};

    take_answers(r);
    str_add(&s, "%s", r->log.data ? r->log.data : "");
    str_add(&s, "OUT ");
    str_hex(&s, r->out.b, r->out.n);
    str_add(&s, "\n");
    return s.data;
}

/* Parses in cut at cuts[0..ncuts) (ascending, inside (0, in->n)) and
 * returns the outcome (caller frees).  lim NULL: the default limits. */
static char *
parse_cuts(const buf_t *in, const size_t *cuts, size_t ncuts,
           const fw_wire_limits_t *lim)
{
    run_t r;
    char *s;

    run_init(&r, lim);
    feed_cuts(&r, in->b, in->n, cuts, ncuts);
    s = outcome(&r);
    run_free(&r);
    return s;
}

static char *
parse_whole(const buf_t *in, const fw_wire_limits_t *lim)
{
    return parse_cuts(in, NULL, 0, lim);
}

/* Fed one byte at a time. */
static char *
parse_bytewise(const buf_t *in)
{
    size_t *cuts = malloc((in->n > 0 ? in->n : 1) * sizeof(*cuts));
    char *s;

    assert_non_null(cuts);
    for (size_t i = 1; i < in->n; i++) {
        cuts[i - 1] = i;
    }
    s = parse_cuts(in, cuts, in->n > 0 ? in->n - 1 : 0, NULL);
    free(cuts);
    return s;
}

static void assert_outcome(char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks an outcome (freed here) against want, naming the case when they
 * differ. */
static void
assert_outcome(char *got, const char *want, const char *fmt, ...)
{
    if (strcmp(got, want) != 0) {
        va_list ap;

        va_start(ap, fmt);
        vprint_error(fmt, ap);
        va_end(ap);
    }
    assert_string_equal(got, want);
    free(got);
}

/* The log alone (answers checked apart, with assert_out). */
static char *
log_of(const buf_t *in)
{
    run_t r;
    char *s;

    run_init(&r, NULL);
    feed_all(&r, in);
    s = r.log.data ? r.log.data : strdup("");
    r.log.data = NULL;
    run_free(&r);
    return s;
}

/* Parses in and checks its log alone. */
static void
expect_log(const buf_t *in, const char *want)
{
    char *log = log_of(in);

    assert_string_equal(log, want);
    free(log);
}

/* Compares bytes, printing both in hex when they differ. */
static void
assert_bytes(const void *got, size_t got_len, const void *want,
             size_t want_len)
{
    if (got_len != want_len ||
        (want_len > 0 && memcmp(got, want, want_len) != 0)) {
        str_t g = {0}, x = {0};

        str_hex(&g, got, got_len);
        str_hex(&x, want, want_len);
        print_error("got  %zu bytes: %s\nwant %zu bytes: %s\n", got_len,
                    g.data ? g.data : "", want_len, x.data ? x.data : "");
        free(g.data);
        free(x.data);
        fail();
    }
}

/* Parses in and checks its log and the answers it queued. */
static void
expect(const buf_t *in, const char *want_log, const void *want_out,
       size_t want_out_len)
{
    run_t r;

    run_init(&r, NULL);
    feed_all(&r, in);
    take_answers(&r);
    assert_string_equal(r.log.data ? r.log.data : "", want_log);
    assert_bytes(r.out.b, r.out.n, want_out, want_out_len);
    run_free(&r);
}

#define LIT(s) s, sizeof(s) - 1

/* ------------------------------------------------------------ one call */

/*
 * Bytes given to the parser one fw_wire_parse call at a time, for the
 * tests that look at the parser between two events.
 */
typedef struct {
    const unsigned char *b;
    size_t n, at;              /* b[at..n) is not given yet */
    size_t used;               /* bytes the last call used */
    const unsigned char *data; /* its body bytes (FW_WIRE_STDIN) */
    size_t data_len;
} step_t;

#define STEP_OVER(buf) ((step_t){.b = (buf)->b, .n = (buf)->n})
#define STEP_BYTES(lit)                                                       \
    ((step_t){.b = (const unsigned char *)(lit), .n = sizeof(lit) - 1})

/* One fw_wire_parse call on the bytes not given yet: its event. */
static fw_wire_event_e
step(fw_wire_t *w, step_t *s)
{
    fw_wire_event_e ev = fw_wire_parse(w, s->b + s->at, s->n - s->at, &s->used,
                                       &s->data, &s->data_len);

    assert_true(s->used <= s->n - s->at);
    s->at += s->used;
    return ev;
}

/* A parser with request 1 (a responder without params) under way: its
 * PARAMS are complete, its body comes next. */
static void
run_bare_request(run_t *r)
{
    buf_t in = {0};
    step_t s;

    run_init(r, NULL);
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
    s = STEP_OVER(&in);
    assert_int_equal(step(&r->w, &s), FW_WIRE_REQUEST);
    assert_int_equal(s.at, s.n);
    assert_int_equal(r->w.phase, FW_WIRE_BODY);
    b_free(&in);
}

/* ------------------------------------------------------------ answers */

/* The exact bytes of the parser's answers (no padding). */
#define GV_HEADER(len) "\x01\x0a\x00\x00\x00" len "\x00\x00"
#define PAIR_MPXS                                                             \
    "\x0f\x01"                                                                \
    "FCGI_MPXS_CONNS0"
#define PAIR_MAX_CONNS                                                        \
    "\x0e\x02"                                                                \
    "FCGI_MAX_CONNS12"
#define PAIR_MAX_REQS                                                         \
    "\x0d\x02"                                                                \
    "FCGI_MAX_REQS34"
#define UNKNOWN_TYPE(t) "\x01\x0b\x00\x00\x00\x08\x00\x00" t "\0\0\0\0\0\0\0"
#define END_REQUEST(idhi, idlo, status)                                       \
    "\x01\x03" idhi idlo "\x00\x08\x00\x00"                                   \
    "\0\0\0\0" status "\0\0\0"

/* A GET_VALUES record (id 0) naming names[0..n). */
static void
b_get_values(buf_t *o, const char *const *names, size_t n, unsigned pad)
{
    buf_t c = {0};

    for (size_t i = 0; i < n; i++) {
        b_pair(&c, names[i], "");
    }
    b_rec(o, FCGI_GET_VALUES, 0, c.b, c.n, pad);
    b_free(&c);
}

/* An ordinary GET: BEGIN, two params, end of params, empty body. */
static void
b_get(buf_t *o, unsigned id, unsigned flags)
{
    buf_t p = {0};

    b_begin(o, id, FCGI_RESPONDER, flags, 0);
    b_pair(&p, "REQUEST_METHOD", "GET");
    b_pair(&p, "SCRIPT_NAME", "/x");
    b_stream(o, FCGI_PARAMS, id, p.b, p.n, 65535, 0);
    b_rec(o, FCGI_STDIN, id, "", 0, 0);
    b_free(&p);
}

#define GET_LOG(id, keep)                                                     \
    "REQ(id=" #id " role=1 keep=" #keep " n=2) REQUEST_METHOD=GET "           \
    "SCRIPT_NAME=/x\nEND\n"

/* ------------------------------------------------------------ the scenario */

#define T_UNKNOWN 12 /* pad[] index for a type the protocol does not have */
#define NTYPES 13

/*
 * One connection exercising every record type, each type padded with
 * pad[type]: management records before and inside a request, a refused
 * second id, ignored types, three requests (kept, pipelined, aborted).
 */
static void
b_scenario(buf_t *o, const unsigned pad[NTYPES])
{
    static const char *const asked[] = {"FCGI_MAX_CONNS", "FOO",
                                        "FCGI_MPXS_CONNS"};
    const char *many[200];
    unsigned char end_body[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    char longv[201];
    buf_t p = {0};

    for (size_t i = 0; i < 200; i++) {
        many[i] = "FCGI_MPXS_CONNS";
    }
    memset(longv, 'v', 200);
    longv[200] = '\0';

    b_get_values(o, asked, 3, pad[FCGI_GET_VALUES]);
    b_begin(o, 1, FCGI_RESPONDER, FCGI_KEEP_CONN, pad[FCGI_BEGIN_REQUEST]);
    b_pair(&p, "REQUEST_METHOD", "POST");
    b_pair(&p, "A", "1");
    b_rec(o, FCGI_PARAMS, 1, p.b, p.n, pad[FCGI_PARAMS]);
    b_rec(o, 42, 0, "abc", 3, pad[T_UNKNOWN]);
    b_begin(o, 2, FCGI_RESPONDER, 0, pad[FCGI_BEGIN_REQUEST]);
    p.n = 0;
    b_pair(&p, "X", "y");
    b_rec(o, FCGI_PARAMS, 2, p.b, p.n, pad[FCGI_PARAMS]);
    p.n = 0;
    b_pair(&p, "LONG", longv);
    b_pairn(&p, "K=V", 3, "a\0b", 3);
    b_rec(o, FCGI_PARAMS, 1, p.b, p.n, pad[FCGI_PARAMS]);
    b_rec(o, FCGI_DATA, 1, "data!", 5, pad[FCGI_DATA]);
    b_rec(o, FCGI_STDOUT, 1, "out", 3, pad[FCGI_STDOUT]);
    b_rec(o, FCGI_STDERR, 1, "err", 3, pad[FCGI_STDERR]);
    b_rec(o, FCGI_END_REQUEST, 1, end_body, 8, pad[FCGI_END_REQUEST]);
    b_rec(o, FCGI_PARAMS, 1, "", 0, pad[FCGI_PARAMS]);
    b_rec(o, FCGI_STDIN, 1, "hello ", 6, pad[FCGI_STDIN]);
    b_get_values(o, many, 200, pad[FCGI_GET_VALUES]);
    b_rec(o, FCGI_ABORT_REQUEST, 9, "", 0, pad[FCGI_ABORT_REQUEST]);
    b_rec(o, FCGI_GET_VALUES_RESULT, 7,
          "\x01\x01"
          "a1",
          4, pad[FCGI_GET_VALUES_RESULT]);
    b_rec(o, FCGI_UNKNOWN_TYPE, 7, end_body, 8, pad[FCGI_UNKNOWN_TYPE]);
    b_rec(o, FCGI_STDIN, 1, "world", 5, pad[FCGI_STDIN]);
    b_rec(o, FCGI_STDIN, 1, "", 0, pad[FCGI_STDIN]);

    b_begin(o, 3, FCGI_RESPONDER, 0, pad[FCGI_BEGIN_REQUEST]);
    p.n = 0;
    b_pair(&p, "Q", "2");
    b_rec(o, FCGI_PARAMS, 3, p.b, p.n, pad[FCGI_PARAMS]);
    b_rec(o, FCGI_PARAMS, 3, "", 0, pad[FCGI_PARAMS]);
    b_rec(o, FCGI_STDIN, 3, "", 0, pad[FCGI_STDIN]);

    b_begin(o, 4, FCGI_AUTHORIZER, 0, pad[FCGI_BEGIN_REQUEST]);
    b_rec(o, FCGI_PARAMS, 4, "", 0, pad[FCGI_PARAMS]);
    b_rec(o, FCGI_STDIN, 4, "x", 1, pad[FCGI_STDIN]);
    b_rec(o, FCGI_ABORT_REQUEST, 4, "", 0, pad[FCGI_ABORT_REQUEST]);
    b_free(&p);
}

/* What the scenario gives (caller frees). */
static char *
scenario_log(void)
{
    str_t s = {0};

    str_add(&s, "REQ(id=1 role=1 keep=1 n=4) REQUEST_METHOD=POST A=1 LONG=");
    for (int i = 0; i < 200; i++) {
        str_add(&s, "v");
    }
    str_add(&s, " K=V=a\\x00b\n"
                "IN hello\\x20world\n"
                "END\n"
                "REQ(id=3 role=1 keep=0 n=1) Q=2\n"
                "END\n"
                "REQ(id=4 role=2 keep=0 n=0)\n"
                "IN x\n"
                "ABORT\n");
    return s.data;
}

static const char scenario_out[] =
    GV_HEADER("\x24") PAIR_MAX_CONNS PAIR_MPXS UNKNOWN_TYPE("\x2a")
        END_REQUEST("\x00", "\x02", "\x01") GV_HEADER("\x12") PAIR_MPXS;

static void
test_scenario_exact(void **state)
{
    unsigned pad[NTYPES] = {0};
    buf_t in = {0};
    char *want = scenario_log();

    (void)state;
    b_scenario(&in, pad);
    expect(&in, want, LIT(scenario_out));
    free(want);
    b_free(&in);
}

/* Fed one byte at a time, and cut in two at every position: the same. */
static void
test_scenario_every_split(void **state)
{
    unsigned pad[NTYPES] = {0};
    buf_t in = {0};
    char *whole;

    (void)state;
    for (size_t t = 0; t < NTYPES; t++) {
        pad[t] = t % 3 == 0 ? 0 : (unsigned)t; /* mixed: 0, 1, 2, 4, 5... */
    }
    b_scenario(&in, pad);
    whole = parse_whole(&in, NULL);
    assert_outcome(parse_bytewise(&in), whole, "byte by byte\n");
    for (size_t cut = 1; cut < in.n; cut++) {
        assert_outcome(parse_cuts(&in, &cut, 1, NULL), whole,
                       "cut at byte %zu of %zu\n", cut, in.n);
    }
    free(whole);
    b_free(&in);
}

/* Three-way cuts around the record boundaries of a short request. */
static void
test_short_request_every_3way_split(void **state)
{
    buf_t in = {0};
    char *whole;

    (void)state;
    b_get(&in, 1, FCGI_KEEP_CONN);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 7);
    b_get(&in, 2, 0);
    whole = parse_whole(&in, NULL);
    for (size_t a = 1; a < in.n; a++) {
        for (size_t b = a + 1; b < in.n; b++) {
            size_t cuts[2] = {a, b};

            assert_outcome(parse_cuts(&in, cuts, 2, NULL), whole,
                           "cuts at %zu, %zu of %zu\n", a, b, in.n);
        }
    }
    free(whole);
    b_free(&in);
}

/* Padding 0, 1, 7 or 255 on each record type alone, then on all at once:
 * the outcome never changes. */
static void
test_padding_every_type(void **state)
{
    static const unsigned pads[] = {0, 1, 7, 255};
    unsigned pad[NTYPES];
    buf_t in = {0};
    char *want;

    (void)state;
    memset(pad, 0, sizeof(pad));
    b_scenario(&in, pad);
    want = parse_whole(&in, NULL);
    for (size_t t = 1; t < NTYPES; t++) {
        for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
            memset(pad, 0, sizeof(pad));
            pad[t] = pads[i];
            in.n = 0;
            b_scenario(&in, pad);
            assert_outcome(parse_whole(&in, NULL), want,
                           "type %zu padded with %u\n", t, pads[i]);
        }
    }
    for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
        for (size_t t = 0; t < NTYPES; t++) {
            pad[t] = pads[i];
        }
        in.n = 0;
        b_scenario(&in, pad);
        assert_outcome(parse_whole(&in, NULL), want, "all padded with %u\n",
                       pads[i]);
        assert_outcome(parse_bytewise(&in), want,
                       "all padded with %u, byte by byte\n", pads[i]);
    }
    free(want);
    b_free(&in);
}

/* ------------------------------------------------------------ requests */

static void
test_get_exact(void **state)
{
    static const unsigned char in_bytes[] =
        "\x01\x01\x00\x01\x00\x08\x00\x00" /* BEGIN_REQUEST id 1 */
        "\x00\x01\x00\x00\x00\x00\x00\x00" /* responder, no flags */
        "\x01\x04\x00\x01\x00\x13\x05\x00" /* PARAMS 19 + 5 padding */
        "\x0e\x03REQUEST_METHODGET"
        "\0\0\0\0\0"
        "\x01\x04\x00\x01\x00\x00\x00\x00"  /* end of PARAMS */
        "\x01\x05\x00\x01\x00\x00\x00\x00"; /* end of STDIN */
    buf_t in = {0};
    run_t r;
    step_t s;

    (void)state;
    b_put(&in, in_bytes, sizeof(in_bytes) - 1);
    expect(&in, "REQ(id=1 role=1 keep=0 n=1) REQUEST_METHOD=GET\nEND\n", "",
           0);

    /* the params as pyglue gets them */
    run_init(&r, NULL);
    s = STEP_OVER(&in);
    assert_int_equal(step(&r.w, &s), FW_WIRE_REQUEST);
    assert_int_equal(r.w.active_id, 1);
    assert_int_equal(r.w.role, FCGI_RESPONDER);
    assert_int_equal(r.w.nparams, 1);
    assert_int_equal(r.w.params[0].name_len, 14);
    assert_memory_equal(r.w.params[0].name, "REQUEST_METHOD", 15);
    assert_int_equal(r.w.params[0].value_len, 3);
    assert_memory_equal(r.w.params[0].value, "GET", 4);
    assert_int_equal(r.w.params_bytes, 19);
    assert_true(s.used <= 8 + 8 + 8 + 19 + 5 + 8);
    run_free(&r);
    b_free(&in);
}

static void
test_post_body(void **state)
{
    buf_t in = {0}, body = {0};
    str_t want = {0};

    (void)state;
    for (size_t i = 0; i < 100000; i++) {
        b_byte(&body, (unsigned)(i * 7 % 251));
    }
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_stream(&in, FCGI_PARAMS, 1, "\x0e\x04REQUEST_METHODPOST", 20, 65535, 0);
    b_stream(&in, FCGI_STDIN, 1, body.b, body.n, 65535, 1);
    str_add(&want, "REQ(id=1 role=1 keep=0 n=1) REQUEST_METHOD=POST\nIN ");
    str_esc(&want, body.b, body.n);
    str_add(&want, "\nEND\nOUT \n");
    assert_outcome(parse_whole(&in, NULL), want.data, "whole\n");
    assert_outcome(parse_bytewise(&in), want.data, "byte by byte\n");
    free(want.data);
    b_free(&in);
    b_free(&body);
}

static void
test_roles_and_keep_conn(void **state)
{
    buf_t in = {0};

    (void)state;
    b_begin(&in, 0xabcd, FCGI_AUTHORIZER, FCGI_KEEP_CONN, 0);
    b_rec(&in, FCGI_PARAMS, 0xabcd, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 0xabcd, "", 0, 0);
    b_begin(&in, 0xffff, FCGI_RESPONDER, 0xfe, 0); /* other flag bits */
    b_rec(&in, FCGI_PARAMS, 0xffff, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 0xffff, "", 0, 0);
    expect_log(&in, "REQ(id=43981 role=2 keep=1 n=0)\nEND\n"
                    "REQ(id=65535 role=1 keep=0 n=0)\nEND\n");
    b_free(&in);
}

/* Two whole requests in one buffer: both are parsed, in order. */
static void
test_pipelined(void **state)
{
    buf_t in = {0};

    (void)state;
    b_get(&in, 1, FCGI_KEEP_CONN);
    b_get(&in, 1, FCGI_KEEP_CONN);
    b_get(&in, 2, 0);
    expect(&in, GET_LOG(1, 1) GET_LOG(1, 1) GET_LOG(2, 0), "", 0);
    b_free(&in);
}

/*
 * A request pipelined behind one whose body has ended, before the
 * connection layer ended it (the response still going out): the parser
 * holds it, uses no byte and says it is paused; fw_wire_request_end lets
 * it through.  Neither refused (CANT_MPX_CONN) nor an error.
 */
static void
test_pipelined_held_until_end(void **state)
{
    buf_t in = {0};
    fw_wire_t w;
    step_t s;

    (void)state;
    b_get(&in, 1, FCGI_KEEP_CONN);
    b_get(&in, 1, FCGI_KEEP_CONN);
    fw_wire_init(&w, &default_lim);
    s = STEP_OVER(&in);
    assert_int_equal(step(&w, &s), FW_WIRE_REQUEST);
    assert_int_equal(step(&w, &s), FW_WIRE_STDIN_END);
    assert_int_equal(step(&w, &s), FW_WIRE_MORE);
    assert_true(fw_wire_paused(&w));
    assert_int_equal(w.out_len, 0);
    assert_int_equal(step(&w, &s), FW_WIRE_MORE);
    assert_int_equal(s.used, 0);
    fw_wire_request_end(&w);
    assert_false(fw_wire_paused(&w));
    assert_int_equal(step(&w, &s), FW_WIRE_REQUEST);
    assert_int_equal(w.active_id, 1);
    assert_int_equal(w.nparams, 2);
    assert_int_equal(w.out_len, 0);
    fw_wire_free(&w);
    b_free(&in);
}

/* The connection layer ends the request before reading its body: the rest
 * of its STDIN is ignored (and counted), the next request is served. */
static void
test_request_end_before_body(void **state)
{
    buf_t in = {0};
    run_t r;

    (void)state;
    b_begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "0123456789", 10, 6);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    b_get(&in, 2, 0);
    run_init(&r, NULL);
    r.end_at = END_AT_REQUEST;
    feed_all(&r, &in);
    assert_string_equal(r.log.data, "REQ(id=1 role=1 keep=1 n=0)\n"
                                    "REQ(id=2 role=1 keep=0 n=2) "
                                    "REQUEST_METHOD=GET SCRIPT_NAME=/x\n");
    assert_int_equal(r.ignored_at_end, 10);
    run_free(&r);
    b_free(&in);
}

/* Content of ignored records is counted until fw_wire_request_end. */
static void
test_ignored_counted(void **state)
{
    unsigned char eight[8] = {0};
    buf_t in = {0};
    run_t r;

    (void)state;
    b_rec(&in, FCGI_PARAMS, 7, "abcd", 4, 0); /* inactive id */
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_rec(&in, FCGI_DATA, 1, "12345", 5, 3); /* DATA: responder */
    b_rec(&in, FCGI_STDOUT, 1, "out", 3, 0); /* from the peer */
    b_rec(&in, FCGI_STDERR, 1, "err", 3, 0);
    b_rec(&in, FCGI_END_REQUEST, 1, eight, 8, 0);
    b_rec(&in, FCGI_STDIN, 7, "body..", 6, 0); /* inactive id */
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    run_init(&r, NULL);
    feed_all(&r, &in);
    assert_string_equal(r.log.data, "REQ(id=1 role=1 keep=0 n=0)\nEND\n");
    /* 4 before the request may or may not count: the rest must */
    assert_true(r.ignored_at_end == 25 || r.ignored_at_end == 29);
    assert_int_equal(r.w.ignored, 0); /* restarted by request_end */
    take_answers(&r);
    assert_int_equal(r.out.n, 0);
    run_free(&r);
    b_free(&in);
}

/* STDIN after its empty record, before the request ends: ignored. */
static void
test_stdin_after_end(void **state)
{
    buf_t in = {0};
    run_t r;
    step_t s;

    (void)state;
    run_bare_request(&r);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "late", 4, 0);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    s = STEP_OVER(&in);
    assert_int_equal(step(&r.w, &s), FW_WIRE_STDIN_END);
    assert_int_equal(r.w.phase, FW_WIRE_BODY_END);
    assert_int_equal(step(&r.w, &s), FW_WIRE_MORE);
    assert_int_equal(s.at, s.n); /* every byte used */
    assert_int_equal(r.w.ignored, 4);
    run_free(&r);
    b_free(&in);
}

/* Reading STDIN content straight from the socket: stdin_left / took. */
static void
test_stdin_left_took(void **state)
{
    run_t r;
    step_t s;

    (void)state;
    run_bare_request(&r);
    assert_int_equal(fw_wire_stdin_left(&r.w), 0);
    s = STEP_BYTES("\x01\x05\x00\x01\x00\x0a\x02\x00"); /* STDIN 10 + 2 */
    assert_int_equal(step(&r.w, &s), FW_WIRE_MORE);
    assert_int_equal(s.used, 8);
    assert_int_equal(fw_wire_stdin_left(&r.w), 10);
    assert_int_equal(fw_wire_stdin_tail(&r.w), 2 + 8); /* padding, header */
    fw_wire_stdin_took(&r.w, 4); /* "0123" read straight */
    assert_int_equal(fw_wire_stdin_left(&r.w), 6);
    s = STEP_BYTES("456789PP");
    assert_int_equal(step(&r.w, &s), FW_WIRE_STDIN);
    assert_int_equal(s.data_len, 6);
    assert_memory_equal(s.data, "456789", 6);
    assert_int_equal(fw_wire_stdin_left(&r.w), 0);
    fw_wire_stdin_took(&r.w, 0);
    assert_int_equal(step(&r.w, &s), FW_WIRE_MORE); /* the padding */
    assert_int_equal(s.at, s.n);
    s = STEP_BYTES("\x01\x05\x00\x01\0\0\0\0");
    assert_int_equal(step(&r.w, &s), FW_WIRE_STDIN_END);
    assert_int_equal(fw_wire_stdin_left(&r.w), 0);
    run_free(&r);
}

/* Name-value pairs are kept as sent: NUL and '=' inside, 4-byte lengths,
 * empty values, a pair cut across two PARAMS records. */
static void
test_params_bytes_kept(void **state)
{
    buf_t in = {0}, p = {0};
    run_t r;
    step_t s;
    char big[300];
    const fw_param_t *q;

    (void)state;
    memset(big, 'b', sizeof(big));
    b_pairn(&p, "A=B", 3, "x=y", 3);
    b_pairn(&p, "N\0L", 3, "v\0\0w", 4);
    b_pairn(&p, "EMPTY", 5, "", 0);
    b_pairn(&p, "BIG", 3, big, sizeof(big));
    b_put(&p,
          "\x80\x00\x00\x02\x80\x00\x00\x01"
          "W4z",
          11);
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    /* records of 5 bytes: every pair and length is cut somewhere */
    b_stream(&in, FCGI_PARAMS, 1, p.b, p.n, 5, 3);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    run_init(&r, NULL);
    s = STEP_OVER(&in);
    assert_int_equal(step(&r.w, &s), FW_WIRE_REQUEST);
    assert_int_equal(r.w.nparams, 5);
    q = r.w.params;
    assert_int_equal(q[0].name_len, 3);
    assert_memory_equal(q[0].name, "A=B", 4);
    assert_int_equal(q[0].value_len, 3);
    assert_memory_equal(q[0].value, "x=y", 4);
    assert_int_equal(q[1].name_len, 3);
    assert_memory_equal(q[1].name, "N\0L", 4);
    assert_int_equal(q[1].value_len, 4);
    assert_memory_equal(q[1].value, "v\0\0w", 5);
    assert_int_equal(q[2].value_len, 0);
    assert_int_equal(q[2].value[0], '\0');
    assert_int_equal(q[3].value_len, sizeof(big));
    assert_memory_equal(q[3].value, big, sizeof(big));
    assert_int_equal(q[3].value[sizeof(big)], '\0');
    assert_int_equal(q[4].name_len, 2);
    assert_memory_equal(q[4].name, "W4", 3);
    assert_memory_equal(q[4].value, "z", 2);
    assert_int_equal(r.w.params_bytes, p.n);
    run_free(&r);
    b_free(&in);
    b_free(&p);
}

/* Many params in records of full length (65535): all kept, in order. */
static void
test_many_params(void **state)
{
    fw_wire_limits_t lim = {4 << 20, MAX_CONNS, MAX_REQS};
    buf_t in = {0}, p = {0};
    run_t r;
    step_t s;
    char name[32], value[64];

    (void)state;
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "HTTP_X_%d", i);
        snprintf(value, sizeof(value), "value %d %0*d", i, i % 40, 0);
        b_pair(&p, name, value);
    }
    assert_true(p.n > 3 * 65535);
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_stream(&in, FCGI_PARAMS, 1, p.b, p.n, 65535, 255);
    run_init(&r, &lim);
    s = STEP_OVER(&in);
    assert_int_equal(step(&r.w, &s), FW_WIRE_REQUEST);
    assert_int_equal(r.w.nparams, 20000);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(name, sizeof(name), "HTTP_X_%d", i);
        snprintf(value, sizeof(value), "value %d %0*d", i, i % 40, 0);
        assert_int_equal(r.w.params[i].name_len, strlen(name));
        assert_string_equal(r.w.params[i].name, name);
        assert_string_equal(r.w.params[i].value, value);
    }
    run_free(&r);
    b_free(&in);
    b_free(&p);
}

/* ------------------------------------------------------------ management */

static void
test_get_values_exact(void **state)
{
    static const char *const all[] = {"FCGI_MPXS_CONNS", "FCGI_MAX_REQS",
                                      "FCGI_MAX_CONNS"};
    static const char *const unknown[] = {"FCGI_FOO", "fcgi_max_conns", ""};
    buf_t in = {0};

    (void)state;
    /* the names asked, in the order asked */
    b_get_values(&in, all, 3, 0);
    expect(&in, "",
           LIT(GV_HEADER("\x35") PAIR_MPXS PAIR_MAX_REQS PAIR_MAX_CONNS));
    /* unknown names skipped; nothing known asked: an empty result */
    in.n = 0;
    b_get_values(&in, unknown, 3, 0);
    b_get_values(&in, all + 1, 1, 0);
    expect(&in, "", LIT(GV_HEADER("\x00") GV_HEADER("\x11") PAIR_MAX_REQS));
    /* a value sent with the name is not answered back */
    in.n = 0;
    {
        buf_t c = {0};

        b_pair(&c, "FCGI_MAX_CONNS", "999");
        b_rec(&in, FCGI_GET_VALUES, 0, c.b, c.n, 2);
        b_free(&c);
    }
    expect(&in, "", LIT(GV_HEADER("\x12") PAIR_MAX_CONNS));
    b_free(&in);
}

/* libfcgi 2.4.2 smashes its stack on this; each name is answered once. */
static void
test_get_values_200_names_inside_stdin(void **state)
{
    const char *many[200];
    buf_t in = {0};

    (void)state;
    for (size_t i = 0; i < 200; i++) {
        many[i] = i % 2 ? "FCGI_MPXS_CONNS" : "FCGI_MAX_CONNS";
    }
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_stream(&in, FCGI_PARAMS, 1, "\x0e\x03REQUEST_METHODGET", 19, 65535, 0);
    b_rec(&in, FCGI_STDIN, 1, "abc", 3, 0);
    b_get_values(&in, many, 200, 0);
    b_rec(&in, FCGI_STDIN, 1, "def", 3, 0);
    b_get_values(&in, many + 1, 199, 0);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    expect(&in,
           "REQ(id=1 role=1 keep=0 n=1) REQUEST_METHOD=GET\nIN abcdef\nEND\n",
           LIT(GV_HEADER("\x24") PAIR_MAX_CONNS PAIR_MPXS GV_HEADER("\x24")
                   PAIR_MPXS PAIR_MAX_CONNS));
    b_free(&in);
}

/* Between two PARAMS records: answered, the params unharmed. */
static void
test_management_between_params(void **state)
{
    static const char *const one[] = {"FCGI_MAX_REQS"};
    buf_t in = {0};

    (void)state;
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_rec(&in, FCGI_PARAMS, 1,
          "\x01\x01"
          "ab",
          4, 0);
    b_get_values(&in, one, 1, 7);
    b_rec(&in, 200, 0, "zz", 2, 1);
    b_rec(&in, FCGI_PARAMS, 1,
          "\x01\x01"
          "cd",
          4, 0);
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    expect(&in, "REQ(id=1 role=1 keep=0 n=2) a=b c=d\nEND\n",
           LIT(GV_HEADER("\x11") PAIR_MAX_REQS UNKNOWN_TYPE("\xc8")));
    b_free(&in);
}

/* Any type but GET_VALUES with id 0 (BEGIN_REQUEST too: id 0 is no
 * request): FCGI_UNKNOWN_TYPE naming it. */
static void
test_unknown_type(void **state)
{
    static const unsigned types[] = {FCGI_BEGIN_REQUEST,
                                     FCGI_ABORT_REQUEST,
                                     FCGI_END_REQUEST,
                                     FCGI_PARAMS,
                                     FCGI_STDIN,
                                     FCGI_STDOUT,
                                     FCGI_STDERR,
                                     FCGI_DATA,
                                     FCGI_GET_VALUES_RESULT,
                                     FCGI_UNKNOWN_TYPE,
                                     12,
                                     0x7f,
                                     0xff,
                                     0};
    buf_t in = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        unsigned char want[16] = {1, FCGI_UNKNOWN_TYPE,      0, 0, 0, 8, 0,
                                  0, (unsigned char)types[i]};

        print_message("type %u\n", types[i]);
        in.n = 0;
        b_rec(&in, types[i], 0, "12345678", types[i] == 1 ? 8 : i % 9,
              (unsigned)i);
        expect(&in, "", want, sizeof(want));
    }
    b_free(&in);
}

/* A second request id while one is active: END_REQUEST(CANT_MPX_CONN) for
 * it, its records ignored, the first request goes on. */
static void
test_multiplexing_refused(void **state)
{
    buf_t in = {0};

    (void)state;
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_begin(&in, 0x0102, FCGI_RESPONDER, FCGI_KEEP_CONN, 3); /* in PARAMS */
    b_rec(&in, FCGI_PARAMS, 0x0102, "\x01\x01zz", 4, 0);
    b_rec(&in, FCGI_PARAMS, 1,
          "\x01\x01"
          "ab",
          4, 0);
    b_rec(&in, FCGI_PARAMS, 0x0102, "", 0, 0);
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "body", 4, 0);
    b_begin(&in, 0xfffe, FCGI_AUTHORIZER, 0, 0); /* in STDIN */
    b_rec(&in, FCGI_STDIN, 0xfffe, "no", 2, 0);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    expect(&in, "REQ(id=1 role=1 keep=0 n=1) a=b\nIN body\nEND\n",
           LIT(END_REQUEST("\x01", "\x02", "\x01")
                   END_REQUEST("\xff", "\xfe", "\x01")));
    b_free(&in);
}

/* FILTER and unknown roles: END_REQUEST(UNKNOWN_ROLE), the id stays
 * inactive (its records ignored), the next request is served. */
static void
test_unknown_role(void **state)
{
    static const struct {
        unsigned role;
        const char *name;
    } roles[] = {{FCGI_FILTER, "filter"},
                 {0, "zero"},
                 {4, "four"},
                 {0x0101, "257"},
                 {0xffff, "65535"}};
    buf_t in = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        print_message("role %s\n", roles[i].name);
        in.n = 0;
        b_begin(&in, 1, roles[i].role, FCGI_KEEP_CONN, 0);
        b_rec(&in, FCGI_PARAMS, 1, "\x01\x01zz", 4, 0);
        b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
        b_rec(&in, FCGI_STDIN, 1, "x", 1, 0);
        b_rec(&in, FCGI_DATA, 1, "y", 1, 0);
        b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
        b_rec(&in, FCGI_DATA, 1, "", 0, 0);
        b_get(&in, 1, 0);
        expect(&in, GET_LOG(1, 0), LIT(END_REQUEST("\x00", "\x01", "\x03")));
    }
    b_free(&in);
}

/* ABORT_REQUEST for the active id (in PARAMS or in STDIN): the event; for
 * another id: ignored. */
static void
test_abort(void **state)
{
    buf_t in = {0};

    (void)state;
    b_begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
    b_rec(&in, FCGI_PARAMS, 1,
          "\x01\x01"
          "ab",
          4, 0);
    b_rec(&in, FCGI_ABORT_REQUEST, 2, "", 0, 0);
    b_rec(&in, FCGI_ABORT_REQUEST, 1, "", 0, 5);
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0); /* after its end: ignored */
    b_begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
    b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "par", 3, 0);
    b_rec(&in, FCGI_ABORT_REQUEST, 3, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "tial", 4, 0);
    b_rec(&in, FCGI_ABORT_REQUEST, 1, "", 0, 0);
    b_rec(&in, FCGI_STDIN, 1, "late", 4, 0);
    b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
    b_get(&in, 3, 0);
    expect(&in,
           "ABORT\n"
           "REQ(id=1 role=1 keep=1 n=0)\nIN partial\nABORT\n" GET_LOG(3, 0),
           "", 0);
    b_free(&in);
}

/* ------------------------------------------------------------ limits */

/* buffer-size: PARAMS content up to params_max is kept; one byte more and
 * none is, yet the request completes (the server answers 431). */
static void
test_params_limit(void **state)
{
    static const struct {
        size_t value_len; /* of one pair "NAME"=v...: 6 + value_len */
        size_t rec_max;
        const char *too_large;
    } cases[] = {
        {58, 65535, ""},           /* 64 bytes: at the limit */
        {59, 65535, " too_large"}, /* 65 */
        {58, 10, ""},              /* in records of 10 */
        {59, 10, " too_large"},
        {200, 65535, " too_large"}, /* 4-byte length */
        {5000, 3, " too_large"},
    };
    fw_wire_limits_t lim = {64, MAX_CONNS, MAX_REQS};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_t in = {0}, p = {0};
        char *value = malloc(cases[i].value_len + 1);
        str_t want = {0};

        memset(value, 'v', cases[i].value_len);
        value[cases[i].value_len] = '\0';
        b_pair(&p, "NAME", value);
        b_begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
        b_stream(&in, FCGI_PARAMS, 1, p.b, p.n, cases[i].rec_max, 0);
        b_stream(&in, FCGI_STDIN, 1, "body", 4, 65535, 0);
        b_get(&in, 2, 0); /* the next request is not too large */
        if (*cases[i].too_large) {
            str_add(&want, "REQ(id=1 role=1 keep=1 too_large n=0)\n");
        } else {
            str_add(&want, "REQ(id=1 role=1 keep=1 n=1) NAME=%s\n", value);
        }
        str_add(&want, "IN body\nEND\n" GET_LOG(2, 0) "OUT \n");
        assert_outcome(parse_whole(&in, &lim), want.data, "case %zu\n", i);
        free(want.data);
        free(value);
        b_free(&in);
        b_free(&p);
    }
}

/* Pairs whose lengths do not fit the PARAMS stream: an error, never a
 * read past the data (the shape of CVE-2025-23016 among them). */
static void
test_malformed_pairs(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
        const char *want; /* the log */
    } cases[] = {
        {"name beyond the stream",
         LIT("\x0a\x01"
             "ABCDE"),
         "ERROR\n"},
        {"value beyond the stream",
         LIT("\x01\x0a"
             "Axyz"),
         "ERROR\n"},
        {"value past the end by the name's length",
         LIT("\x03\x03"
             "ABCxy"),
         "ERROR\n"},
        {"value past the end by one",
         LIT("\x02\x02"
             "ABx"),
         "ERROR\n"},
        {"a name length alone", LIT("\x05"), "ERROR\n"},
        {"4-byte name length cut", LIT("\x80\x00"), "ERROR\n"},
        {"4-byte value length cut", LIT("\x01\x80\x00\x00"), "ERROR\n"},
        {"2^31-1 and 2^31-1",
         LIT("\xff\xff\xff\xff\xff\xff\xff\xff"
             "AB"),
         "ERROR\n"},
        {"2^31-1 name",
         LIT("\xff\xff\xff\xff\x01"
             "AB"),
         "ERROR\n"},
        {"2^31-2 value",
         LIT("\x01\xff\xff\xff\xfe"
             "AB"),
         "ERROR\n"},
        {"lengths summing past 2^32",
         LIT("\xff\xff\xff\xf0\xff\xff\xff\xf0"
             "AB"),
         "ERROR\n"},
        {"2^31-1 name after a good pair",
         LIT("\x01\x01"
             "ab"
             "\xff\xff\xff\xff\x00"),
         "ERROR\n"},
        {"4-byte lengths of small values",
         LIT("\x80\x00\x00\x03\x80\x00\x00\x01"
             "ABCx"),
         "REQ(id=1 role=1 keep=0 n=1) ABC=x\nEND\n"},
        {"empty value",
         LIT("\x03\x00"
             "ABC"),
         "REQ(id=1 role=1 keep=0 n=1) ABC=\nEND\n"},
    };
    buf_t in = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i].what);
        in.n = 0;
        b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
        b_stream(&in, FCGI_PARAMS, 1, cases[i].bytes, cases[i].len, 65535, 0);
        b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
        expect_log(&in, cases[i].want);
    }
    b_free(&in);
}

/* Only version 1 is FastCGI; after an error the parser stays stopped. */
static void
test_bad_version(void **state)
{
    static const unsigned versions[] = {0, 2, 0x81, 0xff};
    buf_t in = {0};
    run_t r;
    step_t s;

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        in.n = 0;
        b_rec_v(&in, versions[i], FCGI_BEGIN_REQUEST, 1,
                "\x00\x01\x00\x00\x00\x00\x00\x00", 8, 0);
        expect_log(&in, "ERROR\n");
        /* in the middle of a body, and of a management record */
        in.n = 0;
        b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
        b_rec(&in, FCGI_PARAMS, 1, "", 0, 0);
        b_rec(&in, FCGI_STDIN, 1, "ok", 2, 0);
        b_rec_v(&in, versions[i], FCGI_STDIN, 1, "no", 2, 0);
        b_rec(&in, FCGI_STDIN, 1, "", 0, 0);
        expect_log(&in, "REQ(id=1 role=1 keep=0 n=0)\nIN ok\n"
                        "ERROR\n");
        in.n = 0;
        b_rec_v(&in, versions[i], FCGI_GET_VALUES, 0, "", 0, 0);
        b_get(&in, 1, 0);
        expect_log(&in, "ERROR\n");
    }
    /* stuck: good bytes after the error still get FW_WIRE_ERROR */
    in.n = 0;
    b_get(&in, 1, 0);
    run_init(&r, NULL);
    s = STEP_BYTES("\x02\x01\0\x01\0\0\0\0");
    assert_int_equal(step(&r.w, &s), FW_WIRE_ERROR);
    s = STEP_OVER(&in);
    assert_int_equal(step(&r.w, &s), FW_WIRE_ERROR);
    run_free(&r);
    b_free(&in);
}

/* Out-of-order and malformed records of the active request: errors. */
static void
test_protocol_errors(void **state)
{
    static const struct {
        const char *what;
        const char *want;
    } cases[] = {
        {"STDIN before the end of PARAMS", "ERROR\n"},
        {"BEGIN_REQUEST of 7 bytes", "ERROR\n"},
        {"BEGIN_REQUEST of 9 bytes", "ERROR\n"},
        {"BEGIN_REQUEST of 0 bytes", "ERROR\n"},
        {"BEGIN_REQUEST again for the active id", "ERROR\n"},
        {"GET_VALUES naming past its record", "ERROR\n"},
    };
    buf_t in = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i].what);
        in.n = 0;
        switch (i) {
        case 0:
            b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
            b_rec(&in, FCGI_PARAMS, 1,
                  "\x01\x01"
                  "ab",
                  4, 0);
            b_rec(&in, FCGI_STDIN, 1, "x", 1, 0);
            break;
        case 1:
            b_rec(&in, FCGI_BEGIN_REQUEST, 1, "\x00\x01\x00\x00\x00\x00\x00",
                  7, 0);
            break;
        case 2:
            b_rec(&in, FCGI_BEGIN_REQUEST, 1,
                  "\x00\x01\x00\x00\x00\x00\x00\x00\x00", 9, 0);
            break;
        case 3:
            b_rec(&in, FCGI_BEGIN_REQUEST, 1, "", 0, 0);
            break;
        case 4:
            /* libfcgi answers CANT_MPX_CONN; a web server never does it */
            b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
            b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
            break;
        default:
            b_rec(&in, FCGI_GET_VALUES, 0,
                  "\x0e\x00"
                  "FCGI_MAX_CON",
                  14, 0);
            break;
        }
        b_get(&in, 2, 0);
        expect_log(&in, cases[i].want);
    }
    b_free(&in);
}

/* The parser's own answers while the peer reads none: bounded by
 * FW_WIRE_ANSWERS_MAX (4096 UNKNOWN_TYPE answers of 16 bytes fit, one
 * more is an error); taken out as they come, they never are. */
static void
test_answers_bound(void **state)
{
    const size_t fit = FW_WIRE_ANSWERS_MAX / 16;
    buf_t in = {0};
    run_t r;

    (void)state;
    for (size_t i = 0; i < fit; i++) {
        b_rec(&in, 12, 0, "", 0, 0);
    }
    run_init(&r, NULL);
    feed_all(&r, &in);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.w.out_len, fit * 16);
    run_free(&r);

    b_rec(&in, 12, 0, "", 0, 0);
    run_init(&r, NULL);
    feed_all(&r, &in);
    assert_int_equal(r.error, 1);
    assert_true(r.w.out_len <= FW_WIRE_ANSWERS_MAX);
    run_free(&r);

    /* drained after every record: no limit is reached */
    for (size_t i = 0; i < fit; i++) {
        b_rec(&in, 12, 0, "", 0, 0);
    }
    run_init(&r, NULL);
    r.drain = 1;
    for (size_t at = 0; at < in.n; at += 8) {
        feed_chunk(&r, in.b + at, 8);
    }
    assert_int_equal(r.error, 0);
    assert_int_equal(r.out.n, in.n / 8 * 16);
    run_free(&r);
    b_free(&in);
}

/* ------------------------------------------------------------ out helpers */

static void
test_out_helpers(void **state)
{
    fw_wire_t w;
    unsigned char h[8];

    (void)state;
    fw_wire_init(&w, &default_lim);
    fw_wire_header(h, FCGI_STDOUT, 0x1234, 0xfffe, 7);
    assert_bytes(h, 8, LIT("\x01\x06\x12\x34\xff\xfe\x07\x00"));

    assert_int_equal(fw_wire_out_record(&w, FCGI_STDOUT, 1, "abc", 3, 1000),
                     0);
    assert_int_equal(
        fw_wire_out_end_request(&w, 0x0203, 0x01020304, FCGI_OVERLOADED, 1000),
        0);
    assert_int_equal(fw_wire_out_put(&w, "xyz", 3, 1000), 0);
    assert_bytes(w.out, w.out_len,
                 LIT("\x01\x06\x00\x01\x00\x03\x00\x00"
                     "abc"
                     "\x01\x03\x02\x03\x00\x08\x00\x00"
                     "\x01\x02\x03\x04\x02\x00\x00\x00"
                     "xyz"));
    /* the limit: nothing appended past it */
    assert_int_equal(fw_wire_out_put(&w, "12345", 5, w.out_len + 4), -1);
    assert_int_equal(
        fw_wire_out_record(&w, FCGI_STDOUT, 1, "", 0, w.out_len + 7), -1);
    assert_int_equal(w.out_len, 11 + 16 + 3);
    assert_int_equal(fw_wire_out_put(&w, "12345", 5, w.out_len + 5), 0);
    fw_wire_out_sent(&w, 11);
    assert_bytes(w.out, w.out_len,
                 LIT("\x01\x03\x02\x03\x00\x08\x00\x00"
                     "\x01\x02\x03\x04\x02\x00\x00\x00"
                     "xyz12345"));
    fw_wire_out_sent(&w, w.out_len);
    assert_int_equal(w.out_len, 0);
    /* an empty record: the end of a stream */
    assert_int_equal(fw_wire_out_record(&w, FCGI_STDOUT, 0xffff, NULL, 0, 100),
                     0);
    assert_bytes(w.out, w.out_len, LIT("\x01\x06\xff\xff\x00\x00\x00\x00"));
    fw_wire_free(&w);

    /* free, then init again: usable, nothing leaked */
    fw_wire_init(&w, &default_lim);
    fw_wire_free(&w);
    fw_wire_init(&w, &default_lim);
    assert_int_equal(fw_wire_out_put(&w, "a", 1, 10), 0);
    fw_wire_free(&w);
}

/* The parser reused after fw_wire_free, on a request, then freed mid-way
 * (a connection closed in the middle of a record leaks nothing). */
static void
test_free_mid_request(void **state)
{
    buf_t in = {0}, p = {0};
    run_t r;

    (void)state;
    b_pair(&p, "HTTP_HOST", "example.org");
    b_begin(&in, 1, FCGI_RESPONDER, 0, 0);
    b_rec(&in, FCGI_PARAMS, 1, p.b, p.n, 0);
    for (size_t cut = 1; cut < in.n; cut++) {
        run_init(&r, NULL);
        feed_chunk(&r, in.b, cut);
        assert_int_equal(r.error, 0);
        run_free(&r);
    }
    b_free(&in);
    b_free(&p);
}

/* fw_wire_reset: the next connection starts clean wherever the last one
 * stopped (inside a header, a big PARAMS, a body, after an error, with
 * answers queued), and the buffers it keeps are reused without leaking. */
static void
test_reset(void **state)
{
    static const char *const one[] = {"FCGI_MPXS_CONNS"};
    fw_wire_limits_t lim = {1 << 20, MAX_CONNS, MAX_REQS};
    buf_t stops[4] = {{0}}, p = {0}, get = {0};
    char *value = malloc(70000);
    run_t r;

    (void)state;
    assert_non_null(value);
    memset(value, 'v', 69999);
    value[69999] = '\0';
    b_pair(&p, "HTTP_BIG", value);
    /* 0: inside a big PARAMS, an answer queued */
    b_get_values(&stops[0], one, 1, 0);
    b_begin(&stops[0], 1, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
    b_rec(&stops[0], FCGI_PARAMS, 1, p.b, 65535, 0);
    b_rec(&stops[0], FCGI_PARAMS, 1, p.b + 65535, p.n - 65535, 0);
    stops[0].n -= 10; /* the connection ends inside the record */
    /* 1: after an error */
    b_rec_v(&stops[1], 2, FCGI_BEGIN_REQUEST, 1, "\0\1\0\0\0\0\0\0", 8, 0);
    /* 2: inside a header */
    b_put(&stops[2], "\x01\x01\x00", 3);
    /* 3: inside a body, the request active */
    b_begin(&stops[3], 7, FCGI_AUTHORIZER, 0, 0);
    b_rec(&stops[3], FCGI_PARAMS, 7, "", 0, 0);
    b_put(&stops[3],
          "\x01\x05\x00\x07\x00\x10\x07\x00"
          "body",
          12);
    b_get(&get, 1, 0);

    run_init(&r, &lim);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 4; i++) {
            size_t mark;

            feed_all(&r, &stops[i]);
            assert_int_equal(r.error, i == 1);
            fw_wire_reset(&r.w);
            assert_int_equal(r.w.phase, FW_WIRE_IDLE);
            assert_int_equal(r.w.active_id, 0);
            assert_int_equal(r.w.hdr_have, 0);
            assert_int_equal(r.w.content_left, 0);
            assert_int_equal(r.w.padding_left, 0);
            assert_int_equal(r.w.out_len, 0);
            assert_int_equal(r.w.ignored, 0);
            assert_null(r.w.error);
            assert_int_equal(r.w.lim.params_max, lim.params_max);
            r.error = 0;
            mark = r.log.len;
            feed_all(&r, &get);
            assert_string_equal(r.log.data + mark, GET_LOG(1, 0));
            take_answers(&r);
            r.out.n = 0;
        }
    }
    run_free(&r);
    for (size_t i = 0; i < 4; i++) {
        b_free(&stops[i]);
    }
    b_free(&p);
    b_free(&get);
    free(value);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario_exact),
        cmocka_unit_test(test_scenario_every_split),
        cmocka_unit_test(test_short_request_every_3way_split),
        cmocka_unit_test(test_padding_every_type),
        cmocka_unit_test(test_get_exact),
        cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_roles_and_keep_conn),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_pipelined_held_until_end),
        cmocka_unit_test(test_request_end_before_body),
        cmocka_unit_test(test_ignored_counted),
        cmocka_unit_test(test_stdin_after_end),
        cmocka_unit_test(test_stdin_left_took),
        cmocka_unit_test(test_params_bytes_kept),
        cmocka_unit_test(test_many_params),
        cmocka_unit_test(test_get_values_exact),
        cmocka_unit_test(test_get_values_200_names_inside_stdin),
        cmocka_unit_test(test_management_between_params),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_multiplexing_refused),
        cmocka_unit_test(test_unknown_role),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_params_limit),
        cmocka_unit_test(test_malformed_pairs),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_answers_bound),
        cmocka_unit_test(test_out_helpers),
        cmocka_unit_test(test_free_mid_request),
        cmocka_unit_test(test_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
