/* kv_cache.c - allocation, addressing and writes of the per-session K/V cache. */
#include "engine/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "hybridflow/engine.h"
#include "hybridflow/error.h"

int hflow_kv_cache_init(hflow_kv_cache *c, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, int type) {
    memset(c, 0, sizeof *c);
    if (type != HFLOW_KV_F16 && type != HFLOW_KV_F32) return HFLOW_EINVAL;
    c->n_layer = n_layer;
    c->n_ctx = n_ctx;
    c->kv_dim = kv_dim;
    c->type = type;
    c->elt_size = type == HFLOW_KV_F16 ? sizeof(uint16_t) : sizeof(float);
    size_t n = (size_t)n_layer * (size_t)n_ctx * (size_t)kv_dim;
    /* Not zeroed: rows are always written before attention reads them. */
    c->k = malloc(n * c->elt_size);
    c->v = malloc(n * c->elt_size);
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
    return ((size_t)il * (size_t)c->n_ctx + (size_t)pos) * (size_t)c->kv_dim * c->elt_size;
}

static void store_row(const hflow_kv_cache *c, void *dst, const float *src) {
    if (c->type == HFLOW_KV_F32) {
        memcpy(dst, src, (size_t)c->kv_dim * sizeof(float));
        return;
    }
    hflow_fp32_to_fp16_row(src, dst, c->kv_dim);
}

void hflow_kv_store(hflow_kv_cache *c, int32_t il, int32_t pos, const float *k, const float *v) {
    store_row(c, (char *)c->k + row_offset(c, il, pos), k);
    store_row(c, (char *)c->v + row_offset(c, il, pos), v);
}

const void *hflow_kv_k(const hflow_kv_cache *c, int32_t il, int32_t pos) {
    return (const char *)c->k + row_offset(c, il, pos);
}
const void *hflow_kv_v(const hflow_kv_cache *c, int32_t il, int32_t pos) {
    return (const char *)c->v + row_offset(c, il, pos);
}
