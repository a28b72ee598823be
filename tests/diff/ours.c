/*
 * ours.c: our FastCGI record parser (bridge/wire/wire_parse.c) printing a
 * stream's requests in the format of oracle_libfcgi.c, for the
 * differential test (run_diff.py).  It plays the connection layer: a
 * request without FCGI_KEEP_CONN closes the connection after its body.
 *
 *     ours [-s PIECE] STREAM      feed the stream in pieces of PIECE bytes
 *
 * Output, one line each:
 *   REQUEST id=N role=N keep=0|1 [too_large]
 *   P <name> <value>        each param, escaped as the oracle escapes
 *   BODY <length> <escaped bytes>
 *   END | ABORT             how the request ended
 *   ERROR <why>             the parser gave up: the connection closes
 *   CLOSE                   the connection closes (or the stream ended)
 *   OUT <hex>               the answers the parser queued itself
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "bridge/wire/wire.h"

#include "tests/diff/canon.h"

/* The body of the active request, gathered from STDIN events. */
typedef struct {
    unsigned char *b;
    size_t n, cap;
} body_t;

static void
body_add(body_t *body, const unsigned char *p, size_t n)
{
    if (body->n + n > body->cap) {
        body->cap = (body->n + n) * 2;
        body->b = realloc(body->b, body->cap);
        if (body->b == NULL) {
            exit(2);
        }
    }
    memcpy(body->b + body->n, p, n);
    body->n += n;
}

static void
print_request(const fw_wire_t *w)
{
    printf("REQUEST id=%u role=%d keep=%d%s\n", w->active_id, w->role,
           w->keep_conn, w->params_too_large ? " too_large" : "");
    for (size_t i = 0; i < w->nparams; i++) {
        printf("P ");
        put_escaped(w->params[i].name, w->params[i].name_len);
        printf(" ");
        put_escaped(w->params[i].value, w->params[i].value_len);
        printf("\n");
    }
}

static void
print_body(body_t *body)
{
    printf("BODY %zu ", body->n);
    put_escaped(body->b, body->n);
    printf("\n");
    body->n = 0;
}

/*
 * Parses one piece; returns 1 when the connection is over (error, or a
 * request that did not ask to keep it).
 */
static int
feed(fw_wire_t *w, const unsigned char *p, size_t len, body_t *body)
{
    while (len > 0) {
        size_t used, data_len;
        const unsigned char *data;
        fw_wire_event_e ev;

        ev = fw_wire_parse(w, p, len, &used, &data, &data_len);
        p += used;
        len -= used;
        switch (ev) {
        case FW_WIRE_MORE:
            break;
        case FW_WIRE_REQUEST:
            print_request(w);
            body->n = 0;
            break;
        case FW_WIRE_STDIN:
            body_add(body, data, data_len);
            break;
        case FW_WIRE_STDIN_END:
        case FW_WIRE_ABORT:
            if (w->phase != FW_WIRE_PARAMS) {
                print_body(body); /* not when aborted before its params */
            }
            printf(ev == FW_WIRE_ABORT ? "ABORT\n" : "END\n");
            if (!w->keep_conn) {
                return 1;
            }
            fw_wire_request_end(w);
            break;
        case FW_WIRE_ERROR:
            printf("ERROR %s\n", w->error);
            return 1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    fw_wire_limits_t lim = {1 << 20, 1, 1};
    fw_wire_t w;
    body_t body = {0};
    unsigned char *stream;
    size_t len, piece = 0, at = 0;
    const char *path;

    if (argc == 4 && strcmp(argv[1], "-s") == 0) {
        piece = strtoul(argv[2], NULL, 10);
        path = argv[3];
    } else if (argc == 2) {
        path = argv[1];
    } else {
        fprintf(stderr, "usage: %s [-s PIECE] STREAM\n", argv[0]);
        return 2;
    }
    stream = read_file(path, &len);
    if (stream == NULL) {
        return 2;
    }
    if (piece == 0) {
        piece = len ? len : 1;
    }
    fw_wire_init(&w, &lim);
    while (at < len) {
        size_t n = len - at < piece ? len - at : piece;
        /* each piece in its own block: ASan sees a read past it */
        unsigned char *copy = malloc(n);
        int over;

        if (copy == NULL) {
            return 2;
        }
        memcpy(copy, stream + at, n);
        over = feed(&w, copy, n, &body);
        free(copy);
        at += n;
        if (over) {
            break;
        }
    }
    if (w.phase == FW_WIRE_BODY) {
        print_body(&body); /* the stream ended inside it */
    }
    printf("CLOSE\nOUT ");
    for (size_t i = 0; i < w.out_len; i++) {
        printf("%02x", w.out[i]);
    }
    printf("\n");
    fw_wire_free(&w);
    free(body.b);
    free(stream);
    return 0;
}
