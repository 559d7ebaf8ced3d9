/* gemv_avx2.c - 4-row decode kernels (gemv.h) for AVX2/FMA/F16C.
 * Q8_0, Q4_0 and Q5_0 weights x Q8_0 activations: 4x1 tiles of
 * quant_avx2.h's tile32, whose per-block arithmetic is the dot kernels' in
 * vecdot_avx2.c, so the outputs are identical. */
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant_avx2.h"

#define GEMV32(name)                                                                                        \
    static void tile4_##name(int64_t n, const char *w, size_t stride, const void *x, float out[4]) {         \
        tile32(4, 1, dec_##name, n / 32, w, stride, x, 0, out, 0);                                          \
    }                                                                                                       \
    static void row1_##name(int64_t n, const char *w, const void *x, float *out) {                          \
        tile32(1, 1, dec_##name, n / 32, w, 0, x, 0, out, 0);                                               \
    }                                                                                                       \
    HFLOW_GEMV_PAIR(name)
GEMV32(q8_0)
GEMV32(q4_0)
GEMV32(q5_0)

hflow_gemv_fn hflow_gemv_avx2(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemv_q8_0;
    case HFLOW_TYPE_Q4_0: return gemv_q4_0;
    case HFLOW_TYPE_Q5_0: return gemv_q5_0;
    default: return hflow_gemv_kquant_avx2(type);
    }
}

hflow_gemv_seg_fn hflow_gemv_seg_avx2(uint32_t type) {
    switch (type) {
    case HFLOW_TYPE_Q8_0: return gemv_seg_q8_0;
    case HFLOW_TYPE_Q4_0: return gemv_seg_q4_0;
    case HFLOW_TYPE_Q5_0: return gemv_seg_q5_0;
    default: return hflow_gemv_seg_kquant_avx2(type);
    }
}
