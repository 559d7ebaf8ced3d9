/* attend_rows.h - F16-cache attention for a block of query rows sharing one
 * KV head (internal).
 *
 * Prefill asks, per KV head, for many query rows (several tokens times the
 * query heads of a GQA group) over the same cache rows; decode for the GQA
 * group's rows of one token. The kernel reads K transposed (the cache's
 * second copy, kv_cache.h: a vector holds one dimension of consecutive
 * positions) and V rows directly, converting halves to f32 in registers, and
 * carries several query rows through each pass over them.
 *
 * Every row's result equals hflow_attend_f16_ref(out[r], q[r], k, v, stride,
 * n_kv[r], head_dim, scale, ...) bit for bit: each score is still the
 * sequential sum over d of exact half-by-half products and each output the
 * sequential sum over positions, only independent sums run side by side. */
#ifndef HFLOW_ENGINE_ATTEND_ROWS_H
#define HFLOW_ENGINE_ATTEND_ROWS_H
#include <stddef.h>
#include <stdint.h>

#include "engine/kv_cache.h"

/* One KV head's cache: position j's K and V rows at k + j * stride and
 * v + j * stride; when kt is not NULL, K transposed in the cache's block
 * layout, element (d, j) at kt[hflow_kt_index(head_dim, d, j)], every
 * element of a block initialised (the kernel reads whole blocks and ignores
 * the lanes past a row's length). Borrowed pointers. */
typedef struct hflow_kv_head {
    const uint16_t *k, *v, *kt;
    size_t stride;
} hflow_kv_head;

/* One thread's workspace: the rows' rounded queries and their scores.
 * Caller-owned memory of hflow_attn_block_floats() floats. */
typedef struct hflow_attn_block {
    float *qr;     /* [max_rows][head_dim]: q rounded to half */
    float *scores; /* [max_rows][ld] */
    int ld, head_dim; /* ld: a score row's length, n_ctx rounded up to 32 */
} hflow_attn_block;

/* Floats of workspace for contexts up to n_ctx and blocks of up to max_rows rows. */
size_t hflow_attn_block_floats(int n_ctx, int head_dim, int max_rows);
/* Lays the workspace out over mem (64-byte aligned). */
void hflow_attn_block_init(hflow_attn_block *b, float *mem, int n_ctx, int head_dim, int max_rows);

/* out[r][0..head_dim) for rows r < n_rows (<= the init's max_rows), each attending
 * over cache positions [0, n_kv[r]) (1 <= n_kv[r] <= the init's n_ctx, those
 * positions written) of the KV head h. out rows must not alias q rows. */
void hflow_attend_f16_rows(hflow_attn_block *b, const hflow_kv_head *h, int n_rows, const float *const *q,
                           float *const *out, const int *n_kv, float scale);
/* The AVX-512 version hflow_attend_f16_rows runs when the CPU has it and
 * h->kt is set (x86-64 builds only); otherwise it runs hflow_attend_f16 row
 * by row over the K and V rows. Requires h->kt. */
void hflow_attend_f16_rows_avx512(hflow_attn_block *b, const hflow_kv_head *h, int n_rows, const float *const *q,
                                  float *const *out, const int *n_kv, float scale);

#endif
