/* ops.h - the non-matmul operations of a transformer layer (internal).
 *
 * Scalar reference code: these are a small share of a token's work next to
 * the weight products (matmul.h). All vectors are f32. */
#ifndef HFLOW_ENGINE_OPS_H
#define HFLOW_ENGINE_OPS_H
#include <stddef.h>
#include <stdint.h>

/* out = x / rms(x) * w  (w may be NULL for an unweighted norm); out may alias x. */
void hflow_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* Rotates the first n_rot dims of each of n_heads heads (head_dim apart) of x
 * by position pos * freq_scale (linear rope scaling; 1 = none); style is enum
 * hflow_rope_style. */
void hflow_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float theta_base, float freq_scale,
                int style);
/* In-place softmax of n values. */
void hflow_softmax(float *x, int n);
/* gate[i] = silu(gate[i]) * up[i]. */
void hflow_swiglu(float *gate, const float *up, int n);
/* y += x. */
void hflow_vec_add(float *y, const float *x, int n);
/* out[head_dim] = softmax(scale * q.k_j) weighted sum of v_j over j < n_kv.
 * k and v rows are `stride` floats apart; scores holds n_kv floats of scratch. */
void hflow_attend(float *out, const float *q, const float *k, const float *v, size_t stride, int n_kv, int head_dim,
                  float scale, float *scores);
/* The same over an F16 cache (k, v: IEEE half), rounding q and the softmax
 * weights to F16 as ggml does (attend_f16.c). out must not alias q. */
void hflow_attend_f16(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                      int head_dim, float scale, float *scores);
/* The same rounded exactly as llama.cpp (non-flash attention, ggml-cpu on
 * x86; attend_f16.c): batched selects the summation order ggml uses when the
 * micro-batch has >= 2 tokens. scores and col hold (n_kv+31)/32*32 floats of
 * scratch each (col also >= head_dim). */
void hflow_attend_f16_ggml(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                           int head_dim, float scale, float *scores, float *col, int batched);

#endif
