/* vecdot_neon.c - NEON dot kernels and activation quantizers for aarch64
 * (compiled only there; baseline ARMv8-A, with SDOT when the compiler targets
 * the dot-product extension). Same scheme as the AVX2 file: integer products
 * per block, one float scale per block, weight blocks decoded once per group
 * of up to GROUP tokens. Activation quantizers are bit exact with the scalar
 * ones (vcvtaq rounds ties away like roundf, vcvtnq to even like rintf). */
#include <arm_neon.h>
#include <string.h>

#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "engine/quant_unpack.h"
#include "engine/vecdot.h"

#define GROUP 4
#define XROW(x, xs, t) ((const char *)(x) + (size_t)(t) * (xs))

/* Sum of 16 products of signed bytes, as int32 lanes. */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_s8(vget_high_s8(a), vget_high_s8(b));
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

static inline int dot32_i(int8x16_t q0, int8x16_t q1, const int8_t *y) {
    int32x4_t acc = dot16(vdupq_n_s32(0), q0, vld1q_s8(y));
    return vaddvq_s32(dot16(acc, q1, vld1q_s8(y + 16)));
}

static inline int sum32_i(const int8_t *y) {
    int16x8_t s = vpaddlq_s8(vld1q_s8(y));
    s = vpadalq_s8(s, vld1q_s8(y + 16)) ;
    return vaddlvq_s16(s);
}

/* ---- float weights ---- */

static inline float32x4_t load4_f32(const void *w, int64_t i) { return vld1q_f32((const float *)w + i); }
static inline float32x4_t load4_f16(const void *w, int64_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)w + i)));
}
static inline float32x4_t load4_bf16(const void *w, int64_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)w + i), 16));
}
static float elem_f32(const void *w, int64_t k) { return ((const float *)w)[k]; }
static float elem_f16(const void *w, int64_t k) { return hflow_fp16_to_fp32(((const uint16_t *)w)[k]); }
static float elem_bf16(const void *w, int64_t k) { return hflow_bf16_to_fp32(((const uint16_t *)w)[k]); }

#define DOT_FLOAT(name)                                                                              \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) { \
        for (int t = 0; t < nx; t++) {                                                               \
            const float *b = (const float *)XROW(x, xs, t);                                          \
            float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);                                    \
            int64_t i = 0;                                                                           \
            for (; i + 8 <= n; i += 8) {                                                             \
                a0 = vfmaq_f32(a0, load4_##name(w, i), vld1q_f32(b + i));                            \
                a1 = vfmaq_f32(a1, load4_##name(w, i + 4), vld1q_f32(b + i + 4));                    \
            }                                                                                        \
            float s = vaddvq_f32(vaddq_f32(a0, a1));                                                 \
            for (; i < n; i++) s += elem_##name(w, i) * b[i];                                        \
            out[t] = s;                                                                              \
        }                                                                                            \
    }
DOT_FLOAT(f32)
DOT_FLOAT(f16)
DOT_FLOAT(bf16)

/* ---- 32-element blocks against Q8_0 ---- */

static inline void nibbles(const uint8_t *qs, int8x16_t *q0, int8x16_t *q1) {
    uint8x16_t raw = vld1q_u8(qs);
    *q0 = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f)));
    *q1 = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
}

/* 0x10 in byte j where bit j of qh is set, for j in 0..15 (q0) and 16..31 (q1). */
static inline void fifth_bits(const uint8_t *qh, int8x16_t *h0, int8x16_t *h1) {
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t m = vld1q_u8(bits), s = vdupq_n_u8(0x10);
    *h0 = vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), m), s));
    *h1 = vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), m), s));
}

#define DOT_BLOCKS32(name, BT, DECODE)                                                                   \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {     \
        const BT *a = w;                                                                                 \
        for (int t0 = 0; t0 < nx; t0 += GROUP) {                                                         \
            int nt = nx - t0 < GROUP ? nx - t0 : GROUP;                                                  \
            float acc[GROUP] = {0};                                                                      \
            for (int64_t i = 0; i < n / 32; i++) {                                                       \
                int8x16_t q0, q1;                                                                        \
                float d, m;                                                                              \
                DECODE;                                                                                  \
                for (int t = 0; t < nt; t++) {                                                           \
                    const block_q8_0 *b = (const block_q8_0 *)XROW(x, xs, t0 + t) + i;                  \
                    float yd = hflow_fp16_to_fp32(b->d);                                                 \
                    float s = d * (float)dot32_i(q0, q1, b->qs);                                         \
                    if (m != 0.0f) s += m * (float)sum32_i(b->qs);                                       \
                    acc[t] += yd * s;                                                                    \
                }                                                                                        \
            }                                                                                            \
            for (int t = 0; t < nt; t++) out[t0 + t] = acc[t];                                           \
        }                                                                                                \
    }

DOT_BLOCKS32(q8_0, block_q8_0,
             (q0 = vld1q_s8(a[i].qs), q1 = vld1q_s8(a[i].qs + 16), d = hflow_fp16_to_fp32(a[i].d), m = 0))
DOT_BLOCKS32(q4_0, block_q4_0,
             (nibbles(a[i].qs, &q0, &q1), q0 = vsubq_s8(q0, vdupq_n_s8(8)), q1 = vsubq_s8(q1, vdupq_n_s8(8)),
              d = hflow_fp16_to_fp32(a[i].d), m = 0))
