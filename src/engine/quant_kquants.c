/* quant_kquants.c - K-quant super-blocks (256 elements): decoding of Q2_K,
 * Q3_K, Q4_K, Q5_K, Q6_K and Q8_K, and reference quantizers for Q4_K, Q5_K,
 * Q6_K and Q8_K. Layouts follow ggml's block_qN_K exactly.
 *
 * The quantizers are ours and simpler than llama.cpp's search: per sub-block
 * a min/max (or absmax) start refined by a few least-squares passes, then the
 * sub-block scales are themselves quantized against the super-block maxima. */
#include <math.h>
#include <string.h>

#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "engine/quant_impl.h"
#include "engine/quant_unpack.h"

/* ---- decoding ---- */

void hflow_unpack_q2_K(const void *blk, hflow_unpacked256 *u) {
    const block_q2_K *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->dmin = hflow_fp16_to_fp32(b->dmin);
    for (int i = 0; i < 16; i++) {
        u->sc[i] = b->scales[i] & 0x0f;
        u->mn[i] = b->scales[i] >> 4;
    }
    /* element 128*n + 32*j + l holds bits 2j..2j+1 of qs[32*n + l] */
    for (int e = 0; e < 256; e++) {
        int n = e / 128, j = (e % 128) / 32, l = e % 32;
        u->q[e] = (int8_t)((b->qs[32 * n + l] >> (2 * j)) & 3);
    }
}

void hflow_unpack_q3_K(const void *blk, hflow_unpacked256 *u) {
    const block_q3_K *b = blk;
    const uint8_t *s = b->scales;
    u->d = hflow_fp16_to_fp32(b->d);
    u->dmin = 0.0f;
    /* 16 six-bit scales: low nibbles in s[0..7], high bit pairs in s[8..11] */
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? s[i] & 0x0f : s[i - 8] >> 4;
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        u->sc[i] = (int16_t)((lo | hi << 4) - 32);
        u->mn[i] = 0;
    }
    /* element 128*n + 32*j + l: 2 low bits as in Q2_K, high bit (set = no
     * offset, clear = minus 4) in bit 4*n + j of hmask[l] */
    for (int e = 0; e < 256; e++) {
        int n = e / 128, j = (e % 128) / 32, l = e % 32;
        int low = (b->qs[32 * n + l] >> (2 * j)) & 3;
        int high = (b->hmask[l] >> (4 * n + j)) & 1;
        u->q[e] = (int8_t)(low - (high ? 0 : 4));
    }
}

static void unpack_k4_scales(const uint8_t *s, hflow_unpacked256 *u) {
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        hflow_k4_scale_min(j, s, &sc, &mn);
        u->sc[2 * j] = u->sc[2 * j + 1] = (int16_t)sc;
        u->mn[2 * j] = u->mn[2 * j + 1] = (int16_t)mn;
    }
}

void hflow_unpack_q4_K(const void *blk, hflow_unpacked256 *u) {
    const block_q4_K *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->dmin = hflow_fp16_to_fp32(b->dmin);
    unpack_k4_scales(b->scales, u);
    /* 64-element chunk c: low nibbles of qs[32c..] then high nibbles */
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            u->q[64 * c + l] = (int8_t)(b->qs[32 * c + l] & 0x0f);
            u->q[64 * c + 32 + l] = (int8_t)(b->qs[32 * c + l] >> 4);
        }
}

void hflow_unpack_q5_K(const void *blk, hflow_unpacked256 *u) {
    const block_q5_K *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->dmin = hflow_fp16_to_fp32(b->dmin);
    unpack_k4_scales(b->scales, u);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int h0 = (b->qh[l] >> (2 * c)) & 1, h1 = (b->qh[l] >> (2 * c + 1)) & 1;
            u->q[64 * c + l] = (int8_t)((b->qs[32 * c + l] & 0x0f) | h0 << 4);
            u->q[64 * c + 32 + l] = (int8_t)((b->qs[32 * c + l] >> 4) | h1 << 4);
        }
}

