/* test_plan_dag.c - every DAG repair rule of dag.h, and critical paths. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "flow/dag.h"

static flow_raw_step raw(int id, const char *task, const char *rely) {
    flow_raw_step r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.task = task;
    for (const char *p = rely; p && *p;) {
        r.rely[r.n_rely++] = (int)strtol(p, (char **)&p, 10);
        while (*p == ',') p++;
    }
    return r;
}

static int add(flow_dag *d, int id, const char *task, const char *rely) {
    flow_raw_step r = raw(id, task, rely);
    return flow_dag_add(d, &r);
}

static int has_rule(const flow_dag *d, const char *rule) { return d->log.data && strstr(d->log.data, rule) != NULL; }

static void test_valid_plan_untouched(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 8);
    assert_int_equal(add(&d, 1, "restate", ""), 0);
    assert_int_equal(add(&d, 2, "a", "1"), 1);
    assert_int_equal(add(&d, 3, "b", "1"), 2);
    assert_int_equal(add(&d, 4, "c", "2,3"), 3);
    assert_int_equal(flow_dag_finish(&d), 0);
    assert_int_equal(d.n_repairs, 0);
    assert_int_equal(d.steps[3]->n_deps, 2);
    assert_int_equal(d.steps[3]->depth, 2);
    assert_int_equal(flow_dag_critical_path(&d), 3);
    double w[4] = {1, 5, 2, 1};
    assert_true(flow_dag_weighted_critical_path(&d, w) == 7.0);
    flow_dag_free(&d);
}

static void test_bad_references(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 8);
    add(&d, 1, "a", "");
    add(&d, 2, "b", "2,1,1,7");  /* self (R4), dup (R5), unknown (R3) */
    add(&d, 3, "c", "4");        /* forward reference: unknown now (R3) */
    add(&d, 4, "d", "3");
    assert_true(has_rule(&d, "R4 step 2"));
    assert_true(has_rule(&d, "R5 step 2"));
    assert_true(has_rule(&d, "R3 step 2"));
    assert_true(has_rule(&d, "R3 step 3"));
    assert_int_equal(d.steps[1]->n_deps, 1);
    assert_int_equal(d.steps[1]->deps[0], 0);
    assert_int_equal(d.steps[2]->n_deps, 0);
    assert_int_equal(d.steps[3]->deps[0], 2);
    /* Every dependency points backwards: no cycle can exist. */
    for (int i = 0; i < d.n; i++)
        for (int m = 0; m < d.steps[i]->n_deps; m++) assert_true(d.steps[i]->deps[m] < i);
    flow_dag_free(&d);
}

static void test_cycle_cannot_form(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 8);
    add(&d, 1, "a", "3"); /* 1 -> 3 -> 2 -> 1 as written */
    add(&d, 2, "b", "1");
    add(&d, 3, "c", "2");
    assert_int_equal(d.steps[0]->n_deps, 0); /* the back edge was dropped */
    assert_int_equal(flow_dag_critical_path(&d), 3);
    flow_dag_free(&d);
}

static void test_ids_renumbered(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 8);
    add(&d, 1, "a", "");
    add(&d, 1, "b", "1");  /* duplicate id: kept, renumbered to 2 (R2) */
    add(&d, 0, "c", "1,2"); /* missing id: numbered 3 (R1); "1" is the first step, "2" the renumbered one */
    assert_int_equal(d.n, 3);
    assert_true(has_rule(&d, "R2 step 1"));
    assert_true(has_rule(&d, "R1 step 3"));
    assert_int_equal(d.steps[1]->id, 2);
    assert_int_equal(d.steps[1]->plan_id, 1);
    assert_int_equal(d.steps[1]->deps[0], 0);
    assert_int_equal(d.steps[2]->id, 3);
    assert_int_equal(d.steps[2]->n_deps, 2);
    flow_dag_free(&d);
}

static void test_truncation_and_empty(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 2);
    add(&d, 1, "a", "");
    assert_int_equal(add(&d, 2, "", "1"), -1); /* R7 */
    add(&d, 3, "b", "1");
    assert_int_equal(add(&d, 4, "c", "3"), -1); /* R6 */
    assert_int_equal(add(&d, 5, "d", "4"), -1);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_dropped, 3);
    assert_true(has_rule(&d, "R6 step 4"));
    assert_true(has_rule(&d, "R7 step 2"));
    flow_dag_free(&d);

    flow_dag_init(&d, 4);
    assert_int_equal(flow_dag_finish(&d), 1); /* R9 */
    assert_int_equal(d.n, 1);
    assert_string_equal(d.steps[0]->task, FLOW_DIRECT_ANSWER_TASK);
    assert_true(has_rule(&d, "R9"));
    flow_dag_free(&d);
}

static void test_difficulty_clamped(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 4);
    flow_raw_step r = raw(1, "a", "");
    r.difficulty = 42;
    r.tokens = -5;
    flow_dag_add(&d, &r);
    assert_int_equal(d.steps[0]->difficulty, 9);
    assert_int_equal(d.steps[0]->token_estimate, 0);
    assert_true(has_rule(&d, "R8"));
    flow_dag_free(&d);
}

static void test_ancestors(void **state) {
    (void)state;
    flow_dag d;
    flow_dag_init(&d, 8);
    add(&d, 1, "a", "");
    add(&d, 2, "b", "1");
    add(&d, 3, "c", "");
    add(&d, 4, "d", "2");
    unsigned char anc[4] = {0};
    flow_dag_ancestors(&d, 3, anc);
    assert_int_equal(anc[0], 1);
    assert_int_equal(anc[1], 1);
    assert_int_equal(anc[2], 0);
    assert_true(flow_dag_has_dependents(&d, 0));
    assert_false(flow_dag_has_dependents(&d, 2));
    flow_dag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_plan_untouched), cmocka_unit_test(test_bad_references),
        cmocka_unit_test(test_cycle_cannot_form),    cmocka_unit_test(test_ids_renumbered),
        cmocka_unit_test(test_truncation_and_empty), cmocka_unit_test(test_difficulty_clamped),
        cmocka_unit_test(test_ancestors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
