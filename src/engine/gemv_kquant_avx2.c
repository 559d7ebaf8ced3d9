/* gemv_kquant_avx2.c - decode kernels (gemv.h) for Q4_K, Q5_K and Q6_K
 * weights x Q8_K activations: 4 rows per pass over the activation row, read
 * as far-apart streams with prefetch (hflow_gemv_streams), each row through
 * kquant_avx2.h's superblock steps exactly as the dot kernel does, so the
 * results are identical. */
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/kquant_avx2.h"

#define ROW(w, stride, r, T) ((const T *)((w) + (size_t)(r) * (stride)))

HFLOW_INLINE void k4_rows(const int RM, int is_q5, int64_t n, const char *w, size_t stride, const void *x,
                          float *out) {
    __m256 acc[4];
    float accm[4] = {0};
    for (int r = 0; r < RM; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const block_q8_K *b = (const block_q8_K *)x + i;
        for (int r = 0; r < RM; r++) {
            __m256i q[8];
            k4_scales_t k;
            float d, dmin;
            k4_superblock(is_q5, w + (size_t)r * stride, i, q, &k, &d, &dmin);
            k4_accum(q, k, d, dmin, b, &acc[r], &accm[r]);
        }
    }
    for (int r = 0; r < RM; r++) out[r] = hsum_ps(acc[r]) - accm[r];
}

HFLOW_INLINE void q6k_rows(const int RM, int64_t n, const char *w, size_t stride, const void *x, float *out) {
    __m256 acc[4];
    for (int r = 0; r < RM; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const block_q8_K *b = (const block_q8_K *)x + i;
        for (int r = 0; r < RM; r++) {
            const block_q6_K *a = ROW(w, stride, r, block_q6_K) + i;
            __m256i q[8], sc[8], sc16;
            q6k_levels(a, q, sc, &sc16);
            q6k_accum(q, sc, sc16, h2f(a->d), b, &acc[r]);
        }
    }
    for (int r = 0; r < RM; r++) out[r] = hsum_ps(acc[r]);
}

static void tile4_q4_K(int64_t n, const char *w, size_t stride, const void *x, float out[4]) {
    k4_rows(4, 0, n, w, stride, x, out);
}
static void row1_q4_K(int64_t n, const char *w, const void *x, float *out) { k4_rows(1, 0, n, w, 0, x, out); }
static void tile4_q5_K(int64_t n, const char *w, size_t stride, const void *x, float out[4]) {
    k4_rows(4, 1, n, w, stride, x, out);
}
static void row1_q5_K(int64_t n, const char *w, const void *x, float *out) { k4_rows(1, 1, n, w, 0, x, out); }
static void tile4_q6_K(int64_t n, const char *w, size_t stride, const void *x, float out[4]) {
    q6k_rows(4, n, w, stride, x, out);
}
static void row1_q6_K(int64_t n, const char *w, const void *x, float *out) { q6k_rows(1, n, w, 0, x, out); }

HFLOW_GEMV_PAIR(q4_K)
HFLOW_GEMV_PAIR(q5_K)
HFLOW_GEMV_PAIR(q6_K)

hflow_gemv_fn hflow_gemv_kquant_avx2(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q4_K: return gemv_q4_K;
    case HFLOW_TYPE_Q5_K: return gemv_q5_K;
    case HFLOW_TYPE_Q6_K: return gemv_q6_K;
    default: return NULL;
    }
}

hflow_gemv_seg_fn hflow_gemv_seg_kquant_avx2(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q4_K: return gemv_seg_q4_K;
    case HFLOW_TYPE_Q5_K: return gemv_seg_q5_K;
    case HFLOW_TYPE_Q6_K: return gemv_seg_q6_K;
    default: return NULL;
    }
}
