/* test_embed.c - engine embeddings (hybridflow/embed.h) on real model files:
 * the hidden states are those the output head turns into logits, the
 * embedding equals a manual pooling of per-token hidden states, it does not
 * depend on how the tokens were batched, and it is deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/ggml_type.h"
#include "engine/model.h"
#include "hybridflow/embed.h"
#include "hybridflow/engine.h"

#define MODEL "testdata/ref-2L-256-f32.gguf"
#define STORIES "models/stories260K.gguf"
#define N_TOK 40 /* longer than one forward chunk (32) */

static hflow_model *g_model;
static int32_t g_tokens[N_TOK];
static int g_dim;

static int setup(void **state) {
    (void)state;
    char path[4096];
    if (!tu_shared_path(path, sizeof path, MODEL)) return 0;
    hflow_model_params mp = {.n_threads = 2};
    if (hflow_model_load(path, &mp, &g_model, NULL)) return -1;
    int32_t vocab = hflow_model_get_info(g_model)->n_vocab;
    g_dim = hflow_model_get_info(g_model)->n_embd;
    g_tokens[0] = 1;
    for (int i = 1; i < N_TOK; i++) g_tokens[i] = (int32_t)((i * 7919) % (vocab - 3)) + 3;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_model_free(g_model);
    return 0;
}

static hflow_session *new_session(int32_t n_ctx) {
    hflow_session *s;
    hflow_session_params sp = {.n_ctx = n_ctx};
    assert_int_equal(hflow_session_create(g_model, &sp, &s, NULL), 0);
    return s;
}

static double max_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > m) m = fabs((double)a[i] - b[i]);
    return m;
}

/* The output head applied to decode_hidden's rows gives decode's logits:
 * so they are the final hidden states after the output norm. */
static void test_hidden_feeds_the_head(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    const hflow_weight *w = &g_model->output;
    assert_int_equal(w->type, HFLOW_TYPE_F32);
    hflow_session *a = new_session(64), *b = new_session(64);
    float *hidden = malloc((size_t)N_TOK * g_dim * sizeof *hidden);
    assert_int_equal(hflow_session_decode_hidden(a, g_tokens, N_TOK, hidden, NULL), 0);
    assert_int_equal(hflow_session_n_past(a), N_TOK);
    assert_null(hflow_session_logits(a, 0)); /* no logits were computed */
    assert_int_equal(hflow_session_decode(b, g_tokens, N_TOK, HFLOW_LOGITS_ALL, NULL), 0);
    for (int t = 0; t < N_TOK; t += 13) {
        const float *logits = hflow_session_logits(b, t);
        for (int64_t v = 0; v < w->rows; v++) {
            const float *row = (const float *)w->data + v * w->cols;
            double acc = 0;
            for (int j = 0; j < g_dim; j++) acc += (double)row[j] * hidden[(size_t)t * g_dim + j];
            assert_true(fabs(acc - logits[v]) < 1e-3);
        }
    }
    free(hidden);
    hflow_session_free(a);
    hflow_session_free(b);
}

/* Mean and last-token pooling, normalised or not, equal a manual pooling. */
static void test_embedding_is_pooled_hidden(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    hflow_session *s = new_session(64);
    float *hidden = malloc((size_t)N_TOK * g_dim * sizeof *hidden);
    assert_int_equal(hflow_session_decode_hidden(s, g_tokens, N_TOK, hidden, NULL), 0);
    double *mean = calloc((size_t)g_dim, sizeof *mean);
    double norm = 0, lnorm = 0;
    for (int j = 0; j < g_dim; j++) {
        for (int t = 0; t < N_TOK; t++) mean[j] += hidden[(size_t)t * g_dim + j];
        mean[j] /= N_TOK;
        norm += mean[j] * mean[j];
        double l = hidden[(size_t)(N_TOK - 1) * g_dim + j];
        lnorm += l * l;
    }
    norm = sqrt(norm);
    lnorm = sqrt(lnorm);
    float *e = malloc((size_t)g_dim * sizeof *e), *raw = malloc((size_t)g_dim * sizeof *raw),
          *last = malloc((size_t)g_dim * sizeof *last);
    int32_t used = 0;
    /* The session holds tokens already: embedding starts afresh anyway. */
    assert_int_equal(hflow_embed_tokens(s, g_tokens, N_TOK, NULL, e, &used, NULL), 0);
    assert_int_equal(used, N_TOK);
    hflow_embed_params raw_p = {.no_normalize = 1}, last_p = {.pooling = HFLOW_POOL_LAST};
    assert_int_equal(hflow_embed_tokens(s, g_tokens, N_TOK, &raw_p, raw, NULL, NULL), 0);
    assert_int_equal(hflow_embed_tokens(s, g_tokens, N_TOK, &last_p, last, NULL, NULL), 0);
    double n2 = 0;
    for (int j = 0; j < g_dim; j++) {
        assert_true(fabs(raw[j] - mean[j]) < 1e-6);
        assert_true(fabs(e[j] - mean[j] / norm) < 1e-6);
        assert_true(fabs(last[j] - hidden[(size_t)(N_TOK - 1) * g_dim + j] / lnorm) < 1e-6);
        n2 += (double)e[j] * e[j];
    }
    assert_true(fabs(n2 - 1.0) < 1e-5);
    free(hidden), free(mean), free(e), free(raw), free(last);
    hflow_session_free(s);
}

