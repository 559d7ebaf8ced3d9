/* kv_cache.c - allocation and addressing of the per-session K/V cache. */
#include "engine/kv_cache.h"

#include <stdlib.h>

#include "hybridflow/error.h"

int hflow_kv_cache_init(hflow_kv_cache *c, int32_t n_layer, int32_t n_ctx, int32_t kv_dim) {
    c->n_layer = n_layer;
    c->n_ctx = n_ctx;
    c->kv_dim = kv_dim;
    size_t n = (size_t)n_layer * (size_t)n_ctx * (size_t)kv_dim;
    /* Not zeroed: rows are always written before attention reads them. */
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    if (!c->k || !c->v) {
        hflow_kv_cache_free(c);
        return HFLOW_ENOMEM;
    }
    return 0;
}

void hflow_kv_cache_free(hflow_kv_cache *c) {
    free(c->k);
    free(c->v);
    c->k = c->v = NULL;
}

static size_t row_offset(const hflow_kv_cache *c, int32_t il, int32_t pos) {
    return ((size_t)il * (size_t)c->n_ctx + (size_t)pos) * (size_t)c->kv_dim;
}

float *hflow_kv_k(const hflow_kv_cache *c, int32_t il, int32_t pos) { return c->k + row_offset(c, il, pos); }
float *hflow_kv_v(const hflow_kv_cache *c, int32_t il, int32_t pos) { return c->v + row_offset(c, il, pos); }

