/*
 * environ_cache.h: the key and value objects of the last request's
 * parameters, by position, so that a parameter sent again with the same
 * bytes is not looked up nor decoded again.  Requires Python.h to be
 * included first.  Every call holds the GIL.
 */
#ifndef FW_ENVIRON_CACHE_H
#define FW_ENVIRON_CACHE_H

#include <stddef.h>

#include "pyglue/gateway.h"

/* The objects of one parameter, both owned by the cache. */
typedef struct fw_environ_slot_s fw_environ_slot_t;

/*
 * The slot of param, the i-th parameter of its request, its key ready:
 * the same objects as the last request's i-th parameter where its bytes
 * are the same.  NULL with an exception set when the name could not be
 * decoded.  The slot and its objects stay valid until the next call for
 * the same position (or for an uncached parameter: the next one).
 */
fw_environ_slot_t *fw_environ_cache_slot(size_t i, const fw_param_t *param);

/* The slot's key: the interned str of a well-known name (keys.c), else a
 * str of the name.  Borrowed. */
PyObject *fw_environ_slot_key(const fw_environ_slot_t *slot);

/* The slot's value, decoded (latin-1) on first use.  Borrowed, or NULL
 * with an exception set. */
PyObject *fw_environ_slot_value(fw_environ_slot_t *slot,
                                const fw_param_t *param);

/* Drops every object the cache holds (GIL held). */
void fw_environ_cache_clear(void);

#endif /* FW_ENVIRON_CACHE_H */
