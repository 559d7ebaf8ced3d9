/* vecdot_avx2.c - AVX2/FMA/F16C dot kernels and activation quantizers
 * (x86-64; selected at run time by hflow_dot_kernel_get).
 *
 * Integer kernels follow llama.cpp's scheme: weights are expanded to bytes,
 * products formed with maddubs (unsigned x signed bytes -> pairs summed into
 * int16), widened with madd, scaled once per block in float. Each call walks
 * the weight row once per group of up to GROUP tokens, decoding a weight block
 * once and using it for every token of the group. Results equal the scalar
 * reference up to float summation order; the activation quantizers are bit
 * exact with the scalar ones. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "engine/kquant_avx2.h"
#include "engine/quant_avx2.h"
#include "engine/quant_blocks.h"
#include "engine/quant_unpack.h"
#include "engine/ggml_type.h"
#include "engine/vecdot.h"

#define GROUP 4

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

#define XROW(x, xs, t) ((const char *)(x) + (size_t)(t) * (xs))

/* ---- float weights ---- */

typedef __m256 (*load8_fn)(const void *w, int64_t i);
static inline __m256 load8_f32(const void *w, int64_t i) { return _mm256_loadu_ps((const float *)w + i); }
static inline __m256 load8_f16(const void *w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
}
static inline __m256 load8_bf16(const void *w, int64_t i) {
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* One weight row against up to GROUP f32 vectors; tail elements in scalar. */
static inline void dot_float_group(int64_t n, const void *w, load8_fn load, float (*elem)(const void *, int64_t),
                                   const void *x, size_t xs, int nt, float *out) {
    __m256 acc[GROUP][2];
    for (int t = 0; t < nt; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = load(w, i), w1 = load(w, i + 8);
        for (int t = 0; t < nt; t++) {
            const float *b = (const float *)XROW(x, xs, t);
            acc[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + i), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + i + 8), acc[t][1]);
        }
    }
    for (int t = 0; t < nt; t++) {
        const float *b = (const float *)XROW(x, xs, t);
        float s = hsum_ps(_mm256_add_ps(acc[t][0], acc[t][1]));
        for (int64_t k = i; k < n; k++) s += elem(w, k) * b[k];
        out[t] = s;
    }
}

static float elem_f32(const void *w, int64_t k) { return ((const float *)w)[k]; }
static float elem_f16(const void *w, int64_t k) { return h2f(((const uint16_t *)w)[k]); }
static float elem_bf16(const void *w, int64_t k) {
    uint32_t u = (uint32_t)((const uint16_t *)w)[k] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define DOT_FLOAT(name)                                                                                  \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {     \
        for (int t0 = 0; t0 < nx; t0 += GROUP)                                                           \
            dot_float_group(n, w, load8_##name, elem_##name, XROW(x, xs, t0), xs,                        \
                            nx - t0 < GROUP ? nx - t0 : GROUP, out + t0);                                \
    }
DOT_FLOAT(f32)
DOT_FLOAT(f16)
DOT_FLOAT(bf16)

/* ---- 32-element blocks against Q8_0 activations ---- */

/* Unsigned bytes q (<= 31) times signed bytes y. */
static inline __m256 dot_u8(__m256i q, __m256i y) {
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q, y), _mm256_set1_epi16(1)));
}

/* Kernel body shared by Q4_0/Q5_0/Q8_0 (signed q, no offset) and Q4_1/Q5_1
 * (unsigned q plus offset m * sum(y)). DECODE sets q, d and m for block i. */
#define DOT_BLOCKS32(name, BT, SIGNED, DECODE)                                                           \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {     \
        const BT *a = w;                                                                                 \
        const int64_t nb = n / 32;                                                                       \
        for (int t0 = 0; t0 < nx; t0 += GROUP) {                                                         \
            int nt = nx - t0 < GROUP ? nx - t0 : GROUP;                                                  \
            __m256 acc[GROUP];                                                                           \
            for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();                                   \
            for (int64_t i = 0; i < nb; i++) {                                                           \
                __m256i q;                                                                               \
                float d, m;                                                                              \
                DECODE;                                                                                  \
                (void)m;                                                                                 \
                for (int t = 0; t < nt; t++) {                                                           \
                    const block_q8_0 *b = (const block_q8_0 *)XROW(x, xs, t0 + t) + i;                  \
                    __m256i y = _mm256_loadu_si256((const __m256i *)b->qs);                              \
                    float yd = h2f(b->d);                                                                \
                    if (SIGNED) {                                                                        \
                        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * yd), dot_s8(q, y), acc[t]);          \
                    } else {                                                                             \
                        __m256 sy = dot_u8(_mm256_set1_epi8(1), y);                                      \
                        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * yd), dot_u8(q, y), acc[t]);          \
                        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(m * yd), sy, acc[t]);                    \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
            for (int t = 0; t < nt; t++) out[t0 + t] = hsum_ps(acc[t]);                                  \
        }                                                                                                \
    }

