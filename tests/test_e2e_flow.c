/* test_e2e_flow.c - the orchestrator over two tiers served by the real
 * `hybridflow serve` on loopback: the edge is stories260K (or a generated
 * stand-in), the cloud a `gen-model` random llama, both over the HTTP backend.
 *
 * - The real planner (the edge model writes whatever it writes; an unusable
 *   plan is repaired into a direct answer): an answer comes back, the trace
 *   holds the plan text, per-step tiers and tokens, and every call the trace
 *   counts reached the server (its /metrics request counter agrees).
 * - The real planner constrained by the server's plan grammar (the tiers are
 *   opened as our server's): a plan parsed without repair, steps on both tiers,
 *   the constraint in the trace; without the option no grammar is sent.
 * - A fixed four-step plan (a 260K model cannot write XML; the planner call
 *   alone is answered in-process by a wrapper, every step and the aggregator
 *   go over HTTP): steps are routed by difficulty to the two models and the
 *   trace shows tiers, models, tokens, dependency order, critical path.
 * - Faults: the cloud tier down (a closed port) and the cloud slow past the
 *   deadline (a fake server that never answers in time): an answer is still
 *   produced from the edge, and the trace says why. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "fake_server.h"
#include "hybridflow/backend.h"
#include "hybridflow/flow.h"
#include "testutil.h"

static tu_server server;
static int up;

/* Counted before the answer is sent (the request counter is bumped after it, so it may lag). */
#define GENERATIONS "hflow_generations_total"

/* ---- a planner that writes a fixed plan; everything else goes to the wrapped backend ---- */

static const char *fixed_plan =
    "<Plan>\n"
    "<Step ID=\"1\" Task=\"Restate the story request\" Rely=\"\" Difficulty=\"2\" Token=\"12\"/>\n"
    "<Step ID=\"2\" Task=\"Invent the hard twist\" Rely=\"1\" Difficulty=\"8\" Token=\"12\"/>\n"
    "<Step ID=\"3\" Task=\"Describe the cat\" Rely=\"1\" Difficulty=\"3\" Token=\"12\"/>\n"
    "<Step ID=\"4\" Task=\"Combine steps 2 and 3 into the story\" Rely=\"2,3\" Difficulty=\"4\" Token=\"12\"/>\n"
    "</Plan>\n";

typedef struct plan_wrap {
    hflow_backend *inner;
} plan_wrap;

static int is_planner_call(const hflow_request *req) {
    for (int i = 0; i < req->n_messages; i++)
        if (strstr(req->messages[i].content, "You are a planner")) return 1;
    return 0;
}

static int wrap_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    plan_wrap *w = b->impl;
    if (!is_planner_call(req)) return hflow_backend_complete(w->inner, req, resp, err);
    memset(resp, 0, sizeof *resp);
    if (req->on_delta) req->on_delta(req->user, fixed_plan, strlen(fixed_plan));
    resp->text = strdup(fixed_plan);
    snprintf(resp->finish_reason, sizeof resp->finish_reason, "stop");
    snprintf(resp->model, sizeof resp->model, "fixed-planner");
    resp->completion_tokens = (int32_t)(strlen(fixed_plan) / 4);
    return 0;
}

static void wrap_destroy(hflow_backend *b) {
    free(b->impl);
    free(b);
}

static const hflow_backend_vtable wrap_vt = {"plan-wrap", wrap_complete, wrap_destroy};

static hflow_backend *wrap_planner(hflow_backend *inner) {
    hflow_backend *b = calloc(1, sizeof *b);
    plan_wrap *w = calloc(1, sizeof *w);
    assert_non_null(b);
    assert_non_null(w);
    w->inner = inner;
    b->vt = &wrap_vt;
    b->impl = w;
    snprintf(b->name, sizeof b->name, "%s", hflow_backend_name(inner));
    snprintf(b->model, sizeof b->model, "%s", hflow_backend_model(inner));
    return b;
}

/* ---- setup ---- */

static hflow_backend *open_ep(const char *ep, int max_retries) {
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.max_retries = max_retries;
    o.backoff_base_s = 0.01;
    o.connect_timeout_s = 2;
    o.always_stream = 1;
    hflow_backend *b;
    hflow_error err;
    if (hflow_backend_open(ep, &o, &b, &err)) fail_msg("open %s: %s", ep, err.message);
    return b;
}

static hflow_backend *open_tier(const char *model) {
    char ep[256];
    return open_ep(e2e_endpoint(&server, model, ep, sizeof ep), 1);
}

