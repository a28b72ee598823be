/*
 * home.c: which Python the application will run in, told before the
 * interpreter starts: the embedded libpython's version and file, whether
 * a `home` holds a Python of that version, and one phrase naming the
 * prefix (a virtualenv, a home, or the system's).  It reads files only:
 * no interpreter runs here, and nothing is logged (callers are told).
 */
/* dladdr() is a GNU extension. */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyglue/pyglue.h"

/* The system Python's prefix, as pkg-config python3-embed gave it at
 * build (the Makefile passes it); a Python with no home finds it there. */
#ifndef FW_PYTHON_PREFIX
#define FW_PYTHON_PREFIX "/usr"
#endif

const char *
fw_pyglue_version(void)
{
    static char version[32];
    const char *full = Py_GetVersion(); /* "3.11.2 (main, ...) [GCC ...]" */

    snprintf(version, sizeof(version), "%.*s", (int)strcspn(full, " "), full);
    return version;
}

const char *
fw_pyglue_library(void)
{
    static char linked[4200];
    Dl_info info;
    char *lib, *exe;

    if (dladdr((void *)Py_GetVersion, &info) == 0 || info.dli_fname == NULL) {
        return "(unknown file)";
    }
    /* make PYLINK=static: the interpreter is in the executable itself */
    lib = realpath(info.dli_fname, NULL);
    exe = realpath("/proc/self/exe", NULL);
    if (lib != NULL && exe != NULL && strcmp(lib, exe) == 0) {
        snprintf(linked, sizeof(linked), "linked into %s", exe);
    }
    free(lib);
    free(exe);
    return linked[0] != '\0' ? linked : info.dli_fname;
}

/*
 * The value of key in HOME/pyvenv.cfg ("key = value" lines) copied to
 * out, cut at out_size.  1 found, 0 not found, -1 when the file cannot be
 * read (errno set: ENOENT when there is none).
 */
static int
home_venv_value(const char *home, const char *key, char *out, size_t out_size)
{
    char path[4096], line[1024];
    size_t klen = strlen(key);
    FILE *f;
    int found = 0;

    snprintf(path, sizeof(path), "%s/pyvenv.cfg", home);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *p = line + strspn(line, " \t");

        if (strncmp(p, key, klen) != 0) {
            continue;
        }
        p += klen;
        p += strspn(p, " \t");
        if (*p != '=') {
            continue;
        }
        p++;
        p += strspn(p, " \t");
        p[strcspn(p, "\r\n")] = '\0';
        snprintf(out, out_size, "%s", p);
        found = 1;
    }
    fclose(f);
    return found;
}

/* "3.11.2" or "3.11.2.final.0" -> 3, 11.  0, or -1 if it is not one. */
static int
home_parse_version(const char *s, int *major, int *minor)
{
    char *end;

    errno = 0;
    *major = (int)strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '.') {
        return -1;
    }
    s = end + 1;
    *minor = (int)strtol(s, &end, 10);
    return errno != 0 || end == s ? -1 : 0;
}

/* The first HOME/lib/python3.N directory's "3.N" that is not ours, or
 * "" (for the message of a home made for another Python). */
static void
home_other_lib(const char *home, char *out, size_t out_size)
{
    char path[4096];
    DIR *d;
    struct dirent *e;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/lib", home);
    d = opendir(path);
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        int major, minor;

        if (strncmp(e->d_name, "python", 6) == 0 &&
            home_parse_version(e->d_name + 6, &major, &minor) == 0 &&
            (major != PY_MAJOR_VERSION || minor != PY_MINOR_VERSION)) {
            snprintf(out, out_size, "%d.%d", major, minor);
            break;
        }
    }
    closedir(d);
}

typedef enum {
    HOME_FILE,       /* a regular file */
    HOME_EXECUTABLE, /* a regular file we may execute */
    HOME_DIR         /* a directory */
} home_kind_e;

/* Whether HOME/rel exists (symlinks followed) as that kind of file. */
static int
home_has(const char *home, const char *rel, home_kind_e kind)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", home, rel);
    if (stat(path, &st) < 0) {
        return 0;
    }
    switch (kind) {
    case HOME_FILE:
        return S_ISREG(st.st_mode);
    case HOME_EXECUTABLE:
        return S_ISREG(st.st_mode) && access(path, X_OK) == 0;
    case HOME_DIR:
        return S_ISDIR(st.st_mode);
    }
    return 0;
}

