/* ops_avx2.c - AVX2/FMA versions of the non-matmul ops (x86-64; chosen at
 * run time by ops.c). Each equals its scalar reference in ops.c up to float
 * summation order (tests/test_ops.c): sums of squares and softmax sums stay in
 * double as there, and exp is a polynomial accurate to about 2 ulp. */
#include <immintrin.h>
#include <math.h>

#include "engine/ops.h"

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* Adds the squares (in double) / the values (in double) of 8 floats to acc. */
static inline __m256d acc_sq(__m256d acc, __m256 v) {
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    return _mm256_fmadd_pd(hi, hi, _mm256_fmadd_pd(lo, lo, acc));
}
static inline __m256d acc_sum(__m256d acc, __m256 v) {
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    return _mm256_add_pd(acc, _mm256_add_pd(lo, hi));
}

/* e^x: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial
 * (Cephes expf coefficients), 2^n put into the exponent bits. Inputs are
 * clamped to where the result is a normal float. */
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33f)), _mm256_set1_ps(88.37f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* Up to 4 rows at once: each row's sum of squares is a dependent chain of
 * fused multiply-adds, so rows side by side fill the pipeline; every row gets
 * exactly the operations it gets alone (the single-row entry is this with 1). */
static inline __attribute__((always_inline)) void rmsnorm_group(float *out, const float *x, const float *w, int n,
                                                                 int nr, float eps) {
    __m256d acc[4];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int r = 0; r < nr; r++) acc[r] = acc_sq(acc[r], _mm256_loadu_ps(x + (size_t)r * n + i));
    for (int r = 0; r < nr; r++) {
        const float *xr = x + (size_t)r * n;
        float *o = out + (size_t)r * n;
        double ss = hsum4d(acc[r]);
        for (int k = i; k < n; k++) /* explicit fma: the same rounding whatever the compiler contracts */
            ss = _mm_cvtsd_f64(_mm_fmadd_sd(_mm_set_sd((double)xr[k]), _mm_set_sd((double)xr[k]), _mm_set_sd(ss)));
        float scale = 1.0f / sqrtf((float)(ss / n) + eps);
        __m256 vs = _mm256_set1_ps(scale);
        int k = 0;
        for (; k + 8 <= n; k += 8) {
            __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + k), vs);
            _mm256_storeu_ps(o + k, w ? _mm256_mul_ps(v, _mm256_loadu_ps(w + k)) : v);
        }
        for (; k < n; k++) o[k] = xr[k] * scale * (w ? w[k] : 1.0f);
    }
}

void hflow_rmsnorm_rows_avx2(float *out, const float *x, const float *w, int n, int n_rows, float eps) {
    int r = 0;
    for (; r + 4 <= n_rows; r += 4) rmsnorm_group(out + (size_t)r * n, x + (size_t)r * n, w, n, 4, eps);
    for (; r < n_rows; r++) rmsnorm_group(out + (size_t)r * n, x + (size_t)r * n, w, n, 1, eps);
}

void hflow_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps) {
    hflow_rmsnorm_rows_avx2(out, x, w, n, 1, eps);
}

void hflow_softmax_avx2(float *x, int n) {
    __m256 vmax = _mm256_set1_ps(x[0]);
    int i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float max = _mm_cvtss_f32(m4);
    for (; i < n; i++)
        if (x[i] > max) max = x[i];
    __m256d acc = _mm256_setzero_pd();
    __m256 vm = _mm256_set1_ps(max);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = acc_sum(acc, e);
    }
    double sum = hsum4d(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    for (; i < n; i++) x[i] *= inv;
}

void hflow_swiglu_avx2(float *gate, const float *up, int n) {
    int i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void hflow_vec_add_avx2(float *y, const float *x, int n) {
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 32; k += 8)
            _mm256_storeu_ps(y + i + k, _mm256_add_ps(_mm256_loadu_ps(y + i + k), _mm256_loadu_ps(x + i + k)));
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

static inline float dot_f32(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= n; d += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    }
    for (; d + 8 <= n; d += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; d < n; d++) s += a[d] * b[d];
    return s;
}

