/* matmul.h - y = W x for a weight matrix of any supported type.
 *
 * W: `rows` rows of `cols` elements, row-major, each row hflow_row_size(type, cols)
 * bytes. x: n_tok vectors of cols f32 (contiguous). y: n_tok vectors of rows
 * f32. Rows are split over the pool's threads. The workspace holds x converted
 * to the weight's activation format (e.g. Q8_0) and is grown on demand; one
 * per session, freed with hflow_matmul_ws_free. */
#ifndef HFLOW_ENGINE_MATMUL_H
#define HFLOW_ENGINE_MATMUL_H
#include <stddef.h>
#include <stdint.h>

#include "base/threadpool.h"

typedef struct hflow_matmul_ws {
    void *buf;
    size_t cap;
} hflow_matmul_ws;

void hflow_matmul_ws_free(hflow_matmul_ws *ws);
/* Grows ws->buf to at least `need` bytes (contents not kept); 0 or HFLOW_ENOMEM. */
int hflow_matmul_ws_reserve(hflow_matmul_ws *ws, size_t need);

#define HFLOW_MATMUL_MAX_OPS 4

/* One weight of a fused product: y (n_tok x rows) = W x. */
typedef struct hflow_matmul_op {
    uint32_t type;
    const void *W;
    int64_t rows;
    float *y;
} hflow_matmul_op;

/* Returns 0, HFLOW_EUNSUPPORTED for a type without kernels, HFLOW_ENOMEM. */
int hflow_matmul(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows, int64_t cols,
                 const float *x, int64_t n_tok, float *y);
/* The products of up to HFLOW_MATMUL_MAX_OPS weights (of any types, each
 * with `cols` columns) with the same x, in one dispatch of the pool: the
 * results equal separate hflow_matmul calls exactly. Same return codes. */
int hflow_matmul_multi(hflow_pool *pool, hflow_matmul_ws *ws, const hflow_matmul_op *ops, int n_ops, int64_t cols,
                       const float *x, int64_t n_tok);

/* hflow_matmul that never takes the AMX path, so every batch size gives the
 * one-token results bit for bit (the AMX path, used for n_tok >=
 * HFLOW_AMX_MIN_TOK, sums each block in one int32 and rounds in another
 * order: docs/NUMERICS.md). Same return codes. */
int hflow_matmul_invariant(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows,
                           int64_t cols, const float *x, int64_t n_tok, float *y);

/* The same product rounded exactly as llama.cpp's CPU backend rounds it
 * (matmul_ggml.c, ggml_compat.h): for F32 and F16 weights, tinyBLAS order
 * when n_tok >= 2 and cols % 8 == 0, else ggml_vec_dot order; F16 weights
 * multiply x rounded to half. Q8_0 and Q4_0 weights take ggml's Q8_0
 * activations (Q4_0 with rows % 8 == 0 in the order of its repacked x8
 * kernels), Q4_K and Q6_K weights (cols % 256 == 0) its Q8_K activations and
 * AVX2 K-quant dot products. Other types go to hflow_matmul. Scalar: slower
 * than hflow_matmul. */
int hflow_matmul_ggml(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows,
                      int64_t cols, const float *x, int64_t n_tok, float *y);

#endif
