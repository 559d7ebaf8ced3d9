/* gemm_avxvnni.c - the gemv and gemm kernels (gemv.h) of Q8_0, Q4_0 and Q5_0
 * weights x Q8_0 activations for CPUs with AVX-VNNI, bit-identical to the
 * AVX2 ones.
 *
 * AVX2 forms each block's 8 int32 lane sums (4 products each) with sign,
 * sign, maddubs and madd; vpdpbusd adds 4 unsigned x signed byte products to
 * an int32 lane in one instruction. Weights are fed as unsigned levels u =
 * q + K (K = 128, 8 or 16 for Q8_0, Q4_0, Q5_0: the byte xor 0x80, or the
 * stored nibbles as they are) and the lane starts at -K * (sum of its 4
 * activations), computed once per activation block and shared by the tile's
 * rows, so the lane ends at sum(q * y) exactly: the same int32 values as the
 * AVX2 path, then the same conversion and fma (quant_avx2.h). */
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant_avx2.h"

/* Block i of a row as unsigned levels q + K; scale in *d. */
HFLOW_INLINE __m256i udec_q8_0(const void *row, int64_t i, float *d) {
    const block_q8_0 *b = (const block_q8_0 *)row + i;
    *d = h2f(b->d);
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_epi8((char)0x80));
}
HFLOW_INLINE __m256i udec_q4_0(const void *row, int64_t i, float *d) {
    const block_q4_0 *b = (const block_q4_0 *)row + i;
    *d = h2f(b->d);
    return nibbles32(b->qs);
}
HFLOW_INLINE __m256i udec_q5_0(const void *row, int64_t i, float *d) {
    const block_q5_0 *b = (const block_q5_0 *)row + i;
    *d = h2f(b->d);
    return _mm256_or_si256(nibbles32(b->qs), fifth_bits32(b->qh));
}

/* tile32 of quant_avx2.h with vpdpbusd; K is the level offset of dec. */
HFLOW_INLINE void vtile32(const int RM, const int RN, dec32_fn dec, const int K, int64_t nb, const char *w,
                          size_t w_row, const char *x, size_t x_row, float *y, int64_t ys) {
    __m256 acc[4][4];
    for (int r = 0; r < RM; r++)
        for (int t = 0; t < RN; t++) acc[r][t] = _mm256_setzero_ps();
    const __m256i kk = _mm256_set1_epi8((char)K); /* K <= 128: as unsigned bytes */
    for (int64_t i = 0; i < nb; i++) {
        __m256i u[4];
        float d[4];
        for (int r = 0; r < RM; r++) u[r] = dec(w + (size_t)r * w_row, i, &d[r]);
        for (int t = 0; t < RN; t++) {
            const block_q8_0 *b = (const block_q8_0 *)(x + (size_t)t * x_row) + i;
            __m256i yv = _mm256_loadu_si256((const __m256i *)b->qs);
            float yd = h2f(b->d);
            __m256i off = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), kk, yv));
            for (int r = 0; r < RM; r++) {
                __m256 s = _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(off, u[r], yv));
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * yd), s, acc[r][t]);
            }
        }
    }
    for (int r = 0; r < RM; r++)
        for (int t = 0; t < RN; t++) y[t * ys + r] = hsum_ps(acc[r][t]);
}

/* Tiles of TM rows x TN tokens (constants per type: the 5-bit decode is
 * dearer, so Q5_0 amortises it over more tokens), edges in narrower tiles. */
HFLOW_INLINE void vgemm32(dec32_fn dec, const int K, const int TM, const int TN, int64_t n, const char *w,
                          size_t w_row, int64_t nrows, const char *x, size_t x_row, int64_t ntok, float *y, int64_t ys) {
    int64_t nb = n / 32, r = 0;
    for (; r + TM <= nrows; r += TM) {
        const char *wr = w + (size_t)r * w_row;
        if (ntok <= 2) hflow_prefetch_tile(wr, (size_t)TM * w_row); /* decode: memory-bound */
        int64_t t = 0;
        for (; t + TN <= ntok; t += TN)
            vtile32(TM, TN, dec, K, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
        for (; t < ntok; t++) vtile32(TM, 1, dec, K, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
    }
    for (; r < nrows; r++) {
        const char *wr = w + (size_t)r * w_row;
        int64_t t = 0;
        for (; t + 4 <= ntok; t += 4)
            vtile32(1, 4, dec, K, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
        for (; t < ntok; t++) vtile32(1, 1, dec, K, nb, wr, w_row, x + (size_t)t * x_row, x_row, y + t * ys + r, ys);
    }
}

/* Tile sizes measured in CPU time on 1536x576 weights x 32 tokens in cache. */
#define VNNI32(name, K, TM, TN)                                                                             \
    static void gemm_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, size_t x_row, \
                            int64_t ntok, float *y, int64_t ys) {                                           \
        vgemm32(udec_##name, K, TM, TN, n, w, w_row, nrows, x, x_row, ntok, y, ys);                         \
    }                                                                                                       \
    static void tile4_##name(int64_t n, const char *w, size_t stride, const void *x, float out[4]) {         \
        vtile32(4, 1, udec_##name, K, n / 32, w, stride, x, 0, out, 0);                                     \
    }                                                                                                       \
    static void row1_##name(int64_t n, const char *w, const void *x, float *out) {                          \
        vtile32(1, 1, udec_##name, K, n / 32, w, 0, x, 0, out, 0);                                          \
    }                                                                                                       \
    HFLOW_GEMV_PAIR(name)
VNNI32(q8_0, 128, 4, 3)
VNNI32(q4_0, 8, 4, 3)
VNNI32(q5_0, 16, 2, 4)

hflow_gemm_fn hflow_gemm_avxvnni(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemm_q8_0;
    case HFLOW_TYPE_Q4_0: return gemm_q4_0;
    case HFLOW_TYPE_Q5_0: return gemm_q5_0;
    default: return NULL;
    }
}

hflow_gemv_fn hflow_gemv_avxvnni(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemv_q8_0;
    case HFLOW_TYPE_Q4_0: return gemv_q4_0;
    case HFLOW_TYPE_Q5_0: return gemv_q5_0;
    default: return NULL;
    }
}

hflow_gemv_seg_fn hflow_gemv_seg_avxvnni(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemv_seg_q8_0;
    case HFLOW_TYPE_Q4_0: return gemv_seg_q4_0;
    case HFLOW_TYPE_Q5_0: return gemv_seg_q5_0;
    default: return NULL;
    }
}
