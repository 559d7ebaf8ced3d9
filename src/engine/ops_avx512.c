/* ops_avx512.c - AVX-512 softmax and SwiGLU, equal bit for bit to the AVX2
 * versions in ops_avx2.c (so choosing them changes no result):
 * - every element goes through the same operations as there (the same exp
 *   polynomial, clamps and operand orders, 16 lanes instead of 8);
 * - the softmax sum keeps the AVX2 order: per 8 values, four double lanes
 *   gain (v[l] + v[l+4]) in turn, then the same horizontal sum; values past
 *   the last multiple of 8 take the scalar expf path as there. */
#include <immintrin.h>
#include <math.h>

#include "engine/ops.h"

/* exp8 of ops_avx2.c on 16 lanes: the same constants, operations and order. */
static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33f)), _mm512_set1_ps(88.37f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* acc += (v[0..4) + v[4..8)) in double, as acc_sum of ops_avx2.c does for 8 floats. */
static inline __m256d acc_sum8(__m256d acc, __m256 v) {
    __m512d d = _mm512_cvtps_pd(v);
    return _mm256_add_pd(acc, _mm256_add_pd(_mm512_castpd512_pd256(d), _mm512_extractf64x4_pd(d, 1)));
}

/* round_f16: also round each result to half precision (to nearest even). */
static inline __attribute__((always_inline)) void softmax(float *x, int n, int round_f16) {
    int n8 = n / 8 * 8, i = 0;
    __m512 vmax = _mm512_set1_ps(x[0]);
    for (; i + 16 <= n8; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
    if (i < n8) vmax = _mm512_max_ps(vmax, _mm512_castps256_ps512(_mm256_loadu_ps(x + i))); /* upper lanes: x[0] */
    float max = _mm512_reduce_max_ps(vmax);
    for (i = n8; i < n; i++)
        if (x[i] > max) max = x[i];
    __m256d acc = _mm256_setzero_pd();
    __m512 vm = _mm512_set1_ps(max);
    for (i = 0; i + 16 <= n8; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        acc = acc_sum8(acc, _mm512_castps512_ps256(e));
        acc = acc_sum8(acc, _mm512_extractf32x8_ps(e, 1));
    }
    if (i < n8) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(0xFF, x + i), vm));
        _mm256_storeu_ps(x + i, _mm512_castps512_ps256(e));
        acc = acc_sum8(acc, _mm512_castps512_ps256(e));
    }
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
    double sum = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    for (i = n8; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    __m512 vi = _mm512_set1_ps(inv);
    for (i = 0; i < n; i += 16) { /* x[i] * inv per element, as the AVX2 vector and scalar paths both do */
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vi);
        if (round_f16) p = _mm512_cvtph_ps(_mm512_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm512_mask_storeu_ps(x + i, m, p);
    }
}

void hflow_softmax_avx512(float *x, int n) { softmax(x, n, 0); }
void hflow_softmax_f16_avx512(float *x, int n) { softmax(x, n, 1); }

void hflow_swiglu_avx512(float *gate, const float *up, int n) {
    int n8 = n / 8 * 8, i = 0;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (; i < n8; i += 16) {
        __mmask16 m = n8 - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)0xFF;
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
    for (i = n8; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
