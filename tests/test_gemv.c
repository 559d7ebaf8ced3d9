/* test_gemv.c - the 4-row decode kernels equal their type's dot kernel row
 * by row bit for bit (row counts with every remainder mod 4, several widths),
 * and agree with the scalar reference kernel within float rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/gemv.h"
#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void check_type(uint32_t type) {
    hflow_gemv_fn gemv = hflow_gemv_get(type);
    if (!gemv) {
        print_message("skipped: no gemv kernel for %s on this CPU\n", hflow_type_name(type));
        return;
    }
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type), *ref = hflow_dot_kernel_ref(type);
    const int64_t widths[] = {32, 96, 576};
    for (size_t wi = 0; wi < 3; wi++)
        for (int64_t rows = 1; rows <= 13; rows += (rows < 9 ? 1 : 4)) {
            int64_t cols = widths[wi];
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
                assert_true(fabsf(got[r] - want_ref) <= 1e-4f * (1.0f + fabsf(want_ref)));
            }
            free(w), free(xq), free(f), free(got);
        }
}

static void gemv_equals_dot_kernel(void **state) {
    (void)state;
    check_type(HFLOW_TYPE_Q8_0);
}

static void types_without_gemv_fall_back(void **state) {
    (void)state;
    assert_null(hflow_gemv_get(HFLOW_TYPE_IQ1_S));
    assert_null(hflow_gemv_get(HFLOW_TYPE_F32));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemv_equals_dot_kernel),
        cmocka_unit_test(types_without_gemv_fall_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
