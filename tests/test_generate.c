/* test_generate.c - the generation loop on the real stories260K model:
 * greedy text equals llama.cpp's, stop strings across tokens, limits, prefix
 * reuse, cancellation, seeded sampling. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/strbuf.h"
#include "hybridflow/engine.h"

static hflow_model *model;

static int setup(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    if (!p) return 0;
    hflow_error err;
    hflow_model_params mp = {1};
    if (hflow_model_load(p, &mp, &model, &err)) fail_msg("%s", err.message);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_model_free(model);
    return 0;
}

typedef struct {
    hflow_strbuf text;
    int calls, stop_after;
} collect;

static int on_tok(void *u, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)tok;
    (void)lp;
    collect *c = u;
    hflow_strbuf_append(&c->text, text, len);
    return c->stop_after > 0 && ++c->calls >= c->stop_after;
}

/* Generates from `prompt` in a given session (or a fresh one); returns the text (caller frees). */
static char *gen(hflow_session *s, const char *prompt, const hflow_generate_params *gp, float temp, uint64_t seed,
                 hflow_generate_stats *st, int stop_after) {
    hflow_error err;
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(model), prompt, strlen(prompt), 1, 0, &ids, &n, &err), 0);
    hflow_session *own = NULL;
    if (!s) {
        assert_int_equal(hflow_session_create(model, NULL, &own, &err), 0);
        s = own;
    }
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = temp;
    sp.seed = seed;
    hflow_sampler *smp = hflow_sampler_create(&sp, hflow_model_get_info(model)->n_vocab);
    collect c = {{0}, 0, stop_after};
    hflow_strbuf_init(&c.text);
    if (hflow_generate(s, smp, ids, n, gp, on_tok, &c, st, &err)) fail_msg("%s", err.message);
    hflow_sampler_free(smp);
    hflow_session_free(own);
    free(ids);
    return hflow_strbuf_take(&c.text);
}

static const char *REF = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a "
                         "big, red ball. She wanted to play with it,";

static void test_greedy_matches_reference(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    hflow_generate_params gp = {.max_tokens = 48};
    hflow_generate_stats st;
    char *t = gen(NULL, "Once upon a time", &gp, 0, 0, &st, 0);
    assert_string_equal(t, REF);
    assert_int_equal(st.n_generated, 48);
    assert_string_equal(st.finish_reason, "length");
    assert_int_equal(st.n_prompt, 5);
    free(t);
}

static void test_stop_string_across_tokens(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    const char *stops[] = {"red ba", "never appears"};
    hflow_generate_params gp = {.max_tokens = 48, .stop = stops, .n_stop = 2};
    hflow_generate_stats st;
    char *t = gen(NULL, "Once upon a time", &gp, 0, 0, &st, 0);
    const char *cut = strstr(REF, "red ba");
    assert_int_equal(strlen(t), (size_t)(cut - REF));
    assert_memory_equal(t, REF, strlen(t));
    assert_string_equal(st.finish_reason, "stop");
    free(t);
}

static void test_prefix_reuse_gives_same_output(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    hflow_error err;
    hflow_session *s;
    assert_int_equal(hflow_session_create(model, NULL, &s, &err), 0);
    hflow_generate_params gp = {.max_tokens = 10};
    hflow_generate_stats st;
    char *a = gen(s, "Once upon a time, there was a dog", &gp, 0, 0, &st, 0);
    assert_int_equal(st.n_prompt_reused, 0);
    char *b = gen(s, "Once upon a time, there was a dog named Max", &gp, 0, 0, &st, 0);
    assert_true(st.n_prompt_reused >= 8); /* the shared prefix came from the cache */
    char *fresh = gen(NULL, "Once upon a time, there was a dog named Max", &gp, 0, 0, &st, 0);
    assert_string_equal(b, fresh);
    char *again = gen(s, "Once upon a time, there was a dog named Max", &gp, 0, 0, &st, 0);
    assert_string_equal(again, fresh); /* fully cached prompt: last token re-evaluated */
    free(a);
    free(b);
    free(fresh);
    free(again);
    hflow_session_free(s);
}

static void test_cancel_and_limits(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    hflow_generate_params gp = {.max_tokens = 40};
    hflow_generate_stats st;
    char *t = gen(NULL, "Once upon a time", &gp, 0, 0, &st, 3);
    assert_string_equal(st.finish_reason, "cancelled");
    assert_int_equal(st.n_generated, 3);
    free(t);
    volatile int cancel = 1;
    hflow_generate_params gp2 = {.max_tokens = 40, .cancel = &cancel};
    t = gen(NULL, "Once upon a time", &gp2, 0, 0, &st, 0);
    assert_int_equal(st.n_generated, 0);
    assert_string_equal(t, "");
    free(t);
    /* prompt longer than the context is refused cleanly */
    hflow_error err;
    hflow_session *s;
    hflow_session_params sp = {.n_ctx = 8};
    assert_int_equal(hflow_session_create(model, &sp, &s, &err), 0);
    int32_t ids[9] = {1, 403, 407, 261, 378, 432, 383, 322, 353};
    hflow_sampler *smp = hflow_sampler_create(NULL, hflow_model_get_info(model)->n_vocab);
    assert_int_equal(hflow_generate(s, smp, ids, 9, &gp, NULL, NULL, &st, &err), HFLOW_ERANGE);
    /* a small context ends generation with "length" instead of failing */
    assert_int_equal(hflow_generate(s, smp, ids, 5, &gp, NULL, NULL, &st, &err), 0);
    assert_string_equal(st.finish_reason, "length");
    assert_true(hflow_session_n_past(s) <= 8);
    hflow_sampler_free(smp);
    hflow_session_free(s);
}

static void test_seeded_sampling_reproducible(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    hflow_generate_params gp = {.max_tokens = 30};
    hflow_generate_stats st;
    char *a = gen(NULL, "Once upon a time", &gp, 1.0f, 42, &st, 0);
    char *b = gen(NULL, "Once upon a time", &gp, 1.0f, 42, &st, 0);
    char *c = gen(NULL, "Once upon a time", &gp, 1.0f, 43, &st, 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_reference),
        cmocka_unit_test(test_stop_string_across_tokens),
        cmocka_unit_test(test_prefix_reuse_gives_same_output),
        cmocka_unit_test(test_cancel_and_limits),
        cmocka_unit_test(test_seeded_sampling_reproducible),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
