/* test_flow_sched.c - the orchestrator end to end over scripted backends whose
 * latencies are injected: completion-driven dispatch, makespan vs critical
 * path, waves and sequential ablations, streaming dispatch, per-tier limits,
 * fallback, deadlines, traces. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "backend/scripted_backend.h"
#include "hybridflow/flow.h"

/* 1 -> {2, 3}; 3 -> 4; 2 -> 5; {4, 5} -> 6. Latencies in ms below. */
static const char *const DAG_PLAN =
    "<think>ok</think><Plan>\n"
    "<Step ID=\"1\" Task=\"T1 restate\" Rely=\"\" Difficulty=\"2\" Token=\"40\"/>\n"
    "<Step ID=\"2\" Task=\"T2 long branch\" Rely=\"1\" Difficulty=\"7\" Token=\"100\"/>\n"
    "<Step ID=\"3\" Task=\"T3 short branch\" Rely=\"1\" Difficulty=\"3\" Token=\"60\"/>\n"
    "<Step ID=\"4\" Task=\"T4 after short\" Rely=\"3\" Difficulty=\"5\" Token=\"80\"/>\n"
    "<Step ID=\"5\" Task=\"T5 after long\" Rely=\"2\" Difficulty=\"4\" Token=\"80\"/>\n"
    "<Step ID=\"6\" Task=\"T6 combine\" Rely=\"4,5\" Difficulty=\"3\" Token=\"50\"/>\n"
    "</Plan>";
static const double LAT_MS[6] = {100, 200, 60, 150, 50, 80};
#define DAG_CRITICAL_MS (100 + 200 + 50 + 80)
#define DAG_SEQUENTIAL_MS (100 + 200 + 60 + 150 + 50 + 80)

static hflow_backend *make_tier(const char *model, double scale, int fail_code, double fail_latency_ms) {
    hflow_script_rule rules[8];
    memset(rules, 0, sizeof rules);
    char match[6][32];
    int n = 0;
    rules[n].match = "Write the final answer";
    rules[n].reply = "The result.\nAnswer: B";
    rules[n].latency_ms = 5;
    n++;
    for (int i = 0; i < 6; i++, n++) {
        snprintf(match[i], sizeof match[i], "Your step: T%d", i + 1);
        rules[n].match = match[i];
        rules[n].reply = "step result text";
        rules[n].latency_ms = fail_code ? fail_latency_ms : LAT_MS[i] * scale;
        rules[n].fail_code = fail_code;
    }
    hflow_scripted_config sc = {model, rules, n, 0, 0, 0};
    hflow_backend *b;
    assert_int_equal(hflow_scripted_backend_create(&sc, &b, NULL), 0);
    return b;
}

static hflow_backend *make_planner(const char *plan, double chunk_ms) {
    hflow_script_rule r = {NULL, plan, 0, 0, 0, 0};
    hflow_scripted_config sc = {"planner", &r, 1, 16, chunk_ms, 0};
    hflow_backend *b;
    assert_int_equal(hflow_scripted_backend_create(&sc, &b, NULL), 0);
    return b;
}

static void free_backend(hflow_backend *b) {
    if (b) b->vt->destroy(b);
}

typedef struct rig {
    hflow_backend *planner, *edge, *cloud;
    hflow_policy *policy;
    hflow_flow_config cfg;
} rig;

static void rig_init(rig *r, const char *policy, double chunk_ms) {
    memset(r, 0, sizeof *r);
    r->planner = make_planner(DAG_PLAN, chunk_ms);
    r->edge = make_tier("edge-model", 1, 0, 0);
    r->cloud = make_tier("cloud-model", 1, 0, 0);
    assert_int_equal(hflow_policy_create(policy, &r->policy, NULL), 0);
    hflow_flow_config_default(&r->cfg);
    r->cfg.planner = r->planner;
    r->cfg.edge = r->edge;
    r->cfg.cloud = r->cloud;
    r->cfg.policy = r->policy;
    r->cfg.aggregate_tier = HFLOW_TIER_EDGE;
}

static void rig_free(rig *r) {
    free_backend(r->planner);
    free_backend(r->edge);
    free_backend(r->cloud);
    hflow_policy_free(r->policy);
}

