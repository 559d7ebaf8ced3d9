/* kv_cache.h - one session's key/value cache (internal).
 *
 * Per layer, K and V are stored as [n_ctx][kv_dim] rows (kv_dim = n_head_kv *
 * head_dim), position-major, so appending a token writes one contiguous row
 * and rolling back is just a shorter length: the rows past the session's
 * n_past are stale and overwritten by the next decode. Rows hold f32 or IEEE
 * half values (enum hflow_kv_type); hflow_kv_store converts on the way in.
 * The cache does not know n_past; the session owns that. */
#ifndef HFLOW_ENGINE_KV_CACHE_H
#define HFLOW_ENGINE_KV_CACHE_H
#include <stddef.h>
#include <stdint.h>

typedef struct hflow_kv_cache {
    int32_t n_layer, n_ctx, kv_dim;
    int type;        /* enum hflow_kv_type */
    size_t elt_size; /* 2 or 4 bytes */
    void *k;         /* [n_layer][n_ctx][kv_dim] */
    void *v;
} hflow_kv_cache;

/* Returns 0, HFLOW_EINVAL for an unknown type or HFLOW_ENOMEM. */
int hflow_kv_cache_init(hflow_kv_cache *c, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, int type);
void hflow_kv_cache_free(hflow_kv_cache *c);
/* Writes the K and V rows (kv_dim f32 each) of layer il at position pos. */
void hflow_kv_store(hflow_kv_cache *c, int32_t il, int32_t pos, const float *k, const float *v);
/* Row of layer `il` at position `pos`: float * or uint16_t * per c->type. */
const void *hflow_kv_k(const hflow_kv_cache *c, int32_t il, int32_t pos);
const void *hflow_kv_v(const hflow_kv_cache *c, int32_t il, int32_t pos);

#endif
