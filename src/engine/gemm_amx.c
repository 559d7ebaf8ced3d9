/* gemm_amx.c - AMX-INT8 kernels for prefill (gemm_amx.h): Q8_0, Q4_0, Q5_0
 * weights x Q8_0 activations and Q4_K, Q5_K, Q6_K weights x Q8_K
 * activations, each with a plain scalar reference of the same order.
 *
 * Per 16-token tile the kernel keeps 16 AVX-512 accumulators (one per weight
 * row, 16 tokens wide) and walks the blocks: the tile unit forms each block's
 * 16x16 int32 sums, which are stored and folded in with one fma per (row,
 * token): acc = fma((float)C, d_w * d_x, acc), the dot kernels' per-block
 * step without their 8-lane split; pairs of blocks alternate between C
 * tiles 0/1 and 2/3 so that the tile unit works on one pair while the vector
 * unit folds in the other. The K-quants reach their dot kernels' integer
 * sum(sc * q * y) per super-block inside the tile unit (scaled levels split
 * into two int8 digits, see wscratch), then do the same fma per super-block
 * (and Q4_K/Q5_K subtract their min term as those do). */
#include "engine/gemm_amx.h"

#include <immintrin.h>
#include <string.h>

#include "engine/ggml_type.h"
#include "engine/quant_avx2.h"
#include "engine/quant_blocks.h"
#include "engine/quant_unpack.h"

#define TT 16 /* tokens per tile */
#define BBYTES 512 /* one packed B tile: 8 rows x 64 bytes */

/* The tile intrinsics are asm statements that do not tell the compiler they
 * read memory: order the plain stores that fill their inputs before them. */
#define MEM_BARRIER() __asm__ volatile("" ::: "memory")

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* tmm0..3: C (16x16 int32), except that the K-quants use tmm3 as a third A;
 * tmm4, tmm5: A (16 rows x 32 bytes); tmm6, tmm7: B (8 rows x 64 bytes). */
static void load_cfg(int kquant) {
    tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) {
        int a = i == 4 || i == 5 || (kquant && i == 3);
        c.rows[i] = i < 6 ? 16 : 8;
        c.colsb[i] = a ? 32 : 64;
    }
    MEM_BARRIER();
    _tile_loadconfig(&c);
}

/* ---- packed activations ----
 * For tile j (16 tokens) and 32-element chunk c: B(j, c) = 512 bytes, row k4
 * (0..7) holding elements 4k4..4k4+3 of tokens 0..15. Then float scales:
 * Q8_0 one per (j, c, token), Q8_K one per (j, super-block, token). */

typedef struct {
    int8_t *b;
    float *d;
    int64_t nc, ndb; /* chunks, scale blocks per token */
} pack_view;

static pack_view pack_at(uint32_t act_type, int64_t n, int64_t ntok, const void *pack) {
    int64_t nt = (ntok + TT - 1) / TT;
    pack_view v;
    v.nc = n / 32;
    v.ndb = act_type == HFLOW_TYPE_Q8_K ? n / QK_K : n / 32;
    v.b = (int8_t *)(uintptr_t)pack;
    v.d = (float *)(v.b + (size_t)nt * v.nc * BBYTES);
    return v;
}

size_t hflow_amx_pack_size(uint32_t act_type, int64_t n, int64_t ntok) {
    int64_t nt = (ntok + TT - 1) / TT, nc = n / 32;
    size_t s = (size_t)nt * nc * BBYTES;
    if (act_type == HFLOW_TYPE_Q8_K) return s + (size_t)nt * TT * 4 * (n / QK_K);
    return s + (size_t)nt * TT * 4 * nc;
}

/* Token slot tt of tile j: the 32 bytes q of chunk c (zeros for NULL). */
static void put_chunk(const pack_view *v, int64_t j, int64_t c, int tt, const int8_t *q) {
    int8_t *dst = v->b + ((size_t)j * v->nc + c) * BBYTES + tt * 4;
    for (int k4 = 0; k4 < 8; k4++) memcpy(dst + k4 * 64, q ? q + 4 * k4 : (const int8_t *)"\0\0\0", 4);
}

