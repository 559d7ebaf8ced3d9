/* gemv.c - run-time choice of the decode and prefill fast paths (gemv.h). */
#include "engine/gemv.h"

#include "base/cpu.h"

hflow_gemv_fn hflow_gemv_get(uint32_t type) {
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx512() && hflow_gemv_avx512(type)) return hflow_gemv_avx512(type);
    if (hflow_cpu_has_avx_vnni() && hflow_gemv_avxvnni(type)) return hflow_gemv_avxvnni(type);
    if (hflow_cpu_has_avx2_fma_f16c()) return hflow_gemv_avx2(type);
#endif
    (void)type;
    return NULL;
}

hflow_gemm_fn hflow_gemm_get(uint32_t type) {
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx_vnni() && hflow_gemm_avxvnni(type)) return hflow_gemm_avxvnni(type);
    if (hflow_cpu_has_avx2_fma_f16c()) return hflow_gemm_avx2(type);
#endif
    (void)type;
    return NULL;
}

hflow_gemv_seg_fn hflow_gemv_seg_get(uint32_t type) {
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx512() && hflow_gemv_seg_avx512(type)) return hflow_gemv_seg_avx512(type);
    if (hflow_cpu_has_avx_vnni() && hflow_gemv_seg_avxvnni(type)) return hflow_gemv_seg_avxvnni(type);
    if (hflow_cpu_has_avx2_fma_f16c()) return hflow_gemv_seg_avx2(type);
#endif
    (void)type;
    return NULL;
}
