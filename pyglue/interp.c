/*
 * interp.c: the embedded interpreter's life: PyConfig start-up (a uWSGI-style
 * `home` virtualenv, sys.path), the import of module:callable (or the load
 * of a wsgi-file), and the finalisation.  It serves no request and never
 * touches the socket.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyglue/pyglue.h"
#include "pyglue/errors.h"
#include "pyglue/handle.h"

static PyThreadState *interp_main_tstate;

static PyStatus interp_configure(PyConfig *config, const fw_app_config_t *cfg);
static int interp_extend_path(const fw_app_config_t *cfg);
static PyObject *interp_import_app(const fw_app_config_t *cfg);
static void interp_log_import_error(const char *module);

/* A wsgi-file larger than this is surely not one (16 MiB). */
#define INTERP_FILE_MAX (16L * 1024 * 1024)

/*
 * The interpreter is configured like `python3` itself would be (environment
 * variables such as PYTHONPATH are honoured), except that it installs no
 * signal handler (the bridge owns signals) and parses no argv.
 *
 * A `home` virtualenv is entered the way its bin/python enters it: setting
 * sys.executable to VENV/bin/python lets getpath find VENV/pyvenv.cfg, so
 * sys.prefix, site-packages and include-system-site-packages behave exactly
 * as under that interpreter.  PyConfig.home is NOT used: it means
 * PYTHONHOME, a different thing.
 */
static PyStatus
interp_configure(PyConfig *config, const fw_app_config_t *cfg)
{
    PyStatus status;
    char *argv[1];
    char executable[4096];

    config->install_signal_handlers = 0;
    config->parse_argv = 0;

    argv[0] = (char *)(cfg->program != NULL ? cfg->program : "fcgi-wsgi");
    status = PyConfig_SetBytesArgv(config, 1, argv);
    if (PyStatus_Exception(status)) {
        return status;
    }

    if (cfg->home != NULL && cfg->home[0] != '\0') {
        int n = snprintf(executable, sizeof(executable), "%s/bin/python3",
                         cfg->home);

        if (n < 0 || (size_t)n >= sizeof(executable)) {
            return PyStatus_Error("home: path too long");
        }
        status =
            PyConfig_SetBytesString(config, &config->executable, executable);
        if (PyStatus_Exception(status)) {
            return status;
        }
    }

    return PyConfig_Read(config);
}

/*
 * sys.path: the chdir directory first (as uWSGI does), then each
 * `pythonpath` entry in the order given, then what Python computed.
 * GIL held.  0, or -1 with an exception set.
 */
