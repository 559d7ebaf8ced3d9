/* test_sample.c - sampler stages, the distribution it draws from, logprobs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/sample.h"

enum { V = 8 };
static const float LOGITS[V] = {1.0f, 3.0f, 0.5f, 2.5f, -1.0f, 2.0f, 0.0f, 1.5f};

static hflow_sampler *make(float temp, int top_k, float top_p, float min_p, uint64_t seed) {
    hflow_sampler_params p = hflow_sampler_default_params();
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    p.n_top_logprobs = 3;
    hflow_sampler *s = hflow_sampler_create(&p, V);
    assert_non_null(s);
    return s;
}

static void test_greedy_and_logprobs(void **state) {
    (void)state;
    hflow_sampler *s = make(0, 0, 1, 0, 0);
    hflow_token_logprobs lp;
    assert_int_equal(hflow_sampler_sample(s, LOGITS, NULL, 0, &lp), 1);
    double z = 0;
    for (int i = 0; i < V; i++) z += exp(LOGITS[i]);
    assert_float_equal(lp.logprob, 3.0 - log(z), 1e-5);
    assert_int_equal(lp.n_top, 3);
    assert_int_equal(lp.top_ids[0], 1);
    assert_int_equal(lp.top_ids[1], 3);
    assert_int_equal(lp.top_ids[2], 5);
    float probs[V];
    hflow_sampler_probs(s, LOGITS, probs);
    assert_true(probs[1] == 1.0f);
    hflow_sampler_free(s);
}

static void test_truncation_stages(void **state) {
    (void)state;
    float probs[V];
    hflow_sampler *s = make(1.0f, 3, 1.0f, 0, 1); /* top-k 3: ids 1, 3, 5 */
    hflow_sampler_probs(s, LOGITS, probs);
    double sum = 0;
    for (int i = 0; i < V; i++) {
        sum += probs[i];
        assert_true((probs[i] > 0) == (i == 1 || i == 3 || i == 5));
    }
    assert_float_equal(sum, 1.0, 1e-6);
    assert_float_equal(probs[1] / probs[3], exp(0.5), 1e-4);
    hflow_sampler_free(s);
    s = make(0.5f, 0, 1.0f, 0.2f, 1); /* min-p relative to the max after temperature */
    hflow_sampler_probs(s, LOGITS, probs);
    for (int i = 0; i < V; i++) /* kept iff exp((l - 3)/0.5) >= 0.2 */
        assert_true((probs[i] > 0) == (exp((LOGITS[i] - 3.0) / 0.5) >= 0.2));
    hflow_sampler_free(s);
    s = make(1.0f, 0, 0.5f, 0, 1); /* top-p 0.5: the smallest prefix reaching half the mass */
    hflow_sampler_probs(s, LOGITS, probs);
    int kept = 0;
    for (int i = 0; i < V; i++) kept += probs[i] > 0;
    assert_int_equal(kept, 2); /* p(1) ~ 0.38, p(3) ~ 0.23 */
    hflow_sampler_free(s);
}

/* Draws follow hflow_sampler_probs (the distribution speculative decoding relies on). */
static void test_draws_follow_probs(void **state) {
    (void)state;
    hflow_sampler *s = make(0.8f, 6, 0.95f, 0.0f, 1234);
    float probs[V];
    hflow_sampler_probs(s, LOGITS, probs);
    enum { N = 100000 };
    long counts[V] = {0};
    for (int i = 0; i < N; i++) counts[hflow_sampler_sample(s, LOGITS, NULL, 0, NULL)]++;
    double chi2 = 0;
    int df = -1;
    for (int i = 0; i < V; i++) {
        if (probs[i] == 0) {
            assert_int_equal(counts[i], 0);
            continue;
        }
        double e = probs[i] * N;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
        df++;
    }
    /* P(chi2 > 22.5 | df <= 6) < 0.001 */
    if (chi2 > 22.5) fail_msg("chi-square %.2f with %d dof", chi2, df);
    hflow_sampler_free(s);
}

