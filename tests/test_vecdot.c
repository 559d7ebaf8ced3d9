/* test_vecdot.c - every SIMD kernel this machine selects (AVX2 on x86-64,
 * NEON on aarch64) against its scalar reference: dot products on random
 * inputs with odd sizes, tails and token counts, and activation quantizers
 * bit for bit (including exact rounding ties). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static const uint32_t all_types[] = {HFLOW_TYPE_F32,  HFLOW_TYPE_F16,  HFLOW_TYPE_BF16, HFLOW_TYPE_Q4_0,
                                     HFLOW_TYPE_Q4_1, HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q5_1, HFLOW_TYPE_Q8_0,
                                     HFLOW_TYPE_Q2_K, HFLOW_TYPE_Q3_K, HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q5_K,
                                     HFLOW_TYPE_Q6_K};

/* Weight bytes for n elements: quantized random values, or random bytes for
 * decode-only types (any bit pattern is a valid block apart from the fp16
 * scales, which are set to finite values). */
static void *make_weights(uint32_t type, int64_t n) {
    size_t sz = hflow_row_size(type, n);
    unsigned char *w = malloc(sz);
    assert_non_null(w);
    float *f = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) f[i] = frand() * (i % 7 == 0 ? 4.0f : 1.0f);
    if (hflow_quantize_row(type, f, w, n) != 0) {
        size_t bsz = (size_t)hflow_type_traits_get(type)->type_size;
        for (size_t i = 0; i < sz; i++) w[i] = (unsigned char)(frand() * 128 + 128);
        for (size_t b = 0; b < sz / bsz; b++) {
            uint16_t d = hflow_fp32_to_fp16(0.01f + 0.001f * (float)(b % 5));
            /* d (and dmin) sit in the last 4 bytes of Q2_K, last 2 of Q3_K */
            if (type == HFLOW_TYPE_Q2_K) { memcpy(w + b * bsz + bsz - 4, &d, 2); memcpy(w + b * bsz + bsz - 2, &d, 2); }
            if (type == HFLOW_TYPE_Q3_K) memcpy(w + b * bsz + bsz - 2, &d, 2);
        }
    }
    free(f);
    return w;
}

static void check_dot(uint32_t type, const hflow_dot_kernel *simd, const hflow_dot_kernel *ref, int64_t n, int nx) {
    void *w = make_weights(type, n);
    size_t xs = hflow_row_size(ref->act_type, n);
    char *xa = malloc(xs * (size_t)nx);
    float *x = malloc((size_t)n * sizeof(float)), *wf = malloc((size_t)n * sizeof(float)), *xf = malloc((size_t)n * sizeof(float));
    for (int t = 0; t < nx; t++) {
        for (int64_t i = 0; i < n; i++) x[i] = frand() * 3.0f;
        ref->quantize_act(x, xa + (size_t)t * xs, n);
    }
    float out_s[16], out_r[16];
    simd->dot(n, w, xa, xs, nx, out_s);
    ref->dot(n, w, xa, xs, nx, out_r);
    assert_int_equal(hflow_dequantize_row(type, w, wf, n), 0);
    for (int t = 0; t < nx; t++) {
        assert_int_equal(hflow_dequantize_row(ref->act_type, xa + (size_t)t * xs, xf, n), 0);
        double mag = 0;
        for (int64_t i = 0; i < n; i++) mag += fabs((double)wf[i] * xf[i]);
        if (!(fabs((double)out_s[t] - out_r[t]) <= 1e-5 * mag + 1e-6))
            fail_msg("%s n=%lld nx=%d tok %d: %s %.9g vs scalar %.9g", hflow_type_name(type), (long long)n, nx, t,
                     simd->impl, out_s[t], out_r[t]);
    }
    free(w);
    free(xa);
    free(x);
    free(wf);
    free(xf);
}

static void test_simd_dots_match_scalar(void **state) {
    (void)state;
    int tested = 0;
    for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
        uint32_t type = all_types[k];
        const hflow_dot_kernel *simd = hflow_dot_kernel_get(type), *ref = hflow_dot_kernel_ref(type);
        assert_non_null(ref);
        assert_non_null(simd);
        assert_int_equal(simd->act_type, ref->act_type);
        if (simd == ref) {
            print_message("note: %s has no SIMD kernel here; scalar reference used\n", hflow_type_name(type));
            continue;
        }
        tested++;
        int bs = hflow_type_traits_get(type)->block_size;
        static const int64_t float_sizes[] = {1, 7, 8, 15, 16, 17, 31, 33, 100, 579};
        static const int64_t block_mults[] = {1, 2, 3, 7};
        static const int nxs[] = {1, 2, 3, 4, 5, 9, 16};
        for (size_t s = 0; s < (bs == 1 ? 10u : 4u); s++)
            for (size_t j = 0; j < sizeof nxs / sizeof nxs[0]; j++)
                check_dot(type, simd, ref, bs == 1 ? float_sizes[s] : bs * block_mults[s], nxs[j]);
    }
    print_message("%d types with SIMD kernels checked\n", tested);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        assert_true(tested >= 11);
#elif defined(__aarch64__)
    assert_true(tested >= 11);
#endif
}

/* Activation quantizers must agree bit for bit, including on values whose
 * scaled form is exactly k + 0.5 (Q8_0 rounds ties away from zero). */
static void test_simd_act_quantizers_bit_exact(void **state) {
    (void)state;
    const uint32_t acts_of[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q4_K};
    for (size_t k = 0; k < 2; k++) {
        const hflow_dot_kernel *simd = hflow_dot_kernel_get(acts_of[k]), *ref = hflow_dot_kernel_ref(acts_of[k]);
        if (simd == ref) continue;
        const int64_t n = 1024;
        float *x = malloc(n * sizeof(float));
        for (int64_t i = 0; i < n; i++) x[i] = frand() * 5.0f;
        /* scale exactly 1 (block max 127), values k + 0.5: rounding ties */
        for (int64_t i = 0; i < 256; i++) x[i] = i % 32 == 0 ? 127.0f : (float)(i % 254) - 127.0f + (i % 3 ? 0.5f : 0.0f);
        for (int64_t i = 256; i < 512; i++) x[i] = 0.0f; /* all-zero blocks */
        size_t sz = hflow_row_size(ref->act_type, n);
        char *a = malloc(sz), *b = malloc(sz);
        simd->quantize_act(x, a, n);
        ref->quantize_act(x, b, n);
        assert_memory_equal(a, b, sz);
        free(x);
        free(a);
        free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simd_dots_match_scalar),
        cmocka_unit_test(test_simd_act_quantizers_bit_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
