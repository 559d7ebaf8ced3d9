/* ops.h - the non-matmul operations of a transformer layer (internal).
 *
 * The plain names pick the fastest implementation for this CPU (AVX2/FMA in
 * ops_avx2.c on x86-64); the _ref functions are the scalar references tests
 * compare them against (equal up to float summation order). All vectors are
 * f32. */
#ifndef HFLOW_ENGINE_OPS_H
#define HFLOW_ENGINE_OPS_H
#include <stddef.h>
#include <stdint.h>

/* out = x / rms(x) * w  (w may be NULL for an unweighted norm); out may alias x. */
void hflow_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* The same for n_rows rows of n (x and out row-major, out may alias x):
 * each row equals hflow_rmsnorm of it bit for bit. */
void hflow_rmsnorm_rows(float *out, const float *x, const float *w, int n, int n_rows, float eps);
/* Rotates the first n_rot dims of each of n_heads heads (head_dim apart) of x
 * by position pos * freq_scale (linear rope scaling; 1 = none); style is enum
 * hflow_rope_style. Equals hflow_rope_table followed by hflow_rope_apply. */
void hflow_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float theta_base, float freq_scale,
                int style);
/* cs[2i], cs[2i+1] = cos, sin of the angle hflow_rope uses for pair i < n_rot/2
 * (same f32 arithmetic): computed once per position and shared by q, k and
 * every layer. */
void hflow_rope_table(float *cs, int n_rot, int32_t pos, float theta_base, float freq_scale);
void hflow_rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int style);
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

/* 1 when the plain names above run SIMD code on this CPU. */
int hflow_ops_impl_is_simd(void);

/* Scalar references. */
void hflow_rmsnorm_ref(float *out, const float *x, const float *w, int n, float eps);
void hflow_softmax_ref(float *x, int n);
void hflow_swiglu_ref(float *gate, const float *up, int n);
void hflow_vec_add_ref(float *y, const float *x, int n);
void hflow_attend_ref(float *out, const float *q, const float *k, const float *v, size_t stride, int n_kv,
                      int head_dim, float scale, float *scores);
/* The definition of hflow_attend_f16's result: its AVX2 version equals it bit for bit. */
void hflow_attend_f16_ref(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                          int head_dim, float scale, float *scores);

/* AVX2/FMA versions (x86-64 builds only; call only when the CPU has them). */
void hflow_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps);
void hflow_rmsnorm_rows_avx2(float *out, const float *x, const float *w, int n, int n_rows, float eps);
void hflow_softmax_avx2(float *x, int n);
/* hflow_rope_apply (bit-identical; neox: 1 for HFLOW_ROPE_NEOX, else 0). */
void hflow_rope_apply_avx2(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int neox);
/* The scalar hflow_rope_apply, for tests. */
void hflow_rope_apply_ref(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int style);
void hflow_swiglu_avx2(float *gate, const float *up, int n);
void hflow_vec_add_avx2(float *y, const float *x, int n);
void hflow_attend_avx2(float *out, const float *q, const float *k, const float *v, size_t stride, int n_kv,
                       int head_dim, float scale, float *scores);
void hflow_attend_f16_avx2(float *out, const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                           int head_dim, float scale, float *scores);

/* AVX-512 versions (x86-64 builds only; call only when hflow_cpu_has_avx512()):
 * equal to the AVX2 ones above bit for bit, and chosen over them by the plain
 * names. */
void hflow_softmax_avx512(float *x, int n);
/* hflow_softmax_avx512, then each probability rounded to half precision (to
 * nearest even): the weights the F16-cache V product takes. */
void hflow_softmax_f16_avx512(float *x, int n);
void hflow_swiglu_avx512(float *gate, const float *up, int n);

#endif
