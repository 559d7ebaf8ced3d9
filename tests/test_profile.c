/* test_profile.c - `hybridflow profile` logic over scripted tiers whose
 * behaviour makes exactly one step matter: the swap labels must single it
 * out, the request cache must make each variant cost only what changed
 * (counted on the backends), a rerun resumes, and the profile trains a
 * router (the train-router CLI) whose learned: policy then routes a live
 * query with its decisions and scores in the trace. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"
#include "backend/scripted_backend.h"
#include "hybridflow/eval.h"
#include "hybridflow/flow.h"
#include "hybridflow/route.h"
#include "hybridflow/router.h"

#define N_Q 8

/* 1 -> 2 -> 3; the aggregator sees every result. */
static const char *const PLAN =
    "<Plan>\n<Step ID=\"1\" Task=\"Restate the facts of the question\" Rely=\"\" Difficulty=\"2\" Token=\"40\"/>\n"
    "<Step ID=\"2\" Task=\"Derive the key quantity with careful algebra\" Rely=\"1\" Difficulty=\"7\" Token=\"60\"/>\n"
    "<Step ID=\"3\" Task=\"Check units and summarise\" Rely=\"2\" Difficulty=\"3\" Token=\"40\"/>\n</Plan>";

/* Only the cloud derives the key quantity; with it in the context even the
 * edge aggregator answers right (C); without it, it answers A. */
static void make_tiers(hflow_backend **edge, hflow_backend **cloud) {
    hflow_script_rule er[] = {{"You are a planner", PLAN, 1, 0, 0, 0},
                              {"Your step: Derive", "a rough guess", 1, 0, 0, 0},
                              {"Your step:", "edge notes", 1, 0, 0, 0},
                              {"KEY-FACT", "With the key quantity known, option C follows.\nAnswer: C", 1, 0, 0, 0},
                              {NULL, "Probably the first one.\nAnswer: A", 1, 0, 0, 0}};
    hflow_script_rule cr[] = {{"Your step: Derive", "KEY-FACT: the quantity is 42", 2, 0, 0, 0},
                              {"Your step:", "cloud notes", 2, 0, 0, 0},
                              {NULL, "Answer: C", 2, 0, 0, 0}};
    hflow_scripted_config ec = {"edge-model", er, 5, 0, 0, 0}, cc = {"cloud-model", cr, 3, 0, 0, 0};
    assert_int_equal(hflow_scripted_backend_create(&ec, edge, NULL), 0);
    assert_int_equal(hflow_scripted_backend_create(&cc, cloud, NULL), 0);
}

static const char *write_dataset(void) {
    static char path[512];
    snprintf(path, sizeof path, "%s/prof-questions.jsonl", tu_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < N_Q; i++)
        fprintf(f, "{\"id\": \"p%d\", \"question\": \"A body moves %d metres in %d seconds; which speed?\", "
                   "\"options\": [\"1 m/s\", \"2 m/s\", \"the derived value\", \"0\"], \"answer\": \"C\"}\n",
                i, 10 + i, 2 + i);
    fclose(f);
    return path;
}

static cJSON **read_rows(const char *path, size_t *n) {
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    cJSON **rows = calloc(256, sizeof *rows);
    *n = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        if (*p) {
            assert_true(*n < 256);
            assert_non_null(rows[*n] = cJSON_Parse(p));
            (*n)++;
        }
    }
    free(text);
    return rows;
}

static double num(const cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    assert_true(cJSON_IsNumber(x) || cJSON_IsBool(x));
    return cJSON_IsBool(x) ? cJSON_IsTrue(x) : x->valuedouble;
}

static int run_cli(const char *args, char *out, size_t cap) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", tu_cli_path(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char profile_path[512];

