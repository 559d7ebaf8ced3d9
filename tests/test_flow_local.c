/* test_flow_local.c - the orchestrator end to end on the in-process engine:
 * edge and cloud are both local backends on stories260K (a model that cannot
 * write a plan by itself), the planner is held to the plan format by the
 * grammar, and the query yields an answer, a trace with the plan and each
 * step's tier, and budgets that hold. Also `hybridflow run` on its built-in
 * default (HYBRIDFLOW_MODELS) and its error when no model is found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"
#include "hybridflow/backend.h"
#include "hybridflow/flow.h"

static char stories[4096];

/* A short planner template: the real one is ~900 stories260K tokens, which
 * only makes the test slow (the grammar, not the prompt, makes the plan). */
static char tmpl[4096];

static int setup(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    if (p) snprintf(stories, sizeof stories, "%s", p);
    snprintf(tmpl, sizeof tmpl, "%s/planner-short.txt", tu_tmpdir());
    FILE *f = fopen(tmpl, "w");
    if (!f) fail_msg("cannot write %s", tmpl);
    fputs("Write a plan of at most {{max_steps}} steps for: {{question}}\n", f);
    fclose(f);
    return 0;
}

static hflow_backend *open_local(int n_parallel, uint64_t seed) {
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.seed = seed;
    o.n_threads = 1;
    o.n_parallel = n_parallel;
    hflow_backend *b;
    hflow_error err;
    if (hflow_backend_open(stories, &o, &b, &err)) fail_msg("%s", err.message);
    return b;
}

/* Returns the number of plan steps. */
static int run_query(uint64_t policy_seed, int64_t cloud_cap) {
    hflow_backend *edge = open_local(1, policy_seed), *cloud = open_local(2, policy_seed);
    hflow_error err;
    hflow_policy *pol;
    char spec[64];
    snprintf(spec, sizeof spec, "random:0.5:%llu", (unsigned long long)policy_seed);
    assert_int_equal(hflow_policy_create(spec, &pol, &err), 0);
    hflow_price_table *prices;
    assert_int_equal(hflow_price_table_create(&prices, &err), 0);
    assert_int_equal(hflow_price_table_set(prices, "stories260K", 1.0, 2.0, &err), 0);
    hflow_flow_config c;
    hflow_flow_config_default(&c);
    c.edge = edge;
    c.cloud = cloud;
    c.planner = edge;
    c.policy = pol;
    c.prices = prices;
    c.max_steps = 3;
    c.planner_template_path = tmpl;
    c.cloud_concurrency = 2;
    c.min_step_tokens = 8;
    c.max_step_tokens = 24;
    c.default_step_tokens = 16;
    c.planner_max_tokens = 700;
    c.aggregator_max_tokens = 32;
    c.query_limits.cloud_tokens = cloud_cap;
    c.query_limits.usd = 1.0;
    c.temperature = 0.8f; /* seeded by the backends' options: deterministic */
    hflow_flow *f;
    assert_int_equal(hflow_flow_create(&c, &f, &err), 0);
    hflow_flow_result r;
    if (hflow_flow_run(f, "Why do cats like boxes?", NULL, &r, &err)) fail_msg("%s", err.message);

    /* the plan: constrained, so well-formed and parsed without repairs */
    assert_true(!strncmp(r.plan_text, "<Plan>\n<Step ID=\"1\" Task=\"", 26));
    assert_non_null(strstr(r.plan_text, "</Plan>"));
    assert_true(r.n_steps >= 1 && r.n_steps <= 3);
    assert_int_equal(r.n_repairs, 0);
    assert_int_equal(r.planner.tier, HFLOW_TIER_EDGE);
    assert_string_equal(r.planner.model, "stories260K");
    for (int i = 0; i < r.n_steps; i++) {
        const hflow_step_record *s = &r.steps[i];
        assert_int_equal(s->plan_id, i + 1);
        assert_true(s->difficulty >= 1 && s->difficulty <= 9);
        assert_true(s->token_estimate >= 1);
        assert_int_equal(s->state, HFLOW_STEP_DONE);
        assert_true(s->call.tier == HFLOW_TIER_EDGE || s->call.tier == HFLOW_TIER_CLOUD);
        assert_true(s->call.completion_tokens >= 1 && s->call.completion_tokens <= s->call.max_tokens);
        assert_true(s->call.prompt_tokens > 0);
        assert_non_null(s->result);
        for (int d = 0; d < s->n_deps; d++) assert_true(s->deps[d] < i);
    }
    /* the answer, and the budgets */
    assert_non_null(r.answer);
    assert_true(r.answer[0] != '\0');
    int64_t cloud_tokens = r.usage[HFLOW_TIER_CLOUD].prompt_tokens + r.usage[HFLOW_TIER_CLOUD].completion_tokens;
    assert_true(cloud_tokens <= cloud_cap);
    assert_true(r.budget_used.cloud_tokens <= cloud_cap);
    assert_true(r.usd <= 1.0);
    assert_true(r.usage[HFLOW_TIER_EDGE].calls >= 1);
    /* the trace holds the plan and each step's tier */
    char path[4096];
    snprintf(path, sizeof path, "%s/flow-local-%llu.jsonl", tu_tmpdir(), (unsigned long long)policy_seed);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(hflow_trace_write_jsonl(&r, fp, &err), 0);
    fclose(fp);
    char *trace = tu_read_file(path, NULL);
    assert_non_null(trace);
    assert_non_null(strstr(trace, "<Plan>"));
    assert_non_null(strstr(trace, hflow_tier_name(r.steps[0].call.tier)));
    assert_non_null(strstr(trace, "stories260K"));
    print_message("seed %llu: %d steps (tiers:%s%s%s), cloud tokens %lld/%lld, answer from %s\n",
                  (unsigned long long)policy_seed, r.n_steps, hflow_tier_name(r.steps[0].call.tier),
                  r.n_steps > 1 ? " " : "", r.n_steps > 1 ? hflow_tier_name(r.steps[1].call.tier) : "",
                  (long long)cloud_tokens, (long long)cloud_cap, r.answer_source ? "a step" : "the aggregator");
    free(trace);
    int n_steps = r.n_steps;
    hflow_flow_result_clear(&r);
    hflow_flow_free(f);
    hflow_price_table_free(prices);
    hflow_policy_free(pol);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);
    return n_steps;
}

