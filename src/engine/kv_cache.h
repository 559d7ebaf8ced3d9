/* kv_cache.h - one session's key/value cache (internal).
 *
 * Per layer, K and V are stored as [n_ctx][kv_dim] f32 rows (kv_dim =
 * n_head_kv * head_dim), position-major, so appending a token writes one
 * contiguous row and rolling back is just a shorter length: the rows past
 * the session's n_past are stale and overwritten by the next decode. The
 * cache does not know n_past; the session owns that. */
#ifndef HFLOW_ENGINE_KV_CACHE_H
#define HFLOW_ENGINE_KV_CACHE_H
#include <stdint.h>

typedef struct hflow_kv_cache {
    int32_t n_layer, n_ctx, kv_dim;
    float *k; /* [n_layer][n_ctx][kv_dim] */
    float *v;
} hflow_kv_cache;

/* Returns 0 or HFLOW_ENOMEM. */
int hflow_kv_cache_init(hflow_kv_cache *c, int32_t n_layer, int32_t n_ctx, int32_t kv_dim);
void hflow_kv_cache_free(hflow_kv_cache *c);
/* Row of layer `il` at position `pos`. */
float *hflow_kv_k(const hflow_kv_cache *c, int32_t il, int32_t pos);
float *hflow_kv_v(const hflow_kv_cache *c, int32_t il, int32_t pos);

#endif