static void run_query(const hflow_flow_config *cfg, hflow_flow_result *res) {
    hflow_flow *f;
    hflow_error err;
    assert_int_equal(hflow_flow_create(cfg, &f, &err), 0);
    hflow_query_options qo = {HFLOW_FORMAT_OPTION, "mc", NULL};
    int rc = hflow_flow_run(f, "Which option is right?", &qo, res, &err);
    if (rc) print_message("run failed: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(res->answer);
    hflow_flow_free(f);
}

static double makespan(const hflow_flow_result *r) {
    double first = 1e9, last = 0;
    for (int i = 0; i < r->n_steps; i++) {
        if (r->steps[i].call.start_s < first) first = r->steps[i].call.start_s;
        if (r->steps[i].call.end_s > last) last = r->steps[i].call.end_s;
    }
    return last - first;
}

/* Steps that waited for a completion they did not depend on. Completion-driven
 * dispatch starts a step once its own dependencies are done, so no other
 * step's completion falls between its readiness and its start (cloud capacity
 * is not the limit here). This is judged by the ORDER of events, not by their
 * durations, so a loaded machine does not change the verdict, while waves
 * (waiting for the whole wave) and sequential mode violate it. With no
 * waiting, the makespan is the critical path: the timing itself is measured
 * and reported by bench/bench_flow.c, not asserted here. */
static int steps_that_waited(const hflow_flow_result *r) {
    int waited = 0;
    for (int i = 0; i < r->n_steps; i++) {
        const hflow_step_record *s = &r->steps[i];
        double ready = s->added_s;
        for (int m = 0; m < s->n_deps; m++)
            if (r->steps[s->deps[m]].call.end_s > ready) ready = r->steps[s->deps[m]].call.end_s;
        for (int j = 0; j < r->n_steps; j++) {
            if (j == i) continue;
            double e = r->steps[j].call.end_s;
            int is_dep = 0;
            for (int m = 0; m < s->n_deps; m++) is_dep |= s->deps[m] == j;
            if (!is_dep && e > ready && e < s->call.start_s) {
                waited++;
                break;
            }
        }
    }
    return waited;
}

static double run_mode(int mode, int *waited) {
    rig r;
    rig_init(&r, "cloud", 0);
    r.cfg.mode = mode;
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    assert_int_equal(res.n_steps, 6);
    assert_int_equal(res.critical_path, 4);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(res.steps[i].state, HFLOW_STEP_DONE);
        assert_int_equal(res.steps[i].call.tier, HFLOW_TIER_CLOUD);
        /* Never before its own dependencies are done. */
        for (int m = 0; m < res.steps[i].n_deps; m++)
            assert_true(res.steps[i].call.start_s >= res.steps[res.steps[i].deps[m]].call.end_s);
    }
    *waited = steps_that_waited(&res);
    double ms = makespan(&res) * 1e3;
    hflow_flow_result_clear(&res);
    rig_free(&r);
    return ms;
}

static void test_completion_vs_waves_vs_sequential(void **state) {
    (void)state;
    int w_completion, w_waves, w_seq;
    double completion = run_mode(HFLOW_SCHED_COMPLETION, &w_completion);
    double waves = run_mode(HFLOW_SCHED_WAVES, &w_waves);
    double seq = run_mode(HFLOW_SCHED_SEQUENTIAL, &w_seq);
    print_message("makespan ms (informational): completion %.1f (critical path %d ms), waves %.1f, sequential %.1f; "
                  "steps that waited for an unrelated completion: %d, %d, %d\n",
                  completion, DAG_CRITICAL_MS, waves, seq, w_completion, w_waves, w_seq);
    assert_int_equal(w_completion, 0);
    assert_true(w_waves > 0);
    assert_true(w_seq > 0);
}

static void test_streaming_dispatch(void **state) {
    (void)state;
    for (int streaming = 1; streaming >= 0; streaming--) {
        rig r;
        rig_init(&r, "edge", 10); /* the plan arrives 16 bytes every 10 ms */
        r.cfg.dispatch_while_planning = streaming;
        hflow_flow_result res;
        run_query(&r.cfg, &res);
        assert_int_equal(res.n_steps, 6);
        if (streaming)
            assert_true(res.steps[0].call.start_s < res.plan_done_s);
        else
            assert_true(res.steps[0].call.start_s >= res.plan_done_s);
        assert_true(res.steps[0].added_s < res.plan_done_s);
        hflow_flow_result_clear(&res);
        rig_free(&r);
    }
}