static void pack_one(uint32_t act_type, const pack_view *v, const void *xa, int64_t t) {
    int64_t j = t / TT;
    int tt = (int)(t % TT);
    if (act_type == HFLOW_TYPE_Q8_K) {
        const block_q8_K *x = xa;
        for (int64_t s = 0; s < v->ndb; s++) {
            v->d[((size_t)j * v->ndb + s) * TT + tt] = x ? x[s].d : 0.0f;
            for (int k = 0; k < 8; k++) put_chunk(v, j, s * 8 + k, tt, x ? x[s].qs + 32 * k : NULL);
        }
        return;
    }
    const block_q8_0 *x = xa;
    for (int64_t c = 0; c < v->nc; c++) {
        v->d[((size_t)j * v->nc + c) * TT + tt] = x ? h2f(x[c].d) : 0.0f;
        put_chunk(v, j, c, tt, x ? x[c].qs : NULL);
    }
}

void hflow_amx_pack_token(uint32_t act_type, int64_t n, const void *xa, int64_t t, int64_t ntok, void *pack) {
    pack_view v = pack_at(act_type, n, ntok, pack);
    pack_one(act_type, &v, xa, t);
    if (t == ntok - 1)
        for (int64_t p = ntok; p % TT; p++) pack_one(act_type, &v, NULL, p);
}

/* ---- per-thread scratch: a row block's weights as int8 plus scales ---- */

/* K-quants: the scaled level p = sc * q of each element (|p| <= 4096) as
 * two int8 digits, p = 128 * hi + lo (lo in 0..127), so that a super-block's
 * integer sum sum(sc * q * y) = 128 * sum(hi * y) + sum(lo * y) accumulates
 * in two C tiles over all its sub-blocks; and (Q4_K/Q5_K) each element's
 * sub-block min, so that sum(mn * y) accumulates in a third. */
typedef struct {
    int8_t *q;     /* [16][n], row stride n: levels as the dot kernels' integers (K-quants: lo) */
    int8_t *hi;    /* [16][n] K-quants: hi */
    int8_t *mn;    /* [16][n] Q4_K/Q5_K: the min of each element's sub-block */
    float *d;      /* [n/32][16] (32-element types) or [n/256][16] (K-quants) */
    float *dmin;   /* [n/256][16] */
    int32_t *cbuf; /* [4][16][16] C tiles stored for the vector unit */
} wscratch;

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

size_t hflow_amx_scratch_size(uint32_t type, int64_t n) {
    (void)type;
    return 64 + 3 * ALIGN64((size_t)16 * n) + ALIGN64((size_t)64 * (n / 32)) + ALIGN64((size_t)64 * (n / QK_K)) + 4096;
}

static wscratch scratch_at(int64_t n, void *p) {
    char *s = (char *)ALIGN64((uintptr_t)p);
    wscratch w;
    w.q = (int8_t *)s;
    s += ALIGN64((size_t)16 * n);
    w.hi = (int8_t *)s;
    s += ALIGN64((size_t)16 * n);
    w.mn = (int8_t *)s;
    s += ALIGN64((size_t)16 * n);
    w.d = (float *)s;
    s += ALIGN64((size_t)64 * (n / 32));
    w.dmin = (float *)s;
    s += ALIGN64((size_t)64 * (n / QK_K));
    w.cbuf = (int32_t *)s;
    return w;
}

typedef void (*unpack256_fn)(const void *blk, hflow_unpacked256 *u);

/* Rows nrows..15 become zero weights with zero scales. The AVX2 decoders
 * (quant_avx2.h) give the same signed levels as the scalar unpackers, which
 * the references use. */
static void unpack_rows32(dec32_fn dec, int64_t n, const char *w, size_t w_row, int64_t nrows, const wscratch *s) {
    int64_t nb = n / 32;
    for (int r = 0; r < 16; r++) {
        const char *row = w + (size_t)r * w_row;
        for (int64_t b = 0; b < nb; b++) {
            float d = 0.0f;
            __m256i q = r < nrows ? dec(row, b, &d) : _mm256_setzero_si256();
            _mm256_storeu_si256((__m256i *)(s->q + (size_t)r * n + b * 32), q);
            s->d[b * 16 + r] = d;
        }
    }
}

