/* vecdot.h - dot-product kernels between one weight row and activations.
 *
 * Weights stay in their storage format; activations are first converted to
 * the kernel's act_type (F32 for float weights, Q8_0 for the 32-element
 * formats, Q8_K for K-quants) so quantized products run on integers, as in
 * llama.cpp. One call multiplies a weight row with nx activation rows (stride
 * bytes apart) so matrix-matrix products decode each weight block once for
 * several tokens. hflow_dot_kernel_get() picks the best implementation for
 * this CPU at run time; hflow_dot_kernel_ref() is the scalar reference that
 * tests compare SIMD kernels against. Returned tables are static: not freed. */
#ifndef HFLOW_ENGINE_VECDOT_H
#define HFLOW_ENGINE_VECDOT_H
#include <stddef.h>
#include <stdint.h>

#include "engine/ggml_type.h"

/* out[i] = dot(w[0..n), x_i) for i < nx, x_i at x + i * x_stride. */
typedef void (*hflow_dot_fn)(int64_t n, const void *w, const void *x, size_t x_stride, int nx, float *out);
/* Converts n f32 activations to act_type (n a multiple of its block size). */
typedef void (*hflow_act_fn)(const float *src, void *dst, int64_t n);

typedef struct hflow_dot_kernel {
    uint32_t act_type;
    hflow_dot_fn dot;
    hflow_act_fn quantize_act;
    const char *impl; /* "scalar", "avx2", "neon" */
} hflow_dot_kernel;

/* The weight types every implementation covers, with the activation format
 * each one's products use (all implementations of a type must agree, since
 * matmul converts the activations once per format): X(TYPE, name, ACT, act)
 * for HFLOW_TYPE_TYPE weights against HFLOW_TYPE_ACT activations; `name` and
 * `act` are the lower-case suffixes an implementation's functions carry
 * (dot_q4_K, quant_act_q8_K). The scalar reference adds Q2_K and Q3_K. */
#define HFLOW_DOT_TYPES(X)                                                                                   \
    X(F32, f32, F32, f32) X(F16, f16, F32, f32) X(BF16, bf16, F32, f32) X(Q4_0, q4_0, Q8_0, q8_0)            \
    X(Q4_1, q4_1, Q8_0, q8_0) X(Q5_0, q5_0, Q8_0, q8_0) X(Q5_1, q5_1, Q8_0, q8_0) X(Q8_0, q8_0, Q8_0, q8_0) \
    X(Q4_K, q4_K, Q8_K, q8_K) X(Q5_K, q5_K, Q8_K, q8_K) X(Q6_K, q6_K, Q8_K, q8_K)

/* NULL when the weight type has no kernel. */
const hflow_dot_kernel *hflow_dot_kernel_get(uint32_t type);
const hflow_dot_kernel *hflow_dot_kernel_ref(uint32_t type);

/* SIMD tables: the entry for a type is NULL (dot == NULL) when that
 * implementation has no kernel for it. Defined in vecdot_avx2.c / vecdot_neon.c. */
const hflow_dot_kernel *hflow_dot_kernel_avx2(uint32_t type);
const hflow_dot_kernel *hflow_dot_kernel_neon(uint32_t type);

#endif
