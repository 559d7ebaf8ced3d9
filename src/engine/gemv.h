/* gemv.h - decode fast path: one activation row against many weight rows.
 *
 * The dot kernels (vecdot.h) take one weight row per call; at decode, with
 * rows of only a few hundred elements, the per-call cost (prologue, horizontal
 * sum, indirect call) is a third of the time. A gemv kernel runs 4 rows per
 * pass over the activation row, loading each activation block once and
 * keeping 4 independent accumulator chains in flight. Its results equal the
 * same type's dot kernel row by row bit for bit (same per-block arithmetic in
 * the same order), so matmul may use either. Internal to the engine. */
#ifndef HFLOW_ENGINE_GEMV_H
#define HFLOW_ENGINE_GEMV_H
#include <stddef.h>
#include <stdint.h>

/* out[r] = dot(row r of w, x) for r < nrows; rows are w_row bytes apart, n
 * elements each; x is one row in the type's activation format. */
typedef void (*hflow_gemv_fn)(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, float *out);

/* The decode gemv over part of a weight, for sharing one weight between
 * threads without giving up the gemv's four read streams: the rows are seen
 * as 4 segments of seg_rows rows (segment s starts at row s * seg_rows), and
 * one call computes rows r0 <= r < r1 of every segment:
 * out[s * seg_rows + r] = dot(row s * seg_rows + r of w, x). Rows past
 * 4 * seg_rows are left to the caller (a plain gemv call). Same results as
 * the gemv and dot kernels, bit for bit. */
typedef void (*hflow_gemv_seg_fn)(int64_t n, const void *w, size_t w_row, int64_t seg_rows, int64_t r0, int64_t r1,
                                  const void *x, float *out);

/* y[t * ys + r] = dot(row r of w, token t of x) for r < nrows, t < ntok;
 * x holds ntok rows in the activation format, x_row bytes apart. The prefill
 * fast path: register-tiled rows x tokens, bit-identical to the dot kernel. */
typedef void (*hflow_gemm_fn)(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *x, size_t x_row,
                              int64_t ntok, float *y, int64_t ys);

/* The fast path for this weight type on this CPU, or NULL (use the dot kernel). */
hflow_gemv_fn hflow_gemv_get(uint32_t type);
hflow_gemm_fn hflow_gemm_get(uint32_t type);
/* The segment gemv for this type on this CPU (NULL exactly when hflow_gemv_get is). */
hflow_gemv_seg_fn hflow_gemv_seg_get(uint32_t type);
/* AVX2 table entries (gemv_avx2.c, gemm_avx2.c; x86-64 only): NULL for types without one. */
hflow_gemv_fn hflow_gemv_avx2(uint32_t type);
hflow_gemm_fn hflow_gemm_avx2(uint32_t type);
/* The K-quant decode kernels (gemv_kquant_avx2.c), part of hflow_gemv_avx2's table. */
hflow_gemv_fn hflow_gemv_kquant_avx2(uint32_t type);
hflow_gemv_seg_fn hflow_gemv_seg_avx2(uint32_t type);
hflow_gemv_seg_fn hflow_gemv_seg_kquant_avx2(uint32_t type);
hflow_gemv_seg_fn hflow_gemv_seg_avxvnni(uint32_t type);
hflow_gemv_seg_fn hflow_gemv_seg_avx512(uint32_t type);
/* AVX-VNNI entries (gemm_avxvnni.c; x86-64 only, call only when the CPU has it). */
hflow_gemv_fn hflow_gemv_avxvnni(uint32_t type);
hflow_gemm_fn hflow_gemm_avxvnni(uint32_t type);
/* AVX-512 (F/BW/VL/DQ/VNNI) decode entries (gemv_avx512.c; x86-64 only, call
 * only when hflow_cpu_has_avx512()). */
hflow_gemv_fn hflow_gemv_avx512(uint32_t type);

#endif
