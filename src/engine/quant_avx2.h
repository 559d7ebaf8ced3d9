/* quant_avx2.h - AVX2 building blocks shared by the integer kernels
 * (vecdot_avx2.c, gemv_avx2.c, gemm_avx2.c): decoding 32-element weight
 * blocks to signed bytes, the signed-byte block dot product, horizontal sums,
 * and the register-tiled product of 32-element blocks with Q8_0 activations.
 * Every kernel built from these does the same per-block arithmetic (one
 * integer dot per block, one fma with the scale d_w * d_x into an 8-lane f32
 * accumulator per output, a horizontal sum at the end), which is why the dot,
 * gemv and gemm kernels of one type give bit-identical results.
 * Include only from *_avx2.c files (compiled with -mavx2 -mfma -mf16c). */
#ifndef HFLOW_ENGINE_QUANT_AVX2_H
#define HFLOW_ENGINE_QUANT_AVX2_H
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/quant_blocks.h"

#define HFLOW_INLINE static inline __attribute__((always_inline))

HFLOW_INLINE float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

HFLOW_INLINE float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Decode streams each weight byte once from DRAM, and one core's few
 * outstanding misses cap its rate: the decode kernels ask for the weight tile
 * HFLOW_PF_TILES tiles ahead while they compute the current one (prefetches
 * past the end of the matrix cannot fault). Measured on SmolLM2-135M Q8_0,
 * 1 thread: 48.8 -> 68.6 tok/s (docs/BENCHMARKS.md "Engine"). */
#define HFLOW_PF_TILES 3
HFLOW_INLINE void hflow_prefetch_tile(const char *tile, size_t bytes) {
    const char *ahead = tile + (size_t)HFLOW_PF_TILES * bytes;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(ahead + o, _MM_HINT_T0);
}

/* One core reading one sequential stream gets ~12 GB/s here, reading four
 * far-apart streams with software prefetch ~1.5 KB ahead of each ~15 GB/s
 * (the hardware prefetcher runs one stream per 4 KB page, so several pages
 * in flight keep more misses outstanding). The decode gemv therefore cuts its
 * rows into HFLOW_GEMV_STREAMS equal segments and computes one row of each
 * per 4-row tile, prefetching every segment HFLOW_PF_BYTES ahead. Each row's
 * arithmetic is untouched (the tile's rows are independent), so results stay
 * bit-identical to the dot kernel. Blocks shorter than HFLOW_GEMV_MIN_SEG rows
 * per segment gain nothing from it and take the contiguous path. */
#define HFLOW_GEMV_STREAMS 4
#define HFLOW_PF_BYTES 1536
#define HFLOW_GEMV_MIN_SEG 4

/* out[k] = dot(row at w + k * stride, x) for k < 4. */
typedef void (*hflow_tile4_fn)(int64_t n, const char *w, size_t stride, const void *x, float out[4]);
/* *out = dot(row w, x). */
typedef void (*hflow_row1_fn)(int64_t n, const char *w, const void *x, float *out);

