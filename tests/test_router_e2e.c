/* test_router_e2e.c - subtask-level learned routing end to end on two local
 * tiers, through the real CLI: `hybridflow profile` on a few MMLU-STEM
 * questions (edge stories260K, cloud a `gen-model` llama with its vocabulary,
 * both in-process), `train-router --level subtask`, then the learned policy in
 * `run` (two cloud token budgets), in the server's virtual model and in
 * `eval` live; and a query-level router file in `eval replay`.
 *
 * What is checked: every cloud budget holds; every step's decision in the
 * JSONL trace carries the router's score, its threshold and the budget state,
 * the threshold is delta_t of the documented formula for that budget state and
 * the tier is score > threshold; the router sends some steps to each tier; and
 * with the same router a tighter budget raises the thresholds and lowers the
 * share of steps routed to the cloud.
 *
 * The labels of two tiny models are noise (neither answers a STEM question),
 * so the router is trained with lambda_k > 0 (cloud tokens cost) and
 * calibrated to send half of the profiled steps to the cloud; the runs use the
 * profiled questions with --plan-first, so they see the very features of the
 * profile and the calibrated split carries over. Everything is greedy and
 * sequential, so both budget runs see the same plans and scores. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_proc.h"
#include "e2e.h"
#include "http_client.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"
#include "testutil.h"

/* Questions profiled and run: with fewer, no query may hold two cloud-routed
 * steps, and then no budget can move a decision (the budget is per query). */
#define N_Q 3
#define LOOSE_TOKENS 1000000  /* a cap that never binds (ratio ~ 0) */
#define TIGHT_TOKENS 2000     /* room for about one cloud step call */

static hflow_eval_dataset ds;
static char ds_path[1024];
static int have_data;
static char profile[512], router_path[512];
static hflow_router *router; /* the trained file, loaded: thresholds to check the traces against */

#define REQUIRE_DATA()                                                                    \
    do {                                                                                  \
        if (!have_data) {                                                                 \
            print_message("skipped: datasets/MMLU-STEM.json not found under ../shared\n"); \
            skip();                                                                       \
        }                                                                                 \
        if (!router) skip(); /* the profile/train test failed */                          \
    } while (0)

/* ---- checks on one routed call record (trace JSONL or the server's extension) ---- */

typedef struct routed {
    double score, threshold;
    int cloud;        /* routed to the cloud */
} routed;

/* The learned decision of one step: score, threshold and budget are present,
 * the threshold is delta_t for that budget state, the tier is s > delta_t. */
static routed check_learned_call(const cJSON *call) {
    assert_string_equal(tu_jstr(call, "route_reason"), "learned");
    routed r = {tu_jnum(call, "route_score"), tu_jnum(call, "route_threshold"), 0};
    const cJSON *b = tu_jget(call, "budget");
    hflow_budget_state bs = {tu_jnum(b, "tokens_ratio"), tu_jnum(b, "usd_ratio"), tu_jnum(b, "latency_ratio")};
    assert_float_equal(r.threshold, hflow_router_threshold(router, &bs), 1e-6);
    const char *routed_tier = tu_jstr(call, "routed_tier");
    r.cloud = !strcmp(routed_tier, "cloud");
    assert_int_equal(r.cloud, r.score > r.threshold);
    /* A step never reaches the cloud unless the router sent it there. */
    if (!strcmp(tu_jstr(call, "tier"), "cloud")) assert_true(r.cloud);
    return r;
}

/* A run's trace line: the cap held (counted both by the budget and call by call). */
static void check_budget(const cJSON *q, long cap) {
    assert_int_equal((long)tu_jnum(tu_jget(tu_jget(q, "totals"), "limits"), "cloud_tokens"), cap);
    tu_check_trace_cloud_budget(q, cap);
}

/* ---- setup ---- */

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = tu_router_e2e_data(ds_path, sizeof ds_path, N_Q, &ds);
    have_data = rc > 0;
    return rc < 0 ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_router_free(router);
    if (have_data) hflow_eval_dataset_free(&ds);
    curl_global_cleanup();
    return 0;
}

/* ---- 1. profile -> train ---- */