DOT_BLOCKS32(q8_0, block_q8_0, 1, (q = dec_q8_0(a, i, &d), m = 0))
DOT_BLOCKS32(q4_0, block_q4_0, 1, (q = dec_q4_0(a, i, &d), m = 0))
DOT_BLOCKS32(q5_0, block_q5_0, 1, (q = dec_q5_0(a, i, &d), m = 0))
DOT_BLOCKS32(q4_1, block_q4_1, 0, (q = nibbles32(a[i].qs), d = h2f(a[i].d), m = h2f(a[i].m)))
DOT_BLOCKS32(q5_1, block_q5_1, 0,
             (q = _mm256_or_si256(nibbles32(a[i].qs), fifth_bits32(a[i].qh)), d = h2f(a[i].d), m = h2f(a[i].m)))

/* ---- K-quants against Q8_K activations (steps in kquant_avx2.h) ---- */

/* Q4_K (is_q5 = 0) and Q5_K rows against GROUP tokens at a time. */
HFLOW_INLINE void dot_k4(int is_q5, int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    for (int t0 = 0; t0 < nx; t0 += GROUP) {
        int nt = nx - t0 < GROUP ? nx - t0 : GROUP;
        __m256 acc[GROUP];
        float accm[GROUP] = {0};
        for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < n / QK_K; i++) {
            __m256i q[8];
            k4_scales_t ks;
            float d, dmin;
            k4_superblock(is_q5, w, i, q, &ks, &d, &dmin);
            for (int t = 0; t < nt; t++)
                k4_accum(q, ks, d, dmin, (const block_q8_K *)XROW(x, xs, t0 + t) + i, &acc[t], &accm[t]);
        }
        for (int t = 0; t < nt; t++) out[t0 + t] = hsum_ps(acc[t]) - accm[t];
    }
}

static void dot_q4_K(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    dot_k4(0, n, w, x, xs, nx, out);
}

static void dot_q5_K(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    dot_k4(1, n, w, x, xs, nx, out);
}

static void dot_q6_K(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    const block_q6_K *a = w;
    for (int t0 = 0; t0 < nx; t0 += GROUP) {
        int nt = nx - t0 < GROUP ? nx - t0 : GROUP;
        __m256 acc[GROUP];
        for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < n / QK_K; i++) {
            __m256i q[8], sc[8], sc16;
            q6k_levels(&a[i], q, sc, &sc16);
            for (int t = 0; t < nt; t++)
                q6k_accum(q, sc, sc16, h2f(a[i].d), (const block_q8_K *)XROW(x, xs, t0 + t) + i, &acc[t]);
        }
        for (int t = 0; t < nt; t++) out[t0 + t] = hsum_ps(acc[t]);
    }
}

/* ---- activation quantizers (bit-exact with the scalar ones) ---- */

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* 32 int32 (4 vectors) to 32 int8 in order. */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i r = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* roundf: ties away from zero. */
static inline __m256i round_away(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_sub_ps(v, t);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign, frac), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(away, one)));
}

static void quant_act_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(src + 8 * k);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
        }
        float amax = hmax_ps(mx), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = _cvtss_sh(d, 0);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = round_away(_mm256_mul_ps(v[k], vid));
        _mm256_storeu_si256((__m256i *)b[i].qs, pack32(q[0], q[1], q[2], q[3]));
    }
}

static void quant_act_q8_K(const float *src, void *dst, int64_t n) {
    block_q8_K *b = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < QK_K / 8; k++) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(src + 8 * k)));
        float amax = hmax_ps(mx), iscale = amax > 0.0f ? 127.0f / amax : 0.0f;
        b[i].d = amax > 0.0f ? 1.0f / iscale : 0.0f;
        __m256 vis = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
        for (int g = 0; g < QK_K / 32; g++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(src + 32 * g + 8 * k), vis),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_max_epi32(nlim, _mm256_min_epi32(lim, _mm256_cvtps_epi32(r)));
            }
            b[i].bsums[2 * g] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
            b[i].bsums[2 * g + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(b[i].qs + 32 * g), pack32(q[0], q[1], q[2], q[3]));
        }
    }
}

static void quant_act_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

#define K(T, name, A, act) [HFLOW_TYPE_##T] = {HFLOW_TYPE_##A, dot_##name, quant_act_##act, "avx2"},
static const hflow_dot_kernel avx2_kernels[HFLOW_TYPE_COUNT] = {HFLOW_DOT_TYPES(K)};

const hflow_dot_kernel *hflow_dot_kernel_avx2(uint32_t type) {
    if (type >= HFLOW_TYPE_COUNT || !avx2_kernels[type].dot) return NULL;
    return &avx2_kernels[type];
}