/* Small answers keep the test fast; the structure is what is checked. */
static void small_config(hflow_flow_config *c) {
    hflow_flow_config_default(c);
    c->min_step_tokens = 8;
    c->max_step_tokens = 24;
    c->default_step_tokens = 16;
    c->planner_max_tokens = 48;
    c->aggregator_max_tokens = 24;
    c->retry_backoff_s = 0.01;
    c->cloud_concurrency = 2;
}

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    if (e2e_start(&server, 2048, 2, NULL)) return -1;
    up = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = up ? tu_server_stop(&server) : 0;
    curl_global_cleanup();
    return rc;
}

static void run(hflow_flow_config *c, const char *question, hflow_flow_result *res) {
    hflow_flow *f;
    hflow_error err;
    assert_int_equal(hflow_flow_create(c, &f, &err), 0);
    hflow_query_options qo = {HFLOW_FORMAT_FREE, NULL, NULL};
    int rc = hflow_flow_run(f, question, &qo, res, &err);
    if (rc) fail_msg("flow run: %s", err.message);
    hflow_flow_free(f);
    assert_non_null(res->answer);
}

/* The JSONL trace of a result, parsed. */
static cJSON *trace_of(const hflow_flow_result *r) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hflow_error err;
    assert_int_equal(hflow_trace_write_jsonl(r, f, &err), 0);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    assert_non_null(j);
    return j;
}

static int count_calls(const hflow_flow_result *r) { return r->usage[0].calls + r->usage[1].calls; }

/* ---- tests ---- */

static void test_real_planner_two_tiers(void **state) {
    (void)state;
    hflow_backend *edge = open_tier("edge"), *cloud = open_tier("cloud");
    hflow_policy *pol;
    hflow_error err;
    assert_int_equal(hflow_policy_create("difficulty:5", &pol, &err), 0);
    hflow_flow_config c;
    small_config(&c);
    c.edge = edge;
    c.cloud = cloud;
    c.policy = pol;
    double before = e2e_metric_sum(&server, GENERATIONS);
    hflow_flow_result r;
    run(&c, "Once upon a time there was a cat. What did the cat do?", &r);
    double after = e2e_metric_sum(&server, GENERATIONS);
    /* Every call the trace counts is a request the server saw. */
    assert_true(before >= 0);
    assert_int_equal((int)(after - before), count_calls(&r));
    assert_int_equal(r.planner.tier, HFLOW_TIER_EDGE);
    assert_string_equal(r.planner.model, "edge");
    assert_true(r.planner.completion_tokens > 0);
    assert_true(r.n_steps >= 1);
    for (int i = 0; i < r.n_steps; i++) {
        const hflow_step_record *s = &r.steps[i];
        assert_int_equal(s->state, HFLOW_STEP_DONE);
        assert_true(s->call.tier == HFLOW_TIER_EDGE || s->call.tier == HFLOW_TIER_CLOUD);
        assert_string_equal(s->call.model, s->call.tier == HFLOW_TIER_EDGE ? "edge" : "cloud");
        assert_true(s->call.prompt_tokens > 0 && s->call.completion_tokens > 0);
    }
    cJSON *t = trace_of(&r);
    cJSON *plan = cJSON_GetObjectItem(t, "plan");
    assert_string_equal(cJSON_GetObjectItem(plan, "text")->valuestring, r.plan_text);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "steps")), r.n_steps);
    cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "steps"), 0);
    cJSON *call = cJSON_GetObjectItem(s0, "call");
    assert_string_equal(cJSON_GetObjectItem(call, "tier")->valuestring, hflow_tier_name(r.steps[0].call.tier));
    assert_int_equal((int)cJSON_GetObjectItem(call, "prompt_tokens")->valuedouble, r.steps[0].call.prompt_tokens);
    cJSON_Delete(t);
    hflow_flow_result_clear(&r);
    hflow_policy_free(pol);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);
}

/* The planner's call is the real one, constrained by the server: the tiers
 * are opened as our server's (hybridflow_server), so the flow's plan grammar
 * travels in the request and stories260K writes a plan the parser takes as
 * is: no repair, no "answer directly" fallback. The first step is forced to
 * the cloud and the policy sends the rest to the edge, so steps run on both
 * tiers. Opened without the option, the same planner call carries no grammar. */
