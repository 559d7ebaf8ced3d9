/* test_spec_e2e.c - ECSpec end to end in one process: a real draft model, a
 * real target model, the in-process transport and the emulated channel.
 *
 * What must hold: greedy speculative output is token for token the target's
 * own greedy output (every k in 1..8, adaptive k, a lossy jittery channel);
 * sampled output has the target's distribution (chi-square); a target family
 * built from stories260K serves one static draft across versions and a
 * foreign tokenizer is refused; a link outage ends in a clean error or an
 * edge-only continuation flagged as not lossless. Channels run in virtual
 * time, so nothing sleeps. Models without ../shared: gen-model random weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_util.h"
#include "testutil.h"
#include "engine/quantize_model.h"
#include "hybridflow/engine.h"
#include "hybridflow/family.h"
#include "hybridflow/modelgen.h"
#include "hybridflow/spec.h"

#define N_GEN 40

static char dir[512];

static const char *path(const char *name) {
    static char buf[8][600];
    static int i = 0;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static hflow_model *load(const char *p) {
    hflow_model_params mp = {1};
    hflow_model *m = NULL;
    hflow_error err = {0};
    if (hflow_model_load(p, &mp, &m, &err)) fail_msg("load %s: %s", p, err.message);
    return m;
}

typedef struct {
    int32_t k;                /* 0 = adaptive */
    const char *channel;      /* NULL = none */
    int edge_only;
    float temperature;
    uint64_t seed;
    int32_t max_tokens;
    int conf_stop; /* adaptive k with the draft-confidence stop rule */
    double link_wait_s;
} run_opts;

static int run_spec(hflow_model *draft, hflow_model *target, const int32_t *prompt, int n_prompt, const run_opts *o,
                    int32_t **out, hflow_spec_stats *st, hflow_error *err) {
    hflow_channel ch;
    hflow_channel_config cc;
    if (o->channel) {
        assert_int_equal(hflow_channel_parse(o->channel, &cc, err), 0);
        hflow_channel_init(&ch, &cc, 1);
    }
    hflow_spec_target_emulation emu = {0.02, 0.002}; /* fixed, so adaptive runs are reproducible */
    hflow_spec_transport *tr = NULL;
    assert_int_equal(hflow_spec_transport_inproc(target, o->channel ? &ch : NULL, &emu, &tr, err), 0);
    hflow_spec_run_config cfg;
    hflow_spec_run_config_default(&cfg);
    cfg.ctl.fixed_k = o->k;
    cfg.ctl.confidence_stop = o->conf_stop;
    cfg.max_tokens = o->max_tokens ? o->max_tokens : N_GEN;
    cfg.channel = o->channel ? &ch : NULL;
    cfg.on_link_down_edge_only = o->edge_only;
    cfg.link_wait_s = o->link_wait_s;
    cfg.params.temperature = o->temperature;
    cfg.params.seed = o->seed;
    int rc = hflow_spec_generate(draft, tr, prompt, n_prompt, &cfg, NULL, NULL, out, st, err);
    hflow_spec_transport_free(tr);
    return rc;
}

static const char *PROMPTS[] = {"Once upon a time", "The little dog", "Lily and Ben went to the park.",
                                "One day, a big red ball", "Tom was sad because", "The sun was",
                                "She looked at the sky and said", "A cat"};
#define N_PROMPTS (int)(sizeof PROMPTS / sizeof *PROMPTS)

/* Greedy equality for every prompt, every k in 1..8 and adaptive, with and
 * without a lossy channel. Returns the mean acceptance rate seen. */
