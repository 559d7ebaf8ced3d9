/* test_flow_budget.c - price tables, budget reservations, the baseline routing
 * policies, and a randomized property test: over random plans, caps, reply
 * lengths and routing, the per-query and per-run caps are never exceeded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "backend/scripted_backend.h"
#include "flow/budget.h"
#include "hybridflow/flow.h"

static void test_price_table(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/prices.json", tu_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("{\"gpt-4o\": {\"input\": 2.5, \"output\": 10}, \"*\": {\"input\": 1, \"output\": 2}}", f);
    fclose(f);
    hflow_price_table *t;
    assert_int_equal(hflow_price_table_load(path, &t, NULL), 0);
    assert_true(fabs(hflow_price_cost(t, "gpt-4o", 1000000, 100000) - 3.5) < 1e-12);
    assert_true(fabs(hflow_price_cost(t, "other", 1000000, 1000000) - 3.0) < 1e-12);
    hflow_price_table_free(t);
    f = fopen(path, "w");
    fputs("{\"m\": {\"input\": \"cheap\"}}", f);
    fclose(f);
    hflow_error err;
    assert_int_equal(hflow_price_table_load(path, &t, &err), HFLOW_EFORMAT);
    assert_null(t);
    assert_int_equal(hflow_price_table_load("/nonexistent/prices.json", &t, &err), HFLOW_EIO);
}

static void test_reserve_shortens_then_refuses(void **state) {
    (void)state;
    hflow_budget_limits lim = {1000, 0, 0};
    hflow_budget *b;
    assert_int_equal(hflow_budget_create(&lim, &b, NULL), 0);
    hflow_budget *bs[2] = {b, NULL};
    flow_reservation r1, r2, r3;
    assert_int_equal(flow_budget_reserve(bs, 2, NULL, "m", 200, 500, 32, &r1), 500);
    assert_int_equal(flow_budget_reserve(bs, 2, NULL, "m", 200, 500, 32, &r2), 100); /* shortened */
    assert_int_equal(flow_budget_reserve(bs, 2, NULL, "m", 10, 500, 32, &r3), 0);   /* refused */
    hflow_budget_state st;
    hflow_budget_get_state(b, &st);
    assert_true(fabs(st.tokens_ratio - 1.0) < 1e-12);
    flow_budget_settle(&r1, NULL, "m", 50, 100);
    flow_budget_settle(&r2, NULL, "m", 50, 100);
    hflow_budget_usage u;
    hflow_budget_get_usage(b, &u);
    assert_int_equal(u.cloud_tokens, 300);
    assert_int_equal(u.reserved_tokens, 0);
    hflow_budget_free(b);
}

static void test_policies(void **state) {
    (void)state;
    hflow_policy *p;
    hflow_route_features f;
    memset(&f, 0, sizeof f);
    hflow_route_decision d;
    assert_int_equal(hflow_policy_create("cloud", &p, NULL), 0);
    hflow_policy_decide(p, &f, &d, NULL);
    assert_int_equal(d.tier, HFLOW_TIER_CLOUD);
    hflow_policy_free(p);
    assert_int_equal(hflow_policy_create("difficulty:6", &p, NULL), 0);
    f.difficulty = 6;
    hflow_policy_decide(p, &f, &d, NULL);
    assert_int_equal(d.tier, HFLOW_TIER_CLOUD);
    f.difficulty = 5;
    hflow_policy_decide(p, &f, &d, NULL);
    assert_int_equal(d.tier, HFLOW_TIER_EDGE);
    hflow_policy_free(p);
    /* random: deterministic per seed, and the rate follows P. */
    int seq[2][64], clouds = 0;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hflow_policy_create("random:0.3:42", &p, NULL), 0);
        for (int i = 0; i < 64; i++) {
            hflow_policy_decide(p, &f, &d, NULL);
            seq[k][i] = d.tier;
        }
        hflow_policy_free(p);
    }
    assert_memory_equal(seq[0], seq[1], sizeof seq[0]);
    assert_int_equal(hflow_policy_create("random:0.3:1", &p, NULL), 0);
    for (int i = 0; i < 2000; i++) {
        hflow_policy_decide(p, &f, &d, NULL);
        clouds += d.tier;
    }
    hflow_policy_free(p);
    assert_true(clouds > 500 && clouds < 700);
    hflow_error err;
    const char *bad[] = {"", "random", "random:1.5", "random:x", "difficulty:", "difficulty:4.5", "edgy", "random:0.1:2:3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(hflow_policy_create(bad[i], &p, &err), 0);
        assert_null(p);
    }
}

/* A random plan of n steps, each relying on some earlier ones. */
static char *random_plan(unsigned *seed, int n) {
    char *s = malloc(8192);
    size_t o = (size_t)sprintf(s, "<Plan>");
    for (int i = 1; i <= n; i++) {
        o += (size_t)sprintf(s + o, "<Step ID=\"%d\" Task=\"S%d\" Rely=\"", i, i);
        for (int j = 1; j < i; j++)
            if (rand_r(seed) % 3 == 0) o += (size_t)sprintf(s + o, "%d,", j);
        o += (size_t)sprintf(s + o, "\" Difficulty=\"%d\" Token=\"%d\"/>", 1 + rand_r(seed) % 9, rand_r(seed) % 600);
    }
    sprintf(s + o, "</Plan>");
    return s;
}

