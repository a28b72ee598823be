/*
 * conf_cli.c: the command line, and fw_conf_load which runs the whole
 * load.  Each "--key value" becomes what "key = value" is in an ini file:
 * one table serves both (redis style), and uWSGI's options get the same
 * verdicts (conf_lookup.c).  Ini files named on the command line are read
 * first, so the other options override them.  Values are taken as they
 * are: the shell has substituted what it wanted.
 */
#include "conf/conf_int.h"

/* One option of the command line, found in a table. */
typedef struct {
    const fw_opt_t *opt;         /* fcgi-wsgi's, or NULL: */
    const fw_uwsgi_opt_t *uwsgi; /* uWSGI's (conf_uwsgi.c) */
    const char *key; /* as written, for messages: "--workers", "-p" */
    int key_len;
    const char *value; /* NULL: given bare */
} cli_item_t;

static void
cli_error(fw_conf_state_t *st, const cli_item_t *it, const char *msg)
{
    fprintf(st->err, "fcgi-wsgi: %.*s: %s\n", it->key_len, it->key, msg);
}

static bool
ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s);
    size_t t = strlen(tail);

    return n > t && strcmp(s + n - t, tail) == 0;
}

static bool
is_number(const char *s)
{
    return s != NULL && *s != '\0' && s[strspn(s, "0123456789")] == '\0';
}

/* FILE.ini, or FILE.ini:SECTION */
static bool
is_ini_arg(const char *arg)
{
    const char *colon = strrchr(arg, ':');
    size_t len = colon != NULL ? (size_t)(colon - arg) : strlen(arg);

    if (len > 4 && strncmp(arg + len - 4, ".ini", 4) == 0) {
        return true;
    }
    return ends_with(arg, ".ini");
}

/*
 * Whether the word after an option given bare is its value: a boolean
 * word after a boolean (--enable-threads true, as uWSGI takes it), a
 * number after another optional value (--chmod-socket 644).
 */
static bool
takes_next(const cli_item_t *it, const char *next)
{
    if (next == NULL) {
        return false;
    }
    if ((it->opt != NULL && it->opt->type == FW_OPT_BOOL) ||
        (it->uwsgi != NULL && it->uwsgi->arg == FW_UWSGI_ARG_FLAG)) {
        return fw_conf_is_bool_word(next);
    }
    return is_number(next);
}

/*
 * The option named (name_len bytes at name, past the dashes of it->key)
 * into it->opt or it->uwsgi; has_eq: "=VALUE" follows the name; next: the
 * word after it, or NULL.  0, or -1 after printing one line (unknown).
 */
static int
cli_find(fw_conf_state_t *st, cli_item_t *it, const char *name,
         size_t name_len, bool has_eq, const char *next)
{
    char key[64];

    /* "-s" is the one-letter alias s; "--s" and "-socket" are not. */
    if (name_len < sizeof(key) && (name == it->key + 1) == (name_len == 1)) {
        memcpy(key, name, name_len);
        key[name_len] = '\0';
        it->opt = fw_conf_table_find(key);
        if (it->opt == NULL) {
            it->uwsgi = fw_conf_uwsgi_find(key);
        }
    }
    /* -t is --test-config (php-fpm -t, nginx -t); uWSGI's -t N, harakiri
     * = N, still means what it says */
    if (it->opt != NULL && name_len == 1 && name[0] == 't' && !has_eq &&
        is_number(next)) {
        it->opt = fw_conf_table_find("harakiri");
    }
    if (it->opt == NULL && it->uwsgi == NULL) {
        if (name_len < sizeof(key) && name_len > 1) {
            memcpy(key, name, name_len);
            key[name_len] = '\0';
            cli_error(st, it, fw_conf_unknown_msg(st, key, "--"));
        } else {
            cli_error(st, it, "unknown option; see fcgi-wsgi --help");
        }
        return -1;
    }
    return 0;
}

/*
 * The value of it: what follows its '=' (eq, or NULL: none), else the
 * next word, argv[*i + 1], when the option needs a value or takes this
 * word (takes_next); *i then moves past it.  FW_CONF_OK, or FW_CONF_ERROR
 * after printing one line.
 */
static fw_conf_result_e
cli_value(fw_conf_state_t *st, int argc, char **argv, int *i, const char *eq,
          cli_item_t *it)
{
    if (eq != NULL) {
        it->value = eq + 1;
    } else if ((it->opt != NULL && it->opt->bare != NULL) ||
               (it->uwsgi != NULL && it->uwsgi->arg != FW_UWSGI_ARG_VALUE)) {
        /* an optional value: taken from the next word if it is one */
        if (it->uwsgi == NULL || it->uwsgi->arg == FW_UWSGI_ARG_FLAG) {
            if (*i + 1 < argc && takes_next(it, argv[*i + 1])) {
                it->value = argv[++*i];
            }
        }
    } else if (*i + 1 < argc) {
        it->value = argv[++*i];
    } else {
        cli_error(st, it, "needs a value");
        return FW_CONF_ERROR;
    }
    return FW_CONF_OK;
}

/*
 * Reads argv[*i] (and its value, maybe argv[*i + 1]) into it: an option's
 * name (cli_find) and value (cli_value), or an ini file.  Returns
 * FW_CONF_OK, FW_CONF_EXIT after --help or --version, or FW_CONF_ERROR
 * after printing one line.
 */