static void test_profile_then_train(void **state) {
    (void)state;
    if (!have_data) {
        print_message("skipped: datasets/MMLU-STEM.json not found under ../shared\n");
        skip();
    }
    tu_tmp_path(profile, sizeof profile, "e2e-profile.jsonl");
    tu_tmp_path(router_path, sizeof router_path, "e2e-router.gguf");
    tu_profile_train(ds_path, N_Q, 0, profile, router_path);
    size_t n;
    cJSON **rows = tu_jsonl_read(profile, &n);
    assert_true(n >= N_Q); /* at least one step per question */
    for (size_t i = 0; i < n; i++) {
        /* Both tiers really ran the step (the engine's token counts). */
        assert_true(tu_jnum(tu_jget(rows[i], "edge"), "tokens") > 0);
        assert_true(tu_jnum(tu_jget(rows[i], "cloud"), "tokens") > 0);
        assert_true(tu_jnum(tu_jget(rows[i], "cloud"), "latency_s") > 0);
        assert_string_equal(tu_jstr(rows[i], "labeler"), "swap");
        assert_true(tu_jnum(rows[i], "n_steps") >= 1 && tu_jnum(rows[i], "n_steps") <= 3);
    }
    print_message("profile: %zu step rows over %d questions\n", n, N_Q);
    tu_jsonl_free(rows, n);

    hflow_error err;
    if (hflow_router_load(router_path, &router, &err)) fail_msg("router: %s", err.message);
}

/* ---- 2. run with the learned policy under two budgets ---- */

typedef struct run_stats {
    int steps, routed_cloud;
    double score[N_Q][3], threshold[N_Q][3];
    int n_steps[N_Q];
} run_stats;

static void run_budget(long cap, const char *trace, run_stats *st) {
    char log[512], capbuf[32], pol[600];
    snprintf(capbuf, sizeof capbuf, "%ld", cap);
    snprintf(pol, sizeof pol, "learned:%s", router_path);
    remove(trace);
    for (int q = 0; q < N_Q; q++) {
        const char *args[] = {"run", "--edge", e2e_edge_model(), "--cloud", e2e_cloud_model(), "--policy", pol,
                              "--budget-tokens", capbuf, "--max-steps", "3", "--max-step-tokens", "16",
                              "--answer-tokens", "16", "--plan-first", "--mode", "sequential", "--format", "option",
                              "--task-type", "letter", "--trace", trace, ds.items[q].question, NULL};
        assert_int_equal(tu_cli(tu_tmp_path(log, sizeof log, "run.log"), args), 0);
    }
    size_t n;
    cJSON **lines = tu_jsonl_read(trace, &n);
    assert_int_equal(n, N_Q);
    memset(st, 0, sizeof *st);
    for (int q = 0; q < N_Q; q++) {
        check_budget(lines[q], cap);
        const cJSON *steps = tu_jget(lines[q], "steps");
        st->n_steps[q] = cJSON_GetArraySize(steps);
        assert_true(st->n_steps[q] >= 1 && st->n_steps[q] <= 3);
        for (int i = 0; i < st->n_steps[q]; i++) {
            routed r = check_learned_call(tu_jget(cJSON_GetArrayItem(steps, i), "call"));
            st->score[q][i] = r.score;
            st->threshold[q][i] = r.threshold;
            st->routed_cloud += r.cloud;
            st->steps++;
        }
    }
    tu_jsonl_free(lines, n);
}

