/*
 * keys.c: interned environ keys, shared environ values and attribute
 * names, made once at start-up and found by their bytes through a small
 * open-addressing hash table.  Nothing here is per request.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "pyglue/keys.h"

/* Powers of two, at least twice the number of entries. */
#define KEYS_SLOTS 256
#define VALUES_SLOTS 128

typedef struct {
    const char *text; /* NULL: empty slot */
    size_t len;
    PyObject *obj; /* borrowed from fw_keys / fw_values */
} slot_t;

PyObject *fw_keys[FW_KEY_COUNT];
PyObject *fw_values[FW_VALUE_COUNT];

#define TEXT_ENTRY(id, text) text,
static const char *const key_texts[FW_KEY_COUNT] = {FW_KEY_LIST(TEXT_ENTRY)};
static const char *const value_texts[FW_VALUE_COUNT] = {
    FW_VALUE_LIST(TEXT_ENTRY)};
#undef TEXT_ENTRY

static slot_t key_slots[KEYS_SLOTS];
static slot_t value_slots[VALUES_SLOTS];
/* The longest text of each table: a longer one (a browser's User-Agent)
 * is known not to be there without hashing it. */
static size_t key_max_len;
static size_t value_max_len;

_Static_assert(FW_KEY_COUNT * 2 <= KEYS_SLOTS, "grow KEYS_SLOTS");
_Static_assert(FW_VALUE_COUNT * 2 <= VALUES_SLOTS, "grow VALUES_SLOTS");

/*
 * The slot of a text: its length and four of its bytes, mixed.  A lookup
 * runs for every param name and most values of every request, so the
 * hash reads five numbers, not every byte; the texts of the tables spread
 * well under it (at most 4 probes; an unknown text usually 1-3) and a
 * collision costs only a probe.
 */
static uint32_t
hash_text(const char *p, size_t len)
{
    const unsigned char *b = (const unsigned char *)p;
    uint32_t h;

    if (len == 0) {
        return 0;
    }
    h = (uint32_t)len * 0x9E3779B1u;
    h ^= b[0] * 0x85EBCA6Bu;
    h ^= b[len - 1] * 0xC2B2AE35u;
    h ^= b[len / 2] * 0x27D4EB2Fu;
    h ^= b[len * 3 / 4] * 0x165667B1u;
    return h ^ (h >> 15);
}

static void
table_add(slot_t *table, size_t nslots, const char *text, PyObject *obj)
{
    size_t len = strlen(text);
    size_t i = hash_text(text, len) & (nslots - 1);

    while (table[i].text != NULL) {
        if (table[i].len == len && memcmp(table[i].text, text, len) == 0) {
            return; /* a duplicate: the first entry wins */
        }
        i = (i + 1) & (nslots - 1);
    }
    table[i].text = text;
    table[i].len = len;
    table[i].obj = obj;
}

static PyObject *
table_find(const slot_t *table, size_t nslots, const char *p, size_t len)
{
    size_t i = hash_text(p, len) & (nslots - 1);

    while (table[i].text != NULL) {
        if (table[i].len == len && memcmp(table[i].text, p, len) == 0) {
            return table[i].obj;
        }
        i = (i + 1) & (nslots - 1);
    }
    return NULL;
}

/*
 * Makes one interned str per text into objs and indexes it in table.
 * 0, or -1 with an exception set (objs then partly filled: fini clears).
 */
static int
make_strings(const char *const *texts, PyObject **objs, size_t n,
             slot_t *table, size_t nslots, size_t *max_len)
{
    *max_len = 0;
    for (size_t i = 0; i < n; i++) {
        objs[i] = PyUnicode_InternFromString(texts[i]);
        if (objs[i] == NULL) {
            return -1;
        }
        table_add(table, nslots, texts[i], objs[i]);
        if (strlen(texts[i]) > *max_len) {
            *max_len = strlen(texts[i]);
        }
    }
    return 0;
}

int
fw_keys_init(void)
{
    if (fw_keys[0] != NULL) {
        return 0;
    }
    if (make_strings(key_texts, fw_keys, FW_KEY_COUNT, key_slots, KEYS_SLOTS,
                     &key_max_len) < 0 ||
        make_strings(value_texts, fw_values, FW_VALUE_COUNT, value_slots,
                     VALUES_SLOTS, &value_max_len) < 0) {
        fw_keys_fini();
        return -1;
    }
    return 0;
}

void
fw_keys_fini(void)
{
    for (size_t i = 0; i < FW_KEY_COUNT; i++) {
        Py_CLEAR(fw_keys[i]);
    }
    for (size_t i = 0; i < FW_VALUE_COUNT; i++) {
        Py_CLEAR(fw_values[i]);
    }
    memset(key_slots, 0, sizeof(key_slots));
    key_max_len = 0;
    value_max_len = 0;
    memset(value_slots, 0, sizeof(value_slots));
}

PyObject *
fw_keys_find(const char *name, size_t len)
{
    return len > key_max_len ? NULL
                             : table_find(key_slots, KEYS_SLOTS, name, len);
}

PyObject *
fw_values_find(const char *value, size_t len)
{
    return len > value_max_len
               ? NULL
               : table_find(value_slots, VALUES_SLOTS, value, len);
}