void hflow_unpack_q6_K(const void *blk, hflow_unpacked256 *u) {
    const block_q6_K *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->dmin = 0.0f;
    for (int i = 0; i < 16; i++) {
        u->sc[i] = b->scales[i];
        u->mn[i] = 0;
    }
    /* 128-element half n: ql[64n + l] holds elements l (low) and l+64 (high),
     * ql[64n + 32 + l] elements l+32 and l+96; qh[32n + l] their top 2 bits */
    for (int n = 0; n < 2; n++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *ql = b->ql + 64 * n, h = b->qh[32 * n + l];
            int8_t *q = u->q + 128 * n;
            q[l] = (int8_t)(((ql[l] & 0x0f) | ((h >> 0) & 3) << 4) - 32);
            q[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | ((h >> 2) & 3) << 4) - 32);
            q[l + 64] = (int8_t)(((ql[l] >> 4) | ((h >> 4) & 3) << 4) - 32);
            q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((h >> 6) & 3) << 4) - 32);
        }
}

static void dequant_unpacked(void (*unpack)(const void *, hflow_unpacked256 *), size_t bsize, const void *src,
                             float *dst, int64_t n) {
    hflow_unpacked256 u;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        unpack((const char *)src + (size_t)i * bsize, &u);
        for (int e = 0; e < QK_K; e++) dst[e] = u.d * u.sc[e / 16] * u.q[e] - u.dmin * u.mn[e / 16];
    }
}

#define DEQUANT_K(name)                                                              \
    void hflow_dequant_##name(const void *src, float *dst, int64_t n) {              \
        dequant_unpacked(hflow_unpack_##name, sizeof(block_##name), src, dst, n);    \
    }
DEQUANT_K(q2_K)
DEQUANT_K(q3_K)
DEQUANT_K(q4_K)
DEQUANT_K(q5_K)
DEQUANT_K(q6_K)

void hflow_dequant_q8_K(const void *src, float *dst, int64_t n) {
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K)
        for (int e = 0; e < QK_K; e++) dst[e] = b[i].d * b[i].qs[e];
}

/* ---- quantizing ---- */

void hflow_quant_q8_K(const float *src, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float amax = 0.0f;
        for (int e = 0; e < QK_K; e++) amax = fmaxf(amax, fabsf(src[e]));
        float iscale = amax > 0.0f ? 127.0f / amax : 0.0f;
        b[i].d = amax > 0.0f ? 1.0f / iscale : 0.0f;
        for (int e = 0; e < QK_K; e++) {
            int q = hflow_nearest_int(src[e] * iscale);
            b[i].qs[e] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int e = 0; e < 16; e++) s += b[i].qs[16 * g + e];
            b[i].bsums[g] = (int16_t)s;
        }
    }
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Fits x ~= scale * L - off with L in 0..nmax, off >= 0, over n values:
 * min/max start, then alternate rounding L and a least-squares fit of
 * (scale, off), keeping the best. */
static void fit_scale_min(const float *x, int n, int nmax, float *scale, float *off) {
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
    }
    if (mn > 0) mn = 0;
    float s = (mx - mn) / nmax, m = mn, best_err = INFINITY;
    *scale = s;
    *off = -mn;
    if (s == 0.0f) { *scale = 0.0f; return; }
    for (int it = 0; it < 6; it++) {
        double sl = 0, sll = 0, sx = 0, sxl = 0, err = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(hflow_nearest_int((x[i] - m) / s), 0, nmax);
            float e = s * l + m - x[i];
            err += (double)e * e;
            sl += l;
            sll += (double)l * l;
            sx += x[i];
            sxl += (double)x[i] * l;
        }
        if (err < best_err) {
            best_err = (float)err;
            *scale = s;
            *off = -m;
        }
        double det = n * sll - sl * sl;
        if (det <= 0) break;
        double ns = (n * sxl - sl * sx) / det, nm = (sx - ns * sl) / n;
        if (nm > 0) { nm = 0; ns = sll > 0 ? sxl / sll : 0; } /* the offset must stay >= 0 */
        if (ns <= 0) break;
        s = (float)ns;
        m = (float)nm;
    }
}

/* Quantizes per-sub-block (scale, min) pairs to 6 bits against their maxima.
 * Returns the fp16-rounded super-block factors through d/dmin. */
static void quant_k4_scales(const float *scales, const float *mins, uint8_t *ls, uint8_t *lm, uint16_t *d,
                            uint16_t *dmin) {
    float ms = 0.0f, mm = 0.0f;
    for (int j = 0; j < 8; j++) {
        ms = fmaxf(ms, scales[j]);
        mm = fmaxf(mm, mins[j]);
    }
    float is = ms > 0 ? 63.0f / ms : 0.0f, im = mm > 0 ? 63.0f / mm : 0.0f;
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(hflow_nearest_int(is * scales[j]), 0, 63);
        lm[j] = (uint8_t)clampi(hflow_nearest_int(im * mins[j]), 0, 63);
    }
    *d = hflow_fp32_to_fp16(ms / 63.0f);
    *dmin = hflow_fp32_to_fp16(mm / 63.0f);
}

