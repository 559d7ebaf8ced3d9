/* attend_f16.c - single-head attention over an F16 KV cache.
 *
 * Rounded the way ggml rounds it: ggml multiplies an F16 matrix by an f32 one
 * by first converting the f32 operand to F16, so with an F16 cache llama.cpp
 * rounds q (for K q) and the softmax weights (for V w) to half precision and
 * accumulates the products in f32. Doing the same is what brings our logits
 * to ~1e-4 of llama.cpp's (measured on ref-2L-256-f32: 2e-3 without it).
 * This scalar version defines the result; the AVX2 one (attend_f16_avx2.c)
 * keeps its summation order and equals it bit for bit. */
#include "base/cpu.h"
#include "engine/ops.h"
#include "engine/quant.h"

static float round_f16(float x) { return hflow_fp16_to_fp32(hflow_fp32_to_fp16(x)); }

void hflow_attend_f16_ref(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                          int head_dim, float scale, float *scores) {
    float *qr = out; /* out doubles as the rounded copy of q until the V product */
    for (int d = 0; d < head_dim; d++) qr[d] = round_f16(q[d]);
    for (int j = 0; j < n_kv; j++) {
        const uint16_t *kj = k + (size_t)j * stride;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; d++) dot += qr[d] * hflow_fp16_to_fp32(kj[d]);
        scores[j] = dot * scale;
    }
    hflow_softmax(scores, n_kv);
    for (int d = 0; d < head_dim; d++) out[d] = 0.0f;
    for (int j = 0; j < n_kv; j++) {
        const uint16_t *vj = v + (size_t)j * stride;
        float p = round_f16(scores[j]);
        for (int d = 0; d < head_dim; d++) out[d] += p * hflow_fp16_to_fp32(vj[d]);
    }
}

void hflow_attend_f16(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                      int head_dim, float scale, float *scores) {
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx2_fma_f16c()) {
        hflow_attend_f16_avx2(out, q, k, v, stride, n_kv, head_dim, scale, scores);
        return;
    }
#endif
    hflow_attend_f16_ref(out, q, k, v, stride, n_kv, head_dim, scale, scores);
}
