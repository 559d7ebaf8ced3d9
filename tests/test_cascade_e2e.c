/* test_cascade_e2e.c - the edge-confidence feature end to end on the local
 * tiers (edge stories260K, cloud a `gen-model` llama with its vocabulary, both
 * in-process), through the real CLI: `profile --cascade` on a few MMLU-STEM
 * questions, `train-router` on that profile, then `run --cascade --policy
 * learned:router.gguf` on the profiled questions.
 *
 * Checked: every profile row holds the edge answer's confidence; the router
 * records that it was trained with it and `run` without --cascade refuses it;
 * in the cascade run every step's trace holds the edge attempt, its
 * confidence, the router's score and threshold and the kept/escalated
 * decision, which is score > threshold; the confidence and the score at
 * serving equal the profile's confidence and the router's score on the
 * profile's features (the same features at training and serving time); some
 * steps are kept and some escalated; the cloud budget holds. Greedy and
 * sequential with --plan-first, so the runs see the profiled plans. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_proc.h"
#include "e2e.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"
#include "testutil.h"

#define N_Q 2
#define CAP_TOKENS 1000 /* about three escalations of a short step per query */

static hflow_eval_dataset ds;
static char ds_path[1024], profile[512], router_path[512];
static int have_data;
static hflow_router *router;

static int setup(void **state) {
    (void)state;
    int rc = tu_router_e2e_data(ds_path, sizeof ds_path, N_Q, &ds);
    have_data = rc > 0;
    return rc < 0 ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_router_free(router);
    if (have_data) hflow_eval_dataset_free(&ds);
    return 0;
}

/* ---- 1. profile --cascade -> train ---- */

static void test_profile_then_train(void **state) {
    (void)state;
    if (!have_data) {
        print_message("skipped: datasets/MMLU-STEM.json not found under ../shared\n");
        skip();
    }
    tu_tmp_path(profile, sizeof profile, "cascade-profile.jsonl");
    tu_tmp_path(router_path, sizeof router_path, "cascade-router.gguf");
    tu_profile_train(ds_path, N_Q, 1, profile, router_path);
    size_t n;
    cJSON **rows = tu_jsonl_read(profile, &n);
    assert_true(n >= N_Q);
    for (size_t i = 0; i < n; i++) {
        double c = tu_jnum(rows[i], "edge_confidence");
        assert_true(c > 0 && c <= 1);
        /* the edge answer's length the policy saw: its completion tokens */
        assert_true(tu_jnum(rows[i], "edge_answer_tokens") > 0);
        assert_true(tu_jnum(tu_jget(rows[i], "edge"), "tokens") > 0);
        assert_true(tu_jnum(tu_jget(rows[i], "cloud"), "tokens") > 0);
    }
    tu_jsonl_free(rows, n);
    char log[600];
    snprintf(log, sizeof log, "%s.log", router_path);
    char *out = tu_read_file(log, NULL);
    assert_non_null(strstr(out, "trained with the edge's confidence"));
    free(out);
    hflow_error err;
    if (hflow_router_load(router_path, &router, &err)) fail_msg("router: %s", err.message);
    assert_int_equal(hflow_router_featurizer(router)->cfg.edge_confidence, 1);
    assert_int_equal(hflow_router_featurizer(router)->cfg.edge_answer, 1);
}

/* ---- 2. run --cascade with the learned router ---- */

/* The profile's sample for (question id, step), NULL when absent. */
static const hflow_router_sample *profiled(const hflow_router_dataset *d, const char *qid, int step) {
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->s[i].group, qid) && d->s[i].f.step_index == step) return &d->s[i];
    return NULL;
}

static int run_question(int q, long cap, const char *trace, int cascade) {
    char log[512], capbuf[32], pol[600];
    snprintf(capbuf, sizeof capbuf, "%ld", cap);
    snprintf(pol, sizeof pol, "learned:%s", router_path);
    const char *args[] = {"run", "--edge", e2e_edge_model(), "--cloud", e2e_cloud_model(), "--policy", pol,
                          "--budget-tokens", capbuf, "--max-steps", "3", "--max-step-tokens", "16",
                          "--answer-tokens", "16", "--plan-first", "--mode", "sequential", "--format", "option",
                          "--task-type", "letter", "--trace", trace, cascade ? "--cascade" : ds.items[q].question,
                          cascade ? ds.items[q].question : NULL, NULL};
    return tu_cli(tu_tmp_path(log, sizeof log, "cascade-run.log"), args);
}

