/* transpose_sse.h - the 8x8 transpose of 16-bit lanes (F16 K-cache tiles)
 * shared by the attention kernels; SSE2 unpacks only, so any x86-64 SIMD
 * file (_avx2.c, _avx512.c) may include it. */
#ifndef HFLOW_ENGINE_TRANSPOSE_SSE_H
#define HFLOW_ENGINE_TRANSPOSE_SSE_H
#include <immintrin.h>

/* rows[r] holds 8 16-bit values of row r; afterwards rows[c] holds column c. */
static inline void transpose8x8_epi16(__m128i rows[8]) {
    __m128i b[8], c[8];
    for (int i = 0; i < 4; i++) {
        b[2 * i] = _mm_unpacklo_epi16(rows[2 * i], rows[2 * i + 1]);
        b[2 * i + 1] = _mm_unpackhi_epi16(rows[2 * i], rows[2 * i + 1]);
    }
    /* b[0]: cols 0-3 of rows 0,1; b[1]: cols 4-7 of rows 0,1; b[2], b[3]: rows 2,3; ... */
    c[0] = _mm_unpacklo_epi32(b[0], b[2]); /* cols 0,1 of rows 0-3 */
    c[1] = _mm_unpackhi_epi32(b[0], b[2]); /* cols 2,3 */
    c[2] = _mm_unpacklo_epi32(b[1], b[3]); /* cols 4,5 */
    c[3] = _mm_unpackhi_epi32(b[1], b[3]); /* cols 6,7 */
    c[4] = _mm_unpacklo_epi32(b[4], b[6]); /* the same for rows 4-7 */
    c[5] = _mm_unpackhi_epi32(b[4], b[6]);
    c[6] = _mm_unpacklo_epi32(b[5], b[7]);
    c[7] = _mm_unpackhi_epi32(b[5], b[7]);
    for (int i = 0; i < 4; i++) {
        rows[2 * i] = _mm_unpacklo_epi64(c[i], c[i + 4]);
        rows[2 * i + 1] = _mm_unpackhi_epi64(c[i], c[i + 4]);
    }
}

#endif