static void test_budgets_never_exceeded(void **state) {
    (void)state;
    unsigned seed = 12345;
    hflow_price_table *prices;
    assert_int_equal(hflow_price_table_create(&prices, NULL), 0);
    assert_int_equal(hflow_price_table_set(prices, "cloud-model", 3, 15, NULL), 0);
    hflow_budget_limits run_lim = {20000, 0.2, 0};
    hflow_budget *run_budget;
    assert_int_equal(hflow_budget_create(&run_lim, &run_budget, NULL), 0);
    int binding = 0;
    for (int iter = 0; iter < 24; iter++) {
        char *plan = random_plan(&seed, 1 + rand_r(&seed) % 8);
        hflow_script_rule pr = {NULL, plan, 0, 0, 0, 0};
        hflow_scripted_config pc = {"planner", &pr, 1, 64, 0, 0};
        /* Long replies: the cloud writes until max_tokens cuts it. */
        size_t reply_n = 200 + (size_t)(rand_r(&seed) % 6000);
        char *reply = malloc(reply_n + 1);
        memset(reply, 'x', reply_n);
        reply[reply_n] = '\0';
        hflow_script_rule cr = {NULL, reply, (double)(rand_r(&seed) % 3), 0, 0, 0};
        hflow_scripted_config cc = {"cloud-model", &cr, 1, 0, 0, 1 + rand_r(&seed) % 6};
        hflow_script_rule er = {NULL, "edge says hi", 0, 0, 0, 0};
        hflow_scripted_config ec = {"edge-model", &er, 1, 0, 0, 0};
        hflow_backend *planner, *cloud, *edge;
        assert_int_equal(hflow_scripted_backend_create(&pc, &planner, NULL), 0);
        assert_int_equal(hflow_scripted_backend_create(&cc, &cloud, NULL), 0);
        assert_int_equal(hflow_scripted_backend_create(&ec, &edge, NULL), 0);
        char spec[64];
        snprintf(spec, sizeof spec, "random:%.2f:%d", 0.3 + 0.7 * (rand_r(&seed) % 100) / 100.0, iter);
        hflow_policy *policy;
        assert_int_equal(hflow_policy_create(spec, &policy, NULL), 0);
        hflow_flow_config cfg;
        hflow_flow_config_default(&cfg);
        cfg.planner = planner;
        cfg.edge = edge;
        cfg.cloud = cloud;
        cfg.policy = policy;
        cfg.prices = prices;
        cfg.run_budget = run_budget;
        cfg.cloud_concurrency = 1 + rand_r(&seed) % 6;
        cfg.mode = rand_r(&seed) % 3;
        cfg.force_last_cloud = rand_r(&seed) % 2;
        cfg.query_limits.cloud_tokens = 100 + rand_r(&seed) % 4000;
        cfg.query_limits.usd = (rand_r(&seed) % 2) ? 0.0005 + (rand_r(&seed) % 100) * 0.0002 : 0;
        hflow_flow *f;
        assert_int_equal(hflow_flow_create(&cfg, &f, NULL), 0);
        hflow_flow_result res;
        hflow_error err;
        int rc = hflow_flow_run(f, "a question long enough to cost some prompt tokens on every call", NULL, &res, &err);
        assert_int_equal(rc, 0);
        int64_t cloud_tokens = res.usage[HFLOW_TIER_CLOUD].prompt_tokens + res.usage[HFLOW_TIER_CLOUD].completion_tokens;
        assert_true(cloud_tokens <= cfg.query_limits.cloud_tokens);
        assert_true(res.budget_used.cloud_tokens == cloud_tokens);
        if (cfg.query_limits.usd > 0) assert_true(res.usd <= cfg.query_limits.usd + 1e-12);
        for (int i = 0; i < res.n_steps; i++) binding += strstr(res.steps[i].call.note, "budget:") != NULL;
        binding += strstr(res.aggregator.note, "budget:") != NULL;
        hflow_flow_result_clear(&res);
        hflow_flow_free(f);
        hflow_policy_free(policy);
        planner->vt->destroy(planner);
        cloud->vt->destroy(cloud);
        edge->vt->destroy(edge);
        free(plan);
        free(reply);
        hflow_budget_usage ru;
        hflow_budget_get_usage(run_budget, &ru);
        assert_true(ru.cloud_tokens <= run_lim.cloud_tokens);
        assert_true(ru.usd <= run_lim.usd + 1e-12);
        assert_int_equal(ru.reserved_tokens, 0);
    }
    print_message("budget adjustments (shortened or sent to the edge): %d\n", binding);
    assert_true(binding > 0); /* the caps really were binding */
    hflow_budget_free(run_budget);
    hflow_price_table_free(prices);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_price_table),
        cmocka_unit_test(test_reserve_shortens_then_refuses),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_budgets_never_exceeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
