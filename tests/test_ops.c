/* test_ops.c - the SIMD non-matmul ops equal their scalar references on
 * random inputs of odd sizes (vector tails), extreme values, strided K/V;
 * RoPE as table + apply equals the one-call form bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/cpu.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/quant.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { return tu_frand(&rng); }

static float *rand_vec(int n, float amp) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int i = 0; i < n; i++) v[i] = amp * frand();
    return v;
}

static void assert_close(const float *got, const float *want, int n, double rel, double abs_tol, const char *what) {
    for (int i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= abs_tol + rel * fabs((double)want[i])))
            fail_msg("%s: element %d of %d: %.9g vs reference %.9g", what, i, n, got[i], want[i]);
    }
}

static const int sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 576, 1537};

static void rmsnorm_matches_reference(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        float *x = rand_vec(n, 3.0f), *w = rand_vec(n, 1.0f), *a = rand_vec(n, 0), *b = rand_vec(n, 0);
        hflow_rmsnorm(a, x, w, n, 1e-5f);
        hflow_rmsnorm_ref(b, x, w, n, 1e-5f);
        assert_close(a, b, n, 1e-6, 0, "rmsnorm");
        hflow_rmsnorm(a, x, NULL, n, 1e-6f);
        hflow_rmsnorm_ref(b, x, NULL, n, 1e-6f);
        assert_close(a, b, n, 1e-6, 0, "rmsnorm without weight");
        memcpy(a, x, (size_t)n * sizeof(float)); /* in place */
        hflow_rmsnorm(a, a, w, n, 1e-5f);
        hflow_rmsnorm_ref(b, x, w, n, 1e-5f);
        assert_close(a, b, n, 1e-6, 0, "rmsnorm in place");
        free(x), free(w), free(a), free(b);
    }
}

/* Rows normalised together equal each row normalised alone, bit for bit
 * (groups of 4 and the leftovers, odd widths, with and without weights). */
static void rmsnorm_rows_equal_single_rows(void **state) {
    (void)state;
    const int widths[] = {1, 7, 8, 9, 64, 100, 576};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
        for (int rows = 1; rows <= 9; rows++) {
            int n = widths[wi];
            float *x = rand_vec(n * rows, 4.0f), *w = rand_vec(n, 1.5f);
            float *a = malloc((size_t)n * rows * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
            for (int with_w = 0; with_w < 2; with_w++) {
                hflow_rmsnorm_rows(a, x, with_w ? w : NULL, n, rows, 1e-5f);
                for (int r = 0; r < rows; r++) {
                    hflow_rmsnorm(b, x + (size_t)r * n, with_w ? w : NULL, n, 1e-5f);
                    if (memcmp(a + (size_t)r * n, b, (size_t)n * sizeof(float)) != 0)
                        fail_msg("rmsnorm rows: width %d, %d rows: row %d differs from the single-row result", n,
                                 rows, r);
                }
            }
            free(x), free(w), free(a), free(b);
        }
}

static void vec_add_equals_reference(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        float *x = rand_vec(n, 3.0f), *a = rand_vec(n, 5.0f), *b = malloc((size_t)n * sizeof(float));
        memcpy(b, a, (size_t)n * sizeof(float));
        hflow_vec_add(a, x, n);
        hflow_vec_add_ref(b, x, n);
        assert_memory_equal(a, b, (size_t)n * sizeof(float));
        free(x), free(a), free(b);
    }
}

static void softmax_matches_reference(void **state) {
    (void)state;
    const float amps[] = {0.1f, 5.0f, 60.0f};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t k = 0; k < 3; k++) {
            int n = sizes[s];
            float *a = rand_vec(n, amps[k]), *b = malloc((size_t)n * sizeof(float));
            memcpy(b, a, (size_t)n * sizeof(float));
            if (n > 4) a[n - 1] = b[n - 1] = -1e30f; /* a masked-out score */
            hflow_softmax(a, n);
            hflow_softmax_ref(b, n);
            assert_close(a, b, n, 2e-6, 1e-30, "softmax");
            double sum = 0;
            for (int i = 0; i < n; i++) sum += a[i];
            assert_true(fabs(sum - 1.0) < 1e-5);
            free(a), free(b);
        }
}

