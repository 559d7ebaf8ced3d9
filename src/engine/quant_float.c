/* quant_float.c - fp16 and bf16 <-> fp32 conversions, round to nearest even.
 * Pure bit manipulation (no tables) so there is no global state to set up;
 * the AVX2 kernels use F16C instead where speed matters. */
#include <math.h>
#include <string.h>

#include "engine/quant.h"

#include "base/cpu.h"

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float hflow_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf / NaN */
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 is exact in f32 */
        float v = (float)mant * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t hflow_fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00;      /* NaN stays a quiet NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00;     /* rounds to or beyond 65520: inf */
    if (a < 0x38800000u) {                          /* below 2^-14: half subnormal */
        float v = bits_f32(a) * 16777216.0f;        /* in units of 2^-24, exact */
        return sign | (uint16_t)lrintf(v);          /* default mode rounds to even */
    }
    a += 0xfffu + ((a >> 13) & 1u);                 /* round to nearest even */
    a -= (uint32_t)(127 - 15) << 23;
    return sign | (uint16_t)(a >> 13);
}

void hflow_fp32_to_fp16_row(const float *src, uint16_t *dst, int64_t n) {
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx2_fma_f16c()) {
        hflow_fp32_to_fp16_row_avx2(src, dst, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = hflow_fp32_to_fp16(src[i]);
}

float hflow_bf16_to_fp32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t hflow_fp32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
