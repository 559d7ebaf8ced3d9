/* test_spec_core.c - acceptance rules, draft-length controller, channel emulator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/spec.h"

static void test_greedy_acceptance(void **state) {
    (void)state;
    enum { V = 5 };
    /* target argmaxes per row: 3, 1, 4, 0 */
    float logits[4 * V] = {0};
    int am[4] = {3, 1, 4, 0};
    for (int r = 0; r < 4; r++) logits[r * V + am[r]] = 2.0f;
    hflow_spec_verdict v;
    int32_t d1[3] = {3, 1, 4};
    hflow_spec_accept_greedy(d1, 3, logits, V, &v);
    assert_int_equal(v.n_accepted, 3);
    assert_int_equal(v.next_token, 0); /* bonus */
    int32_t d2[3] = {3, 2, 4};
    hflow_spec_accept_greedy(d2, 3, logits, V, &v);
    assert_int_equal(v.n_accepted, 1);
    assert_int_equal(v.next_token, 1); /* correction */
    int32_t d3[1] = {0};
    hflow_spec_accept_greedy(d3, 1, logits, V, &v);
    assert_int_equal(v.n_accepted, 0);
    assert_int_equal(v.next_token, 3);
}

/* The first emitted token of speculative sampling must be distributed as p,
 * whatever the draft's q (here truncated to its top-3). */
