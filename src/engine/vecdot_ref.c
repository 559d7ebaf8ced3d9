/* vecdot_ref.c - scalar reference dot kernels: the definition of "correct"
 * for every SIMD kernel, and the fallback on CPUs without one. */
#include <string.h>

#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "engine/quant_impl.h"
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

static void dot_q8_0(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out) {
    const block_q8_0 *a = w;
    for (int t = 0; t < nx; t++) {
        const block_q8_0 *b = (const block_q8_0 *)((const char *)x + (size_t)t * xs);
        float s = 0.0f;
        for (int64_t i = 0; i < n / QK8_0; i++) {
            int sumi = 0;
            for (int j = 0; j < QK8_0; j++) sumi += a[i].qs[j] * b[i].qs[j];
            s += (float)sumi * (hflow_fp16_to_fp32(a[i].d) * hflow_fp16_to_fp32(b[i].d));
        }
        out[t] = s;
    }
}

#define REF(t, act, fn, q) [t] = {act, fn, q, "scalar"}
static const hflow_dot_kernel ref_kernels[HFLOW_TYPE_COUNT] = {
    REF(HFLOW_TYPE_F32, HFLOW_TYPE_F32, dot_f32, hflow_quant_f32),
    REF(HFLOW_TYPE_F16, HFLOW_TYPE_F32, dot_f16, hflow_quant_f32),
    REF(HFLOW_TYPE_BF16, HFLOW_TYPE_F32, dot_bf16, hflow_quant_f32),
    REF(HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q8_0, dot_q8_0, hflow_quant_q8_0),
};

const hflow_dot_kernel *hflow_dot_kernel_ref(uint32_t type) {
    if (type >= HFLOW_TYPE_COUNT || !ref_kernels[type].dot) return NULL;
    return &ref_kernels[type];
}

const hflow_dot_kernel *hflow_dot_kernel_get(uint32_t type) {
    const hflow_dot_kernel *k = NULL;
    /* The SIMD files are compiled on exactly these targets (CMakeLists.txt). */
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        k = hflow_dot_kernel_avx2(type);
#elif defined(__aarch64__)
    k = hflow_dot_kernel_neon(type);
#endif
    if (k && k->dot) return k;
    return hflow_dot_kernel_ref(type);
}