static int
interp_extend_path(const fw_app_config_t *cfg)
{
    PyObject *path; /* borrowed */
    PyObject *entry = NULL;
    Py_ssize_t at = 0;

    path = PySys_GetObject("path");
    if (path == NULL || !PyList_Check(path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return -1;
    }

    if (cfg->chdir != NULL && cfg->chdir[0] != '\0') {
        entry = PyUnicode_DecodeFSDefault(cfg->chdir);
        if (entry == NULL || PyList_Insert(path, at++, entry) < 0) {
            goto error;
        }
        Py_CLEAR(entry);
    }

    for (size_t i = 0; i < cfg->npythonpath; i++) {
        entry = PyUnicode_DecodeFSDefault(cfg->pythonpath[i]);
        if (entry == NULL || PyList_Insert(path, at++, entry) < 0) {
            goto error;
        }
        Py_CLEAR(entry);
    }
    return 0;

error:
    Py_XDECREF(entry);
    return -1;
}

/*
 * The source of a wsgi-file, read whole (malloc'd, NUL-terminated), and
 * its absolute path in *abs (malloc'd): tracebacks and linecache find it
 * from any directory.  NULL after logging one line (missing, a directory,
 * unreadable, too big).  Needs no GIL.
 */
static char *
interp_read_file(const char *path, char **abs)
{
    struct stat sb;
    FILE *fp = fopen(path, "rb");
    char *src = NULL;
    size_t n;

    *abs = NULL;
    if (fp == NULL || fstat(fileno(fp), &sb) < 0) {
        fw_errors_log(FW_LOG_ERROR, "wsgi-file %s: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        fw_errors_log(FW_LOG_ERROR,
                      "wsgi-file %s: a directory, not a Python file", path);
        goto done;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > INTERP_FILE_MAX) {
        fw_errors_log(FW_LOG_ERROR,
                      "wsgi-file %s: not a Python file (not a regular file "
                      "of at most %ld bytes)",
                      path, INTERP_FILE_MAX);
        goto done;
    }
    src = malloc((size_t)sb.st_size + 1);
    *abs = realpath(path, NULL);
    if (src == NULL || *abs == NULL) {
        fw_errors_log(FW_LOG_ERROR, "wsgi-file %s: %s", path,
                      strerror(errno != 0 ? errno : ENOMEM));
        goto fail;
    }
    n = fread(src, 1, (size_t)sb.st_size, fp);
    if (ferror(fp)) {
        fw_errors_log(FW_LOG_ERROR, "wsgi-file %s: %s", path,
                      strerror(errno != 0 ? errno : EIO));
        goto fail;
    }
    src[n] = '\0';
    goto done;

fail:
    free(src);
    src = NULL;
    free(*abs);
    *abs = NULL;
done:
    if (fp != NULL) {
        fclose(fp);
    }
    return src;
}

/*
 * Loads cfg->wsgi_file as the module cfg->module (uWSGI's file loader:
 * compiled and run as a module of that name, in sys.modules, __file__ its
 * absolute path).  A new reference to the module, or NULL after logging
 * why (one line for a file that cannot be read, the traceback for code
 * that raised).  GIL held.
 */
static PyObject *
interp_load_file(const fw_app_config_t *cfg)
{
    char *abs = NULL;
    char *src = interp_read_file(cfg->wsgi_file, &abs);
    PyObject *code = NULL;
    PyObject *name = NULL;
    PyObject *pathname = NULL;
    PyObject *module = NULL;

    if (src == NULL) {
        return NULL;
    }
    code = Py_CompileString(src, abs, Py_file_input);
    if (code == NULL) {
        goto error;
    }
    name = PyUnicode_FromString(cfg->module);
    if (name == NULL) {
        goto error;
    }
    pathname = PyUnicode_DecodeFSDefault(abs);
    if (pathname == NULL) {
        goto error;
    }
    module = PyImport_ExecCodeModuleObject(name, code, pathname, NULL);
    if (module == NULL) {
        goto error;
    }
    goto done;

error:
    fw_errors_log(FW_LOG_ERROR, "cannot load wsgi-file %s:", cfg->wsgi_file);
    fw_errors_log_exception(NULL);
done:
    Py_XDECREF(pathname);
    Py_XDECREF(name);
    Py_XDECREF(code);
    free(abs);
    free(src);
    return module;
}

/*
 * Logs why module did not import, the exception set: one line naming the
 * cause, "cannot import module 'M': Type: message", followed by the
 * traceback when there is one to read (frames of the application's own,
 * since CPython drops importlib's: a module simply missing has none; a
 * SyntaxError shows its line).  Clears the exception.  GIL held.
 */
static void
interp_log_import_error(const char *module)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    PyObject *str = NULL;
    const char *name = "exception";
    const char *text = NULL;
    char line[1024];

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (type != NULL && PyType_Check(type)) {
        name = ((PyTypeObject *)type)->tp_name;
    }
    if (value != NULL) {
        str = PyObject_Str(value);
        text = str != NULL ? PyUnicode_AsUTF8(str) : NULL;
    }
    if (text == NULL) {
        PyErr_Clear();
        text = "(unprintable)";
    }
    snprintf(line, sizeof(line), "cannot import module '%s': %s: %s", module,
             name, text);
    Py_XDECREF(str);
    if (tb == NULL && (type == NULL || !PyErr_GivenExceptionMatches(
                                           type, PyExc_SyntaxError))) {
        fw_errors_log(FW_LOG_ERROR, "%s", line);
        Py_XDECREF(value);
        Py_XDECREF(type);
        return;
    }
    PyErr_Restore(type, value, tb); /* steals all three */
    fw_errors_log_exception(line);
}

/*
 * Imports cfg->module (or loads cfg->wsgi_file) and returns a new
 * reference to its cfg->callable, or NULL after logging why (the traceback
 * for an import that raised, one line for a missing or non-callable
 * attribute).  GIL held.
 */
