/* test_flow_cascade.c - cascade mode of the orchestrator on two in-process
 * tiers (edge stories260K, cloud a generated tiny llama): every step runs on
 * the edge with its confidence asked for, then the policy decides with it.
 *
 * Checked with the confidence:T baseline at two thresholds (escalate all, a
 * middle one): each step's record holds the edge attempt, its
 * confidence (exp of the engine's mean logprob), the decision and its
 * reason; escalated steps are answered by the cloud, kept ones by the edge;
 * per-tier call counts match; the confidences do not depend on T (greedy).
 * With a cloud budget too small for any escalation every step keeps its edge
 * answer and the cap holds. A confidence policy without cascade is refused,
 * and the JSONL trace carries the cascade record. A cascade router's policy
 * (HFLOW_POLICY_NEEDS_EDGE_ANSWER) sees each step's edge answer length, equal
 * to the edge attempt's recorded completion tokens, and is refused without
 * cascade. An edge that answers steps with nothing has every step escalated
 * without asking the policy. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/backend.h"
#include "hybridflow/flow.h"
#include "hybridflow/modelgen.h"

#define MAX_STEPS 3

static char stories[4096], cloud_path[4096], tmpl[4096];
static hflow_backend *edge, *cloud;

static int setup(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    if (!p) return 0;
    snprintf(stories, sizeof stories, "%s", p);
    hflow_error err;
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    snprintf(cloud_path, sizeof cloud_path, "%s/cascade-cloud.gguf", tu_tmpdir());
    if (hflow_gen_params_preset(&gp, "tiny", &err)) fail_msg("%s", err.message);
    gp.vocab_from = stories;
    if (hflow_gen_model(&gp, cloud_path, &err)) fail_msg("%s", err.message);
    snprintf(tmpl, sizeof tmpl, "%s/cascade-planner.txt", tu_tmpdir());
    FILE *f = fopen(tmpl, "w");
    if (!f) fail_msg("cannot write %s", tmpl);
    fputs("Write a plan of at most {{max_steps}} steps for: {{question}}\n", f);
    fclose(f);
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.n_threads = 1;
    if (hflow_backend_open(stories, &o, &edge, &err) || hflow_backend_open(cloud_path, &o, &cloud, &err))
        fail_msg("%s", err.message);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_backend_free(edge);
    hflow_backend_free(cloud);
    return 0;
}

static void config(hflow_flow_config *c, hflow_policy *pol, int64_t cloud_cap) {
    hflow_flow_config_default(c);
    c->edge = edge;
    c->cloud = cloud;
    c->planner = edge;
    c->policy = pol;
    c->cascade = 1;
    c->max_steps = MAX_STEPS;
    c->planner_template_path = tmpl;
    c->mode = HFLOW_SCHED_SEQUENTIAL;
    c->min_step_tokens = 8;
    c->max_step_tokens = 16;
    c->default_step_tokens = 16;
    c->planner_max_tokens = 400;
    c->aggregator_max_tokens = 16;
    c->aggregate_tier = HFLOW_TIER_EDGE;
    c->temperature = 0;
    c->query_limits.cloud_tokens = cloud_cap;
}

static const char *const QUESTIONS[] = {"Why do cats like boxes?", "How do birds find their way home?",
                                        "What should Tom do with a lost dog?"};
#define N_Q 3

static void run_q(const char *spec, int64_t cloud_cap, const char *question, hflow_flow_result *r) {
    hflow_error err;
    hflow_policy *pol;
    assert_int_equal(hflow_policy_create(spec, &pol, &err), 0);
    hflow_flow_config c;
    config(&c, pol, cloud_cap);
    hflow_flow *f;
    assert_int_equal(hflow_flow_create(&c, &f, &err), 0);
    if (hflow_flow_run(f, question, NULL, r, &err)) fail_msg("%s", err.message);
    hflow_flow_free(f);
    hflow_policy_free(pol);
}

static void run(const char *spec, int64_t cloud_cap, hflow_flow_result *r) { run_q(spec, cloud_cap, QUESTIONS[0], r); }

/* Every step: the edge attempt with a known confidence, and the decision. */
static int check_steps(const hflow_flow_result *r, double t, double *conf) {
    int escalated = 0;
    for (int i = 0; i < r->n_steps; i++) {
        const hflow_call_record *c = &r->steps[i].call;
        assert_int_equal(r->steps[i].state, HFLOW_STEP_DONE);
        assert_int_equal(c->cascade, 1);
        assert_int_equal(c->edge_confidence_known, 1);
        assert_true(c->edge_mean_logprob < 0);
        assert_true(c->edge_confidence == exp(c->edge_mean_logprob));
        assert_true(c->edge_completion_tokens > 0 && c->edge_prompt_tokens > 0);
        assert_true(c->edge_end_s > c->edge_start_s);
        assert_string_equal(c->route_reason, "confidence");
        /* the policy's score: the mean logprob back from the confidence it saw */
        assert_true(c->route_score == log(c->edge_confidence));
        assert_true(fabs(c->route_score - c->edge_mean_logprob) < 1e-12);
        int up = c->route_score < t;
        assert_int_equal(c->escalated, up);
        assert_int_equal(c->routed_tier, up ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE);
        assert_int_equal(c->tier, up ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE);
        assert_string_equal(c->model, up ? "cascade-cloud" : "stories260K");
        if (up) assert_true(c->start_s >= c->edge_end_s);
        else assert_true(c->completion_tokens == c->edge_completion_tokens);
        if (conf) conf[i] = c->edge_mean_logprob;
        escalated += up;
    }
    /* planner + every step + aggregator on the edge; escalations on the cloud */
    assert_int_equal(r->usage[HFLOW_TIER_EDGE].calls, r->n_steps + 2);
    assert_int_equal(r->usage[HFLOW_TIER_CLOUD].calls, escalated);
    return escalated;
}

