/* quant_legacy.c - the 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q8_1: decoding to integers (quant_unpack.h), dequantizers built on it, and
 * reference quantizers with ggml's rounding rules. */
#include <math.h>
#include <string.h>

#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "engine/quant_impl.h"
#include "engine/quant_unpack.h"

/* Element with the largest magnitude, keeping its sign: Q4_0/Q5_0 map it to
 * the most negative level so the full [-8, 7] / [-16, 15] range is used. */
static float signed_absmax(const float *x, int n, float *amax_out) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    if (amax_out) *amax_out = amax;
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = x[0];
    *mx = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

void hflow_quant_q4_0(const float *src, void *dst, int64_t n) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        float d = signed_absmax(src, QK4_0, NULL) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hflow_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int q0 = (int)(src[j] * id + 8.5f), q1 = (int)(src[j + QK4_0 / 2] * id + 8.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void hflow_quant_q4_1(const float *src, void *dst, int64_t n) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, src += QK4_1) {
        float mn, mx;
        min_max(src, QK4_1, &mn, &mx);
        float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hflow_fp32_to_fp16(d);
        b[i].m = hflow_fp32_to_fp16(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int q0 = (int)((src[j] - mn) * id + 0.5f), q1 = (int)((src[j + QK4_1 / 2] - mn) * id + 0.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* Q5 blocks keep the fifth bit of element j in bit j of the 32-bit qh. */
static uint32_t qh32(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void nibbles(const uint8_t *qs, int8_t *q, int bias) {
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0x0f) - bias);
        q[j + 16] = (int8_t)((qs[j] >> 4) - bias);
    }
}

static void fifth_bits(uint32_t qh, int8_t *q) {
    for (int j = 0; j < 32; j++) q[j] = (int8_t)(q[j] + (int)((qh >> j) & 1) * 16);
}

void hflow_unpack_q4_0(const void *blk, hflow_unpacked32 *u) {
    const block_q4_0 *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->m = 0.0f;
    nibbles(b->qs, u->q, 8);
}

void hflow_unpack_q4_1(const void *blk, hflow_unpacked32 *u) {
    const block_q4_1 *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->m = hflow_fp16_to_fp32(b->m);
    nibbles(b->qs, u->q, 0);
}

void hflow_unpack_q5_0(const void *blk, hflow_unpacked32 *u) {
    const block_q5_0 *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->m = 0.0f;
    nibbles(b->qs, u->q, 16);
    fifth_bits(qh32(b->qh), u->q);
}

void hflow_unpack_q5_1(const void *blk, hflow_unpacked32 *u) {
    const block_q5_1 *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->m = hflow_fp16_to_fp32(b->m);
    nibbles(b->qs, u->q, 0);
    fifth_bits(qh32(b->qh), u->q);
}

void hflow_unpack_q8_0(const void *blk, hflow_unpacked32 *u) {
    const block_q8_0 *b = blk;
    u->d = hflow_fp16_to_fp32(b->d);
    u->m = 0.0f;
    for (int j = 0; j < 32; j++) u->q[j] = b->qs[j];
}

static void dequant_unpacked32(void (*unpack)(const void *, hflow_unpacked32 *), size_t bsize, const void *src,
                               float *dst, int64_t n) {
    hflow_unpacked32 u;
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        unpack((const char *)src + (size_t)i * bsize, &u);
        for (int j = 0; j < 32; j++) dst[j] = u.q[j] * u.d + u.m;
    }
}

#define DEQUANT32(name)                                                                  \
    void hflow_dequant_##name(const void *src, float *dst, int64_t n) {                  \
        dequant_unpacked32(hflow_unpack_##name, sizeof(block_##name), src, dst, n);      \
    }
DEQUANT32(q4_0)
DEQUANT32(q4_1)
DEQUANT32(q5_0)
DEQUANT32(q5_1)
DEQUANT32(q8_0)

void hflow_quant_q5_0(const float *src, void *dst, int64_t n) {
    block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / QK5_0; i++, src += QK5_0) {
        float d = signed_absmax(src, QK5_0, NULL) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hflow_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = (int)(src[j] * id + 16.5f), q1 = (int)(src[j + QK5_0 / 2] * id + 16.5f);
            q0 = q0 > 31 ? 31 : q0;
            q1 = q1 > 31 ? 31 : q1;
            b[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++) b[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

void hflow_quant_q5_1(const float *src, void *dst, int64_t n) {
    block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / QK5_1; i++, src += QK5_1) {
        float mn, mx;
        min_max(src, QK5_1, &mn, &mx);
        float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hflow_fp32_to_fp16(d);
        b[i].m = hflow_fp32_to_fp16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int q0 = (int)((src[j] - mn) * id + 0.5f), q1 = (int)((src[j + QK5_1 / 2] - mn) * id + 0.5f);
            q0 = q0 > 31 ? 31 : q0;
            q1 = q1 > 31 ? 31 : q1;
            b[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++) b[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

void hflow_quant_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
        float amax;
        signed_absmax(src, QK8_0, &amax);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hflow_fp32_to_fp16(d);
        /* roundf (ties away from zero) as ggml's reference: files we write match its bytes */
        for (int j = 0; j < QK8_0; j++) b[i].qs[j] = (int8_t)roundf(src[j] * id);
    }
}

void hflow_dequant_q8_1(const void *src, float *dst, int64_t n) {
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++, dst += QK8_1) {
        float d = hflow_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK8_1; j++) dst[j] = b[i].qs[j] * d;
    }
}

void hflow_quant_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
        float amax;
        signed_absmax(src, QK8_1, &amax);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            b[i].qs[j] = (int8_t)roundf(src[j] * id);
            sum += b[i].qs[j];
        }
        b[i].d = hflow_fp32_to_fp16(d);
        b[i].s = hflow_fp32_to_fp16((float)sum * d);
    }
}
