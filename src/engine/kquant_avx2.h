/* kquant_avx2.h - AVX2 per-superblock steps of the K-quant kernels (Q4_K,
 * Q5_K, Q6_K weights x Q8_K activations), shared by the dot kernels
 * (vecdot_avx2.c) and the decode gemv (gemv_kquant_avx2.c) so both do the
 * same arithmetic in the same order and give bit-identical results: per
 * 256-element superblock, an int32 8-lane sum of scaled sub-block products,
 * one fma with d_w * d_x into an 8-lane accumulator (plus, for Q4_K/Q5_K, the
 * min correction into a scalar), a horizontal sum at the end.
 * Include only from *_avx2.c files (compiled with -mavx2 -mfma -mf16c). */
#ifndef HFLOW_ENGINE_KQUANT_AVX2_H
#define HFLOW_ENGINE_KQUANT_AVX2_H
#include "engine/quant_avx2.h"

/* Sum over 32 elements of u8 q times s8 y, each half of 16 weighted by its
 * own int16 scale (sc_lo for elements 0..15, sc_hi for 16..31). */
HFLOW_INLINE __m256i dot32_scaled(__m256i q, const int8_t *y, __m256i sc) {
    __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)y));
    return _mm256_madd_epi16(p, sc);
}

/* Q4_K superblock as 8 sub-blocks of 32 levels 0..15. */
HFLOW_INLINE void q4k_levels(const block_q4_K *a, __m256i q[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(a->qs + 32 * c));
        q[2 * c] = _mm256_and_si256(raw, m4);
        q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    }
}

/* Byte l = 0x10 when bit k of byte l of hb is set. */
HFLOW_INLINE __m256i bit_to_16(__m256i hb, int k) {
    __m256i b = _mm256_and_si256(_mm256_srli_epi16(hb, k), _mm256_set1_epi8(1));
    return _mm256_slli_epi16(b, 4);
}

/* Q5_K superblock as 8 sub-blocks of 32 levels 0..31. */
HFLOW_INLINE void q5k_levels(const block_q5_K *a, __m256i q[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i hb = _mm256_loadu_si256((const __m256i *)a->qh);
    for (int c = 0; c < 4; c++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(a->qs + 32 * c));
        q[2 * c] = _mm256_or_si256(_mm256_and_si256(raw, m4), bit_to_16(hb, 2 * c));
        q[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), bit_to_16(hb, 2 * c + 1));
    }
}

/* The 8 six-bit scales and mins of a Q4_K/Q5_K superblock (packed as in
 * hflow_k4_scale_min), unpacked four at a time in 32-bit words: sc holds
 * scale j in byte j, mn16 the mins as 8 int16. */
typedef struct {
    uint64_t sc;
    __m128i mn16;
} k4_scales_t;

HFLOW_INLINE k4_scales_t k4_scales(const uint8_t *s) {
    const uint32_t m6 = 0x3f3f3f3fu, m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    /* j < 4: low 6 bits of bytes 0..3 (scales) and 4..7 (mins); j >= 4: a
     * nibble of bytes 8..11 plus the top 2 bits of bytes j-4 (scales) / j (mins) */
    uint32_t sc_lo = u0 & m6, sc_hi = (u2 & m4) | (((u0 >> 6) & m2) << 4);
    uint32_t mn_lo = u1 & m6, mn_hi = ((u2 >> 4) & m4) | (((u1 >> 6) & m2) << 4);
    k4_scales_t k;
    k.sc = (uint64_t)sc_lo | (uint64_t)sc_hi << 32;
    k.mn16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)((uint64_t)mn_lo | (uint64_t)mn_hi << 32)));
    return k;
}

/* One Q4_K/Q5_K superblock (levels q, scales k, d, dmin) against Q8_K block
 * b: adds to the row's lane accumulator and min correction. The min term
 * sum_j mn_j * (bsums_2j + bsums_2j+1) is an exact integer however summed. */
HFLOW_INLINE void k4_accum(const __m256i q[8], k4_scales_t k, float d, float dmin, const block_q8_K *b, __m256 *acc,
                           float *accm) {
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 8; j++) {
        short sc = (short)((k.sc >> (8 * j)) & 0xff);
        isum = _mm256_add_epi32(isum, dot32_scaled(q[j], b->qs + 32 * j, _mm256_set1_epi16(sc)));
    }
    __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b->bsums),
                                   _mm_loadu_si128((const __m128i *)(b->bsums + 8)));
    __m128i m = _mm_madd_epi16(pairs, k.mn16);
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4e));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xb1));
    int summ = _mm_cvtsi128_si32(m);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(d * b->d), _mm256_cvtepi32_ps(isum), *acc);
    *accm += dmin * b->d * (float)summ;
}

/* Superblock i of a Q4_K (is_q5 = 0) or Q5_K row as k4_accum's inputs: the
 * levels, the scales and mins, d and dmin (the two layouts differ only in
 * the levels' fifth bit). */
HFLOW_INLINE void k4_superblock(int is_q5, const void *row, int64_t i, __m256i q[8], k4_scales_t *k, float *d,
                                float *dmin) {
    if (is_q5) {
        const block_q5_K *a = (const block_q5_K *)row + i;
        q5k_levels(a, q), *k = k4_scales(a->scales), *d = h2f(a->d), *dmin = h2f(a->dmin);
    } else {
        const block_q4_K *a = (const block_q4_K *)row + i;
        q4k_levels(a, q), *k = k4_scales(a->scales), *d = h2f(a->d), *dmin = h2f(a->dmin);
    }
}

/* Byte shuffle (within each 128-bit lane) broadcasting int16 element 2jj to
 * the 8 int16 of the low lane and element 2jj + 1 to those of the high lane. */
HFLOW_INLINE __m256i pair_mask(int jj) {
    const char a = (char)(4 * jj), b = (char)(4 * jj + 1), c = (char)(4 * jj + 2), d = (char)(4 * jj + 3);
    return _mm256_setr_epi8(a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, c, d, c, d, c, d, c, d, c, d, c, d, c, d, c, d);
}

/* Q6_K superblock: levels stored as 0..63 (value q - 32), so sum(sc (q-32) y)
 * = sum(sc q y) - 32 sum(sc bsums). Sub-block j of 32 covers scales 2j, 2j+1;
 * sc16 holds the 16 scales widened for the bsums product. */
HFLOW_INLINE void q6k_levels(const block_q6_K *a, __m256i q[8], __m256i sc[8], __m256i *sc16) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * h + 32));
        __m256i hb = _mm256_loadu_si256((const __m256i *)(a->qh + 32 * h));
        q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
        q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
        q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
        q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
    }
    *sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a->scales));
    /* sc[j]: scales[2j] in the low 8 int16, scales[2j+1] in the high 8, by byte
     * shuffles of the widened scales, both lanes holding scales 0..7 (j < 4) or 8..15 */
    const __m256i lo = _mm256_permute2x128_si256(*sc16, *sc16, 0x00), hi = _mm256_permute2x128_si256(*sc16, *sc16, 0x11);
    for (int j = 0; j < 8; j++) sc[j] = _mm256_shuffle_epi8(j < 4 ? lo : hi, pair_mask(j & 3));
}

HFLOW_INLINE void q6k_accum(const __m256i q[8], const __m256i sc[8], __m256i sc16, float d, const block_q8_K *b,
                            __m256 *acc) {
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 8; j++) isum = _mm256_add_epi32(isum, dot32_scaled(q[j], b->qs + 32 * j, sc[j]));
    __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), sc16);
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(bs, 5));
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(d * b->d), _mm256_cvtepi32_ps(isum), *acc);
}

#endif