static void test_edge_concurrency_limit(void **state) {
    (void)state;
    rig r;
    rig_init(&r, "edge", 0);
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    hflow_scripted_call calls[32];
    int n = hflow_scripted_backend_calls(r.edge, calls, 32);
    assert_int_equal(n, 7); /* 6 steps + aggregator */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) /* edge limit 1: calls never overlap */
            assert_true(calls[j].start_s >= calls[i].end_s || calls[i].start_s >= calls[j].end_s);
    assert_int_equal(res.usage[HFLOW_TIER_CLOUD].calls, 0);
    assert_true(res.cloud_share == 0);
    hflow_flow_result_clear(&res);
    rig_free(&r);
}

static void test_fallback_when_cloud_fails(void **state) {
    (void)state;
    rig r;
    rig_init(&r, "cloud", 0);
    free_backend(r.cloud);
    r.cloud = make_tier("cloud-model", 1, HFLOW_ENET, 1);
    r.cfg.cloud = r.cloud;
    r.cfg.retry_backoff_s = 0.001;
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    for (int i = 0; i < res.n_steps; i++) {
        const hflow_call_record *c = &res.steps[i].call;
        assert_int_equal(res.steps[i].state, HFLOW_STEP_DONE);
        assert_int_equal(c->routed_tier, HFLOW_TIER_CLOUD);
        assert_int_equal(c->tier, HFLOW_TIER_EDGE);
        assert_int_equal(c->fell_back, 1);
        assert_true(c->retries >= 1);
        assert_non_null(strstr(c->note, "fallback cloud->edge"));
    }
    assert_string_equal(res.answer, "The result.\nAnswer: B");
    hflow_flow_result_clear(&res);
    rig_free(&r);
}

static void test_deadline_cloud_slow(void **state) {
    (void)state;
    rig r;
    rig_init(&r, "cloud", 0);
    free_backend(r.cloud);
    r.cloud = make_tier("cloud-model", 50, 0, 0); /* 5-10 s per step */
    r.cfg.cloud = r.cloud;
    r.cfg.call_timeout_s = 0.1;
    r.cfg.step_retries = 0;
    r.cfg.query_limits.deadline_s = 3;
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    for (int i = 0; i < res.n_steps; i++) {
        assert_int_equal(res.steps[i].call.tier, HFLOW_TIER_EDGE);
        assert_non_null(strstr(res.steps[i].call.note, "timeout"));
    }
    assert_int_equal(res.answer_source, 0);
    /* steps take 5-10 s: finishing well before that shows the timeouts and the
     * deadline cut them (a generous bound, so machine load cannot fail it) */
    assert_true(res.wall_s < 4.5);
    hflow_flow_result_clear(&res);

    /* Both tiers too slow for the deadline: steps are cut, an answer still comes. */
    free_backend(r.edge);
    r.edge = make_tier("edge-model", 50, 0, 0);
    r.cfg.edge = r.edge;
    r.cfg.call_timeout_s = 0;
    r.cfg.query_limits.deadline_s = 0.5;
    run_query(&r.cfg, &res);
    if (!res.deadline_hit) {
        for (int i = 0; i < res.n_steps; i++) print_message("step %d state %d note %s end %.3f\n", i, res.steps[i].state, res.steps[i].call.note, res.steps[i].call.end_s);
        print_message("wall %.3f\n", res.wall_s);
    }
    assert_int_equal(res.deadline_hit, 1);
    int cut = 0;
    for (int i = 0; i < res.n_steps; i++) cut += res.steps[i].state == HFLOW_STEP_SKIPPED || res.steps[i].state == HFLOW_STEP_FAILED;
    assert_int_equal(cut, res.n_steps);
    assert_string_equal(res.answer, "The result.\nAnswer: B");
    assert_true(res.wall_s < 4.5); /* not the 5-10 s the steps would take */
    hflow_flow_result_clear(&res);
    rig_free(&r);
}

static void test_empty_plan_answers_directly(void **state) {
    (void)state;
    rig r;
    rig_init(&r, "edge", 0);
    free_backend(r.planner);
    r.planner = make_planner("I am not sure how to plan this.", 0);
    r.cfg.planner = r.planner;
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    assert_int_equal(res.n_steps, 1);
    assert_string_equal(res.steps[0].task, "Answer the question directly.");
    assert_non_null(strstr(res.repair_log, "R9"));
    hflow_flow_result_clear(&res);
    rig_free(&r);
}