static void test_sampled_acceptance_preserves_target(void **state) {
    (void)state;
    enum { V = 6, K = 2, TRIALS = 200000 };
    const float p[V] = {0.05f, 0.30f, 0.10f, 0.25f, 0.20f, 0.10f};
    hflow_spec_draft_dist q[K];
    for (int i = 0; i < K; i++) {
        q[i].n = 3;
        q[i].ids[0] = 0; q[i].ids[1] = 2; q[i].ids[2] = 3; /* draft favours tokens p dislikes */
        q[i].probs[0] = 0.5f; q[i].probs[1] = 0.3f; q[i].probs[2] = 0.2f;
    }
    float target[(K + 1) * V];
    for (int r = 0; r <= K; r++) memcpy(target + r * V, p, sizeof p);
    uint64_t rng = hflow_spec_seed(42), draft_rng = hflow_spec_seed(7);
    float scratch[V];
    long counts[V] = {0};
    long accepted_total = 0;
    for (int t = 0; t < TRIALS; t++) {
        int32_t draft[K];
        for (int i = 0; i < K; i++) draft[i] = q[i].ids[hflow_spec_draw(q[i].probs, q[i].n, hflow_spec_rand(&draft_rng))];
        hflow_spec_verdict v;
        hflow_error err;
        assert_int_equal(hflow_spec_accept_sampled(draft, q, K, target, V, &rng, scratch, &v, &err), 0);
        int32_t first = v.n_accepted > 0 ? draft[0] : v.next_token;
        counts[first]++;
        accepted_total += v.n_accepted;
    }
    double chi2 = 0;
    for (int i = 0; i < V; i++) {
        double e = p[i] * TRIALS;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    /* df = 5: P(chi2 > 20.5) = 0.001 */
    if (chi2 > 20.5) fail_msg("chi-square %.2f: emitted tokens do not follow the target distribution", chi2);
    /* acceptance rate of position 0 = sum_x min(p(x), q(x)) = 0.05 + 0.10 + 0.2 = 0.35 */
    assert_true(accepted_total > 0);

    /* a draft token outside its own top-K is refused */
    int32_t bad[1] = {5};
    hflow_spec_verdict v;
    hflow_error err;
    assert_int_equal(hflow_spec_accept_sampled(bad, q, 1, target, V, &rng, scratch, &v, &err), HFLOW_EINVAL);
}

static void test_expected_tokens_closed_form(void **state) {
    (void)state;
    hflow_spec_estimates e;
    hflow_spec_estimates_init(&e, 0.05, 1e6, 1e6);
    for (int i = 0; i < HFLOW_SPEC_MAX_K; i++) e.accept[i] = 0.8;
    for (int k = 0; k <= 8; k++)
        assert_float_equal(hflow_spec_expected_tokens(&e, k), (1 - pow(0.8, k + 1)) / (1 - 0.8), 1e-9);
}

static int32_t pick(double rtt, double accept, double budget, double lambda) {
    hflow_spec_controller_config c;
    hflow_spec_controller_default(&c);
    c.energy_budget_j = budget;
    c.lambda_energy = lambda;
    hflow_spec_estimates e;
    hflow_spec_estimates_init(&e, rtt, 10e6 / 8, 10e6 / 8);
    for (int i = 0; i < HFLOW_SPEC_MAX_K; i++) e.accept[i] = accept;
    e.t_draft_s = 0.004;
    e.t_verify_base_s = 0.02;
    e.t_verify_per_tok_s = 0.002;
    hflow_device_profile dev;
    hflow_device_profile_default(&dev);
    hflow_spec_choice ch;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    return ch.k;
}

static void test_controller_follows_channel_and_acceptance(void **state) {
    (void)state;
    /* longer round trips make each round dearer: draft more per round */
    assert_true(pick(0.200, 0.8, 0, 0) >= pick(0.005, 0.8, 0, 0));
    assert_true(pick(0.200, 0.8, 0, 0) > pick(0.005, 0.3, 0, 0));
    /* higher acceptance: longer drafts pay off */
    assert_true(pick(0.05, 0.95, 0, 0) > pick(0.05, 0.3, 0, 0));
    /* an energy weight shortens drafts (drafting burns more power than idling) */
    assert_true(pick(0.05, 0.8, 0, 50.0) <= pick(0.05, 0.8, 0, 0));
}

static void test_controller_energy_budget_and_fallback(void **state) {
    (void)state;
    hflow_spec_controller_config c;
    hflow_spec_controller_default(&c);
    hflow_spec_estimates e;
    hflow_spec_estimates_init(&e, 0.05, 1e6, 1e6);
    hflow_device_profile dev;
    hflow_device_profile_default(&dev);
    for (int i = 0; i < HFLOW_SPEC_MAX_K; i++) e.accept[i] = 0.7;
    e.t_draft_s = 0.01;
    hflow_spec_choice ch;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    double free_energy = ch.exp_energy_per_token_j;
    /* a budget below the unconstrained choice's energy must be honoured when feasible */
    c.energy_budget_j = free_energy * 0.9;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    assert_true(ch.exp_energy_per_token_j <= c.energy_budget_j || ch.k == c.k_min);
    /* a target that streams fast on its own and poor acceptance: fall back to k = 0 */
    c.energy_budget_j = 0;
    for (int i = 0; i < HFLOW_SPEC_MAX_K; i++) e.accept[i] = 0.05;
    e.t_target_gen_s = 0.01;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    assert_true(ch.k >= 1); /* acceptance still the unmeasured prior: no switch on a guess */
    for (int i = 0; i < HFLOW_SPEC_MAX_K; i++) e.accept_seen[i] = 10;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    assert_int_equal(ch.k, 0);
    c.allow_fallback = 0;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    assert_true(ch.k >= 1);
    c.fixed_k = 5;
    hflow_spec_choose_k(&c, &e, &dev, &ch);
    assert_int_equal(ch.k, 5);
}

static void test_observe_updates_estimates(void **state) {
    (void)state;
    hflow_spec_controller_config c;
    hflow_spec_controller_default(&c);
    hflow_spec_estimates e;
    hflow_spec_estimates_init(&e, 0.0, 1e6, 1e6);
    /* warm start: one early rejection pulls acceptance down, not to zero (the prior counts) */
    hflow_spec_round_obs first = {4, 0, 0.02, 0.02, 0.1, 316, 250, 0};
    hflow_spec_observe(&c, &e, &first);
    assert_true(e.accept[0] > 0.3 && e.accept[0] < 0.6);
    hflow_spec_estimates_init(&e, 0.0, 1e6, 1e6);
    /* rounds of k=4 where exactly 2 are accepted: a0, a1 -> 1, a2 -> 0 */
    for (int r = 0; r < 60; r++) {
        hflow_spec_round_obs o = {4, 2, 0.02, 0.01 + 0.002 * 5, 0.1, 316, 250, 0};
        hflow_spec_observe(&c, &e, &o);
    }
    assert_true(e.accept[0] > 0.99 && e.accept[1] > 0.99);
    assert_true(e.accept[2] < 0.01);
    assert_int_equal(e.accept_seen[3], 0);
    assert_float_equal(e.t_draft_s, 0.005, 1e-9);
    /* round 0.1 s minus verify 0.02 s minus transfers ~0.57 ms: RTT ~ 0.079 s */
    assert_float_equal(e.rtt_s, 0.1 - 0.02 - 566e-6, 1e-4);
    /* the verify fit separates base and per-token cost once k varies */
    for (int r = 0; r < 40; r++) {
        int k = 1 + r % 6;
        hflow_spec_round_obs o = {k, 0, 0.005 * k, 0.01 + 0.002 * (k + 1), 0.2, 300, 250, 0};
        hflow_spec_observe(&c, &e, &o);
    }
    assert_float_equal(e.t_verify_base_s, 0.01, 1e-6);
    assert_float_equal(e.t_verify_per_tok_s, 0.002, 1e-6);
}

/* The confidence stop rule: calibrated acceptance per confidence bin, and one
 * more token only when its expected gain pays for its marginal cost. */
static void test_confidence_stop_rule(void **state) {
    (void)state;
    hflow_spec_controller_config c;
    hflow_spec_controller_default(&c);
    hflow_device_profile dev;
    hflow_device_profile_default(&dev);
    hflow_spec_estimates e;
    hflow_spec_estimates_init(&e, 0.02, 1e6, 1e6);
    assert_float_equal(hflow_spec_conf_accept(&e, 0.7), 0.7, 1e-9); /* no data: the draft's own confidence */
    /* confident tokens (0.95) always accepted, unsure ones (0.15) always rejected */
    for (int r = 0; r < 200; r++) {
        float conf[3] = {0.95f, 0.95f, 0.15f};
        hflow_spec_observe_confidence(&c, &e, conf, 3, 2);
    }
    assert_true(hflow_spec_conf_accept(&e, 0.95) > 0.95);
    assert_true(hflow_spec_conf_accept(&e, 0.15) < 0.1);
    hflow_spec_choice round = {4, 3.0, 0.03, 0.05};
    e.t_draft_s = 0.01;
    assert_true(hflow_spec_keep_drafting(&c, &e, &dev, &round, 1, 0.95, 0.95));
    assert_false(hflow_spec_keep_drafting(&c, &e, &dev, &round, 1, 0.95, 0.15));
    assert_false(hflow_spec_keep_drafting(&c, &e, &dev, &round, c.k_max, 1.0, 0.95)); /* never past k_max */
    /* an energy budget below the marginal token's energy per expected token stops it too */
    c.energy_budget_j = 0.001;
    assert_false(hflow_spec_keep_drafting(&c, &e, &dev, &round, 1, 0.95, 0.95));
}

static void test_channel_virtual_time(void **state) {
    (void)state;
    hflow_channel_config cfg;
    hflow_error err;
    assert_int_equal(hflow_channel_parse("rtt=50ms,up=1mbit,down=10mbit,outage=1s-2s,seed=3", &cfg, &err), 0);
    assert_float_equal(cfg.rtt_s, 0.05, 1e-12);
    assert_float_equal(cfg.up_bps, 125000, 1e-6);
    hflow_channel ch;
    hflow_channel_init(&ch, &cfg, 1);
    assert_int_equal(hflow_channel_transfer(&ch, 1, 12500, &err), 0);
    assert_float_equal(hflow_channel_now(&ch), 0.025 + 0.1, 1e-9);
    hflow_channel_spend(&ch, 0.9); /* now 1.025 s: inside the outage */
    assert_int_equal(hflow_channel_transfer(&ch, 0, 10, &err), HFLOW_ENET);
    assert_non_null(strstr(err.message, "outage"));
    hflow_channel_spend(&ch, 1.0);
    assert_int_equal(hflow_channel_transfer(&ch, 0, 0, &err), 0);
    /* loss costs retransmission timeouts, deterministically per seed */
    assert_int_equal(hflow_channel_parse("rtt=10ms,loss=0.5,rto=100ms", &cfg, &err), 0);
    hflow_channel_init(&ch, &cfg, 1);
    for (int i = 0; i < 100; i++) hflow_channel_transfer(&ch, 1, 0, &err);
    double t = hflow_channel_now(&ch);
    assert_true(t > 100 * 0.005 + 50 * 0.1 && t < 100 * 0.005 + 150 * 0.1);
    assert_int_equal(hflow_channel_parse("rtt=fast", &cfg, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_channel_parse("color=red", &cfg, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_channel_parse("outage=3s-1s", &cfg, &err), HFLOW_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_acceptance),
        cmocka_unit_test(test_sampled_acceptance_preserves_target),
        cmocka_unit_test(test_expected_tokens_closed_form),
        cmocka_unit_test(test_controller_follows_channel_and_acceptance),
        cmocka_unit_test(test_controller_energy_budget_and_fallback),
        cmocka_unit_test(test_observe_updates_estimates),
        cmocka_unit_test(test_confidence_stop_rule),
        cmocka_unit_test(test_channel_virtual_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
