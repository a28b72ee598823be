/*
 * py_fixture.h: what every pyglue unit test binary shares: start Python
 * once through fw_pyglue_start with tests/apps/unit_apps.py as the
 * application (cmocka group setup/teardown), run one in-memory request,
 * and look at Python state afterwards; with fixture.h's assertions.  Test
 * support only.
 */
#ifndef FW_PY_FIXTURE_H
#define FW_PY_FIXTURE_H

#include "pyglue/pyglue.h"
#include "tests/unit/fixture.h"
#include "tests/unit/mem_gateway.h"

/* cmocka group setup / teardown: start and stop the interpreter. */
int fx_group_setup(void **state);
int fx_group_teardown(void **state);

/* cmocka per-test setup: clears the captured log and unit_apps' records. */
int fx_test_setup(void **state);

/*
 * Rebuilds the per-process environ template as if the server had been
 * started with these settings (mount may be NULL).
 */
void fx_reconfigure(const char *mount, int multithread, int multiprocess);

/* Runs m through fw_pyglue_handle on the main thread's handle. */
fw_pyglue_result_e fx_handle(mem_request_t *m);

/*
 * Makes a request from params and body, runs it and returns the result;
 * the caller inspects *m and frees it with mem_request_free.
 */
fw_pyglue_result_e fx_run(mem_request_t *m, const char *const *params,
                          const char *body, size_t body_len);

/* fx_run with no body and every write failing: the client is gone. */
fw_pyglue_result_e fx_run_gone(mem_request_t *m, const char *const *params);

/*
 * str(eval(expr)) in unit_apps' namespace as a malloc'd UTF-8 string, or
 * "ExceptionName: message" when it raises.  The caller frees it.
 */
char *fx_eval(const char *expr);

/* Fails the test unless fx_eval(expr) is want. */
void fx_assert_eval(const char *expr, const char *want);

/* Runs statements in unit_apps' namespace; fails the test if they raise. */
void fx_exec(const char *code);

/* The main thread's handle (for tests that need their own threads). */
fw_pyglue_thread_t *fx_thread(void);

/* The body of m's response: what follows the header block. */
const char *fx_body(const mem_request_t *m);

/* The 500 pyglue answers when the application failed before its head. */
extern const char fx_response_500[];

/*
 * What a request must have come to (fx_expect).  result is always
 * checked (FW_PYGLUE_DONE unless set); a NULL field is not checked.
 */
typedef struct {
    fw_pyglue_result_e result;
    const char *out;        /* the whole response */
    const char *body;       /* the response after its header block */
    const char *log;        /* the whole log */
    const char *log_has[3]; /* pieces the log holds, in any order */
} fx_want_t;

/* Fails the test unless m, whose handling returned got, is as want says. */
void fx_expect(const mem_request_t *m, fw_pyglue_result_e got,
               const fx_want_t *want);

/* The hello app answers in full: after an error, the next request is
 * served normally. */
void fx_assert_next_request_works(void);

/* One request to a unit app and what it must come to: a row of a table
 * (FX_TABLE(rows, fx_test_case, fx_test_setup)). */
typedef struct {
    const char *name;
    const char *params[16]; /* NULL-ended */
    const char *body;       /* the request body, or NULL */
    int client_gone;        /* every write fails */
    fx_want_t want;
    const char *closed; /* str(CLOSED) afterwards (unit_apps records the
                           iterables closed), or NULL: not checked */
} fx_case_t;

/* The cmocka test of an fx_case_t (*state): runs it, checks it, then
 * that the next request is served normally. */
void fx_test_case(void **state);

#endif /* FW_PY_FIXTURE_H */
