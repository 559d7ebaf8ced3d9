/* quant.c - per-type dispatch of row conversion, plus the float formats.
 * One table maps a ggml type id to its reference (de)quantizer; a NULL entry
 * means the engine cannot read that type. */
#include "engine/quant.h"

#include <string.h>

#include "hybridflow/error.h"
#include "engine/quant_impl.h"

void hflow_dequant_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
void hflow_quant_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

void hflow_dequant_f16(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = hflow_fp16_to_fp32(h[i]);
}

void hflow_quant_f16(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = hflow_fp32_to_fp16(src[i]);
}

void hflow_dequant_bf16(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = hflow_bf16_to_fp32(h[i]);
}

void hflow_quant_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = hflow_fp32_to_bf16(src[i]);
}

typedef struct {
    void (*dequant)(const void *src, float *dst, int64_t n);
    void (*quant)(const float *src, void *dst, int64_t n);
} row_codec;

#define CODEC(t, name) [t] = {hflow_dequant_##name, hflow_quant_##name}
static const row_codec codecs[HFLOW_TYPE_COUNT] = {
    CODEC(HFLOW_TYPE_F32, f32),   CODEC(HFLOW_TYPE_F16, f16),   CODEC(HFLOW_TYPE_BF16, bf16),
    CODEC(HFLOW_TYPE_Q4_0, q4_0), CODEC(HFLOW_TYPE_Q4_1, q4_1), CODEC(HFLOW_TYPE_Q5_0, q5_0),
    CODEC(HFLOW_TYPE_Q5_1, q5_1), CODEC(HFLOW_TYPE_Q8_0, q8_0), CODEC(HFLOW_TYPE_Q8_1, q8_1),
    CODEC(HFLOW_TYPE_Q4_K, q4_K), CODEC(HFLOW_TYPE_Q5_K, q5_K), CODEC(HFLOW_TYPE_Q6_K, q6_K),
    CODEC(HFLOW_TYPE_Q8_K, q8_K),
    [HFLOW_TYPE_Q2_K] = {hflow_dequant_q2_K, NULL}, [HFLOW_TYPE_Q3_K] = {hflow_dequant_q3_K, NULL},
};

static const row_codec *codec_get(uint32_t type, int64_t n) {
    if (type >= HFLOW_TYPE_COUNT || n < 0 || !codecs[type].dequant) return NULL;
    if (hflow_row_size(type, n) == 0 && n != 0) return NULL; /* n not a whole number of blocks */
    return &codecs[type];
}

int hflow_type_supported(uint32_t type) { return type < HFLOW_TYPE_COUNT && codecs[type].dequant != NULL; }

int hflow_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const row_codec *c = codec_get(type, n);
    if (!c) return hflow_type_supported(type) ? HFLOW_EINVAL : HFLOW_EUNSUPPORTED;
    c->dequant(src, dst, n);
    return 0;
}

int hflow_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    if (hflow_type_supported(type) && !codecs[type].quant) return HFLOW_EUNSUPPORTED; /* decode-only type */
    const row_codec *c = codec_get(type, n);
    if (!c) return hflow_type_supported(type) ? HFLOW_EINVAL : HFLOW_EUNSUPPORTED;
    c->quant(src, dst, n);
    return 0;
}
