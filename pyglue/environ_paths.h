/*
 * environ_paths.h: SCRIPT_NAME and PATH_INFO of the environ (the mount,
 * nginx's whole path as SCRIPT_NAME, the Authorizer role's path; the
 * rules are at the top of environ_paths.c).  Requires Python.h to be
 * included first.
 */
#ifndef FW_ENVIRON_PATHS_H
#define FW_ENVIRON_PATHS_H

#include <stddef.h>

#include "pyglue/environ.h"

/* Remembers cfg->mount and whether paths are taken as sent (CGI:
 * cfg->run_once).  GIL held.  0, or -1 with an exception set. */
int fw_environ_paths_init(const fw_app_config_t *cfg);

/* Forgets the mount (GIL held). */
void fw_environ_paths_fini(void);

/*
 * Sets SCRIPT_NAME and PATH_INFO in env from what was sent (info), by
 * the rules.  0, or -1 with an exception set.
 */
int fw_environ_paths_set(PyObject *env, const fw_request_info_t *info);

/*
 * The Authorizer role's path from REQUEST_URI uri[0..uri_len): into
 * info->path_buf (PyMem), pointed at by info->path_info, with
 * info->script_name "".  A URI that is not a path ("*") is used as it
 * is.  0, or -1 with an exception set.
 */
int fw_environ_paths_authorizer(fw_request_info_t *info, const char *uri,
                                size_t uri_len);

#endif /* FW_ENVIRON_PATHS_H */
