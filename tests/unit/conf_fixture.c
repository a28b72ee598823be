/*
 * conf_fixture.c: a command line run as main() runs it (conf_fixture.h).
 * Test support only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "deploy/print_config.h"
#include "tests/unit/conf_fixture.h"

#define FX_CONF_MAX_ARGS 40

void
fx_conf_run(fx_conf_run_t *r, const char *const *args,
            const fx_token_t *tokens, int print)
{
    char *argv[FX_CONF_MAX_ARGS + 2];
    int argc = 1;
    size_t out_len, err_len;
    FILE *out = open_memstream(&r->out, &out_len);
    FILE *err = open_memstream(&r->err, &err_len);

    assert_non_null(out);
    assert_non_null(err);
    argv[0] = "fcgi-wsgi";
    for (int i = 0; args != NULL && args[i] != NULL; i++) {
        assert_true(argc < FX_CONF_MAX_ARGS);
        argv[argc++] = fx_subst(args[i], tokens);
    }
    argv[argc] = NULL;
    r->rc = fw_conf_load(&r->c, argc, argv, out, err);
    if (print && r->rc == FW_CONF_OK && r->c.print_target != FW_PRINT_NONE) {
        r->rc = fw_print_config(&r->c, out, err) == 0 ? FW_CONF_EXIT
                                                      : FW_CONF_ERROR;
    }
    assert_int_equal(fclose(out), 0);
    assert_int_equal(fclose(err), 0);
    for (int i = 1; i < argc; i++) {
        free(argv[i]);
    }
}

void
fx_conf_run_done(fx_conf_run_t *r)
{
    fw_conf_free(&r->c);
    free(r->out);
    free(r->err);
}