static fw_conf_result_e
cli_parse_one(fw_conf_state_t *st, int argc, char **argv, int *i,
              cli_item_t *it)
{
    const char *arg = argv[*i];
    const char *name;
    const char *eq;
    size_t name_len;

    memset(it, 0, sizeof(*it));
    if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
        name = arg + 2;
    } else if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-' &&
               (arg[2] == '\0' || arg[2] == '=')) {
        name = arg + 1;
    } else if (is_ini_arg(arg)) {
        it->opt = fw_conf_table_find("ini");
        it->key = arg;
        it->key_len = (int)strlen(arg);
        it->value = arg;
        return FW_CONF_OK;
    } else {
        fprintf(st->err,
                "fcgi-wsgi: %s: unexpected argument; options start with --, "
                "ini files end in .ini\n",
                arg);
        return FW_CONF_ERROR;
    }
    eq = strchr(name, '=');
    name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    it->key = arg;
    it->key_len = (int)(name - arg + (ptrdiff_t)name_len);
    if (cli_find(st, it, name, name_len, eq != NULL,
                 *i + 1 < argc ? argv[*i + 1] : NULL) < 0) {
        return FW_CONF_ERROR;
    }
    if (it->opt != NULL && it->opt->type == FW_OPT_HELP) {
        fw_conf_usage(st->out);
        return FW_CONF_EXIT;
    }
    if (it->opt != NULL && it->opt->type == FW_OPT_VERSION) {
        st->c->show_version = true; /* printed by the caller */
        return FW_CONF_EXIT;
    }
    return cli_value(st, argc, argv, i, eq, it);
}

/*
 * Parses argv into items, then reads the ini files among them in order,
 * then sets the other options in order.  Returns as cli_parse_one.
 */
static fw_conf_result_e
cli_load(fw_conf_state_t *st, int argc, char **argv)
{
    cli_item_t *items = conf_realloc(NULL, (size_t)argc * sizeof(*items));
    int n = 0;
    fw_conf_result_e rc = FW_CONF_OK;

    for (int i = 1; i < argc && rc == FW_CONF_OK; i++) {
        rc = cli_parse_one(st, argc, argv, &i, &items[n]);
        n++;
    }
    for (int k = 0; k < n && rc == FW_CONF_OK; k++) {
        if (items[k].opt == NULL || items[k].opt->type != FW_OPT_INI) {
            continue;
        }
        if (items[k].value == NULL || items[k].value[0] == '\0') {
            cli_error(st, &items[k], "needs a value");
            rc = FW_CONF_ERROR;
        } else if (fw_conf_ini_load(st, items[k].value) < 0) {
            rc = FW_CONF_ERROR;
        } else {
            fw_conf_list_append(&st->c->ini_files,
                                conf_strdup(items[k].value));
        }
    }
    for (int k = 0; k < n && rc == FW_CONF_OK; k++) {
        const char *msg = NULL;

        if (items[k].uwsgi != NULL) {
            msg = fw_conf_uwsgi_use(st, items[k].uwsgi, items[k].value);
        } else if (items[k].opt->type == FW_OPT_INI) {
            continue;
        } else if (items[k].opt->type == FW_OPT_PLACEHOLDER ||
                   items[k].opt->type == FW_OPT_SET) {
            msg = "only in ini files";
        } else {
            msg = fw_conf_table_set(st, items[k].opt, items[k].value);
        }
        if (msg != NULL) {
            cli_error(st, &items[k], msg);
            rc = FW_CONF_ERROR;
        }
    }
    free(items);
    return rc;
}

/* A load's start: c emptied, then the table's defaults. */
static void
state_start(fw_conf_state_t *st, fw_conf_t *c, FILE *out, FILE *err)
{
    memset(c, 0, sizeof(*c));
    memset(st, 0, sizeof(*st));
    st->c = c;
    st->out = out;
    st->err = err;
    c->given = conf_oom(calloc(fw_conf_table_nrows, sizeof(*c->given)));
    fw_conf_table_defaults(st);
}

fw_conf_result_e
fw_conf_load(fw_conf_t *c, int argc, char **argv, FILE *out, FILE *err)
{
    fw_conf_state_t st;
    fw_conf_result_e rc;

    state_start(&st, c, out, err);
    st.argc = argc;
    st.argv = argv;
    rc = cli_load(&st, argc, argv);
    if (fw_conf_subst_finish(&st, rc == FW_CONF_OK) < 0) {
        rc = FW_CONF_ERROR;
    }
    if (rc == FW_CONF_OK && st.print_uwsgi) {
        fw_conf_uwsgi_print(out);
        rc = FW_CONF_EXIT;
    }
    if (rc == FW_CONF_OK && fw_conf_check_all(&st) < 0) {
        rc = FW_CONF_ERROR;
    }
    fflush(out);
    fflush(err);
    free(st.module_callable);
    free(st.mount_module);
    free(st.mount_file);
    return rc;
}

void
fw_conf_defaults(fw_conf_t *c)
{
    fw_conf_state_t st;

    state_start(&st, c, stdout, stderr);
    (void)fw_conf_check_pool(&st); /* the defaults fit */
}
