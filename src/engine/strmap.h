/* strmap.h - an immutable-after-build hash map from byte strings to int32
 * values (open addressing, linear probing, FNV-1a). The map does not copy
 * keys: it stores (pointer, length) pairs into memory the caller keeps
 * alive for the map's lifetime (the vocab's own token/merge storage). */
#ifndef HFLOW_ENGINE_STRMAP_H
#define HFLOW_ENGINE_STRMAP_H
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

typedef struct hflow_strmap_slot {
    const char *key; /* NULL = empty slot */
    uint32_t len;
    int32_t value;
} hflow_strmap_slot;

typedef struct hflow_strmap {
    hflow_strmap_slot *slots;
    size_t mask; /* capacity - 1 (capacity is a power of two) */
} hflow_strmap;


/* Sizes the table for up to `n` keys; 0 or HFLOW_ENOMEM. */
int hflow_strmap_init(hflow_strmap *m, size_t n);
void hflow_strmap_free(hflow_strmap *m);
/* Inserts key -> value; an existing key gets the new value (last wins, as
 * llama.cpp's token map does for duplicate token texts). Returns 1 when the
 * key is new, 0 when it replaced a value. Capacity must suffice. */
int hflow_strmap_put(hflow_strmap *m, const char *key, size_t len, int32_t value);
/* Value for key, or -1 when absent. */
int32_t hflow_strmap_get(const hflow_strmap *m, const char *key, size_t len);

#endif