static void test_run_learned_budgets(void **state) {
    (void)state;
    REQUIRE_DATA();
    char tl[512], tt[512];
    run_stats loose, tight;
    run_budget(LOOSE_TOKENS, tu_tmp_path(tl, sizeof tl, "run-loose.jsonl"), &loose);
    run_budget(TIGHT_TOKENS, tu_tmp_path(tt, sizeof tt, "run-tight.jsonl"), &tight);
    hflow_router_decision_params p = hflow_router_params(router);
    print_message("delta0 %.4f alpha_B %.2f; steps routed to the cloud: %d of %d (cap %d tokens), %d of %d (cap %d)\n",
                  p.delta0, p.alpha_B, loose.routed_cloud, loose.steps, LOOSE_TOKENS, tight.routed_cloud, tight.steps,
                  TIGHT_TOKENS);
    /* The learned policy routes: some steps to each tier. */
    assert_true(loose.routed_cloud > 0);
    assert_true(loose.routed_cloud < loose.steps);
    /* Same plans and scores under both budgets; only delta_t moves with the budget ratio. */
    assert_int_equal(tight.steps, loose.steps);
    int raised = 0;
    for (int q = 0; q < N_Q; q++) {
        assert_int_equal(tight.n_steps[q], loose.n_steps[q]);
        for (int i = 0; i < loose.n_steps[q]; i++) {
            assert_float_equal(tight.score[q][i], loose.score[q][i], 1e-6);
            assert_true(tight.threshold[q][i] >= loose.threshold[q][i] - 1e-9);
            raised += tight.threshold[q][i] > loose.threshold[q][i] + 0.01;
        }
    }
    assert_true(raised > 0);
    /* ... and that lowers the cloud share. */
    assert_true(tight.routed_cloud < loose.routed_cloud);
}

/* ---- 3. the server's virtual model ---- */

static void test_serve_learned(void **state) {
    (void)state;
    REQUIRE_DATA();
    char pol[600], trace[512];
    snprintf(pol, sizeof pol, "learned:%s", router_path);
    tu_tmp_path(trace, sizeof trace, "serve-trace.jsonl");
    remove(trace);
    /* The tiers are the model files themselves (in-process). max_tokens caps the planner too, so
     * the plan is cut short and repaired into one step: one routed decision is all this needs. */
    const char *extra[] = {"--hybrid-edge", e2e_edge_model(), "--hybrid-cloud", e2e_cloud_model(), "--hybrid-policy",
                           pol, "--hybrid-max-steps", "3", "--hybrid-max-tokens", "24", "--hybrid-budget-tokens",
                           "100000", "--hybrid-trace", trace, NULL};
    tu_server srv;
    assert_int_equal(e2e_start(&srv, 2048, 1, extra), 0);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "model", "hybridflow");
    cJSON_AddNumberToObject(body, "max_tokens", 16);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "user");
    cJSON_AddStringToObject(msg, "content", ds.items[0].question);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "messages"), msg);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    char u[256];
    tu_http_reply r;
    int hrc = tu_http("POST", tu_server_url(&srv, "/v1/chat/completions", u, sizeof u), text, strlen(text), NULL, 0, &r);
    free(text);
    assert_int_equal(tu_server_stop(&srv), 0);
    assert_int_equal(hrc, 0);
    if (r.status != 200) fail_msg("status %ld: %s", r.status, r.body);
    cJSON *resp = cJSON_Parse(r.body);
    tu_http_reply_free(&r);
    assert_non_null(resp);
    const cJSON *plan = tu_jget(tu_jget(resp, "hybridflow"), "plan");
    int n = cJSON_GetArraySize(plan);
    assert_true(n >= 1);

    /* The trace line of the same query holds the same decisions. */
    size_t nl;
    cJSON **lines = tu_jsonl_read(trace, &nl);
    assert_int_equal(nl, 1);
    const cJSON *steps = tu_jget(lines[0], "steps");
    assert_int_equal(cJSON_GetArraySize(steps), n);
    check_budget(lines[0], 100000);
    for (int i = 0; i < n; i++) {
        routed a = check_learned_call(cJSON_GetArrayItem(plan, i));
        routed b = check_learned_call(tu_jget(cJSON_GetArrayItem(steps, i), "call"));
        assert_float_equal(a.score, b.score, 1e-9);
        assert_float_equal(a.threshold, b.threshold, 1e-9);
        assert_int_equal(a.cloud, b.cloud);
    }
    print_message("server: %d steps routed by the learned policy\n", n);
    tu_jsonl_free(lines, nl);
    cJSON_Delete(resp);
}

/* ---- 4. eval live ---- */

