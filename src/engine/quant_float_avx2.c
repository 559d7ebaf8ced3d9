/* quant_float_avx2.c - f32 -> f16 rows with F16C, equal bit for bit to
 * hflow_fp32_to_fp16: the hardware conversion rounds to nearest even, with
 * the same overflow to infinity and half subnormals; only NaNs differ (the
 * hardware keeps payload bits), so a group holding one goes the scalar way. */
#include <immintrin.h>

#include "engine/quant.h"

void hflow_fp32_to_fp16_row_avx2(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(src + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {
            for (int l = 0; l < 8; l++) dst[i + l] = hflow_fp32_to_fp16(src[i + l]);
            continue;
        }
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) dst[i] = hflow_fp32_to_fp16(src[i]);
}
