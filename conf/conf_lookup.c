/*
 * conf_lookup.c: an option name that is not one of conf_table.c's: the
 * verdict of conf_uwsgi.c for a uWSGI option (accepted and noted for the
 * start-up log, or refused with its reason), or "did you mean ...?" for a
 * typo.  It reads the tables and never prints: the callers say where.
 */
#include <stdarg.h>

#include "conf/conf_int.h"

#define NAME_MAX_LEN 64 /* longer names get no suggestion */

static int
uwsgi_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const fw_uwsgi_opt_t *)row)->name);
}

/* The row of conf_uwsgi.c for name, or NULL. */
const fw_uwsgi_opt_t *
fw_conf_uwsgi_find(const char *name)
{
    return bsearch(name, fw_conf_uwsgi_rows, fw_conf_uwsgi_nrows,
                   sizeof(fw_conf_uwsgi_rows[0]), uwsgi_cmp);
}

/* Appends a formatted line to l unless l has it already. */
static void note_once(fw_strlist_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note_once(fw_strlist_t *l, const char *fmt, ...)
{
    char line[FW_CONF_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i], line) == 0) {
            return;
        }
    }
    fw_conf_list_append(l, conf_strdup(line));
}

/* The reason of u given with value: its own, or a value's of its. */
static const fw_uwsgi_reason_t *
reason_of(const fw_uwsgi_opt_t *u, const char *value)
{
    for (size_t i = 0; value != NULL && i < fw_conf_uwsgi_nvalues; i++) {
        const fw_uwsgi_value_t *v = &fw_conf_uwsgi_values[i];

        if (strcmp(v->name, u->name) == 0 && strcmp(v->value, value) == 0) {
            return &fw_conf_uwsgi_reasons[v->why];
        }
    }
    return &fw_conf_uwsgi_reasons[u->why];
}

/*
 * Applies the uWSGI option u, given with value (NULL or "": bare): its
 * verdict (or a value's of its: fw_conf_uwsgi_values).  A flag given
 * false asks for nothing and is accepted silently; a flag's value must be
 * a boolean.  Ignored and pending options are accepted, with one line for
 * the start-up log (st->c->notices, once per name).  Returns NULL, or the
 * message of a refusal or a bad value.
 */
const char *
fw_conf_uwsgi_use(fw_conf_state_t *st, const fw_uwsgi_opt_t *u,
                  const char *value)
{
    const fw_uwsgi_reason_t *r = reason_of(u, value);
    const char *dash = u->name[1] == '\0' ? "-" : "";
    bool on = true;

    if (u->arg == FW_UWSGI_ARG_FLAG && value != NULL && value[0] != '\0') {
        const char *msg = fw_conf_parse_bool(st, value, &on);

        if (msg != NULL) {
            return msg;
        }
    }
    if (!on) {
        return NULL;
    }
    switch (r->verdict) {
    case FW_UWSGI_IGNORED:
        note_once(&st->c->notices, "uWSGI option %s%s ignored: %s", dash,
                  u->name, r->text);
        return NULL;
    case FW_UWSGI_PENDING:
        note_once(&st->c->notices,
                  "uWSGI option %s%s accepted, not applied yet: %s", dash,
                  u->name, r->text);
        return NULL;
    case FW_UWSGI_REFUSED:
        return r->text;
    case FW_UWSGI_OURS:
    default:
        /* conf_table.c answers to these names first (test_conf_uwsgi.c) */
        return fw_conf_table_msg(st, "an option of fcgi-wsgi's that its table "
                                     "lacks (a bug): see fcgi-wsgi --help");
    }
}

/*
 * The optimal string alignment distance between a and b (insertions,
 * deletions, substitutions, swaps of two neighbours), each at most
 * NAME_MAX_LEN bytes.
 */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t d[NAME_MAX_LEN + 1][NAME_MAX_LEN + 1];

    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (d[i - 1][j - 1] + cost < best) {
                best = d[i - 1][j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* The best suggestion so far for a typo. */
typedef struct {
    const char *typo;
    size_t limit; /* the largest distance worth suggesting */
    const char *name;
    size_t distance;
} suggest_t;

static void
suggest_try(suggest_t *s, const char *name, size_t len)
{
    char word[NAME_MAX_LEN + 1];
    size_t d;

    if (len < 3 || len > NAME_MAX_LEN) {
        return;
    }
    memcpy(word, name, len);
    word[len] = '\0';
    d = edit_distance(s->typo, word);
    if (d <= s->limit && (s->name == NULL || d < s->distance)) {
        s->name = name;
        s->distance = d;
    }
}

/*
 * The message for an unknown option: "unknown option; did you mean
 * NAME?" with the closest known name (fcgi-wsgi's first, then uWSGI's),
 * or "unknown option; see fcgi-wsgi --help".  dashes ("--" on the command
 * line, "" in a file) is written before the suggestion.
 */
const char *
fw_conf_unknown_msg(fw_conf_state_t *st, const char *name, const char *dashes)
{
    size_t len = strlen(name);
    suggest_t s = {name, len <= 4 ? 1 : 2, NULL, 0};
    size_t found_len = 0;

    if (len <= NAME_MAX_LEN) {
        for (size_t i = 0; i < fw_conf_table_nrows; i++) {
            const fw_opt_t *opt = &fw_conf_table_rows[i];
            const char *p = opt->aliases;

            suggest_try(&s, opt->name, strlen(opt->name));
            while (p != NULL && *p != '\0') {
                size_t n = strcspn(p, " ");

                suggest_try(&s, p, n);
                p += n;
                p += strspn(p, " ");
            }
        }
        for (size_t i = 0; i < fw_conf_uwsgi_nrows; i++) {
            suggest_try(&s, fw_conf_uwsgi_rows[i].name,
                        strlen(fw_conf_uwsgi_rows[i].name));
        }
    }
    if (s.name == NULL) {
        return "unknown option; see fcgi-wsgi --help";
    }
    found_len = strcspn(s.name, " ");
    return fw_conf_table_msg(st, "unknown option; did you mean %s%.*s?",
                             dashes, (int)found_len, s.name);
}
