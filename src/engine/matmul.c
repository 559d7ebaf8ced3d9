/* matmul.c - y = W x over the thread pool.
 *
 * Activations are converted once per call into the kernel's activation format
 * (in the caller's workspace), then threads take blocks of ROW_BLOCK rows from
 * a shared atomic counter rather than fixed slices: on a busy machine a
 * descheduled worker then costs only the block it holds, the others take the
 * rest. Within a row block, tokens are walked in blocks of TOK_BLOCK: the row
 * block (a few tens of KB) stays in cache while every token block passes over
 * it, so for prefill each weight byte comes from memory once per call rather
 * than once per token. */
#include "engine/matmul.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "hybridflow/error.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

#define ROW_BLOCK 16
#define TOK_BLOCK 32  /* also the most activations one kernel call sees */
#define QUANT_PAR_MIN_TOK 8 /* below this, converting x in one thread is cheaper than a dispatch */

typedef struct {
    const hflow_dot_kernel *k;
    const char *W;
    size_t w_row;
    int64_t rows, cols;
    const float *x;
    const char *xa; /* activations in the kernel's format */
    char *xq;       /* where quantized activations are written (the workspace) */
    size_t xa_row;
    int64_t n_tok;
    float *y;
    atomic_llong next_row; /* first row of the next unclaimed block */
} mm_job;

void hflow_matmul_ws_free(hflow_matmul_ws *ws) {
    if (!ws) return;
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

int hflow_matmul_ws_reserve(hflow_matmul_ws *ws, size_t need) {
    if (ws->cap >= need) return 0;
    void *p = malloc(need);
    if (!p) return HFLOW_ENOMEM;
    free(ws->buf);
    ws->buf = p;
    ws->cap = need;
    return 0;
}

static void split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = (n + nth - 1) / nth;
    *lo = per * ith < n ? per * ith : n;
    *hi = *lo + per < n ? *lo + per : n;
}

static void quantize_x_task(void *p, int ith, int nth) {
    mm_job *j = p;
    int64_t t0, t1;
    split(j->n_tok, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) j->k->quantize_act(j->x + t * j->cols, j->xq + (size_t)t * j->xa_row, j->cols);
}

static void matmul_task(void *p, int ith, int nth) {
    mm_job *j = p;
    (void)ith;
    (void)nth;
    float out[TOK_BLOCK];
    for (;;) {
        int64_t rb = atomic_fetch_add_explicit(&j->next_row, ROW_BLOCK, memory_order_relaxed);
        if (rb >= j->rows) break;
        int64_t re = rb + ROW_BLOCK < j->rows ? rb + ROW_BLOCK : j->rows;
        for (int64_t t0 = 0; t0 < j->n_tok; t0 += TOK_BLOCK) {
            int nt = (int)(j->n_tok - t0 < TOK_BLOCK ? j->n_tok - t0 : TOK_BLOCK);
            const char *xa = j->xa + (size_t)t0 * j->xa_row;
            for (int64_t r = rb; r < re; r++) {
                j->k->dot(j->cols, j->W + (size_t)r * j->w_row, xa, j->xa_row, nt, out);
                for (int t = 0; t < nt; t++) j->y[(t0 + t) * j->rows + r] = out[t];
            }
        }
    }
}

int hflow_matmul(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows, int64_t cols,
                 const float *x, int64_t n_tok, float *y) {
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type);
    if (!k) return HFLOW_EUNSUPPORTED;
    size_t w_row = hflow_row_size(type, cols), xa_row = hflow_row_size(k->act_type, cols);
    if (rows < 0 || n_tok < 0 || w_row == 0 || xa_row == 0) return HFLOW_EINVAL;
    if (rows == 0 || n_tok == 0) return 0;
    mm_job j = {k, W, w_row, rows, cols, x, NULL, NULL, xa_row, n_tok, y, 0};
    if (k->act_type == HFLOW_TYPE_F32) {
        j.xa = (const char *)x; /* float kernels read x directly */
    } else {
        if (!ws) return HFLOW_EINVAL;
        int rc = hflow_matmul_ws_reserve(ws, xa_row * (size_t)n_tok);
        if (rc) return rc;
        j.xq = ws->buf;
        j.xa = ws->buf;
        if (n_tok >= QUANT_PAR_MIN_TOK) hflow_pool_run(pool, quantize_x_task, &j);
        else quantize_x_task(&j, 0, 1);
    }
    hflow_pool_run(pool, matmul_task, &j);
    return 0;
}
