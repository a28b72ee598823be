/*
 * conf_usage.c: what the option tables print: --help (fcgi-wsgi's options
 * by group, within 80 columns) and --print-config uwsgi-options (every
 * uWSGI option and its verdict, the list the README carries).  Text only,
 * from the tables; it sets nothing.
 */
#include "conf/conf_int.h"

#define USAGE_WIDTH 79 /* columns of a line, at most */

static const char *const group_titles[FW_GROUP_COUNT] = {
    [FW_GROUP_SOCKET] = "Socket",
    [FW_GROUP_APP] = "Application",
    [FW_GROUP_POOL] = "Pool",
    [FW_GROUP_LIMITS] = "Limits",
    [FW_GROUP_LOGS] = "Logs and status",
    [FW_GROUP_RELOAD] = "Recycling and reloading",
    [FW_GROUP_CONFIG] = "Configuration",
};

/* "--name METAVAR" into buf */
static void
usage_option(char *buf, size_t size, const fw_opt_t *opt)
{
    snprintf(buf, size, "--%s%s%s", opt->name, opt->metavar ? " " : "",
             opt->metavar ? opt->metavar : "");
}

/* "also --a, --b, -c" into buf, or "" */
static void
usage_aliases(char *buf, size_t size, const fw_opt_t *opt)
{
    const char *p = opt->aliases;
    size_t used = 0;

    buf[0] = '\0';
    while (p != NULL && *p != '\0' && used < size) {
        size_t n = strcspn(p, " ");
        int w = snprintf(buf + used, size - used, "%s%s%.*s",
                         used == 0 ? "also " : ", ", n == 1 ? "-" : "--",
                         (int)n, p);

        if (w < 0) {
            break;
        }
        used += (size_t)w;
        p += n;
        p += strspn(p, " ");
    }
}

/* Prints "      also ..." wrapped within USAGE_WIDTH. */
static void
usage_put_aliases(FILE *out, const char *text)
{
    size_t col = 0;

    while (*text != '\0') {
        size_t n = strcspn(text, " ");

        if (col == 0) {
            fputs("      ", out);
            col = 6;
        } else if (col + 1 + n > USAGE_WIDTH) {
            fputs("\n        ", out);
            col = 8;
        } else {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)n, text);
        col += n;
        text += n;
        text += strspn(text, " ");
    }
    if (col > 0) {
        fputc('\n', out);
    }
}

/* The widths of the OPTION and DEFAULT columns: their longest entries. */
static void
usage_widths(int *w_opt, int *w_def)
{
    char opt_col[80];

    *w_opt = (int)strlen("OPTION");
    *w_def = (int)strlen("DEFAULT");
    for (size_t i = 0; i < fw_conf_table_nrows; i++) {
        const fw_opt_t *opt = &fw_conf_table_rows[i];

        if (opt->help == NULL) {
            continue;
        }
        usage_option(opt_col, sizeof(opt_col), opt);
        if ((int)strlen(opt_col) > *w_opt) {
            *w_opt = (int)strlen(opt_col);
        }
        if (opt->def != NULL && (int)strlen(opt->def) > *w_def) {
            *w_def = (int)strlen(opt->def);
        }
    }
}

/* Each group's title, then its options: a line each, and their aliases. */
static void
usage_groups(FILE *out, int w_opt, int w_def)
{
    char opt_col[80];
    char alias_col[256];

    for (int g = 0; g < FW_GROUP_COUNT; g++) {
        fprintf(out, "%s:\n", group_titles[g]);
        for (size_t i = 0; i < fw_conf_table_nrows; i++) {
            const fw_opt_t *opt = &fw_conf_table_rows[i];

            if (opt->help == NULL || (int)opt->group != g) {
                continue;
            }
            usage_option(opt_col, sizeof(opt_col), opt);
            fprintf(out, "  %-*s  %-*s  %s\n", w_opt, opt_col, w_def,
                    opt->def != NULL ? opt->def : "-", opt->help);
            usage_aliases(alias_col, sizeof(alias_col), opt);
            usage_put_aliases(out, alias_col);
        }
    }
}

