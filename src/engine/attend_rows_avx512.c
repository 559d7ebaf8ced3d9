/* attend_rows_avx512.c - hflow_attend_f16_rows with AVX-512 (attend_rows.h).
 *
 * Equal bit for bit to hflow_attend_f16_ref for every row, by the argument of
 * attend_f16_avx2.c: F16 conversions are exact, every product is of two
 * half-precision values (exact in f32, so a fused multiply-add rounds like a
 * multiply then an add), and each sum keeps the reference's order:
 * - scores: lane l of a vector is position j+l, accumulated over d in order
 *   from K transposed (kt[d][j]); up to 6 rows share each load of kt.
 * - outputs: lane l is dimension d+l, accumulated over positions in order;
 *   up to 6 rows share each load of V. The rows of a tile attend over
 *   different lengths (consecutive tokens): the positions all of them see run
 *   in registers, then each row adds its own remaining positions in order.
 * Positions a row does not see are never added to it; kt is zero-padded so
 * the last score vector can run past the longest row (those lanes are not
 * used). */
#include <immintrin.h>

#include "engine/attend_rows.h"
#include "engine/ops.h"
#include "engine/transpose_sse.h"

#define TILE_ROWS 6

static inline __m512 round_f16x16(__m512 x) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* kt[.][j0..j0+8) from 8 K rows. */
static void convert_k8(hflow_attn_block *b, const uint16_t *k, size_t stride, int j0) {
    int hd = b->head_dim, d = 0;
    for (; d + 8 <= hd; d += 8) {
        __m128i t[8];
        for (int l = 0; l < 8; l++) t[l] = _mm_loadu_si128((const __m128i *)(k + (size_t)(j0 + l) * stride + d));
        transpose8x8_epi16(t);
        for (int r = 0; r < 8; r++) _mm256_storeu_ps(b->kt + (size_t)(d + r) * b->ld + j0, _mm256_cvtph_ps(t[r]));
    }
    for (; d < hd; d++)
        for (int l = 0; l < 8; l++) b->kt[(size_t)d * b->ld + j0 + l] = _cvtsh_ss(k[(size_t)(j0 + l) * stride + d]);
}

static void convert_v_row(hflow_attn_block *b, const uint16_t *v, size_t stride, int j) {
    int hd = b->head_dim;
    for (int d = 0; d < hd; d += 16) {
        __mmask16 m = tail_mask(hd - d);
        __m256i h = _mm256_maskz_loadu_epi16(m, v + (size_t)j * stride + d);
        _mm512_mask_storeu_ps(b->vf + (size_t)j * hd + d, m, _mm512_cvtph_ps(h));
    }
}