static double check_greedy_equality(hflow_model *draft, hflow_model *target, int n_prompts) {
    const char *channels[] = {NULL, "rtt=80ms,jitter=20ms,rate=1mbit,loss=0.2,seed=3"};
    double acc = 0, drafted = 0;
    for (int p = 0; p < n_prompts; p++) {
        int n_prompt;
        int32_t *prompt = tu_tokenize(target, PROMPTS[p], &n_prompt);
        int32_t ref[N_GEN];
        int32_t n_ref = tu_greedy_reference(target, prompt, n_prompt, N_GEN, ref);
        for (int c = 0; c < 2; c++)
            for (int32_t k = -1; k <= 8; k++) { /* -1: adaptive with the confidence stop rule, 0: adaptive */
                if (c == 1 && k != 0 && k != 3) continue; /* the channel changes timing, not tokens */
                run_opts o = {.k = k < 0 ? 0 : k, .channel = channels[c], .conf_stop = k < 0};
                int32_t *out = NULL;
                hflow_spec_stats st;
                hflow_error err = {0};
                int rc = run_spec(draft, target, prompt, n_prompt, &o, &out, &st, &err);
                if (rc) fail_msg("prompt %d k %d: %s", p, k, err.message);
                if (st.n_generated != n_ref || memcmp(out, ref, (size_t)n_ref * sizeof *ref)) {
                    int32_t i = 0;
                    while (i < n_ref && i < st.n_generated && out[i] == ref[i]) i++;
                    fail_msg("prompt '%s' k=%d channel=%s: speculative output differs from the target's at token %d "
                             "(%d vs %d generated)", PROMPTS[p], k, channels[c] ? channels[c] : "none", i,
                             st.n_generated, n_ref);
                }
                assert_true(st.rounds > 0);
                acc += st.accepted;
                drafted += st.drafted;
                free(out);
            }
        free(prompt);
    }
    return drafted > 0 ? acc / drafted : 0;
}

/* ---- family built from stories260K ---- */

static hflow_model *t_v1, *t_v2, *d_early, *d_quant, *d_foreign;

static int setup_family(void **state) {
    (void)state;
    char buf[4096];
    const char *src = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    if (!src) return 0;
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    hflow_error err = {0};
    if (hflow_family_stamp(src, path("v1.gguf"), "stories", "v1", 3, &err) ||
        hflow_family_evolve(path("v1.gguf"), path("v2.gguf"), 3, 0.05f, 11, "v2", &err) ||
        hflow_family_derive_early_exit(path("v1.gguf"), path("draft.gguf"), 3, &err) ||
        hflow_quantize_model(path("v1.gguf"), path("draft-q4.gguf"), "q4_0", 1, NULL, &err)) {
        fprintf(stderr, "family setup: %s\n", err.message);
        return -1;
    }
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    if (hflow_gen_params_preset(&gp, "tiny", &err) || hflow_gen_model(&gp, path("foreign.gguf"), &err)) return -1;
    t_v1 = load(path("v1.gguf"));
    t_v2 = load(path("v2.gguf"));
    d_early = load(path("draft.gguf"));
    d_quant = load(path("draft-q4.gguf"));
    d_foreign = load(path("foreign.gguf"));
    return 0;
}

static int teardown_family(void **state) {
    (void)state;
    hflow_model_free(t_v1);
    hflow_model_free(t_v2);
    hflow_model_free(d_early);
    hflow_model_free(d_quant);
    hflow_model_free(d_foreign);
    return 0;
}

static void test_stories_greedy_equality(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    double a = check_greedy_equality(d_early, t_v1, 5);
    print_message("early-exit draft (3 of 5 layers) on stories260K v1: acceptance %.2f\n", a);
    assert_true(a > 0.05); /* a draft that shares 3 of 5 layers is accepted sometimes */
}

static void test_family_versions_and_foreign_draft(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    /* the static draft, derived from v1, verifies against v2 with v2's output */
    double a = check_greedy_equality(d_early, t_v2, 3);
    print_message("early-exit draft from v1 on target v2: acceptance %.2f\n", a);
    double aq = check_greedy_equality(d_quant, t_v2, 3);
    print_message("q4_0 copy of v1 as draft on target v2: acceptance %.2f\n", aq);
    assert_true(aq > a); /* the quantized copy keeps every layer: a closer draft */
    /* the target itself as the draft: everything is accepted */
    int n_prompt;
    int32_t *prompt = tu_tokenize(t_v1, PROMPTS[0], &n_prompt);
    run_opts o = {.k = 4};
    int32_t *out = NULL;
    hflow_spec_stats st;
    hflow_error err = {0};
    assert_int_equal(run_spec(t_v1, t_v1, prompt, n_prompt, &o, &out, &st, &err), 0);
    assert_int_equal(st.accepted, st.drafted);
    free(out);
    /* a draft with another tokenizer is refused, saying why */
    int rc = run_spec(d_foreign, t_v1, prompt, n_prompt, &o, &out, &st, &err);
    assert_int_equal(rc, HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "tokenizer"));
    assert_null(out);
    free(prompt);
}

