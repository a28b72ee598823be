/*
 * pyglue.h: what the bridge calls to run Python.  It never exposes a
 * PyObject: the bridge starts the interpreter once, attaches each serving
 * thread once, and hands every request over as an fw_request_t.
 */
#ifndef FW_PYGLUE_H
#define FW_PYGLUE_H

#include "gateway.h"

typedef struct {
    const char *program; /* argv[0], for sys.argv and messages */
    const char *home;    /* virtualenv directory, or NULL */
    const char *chdir;   /* directory already chdir()ed to, or NULL */
    const char *const *pythonpath; /* extra sys.path entries, in order */
    size_t npythonpath;
    /* a Python file to load as the module `module` (uWSGI's wsgi-file),
       relative to chdir; or NULL: import module */
    const char *wsgi_file;
    const char *module;   /* "pkg.mod" (or the name of wsgi_file's) */
    const char *callable; /* "application" unless told otherwise */
    const char *mount;    /* SCRIPT_NAME prefix ("/app"), or NULL/"" */
    int multithread;      /* wsgi.multithread */
    int multiprocess;     /* wsgi.multiprocess */
    int run_once;         /* one request per process (CGI): wsgi.run_once
                             and wsgi.multiprocess are True, and
                             SCRIPT_NAME/PATH_INFO are taken as sent */
    fw_gateway_log_pt log;
} fw_app_config_t;

typedef struct fw_pyglue_thread_s fw_pyglue_thread_t;

/*
 * Starts the interpreter (PyConfig: home, sys.path), imports
 * cfg->module (or loads cfg->wsgi_file under that name), takes
 * cfg->callable and builds every per-process constant.
 * On failure logs the Python traceback and returns -1; the caller exits 1.
 * On success returns 0 with the GIL released: threads attach below.
 */
int fw_pyglue_start(const fw_app_config_t *cfg);

/*
 * A serving thread's handle: made once per thread (the thread state is
 * created here), freed when the thread stops serving.
 */
fw_pyglue_thread_t *fw_pyglue_thread_attach(void);
void fw_pyglue_thread_detach(fw_pyglue_thread_t *t);

typedef enum {
    FW_PYGLUE_DONE = 0, /* the response is complete: end the request */
    FW_PYGLUE_ABORT     /* the response was cut off: drop the connection */
} fw_pyglue_result_e;

/*
 * Runs the WSGI application for one request: takes the GIL, builds environ
 * from r->params (r->nparams length-delimited pairs) and
 * r->input_terminated, calls the app, sends its response through r->ops,
 * calls close(), releases the GIL.  Every Python error is logged here and
 * turned into a 500 when no header was sent yet.  Never raises.
 */
fw_pyglue_result_e fw_pyglue_handle(fw_pyglue_thread_t *t, fw_request_t *r);

/*
 * fork() with CPython's fork hooks around it (PyOS_BeforeFork and the
 * AfterFork pair), after gc.freeze() (the application's objects stay
 * shared with the child: its collections never write to them).  Call from
 * the thread that started Python, with no other thread running Python.
 * Before fw_pyglue_start (lazy-apps: the master runs no Python), a plain
 * fork().  Returns what fork() returns.
 */
pid_t fw_pyglue_fork(void);

/* Finalizes the interpreter (at exit of a worker); GIL not held. */
void fw_pyglue_stop(void);

/* modules.c: the files of the imported modules, for py-autoreload. */

/* Given each module file's path, GIL held: it must not call pyglue. */
typedef void (*fw_pyglue_file_pt)(void *arg, const char *path);

/*
 * Calls each(arg, path) for every module in sys.modules with a file
 * (a str __file__; builtins, frozen modules and namespace packages have
 * none), in no set order.  Takes the GIL.  After fw_pyglue_start, from
 * any thread, provided the first call comes before fw_pyglue_stop can run
 * (from the thread that will run it, say): that call sets up the fence
 * that keeps every later one off an interpreter being finalised, which
 * then returns -1 at once.  Returns the number of paths given, or -1.
 */
int fw_pyglue_module_files(fw_pyglue_file_pt each, void *arg);

/*
 * home.c: which Python the application will run in, asked before the
 * interpreter starts (no Python runs, nothing is logged).
 */

/* The embedded libpython's version, "3.11.2" (a static string), and the
 * file it was loaded from ("linked into PATH" when it is the executable:
 * make PYLINK=static). */
const char *fw_pyglue_version(void);
const char *fw_pyglue_library(void);

/*
 * Whether home (a path, relative to the current directory; NULL or "":
 * none given) holds a Python of the embedded libpython's major.minor: a
 * directory with bin/python3, and either pyvenv.cfg (a virtualenv, whose
 * `version` must match) or lib/pythonX.Y (an installation's prefix).
 * NULL when it does, else one line naming the cause ("home /srv/venv:
 * Python home is not a directory (No such file or directory)"), written
 * to msg.
 */
const char *fw_pyglue_check_home(const char *home, char *msg, size_t size);

/* The prefix Python will run in, as one phrase for the start-up block:
 * "virtualenv /srv/venv (made from /usr/bin)", "home /opt/py", or "the
 * system's (prefix /usr)". */
void fw_pyglue_describe_home(const char *home, char *out, size_t size);

#endif /* FW_PYGLUE_H */
