/* test_session.c - session semantics on real model files: batched decode
 * equals token-by-token decode, truncate-then-refeed equals a fresh session,
 * sessions share a model (also across threads), and rejected decodes leave
 * the session unchanged. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/engine.h"

#define MODEL "testdata/ref-2L-256-f32.gguf"
#define N_TOK 40 /* longer than one forward chunk (32) */

static hflow_model *g_model;
static int32_t g_vocab;
static int32_t g_tokens[N_TOK];

static int setup(void **state) {
    (void)state;
    char path[4096];
    if (!tu_shared_path(path, sizeof path, MODEL)) return 0;
    hflow_error err;
    hflow_model_params mp = {.n_threads = 2};
    if (hflow_model_load(path, &mp, &g_model, &err)) return -1;
    g_vocab = hflow_model_get_info(g_model)->n_vocab;
    g_tokens[0] = 1;
    for (int i = 1; i < N_TOK; i++) g_tokens[i] = (int32_t)((i * 7919) % (g_vocab - 3)) + 3;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_model_free(g_model);
    return 0;
}

static float max_diff(const float *a, const float *b, int n) {
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > m) m = fabsf(a[i] - b[i]);
    return m;
}

static hflow_session *new_session(int32_t n_ctx) {
    hflow_session *s;
    hflow_session_params sp = {.n_ctx = n_ctx};
    assert_int_equal(hflow_session_create(g_model, &sp, &s, NULL), 0);
    return s;
}

static void test_batch_equals_single(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    hflow_session *a = new_session(64), *b = new_session(64);
    assert_int_equal(hflow_session_decode(a, g_tokens, N_TOK, HFLOW_LOGITS_ALL, NULL), 0);
    for (int i = 0; i < N_TOK; i++) {
        assert_int_equal(hflow_session_decode(b, &g_tokens[i], 1, HFLOW_LOGITS_LAST, NULL), 0);
        assert_true(max_diff(hflow_session_logits(a, i), hflow_session_logits(b, 0), g_vocab) <= 1e-4f);
    }
    assert_null(hflow_session_logits(a, N_TOK));
    assert_null(hflow_session_logits(b, 1));
    assert_int_equal(hflow_session_n_past(a), N_TOK);
    assert_memory_equal(hflow_session_tokens(a), g_tokens, sizeof g_tokens);
    hflow_session_free(a);
    hflow_session_free(b);
}

static void test_truncate_then_refeed(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    hflow_session *a = new_session(64), *fresh = new_session(64);
    int32_t other[N_TOK];
    for (int i = 0; i < N_TOK; i++) other[i] = (g_tokens[i] * 31 + 5) % g_vocab;
    assert_int_equal(hflow_session_decode(a, other, N_TOK, HFLOW_LOGITS_NONE, NULL), 0);
    assert_int_equal(hflow_session_truncate(a, 0, NULL), 0);
    assert_int_equal(hflow_session_decode(a, g_tokens, 10, HFLOW_LOGITS_LAST, NULL), 0);
    /* a speculative-style rollback: feed 8 wrong tokens, drop them, continue */
    assert_int_equal(hflow_session_decode(a, other, 8, HFLOW_LOGITS_ALL, NULL), 0);
    assert_int_equal(hflow_session_truncate(a, 10, NULL), 0);
    assert_null(hflow_session_logits(a, 0));
    assert_int_equal(hflow_session_common_prefix(a, g_tokens, N_TOK), 10);
    assert_int_equal(hflow_session_decode(a, g_tokens + 10, N_TOK - 10, HFLOW_LOGITS_ALL, NULL), 0);
    assert_int_equal(hflow_session_decode(fresh, g_tokens, N_TOK, HFLOW_LOGITS_ALL, NULL), 0);
    for (int i = 10; i < N_TOK; i++)
        assert_true(max_diff(hflow_session_logits(a, i - 10), hflow_session_logits(fresh, i), g_vocab) <= 1e-5f);
    assert_int_equal(hflow_session_truncate(a, N_TOK + 1, NULL), HFLOW_ERANGE);
    hflow_session_free(a);
    hflow_session_free(fresh);
}

static void test_rejects_leave_session_unchanged(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    hflow_session *s = new_session(16);
    assert_int_equal(hflow_session_decode(s, g_tokens, 12, HFLOW_LOGITS_LAST, NULL), 0);
    float before[512];
    assert_true(g_vocab <= 512);
    memcpy(before, hflow_session_logits(s, 0), (size_t)g_vocab * sizeof(float));
    hflow_error err;
    int32_t bad[2] = {5, g_vocab};
    assert_int_equal(hflow_session_decode(s, bad, 2, HFLOW_LOGITS_LAST, &err), HFLOW_ERANGE);
    int32_t neg = -1;
    assert_int_equal(hflow_session_decode(s, &neg, 1, HFLOW_LOGITS_LAST, &err), HFLOW_ERANGE);
    assert_int_equal(hflow_session_decode(s, g_tokens, 5, HFLOW_LOGITS_LAST, &err), HFLOW_ERANGE); /* 12+5 > 16 */
    assert_int_equal(hflow_session_n_past(s), 12);
    assert_memory_equal(hflow_session_tokens(s), g_tokens, 12 * sizeof(int32_t));
    assert_memory_equal(hflow_session_logits(s, 0), before, (size_t)g_vocab * sizeof(float));
    assert_int_equal(hflow_session_decode(s, g_tokens + 12, 4, HFLOW_LOGITS_LAST, &err), 0); /* exactly fills it */
    assert_int_equal(hflow_session_n_past(s), 16);
    hflow_session_free(s);
}

/* Two threads decode the same sequence on their own sessions of one model. */
static void *decode_thread(void *arg) {
    float *out = arg;
    hflow_session *s;
    hflow_session_params sp = {.n_ctx = 64};
    if (hflow_session_create(g_model, &sp, &s, NULL)) return NULL;
    for (int i = 0; i < N_TOK; i++)
        if (hflow_session_decode(s, &g_tokens[i], 1, HFLOW_LOGITS_LAST, NULL)) break;
    memcpy(out, hflow_session_logits(s, 0), (size_t)g_vocab * sizeof(float));
    hflow_session_free(s);
    return out;
}

static void test_sessions_share_model_across_threads(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    float *r1 = calloc((size_t)g_vocab, sizeof(float)), *r2 = calloc((size_t)g_vocab, sizeof(float));
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, decode_thread, r1), 0);
    assert_int_equal(pthread_create(&t2, NULL, decode_thread, r2), 0);
    void *o1, *o2;
    pthread_join(t1, &o1);
    pthread_join(t2, &o2);
    assert_non_null(o1);
    assert_non_null(o2);
    hflow_session *s = new_session(64);
    assert_int_equal(hflow_session_decode(s, g_tokens, N_TOK, HFLOW_LOGITS_LAST, NULL), 0);
    assert_true(max_diff(r1, hflow_session_logits(s, 0), g_vocab) <= 1e-4f);
    assert_true(max_diff(r2, hflow_session_logits(s, 0), g_vocab) <= 1e-4f);
    hflow_session_free(s);
    free(r1);
    free(r2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_truncate_then_refeed),
        cmocka_unit_test(test_rejects_leave_session_unchanged),
        cmocka_unit_test(test_sessions_share_model_across_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