static void test_run_cascade_learned(void **state) {
    (void)state;
    if (!have_data || !router) skip();
    char trace[512], log[512];
    tu_tmp_path(trace, sizeof trace, "cascade-run.jsonl");
    remove(trace);
    /* Not in cascade mode: refused, saying why. */
    assert_int_not_equal(run_question(0, 1000000, trace, 0), 0);
    char *out = tu_read_file(tu_tmp_path(log, sizeof log, "cascade-run.log"), NULL);
    assert_non_null(strstr(out, "cascade"));
    free(out);

    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    hflow_error err;
    if (hflow_router_load_profile(profile, &d, &err)) fail_msg("%s", err.message);
    for (int q = 0; q < N_Q; q++) assert_int_equal(run_question(q, CAP_TOKENS, trace, 1), 0);
    size_t n;
    cJSON **lines = tu_jsonl_read(trace, &n);
    assert_int_equal(n, N_Q);
    int steps = 0, escalated = 0;
    for (int q = 0; q < N_Q; q++) {
        tu_check_trace_cloud_budget(lines[q], CAP_TOKENS);
        const cJSON *s;
        int i = 0;
        cJSON_ArrayForEach(s, tu_jget(lines[q], "steps")) {
            const cJSON *call = tu_jget(s, "call"), *k = tu_jget(call, "cascade");
            assert_string_equal(tu_jstr(call, "route_reason"), "learned");
            assert_true(cJSON_IsTrue(tu_jget(k, "confidence_known")));
            double conf = tu_jnum(k, "edge_confidence"), score = tu_jnum(call, "route_score");
            double thr = tu_jnum(call, "route_threshold");
            const cJSON *b = tu_jget(call, "budget");
            hflow_budget_state bs = {tu_jnum(b, "tokens_ratio"), tu_jnum(b, "usd_ratio"), tu_jnum(b, "latency_ratio")};
            assert_float_equal(thr, hflow_router_threshold(router, &bs), 1e-6);
            int routed = !strcmp(tu_jstr(call, "routed_tier"), "cloud");
            int up = !strcmp(tu_jstr(k, "decision"), "escalated");
            assert_int_equal(routed, score > thr);
            assert_string_equal(tu_jstr(call, "tier"), up ? "cloud" : "edge");
            /* escalated iff routed to the cloud, unless the budget could not pay for it */
            if (routed && !up) assert_non_null(strstr(tu_jstr(call, "note"), "kept the edge answer"));
            if (up) assert_true(routed);
            assert_true(tu_jnum(k, "edge_completion_tokens") > 0);
            /* The same features as in training: the profiled confidence, and the
             * router's score on the profiled row (its budget ratios were 0, a
             * constant the router ignores). */
            const hflow_router_sample *ps = profiled(&d, ds.items[q].id, i);
            assert_non_null(ps);
            assert_float_equal(conf, ps->f.edge_confidence, 1e-12);
            assert_float_equal(tu_jnum(k, "edge_completion_tokens"), ps->f.edge_answer_tokens, 0);
            float ref;
            assert_int_equal(hflow_router_score(router, &ps->f, NULL, &ref, &err), 0);
            assert_float_equal(score, ref, 1e-6);
            steps++;
            escalated += routed;
            i++;
        }
    }
    print_message("cascade run: %d steps, %d routed to the cloud, %d kept\n", steps, escalated, steps - escalated);
    assert_true(escalated > 0 && escalated < steps);
    tu_jsonl_free(lines, n);
    hflow_router_dataset_free(&d);
}

/* ---- 3. eval --cascade with the learned router ---- */

/* The evaluation harness runs the hybridflow method in cascade mode: every
 * step of its traces holds the edge attempt and a kept/escalated decision,
 * one scored result per question; without --cascade the router is refused. */
static void test_eval_cascade_learned(void **state) {
    (void)state;
    if (!have_data || !router) skip();
    char pol[600], out[512], log[512], path[700];
    snprintf(pol, sizeof pol, "learned:%s", router_path);
    tu_tmp_path(out, sizeof out, "cascade-eval");
    const char *args[] = {"eval", "--dataset", ds_path, "--limit", "2", "--methods", "hybridflow", "--policy", pol,
                          "--edge", e2e_edge_model(), "--cloud", e2e_cloud_model(), "--max-tokens", "24",
                          "--budget-tokens", "3000", "--out", out, "--no-plots", "--cascade", NULL};
    assert_int_equal(tu_cli(tu_tmp_path(log, sizeof log, "cascade-eval.log"), args), 0);
    snprintf(path, sizeof path, "%s/traces/hybridflow.jsonl", out);
    size_t n;
    cJSON **lines = tu_jsonl_read(path, &n);
    assert_int_equal(n, 2);
    int steps = 0;
    for (size_t q = 0; q < n; q++) {
        tu_check_trace_cloud_budget(lines[q], 3000);
        const cJSON *s;
        cJSON_ArrayForEach(s, tu_jget(lines[q], "steps")) {
            const cJSON *k = tu_jget(tu_jget(s, "call"), "cascade");
            const char *dec = tu_jstr(k, "decision");
            assert_true(!strcmp(dec, "kept") || !strcmp(dec, "escalated"));
            assert_true(cJSON_IsTrue(tu_jget(k, "confidence_known")));
            steps++;
        }
    }
    assert_true(steps >= 2);
    tu_jsonl_free(lines, n);
    snprintf(path, sizeof path, "%s/hybridflow.jsonl", out);
    lines = tu_jsonl_read(path, &n);
    assert_int_equal(n, 2); /* one scored result per question */
    tu_jsonl_free(lines, n);
    /* Without --cascade, a router trained with the confidence is refused. */
    args[sizeof args / sizeof *args - 2] = NULL;
    tu_tmp_path(out, sizeof out, "cascade-eval-refused");
    args[sizeof args / sizeof *args - 4] = out;
    assert_int_not_equal(tu_cli(tu_tmp_path(log, sizeof log, "cascade-eval-refused.log"), args), 0);
    char *text = tu_read_file(log, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "cascade"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_then_train),
        cmocka_unit_test(test_run_cascade_learned),
        cmocka_unit_test(test_eval_cascade_learned),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