HFLOW_INLINE void hflow_prefetch_span(const char *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

/* The gemv_seg contract of gemv.h over a 4-row tile kernel: rows r0..r1 of
 * each of the 4 segments (segment s starts at row s * seg_rows), each tile
 * one row of every segment. Each call first asks for the start of its four
 * ranges: with several threads the range before it may be another thread's,
 * still running, so nothing may have asked for them yet. */
HFLOW_INLINE void hflow_gemv_seg4(hflow_tile4_fn tile4, int64_t n, const char *w, size_t w_row, int64_t seg_rows,
                                  int64_t r0, int64_t r1, const void *x, float *out) {
    size_t stride = (size_t)seg_rows * w_row;
    for (int s = 0; s < HFLOW_GEMV_STREAMS; s++) hflow_prefetch_span(w + s * stride + (size_t)r0 * w_row, HFLOW_PF_BYTES);
    for (int64_t r = r0; r < r1; r++) {
        const char *wr = w + (size_t)r * w_row;
        float o[4];
        for (int s = 0; s < HFLOW_GEMV_STREAMS; s++) hflow_prefetch_span(wr + s * stride + HFLOW_PF_BYTES, w_row);
        tile4(n, wr, stride, x, o);
        for (int s = 0; s < HFLOW_GEMV_STREAMS; s++) out[s * seg_rows + r] = o[s];
    }
}

/* The gemv contract of gemv.h: the 4 segments of nrows / 4 rows, then the
 * remaining rows in contiguous tiles (both always-inline so each type gets
 * its own specialised loop). */
HFLOW_INLINE void hflow_gemv_streams(hflow_tile4_fn tile4, hflow_row1_fn row1, int64_t n, const char *w,
                                     size_t w_row, int64_t nrows, const void *x, float *out) {
    int64_t seg = nrows / HFLOW_GEMV_STREAMS, r = 0;
    if (seg >= HFLOW_GEMV_MIN_SEG) {
        hflow_gemv_seg4(tile4, n, w, w_row, seg, 0, seg, x, out);
        r = HFLOW_GEMV_STREAMS * seg;
    }
    for (; r + 4 <= nrows; r += 4) {
        hflow_prefetch_tile(w + (size_t)r * w_row, 4 * w_row);
        tile4(n, w + (size_t)r * w_row, w_row, x, out + r);
    }
    for (; r < nrows; r++) row1(n, w + (size_t)r * w_row, x, out + r);
}

/* Defines gemv_<name> and gemv_seg_<name> over tile4_<name>, row1_<name>. */
#define HFLOW_GEMV_PAIR(name)                                                                               \
    static void gemv_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, float *out) { \
        hflow_gemv_streams(tile4_##name, row1_##name, n, w, w_row, nrows, x, out);                          \
    }                                                                                                       \
    static void gemv_seg_##name(int64_t n, const void *w, size_t w_row, int64_t seg_rows, int64_t r0, int64_t r1, \
                                const void *x, float *out) {                                                \
        hflow_gemv_seg4(tile4_##name, n, w, w_row, seg_rows, r0, r1, x, out);                               \
    }

/* Signed bytes q (|q| <= 127 or -128) times signed bytes y, 8 int32 lane sums as float. */
HFLOW_INLINE __m256 dot_s8(__m256i q, __m256i y) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

HFLOW_INLINE __m256i nibbles32(const uint8_t *qs) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f));
    return _mm256_set_m128i(hi, lo); /* elements 0..15 low nibbles, 16..31 high */
}

/* Byte j = 0x10 when bit j of the 32-bit qh is set, else 0. */
HFLOW_INLINE __m256i fifth_bits32(const uint8_t *qhp) {
    uint32_t qh;
    memcpy(&qh, qhp, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* Block i of a weight row as 32 signed levels, its scale in *d. */
typedef __m256i (*dec32_fn)(const void *row, int64_t i, float *d);

HFLOW_INLINE __m256i dec_q8_0(const void *row, int64_t i, float *d) {
    const block_q8_0 *b = (const block_q8_0 *)row + i;
    *d = h2f(b->d);
    return _mm256_loadu_si256((const __m256i *)b->qs);
}

HFLOW_INLINE __m256i dec_q4_0(const void *row, int64_t i, float *d) {
    const block_q4_0 *b = (const block_q4_0 *)row + i;
    *d = h2f(b->d);
    return _mm256_sub_epi8(nibbles32(b->qs), _mm256_set1_epi8(8));
}

HFLOW_INLINE __m256i dec_q5_0(const void *row, int64_t i, float *d) {
    const block_q5_0 *b = (const block_q5_0 *)row + i;
    *d = h2f(b->d);
    return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b->qs), fifth_bits32(b->qh)), _mm256_set1_epi8(16));
}

/* y[t * ys + r] = dot(row r, token t) for an RM x RN tile (RM, RN <= 4 and
 * compile-time constants at every call): each weight block is decoded once
 * and each activation block loaded once per tile, and the RM * RN
 * accumulator chains are independent. nb blocks per row; rows w_row bytes
 * apart, Q8_0 activation rows x_row bytes apart. */
HFLOW_INLINE void tile32(const int RM, const int RN, dec32_fn dec, int64_t nb, const char *w, size_t w_row,
                         const char *x, size_t x_row, float *y, int64_t ys) {
    __m256 acc[4][4];
    for (int r = 0; r < RM; r++)
        for (int t = 0; t < RN; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[4];
        float d[4];
        for (int r = 0; r < RM; r++) q[r] = dec(w + (size_t)r * w_row, i, &d[r]);
        for (int t = 0; t < RN; t++) {
            const block_q8_0 *b = (const block_q8_0 *)(x + (size_t)t * x_row) + i;
            __m256i yv = _mm256_loadu_si256((const __m256i *)b->qs);
            float yd = h2f(b->d);
            for (int r = 0; r < RM; r++)
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * yd), dot_s8(q[r], yv), acc[r][t]);
        }
    }
    for (int r = 0; r < RM; r++)
        for (int t = 0; t < RN; t++) y[t * ys + r] = hsum_ps(acc[r][t]);
}

#endif