static void test_trace_outputs(void **state) {
    (void)state;
    rig r;
    rig_init(&r, "difficulty:5", 0);
    r.cfg.force_first_cloud = 1;
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    assert_int_equal(res.steps[0].call.tier, HFLOW_TIER_CLOUD);
    assert_string_equal(res.steps[0].call.route_reason, "forced-first");
    assert_int_equal(res.steps[1].call.tier, HFLOW_TIER_CLOUD); /* difficulty 7 */
    assert_int_equal(res.steps[2].call.tier, HFLOW_TIER_EDGE);  /* difficulty 3 */
    char path[512], cpath[512];
    snprintf(path, sizeof path, "%s/trace.jsonl", tu_tmpdir());
    snprintf(cpath, sizeof cpath, "%s/trace.json", tu_tmpdir());
    FILE *f = fopen(path, "w");
    assert_int_equal(hflow_trace_write_jsonl(&res, f, NULL), 0);
    assert_int_equal(hflow_trace_write_jsonl(&res, f, NULL), 0);
    fclose(f);
    f = fopen(cpath, "w");
    assert_int_equal(hflow_trace_write_chrome(&res, f, NULL), 0);
    fclose(f);

    char *text = tu_read_file(path, NULL);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_non_null(strchr(nl + 1, '\n')); /* two lines, one per query */
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    cJSON *steps = cJSON_GetObjectItem(j, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 6);
    cJSON *s1 = cJSON_GetArrayItem(steps, 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s1, "call"), "tier")->valuestring, "cloud");
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(s1, "call"), "prompt_tokens")->valuedouble > 0);
    cJSON *tot = cJSON_GetObjectItem(j, "totals");
    assert_int_equal((int)cJSON_GetObjectItem(tot, "critical_path")->valuedouble, 4);
    cJSON_Delete(j);
    free(text);

    text = tu_read_file(cpath, NULL);
    j = cJSON_Parse(text);
    assert_non_null(j);
    cJSON *evs = cJSON_GetObjectItem(j, "traceEvents");
    int lanes[5] = {0}, n_x = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, evs) {
        if (strcmp(cJSON_GetObjectItem(e, "ph")->valuestring, "X")) continue;
        n_x++;
        lanes[(int)cJSON_GetObjectItem(e, "pid")->valuedouble]++;
    }
    assert_int_equal(n_x, 8); /* plan + 6 steps + aggregate */
    assert_int_equal(lanes[1], 1);
    assert_true(lanes[2] > 0 && lanes[3] > 0);
    assert_int_equal(lanes[2] + lanes[3], 6);
    cJSON_Delete(j);
    free(text);
    hflow_flow_result_clear(&res);
    rig_free(&r);
}

typedef struct ev_log {
    int added, started, finished, done;
} ev_log;

static void on_progress(void *user, const hflow_flow_event *ev) {
    ev_log *l = user;
    l->added += ev->kind == HFLOW_EV_STEP_ADDED;
    l->started += ev->kind == HFLOW_EV_STEP_STARTED;
    l->finished += ev->kind == HFLOW_EV_STEP_FINISHED;
    l->done += ev->kind == HFLOW_EV_DONE;
}

static void test_progress_events(void **state) {
    (void)state;
    rig r;
    rig_init(&r, "random:0.5:7", 0);
    ev_log l = {0};
    r.cfg.progress = on_progress;
    r.cfg.progress_user = &l;
    hflow_flow_result res;
    run_query(&r.cfg, &res);
    assert_int_equal(l.added, 6);
    assert_int_equal(l.started, 6);
    assert_int_equal(l.finished, 6);
    assert_int_equal(l.done, 1);
    hflow_flow_result_clear(&res);
    rig_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_vs_waves_vs_sequential),
        cmocka_unit_test(test_streaming_dispatch),
        cmocka_unit_test(test_edge_concurrency_limit),
        cmocka_unit_test(test_fallback_when_cloud_fails),
        cmocka_unit_test(test_deadline_cloud_slow),
        cmocka_unit_test(test_empty_plan_answers_directly),
        cmocka_unit_test(test_trace_outputs),
        cmocka_unit_test(test_progress_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
