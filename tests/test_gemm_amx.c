/* test_gemm_amx.c - the AMX-INT8 prefill kernels (gemm_amx.h) equal their
 * scalar reference of the same block-sum order bit for bit, for every
 * supported type, row counts with every remainder of the 16-row tile, token
 * counts with tails, several widths; agree with the type's dot kernel within
 * float reordering; and hflow_matmul takes them exactly from
 * HFLOW_AMX_MIN_TOK tokens while hflow_matmul_invariant never does.
 * Exits 77 ("skipped: no AMX") on CPUs without AMX-INT8. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/cpu.h"
#include "base/threadpool.h"
#include "engine/gemm_amx.h"
#include "engine/ggml_type.h"
#include "engine/matmul.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { return tu_frand(&rng); }

static const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q5_0,
                                 HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q5_K, HFLOW_TYPE_Q6_K};
#define N_TYPES (sizeof types / sizeof types[0])

/* Random rows quantized with the project's quantizers, random activations in
 * the type's activation format, and the float magnitude of each product
 * (sum |w x|) to scale the tolerance against the dot kernel. */
typedef struct {
    int64_t rows, cols, ntok;
    size_t rs, xs;
    char *w, *xq;
    float *xf, *wf;
    const hflow_dot_kernel *k;
} problem;

static void make(problem *p, uint32_t type, int64_t rows, int64_t cols, int64_t ntok) {
    p->rows = rows, p->cols = cols, p->ntok = ntok;
    p->k = hflow_dot_kernel_get(type);
    p->rs = hflow_row_size(type, cols);
    p->xs = hflow_row_size(p->k->act_type, cols);
    p->w = malloc(p->rs * (size_t)rows);
    p->wf = malloc(sizeof(float) * (size_t)(rows * cols));
    p->xq = malloc(p->xs * (size_t)ntok);
    p->xf = malloc(sizeof(float) * (size_t)(ntok * cols));
    float *f = malloc(sizeof(float) * (size_t)cols);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) f[c] = frand() + 0.25f * frand() * frand();
        assert_int_equal(hflow_quantize_row(type, f, p->w + (size_t)r * p->rs, cols), 0);
        assert_int_equal(hflow_dequantize_row(type, p->w + (size_t)r * p->rs, p->wf + r * cols, cols), 0);
    }
    for (int64_t t = 0; t < ntok; t++) {
        for (int64_t c = 0; c < cols; c++) p->xf[t * cols + c] = 4.0f * frand();
        p->k->quantize_act(p->xf + t * cols, p->xq + (size_t)t * p->xs, cols);
    }
    free(f);
}

static void unmake(problem *p) { free(p->w), free(p->wf), free(p->xq), free(p->xf); }

/* The product's float magnitude: the reorderings differ by a few ulps of the
 * partial sums, each at most this. */
static float magnitude(const problem *p, int64_t r, int64_t t) {
    float s = 0.0f;
    for (int64_t c = 0; c < p->cols; c++) s += fabsf(p->wf[r * p->cols + c] * p->xf[t * p->cols + c]);
    return s;
}

/* The AMX kernel over row blocks of 16 (as matmul calls it), y with a stride
 * wider than rows; the reference likewise. */
static void run_kernel(uint32_t type, const problem *p, float *y, int64_t ys, int ref) {
    if (ref) {
        const void **tok = malloc(sizeof(void *) * (size_t)p->ntok);
        for (int64_t t = 0; t < p->ntok; t++) tok[t] = p->xq + (size_t)t * p->xs;
        hflow_amx_ref(type)(p->cols, p->w, p->rs, p->rows, NULL, p->ntok, y, ys, (void *)tok);
        free(tok);
        return;
    }
    char *pack = malloc(hflow_amx_pack_size(p->k->act_type, p->cols, p->ntok));
    char *scratch = malloc(hflow_amx_scratch_size(type, p->cols));
    for (int64_t t = p->ntok - 1; t >= 0; t--) /* any order: the last token also pads */
        hflow_amx_pack_token(p->k->act_type, p->cols, p->xq + (size_t)t * p->xs, t, p->ntok, pack);
    for (int64_t rb = 0; rb < p->rows; rb += 16)
        hflow_amx_table(type)(p->cols, p->w + (size_t)rb * p->rs, p->rs, p->rows - rb < 16 ? p->rows - rb : 16, pack,
                              p->ntok, y + rb, ys, scratch);
    free(pack), free(scratch);
}

