/* attend_rows.h - F16-cache attention for a block of query rows sharing one
 * KV head (internal).
 *
 * Prefill asks, per KV head, for many query rows (several tokens times the
 * query heads of a GQA group) over the same cache rows. Done one row at a
 * time (hflow_attend_f16), every row re-reads and re-converts K and V; here
 * the KV head's rows are converted to f32 once per block (K transposed, so a
 * vector holds one dimension of consecutive positions) and several query rows
 * are carried through each pass over them.
 *
 * Every row's result equals hflow_attend_f16_ref(out[r], q[r], k, v, stride,
 * n_kv[r], head_dim, scale, ...) bit for bit: each score is still the
 * sequential sum over d of exact half-by-half products and each output the
 * sequential sum over positions, only independent sums run side by side. */
#ifndef HFLOW_ENGINE_ATTEND_ROWS_H
#define HFLOW_ENGINE_ATTEND_ROWS_H
#include <stddef.h>
#include <stdint.h>

/* One thread's workspace: the f32 copies of a KV head's rows and the rows'
 * scores. Caller-owned memory of hflow_attn_block_floats() floats. */
typedef struct hflow_attn_block {
    float *kt;     /* [head_dim][ld]: K transposed, zero past the converted positions up to a multiple of 16 */
    float *vf;     /* [n_ctx][head_dim] */
    float *qr;     /* [max_rows][head_dim]: q rounded to half */
    float *scores; /* [max_rows][ld] */
    int ld, n_ctx, head_dim, max_rows;
    int n;         /* positions converted so far from the current k, v */
} hflow_attn_block;

/* Floats of workspace for contexts up to n_ctx and blocks of up to max_rows rows. */
size_t hflow_attn_block_floats(int n_ctx, int head_dim, int max_rows);
/* Lays the workspace out over mem; the block starts empty (n = 0). */
void hflow_attn_block_init(hflow_attn_block *b, float *mem, int n_ctx, int head_dim, int max_rows);

/* out[r][0..head_dim) for rows r < n_rows (<= b->max_rows), each attending
 * over cache positions [0, n_kv[r]) (1 <= n_kv[r] <= b->n_ctx) of the KV head
 * whose K and V rows start at k and v, `stride` halves apart. The positions
 * converted by an earlier call are reused: set b->n = 0 whenever k, v or the
 * cache rows behind them change. out rows must not alias q rows. */
void hflow_attend_f16_rows(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride, int n_rows,
                           const float *const *q, float *const *out, const int *n_kv, float scale);
/* Converts positions [b->n, n) of the KV head ahead (n <= b->n_ctx, those
 * cache rows written): one pass over all the positions a series of calls
 * will need, instead of a few more positions per call. A no-op without
 * AVX-512 (the per-row path reads the cache directly). */
void hflow_attn_block_load(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride, int n);
void hflow_attn_block_load_avx512(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride, int n);
/* The AVX-512 version hflow_attend_f16_rows runs when the CPU has it (x86-64
 * builds only); otherwise it runs hflow_attend_f16 row by row. */
void hflow_attend_f16_rows_avx512(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride,
                                  int n_rows, const float *const *q, float *const *out, const int *n_kv, float scale);

#endif
