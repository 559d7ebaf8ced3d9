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
    /* Optional second copy of K (F16 caches, hflow_kv_cache_add_kt): per
     * layer and KV head, blocks of HFLOW_KT_BLOCK positions, each block
     * [head_dim][HFLOW_KT_BLOCK] (hflow_kt_index). A vector then holds one
     * dimension of consecutive positions, as the blocked attention
     * (attend_rows.h) reads it, so a decode step loads it directly instead
     * of transposing the head's whole cache; and a block is contiguous, so
     * the pass over it streams (one row per dimension of the whole context
     * would put the rows a context apart, on different pages and cache sets).
     * NULL when not asked for. */
    uint16_t *kt;
    int32_t head_dim;
    size_t kt_head; /* halves per KV head: n_ctx rounded up to the block, times head_dim */
} hflow_kv_cache;

#define HFLOW_KT_BLOCK 32
/* Offset of dimension d at position j in a KV head's transposed K. Positions
 * past n_ctx up to the block's end exist and stay zero. */
static inline size_t hflow_kt_index(int head_dim, int d, int j) {
    return (size_t)(j / HFLOW_KT_BLOCK) * (size_t)head_dim * HFLOW_KT_BLOCK + (size_t)d * HFLOW_KT_BLOCK +
           (size_t)(j % HFLOW_KT_BLOCK);
}

/* Returns 0, HFLOW_EINVAL for an unknown type or HFLOW_ENOMEM. */
int hflow_kv_cache_init(hflow_kv_cache *c, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, int type);
void hflow_kv_cache_free(hflow_kv_cache *c);
/* Adds the transposed K copy for heads of head_dim (which divides kv_dim) to
 * an F16 cache; later hflow_kv_store calls keep it in step. Returns 0,
 * HFLOW_EINVAL (not F16, bad head_dim) or HFLOW_ENOMEM. */
int hflow_kv_cache_add_kt(hflow_kv_cache *c, int32_t head_dim);
/* Writes the K and V rows (kv_dim f32 each) of layer il at position pos. */
void hflow_kv_store(hflow_kv_cache *c, int32_t il, int32_t pos, const float *k, const float *v);
/* Row of layer `il` at position `pos`: float * or uint16_t * per c->type. */
const void *hflow_kv_k(const hflow_kv_cache *c, int32_t il, int32_t pos);
const void *hflow_kv_v(const hflow_kv_cache *c, int32_t il, int32_t pos);
/* KV head kvh's transposed copy in layer il: element (d, pos) at
 * [hflow_kt_index(head_dim, d, pos)]. NULL without the copy. */
const uint16_t *hflow_kv_kt(const hflow_kv_cache *c, int32_t il, int32_t kvh);

#endif
