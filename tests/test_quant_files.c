/* test_quant_files.c - our decoders against real GGUF files quantized by
 * llama.cpp: ref-2L-256-{q8_0,q4_0,q4_k_m,q6_k}.gguf hold the same random
 * weights as ref-2L-256-f32.gguf, so every dequantized tensor must be close to
 * the F32 original (bound per type), and our Q4_0/Q8_0 quantizers (the same
 * deterministic rule as llama.cpp's reference) must reproduce the files'
 * bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/gguf.h"
#include "engine/quant.h"

typedef struct {
    uint32_t type;
    double max_rms_rel; /* rms(dequant - f32) / rms(f32) over a tensor */
} type_bound;

static const type_bound bounds[] = {
    {HFLOW_TYPE_F16, 1e-3}, {HFLOW_TYPE_Q8_0, 0.01}, {HFLOW_TYPE_Q6_K, 0.03}, {HFLOW_TYPE_Q5_0, 0.06},
    {HFLOW_TYPE_Q5_1, 0.06}, {HFLOW_TYPE_Q4_K, 0.10}, {HFLOW_TYPE_Q4_0, 0.12}, {HFLOW_TYPE_Q4_1, 0.10},
};

static double bound_for(uint32_t type) {
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        if (bounds[i].type == type) return bounds[i].max_rms_rel;
    return -1;
}

static hflow_gguf *open_shared(const char *rel) {
    char buf[1024];
    const char *path = tu_shared_path(buf, sizeof buf, rel);
    if (!path) return NULL;
    hflow_gguf *g = NULL;
    hflow_error err;
    if (hflow_gguf_open(path, &g, &err) != 0) fail_msg("%s: %s", rel, err.message);
    return g;
}

static float *dequant_tensor(const hflow_gguf_tensor *t, int64_t *n_out) {
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *v = malloc((size_t)n * sizeof(float));
    assert_non_null(v);
    assert_int_equal(hflow_dequantize_row(t->type, t->data, v, n), 0);
    *n_out = n;
    return v;
}

/* Checks every tensor of `rel` against the F32 file; returns how many
 * tensors had a type in `want`. */
static int check_file(const char *rel, uint32_t want) {
    hflow_gguf *ref = open_shared("testdata/ref-2L-256-f32.gguf");
    hflow_gguf *q = open_shared(rel);
    if (!ref || !q) {
        hflow_gguf_close(ref);
        hflow_gguf_close(q);
        return -1;
    }
    int seen = 0;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(q); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(q, i);
        const hflow_gguf_tensor *r = hflow_gguf_find_tensor(ref, t->name);
        assert_non_null(r);
        assert_int_equal(r->type, HFLOW_TYPE_F32);
        if (t->type == HFLOW_TYPE_F32) continue;
        double bound = bound_for(t->type);
        if (bound < 0) fail_msg("%s: %s has unexpected type %s", rel, t->name, hflow_type_name(t->type));
        int64_t n;
        float *v = dequant_tensor(t, &n);
        const float *x = r->data;
        double se = 0, sx = 0;
        for (int64_t k = 0; k < n; k++) {
            se += ((double)v[k] - x[k]) * ((double)v[k] - x[k]);
            sx += (double)x[k] * x[k];
        }
        double rel_err = sqrt(se / sx);
        if (!(rel_err < bound)) fail_msg("%s: %s (%s) rms rel error %g > %g", rel, t->name, hflow_type_name(t->type), rel_err, bound);
        if (t->type == want) seen++;
        free(v);
    }
    hflow_gguf_close(ref);
    hflow_gguf_close(q);
    return seen;
}

static void run_file(const char *rel, uint32_t want) {
    int seen = check_file(rel, want);
    if (seen < 0) {
        print_message("skipped: %s not found under ../shared\n", rel);
        skip();
    }
    assert_true(seen > 0);
}

static void test_q8_0_file(void **state) { (void)state; run_file("testdata/ref-2L-256-q8_0.gguf", HFLOW_TYPE_Q8_0); }
static void test_q4_0_file(void **state) { (void)state; run_file("testdata/ref-2L-256-q4_0.gguf", HFLOW_TYPE_Q4_0); }
static void test_q4_k_m_file(void **state) { (void)state; run_file("testdata/ref-2L-256-q4_k_m.gguf", HFLOW_TYPE_Q4_K); }
static void test_q6_k_file(void **state) { (void)state; run_file("testdata/ref-2L-256-q6_k.gguf", HFLOW_TYPE_Q6_K); }
static void test_f16_file(void **state) { (void)state; run_file("testdata/ref-2L-256-f16.gguf", HFLOW_TYPE_F16); }

/* Re-quantizing the F32 weights must give the file's blocks. */
static void check_requantize(const char *rel, uint32_t type) {
    hflow_gguf *ref = open_shared("testdata/ref-2L-256-f32.gguf");
    hflow_gguf *q = open_shared(rel);
    if (!ref || !q) {
        hflow_gguf_close(ref);
        hflow_gguf_close(q);
        print_message("skipped: %s not found under ../shared\n", rel);
        skip();
    }
    int64_t blocks = 0, same = 0;
    size_t bsz = (size_t)hflow_type_traits_get(type)->type_size;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(q); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(q, i);
        if (t->type != type) continue;
        const hflow_gguf_tensor *r = hflow_gguf_find_tensor(ref, t->name);
        int64_t n = t->ne[0] * t->ne[1];
        char *mine = malloc(t->size);
        assert_int_equal(hflow_quantize_row(type, r->data, mine, n), 0);
        for (size_t b = 0; b < t->size / bsz; b++, blocks++)
            same += !memcmp(mine + b * bsz, (const char *)t->data + b * bsz, bsz);
        free(mine);
    }
    hflow_gguf_close(ref);
    hflow_gguf_close(q);
    print_message("%s: %lld of %lld blocks identical\n", hflow_type_name(type), (long long)same, (long long)blocks);
    assert_true(blocks > 0);
    assert_true(same == blocks);
}

static void test_q4_0_requantize_bit_exact(void **state) { (void)state; check_requantize("testdata/ref-2L-256-q4_0.gguf", HFLOW_TYPE_Q4_0); }
static void test_q8_0_requantize_bit_exact(void **state) { (void)state; check_requantize("testdata/ref-2L-256-q8_0.gguf", HFLOW_TYPE_Q8_0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_file),
        cmocka_unit_test(test_q8_0_file),
        cmocka_unit_test(test_q4_0_file),
        cmocka_unit_test(test_q4_k_m_file),
        cmocka_unit_test(test_q6_k_file),
        cmocka_unit_test(test_q4_0_requantize_bit_exact),
        cmocka_unit_test(test_q8_0_requantize_bit_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