static void test_constrained_planner_over_http(void **state) {
    (void)state;
    if (!e2e_have_stories()) {
        print_message("skipped: models/stories260K.gguf not found under ../shared (the stand-in has no real vocabulary)\n");
        skip();
    }
    char tmpl[1024];
    snprintf(tmpl, sizeof tmpl, "%s/planner-short.txt", tu_tmpdir());
    FILE *tf = fopen(tmpl, "w");
    assert_non_null(tf);
    /* Short: the grammar, not the prompt, makes the plan. */
    fputs("Write a plan of at most {{max_steps}} steps for: {{question}}\n", tf);
    fclose(tf);
    char ep[256];
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.hybridflow_server = 1;
    o.always_stream = 1;
    o.max_retries = 1;
    hflow_backend *edge, *cloud;
    hflow_error err;
    assert_int_equal(hflow_backend_open(e2e_endpoint(&server, "edge", ep, sizeof ep), &o, &edge, &err), 0);
    assert_int_equal(hflow_backend_open(e2e_endpoint(&server, "cloud", ep, sizeof ep), &o, &cloud, &err), 0);
    hflow_policy *pol;
    assert_int_equal(hflow_policy_create("edge", &pol, &err), 0);
    hflow_flow_config c;
    small_config(&c);
    c.edge = edge;
    c.cloud = cloud;
    c.policy = pol;
    c.force_first_cloud = 1;
    c.max_steps = 3;
    c.planner_template_path = tmpl;
    c.planner_max_tokens = 700; /* a whole plan of 3 steps: ~550 stories260K tokens at most */
    double before = e2e_metric_sum(&server, GENERATIONS);
    hflow_flow_result r;
    run(&c, "Why do cats like boxes?", &r);
    double after = e2e_metric_sum(&server, GENERATIONS);
    assert_int_equal((int)(after - before), count_calls(&r));
    /* The plan: constrained on the server, parsed without repairs. */
    assert_string_equal(r.planner.grammar, "plan:3");
    assert_string_equal(r.planner.model, "edge");
    assert_int_equal(r.planner.tier, HFLOW_TIER_EDGE);
    if (r.n_repairs || r.n_steps < 2)
        fail_msg("plan: %d steps, %d repairs (%s): %s", r.n_steps, r.n_repairs, r.repair_log ? r.repair_log : "",
                 r.plan_text);
    assert_true(!strncmp(r.plan_text, "<Plan>\n<Step ID=\"1\" Task=\"", 26));
    assert_non_null(strstr(r.plan_text, "</Plan>"));
    assert_true(r.n_steps <= 3);
    int on[2] = {0, 0};
    for (int i = 0; i < r.n_steps; i++) {
        const hflow_step_record *s = &r.steps[i];
        assert_int_equal(s->plan_id, i + 1);
        assert_int_equal(s->state, HFLOW_STEP_DONE);
        /* The random-weight cloud model may end at once (greedy EOS): a call made, not a long answer. */
        assert_true(s->call.prompt_tokens > 0 && s->call.completion_tokens <= s->call.max_tokens);
        assert_string_equal(s->call.grammar, ""); /* only the planner is constrained */
        assert_string_equal(s->call.model, s->call.tier == HFLOW_TIER_CLOUD ? "cloud" : "edge");
        on[s->call.tier]++;
    }
    assert_int_equal(r.steps[0].call.tier, HFLOW_TIER_CLOUD);
    assert_true(on[HFLOW_TIER_EDGE] >= 1 && on[HFLOW_TIER_CLOUD] >= 1);
    print_message("constrained plan: %d steps (%d cloud, %d edge), critical path %d\n", r.n_steps,
                  on[HFLOW_TIER_CLOUD], on[HFLOW_TIER_EDGE], r.critical_path);
    /* The trace records the constraint, the plan and each step's tier. */
    cJSON *t = trace_of(&r);
    cJSON *plan = cJSON_GetObjectItem(t, "plan");
    assert_string_equal(cJSON_GetObjectItem(plan, "text")->valuestring, r.plan_text);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "call"), "grammar")->valuestring, "plan:3");
    assert_int_equal((int)cJSON_GetObjectItem(plan, "n_repairs")->valuedouble, 0);
    cJSON *steps = cJSON_GetObjectItem(t, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), r.n_steps);
    for (int i = 0; i < r.n_steps; i++) {
        cJSON *call = cJSON_GetObjectItem(cJSON_GetArrayItem(steps, i), "call");
        assert_string_equal(cJSON_GetObjectItem(call, "tier")->valuestring, hflow_tier_name(r.steps[i].call.tier));
        assert_null(cJSON_GetObjectItem(call, "grammar"));
    }
    cJSON_Delete(t);
    hflow_flow_result_clear(&r);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);

    /* Not told the server is ours: no grammar leaves the client. */
    o.hybridflow_server = 0;
    assert_int_equal(hflow_backend_open(e2e_endpoint(&server, "edge", ep, sizeof ep), &o, &edge, &err), 0);
    c.edge = edge;
    c.cloud = NULL;
    c.force_first_cloud = 0;
    c.planner_max_tokens = 24;
    run(&c, "Why do cats like boxes?", &r);
    assert_string_equal(r.planner.grammar, "");
    hflow_flow_result_clear(&r);
    hflow_backend_free(edge);
    hflow_policy_free(pol);
}

