/* quant_unpack.h - blocks decoded to small integers plus scales.
 *
 * Every format is "value = d * scale_i * q - dmin * min_i" for sub-block i,
 * with integer q, scale and min. Decoding to that form once gives the scalar
 * dequantizers and the scalar reference dot products the same source of
 * truth; SIMD kernels reach the same integers by other routes. */
#ifndef HFLOW_ENGINE_QUANT_UNPACK_H
#define HFLOW_ENGINE_QUANT_UNPACK_H
#include <stdint.h>

/* 32-element formats: value = d * q + m (q already offset, e.g. -8..7 for Q4_0). */
typedef struct {
    int8_t q[32];
    float d, m;
} hflow_unpacked32;

/* K-quant super-block: value = d * sc[i] * q - dmin * mn[i], i = element / 16. */
typedef struct {
    int8_t q[256];
    int16_t sc[16], mn[16];
    float d, dmin;
} hflow_unpacked256;

void hflow_unpack_q4_0(const void *blk, hflow_unpacked32 *u);
void hflow_unpack_q4_1(const void *blk, hflow_unpacked32 *u);
void hflow_unpack_q5_0(const void *blk, hflow_unpacked32 *u);
void hflow_unpack_q5_1(const void *blk, hflow_unpacked32 *u);
void hflow_unpack_q8_0(const void *blk, hflow_unpacked32 *u);

void hflow_unpack_q2_K(const void *blk, hflow_unpacked256 *u);
void hflow_unpack_q3_K(const void *blk, hflow_unpacked256 *u);
void hflow_unpack_q4_K(const void *blk, hflow_unpacked256 *u);
void hflow_unpack_q5_K(const void *blk, hflow_unpacked256 *u);
void hflow_unpack_q6_K(const void *blk, hflow_unpacked256 *u);

/* Q4_K/Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes. */
static inline void hflow_k4_scale_min(int j, const uint8_t *s, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

#endif