static void pack_k4_scales(const uint8_t *ls, const uint8_t *lm, uint8_t *s) {
    memset(s, 0, K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= ls[j];
            s[j + 4] |= lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0x0f) | (lm[j] & 0x0f) << 4);
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): levels L[256] plus header. */
static void quant_k4_levels(const float *x, int nmax, uint8_t *L, uint16_t *d, uint16_t *dmin, uint8_t *scales) {
    float sc[8], mn[8];
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) fit_scale_min(x + 32 * j, 32, nmax, &sc[j], &mn[j]);
    quant_k4_scales(sc, mn, ls, lm, d, dmin);
    pack_k4_scales(ls, lm, scales);
    float fd = hflow_fp16_to_fp32(*d), fm = hflow_fp16_to_fp32(*dmin);
    for (int j = 0; j < 8; j++) {
        float s = fd * ls[j], m = fm * lm[j];
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = s > 0 ? (uint8_t)clampi(hflow_nearest_int((x[32 * j + l] + m) / s), 0, nmax) : 0;
    }
}

void hflow_quant_q4_K(const float *src, void *dst, int64_t n) {
    block_q4_K *b = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quant_k4_levels(src, 15, L, &b[i].d, &b[i].dmin, b[i].scales);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) b[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void hflow_quant_q5_K(const float *src, void *dst, int64_t n) {
    block_q5_K *b = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quant_k4_levels(src, 31, L, &b[i].d, &b[i].dmin, b[i].scales);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int a = L[64 * c + l], z = L[64 * c + 32 + l];
                b[i].qs[32 * c + l] = (uint8_t)((a & 0x0f) | (z & 0x0f) << 4);
                b[i].qh[l] |= (uint8_t)((a >> 4) << (2 * c) | (z >> 4) << (2 * c + 1));
            }
    }
}

/* Q6_K sub-block of 16: symmetric scale with the largest magnitude mapped to
 * -32, refined by least squares on the rounded levels. */
static float fit_scale_sym(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax == 0.0f) return 0.0f;
    float s = max / -32.0f, best = s, best_err = INFINITY;
    for (int it = 0; it < 4; it++) {
        double sxl = 0, sll = 0, err = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(hflow_nearest_int(x[i] / s), -32, 31);
            float e = s * l - x[i];
            err += (double)e * e;
            sxl += (double)x[i] * l;
            sll += (double)l * l;
        }
        if (err < best_err) { best_err = (float)err; best = s; }
        if (sll == 0) break;
        s = (float)(sxl / sll);
    }
    return best;
}

void hflow_quant_q6_K(const float *src, void *dst, int64_t n) {
    block_q6_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float sc[16], max_sc = 0.0f, amax_sc = 0.0f;
        for (int g = 0; g < 16; g++) {
            sc[g] = fit_scale_sym(src + 16 * g, 16);
            if (fabsf(sc[g]) > amax_sc) { amax_sc = fabsf(sc[g]); max_sc = sc[g]; }
        }
        uint8_t L[QK_K];
        memset(L, 32, sizeof L);
        if (amax_sc == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
        } else {
            float iscale = -128.0f / max_sc; /* largest scale maps to -128 */
            b[i].d = hflow_fp32_to_fp16(1.0f / iscale);
            float d = hflow_fp16_to_fp32(b[i].d);
            for (int g = 0; g < 16; g++) {
                b[i].scales[g] = (int8_t)clampi(hflow_nearest_int(iscale * sc[g]), -128, 127);
                float s = d * b[i].scales[g];
                if (s == 0.0f) continue;
                for (int l = 0; l < 16; l++)
                    L[16 * g + l] = (uint8_t)(clampi(hflow_nearest_int(src[16 * g + l] / s), -32, 31) + 32);
            }
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *q = L + 128 * h;
                b[i].ql[64 * h + l] = (uint8_t)((q[l] & 0x0f) | (q[l + 64] & 0x0f) << 4);
                b[i].ql[64 * h + 32 + l] = (uint8_t)((q[l + 32] & 0x0f) | (q[l + 96] & 0x0f) << 4);
                b[i].qh[32 * h + l] =
                    (uint8_t)((q[l] >> 4) | (q[l + 32] >> 4) << 2 | (q[l + 64] >> 4) << 4 | (q[l + 96] >> 4) << 6);
            }
    }
}
