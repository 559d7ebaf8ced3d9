/* strmap.c - see strmap.h. Load factor stays <= 1/2, so probes are short
 * and a lookup miss ends at an empty slot quickly. */
#include "engine/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "hybridflow/error.h"

int hflow_strmap_init(hflow_strmap *m, size_t n) {
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    m->slots = calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    return m->slots ? 0 : HFLOW_ENOMEM;
}

void hflow_strmap_free(hflow_strmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
}

static size_t find_slot(const hflow_strmap *m, const char *key, size_t len) {
    size_t i = (size_t)hflow_fnv1a(HFLOW_FNV_OFFSET, key, len) & m->mask;
    for (;;) {
        const hflow_strmap_slot *s = &m->slots[i];
        if (!s->key || (s->len == len && (len == 0 || memcmp(s->key, key, len) == 0)))
            return i;
        i = (i + 1) & m->mask;
    }
}

int hflow_strmap_put(hflow_strmap *m, const char *key, size_t len, int32_t value) {
    hflow_strmap_slot *s = &m->slots[find_slot(m, key, len)];
    if (s->key) {
        s->value = value;
        return 0;
    }
    /* An empty key still needs a non-NULL pointer to mark the slot used. */
    s->key = key ? key : "";
    s->len = (uint32_t)len;
    s->value = value;
    return 1;
}

int32_t hflow_strmap_get(const hflow_strmap *m, const char *key, size_t len) {
    if (!m->slots)
        return -1;
    const hflow_strmap_slot *s = &m->slots[find_slot(m, key, len)];
    return s->key ? s->value : -1;
}
