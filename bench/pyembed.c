/*
 * pyembed.c: python3 linked against the shared libpython that fcgi-wsgi
 * and uWSGI embed (pkg-config python3-embed), where Debian's
 * /usr/bin/python3 links libpython statically.  bench/app_cost.py runs
 * under both, so that an app's cost is measured through the very library
 * the gateway calls it through.  Nothing but Py_BytesMain.
 */
#include <Python.h>

int
main(int argc, char **argv)
{
    return Py_BytesMain(argc, argv);
}
