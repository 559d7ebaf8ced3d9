/* quant_impl.h - per-format scalar (de)quantizers behind quant.h's dispatch.
 * Each converts n elements (a multiple of the block size, checked by the
 * caller). Internal to the engine. */
#ifndef HFLOW_ENGINE_QUANT_IMPL_H
#define HFLOW_ENGINE_QUANT_IMPL_H
#include <stdint.h>

#define HFLOW_DECL_QUANT(name)                                                 \
    void hflow_dequant_##name(const void *src, float *dst, int64_t n);         \
    void hflow_quant_##name(const float *src, void *dst, int64_t n);

HFLOW_DECL_QUANT(f32)
HFLOW_DECL_QUANT(f16)
HFLOW_DECL_QUANT(bf16)
HFLOW_DECL_QUANT(q4_0)
HFLOW_DECL_QUANT(q4_1)
HFLOW_DECL_QUANT(q5_0)
HFLOW_DECL_QUANT(q5_1)
HFLOW_DECL_QUANT(q8_0)
HFLOW_DECL_QUANT(q8_1)

/* Round to nearest, ties to even (the same rule the SIMD kernels use, so
 * scalar and SIMD activation quantizers agree bit for bit). */
static inline int hflow_nearest_int(float f) {
    float r = __builtin_rintf(f);
    return (int)r;
}

#endif