/* The message of a home made for another Python: what was found (the
 * version "3.9"), and where ("lib/python3.9"). */
static const char *
home_mismatch(char *msg, size_t size, const char *home, const char *version,
              const char *where)
{
    snprintf(msg, size,
             "home %s: made for Python %s (%s) but fcgi-wsgi embeds Python "
             "%d.%d: make the virtualenv with python%d.%d -m venv %s",
             home, version, where, PY_MAJOR_VERSION, PY_MINOR_VERSION,
             PY_MAJOR_VERSION, PY_MINOR_VERSION, home);
    return msg;
}

/*
 * Which Python a home was made for, when it is not ours: from pyvenv.cfg's
 * version (or version_info, virtualenv's key), else from its
 * lib/pythonX.Y when ours is not there.  The message, or NULL.
 */
static const char *
home_check_version(const char *home, char *msg, size_t size)
{
    char version[64], where[128], lib[32];
    int major, minor;
    int found = home_venv_value(home, "version", version, sizeof(version));

    if (found != 1) {
        found =
            home_venv_value(home, "version_info", version, sizeof(version));
    }
    if (found == 1 && home_parse_version(version, &major, &minor) == 0) {
        if (major == PY_MAJOR_VERSION && minor == PY_MINOR_VERSION) {
            return NULL;
        }
        snprintf(where, sizeof(where), "pyvenv.cfg: version = %s", version);
        snprintf(version, sizeof(version), "%d.%d", major, minor);
        return home_mismatch(msg, size, home, version, where);
    }
    snprintf(lib, sizeof(lib), "lib/python%d.%d", PY_MAJOR_VERSION,
             PY_MINOR_VERSION);
    if (home_has(home, lib, HOME_DIR)) {
        return NULL;
    }
    home_other_lib(home, version, sizeof(version));
    if (version[0] == '\0') {
        return NULL; /* nothing says: the checks that follow decide */
    }
    snprintf(where, sizeof(where), "lib/python%s", version);
    return home_mismatch(msg, size, home, version, where);
}

const char *
fw_pyglue_check_home(const char *home, char *msg, size_t size)
{
    char lib[32];
    struct stat st;

    if (home == NULL || home[0] == '\0') {
        return NULL;
    }
    if (stat(home, &st) < 0) {
        snprintf(msg, size, "home %s: Python home is not a directory (%s)",
                 home, strerror(errno));
        return msg;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(msg, size, "home %s: Python home is not a directory", home);
        return msg;
    }
    if (home_check_version(home, msg, size) != NULL) {
        return msg;
    }
    if (!home_has(home, "bin/python3", HOME_EXECUTABLE)) {
        snprintf(msg, size,
                 "home %s: no bin/python3 in it (missing, or a broken link): "
                 "not a virtualenv; python%d.%d -m venv %s makes one",
                 home, PY_MAJOR_VERSION, PY_MINOR_VERSION, home);
        return msg;
    }
    /* Not a virtualenv: a Python installation's prefix, whose standard
     * library must be there (else Python falls back to the system's). */
    snprintf(lib, sizeof(lib), "lib/python%d.%d", PY_MAJOR_VERSION,
             PY_MINOR_VERSION);
    if (!home_has(home, "pyvenv.cfg", HOME_FILE) &&
        !home_has(home, lib, HOME_DIR)) {
        snprintf(msg, size,
                 "home %s: not a virtualenv (no pyvenv.cfg) nor a Python "
                 "%d.%d installation (no %s): python%d.%d -m venv %s makes "
                 "one",
                 home, PY_MAJOR_VERSION, PY_MINOR_VERSION, lib,
                 PY_MAJOR_VERSION, PY_MINOR_VERSION, home);
        return msg;
    }
    return NULL;
}

void
fw_pyglue_describe_home(const char *home, char *out, size_t size)
{
    const char *env_home = getenv("PYTHONHOME");
    char base[1024];

    if (home != NULL && home[0] != '\0') {
        if (home_venv_value(home, "home", base, sizeof(base)) == 1) {
            snprintf(out, size, "virtualenv %s (made from %s)", home, base);
        } else {
            snprintf(out, size, "home %s", home);
        }
    } else if (env_home != NULL && env_home[0] != '\0') {
        snprintf(out, size, "PYTHONHOME %s (from the environment)", env_home);
    } else {
        snprintf(out, size, "the system's (prefix %s)", FW_PYTHON_PREFIX);
    }
}
