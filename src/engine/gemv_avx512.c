/* gemv_avx512.c - decode kernels (gemv.h) of Q8_0, Q4_0 and Q5_0 weights x
 * Q8_0 activations for CPUs with AVX-512 F/BW/VL/DQ/VNNI, bit-identical to
 * the AVX2 ones.
 *
 * At 1 thread the decode gemv must leave the core idle enough to keep its
 * memory streams busy (quant_avx2.h); the 5-bit decode in AVX2 costs more
 * than the read. Here one zmm holds two rows' 32 levels of the same block,
 * one row per 256-bit half, so each half does exactly the AVX2 (VNNI) block
 * arithmetic of its row: 8 int32 lane sums formed by vpdpbusd from unsigned
 * levels u = q + K and a lane start of -K * (sum of 4 activations), cvt,
 * one fma with d_w * d_x into that row's 8-lane accumulator, and the same
 * horizontal sum at the end. The savings are in the decode: two rows'
 * nibbles are split with one variable shift, Q5_0's fifth bits are applied
 * as an AVX-512BW byte mask straight from qh, and the four rows' scales are
 * converted and multiplied in one vector. */
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant_avx2.h"

/* Rows a and b of block i as unsigned levels; low half a, high half b. */
typedef __m512i (*udec2_fn)(const char *a, const char *b, int64_t i);

HFLOW_INLINE __m512i udec2_q8_0(const char *a, const char *b, int64_t i) {
    const block_q8_0 *ba = (const block_q8_0 *)a + i, *bb = (const block_q8_0 *)b + i;
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)ba->qs)),
                                   _mm256_loadu_si256((const __m256i *)bb->qs), 1);
    return _mm512_xor_si512(z, _mm512_set1_epi8((char)0x80));
}

/* 16 bytes of packed nibbles of each row -> [a lo, a hi, b lo, b hi]. */
HFLOW_INLINE __m512i nibbles2(const uint8_t *qa, const uint8_t *qb) {
    __m256i raw = _mm256_loadu2_m128i((const __m128i *)qb, (const __m128i *)qa);
    __m512i z = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(raw));
    z = _mm512_srlv_epi64(z, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
}

HFLOW_INLINE __m512i udec2_q4_0(const char *a, const char *b, int64_t i) {
    return nibbles2(((const block_q4_0 *)a + i)->qs, ((const block_q4_0 *)b + i)->qs);
}

/* The fifth bits of rows a (low 32) and b (high 32) as one byte mask: bit j,
 * byte j gets level + 16. */
HFLOW_INLINE __mmask64 fifth2(const uint8_t *qa, const uint8_t *qb) {
    uint32_t ha, hb;
    memcpy(&ha, qa, 4);
    memcpy(&hb, qb, 4);
    return _mm512_kunpackd((__mmask64)_cvtu32_mask32(hb), (__mmask64)_cvtu32_mask32(ha));
}

HFLOW_INLINE __m512i udec2_q5_0(const char *a, const char *b, int64_t i) {
    const block_q5_0 *ba = (const block_q5_0 *)a + i, *bb = (const block_q5_0 *)b + i;
    __m512i z = nibbles2(ba->qs, bb->qs);
    return _mm512_mask_add_epi8(z, fifth2(ba->qh, bb->qh), z, _mm512_set1_epi8(0x10));
}

/* The fp16 scale of block i of 4 rows (blocks bsz bytes, scale first). */
HFLOW_INLINE __m128 scales4(const char *w, size_t stride, size_t bsz, int64_t i) {
    const char *p = w + (size_t)i * bsz;
    uint16_t h[4];
    for (int r = 0; r < 4; r++) memcpy(&h[r], p + (size_t)r * stride, 2);
    __m128i v;
    memcpy(&v, h, 8); /* upper lanes unused */
    return _mm_cvtph_ps(v);
}

/* What every 4-row tile of a call computes from the activations alone, per
 * block i: the lane start -K * (sum of 4 activations) and d_x as a float.
 * Done once per call instead of once per tile; calls of more than
 * PREP_MAX_BLOCKS blocks (a row of over 32768 elements) compute them in the
 * tile as before, so the buffers stay on the stack. */
#define PREP_MAX_BLOCKS 1024
typedef struct {
    const block_q8_0 *x;
    const __m256i *off; /* NULL: not prepared */
    const float *dx;
} yprep;

HFLOW_INLINE __m256i lane_start(const int K, const block_q8_0 *b) {
    __m256i yv = _mm256_loadu_si256((const __m256i *)b->qs);
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)K), yv));
}

/* out[k] = dot(row at w + k * stride, x) for k < 4; `prepared` (a constant
 * in each instantiation) says whether p's per-block values are there. */