static void test_fixed_plan_routed_over_http(void **state) {
    (void)state;
    hflow_backend *http_edge = open_tier("edge"), *cloud = open_tier("cloud");
    hflow_backend *edge = wrap_planner(http_edge);
    hflow_policy *pol;
    hflow_error err;
    assert_int_equal(hflow_policy_create("difficulty:5", &pol, &err), 0);
    hflow_flow_config c;
    small_config(&c);
    c.edge = edge;
    c.cloud = cloud;
    c.policy = pol;
    double before = e2e_metric_sum(&server, GENERATIONS);
    hflow_flow_result r;
    run(&c, "Tell a story about a cat.", &r);
    double after = e2e_metric_sum(&server, GENERATIONS);
    assert_int_equal(r.n_steps, 4);
    assert_int_equal(r.n_repairs, 0);
    assert_int_equal(r.critical_path, 3);
    /* 4 steps + the aggregator went over HTTP; the plan did not. */
    assert_int_equal((int)(after - before), 5);
    assert_int_equal(count_calls(&r), 6);
    static const int want_tier[4] = {HFLOW_TIER_EDGE, HFLOW_TIER_CLOUD, HFLOW_TIER_EDGE, HFLOW_TIER_EDGE};
    for (int i = 0; i < 4; i++) {
        const hflow_step_record *s = &r.steps[i];
        assert_int_equal(s->state, HFLOW_STEP_DONE);
        assert_int_equal(s->call.tier, want_tier[i]);
        assert_int_equal(s->call.routed_tier, want_tier[i]);
        assert_string_equal(s->call.model, want_tier[i] == HFLOW_TIER_CLOUD ? "cloud" : "edge");
        assert_true(s->call.prompt_tokens > 0 && s->call.completion_tokens > 0);
        assert_true(s->call.completion_tokens <= s->call.max_tokens);
        assert_non_null(s->result);
    }
    /* Dependencies were respected: a step starts after the steps it relies on ended. */
    assert_true(r.steps[1].call.start_s >= r.steps[0].call.end_s);
    assert_true(r.steps[3].call.start_s >= r.steps[1].call.end_s);
    assert_true(r.steps[3].call.start_s >= r.steps[2].call.end_s);
    assert_int_equal(r.aggregator.tier, HFLOW_TIER_CLOUD);
    assert_int_equal(r.answer_source, 0);
    assert_true(r.usage[HFLOW_TIER_CLOUD].completion_tokens > 0 && r.cloud_share > 0 && r.cloud_share < 1);
    /* The Chrome trace is valid JSON with events on both tiers. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hflow_trace_write_chrome(&r, f, &err), 0);
    fclose(f);
    cJSON *ct = cJSON_Parse(buf);
    assert_non_null(ct);
    assert_non_null(strstr(buf, "\"cloud\""));
    assert_non_null(strstr(buf, "\"edge\""));
    cJSON_Delete(ct);
    free(buf);
    hflow_flow_result_clear(&r);
    hflow_policy_free(pol);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);
    hflow_backend_free(http_edge);
}

static void test_cloud_down_answers_from_edge(void **state) {
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1#cloud", fs_closed_port());
    hflow_backend *http_edge = open_tier("edge"), *cloud = open_ep(ep, 0);
    hflow_backend *edge = wrap_planner(http_edge);
    hflow_policy *pol;
    hflow_error err;
    assert_int_equal(hflow_policy_create("cloud", &pol, &err), 0);
    hflow_flow_config c;
    small_config(&c);
    c.edge = edge;
    c.cloud = cloud;
    c.policy = pol;
    c.step_retries = 0;
    hflow_flow_result r;
    run(&c, "Tell a story about a cat.", &r);
    assert_int_equal(r.n_steps, 4);
    for (int i = 0; i < 4; i++) {
        const hflow_call_record *call = &r.steps[i].call;
        assert_int_equal(r.steps[i].state, HFLOW_STEP_DONE);
        assert_int_equal(call->routed_tier, HFLOW_TIER_CLOUD);
        assert_int_equal(call->tier, HFLOW_TIER_EDGE);
        assert_string_equal(call->model, "edge");
        assert_true(call->fell_back);
        assert_non_null(strstr(call->note, "cloud attempt 1 failed"));
        assert_non_null(strstr(call->note, "fallback cloud->edge"));
        assert_true(call->completion_tokens > 0);
    }
    assert_int_equal(r.aggregator.routed_tier, HFLOW_TIER_CLOUD);
    assert_int_equal(r.aggregator.tier, HFLOW_TIER_EDGE);
    assert_true(r.aggregator.fell_back);
    assert_int_equal(r.answer_source, 0);
    assert_int_equal(r.usage[HFLOW_TIER_CLOUD].completion_tokens, 0);
    assert_true(r.usage[HFLOW_TIER_CLOUD].calls >= 5); /* one failed attempt per step and the aggregator */
    assert_true(r.cloud_share == 0);
    /* The JSONL trace carries the reasons. */
    cJSON *t = trace_of(&r);
    cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "steps"), 0);
    const char *note = cJSON_GetObjectItem(cJSON_GetObjectItem(s0, "call"), "note")->valuestring;
    assert_non_null(strstr(note, "fallback cloud->edge"));
    cJSON_Delete(t);
    hflow_flow_result_clear(&r);
    hflow_policy_free(pol);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);
    hflow_backend_free(http_edge);
}