/* Converts positions [b->n, n_to) and zero-pads kt up to a multiple of 32. */
static void convert(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride, int n_to) {
    int hd = b->head_dim, j = b->n;
    for (; j + 8 <= n_to; j += 8) convert_k8(b, k, stride, j);
    for (; j < n_to; j++)
        for (int d = 0; d < hd; d++) b->kt[(size_t)d * b->ld + j] = _cvtsh_ss(k[(size_t)j * stride + d]);
    for (j = b->n; j < n_to; j++) convert_v_row(b, v, stride, j);
    int pad = (n_to + 31) & ~31;
    if (pad > n_to) {
        __mmask16 m0 = tail_mask(pad - n_to), m1 = pad - n_to > 16 ? tail_mask(pad - n_to - 16) : 0;
        for (int d = 0; d < hd; d++) {
            _mm512_mask_storeu_ps(b->kt + (size_t)d * b->ld + n_to, m0, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(b->kt + (size_t)d * b->ld + n_to + 16, m1, _mm512_setzero_ps());
        }
    }
    b->n = n_to;
}

/* scores[r][j..j+16*nv) = scale * (qr[r] . k_j) for nr rows. */
static inline __attribute__((always_inline)) void score_tile(const hflow_attn_block *b, int r0, int nr, int j, int nv,
                                                             float scale) {
    __m512 acc[TILE_ROWS][2];
#pragma GCC unroll 6
    for (int r = 0; r < nr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const float *kt = b->kt + j;
    for (int d = 0; d < b->head_dim; d++, kt += b->ld) {
        __m512 k0 = _mm512_loadu_ps(kt), k1 = nv > 1 ? _mm512_loadu_ps(kt + 16) : k0;
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

static inline __attribute__((always_inline)) void score_rows(const hflow_attn_block *b, int r0, int nr, int n_max,
                                                             float scale) {
    int j = 0;
    for (; j + 16 < n_max; j += 32) score_tile(b, r0, nr, j, 2, scale);
    if (j < n_max) score_tile(b, r0, nr, j, 1, scale);
}

/* out[r][d..d+16*nv) (the last vector masked by m) = sum over positions
 * j < n_min of p[r][j] v_j, for nr rows. */
static inline __attribute__((always_inline)) void value_tile(const hflow_attn_block *b, int r0, int nr, float *const *out,
                                                             int n_min, int d, int nv, __mmask16 m) {
    __m512 acc[TILE_ROWS][4];
#pragma GCC unroll 6
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int w = 0; w < nv; w++) acc[r][w] = _mm512_setzero_ps();
    const float *vf = b->vf + d;
    for (int j = 0; j < n_min; j++, vf += b->head_dim) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int w = 0; w < nv; w++) vv[w] = w == nv - 1 ? _mm512_maskz_loadu_ps(m, vf + 16 * w) : _mm512_loadu_ps(vf + 16 * w);
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

static inline __attribute__((always_inline)) void value_rows(const hflow_attn_block *b, int r0, int nr,
                                                             float *const *out, int n_min) {
    int hd = b->head_dim, d = 0;
    for (; d + 64 <= hd; d += 64) value_tile(b, r0, nr, out, n_min, d, 4, 0xFFFF);
    for (; d < hd; d += 16) value_tile(b, r0, nr, out, n_min, d, 1, tail_mask(hd - d));
}

/* Continues row r's sum over positions [from, n) in order, from out[r]. */
static void value_tail(const hflow_attn_block *b, int r, float *o, int from, int n) {
    int hd = b->head_dim;
    const float *p = b->scores + (size_t)r * b->ld;
    for (int d = 0; d < hd; d += 16) {
        __mmask16 m = tail_mask(hd - d);
        __m512 acc = _mm512_maskz_loadu_ps(m, o + d);
        for (int j = from; j < n; j++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_maskz_loadu_ps(m, b->vf + (size_t)j * hd + d), acc);
        _mm512_mask_storeu_ps(o + d, m, acc);
    }
}

static void tile(const hflow_attn_block *b, int r0, int nr, float *const *out, const int *n_kv, float scale) {
    int n_min = n_kv[r0], n_max = n_kv[r0];
    for (int r = 1; r < nr; r++) {
        if (n_kv[r0 + r] < n_min) n_min = n_kv[r0 + r];
        if (n_kv[r0 + r] > n_max) n_max = n_kv[r0 + r];
    }
    switch (nr) { /* constant row counts, so the accumulators stay in registers */
    case 1: score_rows(b, r0, 1, n_max, scale); break;
    case 2: score_rows(b, r0, 2, n_max, scale); break;
    case 3: score_rows(b, r0, 3, n_max, scale); break;
    case 4: score_rows(b, r0, 4, n_max, scale); break;
    case 5: score_rows(b, r0, 5, n_max, scale); break;
    default: score_rows(b, r0, 6, n_max, scale); break;
    }
    for (int r = r0; r < r0 + nr; r++) /* hflow_softmax (its AVX-512 version here), rounded as the V product takes it */
        hflow_softmax_f16_avx512(b->scores + (size_t)r * b->ld, n_kv[r]);
    switch (nr) {
    case 1: value_rows(b, r0, 1, out, n_min); break;
    case 2: value_rows(b, r0, 2, out, n_min); break;
    case 3: value_rows(b, r0, 3, out, n_min); break;
    case 4: value_rows(b, r0, 4, out, n_min); break;
    case 5: value_rows(b, r0, 5, out, n_min); break;
    default: value_rows(b, r0, 6, out, n_min); break;
    }
    for (int r = r0; r < r0 + nr; r++)
        if (n_kv[r] > n_min) value_tail(b, r, out[r], n_min, n_kv[r]);
}

void hflow_attn_block_load_avx512(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride, int n) {
    if (n > b->n) convert(b, k, v, stride, n);
}

void hflow_attend_f16_rows_avx512(hflow_attn_block *b, const uint16_t *k, const uint16_t *v, size_t stride,
                                  int n_rows, const float *const *q, float *const *out, const int *n_kv, float scale) {
    int hd = b->head_dim, n_max = 0;
    for (int r = 0; r < n_rows; r++) {
        if (n_kv[r] > n_max) n_max = n_kv[r];
        for (int d = 0; d < hd; d += 16) {
            __mmask16 m = tail_mask(hd - d);
            _mm512_mask_storeu_ps(b->qr + (size_t)r * hd + d, m, round_f16x16(_mm512_maskz_loadu_ps(m, q[r] + d)));
        }
    }
    if (n_max > b->n) convert(b, k, v, stride, n_max);
    for (int r0 = 0; r0 < n_rows; r0 += TILE_ROWS)
        tile(b, r0, n_rows - r0 < TILE_ROWS ? n_rows - r0 : TILE_ROWS, out, n_kv, scale);
}
