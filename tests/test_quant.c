/* test_quant.c - float conversions, block (de)quantizers and their error
 * bounds, and the threaded matmul against a double-precision reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/cpu.h"
#include "hybridflow/error.h"
#include "engine/matmul.h"
#include "engine/membw.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

/* Deterministic uniform floats in [-1, 1) (xorshift), so failures reproduce. */
static uint64_t rng_state = 88172645463325252ull;
static float frand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static float *rand_vec(int64_t n, float scale) {
    float *v = malloc((size_t)n * sizeof(float));
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = frand() * scale;
    return v;
}

static void test_fp16_roundtrip_all_halves(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hflow_fp16_to_fp32((uint16_t)h);
        if (isnan(f)) {
            assert_true((hflow_fp32_to_fp16(f) & 0x7c00) == 0x7c00 && (hflow_fp32_to_fp16(f) & 0x3ff));
            continue;
        }
        assert_int_equal(hflow_fp32_to_fp16(f), h);
    }
    assert_int_equal(hflow_fp32_to_fp16(1.0f), 0x3c00);
    assert_int_equal(hflow_fp32_to_fp16(-2.0f), 0xc000);
    assert_int_equal(hflow_fp32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(hflow_fp32_to_fp16(65520.0f), 0x7c00);        /* halfway to inf rounds to even: inf */
    assert_int_equal(hflow_fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00); /* tie rounds to even mantissa */
    assert_int_equal(hflow_fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);
    assert_int_equal(hflow_fp32_to_fp16(5.9604645e-08f), 0x0001);    /* smallest subnormal */
    assert_int_equal(hflow_fp32_to_fp16(1e-9f), 0x0000);
    assert_true(hflow_fp16_to_fp32(0x3555) > 0.3332f && hflow_fp16_to_fp32(0x3555) < 0.3334f);
}

/* The row conversion (F16C when the CPU has it) equals the scalar one bit for
 * bit over a sweep of f32 bit patterns: normals, half subnormals and
 * underflow, overflow and ties to infinity, infinities, NaNs with payloads;
 * in rows of odd lengths so the vector tails run too. */
static void check_fp16_row(void (*row)(const float *, uint16_t *, int64_t)) {
    enum { N = 1021 };
    float x[N];
    uint16_t got[N];
    for (uint64_t base = 0; base < (1ull << 32); base += (uint64_t)N * 2039) {
        for (int i = 0; i < N; i++) {
            uint32_t bits = (uint32_t)(base + (uint64_t)i * 2039);
            memcpy(&x[i], &bits, 4);
        }
        int n = N - (int)(base % 11);
        row(x, got, n);
        for (int i = 0; i < n; i++)
            if (got[i] != hflow_fp32_to_fp16(x[i])) {
                uint32_t bits;
                memcpy(&bits, &x[i], 4);
                fail_msg("f32 0x%08x: row gives 0x%04x, scalar 0x%04x", bits, got[i], hflow_fp32_to_fp16(x[i]));
            }
    }
}

static void test_fp16_row_equals_scalar(void **state) {
    (void)state;
    check_fp16_row(hflow_fp32_to_fp16_row);
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx2_fma_f16c()) check_fp16_row(hflow_fp32_to_fp16_row_avx2);
    else print_message("skipped: no F16C on this CPU (the dispatched row was checked)\n");
#endif
}

