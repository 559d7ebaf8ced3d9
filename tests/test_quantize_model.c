/* test_quantize_model.c - `hybridflow quantize` against llama-quantize: from
 * ref-2L-256-f32.gguf we must choose the same type per tensor as llama.cpp's
 * files, reproduce its Q4_0/Q8_0 tensors byte for byte, stay within each
 * type's error bound elsewhere, and keep the metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/gguf.h"
#include "engine/quant.h"
#include "engine/quantize_model.h"

static hflow_gguf *open_or_fail(const char *path) {
    hflow_gguf *g = NULL;
    hflow_error err;
    if (hflow_gguf_open(path, &g, &err)) fail_msg("%s: %s", path, err.message);
    return g;
}

static double rms_rel(const hflow_gguf_tensor *t, const hflow_gguf_tensor *ref) {
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *v = malloc((size_t)n * sizeof(float));
    assert_int_equal(hflow_dequantize_row(t->type, t->data, v, n), 0);
    const float *x = ref->data;
    double se = 0, sx = 0;
    for (int64_t i = 0; i < n; i++) {
        se += ((double)v[i] - x[i]) * ((double)v[i] - x[i]);
        sx += (double)x[i] * x[i];
    }
    free(v);
    return sqrt(se / sx);
}

static void compare_with_llama(const char *target, const char *llama_rel, int bytes_equal, double bound) {
    char f32[1024], ref[1024], out[1024];
    const char *p32 = tu_shared_path(f32, sizeof f32, "testdata/ref-2L-256-f32.gguf");
    const char *pref = tu_shared_path(ref, sizeof ref, llama_rel);
    TU_REQUIRE_SHARED(p32, "testdata/ref-2L-256-f32.gguf");
    TU_REQUIRE_SHARED(pref, llama_rel);
    snprintf(out, sizeof out, "%s/%s.gguf", tu_tmpdir(), target);
    hflow_error err;
    hflow_quantize_stats st;
    if (hflow_quantize_model(p32, out, target, 2, &st, &err)) fail_msg("quantize %s: %s", target, err.message);
    hflow_gguf *mine = open_or_fail(out), *theirs = open_or_fail(pref), *orig = open_or_fail(p32);
    assert_int_equal(hflow_gguf_n_tensors(mine), hflow_gguf_n_tensors(theirs));
    assert_int_equal(st.n_tensors, hflow_gguf_n_tensors(theirs));
    for (int64_t i = 0; i < hflow_gguf_n_tensors(theirs); i++) {
        const hflow_gguf_tensor *b = hflow_gguf_tensor_at(theirs, i);
        const hflow_gguf_tensor *a = hflow_gguf_find_tensor(mine, b->name);
        assert_non_null(a);
        if (a->type != b->type)
            fail_msg("%s: %s is %s, llama.cpp chose %s", target, b->name, hflow_type_name(a->type), hflow_type_name(b->type));
        assert_true(a->size == b->size);
        if (a->type == HFLOW_TYPE_F32) {
            assert_memory_equal(a->data, b->data, a->size);
        } else if (bytes_equal && a->type != HFLOW_TYPE_Q6_K) {
            assert_memory_equal(a->data, b->data, a->size);
        } else {
            double e = rms_rel(a, hflow_gguf_find_tensor(orig, a->name));
            if (!(e < bound)) fail_msg("%s: %s rms rel error %g", target, a->name, e);
        }
    }
    /* metadata carried over, file type as llama.cpp writes it */
    int64_t ft_mine = -1, ft_theirs = -2;
    assert_int_equal(hflow_gguf_get_int(mine, "general.file_type", &ft_mine), 0);
    assert_int_equal(hflow_gguf_get_int(theirs, "general.file_type", &ft_theirs), 0);
    assert_int_equal(ft_mine, ft_theirs);
    const char *arch;
    size_t len;
    assert_int_equal(hflow_gguf_get_str(mine, "general.architecture", &arch, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(arch, "llama", 5);
    assert_non_null(hflow_gguf_get(mine, "tokenizer.ggml.tokens"));
    hflow_gguf_close(mine);
    hflow_gguf_close(theirs);
    hflow_gguf_close(orig);
}

static void test_q4_k_m_like_llama(void **state) { (void)state; compare_with_llama("q4_k_m", "testdata/ref-2L-256-q4_k_m.gguf", 0, 0.10); }
static void test_q4_0_like_llama(void **state) { (void)state; compare_with_llama("q4_0", "testdata/ref-2L-256-q4_0.gguf", 1, 0.03); }
static void test_q8_0_like_llama(void **state) { (void)state; compare_with_llama("q8_0", "testdata/ref-2L-256-q8_0.gguf", 1, 0.01); }
static void test_q6_k_like_llama(void **state) { (void)state; compare_with_llama("q6_k", "testdata/ref-2L-256-q6_k.gguf", 0, 0.03); }

static void test_type_choice_rules(void **state) {
    (void)state;
    /* SmolLM2-like rows of 576 are not whole K blocks: llama.cpp's fallbacks */
    assert_int_equal(hflow_quantize_tensor_type("q4_k_m", "blk.3.attn_q.weight", 2, 576, 3, 30, 1), HFLOW_TYPE_Q5_0);
    assert_int_equal(hflow_quantize_tensor_type("q4_k_m", "blk.0.attn_v.weight", 2, 576, 0, 30, 1), HFLOW_TYPE_Q8_0);
    assert_int_equal(hflow_quantize_tensor_type("q4_k_m", "blk.0.ffn_down.weight", 2, 1536, 0, 30, 1), HFLOW_TYPE_Q6_K);
    assert_int_equal(hflow_quantize_tensor_type("q4_k_m", "blk.4.ffn_down.weight", 2, 1536, 4, 30, 1), HFLOW_TYPE_Q4_K);
    assert_int_equal(hflow_quantize_tensor_type("q5_k_m", "blk.4.ffn_down.weight", 2, 1536, 4, 30, 1), HFLOW_TYPE_Q5_K);
    assert_int_equal(hflow_quantize_tensor_type("q5_k", "blk.4.ffn_up.weight", 2, 576, 4, 30, 1), HFLOW_TYPE_Q5_1);
    /* tied embeddings act as the output head */
    assert_int_equal(hflow_quantize_tensor_type("q4_k_m", "token_embd.weight", 2, 1536, -1, 30, 1), HFLOW_TYPE_Q6_K);
    assert_int_equal(hflow_quantize_tensor_type("q4_k_m", "token_embd.weight", 2, 1536, -1, 30, 0), HFLOW_TYPE_Q4_K);
    assert_int_equal(hflow_quantize_tensor_type("q8_0", "output.weight", 2, 576, -1, 30, 0), HFLOW_TYPE_Q8_0);
    /* norms stay F32; odd rows fall back to F16 */
    assert_int_equal(hflow_quantize_tensor_type("q4_0", "blk.0.attn_norm.weight", 1, 576, 0, 30, 1), HFLOW_TYPE_F32);
    assert_int_equal(hflow_quantize_tensor_type("q4_0", "blk.0.attn_q.weight", 2, 40, 0, 30, 1), HFLOW_TYPE_F16);
    assert_int_equal(hflow_quantize_tensor_type("q3_xx", "blk.0.attn_q.weight", 2, 256, 0, 30, 1), -1);
}

static void test_errors_and_cli(void **state) {
    (void)state;
    char f32[1024], out[1024], cmd[4096];
    hflow_error err;
    assert_int_equal(hflow_quantize_model("/nonexistent.gguf", "/tmp/x.gguf", "q8_0", 1, NULL, &err), HFLOW_EIO);
    const char *p32 = tu_shared_path(f32, sizeof f32, "testdata/ref-2L-256-f32.gguf");
    TU_REQUIRE_SHARED(p32, "testdata/ref-2L-256-f32.gguf");
    snprintf(out, sizeof out, "%s/cli.gguf", tu_tmpdir());
    assert_int_equal(hflow_quantize_model(p32, out, "q9_9", 1, NULL, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "q9_9"));
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s' q5_k --threads 2 >/dev/null", tu_cli_path(), p32, out);
    assert_int_equal(system(cmd), 0);
    hflow_gguf *g = open_or_fail(out);
    assert_int_equal(hflow_gguf_find_tensor(g, "blk.0.attn_q.weight")->type, HFLOW_TYPE_Q5_K);
    assert_int_equal(hflow_gguf_find_tensor(g, "output.weight")->type, HFLOW_TYPE_Q6_K);
    hflow_gguf_close(g);
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s' nonsense 2>/dev/null", tu_cli_path(), p32, out);
    assert_int_not_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_choice_rules),
        cmocka_unit_test(test_q4_k_m_like_llama),
        cmocka_unit_test(test_q4_0_like_llama),
        cmocka_unit_test(test_q8_0_like_llama),
        cmocka_unit_test(test_q6_k_like_llama),
        cmocka_unit_test(test_errors_and_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
