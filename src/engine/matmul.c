/* matmul.c - y = W x over the thread pool, for one weight or several that
 * share their input (q/k/v, gate/up) in a single dispatch.
 *
 * Activations are converted once per call into each distinct activation
 * format the weights need (in the caller's workspace), then threads take
 * blocks of ROW_BLOCK rows from a shared atomic counter rather than fixed
 * slices: on a busy machine a descheduled worker then costs only the block it
 * holds, the others take the rest. Blocks never straddle two weights; the
 * counter runs over the blocks of all weights in turn, so fusing q/k/v costs
 * one dispatch (one wake-up and one wait) instead of three, which is most of
 * what a small model's decode step pays besides the weight reads.
 * A single token (decode) goes through the type's gemv kernels and several
 * (prefill) through its register-tiled gemm kernel where the type has them
 * (gemv.h; both give the dot kernel's results bit for bit). Decode reads
 * each weight as four far-apart row segments at once (one core keeps more
 * misses in flight over several streams), and its work items are row ranges
 * of all four segments (decode_plan), so threads can share a weight in small
 * items without shortening the streams. The job is a dynamic pool job: a
 * worker not on a core when a step starts is not waited for.
 * Within a row block, tokens are walked in blocks of TOK_BLOCK: the row block
 * (a few tens of KB) stays in cache while every token block passes over it,
 * so for prefill each weight byte comes from memory once per call rather than
 * once per token. On CPUs with AMX-INT8, batches of HFLOW_AMX_MIN_TOK tokens
 * or more take the tile kernels instead (gemm_amx.h): all tokens per row
 * block, activations packed once per call while they are quantized. */
#include "engine/matmul.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "hybridflow/error.h"
#include "engine/gemm_amx.h"
#include "engine/gemv.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

#define ROW_BLOCK 16
#define TOK_BLOCK 32  /* also the most activations one kernel call sees */
#define QUANT_PAR_MIN_TOK 8 /* below this, converting x in one thread is cheaper than a dispatch */

typedef struct {
    const hflow_dot_kernel *k;
    hflow_gemv_fn gemv; /* 4-row decode path, NULL when the type has none */
    hflow_gemm_fn gemm; /* tiled prefill path, likewise */
    hflow_amx_fn amx;   /* AMX prefill path for this call, or NULL */
    const char *W;
    size_t w_row;
    int64_t rows;
    float *y;
    const char *xa;  /* activations in this kernel's format */
    size_t xa_row;
    char *xpack;     /* the same packed for amx (gemm_amx.h), or NULL */
    int64_t block0;  /* index of this weight's first row block in the shared count */
    hflow_gemv_seg_fn gseg; /* set when this part takes the decode path (decode_plan) */
    int64_t seg_rows;       /* its 4 segments' length, 0 when the weight is too short for them */
    int64_t seg_item;       /* rows of each segment per work item */
    int64_t seg_items;      /* work items over the segments; one more when rows are left after them */
} mm_part;

typedef struct {
    mm_part part[HFLOW_MATMUL_MAX_OPS];
    int n_part;
    int64_t cols, n_tok, n_blocks;
    const float *x;
    /* distinct activation formats to produce: one part that uses each */
    int n_fmt;
    int fmt_part[HFLOW_MATMUL_MAX_OPS];
    char *scratch;     /* amx: one scratch_sz region per thread */
    size_t scratch_sz;
    atomic_llong next_block;
} mm_job;