static void test_bf16_conversion(void **state) {
    (void)state;
    assert_int_equal(hflow_fp32_to_bf16(1.0f), 0x3f80);
    assert_true(hflow_bf16_to_fp32(0x3f80) == 1.0f);
    assert_true(hflow_bf16_to_fp32(0xc040) == -3.0f);
    /* 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (down). */
    assert_int_equal(hflow_fp32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
    assert_int_equal(hflow_fp32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
    assert_true(isnan(hflow_bf16_to_fp32(hflow_fp32_to_bf16(NAN))));
    for (int i = 0; i < 1000; i++) {
        float f = frand() * 100.0f;
        float g = hflow_bf16_to_fp32(hflow_fp32_to_bf16(f));
        assert_true(fabsf(f - g) <= fabsf(f) / 256.0f);
    }
}

/* Largest |x - dequant(quant(x))| relative to the block's largest |x|. */
typedef struct {
    uint32_t type;
    float max_rel_err; /* bound on error / max|x| of its block */
    float rms_rel;     /* bound on rms error / rms x over the whole row */
} roundtrip_case;

static void check_roundtrip(const roundtrip_case *c) {
    const int64_t n = 4096;
    int bs = hflow_type_traits_get(c->type)->block_size;
    float *x = rand_vec(n, 3.0f), *y = calloc(n, sizeof(float));
    /* a block of constants and a block of zeros are edge cases for scales */
    for (int i = 0; i < 256; i++) x[i] = 0.0f;
    for (int i = 256; i < 512; i++) x[i] = -1.25f;
    void *q = malloc(hflow_row_size(c->type, n));
    assert_int_equal(hflow_quantize_row(c->type, x, q, n), 0);
    assert_int_equal(hflow_dequantize_row(c->type, q, y, n), 0);
    double se = 0, sx = 0;
    for (int64_t b = 0; b < n; b += bs) {
        float amax = 0;
        for (int j = 0; j < bs; j++) amax = fmaxf(amax, fabsf(x[b + j]));
        for (int j = 0; j < bs; j++) {
            float e = fabsf(x[b + j] - y[b + j]);
            if (e > c->max_rel_err * amax + 1e-6f)
                fail_msg("%s: element %lld: %g -> %g (block max %g)", hflow_type_name(c->type), (long long)(b + j),
                         x[b + j], y[b + j], amax);
            se += (double)e * e;
            sx += (double)x[b + j] * x[b + j];
        }
    }
    for (int i = 0; i < 256; i++) assert_true(y[i] == 0.0f);
    assert_true(sqrt(se / sx) < c->rms_rel);
    free(x);
    free(y);
    free(q);
}

static const roundtrip_case roundtrips[] = {
    {HFLOW_TYPE_F32, 0.0f, 1e-9f},
    {HFLOW_TYPE_F16, 1.0f / 1024, 1e-3f},
    {HFLOW_TYPE_BF16, 1.0f / 128, 1e-2f},
    {HFLOW_TYPE_Q8_0, 0.5f / 127 + 1e-3f, 0.01f},
    {HFLOW_TYPE_Q8_1, 0.5f / 127 + 1e-3f, 0.01f},
    {HFLOW_TYPE_Q8_K, 0.5f / 127 + 1e-3f, 0.01f},
    /* symmetric formats map the signed extreme to -8 (-16), so the opposite
     * extreme clamps at 7 (15) steps: error up to 1/8 (1/16) of the block max */
    {HFLOW_TYPE_Q4_0, 1.0f / 8 + 1e-3f, 0.12f},
    {HFLOW_TYPE_Q4_1, 1.0f / 15 + 1e-3f, 0.10f},
    {HFLOW_TYPE_Q5_0, 1.0f / 16 + 1e-3f, 0.06f},
    {HFLOW_TYPE_Q5_1, 1.0f / 31 + 1e-3f, 0.05f},
    /* K-quants: also the scale quantization error (6-bit scales) */
    {HFLOW_TYPE_Q4_K, 0.12f, 0.10f},
    {HFLOW_TYPE_Q5_K, 0.06f, 0.05f},
    {HFLOW_TYPE_Q6_K, 0.03f, 0.025f},
};

static void test_quantize_roundtrip_bounds(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof roundtrips / sizeof roundtrips[0]; i++) check_roundtrip(&roundtrips[i]);
}

static void test_q8_0_layout(void **state) {
    (void)state;
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) / 16.0f * 2.54f; /* amax 2.54 at i=0 */
    uint8_t blk[34];
    assert_int_equal(hflow_quantize_row(HFLOW_TYPE_Q8_0, x, blk, 32), 0);
    uint16_t d;
    memcpy(&d, blk, 2);
    assert_int_equal(d, hflow_fp32_to_fp16(0.02f)); /* d = amax / 127, fp16 first */
    assert_int_equal((int8_t)blk[2], -127);
    assert_int_equal((int8_t)blk[2 + 16], 0);
    assert_int_equal(hflow_quantize_row(HFLOW_TYPE_Q8_0, x, blk, 31), HFLOW_EINVAL);
    assert_int_equal(hflow_dequantize_row(HFLOW_TYPE_IQ2_XXS, blk, x, 256), HFLOW_EUNSUPPORTED);
    assert_false(hflow_type_supported(HFLOW_TYPE_IQ2_XXS));
}

/* matmul over a pool vs a double-precision product of the dequantized
 * weights with the activations as the kernel sees them. */
