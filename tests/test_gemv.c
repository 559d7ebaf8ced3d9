/* test_gemv.c - the 4-row decode kernels and the tiled prefill kernels equal
 * their type's dot kernel bit for bit (row and token counts with every
 * remainder of the tile sizes, several widths), and agree with the scalar
 * reference kernel within float rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/cpu.h"
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) { return tu_frand(&rng); }

static void check_gemv(uint32_t type, hflow_gemv_fn gemv) {
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type), *ref = hflow_dot_kernel_ref(type);
    /* every tail of the 4-row tile, and row counts long enough for the
     * multi-stream path (4 segments of >= 4 rows) with every remainder */
    const int64_t widths32[] = {32, 96, 576, 33024}, widths256[] = {256, 512, 1536, 33024},
                  row_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 18, 19, 37, 67};
    for (size_t wi = 0; wi < 4; wi++) /* the widest: rows past the AVX-512 kernels' prepared-activation limit */
        for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
            if (wi == 3 && row_counts[ri] != 17) continue;
            int64_t cols = hflow_type_traits_get(type)->block_size == 256 ? widths256[wi] : widths32[wi], rows = row_counts[ri];
            size_t rs = hflow_row_size(type, cols), xs = hflow_row_size(k->act_type, cols);
            char *w = malloc(rs * (size_t)rows), *xq = malloc(xs);
            float *f = malloc((size_t)cols * sizeof(float)), *got = malloc((size_t)rows * sizeof(float));
            float want, want_ref;
            for (int64_t r = 0; r < rows; r++) {
                for (int64_t c = 0; c < cols; c++) f[c] = frand();
                assert_int_equal(hflow_quantize_row(type, f, w + (size_t)r * rs, cols), 0);
            }
            for (int64_t c = 0; c < cols; c++) f[c] = 4.0f * frand();
            k->quantize_act(f, xq, cols);
            gemv(cols, w, rs, rows, xq, got);
            for (int64_t r = 0; r < rows; r++) {
                k->dot(cols, w + (size_t)r * rs, xq, xs, 1, &want);
                ref->dot(cols, w + (size_t)r * rs, xq, xs, 1, &want_ref);
                if (memcmp(&got[r], &want, sizeof want) != 0)
                    fail_msg("%s %lldx%lld row %lld: gemv %.9g vs dot kernel %.9g", hflow_type_name(type),
                             (long long)rows, (long long)cols, (long long)r, got[r], want);
                /* float sums in different orders: the gap grows with the row's length */
                float tol = 1e-4f * (1.0f + fabsf(want_ref)) * (1.0f + (float)cols / 1024.0f);
                if (!(fabsf(got[r] - want_ref) <= tol))
                    fail_msg("%s %lldx%lld row %lld: gemv %.9g vs scalar reference %.9g", hflow_type_name(type),
                             (long long)rows, (long long)cols, (long long)r, got[r], want_ref);
            }
            free(w), free(xq), free(f), free(got);
        }
}

/* The chosen kernel and every other SIMD variant this CPU can run (AVX-512,
 * AVX-VNNI, plain AVX2), each once. */
static int kernels_of(uint32_t type, int gemm, void *fns[4]) {
    int n = 0;
    void *cand[4] = {gemm ? (void *)hflow_gemm_get(type) : (void *)hflow_gemv_get(type), NULL, NULL, NULL};
#if defined(__x86_64__)
    if (!gemm && hflow_cpu_has_avx512()) cand[1] = (void *)hflow_gemv_avx512(type);
    if (hflow_cpu_has_avx_vnni()) cand[2] = gemm ? (void *)hflow_gemm_avxvnni(type) : (void *)hflow_gemv_avxvnni(type);
    if (hflow_cpu_has_avx2_fma_f16c()) cand[3] = gemm ? (void *)hflow_gemm_avx2(type) : (void *)hflow_gemv_avx2(type);
    if (!hflow_cpu_has_avx512() && !gemm) print_message("skipped: AVX-512 %s gemv (CPU lacks it)\n", hflow_type_name(type));
#endif
    for (int c = 0; c < 4; c++) {
        int dup = !cand[c];
        for (int k = 0; k < n && !dup; k++) dup = fns[k] == cand[c];
        if (!dup) fns[n++] = cand[c];
    }
    if (!n) print_message("skipped: no %s kernel for %s on this CPU\n", gemm ? "gemm" : "gemv", hflow_type_name(type));
    return n;
}

static void gemv_equals_dot_kernel(void **state) {
    (void)state;
    const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q5_0,
                              HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q5_K, HFLOW_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        void *fns[4];
        int n = kernels_of(types[i], 0, fns);
        for (int f = 0; f < n; f++) check_gemv(types[i], (hflow_gemv_fn)fns[f]);
    }
}

/* rows x ntok outputs of the gemm kernel against one dot-kernel call per row
 * (all tokens) and the scalar reference; y has a stride wider than rows so a
 * write outside the tile would show. */
