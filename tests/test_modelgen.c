/* test_modelgen.c - gen-model writes readable, correctly shaped GGUF models. */
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "testutil.h"
#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "hybridflow/gguf.h"
#include "hybridflow/modelgen.h"

static hflow_gguf *gen(const hflow_gen_params *p, const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), file);
    hflow_error err;
    if (hflow_gen_model(p, path, &err)) fail_msg("gen-model: %s", err.message);
    hflow_gguf *g;
    if (hflow_gguf_open(path, &g, &err)) fail_msg("open: %s", err.message);
    return g;
}

static void expect_shape(const hflow_gguf *g, const char *name, int64_t ne0, int64_t ne1, uint32_t type) {
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, name);
    if (!t) fail_msg("missing tensor %s", name);
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1);
    assert_int_equal(t->type, type);
}

static void test_llama_shapes_and_metadata(void **state) {
    (void)state;
    hflow_gen_params p;
    hflow_gen_params_default(&p);
    p.n_layer = 3; p.n_embd = 64; p.n_ff = 96; p.n_head = 4; p.n_head_kv = 2; p.type = HFLOW_TYPE_Q8_0;
    hflow_gguf *g = gen(&p, "llama.gguf");
    int64_t v;
    assert_int_equal(hflow_gguf_get_int(g, "llama.block_count", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(hflow_gguf_get_int(g, "llama.rope.dimension_count", &v), 0);
    assert_int_equal(v, 16);
    expect_shape(g, "token_embd.weight", 64, 259, HFLOW_TYPE_Q8_0);
    expect_shape(g, "blk.2.attn_k.weight", 64, 32, HFLOW_TYPE_Q8_0);
    expect_shape(g, "blk.0.ffn_down.weight", 96, 64, HFLOW_TYPE_Q8_0);
    expect_shape(g, "blk.1.ffn_norm.weight", 64, 1, HFLOW_TYPE_F32);
    expect_shape(g, "output.weight", 64, 259, HFLOW_TYPE_Q8_0);
    assert_null(hflow_gguf_find_tensor(g, "blk.0.attn_q.bias"));
    /* weights are random with the documented scale: std ~ 1/sqrt(64) */
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, "blk.0.attn_q.weight");
    float row[64];
    double ss = 0;
    for (int r = 0; r < 64; r++) {
        assert_int_equal(hflow_dequantize_row(t->type, (const uint8_t *)t->data + hflow_row_size(t->type, 64) * r, row, 64), 0);
        for (int c = 0; c < 64; c++) ss += row[c] * row[c];
    }
    double std = sqrt(ss / (64 * 64));
    assert_true(std > 0.1 && std < 0.15);
    hflow_gguf_close(g);
}

static void test_qwen_variants_and_tied(void **state) {
    (void)state;
    hflow_gen_params p;
    hflow_gen_params_default(&p);
    p.arch = "qwen2";
    p.tied_output = 1;
    hflow_gguf *g = gen(&p, "qwen2.gguf");
    expect_shape(g, "blk.0.attn_q.bias", 64, 1, HFLOW_TYPE_F32);
    expect_shape(g, "blk.1.attn_v.bias", 32, 1, HFLOW_TYPE_F32);
    assert_null(hflow_gguf_find_tensor(g, "output.weight"));
    int64_t v;
    assert_int_equal(hflow_gguf_get_int(g, "qwen2.embedding_length", &v), 0);
    hflow_gguf_close(g);
    p.arch = "qwen3";
    p.head_dim = 32; /* wider than n_embd / n_head, as real Qwen3 models have */
    g = gen(&p, "qwen3.gguf");
    expect_shape(g, "blk.0.attn_q_norm.weight", 32, 1, HFLOW_TYPE_F32);
    expect_shape(g, "blk.0.attn_q.weight", 64, 128, HFLOW_TYPE_F32);
    expect_shape(g, "blk.0.attn_output.weight", 128, 64, HFLOW_TYPE_F32);
    hflow_gguf_close(g);
}

static void test_vocab_copied(void **state) {
    (void)state;
    char buf[4096];
    const char *src = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(src, "models/stories260K.gguf");
    hflow_gen_params p;
    hflow_gen_params_default(&p);
    p.vocab_from = src;
    hflow_gguf *g = gen(&p, "vocab.gguf");
    const hflow_gguf_value *tok = hflow_gguf_get(g, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_n, 512);
    expect_shape(g, "token_embd.weight", 64, 512, HFLOW_TYPE_F32);
    size_t len;
    const char *s;
    assert_int_equal(hflow_gguf_get_str(g, "tokenizer.ggml.model", &s, &len), 0);
    assert_memory_equal(s, "llama", 5);
    hflow_gguf_close(g);
}

static void test_bad_params(void **state) {
    (void)state;
    hflow_gen_params p;
    hflow_error err;
    hflow_gen_params_default(&p);
    p.n_head_kv = 3; /* 4 heads not a multiple of 3 */
    assert_int_equal(hflow_gen_model(&p, "/tmp/never.gguf", &err), HFLOW_EINVAL);
    hflow_gen_params_default(&p);
    p.arch = "gpt-j";
    assert_int_equal(hflow_gen_model(&p, "/tmp/never.gguf", &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "gpt-j"));
    hflow_gen_params_default(&p);
    p.type = HFLOW_TYPE_Q4_K; /* 64 columns do not fill 256-element blocks */
    assert_true(hflow_gen_model(&p, "/tmp/never.gguf", &err) < 0);
    assert_int_equal(hflow_gen_params_preset(&p, "nope", &err), HFLOW_EINVAL);
    hflow_gen_params_default(&p);
    p.vocab_from = "/nonexistent.gguf";
    assert_int_equal(hflow_gen_model(&p, "/tmp/never.gguf", &err), HFLOW_EIO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_shapes_and_metadata),
        cmocka_unit_test(test_qwen_variants_and_tied),
        cmocka_unit_test(test_vocab_copied),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
