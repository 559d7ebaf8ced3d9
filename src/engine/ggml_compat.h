/* ggml_compat.h - scalar emulation of the arithmetic of llama.cpp's x86 CPU
 * backend (ggml-cpu built with AVX2/FMA/F16C, as the reference decodings in
 * ../shared were produced: llama.cpp c392e509), operation by operation, so
 * that a session in HFLOW_NUMERICS_GGML mode rounds exactly where and how
 * llama.cpp rounds (internal; see docs/NUMERICS.md for why each one matters).
 *
 * Facts emulated (read from ggml-cpu.c, vec.h and llamafile/sgemm.cpp):
 *  - F32/F16 matmuls with >= 2 activation rows and k % 8 == 0 run tinyBLAS:
 *    one 8-lane FMA accumulator over k, then a horizontal sum
 *    ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). With one row they run
 *    ggml_vec_dot_*: four 8-lane FMA accumulators over steps of 32, reduced
 *    (a0+a2)+(a1+a3), then ((l0+l4)+(l1+l5)) + ((l2+l6)+(l3+l7)), leftovers
 *    added one by one (f32: in float; f16: in double).
 *  - F16 weights (and the F16 KV cache) multiply F16 activations: the f32
 *    operand is rounded to half first.
 *  - exp in softmax and silu is ggml_v_expf (a polynomial, not libm's expf)
 *    for each full group of 8; softmax sums groups in double.
 *  - rms_norm sums float products x*x in double.
 * All functions are pure. */
#ifndef HFLOW_ENGINE_GGML_COMPAT_H
#define HFLOW_ENGINE_GGML_COMPAT_H
#include <stddef.h>
#include <stdint.h>

/* One lane of ggml_v_expf (AVX2/FMA): ~1.5 ulp, exact to the bit of ggml's. */
float hflow_ggml_expf(float x);

/* Dot products in the two summation orders. a and b hold n f32 values (for
 * the F16 variants: values already exactly representable in half, so every
 * product is exact). */
float hflow_ggml_dot_gemm(const float *a, const float *b, int64_t n); /* tinyBLAS, n % 8 == 0 */
float hflow_ggml_dot_vec_f32(const float *a, const float *b, int64_t n);
float hflow_ggml_dot_vec_f16(const float *a, const float *b, int64_t n);

/* x[0..n) = softmax(x) as ggml_vec_soft_max_f32 + scale computes it over a
 * row whose length llama.cpp pads to a multiple of 8 with masked (-inf)
 * entries: every value goes through ggml_v_expf. */
void hflow_ggml_softmax(float *x, int n);

/* gate[i] = silu(gate[i]) * up[i] as ggml_vec_silu_f32 then ggml_mul, over
 * rows of n_ff values (the vector groups restart at each row). */
void hflow_ggml_swiglu(float *gate, const float *up, int n_rows, int n_ff);

/* out = x * (1/sqrt(mean(x*x) + eps)) * w, the float products summed in double. */
void hflow_ggml_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* tinyBLAS's / hsum_float_8's horizontal sum of one 8-lane register:
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
float hflow_ggml_hsum8(const float l[8]);

/* Q8_0 activations as ggml's AVX2 quantize_row_q8_0: id = 127/amax,
 * products rounded half to even (n a multiple of 32). */
void hflow_ggml_quant_q8_0(const float *x, void *dst, int64_t n);
/* Row of Q4_0 or Q8_0 weights (n values) times Q8_0 activations as ggml's
 * AVX2 vec_dot and tinyBLAS_Q0 both compute it: per block, eight 4-element
 * integer sums, each fused-multiply-added with d_w*d_x into its own lane. */
float hflow_ggml_dot_q32(uint32_t type, const void *w, const void *xq, int64_t n);

/* Row of Q4_0 weights times Q8_0 activations as ggml computes it for a
 * weight matrix whose row count is a multiple of 8: llama.cpp's CPU backend
 * repacks such matrices into interleaved block_q4_0x8 (the "CPU_AARCH64"
 * extra buffer, active on AVX2) and its AVX2 gemv/gemm take one exact
 * 32-element integer sum per block and fused-multiply-add it, times
 * d_w*d_x, into a single float accumulator, blocks in order. */
float hflow_ggml_dot_q4_0_x8(const void *w, const void *xq, int64_t n);

/* Q8_K activations as ggml's quantize_row_q8_K (on x86 its scalar
 * reference): per 256 values the signed value of largest magnitude max (the
 * first one), iscale = -127/max, q = round-half-even(iscale*x) capped at 127,
 * d = 1/iscale, bsums of each 16 (n a multiple of 256). */
void hflow_ggml_quant_q8_K(const float *x, void *dst, int64_t n);
/* Row of Q4_K or Q6_K weights (n values) times Q8_K activations as ggml's
 * AVX2 ggml_vec_dot_q4_K_q8_K / _q6_K_q8_K compute it (both for one token
 * and for a batch: ggml has no tinyBLAS path for K-quants): per super-block,
 * eight integer lane sums (lane l holds elements 32c+4l..32c+4l+3 of every
 * 32-element chunk c, times their sub-block scale), each fused-multiply-added
 * with d_w*d_x into its own float lane; Q4_K's mins go through four more
 * lanes (sub-block pairs) with -d_x*dmin_w, reduced (m0+m2)+(m1+m3) and added
 * after the 8-lane hsum. */
float hflow_ggml_dot_k(uint32_t type, const void *w, const void *xq, int64_t n);

/* hflow_rope (ops.h) as ggml_compute_forward_rope_f32 computes it: angles
 * pos * base^(-2i/n_rot) stepped in f32, then times freq_scale, and the
 * rotation compiled with FMA contraction: x0*c - x1*s is fma(x0, c, -(x1*s)),
 * x0*s + x1*c is fma(x0, s, x1*c). */
void hflow_ggml_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float theta_base, float freq_scale,
                     int style);

/* Rounds a float to the nearest half (ties to even) and back. */
float hflow_round_f16(float x);

#endif
