/* attend_rows.c - the workspace of hflow_attend_f16_rows and its dispatch:
 * the AVX-512 kernel (attend_rows_avx512.c) when the CPU has it and the
 * cache keeps K transposed, else hflow_attend_f16 (AVX2 or scalar) one row
 * at a time. */
#include "engine/attend_rows.h"

#include "base/cpu.h"
#include "engine/ops.h"

static size_t ld_of(int n_ctx) { return ((size_t)n_ctx + 31) & ~(size_t)31; }
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; } /* keeps each array 64-byte aligned */

size_t hflow_attn_block_floats(int n_ctx, int head_dim, int max_rows) {
    size_t ld = ld_of(n_ctx), hd = (size_t)head_dim, rows = (size_t)max_rows;
    return up16(rows * hd) + up16(rows * ld);
}

void hflow_attn_block_init(hflow_attn_block *b, float *mem, int n_ctx, int head_dim, int max_rows) {
    b->qr = mem;
    b->scores = b->qr + up16((size_t)max_rows * (size_t)head_dim);
    b->ld = (int)ld_of(n_ctx);
    b->head_dim = head_dim;
}

void hflow_attend_f16_rows(hflow_attn_block *b, const hflow_kv_head *h, int n_rows, const float *const *q,
                           float *const *out, const int *n_kv, float scale) {
#if defined(__x86_64__) || defined(_M_X64)
    if (h->kt && hflow_cpu_has_avx512()) {
        hflow_attend_f16_rows_avx512(b, h, n_rows, q, out, n_kv, scale);
        return;
    }
#endif
    for (int r = 0; r < n_rows; r++)
        hflow_attend_f16(out[r], q[r], h->k, h->v, h->stride, n_kv[r], b->head_dim, scale, b->scores);
}