HFLOW_INLINE void ztile4(udec2_fn dec, const int K, size_t bsz, int prepared, int64_t n, const char *w,
                         size_t stride, const yprep *p, float out[4]) {
    const int64_t nb = n / 32;
    const __m512i lo_idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i hi_idx = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
    const char *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_0 *b = p->x + i;
        __m512i yv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qs));
        __m512i off = _mm512_broadcast_i64x4(prepared ? _mm256_load_si256(p->off + i) : lane_start(K, b));
        /* d_w * d_x per row, each product rounded to f32 as the AVX2 kernel's scalar one */
        __m512 dd = _mm512_castps128_ps512(
            _mm_mul_ps(scales4(w, stride, bsz, i), _mm_set1_ps(prepared ? p->dx[i] : h2f(b->d))));
        __m512i u01 = dec(w, w1, i), u23 = dec(w2, w3, i);
        acc01 = _mm512_fmadd_ps(_mm512_permutexvar_ps(lo_idx, dd), _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(off, u01, yv)),
                                acc01);
        acc23 = _mm512_fmadd_ps(_mm512_permutexvar_ps(hi_idx, dd), _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(off, u23, yv)),
                                acc23);
    }
    out[0] = hsum_ps(_mm512_castps512_ps256(acc01));
    out[1] = hsum_ps(_mm512_extractf32x8_ps(acc01, 1));
    out[2] = hsum_ps(_mm512_castps512_ps256(acc23));
    out[3] = hsum_ps(_mm512_extractf32x8_ps(acc23, 1));
}

/* Per type: the prepared and the plain tile, the single row (a block's tail,
 * through the AVX2 tile, which is the same arithmetic), and gemv / gemv_seg,
 * which prepare the activations and then run gemv.h's loops over the tile
 * (their x argument is then the yprep). */
#define ZGEMV(name, K)                                                                                      \
    static void tile4p_##name(int64_t n, const char *w, size_t stride, const void *p, float out[4]) {        \
        ztile4(udec2_##name, K, sizeof(block_##name), 1, n, w, stride, p, out);                             \
    }                                                                                                       \
    static void tile4_##name(int64_t n, const char *w, size_t stride, const void *p, float out[4]) {         \
        ztile4(udec2_##name, K, sizeof(block_##name), 0, n, w, stride, p, out);                             \
    }                                                                                                       \
    static void row1_##name(int64_t n, const char *w, const void *p, float *out) {                          \
        tile32(1, 1, dec_##name, n / 32, w, 0, (const char *)((const yprep *)p)->x, 0, out, 0);                         \
    }                                                                                                       \
    static void gemv_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, float *out) { \
        PREPARE(K, n, x);                                                                                   \
        hflow_gemv_streams(p.off ? tile4p_##name : tile4_##name, row1_##name, n, w, w_row, nrows, &p, out); \
    }                                                                                                       \
    static void gemv_seg_##name(int64_t n, const void *w, size_t w_row, int64_t seg_rows, int64_t r0, int64_t r1, \
                                const void *x, float *out) {                                                \
        PREPARE(K, n, x);                                                                                   \
        hflow_gemv_seg4(p.off ? tile4p_##name : tile4_##name, n, w, w_row, seg_rows, r0, r1, &p, out);      \
    }

/* Declares yprep p for activations x of n elements, prepared when short enough. */
#define PREPARE(K, n, x)                                                                    \
    __m256i off_[PREP_MAX_BLOCKS];                                                           \
    float dx_[PREP_MAX_BLOCKS];                                                              \
    yprep p = {(const block_q8_0 *)(x), NULL, dx_};                                          \
    if ((n) / 32 <= PREP_MAX_BLOCKS) {                                                       \
        for (int64_t i_ = 0; i_ < (n) / 32; i_++) {                                          \
            off_[i_] = lane_start(K, p.x + i_);                                              \
            dx_[i_] = h2f(p.x[i_].d);                                                        \
        }                                                                                    \
        p.off = off_;                                                                        \
    }

ZGEMV(q8_0, 128)
ZGEMV(q4_0, 8)
ZGEMV(q5_0, 16)

hflow_gemv_fn hflow_gemv_avx512(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemv_q8_0;
    case HFLOW_TYPE_Q4_0: return gemv_q4_0;
    case HFLOW_TYPE_Q5_0: return gemv_q5_0;
    default: return NULL;
    }
}

hflow_gemv_seg_fn hflow_gemv_seg_avx512(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemv_seg_q8_0;
    case HFLOW_TYPE_Q4_0: return gemv_seg_q4_0;
    case HFLOW_TYPE_Q5_0: return gemv_seg_q5_0;
    default: return NULL;
    }
}