/* ---- sampling: the speculative distribution is the target's ---- */

/* Upper bound of chi-square with df degrees of freedom at p = 0.001
 * (Wilson-Hilferty, z = 3.09). */
static double chi2_bound(int df) {
    double a = 2.0 / (9.0 * df);
    return df * pow(1 - a + 3.09 * sqrt(a), 3);
}

/* Two-sample chi-square over a token histogram with equal sample sizes;
 * bins with fewer than 10 combined counts are pooled. */
static double chi2_two_sample(const int *a, const int *b, int V, int *df) {
    double x = 0, pa = 0, pb = 0;
    int bins = 0;
    for (int v = 0; v < V; v++) {
        if (a[v] + b[v] < 10) {
            pa += a[v];
            pb += b[v];
            continue;
        }
        x += (double)(a[v] - b[v]) * (a[v] - b[v]) / (a[v] + b[v]);
        bins++;
    }
    if (pa + pb > 0) {
        x += (pa - pb) * (pa - pb) / (pa + pb);
        bins++;
    }
    *df = bins - 1;
    return x;
}

static void test_sampling_matches_target(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    enum { RUNS = 1000, POS = 3 };
    hflow_model *target = t_v1;
    int32_t V = hflow_model_get_info(target)->n_vocab;
    int n_prompt;
    int32_t *prompt = tu_tokenize(target, "Lily", &n_prompt);
    int *spec = calloc((size_t)POS * V, sizeof(int)), *ref = calloc((size_t)POS * V, sizeof(int));
    const float temp = 1.0f;
    /* target-only sampling */
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = temp;
    hflow_sampler *smp = hflow_sampler_create(&sp, V);
    hflow_session *s = NULL;
    hflow_error err = {0};
    assert_int_equal(hflow_session_create(target, NULL, &s, &err), 0);
    for (int r = 0; r < RUNS; r++) {
        hflow_sampler_reseed(smp, 1000 + (uint64_t)r);
        assert_int_equal(hflow_session_truncate(s, 0, &err), 0);
        assert_int_equal(hflow_session_decode(s, prompt, n_prompt, HFLOW_LOGITS_LAST, &err), 0);
        for (int p = 0; p < POS; p++) {
            int32_t t = hflow_sampler_sample(smp, hflow_session_logits(s, 0), NULL, 0, NULL);
            ref[p * V + t]++;
            if (hflow_vocab_is_eog(hflow_model_vocab(target), t)) break;
            if (p + 1 < POS) assert_int_equal(hflow_session_decode(s, &t, 1, HFLOW_LOGITS_LAST, &err), 0);
        }
    }
    hflow_session_free(s);
    hflow_sampler_free(smp);
    /* speculative sampling, k = 2 so positions 0..2 mix drafted, corrected and bonus tokens */
    int eos = hflow_vocab_eos(hflow_model_vocab(target));
    for (int r = 0; r < RUNS; r++) {
        /* odd runs: adaptive k with the confidence stop rule (also lossless) */
        run_opts o = {.k = r % 2 ? 0 : 2, .temperature = temp, .seed = 5000 + (uint64_t)r, .max_tokens = POS,
                      .conf_stop = r % 2};
        int32_t *out = NULL;
        hflow_spec_stats st;
        if (run_spec(d_early, target, prompt, n_prompt, &o, &out, &st, &err)) fail_msg("%s", err.message);
        for (int p = 0; p < POS; p++) {
            if (p < st.n_generated) spec[p * V + out[p]]++;
            else if (p == st.n_generated && strcmp(st.stop_reason, "eos") == 0) spec[p * V + eos]++;
            if (p >= st.n_generated) break;
        }
        free(out);
    }
    for (int p = 0; p < POS; p++) {
        int df;
        double x = chi2_two_sample(spec + p * V, ref + p * V, V, &df);
        print_message("position %d: chi-square %.1f, df %d, bound %.1f (p = 0.001)\n", p, x, df, chi2_bound(df));
        assert_true(df >= 2); /* the test only means something over a spread distribution */
        assert_true(x < chi2_bound(df));
    }
    free(spec);
    free(ref);
    free(prompt);
}

