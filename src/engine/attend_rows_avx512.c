/* attend_rows_avx512.c - hflow_attend_f16_rows with AVX-512 (attend_rows.h).
 *
 * Equal bit for bit to hflow_attend_f16_ref for every row, by the argument of
 * attend_f16_avx2.c: F16 conversions are exact, every product is of two
 * half-precision values (exact in f32, so a fused multiply-add rounds like a
 * multiply then an add), and each sum keeps the reference's order:
 * - scores: lane l of a vector is position j+l, accumulated over d in order
 *   from K transposed (kt[d][j], the cache's second copy); up to 6 rows share
 *   each load of kt.
 * - outputs: lane l is dimension d+l, accumulated over positions in order;
 *   up to 6 rows share each load of V. The rows of a tile attend over
 *   different lengths (consecutive tokens): the positions all of them see run
 *   in registers, then each row adds its own remaining positions in order.
 * Positions a row does not see are never added to it; kt is zero-padded so
 * the last score vector can run past the longest row (those lanes are not
 * used). Halves are converted as they are loaded; the conversion is exact, so
 * reading the cache directly gives the same sums as the f32 copies an earlier
 * version made of a KV head's rows on every call, which cost a decode step as
 * much as the scores themselves. */
#include <immintrin.h>

#include "engine/attend_rows.h"
#include "engine/ops.h"

#define TILE_ROWS 6

static inline __m512 round_f16x16(__m512 x) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

static inline __m512 load_f16x16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline __m512 load_f16x16_mask(__mmask16 m, const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

/* scores[r][j..j+16*nv) = scale * (qr[r] . k_j) for nr rows; j starts a
 * block of the transposed K (HFLOW_KT_BLOCK = 32 = two vectors). */
static inline __attribute__((always_inline)) void score_tile(const hflow_attn_block *b, const hflow_kv_head *h, int r0,
                                                             int nr, int j, int nv, float scale) {
    __m512 acc[TILE_ROWS][2];
#pragma GCC unroll 6
    for (int r = 0; r < nr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const uint16_t *kt = h->kt + hflow_kt_index(b->head_dim, 0, j); /* j is a block's start */
    for (int d = 0; d < b->head_dim; d++, kt += HFLOW_KT_BLOCK) {
        __m512 k0 = load_f16x16(kt), k1 = nv > 1 ? load_f16x16(kt + 16) : k0;
#pragma GCC unroll 6
        for (int r = 0; r < nr; r++) {
            __m512 qd = _mm512_set1_ps(b->qr[(size_t)(r0 + r) * b->head_dim + d]);
            acc[r][0] = _mm512_fmadd_ps(qd, k0, acc[r][0]);
            if (nv > 1) acc[r][1] = _mm512_fmadd_ps(qd, k1, acc[r][1]);
        }
    }
    __m512 sc = _mm512_set1_ps(scale);
#pragma GCC unroll 6
    for (int r = 0; r < nr; r++) {
        float *s = b->scores + (size_t)(r0 + r) * b->ld + j;
        _mm512_storeu_ps(s, _mm512_mul_ps(acc[r][0], sc));
        if (nv > 1) _mm512_storeu_ps(s + 16, _mm512_mul_ps(acc[r][1], sc));
    }
}

static inline __attribute__((always_inline)) void score_rows(const hflow_attn_block *b, const hflow_kv_head *h, int r0,
                                                             int nr, int n_max, float scale) {
    int j = 0;
    for (; j + 16 < n_max; j += 32) score_tile(b, h, r0, nr, j, 2, scale);
    if (j < n_max) score_tile(b, h, r0, nr, j, 1, scale);
}

/* out[r][d..d+16*nv) (the last vector masked by m) = sum over positions
 * j < n_min of p[r][j] v_j, for nr rows. */
static inline __attribute__((always_inline)) void value_tile(const hflow_attn_block *b, const hflow_kv_head *h, int r0,
                                                             int nr, float *const *out, int n_min, int d, int nv,
                                                             __mmask16 m) {
    __m512 acc[TILE_ROWS][4];
#pragma GCC unroll 6
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int w = 0; w < nv; w++) acc[r][w] = _mm512_setzero_ps();
    const uint16_t *vp = h->v + d;
    for (int j = 0; j < n_min; j++, vp += h->stride) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int w = 0; w < nv; w++) vv[w] = w == nv - 1 ? load_f16x16_mask(m, vp + 16 * w) : load_f16x16(vp + 16 * w);
#pragma GCC unroll 6
        for (int r = 0; r < nr; r++) {
            __m512 p = _mm512_set1_ps(b->scores[(size_t)(r0 + r) * b->ld + j]);
#pragma GCC unroll 4
            for (int w = 0; w < nv; w++) acc[r][w] = _mm512_fmadd_ps(p, vv[w], acc[r][w]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int w = 0; w < nv; w++) {
            if (w == nv - 1) _mm512_mask_storeu_ps(out[r0 + r] + d + 16 * w, m, acc[r][w]);
            else _mm512_storeu_ps(out[r0 + r] + d + 16 * w, acc[r][w]);
        }
}

static inline __attribute__((always_inline)) void value_rows(const hflow_attn_block *b, const hflow_kv_head *h, int r0,
                                                             int nr, float *const *out, int n_min) {
    int hd = b->head_dim, d = 0;
    for (; d + 64 <= hd; d += 64) value_tile(b, h, r0, nr, out, n_min, d, 4, 0xFFFF);
    for (; d < hd; d += 16) value_tile(b, h, r0, nr, out, n_min, d, 1, tail_mask(hd - d));
}

/* Continues row r's sum over positions [from, n) in order, from out[r]. */
static void value_tail(const hflow_attn_block *b, const hflow_kv_head *h, int r, float *o, int from, int n) {
    int hd = b->head_dim;
    const float *p = b->scores + (size_t)r * b->ld;
    for (int d = 0; d < hd; d += 16) {
        __mmask16 m = tail_mask(hd - d);
        __m512 acc = _mm512_maskz_loadu_ps(m, o + d);
        for (int j = from; j < n; j++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), load_f16x16_mask(m, h->v + (size_t)j * h->stride + d), acc);
        _mm512_mask_storeu_ps(o + d, m, acc);
    }
}