static void check_matmul(hflow_pool *pool, uint32_t type, int64_t rows, int64_t cols, int64_t n_tok) {
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type);
    assert_non_null(k);
    float *wf = rand_vec(rows * cols, 1.0f), *x = rand_vec(n_tok * cols, 2.0f);
    size_t rs = hflow_row_size(type, cols);
    char *w = malloc(rs * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) assert_int_equal(hflow_quantize_row(type, wf + r * cols, w + r * rs, cols), 0);
    for (int64_t r = 0; r < rows; r++) assert_int_equal(hflow_dequantize_row(type, w + r * rs, wf + r * cols, cols), 0);
    /* activations round-tripped through the kernel's activation format */
    float *xr = malloc((size_t)(n_tok * cols) * sizeof(float));
    void *xq = malloc(hflow_row_size(k->act_type, cols));
    for (int64_t t = 0; t < n_tok; t++) {
        assert_int_equal(hflow_quantize_row(k->act_type, x + t * cols, xq, cols), 0);
        assert_int_equal(hflow_dequantize_row(k->act_type, xq, xr + t * cols, cols), 0);
    }
    float *y = malloc((size_t)(rows * n_tok) * sizeof(float));
    hflow_matmul_ws ws = {0};
    assert_int_equal(hflow_matmul(pool, &ws, type, w, rows, cols, x, n_tok, y), 0);
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < rows; r++) {
            double s = 0, mag = 0;
            for (int64_t c = 0; c < cols; c++) {
                s += (double)wf[r * cols + c] * xr[t * cols + c];
                mag += fabs((double)wf[r * cols + c] * xr[t * cols + c]);
            }
            double got = y[t * rows + r];
            if (fabs(got - s) > 1e-5 * mag + 1e-6)
                fail_msg("%s %lldx%lld tok %lld row %lld: %g vs %g", hflow_type_name(type), (long long)rows,
                         (long long)cols, (long long)t, (long long)r, got, s);
        }
    hflow_matmul_ws_free(&ws);
    free(wf);
    free(x);
    free(w);
    free(xr);
    free(xq);
    free(y);
}

static const uint32_t matmul_types[] = {HFLOW_TYPE_F32,  HFLOW_TYPE_F16,  HFLOW_TYPE_BF16, HFLOW_TYPE_Q8_0,
                                        HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q4_1, HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q5_1,
                                        HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q5_K, HFLOW_TYPE_Q6_K};

/* HYBRIDFLOW_TEST_MAX_THREADS caps the pools (scripts/test-aarch64.sh sets 1:
 * threads hang under this machine's qemu-user). */
static int max_threads(void) {
    const char *e = getenv("HYBRIDFLOW_TEST_MAX_THREADS");
    return e && atoi(e) > 0 ? atoi(e) : 3;
}

static void test_matmul_matches_reference(void **state) {
    (void)state;
    for (int nth = 1; nth <= max_threads(); nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        assert_non_null(pool);
        for (size_t i = 0; i < sizeof matmul_types / sizeof matmul_types[0]; i++) {
            uint32_t t = matmul_types[i];
            int bs = hflow_type_traits_get(t)->block_size == 256 ? 256 : 32;
            check_matmul(pool, t, 37, bs * 3, 1);  /* decode, rows not a multiple of anything */
            check_matmul(pool, t, 19, bs * 2, 45); /* prefill crossing token blocks, odd sizes */
        }
        hflow_pool_free(pool);
    }
}

static void test_matmul_rejects_bad_shapes(void **state) {
    (void)state;
    float w[64] = {0}, x[64] = {0}, y[4];
    hflow_matmul_ws ws = {0};
    assert_int_equal(hflow_matmul(NULL, &ws, HFLOW_TYPE_Q8_0, w, 1, 31, x, 1, y), HFLOW_EINVAL);
    assert_int_equal(hflow_matmul(NULL, &ws, HFLOW_TYPE_IQ1_S, w, 1, 256, x, 1, y), HFLOW_EUNSUPPORTED);
    assert_int_equal(hflow_matmul(NULL, &ws, HFLOW_TYPE_F32, w, 2, 32, x, 1, y), 0);
    assert_true(y[0] == 0.0f && y[1] == 0.0f);
    hflow_matmul_ws_free(&ws);
}

/* The bandwidth probe runs its kernels over the pool and checks its own read
 * sum (a wrong sum would come back negative); no assertion on speed. */
static void test_membw_runs(void **state) {
    (void)state;
    hflow_pool *pool = hflow_pool_create(max_threads() >= 2 ? 2 : 1);
    hflow_membw bw;
    assert_int_equal(hflow_membw_measure(pool, (size_t)1 << 20, 2, &bw), 0);
    assert_true(bw.triad_gbs > 0);
    assert_true(bw.read_gbs > 0);
    assert_int_equal(bw.array_bytes, (size_t)1 << 20);
    assert_int_equal(bw.threads, hflow_pool_size(pool));
    hflow_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_roundtrip_all_halves),
        cmocka_unit_test(test_bf16_conversion),
        cmocka_unit_test(test_fp16_row_equals_scalar),
        cmocka_unit_test(test_quantize_roundtrip_bounds),
        cmocka_unit_test(test_q8_0_layout),
        cmocka_unit_test(test_matmul_matches_reference),
        cmocka_unit_test(test_matmul_rejects_bad_shapes),
        cmocka_unit_test(test_membw_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