static void test_profile_swap_labels_and_cache(void **state) {
    (void)state;
    hflow_eval_dataset ds;
    assert_int_equal(hflow_eval_dataset_load(write_dataset(), NULL, &ds, NULL), 0);
    hflow_backend *edge, *cloud;
    make_tiers(&edge, &cloud);
    snprintf(profile_path, sizeof profile_path, "%s/profile.jsonl", tu_tmpdir());
    remove(profile_path);
    hflow_profile_config cfg;
    hflow_profile_config_default(&cfg);
    cfg.dataset = &ds;
    cfg.edge = edge;
    cfg.cloud = cloud;
    cfg.out_path = profile_path;
    hflow_profile_stats st;
    hflow_error err;
    int rc = hflow_profile_run(&cfg, &st, &err);
    if (rc) fail_msg("profile: %s", err.message);
    assert_int_equal(st.questions, N_Q);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.rows, 3 * N_Q);
    assert_float_equal(st.acc_all_edge, 0.0, 1e-9);
    assert_float_equal(st.acc_all_cloud, 1.0, 1e-9);
    /* Per question, with the cache (the aggregator stays on the edge):
     * all-edge: plan, s1, s2, s3, aggregate = 5 edge;
     * s1 swapped: 1 cloud, then s2 and the aggregate change (s3 sees only s2) = 2 edge;
     * s2 swapped: 1 cloud, s3 + aggregate = 2 edge; s3 swapped: 1 cloud + aggregate = 1 edge;
     * all-cloud: s1 is cached from its swap, s2 + s3 = 2 cloud, aggregate = 1 edge. */
    assert_int_equal(st.backend_calls[0], N_Q * (5 + 2 + 2 + 1 + 1));
    assert_int_equal(st.backend_calls[1], N_Q * (1 + 1 + 1 + 2));
    assert_int_equal(hflow_scripted_backend_calls(edge, NULL, 0), (int)st.backend_calls[0]);
    assert_int_equal(hflow_scripted_backend_calls(cloud, NULL, 0), (int)st.backend_calls[1]);

    size_t n;
    cJSON **rows = read_rows(profile_path, &n);
    assert_int_equal(n, 3 * N_Q);
    for (size_t i = 0; i < n; i++) {
        int step = (int)num(rows[i], "step_index", NULL);
        /* Only the derivation step changes the final answer when moved to the cloud. */
        assert_float_equal(num(rows[i], "edge", "quality"), 0.0, 1e-9);
        assert_float_equal(num(rows[i], "cloud", "quality"), step == 1 ? 1.0 : 0.0, 1e-9);
        assert_int_equal((int)num(rows[i], "n_deps", NULL), step == 0 ? 0 : 1);
        assert_int_equal((int)num(rows[i], "is_first", NULL), step == 0);
        assert_true(num(rows[i], "cloud", "tokens") > 0);
        assert_true(num(rows[i], "edge", "latency_s") > 0);
        const char *out = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(rows[i], "cloud"), "output"));
        assert_string_equal(out, step == 1 ? "KEY-FACT: the quantity is 42" : "cloud notes");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rows[i], "labeler")), "swap");
        cJSON_Delete(rows[i]);
    }
    free(rows);
    /* The router's own loader reads it. */
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    assert_int_equal(hflow_router_load_profile(profile_path, &d, &err), 0);
    assert_int_equal(d.n, 3 * N_Q);
    hflow_router_dataset_free(&d);

    /* A rerun finds every question in the file and calls nothing. */
    rc = hflow_profile_run(&cfg, &st, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(st.resumed, N_Q);
    assert_int_equal(st.rows, 0);
    assert_int_equal(st.backend_calls[0] + st.backend_calls[1], 0);
    edge->vt->destroy(edge);
    cloud->vt->destroy(cloud);
    hflow_eval_dataset_free(&ds);
}

/* The judge labeler: the judge's "Score: N" / 10 per tier's step output. */
static void test_profile_judge_labels(void **state) {
    (void)state;
    hflow_eval_dataset ds;
    assert_int_equal(hflow_eval_dataset_load(write_dataset(), NULL, &ds, NULL), 0);
    ds.n = 2;
    hflow_backend *edge, *cloud, *judge;
    make_tiers(&edge, &cloud);
    hflow_script_rule jr[] = {{"KEY-FACT", "Correct and useful.\nScore: 9", 1, 0, 0, 0},
                              {"cloud notes", "Fine.\nScore: 6", 1, 0, 0, 0},
                              {NULL, "Weak.\nScore: 2", 1, 0, 0, 0}};
    hflow_scripted_config jc = {"judge", jr, 3, 0, 0, 0};
    assert_int_equal(hflow_scripted_backend_create(&jc, &judge, NULL), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/profile-judge.jsonl", tu_tmpdir());
    remove(path);
    hflow_profile_config cfg;
    hflow_profile_config_default(&cfg);
    cfg.dataset = &ds;
    cfg.edge = edge;
    cfg.cloud = cloud;
    cfg.judge = judge;
    cfg.labeler = HFLOW_LABEL_JUDGE;
    cfg.out_path = path;
    hflow_profile_stats st;
    hflow_error err;
    int rc = hflow_profile_run(&cfg, &st, &err);
    if (rc) fail_msg("profile: %s", err.message);
    assert_int_equal(st.rows, 6);
    assert_int_equal(hflow_scripted_backend_calls(judge, NULL, 0), 2 * 6);
    size_t n;
    cJSON **rows = read_rows(path, &n);
    for (size_t i = 0; i < n; i++) {
        int step = (int)num(rows[i], "step_index", NULL);
        assert_float_equal(num(rows[i], "edge", "quality"), 0.2, 1e-9);
        assert_float_equal(num(rows[i], "cloud", "quality"), step == 1 ? 0.9 : 0.6, 1e-9);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rows[i], "labeler")), "judge");
        cJSON_Delete(rows[i]);
    }
    free(rows);
    edge->vt->destroy(edge);
    cloud->vt->destroy(cloud);
    judge->vt->destroy(judge);
    ds.n = N_Q;
    hflow_eval_dataset_free(&ds);
}