/* One forward over all tokens, token by token, or in odd-sized pieces:
 * the same embedding (to rounding), and exactly the same when repeated. */
static void test_batch_invariant_and_deterministic(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    hflow_session *s = new_session(64);
    float *h1 = malloc((size_t)N_TOK * g_dim * sizeof *h1), *h2 = malloc((size_t)N_TOK * g_dim * sizeof *h2);
    assert_int_equal(hflow_session_decode_hidden(s, g_tokens, N_TOK, h1, NULL), 0);
    assert_int_equal(hflow_session_truncate(s, 0, NULL), 0);
    for (int t = 0; t < N_TOK;) {
        int n = t % 2 ? 1 : 7;
        if (n > N_TOK - t) n = N_TOK - t;
        assert_int_equal(hflow_session_decode_hidden(s, g_tokens + t, n, h2 + (size_t)t * g_dim, NULL), 0);
        t += n;
    }
    assert_true(max_diff(h1, h2, N_TOK * g_dim) < 1e-4);
    float *a = malloc((size_t)g_dim * sizeof *a), *b = malloc((size_t)g_dim * sizeof *b);
    assert_int_equal(hflow_embed_tokens(s, g_tokens, N_TOK, NULL, a, NULL, NULL), 0);
    hflow_session *fresh = new_session(128);
    assert_int_equal(hflow_embed_tokens(fresh, g_tokens, N_TOK, NULL, b, NULL, NULL), 0);
    assert_memory_equal(a, b, (size_t)g_dim * sizeof *a);
    free(h1), free(h2), free(a), free(b);
    hflow_session_free(s);
    hflow_session_free(fresh);
}

static void test_limits(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(g_model ? "" : NULL, MODEL);
    hflow_session *s = new_session(16);
    float *e = malloc((size_t)g_dim * sizeof *e), *f = malloc((size_t)g_dim * sizeof *f);
    hflow_error err;
    assert_int_equal(hflow_embed_tokens(s, g_tokens, N_TOK, NULL, e, NULL, &err), HFLOW_ERANGE);
    hflow_embed_params tp = {.truncate = 1};
    int32_t used = 0;
    assert_int_equal(hflow_embed_tokens(s, g_tokens, N_TOK, &tp, e, &used, NULL), 0);
    assert_int_equal(used, 16);
    assert_int_equal(hflow_embed_tokens(s, g_tokens, 16, NULL, f, NULL, NULL), 0);
    assert_memory_equal(e, f, (size_t)g_dim * sizeof *e);
    assert_int_equal(hflow_embed_tokens(s, g_tokens, 0, NULL, e, NULL, &err), HFLOW_EINVAL);
    int32_t bad = 1 << 20;
    assert_int_equal(hflow_embed_tokens(s, &bad, 1, NULL, e, NULL, &err), HFLOW_ERANGE);
    hflow_embed_params pp = {.pooling = 7};
    assert_int_equal(hflow_embed_tokens(s, g_tokens, 4, &pp, e, NULL, &err), HFLOW_EINVAL);
    free(e), free(f);
    hflow_session_free(s);
}

/* Text in: the tokens hflow_tokenize gives (BOS first), then the same path. */
static void test_text_embedding(void **state) {
    (void)state;
    char path[4096];
    TU_REQUIRE_SHARED(tu_shared_path(path, sizeof path, STORIES), STORIES);
    hflow_model *m;
    assert_int_equal(hflow_model_load(path, NULL, &m, NULL), 0);
    hflow_session *s;
    assert_int_equal(hflow_session_create(m, NULL, &s, NULL), 0);
    int dim = hflow_model_get_info(m)->n_embd;
    float *a = malloc((size_t)dim * sizeof *a), *b = malloc((size_t)dim * sizeof *b);
    const char *text = "Once upon a time, there was a little cat.";
    int32_t used = 0;
    assert_int_equal(hflow_embed(s, text, NULL, a, &used, NULL), 0);
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(m), text, strlen(text), 1, 0, &ids, &n, NULL), 0);
    assert_int_equal(used, n);
    assert_int_equal(ids[0], hflow_vocab_bos(hflow_model_vocab(m)));
    assert_int_equal(hflow_embed_tokens(s, ids, n, NULL, b, NULL, NULL), 0);
    assert_memory_equal(a, b, (size_t)dim * sizeof *a);
    /* Different texts, different embeddings. */
    assert_int_equal(hflow_embed(s, "The dog ran to the park.", NULL, b, NULL, NULL), 0);
    assert_true(max_diff(a, b, dim) > 1e-3);
    hflow_embed_params nb = {.no_bos = 1};
    hflow_error err;
    assert_int_equal(hflow_embed(s, "", &nb, a, NULL, &err), HFLOW_EINVAL);
    free(ids), free(a), free(b);
    hflow_session_free(s);
    hflow_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hidden_feeds_the_head),
        cmocka_unit_test(test_embedding_is_pooled_hidden),
        cmocka_unit_test(test_batch_invariant_and_deterministic),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_text_embedding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