void hflow_matmul_ws_free(hflow_matmul_ws *ws) {
    if (!ws) return;
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

int hflow_matmul_ws_reserve(hflow_matmul_ws *ws, size_t need) {
    if (ws->cap >= need) return 0;
    need = (need + 63) & ~(size_t)63;
    /* 64-byte aligned: the layout's ALIGN64 offsets then start cache lines,
     * so threads writing neighbouring blocks never share one */
    void *p = aligned_alloc(64, need);
    if (!p) return HFLOW_ENOMEM;
    free(ws->buf);
    ws->buf = p;
    ws->cap = need;
    return 0;
}

/* Every format's tokens, in runs of QUANT_RUN consecutive tokens per
 * thread: the AMX pack interleaves the 16 tokens of a tile 4 bytes apart in
 * each 64-byte line, so threads taking alternate tokens would write the same
 * lines from both cores (false sharing on every line of the pack). */
#define QUANT_RUN 16
static void quantize_x_task(void *p, int ith, int nth) {
    mm_job *j = p;
    int64_t runs = (j->n_tok + QUANT_RUN - 1) / QUANT_RUN;
    for (int64_t i = ith; i < runs * j->n_fmt; i += nth) {
        const mm_part *pt = &j->part[j->fmt_part[i / runs]];
        int64_t t0 = i % runs * QUANT_RUN, t1 = t0 + QUANT_RUN < j->n_tok ? t0 + QUANT_RUN : j->n_tok;
        for (int64_t t = t0; t < t1; t++) {
            char *xa = (char *)pt->xa + (size_t)t * pt->xa_row;
            pt->k->quantize_act(j->x + t * j->cols, xa, j->cols);
            if (pt->xpack) hflow_amx_pack_token(pt->k->act_type, j->cols, xa, t, j->n_tok, pt->xpack);
        }
    }
}

/* Decode work item `it` of a part: rows [it * seg_item, +seg_item) of each of
 * the weight's 4 segments, so that the threads share a weight in small items
 * (a descheduled thread holds up little) while each call still reads four
 * far-apart streams and one thread's consecutive items continue its streams
 * (gemv.h). The last item takes the rows after the segments. */
static void run_decode_item(const mm_job *j, const mm_part *pt, int64_t it) {
    if (it < pt->seg_items) {
        int64_t r0 = it * pt->seg_item, r1 = r0 + pt->seg_item < pt->seg_rows ? r0 + pt->seg_item : pt->seg_rows;
        pt->gseg(j->cols, pt->W, pt->w_row, pt->seg_rows, r0, r1, pt->xa, pt->y);
        return;
    }
    int64_t done = 4 * pt->seg_rows;
    pt->gemv(j->cols, pt->W + (size_t)done * pt->w_row, pt->w_row, pt->rows - done, pt->xa, pt->y + done);
}

static void run_block(const mm_job *j, const mm_part *pt, int64_t rb, int ith) {
    float out[TOK_BLOCK];
    int64_t re = rb + ROW_BLOCK < pt->rows ? rb + ROW_BLOCK : pt->rows;
    if (pt->amx) {
        pt->amx(j->cols, pt->W + (size_t)rb * pt->w_row, pt->w_row, re - rb, pt->xpack, j->n_tok, pt->y + rb, pt->rows,
                j->scratch + (size_t)ith * j->scratch_sz);
        return;
    }
    if (j->n_tok == 1 && pt->gemv) {
        pt->gemv(j->cols, pt->W + (size_t)rb * pt->w_row, pt->w_row, re - rb, pt->xa, pt->y + rb);
        return;
    }
    for (int64_t t0 = 0; t0 < j->n_tok; t0 += TOK_BLOCK) {
        int nt = (int)(j->n_tok - t0 < TOK_BLOCK ? j->n_tok - t0 : TOK_BLOCK);
        const char *xa = pt->xa + (size_t)t0 * pt->xa_row;
        if (pt->gemm) {
            pt->gemm(j->cols, pt->W + (size_t)rb * pt->w_row, pt->w_row, re - rb, xa, pt->xa_row, nt,
                     pt->y + t0 * pt->rows + rb, pt->rows);
            continue;
        }
        for (int64_t r = rb; r < re; r++) {
            pt->k->dot(j->cols, pt->W + (size_t)r * pt->w_row, xa, pt->xa_row, nt, out);
            for (int t = 0; t < nt; t++) pt->y[(t0 + t) * pt->rows + r] = out[t];
        }
    }
}

static void matmul_task(void *p, int ith, int nth) {
    mm_job *j = p;
    (void)nth;
    int ip = 0;
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&j->next_block, 1, memory_order_relaxed);
        if (b >= j->n_blocks) break;
        while (ip + 1 < j->n_part && b >= j->part[ip + 1].block0) ip++; /* blocks are claimed in rising order */
        const mm_part *pt = &j->part[ip];
        if (pt->gseg) run_decode_item(j, pt, b - pt->block0);
        else run_block(j, pt, (b - pt->block0) * ROW_BLOCK, ith);
    }
}