/* profile -> train-router (CLI) -> learned: policy routing a live query. */
static void test_profile_trains_router_that_routes(void **state) {
    (void)state;
    if (!profile_path[0]) skip();
    char router[512], args[2048], text[8192];
    snprintf(router, sizeof router, "%s/sub-router.gguf", tu_tmpdir());
    snprintf(args, sizeof args,
             "train-router --data %s --level subtask --out %s --hash-dim 256 --hidden 8 --act gelu --lr 1e-2 --epochs 200 "
             "--test-frac 0.25 --lambda-k 0 --lambda-t 0 --seed 1",
             profile_path, router);
    int rc = run_cli(args, text, sizeof text);
    print_message("%s", text);
    assert_int_equal(rc, 0);

    hflow_policy *pol;
    char spec[600];
    snprintf(spec, sizeof spec, "learned:%s", router);
    hflow_error err;
    rc = hflow_policy_create(spec, &pol, &err);
    if (rc) fail_msg("policy: %s", err.message);
    hflow_backend *edge, *cloud;
    make_tiers(&edge, &cloud);
    hflow_flow_config fc;
    hflow_flow_config_default(&fc);
    fc.edge = edge;
    fc.cloud = cloud;
    fc.policy = pol;
    fc.aggregate_tier = HFLOW_TIER_EDGE;
    fc.dispatch_while_planning = 0; /* the features the profile saw: the whole plan known */
    hflow_flow *f;
    assert_int_equal(hflow_flow_create(&fc, &f, NULL), 0);
    hflow_flow_result res;
    hflow_query_options qo = {HFLOW_FORMAT_OPTION, "letter", NULL};
    rc = hflow_flow_run(f, "A body moves 99 metres in 9 seconds; which speed?\nA. 1 m/s\nB. 2 m/s\nC. the derived value\nD. 0",
                        &qo, &res, &err);
    if (rc) fail_msg("run: %s", err.message);
    char trace[512];
    snprintf(trace, sizeof trace, "%s/learned-trace.jsonl", tu_tmpdir());
    FILE *tf = fopen(trace, "w");
    assert_non_null(tf);
    assert_int_equal(hflow_trace_write_jsonl(&res, tf, NULL), 0);
    fclose(tf);
    char *trace_text = tu_read_file(trace, NULL);
    assert_non_null(trace_text);
    cJSON *q = cJSON_Parse(trace_text);
    free(trace_text);
    assert_non_null(q);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(q, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 3);
    double score[3];
    for (int i = 0; i < 3; i++) {
        const cJSON *call = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(steps, i), "call");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call, "route_reason")), "learned");
        score[i] = num(call, "route_score", NULL);
        assert_true(isfinite(score[i]));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(call, "route_threshold")));
        print_message("step %d: score %.4f tier %s\n", i + 1, score[i],
                      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call, "tier")));
    }
    /* What the profile taught: the derivation step gains most from the cloud. */
    assert_true(score[1] > score[0] && score[1] > score[2]);
    cJSON_Delete(q);
    hflow_flow_result_clear(&res);
    hflow_flow_free(f);
    hflow_policy_free(pol);
    edge->vt->destroy(edge);
    cloud->vt->destroy(cloud);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_swap_labels_and_cache),
        cmocka_unit_test(test_profile_judge_labels),
        cmocka_unit_test(test_profile_trains_router_that_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
