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
#include "engine/ggml_compat.h"
#include "engine/ops.h"
#include "engine/quant.h"


void hflow_attend_f16_ref(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                          int head_dim, float scale, float *scores) {
    float *qr = out; /* out doubles as the rounded copy of q until the V product */
    for (int d = 0; d < head_dim; d++) qr[d] = hflow_round_f16(q[d]);
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
        float p = hflow_round_f16(scores[j]);
        for (int d = 0; d < head_dim; d++) out[d] += p * hflow_fp16_to_fp32(vj[d]);
    }
}

/* llama.cpp's non-flash attention over an F16 cache, to the bit: K q and
 * V w are ggml matmuls (tinyBLAS order for a batch of queries, vec_dot order
 * for one), the softmax is ggml's. llama.cpp pads the KV length to a
 * multiple of 32 with masked cells (weight 0, V 0), which only fixes which
 * lane and accumulator each position lands in. */
void hflow_attend_f16_ggml(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                           int head_dim, float scale, float *scores, float *col, int batched) {
    int n_pad = (n_kv + 31) & ~31;
    int gemm_kq = batched && head_dim % 8 == 0;
    float *qr = out, *kj = col; /* out holds the rounded q until the V product */
    for (int d = 0; d < head_dim; d++) qr[d] = hflow_round_f16(q[d]);
    for (int j = 0; j < n_kv; j++) {
        for (int d = 0; d < head_dim; d++) kj[d] = hflow_fp16_to_fp32(k[(size_t)j * stride + d]);
        float dot = gemm_kq ? hflow_ggml_dot_gemm(kj, qr, head_dim) : hflow_ggml_dot_vec_f16(kj, qr, head_dim);
        scores[j] = dot * scale;
    }
    hflow_ggml_softmax(scores, n_kv);
    for (int j = 0; j < n_pad; j++) scores[j] = j < n_kv ? hflow_round_f16(scores[j]) : 0.0f;
    for (int d = 0; d < head_dim; d++) {
        for (int j = 0; j < n_pad; j++) col[j] = j < n_kv ? hflow_fp16_to_fp32(v[(size_t)j * stride + d]) : 0.0f;
        out[d] = batched ? hflow_ggml_dot_gemm(col, scores, n_pad) : hflow_ggml_dot_vec_f16(col, scores, n_pad);
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