/* Runs the questions under one threshold; returns the steps escalated and
 * stores every step's edge mean logprob (in order) in conf. */
static int run_all(double t, double *conf, int *n) {
    char spec[64];
    snprintf(spec, sizeof spec, "confidence:%.17g", t);
    int escalated = 0;
    *n = 0;
    for (int q = 0; q < N_Q; q++) {
        hflow_flow_result r;
        run_q(spec, 0, QUESTIONS[q], &r);
        escalated += check_steps(&r, t, conf + *n);
        *n += r.n_steps;
        hflow_flow_result_clear(&r);
    }
    return escalated;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_thresholds(void **state) {
    (void)state;
    if (!stories[0]) skip();
    double conf[N_Q * MAX_STEPS], again[N_Q * MAX_STEPS], sorted[N_Q * MAX_STEPS];
    int n, n2;
    int all = run_all(0, conf, &n);
    assert_int_equal(all, n); /* any answer short of certainty escalates */
    /* Between the lowest and the highest confidence: some kept, some escalated. */
    memcpy(sorted, conf, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    assert_true(sorted[0] < sorted[n - 1]);
    double mid = (sorted[0] + sorted[n - 1]) / 2;
    int k = run_all(mid, again, &n2);
    print_message("cascade: %d steps, mean logprobs %.3f..%.3f, %d escalated at T = %.3f\n", n, sorted[0],
                  sorted[n - 1], k, mid);
    assert_true(k > 0 && k < n);
    assert_int_equal(n2, n);
    assert_memory_equal(conf, again, sizeof(double) * (size_t)n); /* greedy: the same edge answers */
}

/* The budget cannot pay for any escalation: every step keeps its edge answer. */
static void test_budget_refuses_escalation(void **state) {
    (void)state;
    if (!stories[0]) skip();
    hflow_flow_result r;
    run("confidence:0", 20, &r);
    assert_true(r.n_steps >= 1);
    for (int i = 0; i < r.n_steps; i++) {
        const hflow_call_record *c = &r.steps[i].call;
        assert_int_equal(r.steps[i].state, HFLOW_STEP_DONE);
        assert_non_null(r.steps[i].result);
        assert_int_equal(c->tier, HFLOW_TIER_EDGE);
        assert_int_equal(c->routed_tier, HFLOW_TIER_CLOUD);
        assert_int_equal(c->escalated, 0);
        assert_non_null(strstr(c->note, "kept the edge answer"));
    }
    int64_t used = r.usage[HFLOW_TIER_CLOUD].prompt_tokens + r.usage[HFLOW_TIER_CLOUD].completion_tokens;
    assert_true(used <= 20);
    assert_true(r.budget_used.cloud_tokens <= 20);
    hflow_flow_result_clear(&r);
}

static void test_policy_needs_cascade(void **state) {
    (void)state;
    if (!stories[0]) skip();
    hflow_error err;
    hflow_policy *pol;
    assert_int_equal(hflow_policy_create("confidence:0.5", &pol, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_policy_create("confidence:x", &pol, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_policy_create("confidence:-1.5", &pol, &err), 0);
    assert_true(pol->flags & HFLOW_POLICY_NEEDS_CONFIDENCE);
    hflow_flow_config c;
    config(&c, pol, 0);
    c.cascade = 0;
    hflow_flow *f;
    assert_int_equal(hflow_flow_create(&c, &f, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "cascade"));
    hflow_policy_free(pol);
}

/* A policy that keeps every edge answer and records the answer length it saw per step. */
static double seen_tokens[MAX_STEPS];
static int answer_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    (void)p, (void)err;
    if (f->step_index >= 0 && f->step_index < MAX_STEPS) seen_tokens[f->step_index] = f->edge_answer_tokens;
    *out = (hflow_route_decision){HFLOW_TIER_EDGE, f->edge_answer_tokens, NAN, "recorded"};
    return 0;
}
static void answer_destroy(hflow_policy *p) { (void)p; }
static const hflow_policy_vtable answer_vt = {"answer-recorder", answer_decide, answer_destroy};

static void test_policy_sees_edge_answer(void **state) {
    (void)state;
    if (!stories[0]) skip();
    hflow_policy pol = {.vt = &answer_vt, .name = "answer-recorder", .flags = HFLOW_POLICY_NEEDS_EDGE_ANSWER};
    hflow_flow_config c;
    config(&c, &pol, 0);
    hflow_error err;
    hflow_flow *f;
    c.cascade = 0;
    assert_int_equal(hflow_flow_create(&c, &f, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "cascade"));
    c.cascade = 1;
    assert_int_equal(hflow_flow_create(&c, &f, &err), 0);
    for (int i = 0; i < MAX_STEPS; i++) seen_tokens[i] = -1;
    hflow_flow_result r;
    if (hflow_flow_run(f, QUESTIONS[1], NULL, &r, &err)) fail_msg("%s", err.message);
    assert_true(r.n_steps >= 1);
    for (int i = 0; i < r.n_steps; i++) {
        const hflow_call_record *k = &r.steps[i].call;
        assert_string_equal(k->route_reason, "recorded");
        assert_true(k->edge_completion_tokens > 0);
        assert_true(seen_tokens[i] == (double)k->edge_completion_tokens);
        assert_true(k->route_score == seen_tokens[i]);
    }
    hflow_flow_result_clear(&r);
    hflow_flow_free(f);
}

/* An edge whose planner calls go to stories260K and whose every other answer is empty. */
static int empty_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    for (int i = 0; i < req->n_messages; i++)
        if (strstr(req->messages[i].content, "Write a plan")) return hflow_backend_complete(b->impl, req, resp, err);
    memset(resp, 0, sizeof *resp);
    resp->text = strdup("");
    resp->prompt_tokens = 5;
    snprintf(resp->finish_reason, sizeof resp->finish_reason, "stop");
    snprintf(resp->model, sizeof resp->model, "empty-edge");
    return 0;
}
static void empty_destroy(hflow_backend *b) { (void)b; }
static const hflow_backend_vtable empty_vt = {"empty-edge", empty_complete, empty_destroy};

static void test_empty_edge_answer_escalates(void **state) {
    (void)state;
    if (!stories[0]) skip();
    hflow_backend empty = {.vt = &empty_vt, .name = "empty-edge", .model = "empty-edge", .impl = edge};
    hflow_error err;
    hflow_policy *pol;
    assert_int_equal(hflow_policy_create("confidence:-1000", &pol, &err), 0); /* would keep any answer it could score */
    hflow_flow_config c;
    config(&c, pol, 0);
    c.edge = &empty;
    c.planner = &empty;
    hflow_flow *f;
    assert_int_equal(hflow_flow_create(&c, &f, &err), 0);
    hflow_flow_result r;
    if (hflow_flow_run(f, QUESTIONS[2], NULL, &r, &err)) fail_msg("%s", err.message);
    assert_true(r.n_steps >= 1);
    for (int i = 0; i < r.n_steps; i++) {
        const hflow_call_record *k = &r.steps[i].call;
        assert_int_equal(k->cascade, 1);
        assert_int_equal(k->edge_completion_tokens, 0);
        assert_string_equal(k->route_reason, "cascade-empty-edge");
        assert_int_equal(k->escalated, 1);
        assert_int_equal(k->tier, HFLOW_TIER_CLOUD);
        assert_true(k->completion_tokens > 0);
    }
    assert_int_equal(r.usage[HFLOW_TIER_CLOUD].calls, r.n_steps);
    hflow_flow_result_clear(&r);
    hflow_flow_free(f);
    hflow_policy_free(pol);
}

static void test_trace_records_cascade(void **state) {
    (void)state;
    if (!stories[0]) skip();
    hflow_flow_result r;
    run("confidence:0", 0, &r);
    char path[4096];
    snprintf(path, sizeof path, "%s/cascade-trace.jsonl", tu_tmpdir());
    FILE *f = fopen(path, "w");
    hflow_error err;
    assert_int_equal(hflow_trace_write_jsonl(&r, f, &err), 0);
    fclose(f);
    char *text = tu_read_file(path, NULL);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    const cJSON *steps = cJSON_GetObjectItem(root, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), r.n_steps);
    for (int i = 0; i < r.n_steps; i++) {
        const cJSON *call = cJSON_GetObjectItem(cJSON_GetArrayItem(steps, i), "call");
        const cJSON *k = cJSON_GetObjectItem(call, "cascade");
        assert_non_null(k);
        assert_string_equal(cJSON_GetObjectItem(k, "decision")->valuestring, "escalated");
        assert_true(fabs(cJSON_GetObjectItem(k, "edge_mean_logprob")->valuedouble - r.steps[i].call.edge_mean_logprob) <
                    1e-12);
        assert_string_equal(cJSON_GetObjectItem(call, "tier")->valuestring, "cloud");
    }
    cJSON_Delete(root);
    free(text);
    /* The Chrome trace shows each escalated step's edge attempt on the edge lane too. */
    f = fopen(path, "w");
    assert_int_equal(hflow_trace_write_chrome(&r, f, &err), 0);
    fclose(f);
    text = tu_read_file(path, NULL);
    root = cJSON_Parse(text);
    assert_non_null(root);
    int edge_attempts = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, cJSON_GetObjectItem(root, "traceEvents")) {
        const cJSON *a = cJSON_GetObjectItem(ev, "args"), *st = a ? cJSON_GetObjectItem(a, "state") : NULL;
        if (cJSON_IsString(st) && !strcmp(st->valuestring, "escalated")) {
            assert_int_equal(cJSON_GetObjectItem(ev, "pid")->valueint, 2);
            edge_attempts++;
        }
    }
    assert_int_equal(edge_attempts, r.n_steps);
    cJSON_Delete(root);
    free(text);
    hflow_flow_result_clear(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_budget_refuses_escalation),
        cmocka_unit_test(test_policy_needs_cascade),
        cmocka_unit_test(test_policy_sees_edge_answer),
        cmocka_unit_test(test_empty_edge_answer_escalates),
        cmocka_unit_test(test_trace_records_cascade),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