/* Decode (one token) work items of a part, in rows per segment: one thread
 * runs a weight's segments whole; several take about 1/DECODE_ITEMS_PER_THREAD
 * of their share at a time, at least DECODE_ITEM_ROWS (each claim is an
 * atomic on a line both cores write, and each item start a stream warm-up)
 * and at most DECODE_ITEM_ROWS_MAX (the 49152-row output head would otherwise
 * come in 10 MB items, and the last one decides when the step ends).
 * Few large items beat many small ones: on SmolLM2-135M Q4_K_M at 2 threads,
 * 2 items per thread of at most 256 rows turn 84-91% of the triad into weight
 * reads against 78-81% for 6 of at most 64 (docs/BENCHMARKS.md "Engine"): an
 * item's streams stay warm longer than the tail it may leave idle costs.
 * Weights under 4 * DECODE_MIN_SEG rows go whole to the plain gemv.
 * Returns the part's number of work items. */
#define DECODE_ITEM_ROWS 16
#define DECODE_ITEMS_PER_THREAD 2
#define DECODE_ITEM_ROWS_MAX 256
#define DECODE_MIN_SEG 4
static int64_t decode_plan(mm_part *pt, int nth) {
    pt->seg_rows = pt->rows / 4 >= DECODE_MIN_SEG ? pt->rows / 4 : 0;
    int64_t item = (pt->seg_rows + (int64_t)nth * DECODE_ITEMS_PER_THREAD - 1) / ((int64_t)nth * DECODE_ITEMS_PER_THREAD);
    if (item < DECODE_ITEM_ROWS) item = DECODE_ITEM_ROWS;
    if (item > DECODE_ITEM_ROWS_MAX) item = DECODE_ITEM_ROWS_MAX;
    pt->seg_item = nth == 1 || pt->seg_rows < item ? (pt->seg_rows ? pt->seg_rows : 1) : item;
    pt->seg_items = (pt->seg_rows + pt->seg_item - 1) / pt->seg_item;
    return pt->seg_items + (pt->rows > 4 * pt->seg_rows);
}

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* Fills the parts, the activation formats and the workspace layout: each
 * format's rows, then (amx) its packed copy, then the per-thread scratch. */