static void unpack_rows256(unpack256_fn un, size_t bsz, int64_t n, const char *w, size_t w_row, int64_t nrows,
                           const wscratch *s) {
    int64_t nsb = n / QK_K;
    for (int r = 0; r < 16; r++) {
        for (int64_t b = 0; b < nsb; b++) {
            hflow_unpacked256 u;
            memset(&u, 0, sizeof u);
            if (r < nrows) un(w + (size_t)r * w_row + (size_t)b * bsz, &u);
            size_t o = (size_t)r * n + (size_t)b * QK_K;
            for (int k = 0; k < 16; k++) {
                __m256i p = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(u.q + 16 * k))),
                                               _mm256_set1_epi16(u.sc[k]));
                _mm_storeu_si128((__m128i *)(s->q + o + 16 * k), _mm256_cvtepi16_epi8(_mm256_and_si256(p, _mm256_set1_epi16(127))));
                _mm_storeu_si128((__m128i *)(s->hi + o + 16 * k), _mm256_cvtepi16_epi8(_mm256_srai_epi16(p, 7)));
                memset(s->mn + o + 16 * k, u.mn[k], 16); /* mins are <= 63 */
            }
            s->d[b * 16 + r] = u.d;
            s->dmin[b * 16 + r] = u.dmin;
        }
    }
}

/* Transposes 16x16 floats in registers: at level s the off-diagonal s x s
 * blocks of every 2s x 2s block swap (s = 8, 4, 2, 1). */
HFLOW_INLINE void transpose16(__m512 m[16]) {
#pragma GCC unroll 4
    for (int s = 8; s >= 1; s /= 2) {
        int lo[16], hi[16];
        for (int l = 0; l < 16; l++) {
            lo[l] = (l & s) == 0 ? l : 16 + l - s;
            hi[l] = (l & s) == 0 ? l + s : 16 + l;
        }
        __m512i ilo = _mm512_loadu_si512(lo), ihi = _mm512_loadu_si512(hi);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i & s) continue;
            __m512 a = m[i], b = m[i + s];
            m[i] = _mm512_permutex2var_ps(a, ilo, b);
            m[i + s] = _mm512_permutex2var_ps(a, ihi, b);
        }
    }
}

/* Tile of tokens t0.. (acc[r] = tokens of row r) into y: transposed so that
 * each token's nrows results go out in one (masked) store rather than
 * nrows scalar ones (a fifth of the kernel's time on 576-column rows). */
static void store_tile(const float out[16][16], int64_t nrows, int64_t t0, int64_t ntok, float *y, int64_t ys) {
    int64_t nt = ntok - t0 < TT ? ntok - t0 : TT;
    __m512 acc[16];
    for (int r = 0; r < 16; r++) acc[r] = _mm512_loadu_ps(out[r]);
    transpose16(acc);
    __mmask16 m = (__mmask16)((1u << nrows) - 1);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) /* constant bounds keep acc in registers */
        if (t < nt) _mm512_mask_storeu_ps(y + (t0 + t) * ys, m, acc[t]);
}

/* ---- 32-element types ---- */

/* acc[r] += (float)C[r] * (d_w[r] * d_x), the tokens in the lanes. */
HFLOW_INLINE void fold32(const int32_t *c, const float *dw, __m512 dx, __m512 acc[16]) {
    for (int r = 0; r < 16; r++)
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * r)),
                                 _mm512_mul_ps(_mm512_set1_ps(dw[r]), dx), acc[r]);
}

