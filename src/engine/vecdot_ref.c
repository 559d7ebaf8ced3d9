/* vecdot_ref.c - scalar reference dot kernels: the definition of "correct"
 * for every SIMD kernel, and the fallback on CPUs without one. */
#include <string.h>

#include "base/cpu.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "engine/quant_impl.h"
#include "engine/quant_unpack.h"
#include "engine/vecdot.h"

static void dot_f32(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    const float *a = w;
    for (int t = 0; t < nx; t++) {
        const float *b = (const float *)((const char *)x + (size_t)t * xs);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
        out[t] = s;
    }
}

static void dot_f16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    const uint16_t *a = w;
    for (int t = 0; t < nx; t++) {
        const float *b = (const float *)((const char *)x + (size_t)t * xs);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += hflow_fp16_to_fp32(a[i]) * b[i];
        out[t] = s;
    }
}

static void dot_bf16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    const uint16_t *a = w;
    for (int t = 0; t < nx; t++) {
        const float *b = (const float *)((const char *)x + (size_t)t * xs);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += hflow_bf16_to_fp32(a[i]) * b[i];
        out[t] = s;
    }
}

/* 32-element formats against Q8_0 activations:
 * sum(w x) = sum_blocks xd * (d * sum(q * xq) + m * sum(xq)). */
static void dot_blocks32(void (*unpack)(const void *, hflow_unpacked32 *), size_t bsize, int64_t n, const void *w,
                         const void *x, size_t xs, int nx, float *out) {
    hflow_unpacked32 u;
    for (int t = 0; t < nx; t++) out[t] = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        unpack((const char *)w + (size_t)i * bsize, &u);
        for (int t = 0; t < nx; t++) {
            const block_q8_0 *b = (const block_q8_0 *)((const char *)x + (size_t)t * xs) + i;
            int sumi = 0, sumx = 0;
            for (int j = 0; j < 32; j++) {
                sumi += u.q[j] * b->qs[j];
                sumx += b->qs[j];
            }
            float xd = hflow_fp16_to_fp32(b->d);
            out[t] += xd * (u.d * (float)sumi + u.m * (float)sumx);
        }
    }
}

/* K-quants against Q8_K activations: per 16-element group g,
 * d * xd * sc[g] * sum(q * xq) - dmin * xd * mn[g] * bsums[g]. */
static void dot_blocks256(void (*unpack)(const void *, hflow_unpacked256 *), size_t bsize, int64_t n, const void *w,
                          const void *x, size_t xs, int nx, float *out) {
    hflow_unpacked256 u;
    for (int t = 0; t < nx; t++) out[t] = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack((const char *)w + (size_t)i * bsize, &u);
        for (int t = 0; t < nx; t++) {
            const block_q8_K *b = (const block_q8_K *)((const char *)x + (size_t)t * xs) + i;
            int32_t sumi = 0, summ = 0;
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int l = 0; l < 16; l++) s += u.q[16 * g + l] * b->qs[16 * g + l];
                sumi += u.sc[g] * s;
                summ += u.mn[g] * b->bsums[g];
            }
            out[t] += b->d * (u.d * (float)sumi - u.dmin * (float)summ);
        }
    }
}

#define DOT32(name)                                                                          \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) { \
        dot_blocks32(hflow_unpack_##name, sizeof(block_##name), n, w, x, xs, nx, out);       \
    }
#define DOT256(name)                                                                         \
    static void dot_##name(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) { \
        dot_blocks256(hflow_unpack_##name, sizeof(block_##name), n, w, x, xs, nx, out);      \
    }
DOT32(q4_0)
DOT32(q4_1)
DOT32(q5_0)
DOT32(q5_1)
DOT32(q8_0)
DOT256(q2_K)
DOT256(q3_K)
DOT256(q4_K)
DOT256(q5_K)
DOT256(q6_K)

#define REF(T, name, A, act) [HFLOW_TYPE_##T] = {HFLOW_TYPE_##A, dot_##name, hflow_quant_##act, "scalar"},
static const hflow_dot_kernel ref_kernels[HFLOW_TYPE_COUNT] = {
    HFLOW_DOT_TYPES(REF) REF(Q2_K, q2_K, Q8_K, q8_K) REF(Q3_K, q3_K, Q8_K, q8_K)
};

const hflow_dot_kernel *hflow_dot_kernel_ref(uint32_t type) {
    if (type >= HFLOW_TYPE_COUNT || !ref_kernels[type].dot) return NULL;
    return &ref_kernels[type];
}

const hflow_dot_kernel *hflow_dot_kernel_get(uint32_t type) {
    const hflow_dot_kernel *k = NULL;
    /* The SIMD files are compiled on exactly these targets (CMakeLists.txt). */
#if defined(__x86_64__)
    if (hflow_cpu_has_avx2_fma_f16c())
        k = hflow_dot_kernel_avx2(type);
#elif defined(__aarch64__)
    k = hflow_dot_kernel_neon(type);
#endif
    if (k && k->dot) return k;
    return hflow_dot_kernel_ref(type);
}
