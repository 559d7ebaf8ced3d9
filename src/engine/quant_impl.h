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
HFLOW_DECL_QUANT(q4_K)
HFLOW_DECL_QUANT(q5_K)
HFLOW_DECL_QUANT(q6_K)
HFLOW_DECL_QUANT(q8_K)
/* decode only: no quantizer */
void hflow_dequant_q2_K(const void *src, float *dst, int64_t n);
void hflow_dequant_q3_K(const void *src, float *dst, int64_t n);

/* Round to nearest, ties to even (as ggml's nearest_int, used by the K-quant
 * quantizers; Q8_0/Q8_1 use roundf like ggml's reference instead). */
static inline int hflow_nearest_int(float f) {
    float r = __builtin_rintf(f);
    return (int)r;
}

#endif