static PyObject *
interp_import_app(const fw_app_config_t *cfg)
{
    PyObject *module = NULL;
    PyObject *app = NULL;
    const char *callable =
        cfg->callable != NULL ? cfg->callable : "application";
    const char *where = cfg->wsgi_file != NULL ? cfg->wsgi_file : cfg->module;

    if (cfg->wsgi_file != NULL) {
        module = interp_load_file(cfg);
        if (module == NULL) {
            return NULL;
        }
    } else {
        module = PyImport_ImportModule(cfg->module);
        if (module == NULL) {
            interp_log_import_error(cfg->module);
            return NULL;
        }
    }

    app = PyObject_GetAttrString(module, callable);
    if (app == NULL) {
        PyErr_Clear();
        if (cfg->wsgi_file != NULL) {
            fw_errors_log(FW_LOG_ERROR,
                          "wsgi-file %s has no callable '%s': set callable "
                          "= NAME to name the WSGI application",
                          where, callable);
        } else {
            fw_errors_log(FW_LOG_ERROR,
                          "module '%s' has no callable '%s': set module = "
                          "%s:NAME to name the WSGI application",
                          where, callable, where);
        }
        goto error;
    }
    if (!PyCallable_Check(app)) {
        fw_errors_log(FW_LOG_ERROR,
                      "'%s:%s' is a %s, not a callable WSGI application",
                      where, callable, Py_TYPE(app)->tp_name);
        goto error;
    }

    Py_DECREF(module);
    return app;

error:
    Py_XDECREF(app);
    Py_XDECREF(module);
    return NULL;
}

int
fw_pyglue_start(const fw_app_config_t *cfg)
{
    PyStatus status;
    PyConfig config;
    PyObject *app = NULL;

    fw_errors_set_sink(cfg->log);

    PyConfig_InitPythonConfig(&config);
    status = interp_configure(&config, cfg);
    if (PyStatus_Exception(status)) {
        goto config_error;
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) {
        goto config_error;
    }
    PyConfig_Clear(&config);

    if (interp_extend_path(cfg) < 0) {
        fw_errors_log_exception("cannot set sys.path");
        goto error;
    }

    app = interp_import_app(cfg);
    if (app == NULL) {
        goto error;
    }

    if (fw_handle_init(app, cfg) < 0) {
        fw_errors_log_exception("cannot prepare the WSGI gateway");
        goto error;
    }
    Py_DECREF(app);

    interp_main_tstate = PyEval_SaveThread();
    return 0;

config_error:
    fw_errors_log(FW_LOG_ERROR, "cannot start Python: %s%s%s",
                  status.func != NULL ? status.func : "",
                  status.func != NULL ? ": " : "",
                  status.err_msg != NULL ? status.err_msg : "unknown error");
    PyConfig_Clear(&config);
    return -1;

error:
    Py_XDECREF(app);
    return -1;
}

/*
 * gc.freeze(): every object made so far (the imported application) moves
 * to the garbage collector's permanent generation, so that a collection
 * in a worker never writes to those objects' pages: they stay shared with
 * the master, copy-on-write.  The master runs no Python between forks, so
 * a later call finds little to move.  A failure costs memory only: the
 * exception is cleared.  GIL held.
 */
static void
interp_gc_freeze(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *res = NULL;

    if (gc != NULL) {
        res = PyObject_CallMethod(gc, "freeze", NULL);
    }
    if (res == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(res);
    Py_XDECREF(gc);
}

pid_t
fw_pyglue_fork(void)
{
    pid_t pid;
    int saved;

    if (interp_main_tstate == NULL) {
        return fork(); /* lazy-apps: no interpreter in this process */
    }
    PyEval_RestoreThread(interp_main_tstate);
    interp_gc_freeze();
    PyOS_BeforeFork();
    pid = fork();
    saved = errno;
    if (pid == 0) {
        PyOS_AfterFork_Child();
    } else {
        PyOS_AfterFork_Parent();
    }
    interp_main_tstate = PyEval_SaveThread();
    errno = saved;
    return pid;
}

void
fw_pyglue_stop(void)
{
    if (interp_main_tstate == NULL) {
        return;
    }
    PyEval_RestoreThread(interp_main_tstate);
    interp_main_tstate = NULL;
    fw_handle_fini();
    if (Py_FinalizeEx() < 0) {
        fw_errors_log(FW_LOG_WARN, "Python finalisation reported errors");
    }
}