/* Blocks bb and bb + 1 into C tiles c0, c1 (A in tmm4/5, B in tmm6/7). */
#define ISSUE2(c0, c1, bb)                                     \
    do {                                                       \
        _tile_zero(c0);                                        \
        _tile_zero(c1);                                        \
        _tile_loadd(4, a + (bb) * a_blk, a_stride);            \
        _tile_loadd(6, B + (bb) * BBYTES, 64);                 \
        _tile_dpbssd(c0, 4, 6);                                \
        _tile_loadd(5, a + ((bb) + 1) * a_blk, a_stride);      \
        _tile_loadd(7, B + ((bb) + 1) * BBYTES, 64);           \
        _tile_dpbssd(c1, 5, 7);                                \
    } while (0)
/* Their sums folded into acc, in block order. */
#define DRAIN2(c0, c1, bb)                                                                     \
    do {                                                                                       \
        int32_t *cb = cbuf + 512 * ((c0) / 2);                                                 \
        _tile_stored(c0, cb, 64);                                                              \
        _tile_stored(c1, cb + 256, 64);                                                        \
        fold32(cb, dw + (bb) * 16, _mm512_loadu_ps(dx + (bb) * TT), acc);                      \
        fold32(cb + 256, dw + ((bb) + 1) * 16, _mm512_loadu_ps(dx + ((bb) + 1) * TT), acc);    \
    } while (0)

/* A of block b at a + b * a_blk, rows a_stride apart; d_w of block b at
 * dw + 16 b. Software-pipelined by pairs of blocks: the tile unit computes
 * pair p (C tiles 0/1 or 2/3 in turn) while the vector unit folds in pair
 * p - 1, so neither waits for the other's latency. */
