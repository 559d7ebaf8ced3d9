/* gemv_avx2.c - 4-row decode kernels (gemv.h) for AVX2/FMA/F16C.
 * Q8_0 weights x Q8_0 activations, with exactly the per-block arithmetic of
 * the Q8_0 dot kernel in vecdot_avx2.c (sign trick, maddubs, madd, one fma per
 * block with scale d_w * d_x), so the outputs are identical. */
#include <immintrin.h>

#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant_blocks.h"

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 dot_s8(__m256i q, __m256i y) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* R rows (R = 4 or 1) starting at w; R is a compile-time constant at each call. */
static inline void q8_0_rows(int R, int64_t nb, const char *w, size_t w_row, const block_q8_0 *y, float *out) {
    __m256 acc[4];
    const block_q8_0 *a[4];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        a[r] = (const block_q8_0 *)(w + (size_t)r * w_row);
    }
    for (int64_t i = 0; i < nb; i++) {
        __m256i yv = _mm256_loadu_si256((const __m256i *)y[i].qs);
        float yd = _cvtsh_ss(y[i].d);
        for (int r = 0; r < R; r++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)a[r][i].qs);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(a[r][i].d) * yd), dot_s8(q, yv), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = hsum_ps(acc[r]);
}

static void gemv_q8_0(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, float *out) {
    const char *wb = w;
    int64_t nb = n / 32, r = 0;
    for (; r + 4 <= nrows; r += 4) q8_0_rows(4, nb, wb + (size_t)r * w_row, w_row, x, out + r);
    for (; r < nrows; r++) q8_0_rows(1, nb, wb + (size_t)r * w_row, w_row, x, out + r);
}

hflow_gemv_fn hflow_gemv_avx2(uint32_t type) { return type == HFLOW_TYPE_Q8_0 ? gemv_q8_0 : NULL; }