static void tile(const hflow_attn_block *b, const hflow_kv_head *h, int r0, int nr, float *const *out, const int *n_kv,
                 float scale) {
    int n_min = n_kv[r0], n_max = n_kv[r0];
    for (int r = 1; r < nr; r++) {
        if (n_kv[r0 + r] < n_min) n_min = n_kv[r0 + r];
        if (n_kv[r0 + r] > n_max) n_max = n_kv[r0 + r];
    }
    switch (nr) { /* constant row counts, so the accumulators stay in registers */
    case 1: score_rows(b, h, r0, 1, n_max, scale); break;
    case 2: score_rows(b, h, r0, 2, n_max, scale); break;
    case 3: score_rows(b, h, r0, 3, n_max, scale); break;
    case 4: score_rows(b, h, r0, 4, n_max, scale); break;
    case 5: score_rows(b, h, r0, 5, n_max, scale); break;
    default: score_rows(b, h, r0, 6, n_max, scale); break;
    }
    for (int r = r0; r < r0 + nr; r++) /* hflow_softmax (its AVX-512 version here), rounded as the V product takes it */
        hflow_softmax_f16_avx512(b->scores + (size_t)r * b->ld, n_kv[r]);
    switch (nr) {
    case 1: value_rows(b, h, r0, 1, out, n_min); break;
    case 2: value_rows(b, h, r0, 2, out, n_min); break;
    case 3: value_rows(b, h, r0, 3, out, n_min); break;
    case 4: value_rows(b, h, r0, 4, out, n_min); break;
    case 5: value_rows(b, h, r0, 5, out, n_min); break;
    default: value_rows(b, h, r0, 6, out, n_min); break;
    }
    for (int r = r0; r < r0 + nr; r++)
        if (n_kv[r] > n_min) value_tail(b, h, r, out[r], n_min, n_kv[r]);
}

void hflow_attend_f16_rows_avx512(hflow_attn_block *b, const hflow_kv_head *h, int n_rows, const float *const *q,
                                  float *const *out, const int *n_kv, float scale) {
    int hd = b->head_dim;
    for (int r = 0; r < n_rows; r++)
        for (int d = 0; d < hd; d += 16) {
            __mmask16 m = tail_mask(hd - d);
            _mm512_mask_storeu_ps(b->qr + (size_t)r * hd + d, m, round_f16x16(_mm512_maskz_loadu_ps(m, q[r] + d)));
        }
    for (int r0 = 0; r0 < n_rows; r0 += TILE_ROWS)
        tile(b, h, r0, n_rows - r0 < TILE_ROWS ? n_rows - r0 : TILE_ROWS, out, n_kv, scale);
}