DOT_BLOCKS32(q4_1, block_q4_1,
             (nibbles(a[i].qs, &q0, &q1), d = hflow_fp16_to_fp32(a[i].d), m = hflow_fp16_to_fp32(a[i].m)))

static inline void decode_q5(const uint8_t *qs, const uint8_t *qh, int bias, int8x16_t *q0, int8x16_t *q1) {
    int8x16_t h0, h1;
    nibbles(qs, q0, q1);
    fifth_bits(qh, &h0, &h1);
    *q0 = vsubq_s8(vorrq_s8(*q0, h0), vdupq_n_s8((int8_t)bias));
    *q1 = vsubq_s8(vorrq_s8(*q1, h1), vdupq_n_s8((int8_t)bias));
}
DOT_BLOCKS32(q5_0, block_q5_0, (decode_q5(a[i].qs, a[i].qh, 16, &q0, &q1), d = hflow_fp16_to_fp32(a[i].d), m = 0))
DOT_BLOCKS32(q5_1, block_q5_1,
             (decode_q5(a[i].qs, a[i].qh, 0, &q0, &q1), d = hflow_fp16_to_fp32(a[i].d), m = hflow_fp16_to_fp32(a[i].m)))

/* ---- K-quants against Q8_K: decode to the unpacked form once per block,
 * then integer dots per 16-element group ---- */

static void dot_unpacked(void (*unpack)(const void *, hflow_unpacked256 *), size_t bsize, int64_t n, const void *w,
                         const void *x, size_t xs, int nx, float *out) {
    hflow_unpacked256 u;
    for (int t = 0; t < nx; t++) out[t] = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack((const char *)w + (size_t)i * bsize, &u);
        int8x16_t q[16];
        for (int g = 0; g < 16; g++) q[g] = vld1q_s8(u.q + 16 * g);
        for (int t = 0; t < nx; t++) {
            const block_q8_K *b = (const block_q8_K *)XROW(x, xs, t) + i;
            int32_t sumi = 0, summ = 0;
            for (int g = 0; g < 16; g++) {
                sumi += u.sc[g] * vaddvq_s32(dot16(vdupq_n_s32(0), q[g], vld1q_s8(b->qs + 16 * g)));
                summ += u.mn[g] * b->bsums[g];
            }
            out[t] += b->d * (u.d * (float)sumi - u.dmin * (float)summ);
        }
    }
}

#define DOT256(name)                                                                                 \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) { \
        dot_unpacked(hflow_unpack_##name, sizeof(block_##name), n, w, x, xs, nx, out);               \
    }
DOT256(q4_K)
DOT256(q5_K)
DOT256(q6_K)

/* ---- activation quantizers ---- */

static void quant_act_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        float32x4_t v[8], mx = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(src + 4 * k);
            mx = vmaxq_f32(mx, vabsq_f32(v[k]));
        }
        float amax = vmaxvq_f32(mx), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hflow_fp32_to_fp16(d);
        for (int k = 0; k < 8; k++) {
            int32x4_t q = vcvtaq_s32_f32(vmulq_n_f32(v[k], id)); /* ties away, like roundf */
            int16x4_t h = vmovn_s32(q);
            int8x8_t c = vmovn_s16(vcombine_s16(h, h));
            vst1_lane_s32((int32_t *)(void *)(b[i].qs + 4 * k), vreinterpret_s32_s8(c), 0);
        }
    }
}

static void quant_act_q8_K(const float *src, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float32x4_t mx = vdupq_n_f32(0);
        for (int k = 0; k < QK_K / 4; k++) mx = vmaxq_f32(mx, vabsq_f32(vld1q_f32(src + 4 * k)));
        float amax = vmaxvq_f32(mx), iscale = amax > 0.0f ? 127.0f / amax : 0.0f;
        b[i].d = amax > 0.0f ? 1.0f / iscale : 0.0f;
        for (int k = 0; k < QK_K / 4; k++) {
            int32x4_t q = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 4 * k), iscale)); /* ties to even */
            q = vmaxq_s32(vminq_s32(q, vdupq_n_s32(127)), vdupq_n_s32(-127));
            int16x4_t h = vmovn_s32(q);
            int8x8_t c = vmovn_s16(vcombine_s16(h, h));
            vst1_lane_s32((int32_t *)(void *)(b[i].qs + 4 * k), vreinterpret_s32_s8(c), 0);
        }
        for (int g = 0; g < QK_K / 16; g++) b[i].bsums[g] = (int16_t)vaddlvq_s8(vld1q_s8(b[i].qs + 16 * g));
    }
}

static void quant_act_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

#define K(T, name, A, act) [HFLOW_TYPE_##T] = {HFLOW_TYPE_##A, dot_##name, quant_act_##act, "neon"},
static const hflow_dot_kernel neon_kernels[HFLOW_TYPE_COUNT] = {HFLOW_DOT_TYPES(K)};

const hflow_dot_kernel *hflow_dot_kernel_neon(uint32_t type) {
    if (type >= HFLOW_TYPE_COUNT || !neon_kernels[type].dot) return NULL;
    return &neon_kernels[type];
}
