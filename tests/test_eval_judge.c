/* test_eval_judge.c - the optional LLM judge for free-form answers: off by
 * default (rule-based normalised match), on with cfg.judge, and a failing
 * judge keeps the rule-based score and says why. Scripted in-process backends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "backend/scripted_backend.h"
#include "eval/judge.h"
#include "hybridflow/backend.h"
#include "hybridflow/eval.h"

static const char *write_text_dataset(void) {
    static char path[512];
    snprintf(path, sizeof path, "%s/text.jsonl", tu_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"id\": \"t1\", \"question\": \"What is the capital of France?\", \"answer\": \"Paris\", \"type\": \"text\"}\n");
    fprintf(f, "{\"id\": \"t2\", \"question\": \"What is the largest animal?\", \"answer\": \"blue whale\", \"type\": \"text\"}\n");
    fclose(f);
    return path;
}

static hflow_backend *scripted(const hflow_script_rule *rules, int n) {
    hflow_scripted_config c = {.rules = rules, .n_rules = n};
    hflow_backend *b = NULL;
    hflow_error err;
    assert_int_equal(hflow_scripted_backend_create(&c, &b, &err), 0);
    return b;
}

/* Runs method "edge" and returns the results of t1, t2 in order. */
static void run(hflow_backend *edge, hflow_backend *judge, const char *tag, hflow_eval_result res[2]) {
    hflow_eval_dataset ds;
    hflow_error err;
    assert_int_equal(hflow_eval_dataset_load(write_text_dataset(), NULL, &ds, &err), 0);
    char out[600];
    snprintf(out, sizeof out, "%s/judge-%s", tu_tmpdir(), tag);
    hflow_eval_run_config cfg;
    hflow_eval_run_config_default(&cfg);
    cfg.dataset = &ds;
    cfg.methods = "edge";
    cfg.edge = edge;
    cfg.cloud = edge;
    cfg.judge = judge;
    cfg.out_dir = out;
    hflow_eval_run_stats st;
    if (hflow_eval_run(&cfg, &st, &err)) fail_msg("%s", err.message);
    char path[700];
    snprintf(path, sizeof path, "%s/edge.jsonl", out);
    hflow_eval_result *r = NULL;
    size_t n = 0;
    assert_int_equal(hflow_eval_results_load(path, &r, &n, &err), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) res[!strcmp(r[i].id, "t2")] = r[i];
    free(r);
    hflow_eval_dataset_free(&ds);
}

static const hflow_script_rule EDGE[] = {
    {.match = "capital", .reply = "Let me think. The capital is the city of Paris, France."},
    {.match = "largest", .reply = "The largest animal is the elephant."},
};

static void test_rules_without_judge(void **state) {
    (void)state;
    hflow_backend *edge = scripted(EDGE, 2);
    hflow_eval_result r[2];
    run(edge, NULL, "off", r);
    /* a sentence is not the normalised gold text: the rule-based match says no */
    assert_int_equal(r[0].correct, 0);
    assert_int_equal(r[1].correct, 0);
    hflow_backend_free(edge);
}

static void test_judge_grades_free_form(void **state) {
    (void)state;
    hflow_backend *edge = scripted(EDGE, 2);
    /* the judge sees the response in its prompt and grades it */
    const hflow_script_rule jr[] = {
        {.match = "Paris, France", .reply = "The response names Paris.\nScore: 10"},
        {.match = "elephant", .reply = "An elephant is not a blue whale.\nScore: 0"},
    };
    hflow_backend *judge = scripted(jr, 2);
    hflow_eval_result r[2];
    run(edge, judge, "on", r);
    assert_int_equal(r[0].correct, 1);
    assert_true(r[0].score == 1.0);
    assert_string_equal(r[0].extracted, "judge:correct");
    assert_int_equal(r[1].correct, 0);
    assert_string_equal(r[1].extracted, "judge:incorrect");
    hflow_scripted_call calls[4];
    assert_int_equal(hflow_scripted_backend_calls(judge, calls, 4), 2);
    hflow_backend_free(judge);
    hflow_backend_free(edge);
}

static void test_failing_judge_keeps_rule_score(void **state) {
    (void)state;
    hflow_backend *edge = scripted(EDGE, 2);
    const hflow_script_rule jr[] = {{.match = NULL, .reply = "x", .fail_code = HFLOW_ENET}};
    hflow_backend *judge = scripted(jr, 1);
    hflow_eval_result r[2];
    run(edge, judge, "fail", r);
    assert_int_equal(r[0].correct, 0);
    assert_non_null(strstr(r[0].extracted, "judge failed"));
    assert_string_equal(r[0].error, ""); /* the answer itself is not lost */
    hflow_backend_free(judge);
    hflow_backend_free(edge);
}

static void test_parse_score(void **state) {
    (void)state;
    double q = -1;
    assert_int_equal(ev_judge_parse_score("reasoning Score: 3 ... final Score: 10", &q), 0);
    assert_true(q == 1.0);
    assert_int_equal(ev_judge_parse_score("Score: **7**", &q), 0);
    assert_true(q > 0.69 && q < 0.71);
    assert_int_equal(ev_judge_parse_score("Score: 42", &q), 0);
    assert_true(q == 1.0); /* clamped */
    assert_int_equal(ev_judge_parse_score("no verdict here", &q), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_without_judge),
        cmocka_unit_test(test_judge_grades_free_form),
        cmocka_unit_test(test_failing_judge_keeps_rule_score),
        cmocka_unit_test(test_parse_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
