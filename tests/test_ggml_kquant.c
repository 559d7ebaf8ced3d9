/* test_ggml_kquant.c - the GGML-numerics emulation of llama.cpp's quantized
 * products (ggml_compat.h): the Q8_K activation quantizer, the AVX2-order
 * Q4_K/Q6_K dot products and the repacked-Q4_0 order, each against an exact
 * (double) dot product of the same quantized values, and hflow_matmul_ggml's
 * wiring of them (row by row, token by token, on a pool). Bit agreement with
 * llama.cpp itself is checked end to end by test_forward_ref2l. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/ggml_compat.h"
#include "engine/ggml_type.h"
#include "engine/matmul.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float frand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static float *rand_vec(int64_t n, float scale) {
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = frand() * scale * (i % 11 == 0 ? 3.0f : 1.0f);
    return v;
}

static void *quantized(uint32_t type, const float *x, int64_t n) {
    void *q = malloc(hflow_row_size(type, n));
    assert_non_null(q);
    assert_int_equal(hflow_quantize_row(type, x, q, n), 0);
    return q;
}

/* ggml's quantizer scales by -127/max with max the signed extreme value; ours
 * by 127/amax: the codes may differ in sign, the values d*q must not. */
static void test_q8_K_values(void **state) {
    (void)state;
    const int64_t n = 3 * 256;
    float *x = rand_vec(n, 2.0f);
    x[5] = 9.0f;         /* block 0: positive extreme (codes negated) */
    x[256 + 7] = -9.0f;  /* block 1: negative extreme */
    memset(x + 512, 0, 256 * sizeof *x); /* block 2: all zero */
    block_q8_K g[3], o[3];
    hflow_ggml_quant_q8_K(x, g, n);
    assert_int_equal(hflow_quantize_row(HFLOW_TYPE_Q8_K, x, o, n), 0);
    assert_true(g[0].d < 0.0f && g[1].d > 0.0f && g[2].d == 0.0f);
    for (int b = 0; b < 3; b++) {
        for (int j = 0; j < 256; j++) {
            assert_true(g[b].qs[j] >= -127 && g[b].qs[j] <= 127);
            assert_true(g[b].d * g[b].qs[j] == o[b].d * o[b].qs[j]);
        }
        for (int s = 0; s < 16; s++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += g[b].qs[16 * s + j];
            assert_int_equal(g[b].bsums[s], sum);
        }
    }
    free(x);
}

/* Exact sum of the products of the dequantized operands. */
static double exact_dot(uint32_t wtype, const void *w, uint32_t xtype, const void *xq, int64_t n, double *mag) {
    float *wf = malloc((size_t)n * sizeof *wf), *xf = malloc((size_t)n * sizeof *xf);
    assert_non_null(wf);
    assert_non_null(xf);
    assert_int_equal(hflow_dequantize_row(wtype, w, wf, n), 0);
    assert_int_equal(hflow_dequantize_row(xtype, xq, xf, n), 0);
    double s = 0.0;
    *mag = 0.0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)wf[i] * xf[i];
        *mag += fabs((double)wf[i] * xf[i]);
    }
    free(wf);
    free(xf);
    return s;
}

static void test_k_dots(void **state) {
    (void)state;
    const uint32_t types[] = {HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q6_K};
    for (int t = 0; t < 2; t++)
        for (int64_t n = 256; n <= 1024; n += 256) {
            float *wf = rand_vec(n, 0.5f), *x = rand_vec(n, 1.5f);
            void *w = quantized(types[t], wf, n);
            block_q8_K *xq = malloc((size_t)(n / 256) * sizeof *xq);
            assert_non_null(xq);
            hflow_ggml_quant_q8_K(x, xq, n);
            double mag, ref = exact_dot(types[t], w, HFLOW_TYPE_Q8_K, xq, n, &mag);
            float got = hflow_ggml_dot_k(types[t], w, xq, n);
            /* a handful of float roundings of partial sums, each <= mag * 2^-24 */
            assert_true(fabs(got - ref) <= 1e-6 * mag);
            free(wf), free(x), free(w), free(xq);
        }
}

