/* attend_f16_avx2.c - hflow_attend_f16 with F16C conversions, bit-identical
 * to the scalar hflow_attend_f16_ref.
 *
 * F16C conversions are exact (and round to nearest even like the scalar
 * ones), so equality only needs the same f32 operations in the same order:
 * - K q: each score is a sequential sum over d. Eight positions are done at
 *   once, one per lane: an 8x8 tile of K (8 positions x 8 dims) is transposed
 *   in half precision so that lane l of row r holds k[j+l][d+r], and row r is
 *   added in d order. Every product is of two half-precision values, hence
 *   exact in f32 (11 + 11 significant bits), so a fused multiply-add rounds
 *   exactly like the scalar code's separate multiply and add.
 * - V w: out[d] is a sequential sum over positions with independent lanes
 *   across d, which vectorises without reordering anything. */
#include <immintrin.h>

#include "engine/ops.h"
#include "engine/transpose_sse.h"

static inline float round_f16(float x) { return _cvtsh_ss(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT)); }

/* scores[j..j+8) for 8 positions. */
static void scores8(const float *qr, const uint16_t *k, size_t stride, int head_dim, float scale, float *scores) {
    __m256 acc = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= head_dim; d += 8) {
        __m128i t[8];
        for (int l = 0; l < 8; l++) t[l] = _mm_loadu_si128((const __m128i *)(k + (size_t)l * stride + d));
        transpose8x8_epi16(t);
        for (int r = 0; r < 8; r++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(qr[d + r]), _mm256_cvtph_ps(t[r]), acc);
    }
    for (; d < head_dim; d++) {
        uint16_t col[8];
        for (int l = 0; l < 8; l++) col[l] = k[(size_t)l * stride + d];
        __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)col));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qr[d]), kv, acc);
    }
    _mm256_storeu_ps(scores, _mm256_mul_ps(acc, _mm256_set1_ps(scale)));
}

void hflow_attend_f16_avx2(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                           int head_dim, float scale, float *scores) {
    float *qr = out; /* out doubles as the rounded copy of q until the V product */
    for (int d = 0; d < head_dim; d++) qr[d] = round_f16(q[d]);
    int j = 0;
    for (; j + 8 <= n_kv; j += 8) scores8(qr, k + (size_t)j * stride, stride, head_dim, scale, scores + j);
    for (; j < n_kv; j++) {
        const uint16_t *kj = k + (size_t)j * stride;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; d++) dot += qr[d] * _cvtsh_ss(kj[d]);
        scores[j] = dot * scale;
    }
    hflow_softmax(scores, n_kv);
    int d = 0;
    for (; d + 32 <= head_dim; d += 32) { /* 4 accumulators per pass over the positions */
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        for (j = 0; j < n_kv; j++) {
            const uint16_t *vj = v + (size_t)j * stride + d;
            __m256 p = _mm256_set1_ps(round_f16(scores[j]));
            o0 = _mm256_fmadd_ps(p, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vj)), o0);
            o1 = _mm256_fmadd_ps(p, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vj + 8))), o1);
            o2 = _mm256_fmadd_ps(p, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vj + 16))), o2);
            o3 = _mm256_fmadd_ps(p, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vj + 24))), o3);
        }
        _mm256_storeu_ps(out + d, o0);
        _mm256_storeu_ps(out + d + 8, o1);
        _mm256_storeu_ps(out + d + 16, o2);
        _mm256_storeu_ps(out + d + 24, o3);
    }
    for (; d + 8 <= head_dim; d += 8) {
        __m256 o = _mm256_setzero_ps();
        for (j = 0; j < n_kv; j++) {
            const uint16_t *vj = v + (size_t)j * stride + d;
            __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vj));
            o = _mm256_fmadd_ps(_mm256_set1_ps(round_f16(scores[j])), vv, o);
        }
        _mm256_storeu_ps(out + d, o);
    }
    for (; d < head_dim; d++) {
        float o = 0.0f;
        for (j = 0; j < n_kv; j++) o += round_f16(scores[j]) * _cvtsh_ss(v[(size_t)j * stride + d]);
        out[d] = o;
    }
}
