/* test_matmul_fused.c - hflow_matmul_multi (one pool dispatch for weights
 * that share their input) equals separate hflow_matmul calls bit for bit,
 * for mixed weight types needing different activation formats (F32, Q8_0,
 * Q8_K), odd row counts, decode and prefill token counts, 1-3 threads; and
 * a decode product (split into per-thread work items over the gemv's four
 * row segments) equals the type's dot kernel row by row. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/threadpool.h"
#include "engine/ggml_type.h"
#include "engine/matmul.h"
#include "engine/quant.h"
#include "engine/vecdot.h"
#include "hybridflow/error.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) { return tu_frand(&rng); }

static void *rand_weights(uint32_t type, int64_t rows, int64_t cols) {
    size_t rs = hflow_row_size(type, cols);
    char *w = malloc(rs * (size_t)rows);
    float *f = malloc((size_t)cols * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) f[c] = frand();
        assert_int_equal(hflow_quantize_row(type, f, w + (size_t)r * rs, cols), 0);
    }
    free(f);
    return w;
}

static void check_fused(hflow_pool *pool, const uint32_t *types, const int64_t *rows, int n, int64_t cols,
                        int64_t n_tok) {
    hflow_matmul_op ops[HFLOW_MATMUL_MAX_OPS];
    float *want[HFLOW_MATMUL_MAX_OPS];
    float *x = malloc((size_t)(cols * n_tok) * sizeof(float));
    for (int64_t i = 0; i < cols * n_tok; i++) x[i] = 3.0f * frand();
    hflow_matmul_ws ws = {0};
    for (int i = 0; i < n; i++) {
        ops[i].type = types[i];
        ops[i].rows = rows[i];
        ops[i].W = rand_weights(types[i], rows[i], cols);
        ops[i].y = calloc((size_t)(rows[i] * n_tok), sizeof(float));
        want[i] = malloc((size_t)(rows[i] * n_tok) * sizeof(float));
        assert_int_equal(hflow_matmul(pool, &ws, types[i], ops[i].W, rows[i], cols, x, n_tok, want[i]), 0);
    }
    assert_int_equal(hflow_matmul_multi(pool, &ws, ops, n, cols, x, n_tok), 0);
    for (int i = 0; i < n; i++) {
        if (memcmp(ops[i].y, want[i], (size_t)(rows[i] * n_tok) * sizeof(float)) != 0)
            fail_msg("op %d (%s, %lld rows, %lld tokens) differs from its own matmul", i, hflow_type_name(types[i]),
                     (long long)rows[i], (long long)n_tok);
        free((void *)ops[i].W);
        free(ops[i].y);
        free(want[i]);
    }
    hflow_matmul_ws_free(&ws);
    free(x);
}

static void fused_equals_separate(void **state) {
    (void)state;
    const uint32_t mixed[] = {HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q4_K, HFLOW_TYPE_F32, HFLOW_TYPE_Q8_0};
    const uint32_t same[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q8_0};
    const int64_t rows[] = {37, 5, 64, 17};
    const int64_t toks[] = {1, 3, 9, 45};
    for (int nth = 1; nth <= 3; nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        assert_non_null(pool);
        for (size_t t = 0; t < sizeof toks / sizeof toks[0]; t++) {
            check_fused(pool, mixed, rows, 4, 512, toks[t]);
            check_fused(pool, same, rows, 3, 96, toks[t]);
            check_fused(pool, mixed + 1, rows + 1, 1, 256, toks[t]);
        }
        hflow_pool_free(pool);
    }
}

static void decode_equals_dot_kernel(void **state) {
    (void)state;
    const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q6_K, HFLOW_TYPE_F16};
    const int64_t rows[] = {1, 15, 16, 67, 130, 333}, cols = 256;
    hflow_matmul_ws ws = {0};
    for (int nth = 1; nth <= 3; nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        assert_non_null(pool);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
            for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++) {
                const hflow_dot_kernel *k = hflow_dot_kernel_get(types[ti]);
                size_t rs = hflow_row_size(types[ti], cols), xs = hflow_row_size(k->act_type, cols);
                char *w = rand_weights(types[ti], rows[ri], cols), *xq = malloc(xs);
                float x[256], *y = malloc((size_t)rows[ri] * sizeof(float)), want;
                for (int64_t c = 0; c < cols; c++) x[c] = 3.0f * frand();
                assert_int_equal(hflow_matmul(pool, &ws, types[ti], w, rows[ri], cols, x, 1, y), 0);
                k->quantize_act(x, xq, cols);
                for (int64_t r = 0; r < rows[ri]; r++) {
                    k->dot(cols, w + (size_t)r * rs, xq, xs, 1, &want);
                    if (memcmp(&y[r], &want, sizeof want) != 0)
                        fail_msg("%s %lld rows, %d threads, row %lld: %.9g vs dot kernel %.9g",
                                 hflow_type_name(types[ti]), (long long)rows[ri], nth, (long long)r, y[r], want);
                }
                free(w), free(xq), free(y);
            }
        hflow_pool_free(pool);
    }
    hflow_matmul_ws_free(&ws);
}

static void fused_rejects_bad_calls(void **state) {
    (void)state;
    float w[512] = {0}, x[512] = {0}, y[64];
    hflow_matmul_ws ws = {0};
    hflow_matmul_op ops[5] = {{HFLOW_TYPE_F32, w, 2, y}, {HFLOW_TYPE_F32, w, 2, y}, {HFLOW_TYPE_F32, w, 2, y},
                              {HFLOW_TYPE_F32, w, 2, y}, {HFLOW_TYPE_F32, w, 2, y}};
    assert_int_equal(hflow_matmul_multi(NULL, &ws, ops, 0, 32, x, 1), HFLOW_EINVAL);
    assert_int_equal(hflow_matmul_multi(NULL, &ws, ops, HFLOW_MATMUL_MAX_OPS + 1, 32, x, 1), HFLOW_EINVAL);
    assert_int_equal(hflow_matmul_multi(NULL, &ws, ops, 2, 0, x, 1), HFLOW_EINVAL);
    ops[1].type = HFLOW_TYPE_IQ1_S;
    assert_int_equal(hflow_matmul_multi(NULL, &ws, ops, 2, 256, x, 1), HFLOW_EUNSUPPORTED);
    ops[1].type = HFLOW_TYPE_Q8_0; /* 31 columns are no whole number of Q8_0 blocks */
    assert_int_equal(hflow_matmul_multi(NULL, &ws, ops, 2, 31, x, 1), HFLOW_EINVAL);
    assert_int_equal(hflow_matmul_multi(NULL, NULL, ops, 2, 32, x, 1), HFLOW_EINVAL); /* Q8_0 needs a workspace */
    hflow_matmul_ws_free(&ws);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fused_equals_separate),
        cmocka_unit_test(decode_equals_dot_kernel),
        cmocka_unit_test(fused_rejects_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
