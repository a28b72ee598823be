/*
 * conf_fixture.h: a command line run the way main() runs it, for the
 * tests of conf/ and deploy/: fw_conf_load (then fw_print_config when
 * asked), with what each printed captured.  Test support only.
 */
#ifndef FW_CONF_FIXTURE_H
#define FW_CONF_FIXTURE_H

#include "conf/conf.h"
#include "tests/unit/fixture.h"

/* One run: the loaded configuration, the result and what was printed. */
typedef struct {
    fw_conf_t c;
    fw_conf_result_e rc;
    char *out; /* stdout, NUL-terminated */
    char *err; /* stderr, NUL-terminated */
} fx_conf_run_t;

/*
 * Runs "fcgi-wsgi" + args (NULL-ended, or NULL: none), each through
 * fx_subst with tokens (may be NULL): fw_conf_load; then, when print is
 * set and a --print-config target was given, fw_print_config as main does
 * (rc FW_CONF_EXIT when it printed, FW_CONF_ERROR when it could not).
 * Release with fx_conf_run_done.
 */
void fx_conf_run(fx_conf_run_t *r, const char *const *args,
                 const fx_token_t *tokens, int print);
void fx_conf_run_done(fx_conf_run_t *r);

#endif /* FW_CONF_FIXTURE_H */