/* What the table does not say: the forms of values, and uWSGI's options. */
static void
usage_notes(FILE *out)
{
    fputs("\n"
          "Sockets: unix:PATH or a PATH containing '/' (a unix socket); "
          "HOST:PORT or\n"
          "[IPv6]:PORT (TCP); :PORT binds 127.0.0.1 only (write "
          "0.0.0.0:PORT for every\n"
          "interface).  With no socket, fcgi-wsgi serves the listening "
          "socket it is\n"
          "given on fd 0 (spawn-fcgi, mod_fcgid, lighttpd).\n"
          "\n"
          "In ini files, values may use %d (the file's directory, with a "
          "trailing /),\n"
          "%p (the file's absolute path), %s (its name), %n (its name "
          "without\n"
          "extension), %e (its extension), %c (its directory's name), %% "
          "(a %),\n"
          "%(NAME) (an option or a key of your own set above, or an "
          "environment\n"
          "variable), $(VAR) (an environment variable; $(VAR:-DEFAULT) if "
          "unset or\n"
          "empty, $(VAR-DEFAULT) if unset) and @(FILE) (the file's "
          "contents).\n"
          "Booleans: true/false, yes/no, on/off, 1/0; bare on the command "
          "line: true.\n"
          "Sizes: bytes, or with k, m or g (1024-based): 64k, 1m.\n"
          "allowed-clients: IPv4/IPv6 addresses and networks (127.0.0.1, "
          "10.0.0.0/8,\n"
          "::1, fd00::/8), comma-separated or repeated; with none, any client "
          "may\n"
          "connect over TCP (FCGI_WEB_SERVER_ADDRS in the environment adds "
          "to the\n"
          "list); unix sockets are always allowed.  Started as root, "
          "fcgi-wsgi serves\n"
          "only if uid (and gid) name another user, or with allow-root.\n"
          "\n"
          "uWSGI's options: each is implemented, accepted and ignored "
          "(logged at start:\n"
          "it does not apply), or refused with the reason and what to do "
          "instead;\n"
          "fcgi-wsgi --print-config uwsgi-options lists them all.\n",
          out);
}

/* --help: the usage line, the options by group, the notes. */
void
fw_conf_usage(FILE *out)
{
    int w_opt;
    int w_def;

    usage_widths(&w_opt, &w_def);
    fprintf(out,
            "usage: fcgi-wsgi [--ini FILE | FILE.ini][:SECTION] "
            "[--OPTION VALUE]...\n"
            "\n"
            "A FastCGI server for a Python WSGI application.  Options go on "
            "the command\n"
            "line as --name VALUE or --name=VALUE, or in an ini file as "
            "name = value in\n"
            "its [fcgi-wsgi] section (or [uwsgi] if it has none; or the "
            "SECTION named).\n"
            "The command line wins.\n"
            "\n"
            "  %-*s  %-*s  %s\n",
            w_opt, "OPTION", w_def, "DEFAULT", "MEANING");
    usage_groups(out, w_opt, w_def);
    usage_notes(out);
}

/* ---- --print-config uwsgi-options ---- */

/* A paragraph being written, wrapped within USAGE_WIDTH. */
typedef struct {
    FILE *out;
    size_t col;
    const char *indent; /* of the lines after the first */
} para_t;

static void
para_word(para_t *p, const char *word)
{
    size_t n = strlen(word);

    if (p->col > 0 && p->col + 1 + n > USAGE_WIDTH) {
        fprintf(p->out, "\n%s", p->indent);
        p->col = strlen(p->indent);
    } else if (p->col > 0) {
        fputc(' ', p->out);
        p->col++;
    }
    fputs(word, p->out);
    p->col += n;
}

/* Every word of text, in turn. */
static void
para_text(para_t *p, const char *text)
{
    char word[256];

    while (*text != '\0') {
        size_t n = strcspn(text, " ");

        snprintf(word, sizeof(word), "%.*s", (int)n, text);
        para_word(p, word);
        text += n;
        text += strspn(text, " ");
    }
}