static void test_eval_live_learned(void **state) {
    (void)state;
    REQUIRE_DATA();
    char pol[600], out[512], log[512], path[700];
    snprintf(pol, sizeof pol, "learned:%s", router_path);
    tu_tmp_path(out, sizeof out, "eval-live");
    const char *args[] = {"eval", "--dataset", ds_path, "--limit", "2", "--methods", "hybridflow", "--policy", pol,
                          "--edge", e2e_edge_model(), "--cloud", e2e_cloud_model(), "--max-tokens", "24",
                          "--budget-tokens", "5000", "--out", out, "--no-plots", NULL};
    assert_int_equal(tu_cli(tu_tmp_path(log, sizeof log, "eval.log"), args), 0);
    snprintf(path, sizeof path, "%s/traces/hybridflow.jsonl", out);
    size_t n;
    cJSON **lines = tu_jsonl_read(path, &n);
    assert_int_equal(n, 2);
    int steps = 0;
    for (size_t q = 0; q < n; q++) {
        check_budget(lines[q], 5000);
        const cJSON *s;
        cJSON_ArrayForEach(s, tu_jget(lines[q], "steps")) {
            check_learned_call(tu_jget(s, "call"));
            steps++;
        }
    }
    assert_true(steps >= 2);
    tu_jsonl_free(lines, n);
    snprintf(path, sizeof path, "%s/hybridflow.jsonl", out);
    lines = tu_jsonl_read(path, &n);
    assert_int_equal(n, 2); /* one scored result per question */
    tu_jsonl_free(lines, n);
}

/* ---- 5. eval replay with a trained query-level router file ---- */

/* The value after `key` on the first line of `text` that starts with `line_start` (after spaces). */
static double figure(const char *text, const char *line_start, const char *key) {
    for (const char *p = text; p && *p;) {
        while (*p == ' ') p++;
        if (!strncmp(p, line_start, strlen(line_start))) {
            const char *k = key ? strstr(p, key) : p + strlen(line_start);
            const char *eol = strchr(p, '\n');
            if (k && (!eol || k < eol)) return strtod(k + (key ? strlen(key) : 0), NULL);
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    fail_msg("no '%s' line in:\n%s", line_start, text);
    return NAN;
}

static void test_eval_replay_learned(void **state) {
    (void)state;
    char file[1024], rq[512], log[512], log2[512], out[512], pol[600];
    if (!tu_shared_path(file, sizeof file, "datasets/mmlu-pro-replay-dev.jsonl")) {
        print_message("skipped: datasets/mmlu-pro-replay-dev.jsonl not found under ../shared\n");
        skip();
    }
    const char *edge = "Meta-Llama-3.1-8B-Instruct", *cloud = "gpt-4o-2024-05-13";
    tu_tmp_path(rq, sizeof rq, "replay-router.gguf");
    const char *train[] = {"train-router", "--data", file, "--edge", edge, "--cloud", cloud, "--out", rq, "--hash-dim",
                           "1024", "--test-frac", "0.3", "--target-cloud-share", "0.5", "--seed", "1", "--knn", "40",
                           NULL};
    assert_int_equal(tu_cli(tu_tmp_path(log, sizeof log, "train-q.log"), train), 0);
    snprintf(pol, sizeof pol, "learned:%s,category", rq);
    const char *replay[] = {"eval", "replay", "--file", file, "--edge", edge, "--cloud", cloud, "--policy", pol,
                            "--test-frac", "0.3", "--seed", "1", "--out", tu_tmp_path(out, sizeof out, "replay"), "--no-plots",
                            NULL};
    assert_int_equal(tu_cli(tu_tmp_path(log2, sizeof log2, "replay.log"), replay), 0);
    char *t1 = tu_read_file(log, NULL), *t2 = tu_read_file(log2, NULL);
    assert_non_null(t1);
    assert_non_null(t2);
    /* The same held-out split: eval's replay of the file scores what train-router reported. */
    double trained = figure(t1, "router", "APGR"), replayed = figure(t2, "learned", NULL);
    double category = figure(t2, "category", NULL), random = figure(t2, "random", NULL);
    print_message("replay APGR: learned %.4f (train-router %.3f), category %.4f, random %.4f\n", replayed, trained,
                  category, random);
    assert_float_equal(replayed, trained, 6e-4);
    assert_true(replayed > random + 0.03); /* the router learned something from the questions */
    free(t1);
    free(t2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_then_train),
        cmocka_unit_test(test_run_learned_budgets),
        cmocka_unit_test(test_serve_learned),
        cmocka_unit_test(test_eval_live_learned),
        cmocka_unit_test(test_eval_replay_learned),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