static int plan(mm_job *j, hflow_matmul_ws *ws, const hflow_matmul_op *ops, int n_ops, int nth, int allow_amx) {
    size_t need = 0, off[HFLOW_MATMUL_MAX_OPS] = {0}, pack_off[HFLOW_MATMUL_MAX_OPS] = {0};
    int fmt_amx[HFLOW_MATMUL_MAX_OPS] = {0}, fmt_of[HFLOW_MATMUL_MAX_OPS];
    for (int i = 0; i < n_ops; i++) {
        mm_part *pt = &j->part[i];
        if (!(pt->k = hflow_dot_kernel_get(ops[i].type))) return HFLOW_EUNSUPPORTED;
        pt->gemv = hflow_gemv_get(ops[i].type);
        pt->gemm = hflow_gemm_get(ops[i].type);
        pt->amx = allow_amx && j->n_tok >= HFLOW_AMX_MIN_TOK ? hflow_amx_get(ops[i].type) : NULL;
        pt->w_row = hflow_row_size(ops[i].type, j->cols);
        pt->xa_row = hflow_row_size(pt->k->act_type, j->cols);
        if (ops[i].rows < 0 || pt->w_row == 0 || pt->xa_row == 0) return HFLOW_EINVAL;
        pt->W = ops[i].W;
        pt->rows = ops[i].rows;
        pt->y = ops[i].y;
        pt->block0 = j->n_blocks;
        pt->gseg = j->n_tok == 1 && pt->gemv ? hflow_gemv_seg_get(ops[i].type) : NULL;
        j->n_blocks += pt->gseg ? decode_plan(pt, nth) : (pt->rows + ROW_BLOCK - 1) / ROW_BLOCK;
        fmt_of[i] = -1;
        if (pt->k->act_type == HFLOW_TYPE_F32) continue; /* float kernels read x directly */
        int f = 0;
        while (f < j->n_fmt && j->part[j->fmt_part[f]].k->act_type != pt->k->act_type) f++;
        if (f == j->n_fmt) {
            j->fmt_part[j->n_fmt++] = i;
            off[f] = need;
            need += ALIGN64(pt->xa_row * (size_t)j->n_tok);
        }
        fmt_of[i] = f;
        if (pt->amx) {
            fmt_amx[f] = 1;
            size_t sz = hflow_amx_scratch_size(ops[i].type, j->cols);
            if (sz > j->scratch_sz) j->scratch_sz = ALIGN64(sz);
        }
    }
    for (int f = 0; f < j->n_fmt; f++)
        if (fmt_amx[f]) {
            pack_off[f] = need;
            need += ALIGN64(hflow_amx_pack_size(j->part[j->fmt_part[f]].k->act_type, j->cols, j->n_tok));
        }
    size_t scratch_off = need;
    need += j->scratch_sz * (size_t)nth;
    j->n_part = n_ops;
    if (j->n_fmt && !ws) return HFLOW_EINVAL;
    int rc = j->n_fmt ? hflow_matmul_ws_reserve(ws, need) : 0;
    if (rc) return rc;
    for (int i = 0; i < n_ops; i++) {
        mm_part *pt = &j->part[i];
        int f = fmt_of[i];
        pt->xa = f < 0 ? (const char *)j->x : (const char *)ws->buf + off[f];
        /* every part of an amx format packs (the quantizer runs per format,
         * on the part named in fmt_part) */
        pt->xpack = f >= 0 && fmt_amx[f] ? (char *)ws->buf + pack_off[f] : NULL;
    }
    j->scratch = j->scratch_sz ? (char *)ws->buf + scratch_off : NULL;
    return 0;
}

static int matmul_run(hflow_pool *pool, hflow_matmul_ws *ws, const hflow_matmul_op *ops, int n_ops, int64_t cols,
                      const float *x, int64_t n_tok, int allow_amx) {
    if (!ops || n_ops < 1 || n_ops > HFLOW_MATMUL_MAX_OPS || n_tok < 0 || cols <= 0) return HFLOW_EINVAL;
    mm_job j = {0};
    j.cols = cols;
    j.n_tok = n_tok;
    j.x = x;
    int rc = plan(&j, ws, ops, n_ops, pool ? hflow_pool_size(pool) : 1, allow_amx);
    if (rc || n_tok == 0 || j.n_blocks == 0) return rc;
    if (j.n_fmt) {
        if (n_tok >= QUANT_PAR_MIN_TOK) hflow_pool_run(pool, quantize_x_task, &j);
        else quantize_x_task(&j, 0, 1);
    }
    atomic_init(&j.next_block, 0);
    hflow_pool_run_dynamic(pool, matmul_task, &j); /* blocks come from the counter: any threads can finish them */
    return 0;
}

int hflow_matmul_multi(hflow_pool *pool, hflow_matmul_ws *ws, const hflow_matmul_op *ops, int n_ops, int64_t cols,
                       const float *x, int64_t n_tok) {
    return matmul_run(pool, ws, ops, n_ops, cols, x, n_tok, 1);
}

int hflow_matmul(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows, int64_t cols,
                 const float *x, int64_t n_tok, float *y) {
    hflow_matmul_op op = {type, W, rows, y};
    return matmul_run(pool, ws, &op, 1, cols, x, n_tok, 1);
}

int hflow_matmul_invariant(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *W, int64_t rows,
                           int64_t cols, const float *x, int64_t n_tok, float *y) {
    hflow_matmul_op op = {type, W, rows, y};
    return matmul_run(pool, ws, &op, 1, cols, x, n_tok, 0);
}
