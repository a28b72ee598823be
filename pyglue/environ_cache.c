/*
 * environ_cache.c: the objects of the last request's parameters, by
 * position.  A web server sends its parameters in the order of its
 * configuration, and most of them with the same bytes every time (nginx's
 * SERVER_SOFTWARE, DOCUMENT_ROOT, SERVER_ADDR; a browser's User-Agent and
 * Accept): for those, the i-th parameter's key and value are the very str
 * objects of the last request's i-th, found with one comparison of the
 * bytes, instead of two table lookups, a decoding and a free each.  A str
 * is immutable, so an object made from the same bytes is the same value
 * whoever gets it.
 *
 * A position keeps its name and value bytes (at most CACHE_BYTES, both
 * together); the name's key is kept while the name is the same, the
 * value's object while the value is the same too, and it is made only
 * when asked for (SCRIPT_NAME and PATH_INFO never are).  Parameters past
 * CACHE_SLOTS, or longer, go through the one spare slot, remade for each.
 * The cache holds the objects of one request per position: at most
 * (CACHE_SLOTS + 1) * 2 str objects, and no more than that.
 *
 * Every call holds the GIL, which also keeps the threads of a worker out
 * of each other's way: an environ is built without releasing it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "pyglue/environ.h"
#include "pyglue/environ_cache.h"
#include "pyglue/keys.h"

#define CACHE_SLOTS 64
#define CACHE_BYTES 240

struct fw_environ_slot_s {
    PyObject *key;   /* owned; NULL: empty */
    PyObject *value; /* owned; NULL: not made yet */
    int kept;        /* bytes[] holds the name and value below */
    size_t name_len;
    size_t value_len;
    char bytes[CACHE_BYTES]; /* the name, then the value */
};

/* The last one is the spare slot of parameters that are not kept. */
static fw_environ_slot_t cache_slots[CACHE_SLOTS + 1];

/* A new key for a name: the interned one when it is well known. */
static PyObject *
cache_new_key(const fw_param_t *param)
{
    PyObject *key = fw_keys_find(param->name, param->name_len); /* borrowed */

    if (key != NULL) {
        return Py_NewRef(key);
    }
    return PyUnicode_DecodeLatin1(param->name, (Py_ssize_t)param->name_len,
                                  NULL);
}

static void
cache_slot_drop(fw_environ_slot_t *s)
{
    Py_CLEAR(s->key);
    Py_CLEAR(s->value);
    s->kept = 0;
}

fw_environ_slot_t *
fw_environ_cache_slot(size_t i, const fw_param_t *param)
{
    size_t n = param->name_len;
    size_t v = param->value_len;
    int keep = i < CACHE_SLOTS && n <= CACHE_BYTES && v <= CACHE_BYTES - n;
    fw_environ_slot_t *s = &cache_slots[keep ? i : CACHE_SLOTS];

    if (s->kept && s->name_len == n && memcmp(s->bytes, param->name, n) == 0) {
        if (s->value_len == v && memcmp(s->bytes + n, param->value, v) == 0) {
            return s; /* the same parameter as last time */
        }
        Py_CLEAR(s->value);
    } else {
        cache_slot_drop(s);
        s->key = cache_new_key(param);
        if (s->key == NULL) {
            return NULL;
        }
        s->name_len = n;
        if (keep) {
            memcpy(s->bytes, param->name, n);
        }
    }
    s->value_len = v;
    if (keep) {
        memcpy(s->bytes + n, param->value, v);
        s->kept = 1;
    }
    return s;
}

PyObject *
fw_environ_slot_key(const fw_environ_slot_t *slot)
{
    return slot->key;
}

PyObject *
fw_environ_slot_value(fw_environ_slot_t *slot, const fw_param_t *param)
{
    if (slot->value == NULL) {
        slot->value = fw_environ_decode(param->value, param->value_len);
    }
    return slot->value;
}

void
fw_environ_cache_clear(void)
{
    for (size_t i = 0; i <= CACHE_SLOTS; i++) {
        cache_slot_drop(&cache_slots[i]);
    }
}