/* The cloud accepts the connection and then says nothing until long after
 * the deadline: the hard step on it is cut at the deadline, the aggregator
 * cannot reach it either, and the answer comes from the last step the edge
 * finished, with the deadline and the cloud's failure in the trace. */
static void test_cloud_slow_past_deadline(void **state) {
    (void)state;
    fake_server *fs = fs_start();
    assert_non_null(fs);
    fs_script slow = {.body = "{}", .first_byte_delay_ms = 120000};
    fs_push_n(fs, &slow, 8);
    char ep[128];
    hflow_backend *http_edge = open_tier("edge"), *cloud = open_ep(fs_endpoint(fs, "cloud", ep, sizeof ep), 0);
    hflow_backend *edge = wrap_planner(http_edge);
    hflow_policy *pol;
    hflow_error err;
    assert_int_equal(hflow_policy_create("difficulty:5", &pol, &err), 0);
    hflow_flow_config c;
    small_config(&c);
    c.edge = edge;
    c.cloud = cloud;
    c.policy = pol;
    c.step_retries = 0;
    c.query_limits.deadline_s = 5;
    hflow_flow_result r;
    run(&c, "Tell a story about a cat.", &r);
    assert_true(r.deadline_hit);
    /* Step 2 (difficulty 8) went to the cloud and was cut by the deadline. */
    assert_int_equal(r.steps[1].call.routed_tier, HFLOW_TIER_CLOUD);
    assert_int_equal(r.steps[1].state, HFLOW_STEP_FAILED);
    assert_non_null(strstr(r.steps[1].call.note, "cloud attempt 1 failed"));
    /* The edge steps that did not wait for it finished. */
    assert_int_equal(r.steps[0].state, HFLOW_STEP_DONE);
    assert_int_equal(r.steps[0].call.tier, HFLOW_TIER_EDGE);
    assert_int_equal(r.steps[2].state, HFLOW_STEP_DONE);
    assert_int_equal(r.steps[2].call.tier, HFLOW_TIER_EDGE);
    /* Step 4 relies on step 2: it never ran before the deadline. */
    assert_true(r.steps[3].state == HFLOW_STEP_SKIPPED || r.steps[3].state == HFLOW_STEP_FAILED ||
                r.steps[3].call.tier == HFLOW_TIER_EDGE);
    /* The answer is edge text: the aggregator on the edge, or the last edge step. */
    if (r.answer_source == 1) {
        assert_non_null(strstr(r.aggregator.note, "answer taken from step"));
        int from = -1;
        for (int i = 0; i < 4; i++)
            if (r.steps[i].result && !strcmp(r.steps[i].result, r.answer)) from = i;
        assert_true(from >= 0);
        assert_int_equal(r.steps[from].call.tier, HFLOW_TIER_EDGE);
    } else {
        assert_int_equal(r.aggregator.tier, HFLOW_TIER_EDGE);
    }
    assert_int_equal(r.usage[HFLOW_TIER_CLOUD].completion_tokens, 0);
    hflow_flow_result_clear(&r);
    hflow_policy_free(pol);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);
    hflow_backend_free(http_edge);
    fs_stop(fs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_planner_two_tiers),
        cmocka_unit_test(test_constrained_planner_over_http),
        cmocka_unit_test(test_fixed_plan_routed_over_http),
        cmocka_unit_test(test_cloud_down_answers_from_edge),
        cmocka_unit_test(test_cloud_slow_past_deadline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
