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

#endif