static void test_flow_both_tiers_local(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(stories[0], "models/stories260K.gguf");
    int steps = 0;
    steps += run_query(1, 100000);
    steps += run_query(4, 400); /* a tight cloud cap: calls shortened or moved to the edge, never over */
    print_message("%d steps in 2 plans\n", steps);
    assert_true(steps > 2); /* a plan with several steps (seeded: deterministic) */
}

static int run_cli(const char *env, const char *args, char *out, size_t cap) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s %s run --max-steps 2 --max-step-tokens 40 --answer-tokens 40 --planner-template '%s' %s 2>&1 </dev/null",
             env, tu_cli_path(), tmpl, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_default_models(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(stories[0], "models/stories260K.gguf");
    char dir[4096], env[8192];
    snprintf(dir, sizeof dir, "%s", stories);
    *strrchr(dir, '/') = '\0';
    snprintf(env, sizeof env, "HYBRIDFLOW_MODELS='%s'", dir);
    static char out[1 << 16];
    int rc = run_cli(env, "'What is two plus two?'", out, sizeof out);
    if (rc) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "stories260K.gguf"));
    assert_non_null(strstr(out, "cloud share"));
    assert_non_null(strstr(out, "step 1"));
}

static void test_cli_no_model(void **state) {
    (void)state;
    char env[8192];
    static char out[1 << 14];
    snprintf(env, sizeof env, "HYBRIDFLOW_EDGE= HYBRIDFLOW_CLOUD= HYBRIDFLOW_MODELS='%s/no-such-dir'", tu_tmpdir());
    assert_int_equal(run_cli(env, "'q'", out, sizeof out), 1);
    assert_non_null(strstr(out, "no models directory"));
    assert_non_null(strstr(out, "HYBRIDFLOW_MODELS"));
    snprintf(env, sizeof env, "HYBRIDFLOW_EDGE= HYBRIDFLOW_CLOUD= HYBRIDFLOW_MODELS='%s'", tu_tmpdir());
    assert_int_equal(run_cli(env, "'q'", out, sizeof out), 1);
    assert_non_null(strstr(out, "no .gguf model"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_both_tiers_local),
        cmocka_unit_test(test_cli_default_models),
        cmocka_unit_test(test_cli_no_model),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