static void test_seed_and_penalty(void **state) {
    (void)state;
    hflow_sampler *a = make(1.0f, 0, 1.0f, 0, 7), *b = make(1.0f, 0, 1.0f, 0, 7);
    for (int i = 0; i < 50; i++)
        assert_int_equal(hflow_sampler_sample(a, LOGITS, NULL, 0, NULL), hflow_sampler_sample(b, LOGITS, NULL, 0, NULL));
    hflow_sampler_free(a);
    hflow_sampler_free(b);
    hflow_sampler_params p = hflow_sampler_default_params();
    p.repeat_penalty = 2.0f; /* logit 3 of id 1 becomes 1.5 < 2.5 of id 3 */
    hflow_sampler *s = hflow_sampler_create(&p, V);
    int32_t hist[2] = {1, 1};
    assert_int_equal(hflow_sampler_sample(s, LOGITS, hist, 2, NULL), 3);
    assert_int_equal(hflow_sampler_sample(s, LOGITS, NULL, 0, NULL), 1);
    hflow_sampler_free(s);
    assert_null(hflow_sampler_create(&p, 0));
}

static int32_t greedy_with(hflow_sampler_params p, const float *logits, const int32_t *hist, int n_hist) {
    hflow_sampler *s = hflow_sampler_create(&p, 4);
    assert_non_null(s);
    int32_t t = hflow_sampler_sample(s, logits, hist, n_hist, NULL);
    hflow_sampler_free(s);
    return t;
}

/* OpenAI's penalties: token 0 (logit 1.0, seen twice) against token 1 (0.9):
 * it loses 2 x frequency + presence, so the winner flips exactly where the
 * arithmetic says; the bias is added before; window 0 turns penalties off. */
static void test_bias_and_openai_penalties(void **state) {
    (void)state;
    const float logits[4] = {1.0f, 0.9f, 0.0f, -1.0f};
    const int32_t hist[3] = {0, 3, 0};
    hflow_sampler_params p = hflow_sampler_default_params();
    assert_int_equal(greedy_with(p, logits, hist, 3), 0);
    p.frequency_penalty = 0.04f; /* 1 - 0.08 = 0.92 > 0.9 */
    assert_int_equal(greedy_with(p, logits, hist, 3), 0);
    p.frequency_penalty = 0.06f; /* 0.88 < 0.9 */
    assert_int_equal(greedy_with(p, logits, hist, 3), 1);
    p.frequency_penalty = 0;
    p.presence_penalty = 0.09f; /* charged once: 0.91 */
    assert_int_equal(greedy_with(p, logits, hist, 3), 0);
    p.presence_penalty = 0.11f;
    assert_int_equal(greedy_with(p, logits, hist, 3), 1);
    p.repeat_last_n = 0;
    assert_int_equal(greedy_with(p, logits, hist, 3), 0);
    p.repeat_last_n = 1; /* only the last token (0) counts: 1 - 0.11 still loses */
    assert_int_equal(greedy_with(p, logits, hist, 3), 1);
    p = hflow_sampler_default_params();
    hflow_logit_bias b[3] = {{3, 2.5f}, {99, 100.0f}, {0, -100.0f}}; /* 99 is outside: ignored */
    p.logit_bias = b;
    p.n_logit_bias = 3;
    hflow_sampler *s = hflow_sampler_create(&p, 4);
    b[0].bias = -50.0f; /* the sampler kept its own copy */
    assert_int_equal(hflow_sampler_sample(s, logits, NULL, 0, NULL), 3);
    hflow_sampler_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_logprobs),
        cmocka_unit_test(test_bias_and_openai_penalties),
        cmocka_unit_test(test_truncation_stages),
        cmocka_unit_test(test_draws_follow_probs),
        cmocka_unit_test(test_seed_and_penalty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