static void check(uint32_t type, int64_t rows, int64_t cols, int64_t ntok) {
    problem p;
    make(&p, type, rows, cols, ntok);
    int64_t ys = rows + 3;
    float *got = calloc((size_t)(ntok * ys), sizeof(float)), *want = calloc((size_t)(ntok * ys), sizeof(float));
    float *dot = malloc(sizeof(float) * (size_t)ntok);
    run_kernel(type, &p, got, ys, 0);
    run_kernel(type, &p, want, ys, 1);
    int64_t nblk = type == HFLOW_TYPE_Q8_0 || type == HFLOW_TYPE_Q4_0 || type == HFLOW_TYPE_Q5_0 ? cols / 32 : cols / 256;
    for (int64_t r = 0; r < rows; r++) {
        p.k->dot(cols, p.w + (size_t)r * p.rs, p.xq, p.xs, (int)ntok, dot);
        for (int64_t t = 0; t < ntok; t++) {
            float g = got[t * ys + r], w = want[t * ys + r];
            if (memcmp(&g, &w, sizeof g) != 0)
                fail_msg("%s %lldx%lld ntok %lld row %lld tok %lld: amx %.9g vs reference %.9g", hflow_type_name(type),
                         (long long)rows, (long long)cols, (long long)ntok, (long long)r, (long long)t, g, w);
            /* each of the ~nblk + 16 roundings moves a partial sum by at most
             * 2^-24 of the magnitude */
            float tol = 6e-8f * (float)(nblk + 16) * magnitude(&p, r, t) + 1e-6f;
            if (!(fabsf(g - dot[t]) <= tol))
                fail_msg("%s row %lld tok %lld: amx %.9g vs dot kernel %.9g (tol %.3g)", hflow_type_name(type),
                         (long long)r, (long long)t, g, dot[t], tol);
        }
    }
    for (int64_t t = 0; t < ntok; t++) /* the padding columns of y stay untouched */
        for (int64_t r = rows; r < ys; r++) assert_true(got[t * ys + r] == 0.0f);
    free(got), free(want), free(dot);
    unmake(&p);
}

static void amx_equals_reference(void **state) {
    (void)state;
    const int64_t rows[] = {1, 7, 16, 17, 40}, ntoks[] = {64, 79, 150};
    for (size_t i = 0; i < N_TYPES; i++) {
        int k = types[i] == HFLOW_TYPE_Q4_K || types[i] == HFLOW_TYPE_Q5_K || types[i] == HFLOW_TYPE_Q6_K;
        const int64_t widths[2] = {k ? 256 : 64, k ? 768 : 576};
        assert_non_null(hflow_amx_table(types[i]));
        for (size_t wi = 0; wi < 2; wi++)
            for (size_t ri = 0; ri < 5; ri++) check(types[i], rows[ri], widths[wi], ntoks[(ri + wi) % 3]);
    }
}

/* Fused Q8_0 + Q6_K + Q5_0 (two activation formats) over a 2-thread pool:
 * from HFLOW_AMX_MIN_TOK tokens hflow_matmul_multi gives the AMX results
 * (unless HFLOW_BATCH_INVARIANT=1), below it and through
 * hflow_matmul_invariant the dot kernel's. */
static void matmul_takes_amx_from_min_tok(void **state) {
    (void)state;
    hflow_pool *pool = hflow_pool_create(2);
    assert_non_null(pool);
    hflow_matmul_ws ws = {0};
    const uint32_t ts[3] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q6_K, HFLOW_TYPE_Q5_0};
    const int64_t cols = 512, rows[3] = {40, 33, 16};
    for (int64_t ntok = HFLOW_AMX_MIN_TOK - 1; ntok <= HFLOW_AMX_MIN_TOK + 1; ntok++) {
        problem p[3];
        hflow_matmul_op ops[3];
        for (int i = 0; i < 3; i++) {
            make(&p[i], ts[i], rows[i], cols, ntok);
            memcpy(p[i].xf, p[0].xf, sizeof(float) * (size_t)(ntok * cols)); /* one shared x */
            for (int64_t t = 0; t < ntok; t++) p[i].k->quantize_act(p[i].xf + t * cols, p[i].xq + (size_t)t * p[i].xs, cols);
            ops[i] = (hflow_matmul_op){ts[i], p[i].w, rows[i], malloc(sizeof(float) * (size_t)(ntok * rows[i]))};
        }
        assert_int_equal(hflow_matmul_multi(pool, &ws, ops, 3, cols, p[0].xf, ntok), 0);
        int amx = ntok >= HFLOW_AMX_MIN_TOK && !hflow_amx_opted_out();
        for (int i = 0; i < 3; i++) {
            float *want = malloc(sizeof(float) * (size_t)(ntok * rows[i])), *inv = malloc(sizeof(float) * (size_t)(ntok * rows[i]));
            float *dot = malloc(sizeof(float) * (size_t)ntok);
            run_kernel(ts[i], &p[i], want, rows[i], 1);
            assert_int_equal(hflow_matmul_invariant(pool, &ws, ts[i], p[i].w, rows[i], cols, p[i].xf, ntok, inv), 0);
            for (int64_t r = 0; r < rows[i]; r++) {
                p[i].k->dot(cols, p[i].w + (size_t)r * p[i].rs, p[i].xq, p[i].xs, (int)ntok, dot);
                for (int64_t t = 0; t < ntok; t++) {
                    float g = ops[i].y[t * rows[i] + r], e = amx ? want[t * rows[i] + r] : dot[t];
                    if (memcmp(&g, &e, sizeof g) != 0)
                        fail_msg("%s ntok %lld row %lld tok %lld: matmul %.9g vs %s %.9g", hflow_type_name(ts[i]),
                                 (long long)ntok, (long long)r, (long long)t, g, amx ? "amx reference" : "dot kernel", e);
                    assert_memory_equal(&inv[t * rows[i] + r], &dot[t], sizeof(float));
                }
            }
            free(want), free(inv), free(dot), free(ops[i].y);
            unmake(&p[i]);
        }
    }
    hflow_matmul_ws_free(&ws);
    hflow_pool_free(pool);
}

int main(void) {
#if defined(__x86_64__)
    int have = hflow_cpu_has_amx_int8();
#else
    int have = 0;
#endif
    if (!have) {
        printf("skipped: no AMX\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(amx_equals_reference),
        cmocka_unit_test(matmul_takes_amx_from_min_tok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