static void swiglu_matches_reference(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        float *g = rand_vec(n, 12.0f), *up = rand_vec(n, 2.0f), *ref = malloc((size_t)n * sizeof(float));
        if (n >= 8) g[0] = 100.0f, g[1] = -100.0f, g[2] = 0.0f, g[3] = -87.0f, g[4] = 90.0f;
        memcpy(ref, g, (size_t)n * sizeof(float));
        hflow_swiglu(g, up, n);
        hflow_swiglu_ref(ref, up, n);
        assert_close(g, ref, n, 3e-6, 1e-30, "swiglu");
        free(g), free(up), free(ref);
    }
}

/* The AVX-512 softmax and SwiGLU equal the AVX2 ones bit for bit (so
 * choosing them changes no result), over every size remainder mod 16 and
 * extreme values. */
static void avx512_ops_equal_avx2(void **state) {
    (void)state;
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx512()) {
        for (int n = 1; n <= 300; n += (n < 40 ? 1 : 37)) {
            float *a = rand_vec(n, 40.0f), *b = malloc((size_t)n * sizeof(float));
            float *g = rand_vec(n, 12.0f), *up = rand_vec(n, 2.0f), *h = malloc((size_t)n * sizeof(float));
            if (n >= 6) a[3] = -1e30f, g[0] = 100.0f, g[1] = -100.0f, g[2] = 0.0f, g[3] = -87.5f, g[4] = 90.0f, g[5] = -0.0f;
            memcpy(b, a, (size_t)n * sizeof(float));
            memcpy(h, g, (size_t)n * sizeof(float));
            hflow_softmax_avx512(a, n);
            hflow_softmax_avx2(b, n);
            hflow_swiglu_avx512(g, up, n);
            hflow_swiglu_avx2(h, up, n);
            for (int i = 0; i < n; i++) {
                if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
                    fail_msg("softmax n %d [%d]: %.9g vs AVX2 %.9g", n, i, a[i], b[i]);
                if (memcmp(&g[i], &h[i], sizeof(float)) != 0)
                    fail_msg("swiglu n %d [%d]: %.9g vs AVX2 %.9g", n, i, g[i], h[i]);
            }
            free(a), free(b), free(g), free(up), free(h);
        }
        return;
    }
#endif
    print_message("skipped: no AVX-512 on this CPU\n");
    skip();
}

static void attention_matches_reference(void **state) {
    (void)state;
    const int dims[] = {1, 5, 8, 13, 32, 40, 64, 72, 100, 128};
    const int n_kvs[] = {1, 2, 7, 33, 130};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t j = 0; j < sizeof n_kvs / sizeof n_kvs[0]; j++) {
            int hd = dims[d], n_kv = n_kvs[j];
            size_t stride = (size_t)hd * 3 + 1; /* rows of several heads, odd stride */
            float *q = rand_vec(hd, 1.0f), *k = rand_vec((int)stride * n_kv, 2.0f), *v = rand_vec((int)stride * n_kv, 1.0f);
            float *a = rand_vec(hd, 0), *b = rand_vec(hd, 0), *sa = rand_vec(n_kv, 0), *sb = rand_vec(n_kv, 0);
            float scale = 1.0f / sqrtf((float)hd);
            hflow_attend(a, q, k + hd, v + hd, stride, n_kv, hd, scale, sa);
            hflow_attend_ref(b, q, k + hd, v + hd, stride, n_kv, hd, scale, sb);
            assert_close(sa, sb, n_kv, 1e-5, 1e-7, "attention probabilities");
            assert_close(a, b, hd, 1e-4, 1e-5, "attention output");
            free(q), free(k), free(v), free(a), free(b), free(sa), free(sb);
        }
}

