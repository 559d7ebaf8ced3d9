/* test_router_cli.c - `hybridflow train-router` end to end on a small replay
 * file and a small profile file: trains, reports held-out metrics, writes a
 * router that loads and decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"
#include "hybridflow/router.h"

static int run(const char *args, char *out, size_t cap) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", tu_cli_path(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The edge fails exactly the questions that mention "integral". */
static void write_replay(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 400; i++) {
        int hard = i % 3 == 0;
        fprintf(f, "{\"id\": \"%d\", \"category\": \"%s\", \"question\": \"%s question number %d about things\", "
                   "\"models\": {\"E\": {\"correct\": %s, \"response_words\": 20}, "
                   "\"C\": {\"correct\": true, \"response_words\": 60}, "
                   "\"A\": {\"correct\": %s, \"response_words\": 9}}}\n",
                i, i % 2 ? "math" : "law", hard ? "compute the integral" : "name the", i, hard ? "false" : "true",
                hard ? "false" : "true");
    }
    fclose(f);
}

static void test_train_router_query_level(void **state) {
    (void)state;
    char data[512], out[512], args[2048], text[8192];
    snprintf(data, sizeof data, "%s/cli-replay.jsonl", tu_tmpdir());
    snprintf(out, sizeof out, "%s/cli-router.gguf", tu_tmpdir());
    write_replay(data);
    snprintf(args, sizeof args,
             "train-router --data %s --edge E --cloud C --out %s --hash-dim 128 --hidden 8 --lr 1e-2 "
             "--lambda-k 0.005 --seed 3",
             data, out);
    int rc = run(args, text, sizeof text);
    print_message("%s", text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "router     APGR"));
    assert_non_null(strstr(text, "category   APGR"));
    double apgr = 0;
    const char *p = strstr(text, "router     APGR");
    assert_int_equal(sscanf(p, "router APGR %lf", &apgr), 1);
    /* The rule is in the words: the oracle's APGR here is 1 - hard share / 2 ~ 0.8. */
    assert_true(apgr > 0.75);
    hflow_router *r = NULL;
    assert_int_equal(hflow_router_load(out, &r, NULL), 0);
    hflow_route_features f = {.question = "compute the integral question number 999 about things", .task_type = "math",
                              .step_index = -1, .edge_confidence = -1};
    hflow_route_decision d;
    assert_int_equal(hflow_router_decide(r, &f, NULL, 0, 0, &d, NULL), 0);
    assert_int_equal(d.tier, HFLOW_TIER_CLOUD);
    f.question = "name the question number 999 about things";
    assert_int_equal(hflow_router_decide(r, &f, NULL, 0, 0, &d, NULL), 0);
    assert_int_equal(d.tier, HFLOW_TIER_EDGE);
    hflow_router_free(r);
}

/* Model selection with the tiers objective and auxiliary targets: reports on
 * a validation split of the train ids and says the test ids were not used. */
static void test_train_router_tiers_selection(void **state) {
    (void)state;
    char data[512], out[512], args[2048], text[8192];
    snprintf(data, sizeof data, "%s/cli-replay-t.jsonl", tu_tmpdir());
    snprintf(out, sizeof out, "%s/cli-router-t.gguf", tu_tmpdir());
    write_replay(data);
    snprintf(args, sizeof args,
             "train-router --data %s --edge E --cloud C --out %s --hash-dim 128 --hidden 8 --lr 1e-2 "
             "--objective tiers --aux-weight 1 --ensemble 2 --select-on-val 0.3 --seed 2",
             data, out);
    int rc = run(args, text, sizeof text);
    print_message("%s", text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "auxiliary targets: 1 other models' outcomes"));
    assert_non_null(strstr(text, "test ids unused"));
    const char *p = strstr(text, "selection (val from train ids): ");
    assert_non_null(p);
    size_t n_val = 0;
    assert_int_equal(sscanf(p, "selection (val from train ids): %zu queries", &n_val), 1);
    assert_true(n_val > 40 && n_val < 130); /* ~0.3 of the ~280 train ids */
    p = strstr(text, "router     APGR");
    assert_non_null(p);
    double apgr = 0;
    assert_int_equal(sscanf(p, "router APGR %lf", &apgr), 1);
    assert_true(apgr > 0.75);
    /* Cost lambdas make no sense for the tiers objective: refused. */
    snprintf(args, sizeof args, "train-router --data %s --edge E --cloud C --out %s --objective tiers --lambda-k 0.1",
             data, out);
    assert_int_equal(run(args, text, sizeof text), 1);
}

static void test_train_router_subtask_level(void **state) {
    (void)state;
    char data[512], out[512], args[2048], text[8192];
    snprintf(data, sizeof data, "%s/cli-profile.jsonl", tu_tmpdir());
    snprintf(out, sizeof out, "%s/cli-sub.gguf", tu_tmpdir());
    FILE *f = fopen(data, "w");
    assert_non_null(f);
    for (int i = 0; i < 300; i++) {
        int hard = (i % 7) >= 4;
        fprintf(f, "{\"qid\": \"q%d\", \"question\": \"question %d\", \"task\": \"%s step\", \"step_index\": %d, "
                   "\"n_steps\": 3, \"difficulty\": %d, \"edge\": {\"quality\": %d, \"latency_s\": 1}, "
                   "\"cloud\": {\"quality\": 1, \"latency_s\": 2, \"tokens\": 100}}\n",
                i / 3, i / 3, hard ? "prove" : "restate", i % 3, hard ? 8 : 2, hard ? 0 : 1);
    }
    fclose(f);
    snprintf(args, sizeof args,
             "train-router --level subtask --data %s --out %s --hash-dim 64 --hidden 8 --lr 1e-2 --lambda-k 0.005",
             data, out);
    int rc = run(args, text, sizeof text);
    print_message("%s", text);
    assert_int_equal(rc, 0);
    const char *p = strstr(text, "decisions agree");
    assert_non_null(p);
    double agree = atof(p - 6);
    assert_true(agree > 0.9);
    assert_int_equal(run("train-router --data x.jsonl", text, sizeof text), 2);
    assert_int_equal(run("train-router --data /nonexistent.jsonl --edge E --cloud C --out /tmp/x.gguf", text,
                         sizeof text), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_router_query_level),
        cmocka_unit_test(test_train_router_tiers_selection),
        cmocka_unit_test(test_train_router_subtask_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