static void amx_rows32(int64_t nb, const int8_t *a, size_t a_stride, size_t a_blk, const float *dw,
                       const pack_view *v, int64_t ntok, int64_t nrows, float *y, int64_t ys, int32_t *cbuf) {
    const int64_t np = nb / 2;
    for (int64_t j = 0; j * TT < ntok; j++) {
        const int8_t *B = v->b + (size_t)j * v->nc * BBYTES;
        const float *dx = v->d + (size_t)j * v->nc * TT;
        __m512 acc[16];
        for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
        if (np > 0) {
            ISSUE2(0, 1, 0);
            int64_t p = 1;
            for (; p + 2 <= np; p += 2) {
                ISSUE2(2, 3, 2 * p);
                DRAIN2(0, 1, 2 * (p - 1));
                ISSUE2(0, 1, 2 * (p + 1));
                DRAIN2(2, 3, 2 * p);
            }
            if (p < np) { /* np even: one pair left, in tiles 2/3 */
                ISSUE2(2, 3, 2 * p);
                DRAIN2(0, 1, 2 * (p - 1));
                DRAIN2(2, 3, 2 * p);
            } else {
                DRAIN2(0, 1, 2 * (p - 1));
            }
        }
        if (nb & 1) {
            int64_t b = nb - 1;
            _tile_zero(0);
            _tile_loadd(4, a + b * a_blk, a_stride);
            _tile_loadd(6, B + b * BBYTES, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_stored(0, cbuf, 64);
            fold32(cbuf, dw + b * 16, _mm512_loadu_ps(dx + b * TT), acc);
        }
        float out[16][16]; /* through memory: passing acc itself would keep it there throughout */
        for (int r = 0; r < 16; r++) _mm512_storeu_ps(out[r], acc[r]);
        store_tile((const float(*)[16])out, nrows, j * TT, ntok, y, ys);
    }
}

#define AMX32(name)                                                                                            \
    static void amx_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *pack,            \
                           int64_t ntok, float *y, int64_t ys, void *scratch) {                                \
        wscratch s = scratch_at(n, scratch);                                                                   \
        pack_view v = pack_at(HFLOW_TYPE_Q8_0, n, ntok, pack);                                                 \
        unpack_rows32(dec_##name, n, w, w_row, nrows, &s);                         \
        MEM_BARRIER();                                                                                         \
        load_cfg(0);                                                                                          \
        amx_rows32(n / 32, s.q, (size_t)n, 32, s.d, &v, ntok, nrows, y, ys, s.cbuf);                           \
        _tile_release();                                                                                       \
    }
AMX32(q8_0)
AMX32(q4_0)
AMX32(q5_0)

/* ---- K-quants ---- */

/* Super-block sb of token tile j: C0 = sum(lo * y), C1 = sum(hi * y), C2 =
 * sum(mn * y) over its 8 chunks, then stored. */
HFLOW_INLINE void ksums(int has_min, const wscratch *s, int64_t n, int64_t sb, const int8_t *B) {
    _tile_zero(0);
    _tile_zero(1);
    if (has_min) _tile_zero(2);
    for (int k = 0; k < 8; k++) {
        size_t o = (size_t)sb * QK_K + 32 * k;
        _tile_loadd(6, B + (sb * 8 + k) * BBYTES, 64);
        _tile_loadd(4, s->q + o, n);
        _tile_dpbssd(0, 4, 6);
        _tile_loadd(5, s->hi + o, n);
        _tile_dpbssd(1, 5, 6);
        if (has_min) {
            _tile_loadd(3, s->mn + o, n);
            _tile_dpbssd(2, 3, 6);
        }
    }
    _tile_stored(0, s->cbuf, 64);
    _tile_stored(1, s->cbuf + 256, 64);
    if (has_min) _tile_stored(2, s->cbuf + 512, 64);
}

/* Per super-block: acc = fma((float)isum, d_w * d_x, acc) with isum = 128 C1
 * + C0 (the dot kernel's integer), and Q4_K/Q5_K's accm += (dmin * d_x) *
 * (float)summ with summ = C2; the result is acc - accm as in the dot kernel. */
static void amx_rowsK(int has_min, int64_t n, const wscratch *s, const pack_view *v, int64_t ntok, int64_t nrows,
                      float *y, int64_t ys) {
    int64_t nsb = n / QK_K;
    const int32_t *c = s->cbuf;
    for (int64_t j = 0; j * TT < ntok; j++) {
        const int8_t *B = v->b + (size_t)j * v->nc * BBYTES;
        __m512 acc[16], accm[16];
        for (int r = 0; r < 16; r++) acc[r] = accm[r] = _mm512_setzero_ps();
        for (int64_t sb = 0; sb < nsb; sb++) {
            if (has_min) ksums(1, s, n, sb, B);
            else ksums(0, s, n, sb, B);
            __m512 dx = _mm512_loadu_ps(v->d + ((size_t)j * v->ndb + sb) * TT);
            for (int r = 0; r < 16; r++) {
                __m512i isum = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(c + 256 + 16 * r), 7),
                                                _mm512_load_si512(c + 16 * r));
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(_mm512_set1_ps(s->d[sb * 16 + r]), dx),
                                         acc[r]);
            }
            if (!has_min) continue;
            for (int r = 0; r < 16; r++) {
                __m512 dm = _mm512_mul_ps(_mm512_set1_ps(s->dmin[sb * 16 + r]), dx);
                accm[r] = _mm512_add_ps(accm[r], _mm512_mul_ps(dm, _mm512_cvtepi32_ps(_mm512_load_si512(c + 512 + 16 * r))));
            }
        }
        float out[16][16];
        for (int r = 0; r < 16; r++) _mm512_storeu_ps(out[r], has_min ? _mm512_sub_ps(acc[r], accm[r]) : acc[r]);
        store_tile((const float(*)[16])out, nrows, j * TT, ntok, y, ys);
    }
}