static void test_q4_0_orders(void **state) {
    (void)state;
    for (int64_t n = 32; n <= 512; n += 96) {
        float *wf = rand_vec(n, 0.5f), *x = rand_vec(n, 1.5f);
        void *w = quantized(HFLOW_TYPE_Q4_0, wf, n);
        void *xq = malloc(hflow_row_size(HFLOW_TYPE_Q8_0, n));
        assert_non_null(xq);
        hflow_ggml_quant_q8_0(x, xq, n);
        double mag, ref = exact_dot(HFLOW_TYPE_Q4_0, w, HFLOW_TYPE_Q8_0, xq, n, &mag);
        assert_true(fabs(hflow_ggml_dot_q4_0_x8(w, xq, n) - ref) <= 1e-6 * mag);
        assert_true(fabs(hflow_ggml_dot_q32(HFLOW_TYPE_Q4_0, w, xq, n) - ref) <= 1e-6 * mag);
        free(wf), free(x), free(w), free(xq);
    }
}

/* hflow_matmul_ggml computes every (row, token) with the emulated dot of that
 * row's bytes and that token's activations, whatever the pool or batch. */
static void check_matmul(uint32_t type, int64_t rows, int64_t cols, int64_t n_tok, hflow_pool *pool) {
    int kq = type == HFLOW_TYPE_Q4_K || type == HFLOW_TYPE_Q6_K;
    uint32_t xtype = kq ? HFLOW_TYPE_Q8_K : HFLOW_TYPE_Q8_0;
    float *wf = rand_vec(rows * cols, 0.5f), *x = rand_vec(n_tok * cols, 1.0f);
    float *y = malloc((size_t)(rows * n_tok) * sizeof *y);
    char *w = quantized(type, wf, rows * cols);
    size_t w_row = hflow_row_size(type, cols), x_row = hflow_row_size(xtype, cols);
    char *xq = malloc(x_row);
    assert_non_null(y);
    assert_non_null(xq);
    hflow_matmul_ws ws = {0};
    assert_int_equal(hflow_matmul_ggml(pool, &ws, type, w, rows, cols, x, n_tok, y), 0);
    for (int64_t t = 0; t < n_tok; t++) {
        if (kq) hflow_ggml_quant_q8_K(x + t * cols, xq, cols);
        else hflow_ggml_quant_q8_0(x + t * cols, xq, cols);
        for (int64_t r = 0; r < rows; r++) {
            const char *wr = w + (size_t)r * w_row;
            float want = kq                  ? hflow_ggml_dot_k(type, wr, xq, cols)
                         : rows % 8 == 0     ? hflow_ggml_dot_q4_0_x8(wr, xq, cols)
                                             : hflow_ggml_dot_q32(type, wr, xq, cols);
            assert_true(y[t * rows + r] == want);
        }
    }
    hflow_matmul_ws_free(&ws);
    free(wf), free(x), free(y), free(w), free(xq);
}

static void test_matmul_wiring(void **state) {
    (void)state;
    hflow_pool *pool = hflow_pool_create(2);
    assert_non_null(pool);
    check_matmul(HFLOW_TYPE_Q4_K, 24, 512, 5, pool);
    check_matmul(HFLOW_TYPE_Q6_K, 13, 256, 1, NULL);
    check_matmul(HFLOW_TYPE_Q4_0, 16, 96, 3, pool); /* repacked order */
    check_matmul(HFLOW_TYPE_Q4_0, 12, 64, 2, NULL); /* vec_dot order */
    hflow_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_K_values),
        cmocka_unit_test(test_k_dots),
        cmocka_unit_test(test_q4_0_orders),
        cmocka_unit_test(test_matmul_wiring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