/* out[0..w) = sum_j p_j v_j[0..w) for w <= 32, the 4 accumulators in registers. */
static inline void weighted_sum32(float *out, const float *p, const float *v, size_t stride, int n_kv, int w) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < n_kv; j++) {
        const float *vj = v + (size_t)j * stride;
        __m256 pj = _mm256_set1_ps(p[j]);
        a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj), a0);
        if (w > 8) a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8), a1);
        if (w > 16) a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 16), a2);
        if (w > 24) a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 24), a3);
    }
    _mm256_storeu_ps(out, a0);
    if (w > 8) _mm256_storeu_ps(out + 8, a1);
    if (w > 16) _mm256_storeu_ps(out + 16, a2);
    if (w > 24) _mm256_storeu_ps(out + 24, a3);
}

void hflow_attend_avx2(float *out, const float *q, const float *k, const float *v, size_t stride, int n_kv,
                       int head_dim, float scale, float *scores) {
    for (int j = 0; j < n_kv; j++) scores[j] = dot_f32(q, k + (size_t)j * stride, head_dim) * scale;
    hflow_softmax_avx2(scores, n_kv);
    int d = 0;
    for (; d + 32 <= head_dim; d += 32) weighted_sum32(out + d, scores, v + d, stride, n_kv, 32);
    int w8 = (head_dim - d) / 8 * 8;
    if (w8) weighted_sum32(out + d, scores, v + d, stride, n_kv, w8);
    for (d += w8; d < head_dim; d++) {
        float s = 0.0f;
        for (int j = 0; j < n_kv; j++) s += scores[j] * v[(size_t)j * stride + d];
        out[d] = s;
    }
}

/* Keeps the compiler from fusing a product into the following add or
 * subtract (the scalar reference rounds both products first). */
#define NO_FUSE(v) __asm__("" : "+x"(v))

static inline void rope_pair(float *hx, int a, int b, float c, float s) {
    float x0 = hx[a], x1 = hx[b], p0 = x0 * c, p1 = x1 * s, p2 = x0 * s, p3 = x1 * c;
    NO_FUSE(p0);
    NO_FUSE(p1);
    NO_FUSE(p2);
    NO_FUSE(p3);
    hx[a] = p0 - p1;
    hx[b] = p2 + p3;
}

/* Adjacent pairs: x = [x0 x1 x0' x1' ...], cs = [c s c' s' ...]; addsub gives
 * x0 c - x1 s in even lanes and x1 c + x0 s in odd ones. */
static void rope_head_norm(float *hx, int n_rot, const float *cs) {
    int i = 0;
    for (; i + 8 <= n_rot; i += 8) {
        __m256 x = _mm256_loadu_ps(hx + i), t = _mm256_loadu_ps(cs + i);
        __m256 p = _mm256_mul_ps(x, _mm256_moveldup_ps(t));
        __m256 q = _mm256_mul_ps(_mm256_permute_ps(x, 0xB1), _mm256_movehdup_ps(t));
        NO_FUSE(p);
        NO_FUSE(q);
        _mm256_storeu_ps(hx + i, _mm256_addsub_ps(p, q));
    }
    for (; i + 2 <= n_rot; i += 2) rope_pair(hx, i, i + 1, cs[i], cs[i + 1]);
}

/* Halves: pair i is (x[i], x[i + n_rot/2]); cos and sin de-interleaved from cs. */
static void rope_head_neox(float *hx, int n_rot, const float *cs) {
    int half = n_rot / 2, i = 0;
    for (; i + 8 <= half; i += 8) {
        __m256 lo = _mm256_loadu_ps(cs + 2 * i), hi = _mm256_loadu_ps(cs + 2 * i + 8);
        __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
        __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
        __m256 x0 = _mm256_loadu_ps(hx + i), x1 = _mm256_loadu_ps(hx + half + i);
        __m256 p0 = _mm256_mul_ps(x0, c), p1 = _mm256_mul_ps(x1, s), p2 = _mm256_mul_ps(x0, s), p3 = _mm256_mul_ps(x1, c);
        NO_FUSE(p0);
    NO_FUSE(p1);
    NO_FUSE(p2);
    NO_FUSE(p3);
        _mm256_storeu_ps(hx + i, _mm256_sub_ps(p0, p1));
        _mm256_storeu_ps(hx + half + i, _mm256_add_ps(p2, p3));
    }
    for (; i < half; i++) rope_pair(hx, i, i + half, cs[2 * i], cs[2 * i + 1]);
}

void hflow_rope_apply_avx2(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int neox) {
    for (int h = 0; h < n_heads; h++) {
        if (neox) rope_head_neox(x + (size_t)h * head_dim, n_rot, cs);
        else rope_head_norm(x + (size_t)h * head_dim, n_rot, cs);
    }
}