#define AMXK(name, HAS_MIN)                                                                                     \
    static void amx_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *pack,             \
                           int64_t ntok, float *y, int64_t ys, void *scratch) {                                 \
        wscratch s = scratch_at(n, scratch);                                                                    \
        pack_view v = pack_at(HFLOW_TYPE_Q8_K, n, ntok, pack);                                                  \
        unpack_rows256(hflow_unpack_##name, sizeof(block_##name), n, w, w_row, nrows, &s);                      \
        MEM_BARRIER();                                                                                          \
        load_cfg(1);                                                                                            \
        amx_rowsK(HAS_MIN, n, &s, &v, ntok, nrows, y, ys);                                                      \
        _tile_release();                                                                                        \
    }
AMXK(q4_K, 1)
AMXK(q5_K, 1)
AMXK(q6_K, 0)

/* ---- scalar references: the kernels' order, one value at a time ---- */

static int32_t ref_isum(const int8_t *q, const int8_t *x, int k) {
    int32_t s = 0;
    for (int e = 0; e < k; e++) s += (int32_t)q[e] * x[e];
    return s;
}

#define REF32(name)                                                                                             \
    static void ref_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *pack,             \
                           int64_t ntok, float *y, int64_t ys, void *scratch) {                                 \
        (void)pack;                                                                                             \
        const block_q8_0 *const *xs = scratch; /* the token rows in the activation format */                   \
        for (int64_t r = 0; r < nrows; r++)                                                                     \
            for (int64_t t = 0; t < ntok; t++) {                                                                \
                float acc = 0.0f;                                                                               \
                for (int64_t b = 0; b < n / 32; b++) {                                                          \
                    hflow_unpacked32 u;                                                                         \
                    hflow_unpack_##name((const char *)w + r * w_row + b * sizeof(block_##name), &u);            \
                    const block_q8_0 *xb = xs[t] + b;                                                           \
                    acc = __builtin_fmaf((float)ref_isum(u.q, xb->qs, 32), u.d * h2f(xb->d), acc);              \
                }                                                                                               \
                y[t * ys + r] = acc;                                                                            \
            }                                                                                                   \
    }
REF32(q8_0)
REF32(q4_0)
REF32(q5_0)

#define REFK(name, HAS_MIN)                                                                                     \
    static void ref_##name(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *pack,             \
                           int64_t ntok, float *y, int64_t ys, void *scratch) {                                 \
        (void)pack;                                                                                             \
        const block_q8_K *const *xs = scratch;                                                                  \
        for (int64_t r = 0; r < nrows; r++)                                                                     \
            for (int64_t t = 0; t < ntok; t++) {                                                                \
                float acc = 0.0f, accm = 0.0f;                                                                  \
                for (int64_t b = 0; b < n / QK_K; b++) {                                                        \
                    hflow_unpacked256 u;                                                                        \
                    hflow_unpack_##name((const char *)w + r * w_row + b * sizeof(block_##name), &u);            \
                    const block_q8_K *xb = xs[t] + b;                                                           \
                    int32_t isum = 0, summ = 0;                                                                 \
                    for (int k = 0; k < 16; k++) isum += u.sc[k] * ref_isum(u.q + 16 * k, xb->qs + 16 * k, 16); \
                    for (int k = 0; k < 16; k++) summ += u.mn[k] * xb->bsums[k];                                \
                    acc = __builtin_fmaf((float)isum, u.d * xb->d, acc);                                        \
                    if (HAS_MIN) accm += u.dmin * xb->d * (float)summ;                                          \
                }                                                                                               \
                y[t * ys + r] = HAS_MIN ? acc - accm : acc;                                                     \
            }                                                                                                   \
    }
REFK(q4_K, 1)
REFK(q5_K, 1)
REFK(q6_K, 0)

hflow_amx_fn hflow_amx_table(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return amx_q8_0;
    case HFLOW_TYPE_Q4_0: return amx_q4_0;
    case HFLOW_TYPE_Q5_0: return amx_q5_0;
    case HFLOW_TYPE_Q4_K: return amx_q4_K;
    case HFLOW_TYPE_Q5_K: return amx_q5_K;
    case HFLOW_TYPE_Q6_K: return amx_q6_K;
    default: return NULL;
    }
}

/* The references take, in place of the scratch, an array of ntok pointers to
 * the token rows in the activation format (they ignore the pack). */
hflow_amx_fn hflow_amx_ref(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return ref_q8_0;
    case HFLOW_TYPE_Q4_0: return ref_q4_0;
    case HFLOW_TYPE_Q5_0: return ref_q5_0;
    case HFLOW_TYPE_Q4_K: return ref_q4_K;
    case HFLOW_TYPE_Q5_K: return ref_q5_K;
    case HFLOW_TYPE_Q6_K: return ref_q6_K;
    default: return NULL;
    }
}