static void check_gemm(uint32_t type, hflow_gemm_fn gemm, int64_t rows, int64_t cols, int64_t ntok) {
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type), *ref = hflow_dot_kernel_ref(type);
    size_t rs = hflow_row_size(type, cols), xs = hflow_row_size(k->act_type, cols);
    int64_t ys = rows + 3;
    char *w = malloc(rs * (size_t)rows), *xq = malloc(xs * (size_t)ntok);
    float *f = malloc((size_t)cols * sizeof(float)), *y = malloc((size_t)(ys * ntok) * sizeof(float));
    float *want = malloc((size_t)ntok * sizeof(float)), *want_ref = malloc((size_t)ntok * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) f[c] = frand();
        assert_int_equal(hflow_quantize_row(type, f, w + (size_t)r * rs, cols), 0);
    }
    for (int64_t t = 0; t < ntok; t++) {
        for (int64_t c = 0; c < cols; c++) f[c] = 4.0f * frand();
        k->quantize_act(f, xq + (size_t)t * xs, cols);
    }
    for (int64_t i = 0; i < ys * ntok; i++) y[i] = -12345.0f;
    gemm(cols, w, rs, rows, xq, xs, ntok, y, ys);
    for (int64_t r = 0; r < rows; r++) {
        k->dot(cols, w + (size_t)r * rs, xq, xs, (int)ntok, want);
        ref->dot(cols, w + (size_t)r * rs, xq, xs, (int)ntok, want_ref);
        for (int64_t t = 0; t < ntok; t++) {
            float got = y[t * ys + r];
            if (memcmp(&got, &want[t], sizeof got) != 0)
                fail_msg("%s %lldx%lld, %lld tokens, row %lld token %lld: gemm %.9g vs dot kernel %.9g",
                         hflow_type_name(type), (long long)rows, (long long)cols, (long long)ntok, (long long)r,
                         (long long)t, got, want[t]);
            assert_true(fabsf(got - want_ref[t]) <= 1e-4f * (1.0f + fabsf(want_ref[t])));
        }
    }
    for (int64_t t = 0; t < ntok; t++)
        for (int64_t r = rows; r < ys; r++) assert_true(y[t * ys + r] == -12345.0f);
    free(w), free(xq), free(f), free(y), free(want), free(want_ref);
}

static void gemm_equals_dot_kernel(void **state) {
    (void)state;
    const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q5_0};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        void *fns[4];
        int n = kernels_of(types[i], 1, fns);
        const int64_t widths[] = {32, 96, 576};
        for (int f = 0; f < n; f++)
            for (size_t wi = 0; wi < 3; wi++)
                for (int64_t rows = 1; rows <= 9; rows++)
                    for (int64_t ntok = 1; ntok <= 13; ntok += (ntok < 8 ? 1 : 5))
                        check_gemm(types[i], (hflow_gemm_fn)fns[f], rows, widths[wi], ntok);
    }
}

/* The segment gemv over every split of a weight's 4 segments into ranges of
 * `step` rows (as matmul's decode work items are) fills exactly the rows the
 * dot kernel gives, and nothing past 4 * seg_rows. */
static void gemv_seg_equals_dot_kernel(void **state) {
    (void)state;
    const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        hflow_gemv_seg_fn seg = hflow_gemv_seg_get(types[ti]);
        if (!seg) {
            print_message("skipped: no segment gemv for %s on this CPU\n", hflow_type_name(types[ti]));
            continue;
        }
        const hflow_dot_kernel *k = hflow_dot_kernel_get(types[ti]);
        int64_t cols = hflow_type_traits_get(types[ti])->block_size == 256 ? 512 : 96, rows = 4 * 21 + 3, seg_rows = 21;
        size_t rs = hflow_row_size(types[ti], cols), xs = hflow_row_size(k->act_type, cols);
        char *w = malloc(rs * (size_t)rows), *xq = malloc(xs);
        float *f = malloc((size_t)cols * sizeof(float)), *got = malloc((size_t)rows * sizeof(float)), want;
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < cols; c++) f[c] = frand();
            assert_int_equal(hflow_quantize_row(types[ti], f, w + (size_t)r * rs, cols), 0);
        }
        for (int64_t c = 0; c < cols; c++) f[c] = 4.0f * frand();
        k->quantize_act(f, xq, cols);
        for (int64_t step = 1; step <= seg_rows; step += 5) {
            for (int64_t r = 0; r < rows; r++) got[r] = -12345.0f;
            for (int64_t r0 = 0; r0 < seg_rows; r0 += step)
                seg(cols, w, rs, seg_rows, r0, r0 + step < seg_rows ? r0 + step : seg_rows, xq, got);
            for (int64_t r = 0; r < rows; r++) {
                if (r >= 4 * seg_rows) {
                    assert_true(got[r] == -12345.0f);
                    continue;
                }
                k->dot(cols, w + (size_t)r * rs, xq, xs, 1, &want);
                if (memcmp(&got[r], &want, sizeof want) != 0)
                    fail_msg("%s step %lld row %lld: segment gemv %.9g vs dot kernel %.9g", hflow_type_name(types[ti]),
                             (long long)step, (long long)r, got[r], want);
            }
        }
        free(w), free(xq), free(f), free(got);
    }
}

static void types_without_gemv_fall_back(void **state) {
    (void)state;
    assert_null(hflow_gemv_get(HFLOW_TYPE_IQ1_S));
    assert_null(hflow_gemv_get(HFLOW_TYPE_F32));
    assert_null(hflow_gemv_seg_get(HFLOW_TYPE_F32));
    assert_null(hflow_gemm_get(HFLOW_TYPE_IQ1_S));
    assert_null(hflow_gemm_get(HFLOW_TYPE_F32));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemv_equals_dot_kernel),
        cmocka_unit_test(gemm_equals_dot_kernel),
        cmocka_unit_test(gemv_seg_equals_dot_kernel),
        cmocka_unit_test(types_without_gemv_fall_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
