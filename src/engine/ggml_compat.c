/* ggml_compat.c - scalar emulation of ggml-cpu's x86 arithmetic (see
 * ggml_compat.h). Every fused multiply-add of the original is an fmaf here
 * and every vector lane a loop index, so results match to the bit. */
#include "engine/ggml_compat.h"

#include <math.h>
#include <string.h>

#include "engine/ggml_type.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "engine/quant_unpack.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float hflow_round_f16(float x) { return hflow_fp16_to_fp32(hflow_fp32_to_fp16(x)); }

float hflow_ggml_expf(float x) {
    const float r = 0x1.8p23f;
    float z = fmaf(x, 0x1.715476p+0f, r);
    float n = z - r;
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    uint32_t e = bits_of(z) << 23;
    float k = float_of(e + bits_of(1.0f));
    float u = b * b;
    float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                   0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(k, j, k);
    /* |n| > 126: the scale 2^n does not fit one float; split it in two. */
    uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    float s1 = float_of(g + 0x7f000000u), s2 = float_of(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

float hflow_ggml_hsum8(const float l[8]) {
    float v0 = l[4] + l[0], v1 = l[5] + l[1], v2 = l[6] + l[2], v3 = l[7] + l[3];
    return (v0 + v2) + (v1 + v3);
}

float hflow_ggml_dot_gemm(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    for (int64_t i = 0; i < n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    return hflow_ggml_hsum8(acc);
}

/* ggml_vec_dot's SIMD part: four accumulators over steps of 32, then
 * GGML_F32x8_REDUCE (adds, then two hadds). */
static float dot_vec_simd(const float *a, const float *b, int64_t np) {
    float acc[4][8] = {{0}};
    for (int64_t i = 0; i < np; i += 32)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 8; l++) acc[j][l] = fmaf(a[i + 8 * j + l], b[i + 8 * j + l], acc[j][l]);
    float t[8];
    for (int l = 0; l < 8; l++) t[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    float t0 = t[0] + t[4], t1 = t[1] + t[5], t2 = t[2] + t[6], t3 = t[3] + t[7];
    return (t0 + t1) + (t2 + t3);
}

float hflow_ggml_dot_vec_f32(const float *a, const float *b, int64_t n) {
    int64_t np = n & ~(int64_t)31;
    float sum = dot_vec_simd(a, b, np);
    /* `sumf += x[i]*y[i]` compiled with FMA contraction (gcc's default) */
    for (int64_t i = np; i < n; i++) sum += a[i] * b[i];
    return sum;
}

float hflow_ggml_dot_vec_f16(const float *a, const float *b, int64_t n) {
    int64_t np = n & ~(int64_t)31;
    double sum = dot_vec_simd(a, b, np);
    for (int64_t i = np; i < n; i++) sum += (double)(a[i] * b[i]);
    return (float)sum;
}

void hflow_ggml_softmax(float *x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int i = 0; i < n; i += 8) {
        float v[8];
        for (int l = 0; l < 8; l++) v[l] = i + l < n ? hflow_ggml_expf(x[i + l] - max) : 0.0f; /* masked: exp(-inf) */
        for (int l = 0; l < 8 && i + l < n; l++) x[i + l] = v[l];
        sum += (double)hflow_ggml_hsum8(v); /* same movehl/movehdup reduction */
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void hflow_ggml_swiglu(float *gate, const float *up, int n_rows, int n_ff) {
    for (int r = 0; r < n_rows; r++) {
        float *g = gate + (size_t)r * n_ff;
        const float *u = up + (size_t)r * n_ff;
        int i = 0, n_vec = n_ff & ~7; /* ggml_v_silu over each full group of 8 */
        for (; i < n_vec; i++) g[i] = g[i] / (1.0f + hflow_ggml_expf(0.0f - g[i])) * u[i];
        for (; i < n_ff; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i]; /* scalar tail: libm expf */
    }
}

void hflow_ggml_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float mean = (float)(sum / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void hflow_ggml_quant_q8_0(const float *x, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        b[i].d = hflow_fp32_to_fp16(amax / 127.0f);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; j++) b[i].qs[j] = (int8_t)nearbyintf(x[j] * id); /* _MM_ROUND_NEAREST */
    }
}

float hflow_ggml_dot_q32(uint32_t type, const void *w, const void *xq, int64_t n) {
    const block_q8_0 *xb = xq;
    float acc[8] = {0};
    hflow_unpacked32 u;
    for (int64_t ib = 0; ib < n / 32; ib++) {
        if (type == HFLOW_TYPE_Q4_0) hflow_unpack_q4_0((const block_q4_0 *)w + ib, &u);
        else hflow_unpack_q8_0((const block_q8_0 *)w + ib, &u);
        float d = u.d * hflow_fp16_to_fp32(xb[ib].d);
        for (int l = 0; l < 8; l++) {
            int sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; e++) sum += u.q[e] * xb[ib].qs[e];
            acc[l] = fmaf(d, (float)sum, acc[l]);
        }
    }
    return hflow_ggml_hsum8(acc);
}

float hflow_ggml_dot_q4_0_x8(const void *w, const void *xq, int64_t n) {
    const block_q8_0 *xb = xq;
    float acc = 0.0f;
    hflow_unpacked32 u;
    for (int64_t ib = 0; ib < n / 32; ib++) {
        hflow_unpack_q4_0((const block_q4_0 *)w + ib, &u);
        int sum = 0;
        for (int e = 0; e < 32; e++) sum += u.q[e] * xb[ib].qs[e];
        acc = fmaf((float)sum, u.d * hflow_fp16_to_fp32(xb[ib].d), acc);
    }
    return acc;
}

void hflow_ggml_quant_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < 256; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        memset(&b[i], 0, sizeof b[i]);
        if (amax == 0.0f) continue;
        /* ggml-base is built without FMA, so iscale*x is rounded before the
         * round-half-even of nearest_int (rintf here). */
        float iscale = -127.0f / max;
        for (int j = 0; j < 256; j++) {
            int v = (int)rintf(iscale * x[j]);
            b[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += b[i].qs[16 * g + j];
            b[i].bsums[g] = (int16_t)sum;
        }
        b[i].d = 1.0f / iscale;
    }
}

/* One super-block's eight integer lane sums: lane l takes elements
 * 32c + 4l .. 32c + 4l + 3 of each chunk c, each times its scale (exact in
 * int32, as maddubs/madd/add_epi32 compute them). */
static void k_lane_sums(const hflow_unpacked256 *u, const int8_t *xq, int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    for (int e = 0; e < 256; e++) lane[(e % 32) / 4] += u->sc[e / 16] * u->q[e] * xq[e];
}

float hflow_ggml_dot_k(uint32_t type, const void *w, const void *xq, int64_t n) {
    const block_q8_K *xb = xq;
    float acc[8] = {0}, acc_m[4] = {0};
    hflow_unpacked256 u;
    int q4k = type == HFLOW_TYPE_Q4_K;
    for (int64_t ib = 0; ib < n / 256; ib++) {
        if (q4k) hflow_unpack_q4_K((const block_q4_K *)w + ib, &u);
        else hflow_unpack_q6_K((const block_q6_K *)w + ib, &u);
        if (q4k) { /* mins: madd of the 8 mins with the 8 sub-block sums of q8 */
            float dmin = -xb[ib].d * u.dmin;
            for (int k = 0; k < 4; k++) {
                int s0 = xb[ib].bsums[4 * k] + xb[ib].bsums[4 * k + 1];
                int s1 = xb[ib].bsums[4 * k + 2] + xb[ib].bsums[4 * k + 3];
                int prod = u.mn[4 * k] * s0 + u.mn[4 * k + 2] * s1; /* mn is per 16: sub-block j at 2j */
                acc_m[k] = fmaf(dmin, (float)prod, acc_m[k]);
            }
        }
        int32_t lane[8];
        k_lane_sums(&u, xb[ib].qs, lane);
        float d = xb[ib].d * u.d;
        for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
    }
    float s = hflow_ggml_hsum8(acc);
    if (q4k) s += (acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]);
    return s;
}

void hflow_ggml_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float theta_base, float freq_scale,
                     int style) {
    int half = n_rot / 2;
    float theta_scale = powf(theta_base, -2.0f / (float)n_rot), theta = (float)pos;
    for (int i = 0; i < half; i++, theta *= theta_scale) {
        float angle = freq_scale * theta, c = cosf(angle), s = sinf(angle);
        int a = style == HFLOW_ROPE_NEOX ? i : 2 * i, b = style == HFLOW_ROPE_NEOX ? i + half : 2 * i + 1;
        for (int h = 0; h < n_heads; h++) {
            float *hx = x + (size_t)h * head_dim, x0 = hx[a], x1 = hx[b];
            hx[a] = fmaf(x0, c, -(x1 * s));
            hx[b] = fmaf(x0, s, x1 * c);
        }
    }
}