/* ---- faults ---- */

static void test_link_outage(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    int n_prompt;
    int32_t *prompt = tu_tokenize(t_v1, PROMPTS[0], &n_prompt);
    /* the link dies 0.5 s (virtual) into the run and never returns */
    run_opts o = {.k = 3, .channel = "rtt=100ms,rate=1mbit,outage=0.5s-1000s"};
    int32_t *out = NULL;
    hflow_spec_stats st;
    hflow_error err = {0};
    assert_int_equal(run_spec(d_early, t_v1, prompt, n_prompt, &o, &out, &st, &err), HFLOW_ENET);
    assert_non_null(strstr(err.message, "link down"));
    assert_null(out);
    /* edge-only continuation: finishes, but says it is no longer the target's output */
    o.edge_only = 1;
    hflow_error_clear(&err);
    assert_int_equal(run_spec(d_early, t_v1, prompt, n_prompt, &o, &out, &st, &err), 0);
    assert_string_equal(st.stop_reason, "link-down-edge-only");
    assert_true(st.fallback_tokens > 0);
    assert_true(st.not_lossless);
    assert_true(st.rounds > 0);
    assert_true(st.n_generated == N_GEN || st.n_generated == st.rounds + st.accepted + st.fallback_tokens);
    /* the tokens before the outage are still the target's */
    int32_t ref[N_GEN];
    tu_greedy_reference(t_v1, prompt, n_prompt, N_GEN, ref);
    int32_t lossless = st.n_generated - st.fallback_tokens;
    assert_memory_equal(out, ref, (size_t)lossless * sizeof *ref);
    free(out);
    /* waiting out a 2 s outage: reconnects and stays lossless */
    run_opts w = {.k = 3, .channel = "rtt=100ms,rate=1mbit,outage=0.5s-2.5s", .link_wait_s = 10};
    hflow_error_clear(&err);
    assert_int_equal(run_spec(d_early, t_v1, prompt, n_prompt, &w, &out, &st, &err), 0);
    assert_true(st.link_waits >= 1);
    assert_false(st.not_lossless);
    assert_int_equal(st.n_generated, N_GEN);
    assert_memory_equal(out, ref, (size_t)N_GEN * sizeof *ref);
    free(out);
    /* an outage longer than the wait ends in a clean error */
    w.link_wait_s = 1;
    hflow_error_clear(&err);
    assert_int_equal(run_spec(d_early, t_v1, prompt, n_prompt, &w, &out, &st, &err), HFLOW_ENET);
    assert_non_null(strstr(err.message, "stayed down"));
    free(prompt);
}

/* ---- no shared files: random-weight models of one tokenizer ---- */

static void test_random_models_greedy_equality(void **state) {
    (void)state;
    char d2[600];
    snprintf(d2, sizeof d2, "%s/rand", tu_tmpdir());
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    hflow_error err = {0};
    assert_int_equal(hflow_gen_params_preset(&gp, "tiny", &err), 0);
    gp.n_layer = 3;
    gp.seed = 99;
    assert_int_equal(hflow_gen_model(&gp, path("rand-target.gguf"), &err), 0);
    assert_int_equal(hflow_family_derive_early_exit(path("rand-target.gguf"), path("rand-draft.gguf"), 2, &err), 0);
    hflow_model *t = load(path("rand-target.gguf")), *d = load(path("rand-draft.gguf"));
    check_greedy_equality(d, t, 3);
    hflow_model_free(t);
    hflow_model_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_models_greedy_equality),
        cmocka_unit_test(test_stories_greedy_equality),
        cmocka_unit_test(test_family_versions_and_foreign_draft),
        cmocka_unit_test(test_sampling_matches_target),
        cmocka_unit_test(test_link_outage),
    };
    return cmocka_run_group_tests(tests, setup_family, teardown_family);
}
