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
    free(c->kt);
    c->k = c->v = NULL;
    c->kt = NULL;
}

int hflow_kv_cache_add_kt(hflow_kv_cache *c, int32_t head_dim) {
    if (c->type != HFLOW_KV_F16 || head_dim <= 0 || c->kv_dim % head_dim != 0) return HFLOW_EINVAL;
    size_t n_blocks = ((size_t)c->n_ctx + HFLOW_KT_BLOCK - 1) / HFLOW_KT_BLOCK;
    c->kt_head = n_blocks * HFLOW_KT_BLOCK * (size_t)head_dim;
    /* Zeroed: the attention kernel reads whole blocks, so the lanes past
     * n_ctx must hold finite values it then ignores. */
    c->kt = calloc((size_t)c->n_layer * (size_t)(c->kv_dim / head_dim) * c->kt_head, sizeof *c->kt);
    if (!c->kt) return HFLOW_ENOMEM;
    c->head_dim = head_dim;
    return 0;
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

/* Element h * head_dim + d of a K row is dimension d of KV head h: one
 * scattered half per element. */
static void store_kt(hflow_kv_cache *c, int32_t il, int32_t pos, const uint16_t *row) {
    for (int32_t h = 0; h < c->kv_dim / c->head_dim; h++) {
        uint16_t *dst = (uint16_t *)hflow_kv_kt(c, il, h);
        for (int32_t d = 0; d < c->head_dim; d++) dst[hflow_kt_index(c->head_dim, d, pos)] = row[h * c->head_dim + d];
    }
}

void hflow_kv_store(hflow_kv_cache *c, int32_t il, int32_t pos, const float *k, const float *v) {
    void *krow = (char *)c->k + row_offset(c, il, pos);
    store_row(c, krow, k);
    store_row(c, (char *)c->v + row_offset(c, il, pos), v);
    if (c->kt) store_kt(c, il, pos, krow);
}

const void *hflow_kv_k(const hflow_kv_cache *c, int32_t il, int32_t pos) {
    return (const char *)c->k + row_offset(c, il, pos);
}
const void *hflow_kv_v(const hflow_kv_cache *c, int32_t il, int32_t pos) {
    return (const char *)c->v + row_offset(c, il, pos);
}

const uint16_t *hflow_kv_kt(const hflow_kv_cache *c, int32_t il, int32_t kvh) {
    if (!c->kt) return NULL;
    return c->kt + ((size_t)il * (size_t)(c->kv_dim / c->head_dim) + (size_t)kvh) * c->kt_head;
}