static uint16_t *rand_f16(size_t n, float amp) {
    float *f = rand_vec((int)n, amp);
    uint16_t *h = malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) h[i] = hflow_fp32_to_fp16(f[i]);
    free(f);
    return h;
}

/* The F16-cache attention must equal its scalar definition bit for bit (same
 * f32 operations in the same order), over head sizes and position counts with
 * every remainder mod 8 and an odd row stride. */
static void attention_f16_equals_reference(void **state) {
    (void)state;
    const int dims[] = {1, 5, 8, 13, 32, 40, 64, 72, 100, 128};
    const int n_kvs[] = {1, 2, 7, 8, 9, 33, 130};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t j = 0; j < sizeof n_kvs / sizeof n_kvs[0]; j++) {
            int hd = dims[d], n_kv = n_kvs[j];
            size_t stride = (size_t)hd * 3 + 1;
            float *q = rand_vec(hd, 3.0f);
            uint16_t *k = rand_f16(stride * (size_t)n_kv, 2.0f), *v = rand_f16(stride * (size_t)n_kv, 1.0f);
            float *a = rand_vec(hd, 0), *b = rand_vec(hd, 0), *sa = rand_vec(n_kv, 0), *sb = rand_vec(n_kv, 0);
            float scale = 1.0f / sqrtf((float)hd);
            hflow_attend_f16(a, q, k + hd, v + hd, stride, n_kv, hd, scale, sa);
            hflow_attend_f16_ref(b, q, k + hd, v + hd, stride, n_kv, hd, scale, sb);
            for (int i = 0; i < n_kv; i++) /* the probabilities, before the f16 rounding hides small differences */
                if (memcmp(&sa[i], &sb[i], sizeof(float)) != 0)
                    fail_msg("head_dim %d n_kv %d p[%d]: %.9g vs reference %.9g", hd, n_kv, i, sa[i], sb[i]);
            for (int i = 0; i < hd; i++)
                if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
                    fail_msg("head_dim %d n_kv %d out[%d]: %.9g vs reference %.9g", hd, n_kv, i, a[i], b[i]);
            free(q), free(k), free(v), free(a), free(b), free(sa), free(sb);
        }
}

static void rope_table_apply_equals_rope(void **state) {
    (void)state;
    const int styles[] = {HFLOW_ROPE_NORM, HFLOW_ROPE_NEOX};
    const int rots[] = {2, 16, 20, 34, 48, 64}; /* vector tails of both styles */
    for (int st = 0; st < 2; st++)
        for (size_t r = 0; r < sizeof rots / sizeof rots[0]; r++)
            for (int32_t pos = 0; pos < 3000; pos += 997) {
                int n_heads = 3, hd = 64, n_rot = rots[r];
                float *a = rand_vec(n_heads * hd, 1.0f), *b = malloc((size_t)(n_heads * hd) * sizeof(float));
                float cs[64];
                memcpy(b, a, (size_t)(n_heads * hd) * sizeof(float));
                hflow_rope(a, n_heads, hd, n_rot, pos, 10000.0f, 0.25f + 0.75f * (float)(pos % 2), styles[st]);
                hflow_rope_table(cs, n_rot, pos, 10000.0f, 0.25f + 0.75f * (float)(pos % 2));
                hflow_rope_apply(b, n_heads, hd, n_rot, cs, styles[st]);
                assert_memory_equal(a, b, (size_t)(n_heads * hd) * sizeof(float));
                free(a), free(b);
            }
}

int main(void) {
    print_message("ops implementation: %s\n", hflow_ops_impl_is_simd() ? "avx2" : "scalar (reference vs itself)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rmsnorm_matches_reference),   cmocka_unit_test(softmax_matches_reference),
        cmocka_unit_test(swiglu_matches_reference),    cmocka_unit_test(attention_matches_reference),
        cmocka_unit_test(attention_f16_equals_reference),
        cmocka_unit_test(rope_table_apply_equals_rope),
        cmocka_unit_test(avx512_ops_equal_avx2),
        cmocka_unit_test(rmsnorm_rows_equal_single_rows),
        cmocka_unit_test(vec_add_equals_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
