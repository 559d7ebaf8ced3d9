/* gemm_avx2.c - register-tiled prefill kernels (gemv.h's hflow_gemm_fn) for
 * AVX2/FMA/F16C: Q8_0, Q4_0 and Q5_0 weights x Q8_0 activations.
 *
 * The dot kernels decode a weight block once for up to 4 tokens but reload
 * and reconvert each token's activation block and scale for every row. Here
 * a tile of TM rows x TN tokens keeps TM decoded weight blocks and TM * TN
 * accumulators live, so per block a weight is decoded once per TN tokens and
 * an activation block loaded once per TM rows. The per-block arithmetic is
 * that of the dot kernels (quant_avx2.h), so results are bit-identical. */
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant_avx2.h"

#define TM 4
#define TN 3

/* Rows [0, nrows) x tokens [0, ntok) in tiles, edges in narrower tiles. */
HFLOW_INLINE void gemm32(dec32_fn dec, int64_t n, const char *w, size_t w_row, int64_t nrows, const char *x,
                         size_t x_row, int64_t ntok, float *y, int64_t ys) {
    int64_t nb = n / 32, r = 0;
    for (; r + TM <= nrows; r += TM) {
        const char *wr = w + (size_t)r * w_row;
        int64_t t = 0;
        for (; t + TN <= ntok; t += TN) tile32(TM, TN, dec, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
        for (; t < ntok; t++) tile32(TM, 1, dec, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
    }
    for (; r < nrows; r++) {
        const char *wr = w + (size_t)r * w_row;
        int64_t t = 0;
        for (; t + 4 <= ntok; t += 4) tile32(1, 4, dec, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
        for (; t < ntok; t++) tile32(1, 1, dec, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
    }
}

#define GEMM32(name)                                                                                    \
    static void gemm_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, size_t x_row, \
                            int64_t ntok, float *y, int64_t ys) {                                       \
        gemm32(dec_##name, n, w, w_row, nrows, x, x_row, ntok, y, ys);                                  \
    }
GEMM32(q8_0)
GEMM32(q4_0)
GEMM32(q5_0)

hflow_gemm_fn hflow_gemm_avx2(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemm_q8_0;
    case HFLOW_TYPE_Q4_0: return gemm_q4_0;
    case HFLOW_TYPE_Q5_0: return gemm_q5_0;
    default: return NULL;
    }
}
