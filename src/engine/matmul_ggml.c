/* matmul_ggml.c - y = W x in llama.cpp's rounding for F32/F16 weights and
 * for Q4_0/Q8_0 (Q8_0 activations) and Q4_K/Q6_K (Q8_K activations)
 * (see matmul.h and ggml_compat.h). ggml picks the summation order by the
 * number of activation rows: tinyBLAS for a batch (prompt processing),
 * ggml_vec_dot for a single token, so the same token's logits differ in
 * the last bits between the two, and F16-rounded values amplify that. */
#include <stdlib.h>

#include "hybridflow/error.h"
#include "engine/ggml_compat.h"
#include "engine/ggml_type.h"
#include "engine/quant_blocks.h"
#include "engine/matmul.h"
#include "engine/quant.h"

typedef struct {
    uint32_t type;
    const void *W;
    int64_t rows, cols, n_tok;
    const float *xa; /* activations as the kernel sees them (F16-rounded for F16 weights) */
    float *wbuf;     /* [nth][cols] one weight row in f32 per thread */
    float *y;
    int gemm;
    size_t xq_row; /* quantized activation row size (quantized weights), else 0 */
    int k_quant;   /* Q8_K activations and the K-quant dot product */
} mmg_job;

static void mmg_task_q(mmg_job *j, int64_t r0, int64_t r1) {
    size_t w_row = hflow_row_size(j->type, j->cols);
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < j->n_tok; t++) {
            const char *w = (const char *)j->W + (size_t)r * w_row, *xq = (const char *)j->xa + (size_t)t * j->xq_row;
            float d;
            if (j->k_quant) d = hflow_ggml_dot_k(j->type, w, xq, j->cols);
            else if (j->type == HFLOW_TYPE_Q4_0 && j->rows % 8 == 0) d = hflow_ggml_dot_q4_0_x8(w, xq, j->cols);
            else d = hflow_ggml_dot_q32(j->type, w, xq, j->cols);
            j->y[(size_t)t * (size_t)j->rows + (size_t)r] = d;
        }
}

static void mmg_task(void *p, int ith, int nth) {
    mmg_job *j = p;
    int64_t per = (j->rows + nth - 1) / nth, r0 = per * ith, r1 = r0 + per < j->rows ? r0 + per : j->rows;
    if (j->xq_row) {
        mmg_task_q(j, r0, r1);
        return;
    }
    float *w = j->wbuf + (size_t)ith * (size_t)j->cols;
    size_t w_row = hflow_row_size(j->type, j->cols);
    for (int64_t r = r0; r < r1; r++) {
        hflow_dequantize_row(j->type, (const char *)j->W + (size_t)r * w_row, w, j->cols);
        for (int64_t t = 0; t < j->n_tok; t++) {
            const float *x = j->xa + (size_t)t * (size_t)j->cols;
            float d = j->gemm                       ? hflow_ggml_dot_gemm(w, x, j->cols)
                      : j->type == HFLOW_TYPE_F16 ? hflow_ggml_dot_vec_f16(w, x, j->cols)
                                                  : hflow_ggml_dot_vec_f32(w, x, j->cols);
            j->y[(size_t)t * (size_t)j->rows + (size_t)r] = d;
        }
    }
}

int hflow_matmul_ggml(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows,
                      int64_t cols, const float *x, int64_t n_tok, float *y) {
    int q32 = (type == HFLOW_TYPE_Q4_0 || type == HFLOW_TYPE_Q8_0) && cols % 32 == 0;
    int qk = (type == HFLOW_TYPE_Q4_K || type == HFLOW_TYPE_Q6_K) && cols % 256 == 0;
    if (type != HFLOW_TYPE_F32 && type != HFLOW_TYPE_F16 && !q32 && !qk)
        return hflow_matmul_invariant(pool, ws, type, W, rows, cols, x, n_tok, y);
    if (rows < 0 || cols <= 0 || n_tok < 0 || !ws) return HFLOW_EINVAL;
    if (rows == 0 || n_tok == 0) return 0;
    int nth = pool ? hflow_pool_size(pool) : 1;
    if (q32 || qk) {
        size_t xq_row = hflow_row_size(qk ? HFLOW_TYPE_Q8_K : HFLOW_TYPE_Q8_0, cols);
        int rc = hflow_matmul_ws_reserve(ws, xq_row * (size_t)n_tok);
        if (rc) return rc;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + (size_t)t * (size_t)cols;
            void *xq = (char *)ws->buf + (size_t)t * xq_row;
            if (qk) hflow_ggml_quant_q8_K(xt, xq, cols);
            else hflow_ggml_quant_q8_0(xt, xq, cols);
        }
        mmg_job j = {type, W, rows, cols, n_tok, ws->buf, NULL, y, 0, xq_row, qk};
        if (pool) hflow_pool_run(pool, mmg_task, &j);
        else mmg_task(&j, 0, 1);
        return 0;
    }
    int f16 = type == HFLOW_TYPE_F16;
    size_t n_x = f16 ? (size_t)n_tok * (size_t)cols : 0;
    int rc = hflow_matmul_ws_reserve(ws, (n_x + (size_t)nth * (size_t)cols) * sizeof(float));
    if (rc) return rc;
    float *buf = ws->buf;
    if (f16) /* ggml converts src1 to the vec_dot type of F16: F16 */
        for (size_t i = 0; i < n_x; i++) buf[i] = hflow_round_f16(x[i]);
    mmg_job j = {type, W, rows, cols, n_tok, f16 ? buf : x, buf + n_x, y, n_tok >= 2 && cols % 8 == 0, 0, 0};
    if (pool) hflow_pool_run(pool, mmg_task, &j);
    else mmg_task(&j, 0, 1);
    return 0;
}