static void
para_end(para_t *p)
{
    if (p->col > 0) {
        fputc('\n', p->out);
    }
    p->col = 0;
}

/* `name` (or `-X`), with `ours` after it when it is an alias; then sep. */
static void
para_name(para_t *p, const fw_uwsgi_opt_t *u, const char *sep)
{
    const fw_opt_t *opt = fw_conf_table_find(u->name);
    const char *dash = u->name[1] == '\0' ? "-" : "";
    char word[160];

    if (opt != NULL && strcmp(opt->name, u->name) != 0) {
        snprintf(word, sizeof(word), "`%s%s` (= `%s`)%s", dash, u->name,
                 opt->name, sep);
    } else {
        snprintf(word, sizeof(word), "`%s%s`%s", dash, u->name, sep);
    }
    para_word(p, word);
}

/*
 * The names of one reason, "`a`, `b`, `c`.", then the values that give an
 * option this reason, "`name = value`".
 */
static void
para_names(para_t *p, size_t why)
{
    size_t last = fw_conf_uwsgi_nrows;
    size_t last_value = fw_conf_uwsgi_nvalues;
    char word[256];

    for (size_t i = 0; i < fw_conf_uwsgi_nrows; i++) {
        if (fw_conf_uwsgi_rows[i].why == why) {
            last = i;
        }
    }
    for (size_t i = 0; i < fw_conf_uwsgi_nvalues; i++) {
        if (fw_conf_uwsgi_values[i].why == why) {
            last_value = i;
        }
    }
    for (size_t i = 0; i < fw_conf_uwsgi_nrows; i++) {
        if (fw_conf_uwsgi_rows[i].why == why) {
            para_name(p, &fw_conf_uwsgi_rows[i],
                      i == last && last_value == fw_conf_uwsgi_nvalues ? "."
                                                                       : ",");
        }
    }
    for (size_t i = 0; i < fw_conf_uwsgi_nvalues; i++) {
        const fw_uwsgi_value_t *v = &fw_conf_uwsgi_values[i];

        if (v->why == why) {
            snprintf(word, sizeof(word), "`%s = %s`%s", v->name, v->value,
                     i == last_value ? "." : ",");
            para_word(p, word);
        }
    }
}

void
fw_conf_uwsgi_print(FILE *out)
{
    static const char *const titles[] = {
        [FW_UWSGI_OURS] = "**Implemented** (an alias: the fcgi-wsgi option "
                          "after the =):",
        [FW_UWSGI_IGNORED] = "**Accepted and ignored**, each logged once at "
                             "start: it does not apply.",
        [FW_UWSGI_PENDING] = "**Accepted, not yet applied**, each logged "
                             "once at start.",
        [FW_UWSGI_REFUSED] = "**Refused**: one error line that says why and "
                             "what to do instead.",
    };
    para_t p = {out, 0, ""};
    char text[512];

    snprintf(text, sizeof(text),
             "fcgi-wsgi knows every option of uWSGI (%zu names with the "
             "one-letter ones: its core, the Python plugin and every other "
             "plugin) and does one of four things with each.",
             fw_conf_uwsgi_nrows);
    para_text(&p, text);
    para_end(&p);
    for (int v = FW_UWSGI_OURS; v <= FW_UWSGI_REFUSED; v++) {
        fputc('\n', out);
        para_text(&p, titles[v]);
        para_end(&p);
        if (v != FW_UWSGI_OURS) {
            fputc('\n', out);
        }
        for (size_t why = 0; why < fw_conf_uwsgi_nreasons; why++) {
            const fw_uwsgi_reason_t *r = &fw_conf_uwsgi_reasons[why];

            if ((int)r->verdict != v) {
                continue;
            }
            if (v != FW_UWSGI_OURS) {
                snprintf(text, sizeof(text), "- %s:", r->text);
                p.indent = "  ";
                para_text(&p, text);
            }
            para_names(&p, why);
            para_end(&p);
            p.indent = "";
        }
    }
}
