/* test_eval_replay.c - replay of recorded outcomes: a small hand-made file
 * whose curve, APGR and CPT values are worked out by hand below, and the
 * MMLU-Pro recordings for the invariants that must hold on real data. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/eval.h"
#include "hybridflow/route.h"

/* Five queries, edge "small" vs cloud "big":
 *   q1 e0 c1   q2 e0 c1   q3 e1 c1   q4 e0 c0   q5 e1 c0
 * acc_edge = 2/5 = 0.4, acc_cloud = 3/5 = 0.6, gap 0.2.
 * Edge tokens are 10 each; cloud tokens 100 each (q1's from 75 words * 4/3).
 * A sixth line lacks the cloud model and is skipped. */
static const char *replay_text =
    "{\"id\": \"q1\", \"category\": \"math\", \"question\": \"a\", \"models\": {\"small\": {\"correct\": false, \"completion_tokens\": 10}, \"big\": {\"correct\": true, \"response_words\": 75}}}\n"
    "{\"id\": \"q2\", \"category\": \"bio\", \"question\": \"aa\", \"models\": {\"small\": {\"correct\": false, \"completion_tokens\": 10}, \"big\": {\"correct\": true, \"completion_tokens\": 100}}}\n"
    "{\"id\": \"q3\", \"category\": \"law\", \"question\": \"aaa\", \"models\": {\"small\": {\"correct\": true, \"completion_tokens\": 10}, \"big\": {\"correct\": true, \"completion_tokens\": 100}}}\n"
    "\n"
    "{\"id\": \"q4\", \"category\": \"law\", \"question\": \"aaaa\", \"models\": {\"small\": {\"correct\": false, \"completion_tokens\": 10}, \"big\": {\"correct\": false, \"completion_tokens\": 100}}}\n"
    "{\"id\": \"q5\", \"category\": \"physics\", \"question\": \"aaaaa\", \"models\": {\"small\": {\"correct\": true, \"completion_tokens\": 10}, \"big\": {\"correct\": false, \"completion_tokens\": 100}}}\n"
    "{\"id\": \"q6\", \"category\": \"law\", \"question\": \"x\", \"models\": {\"small\": {\"correct\": true}}}\n";

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void load_small(hflow_replay_set *set) {
    char path[512];
    snprintf(path, sizeof path, "%s/replay.jsonl", tu_tmpdir());
    write_file(path, replay_text);
    size_t skipped = 99;
    hflow_error err;
    assert_int_equal(hflow_replay_load(path, "small", "big", set, &skipped, &err), 0);
    assert_int_equal(set->n, 5);
    assert_int_equal(skipped, 1);
    assert_true(fabs(set->q[0].tokens[1] - 100.0) < 1e-9);
}

static hflow_replay_curve curve_of(const hflow_replay_set *set, const char *spec, const hflow_replay_set *train) {
    hflow_replay_scorer *s;
    hflow_error err;
    assert_int_equal(hflow_replay_scorer_create(spec, &s, &err), 0);
    if (s->fit) assert_int_equal(s->fit(s, train ? train : set, &err), 0);
    hflow_replay_curve c;
    assert_int_equal(hflow_replay_curve_compute(set, s, &c, &err), 0);
    hflow_replay_scorer_free(s);
    return c;
}

static void assert_near(double a, double b) {
    if (fabs(a - b) > 1e-9) fail_msg("%.12f != %.12f", a, b);
}

static void test_oracle_by_hand(void **state) {
    (void)state;
    hflow_replay_set set;
    load_small(&set);
    hflow_replay_curve c = curve_of(&set, "oracle", NULL);
    /* order q1,q2 (+1 each), q3,q4 (0), q5 (-1): accuracies 0.4 .6 .8 .8 .8 .6, PGR 0 1 2 2 2 1 */
    static const double acc[] = {0.4, 0.6, 0.8, 0.8, 0.8, 0.6}, pgr[] = {0, 1, 2, 2, 2, 1};
    assert_int_equal(c.n_points, 6);
    for (int k = 0; k < 6; k++) {
        assert_near(c.cloud_share[k], k / 5.0);
        assert_near(c.accuracy[k], acc[k]);
        assert_near(c.pgr[k], pgr[k]);
    }
    assert_near(c.acc_edge, 0.4);
    assert_near(c.acc_cloud, 0.6);
    /* APGR = 0.2 * ((0+1)/2 + (1+2)/2 + 2 + 2 + (2+1)/2) = 0.2 * 7.5 */
    assert_near(c.apgr, 1.5);
    assert_near(c.cpt50, 0.2);
    assert_near(c.cpt80, 0.2);
    /* one cloud query: 100 cloud tokens vs 4 * 10 edge tokens */
    assert_near(c.cloud_token_share[1], 100.0 / 140.0);
    assert_near(c.cloud_token_share[5], 1.0);
    assert_near(c.cloud_token_share[0], 0.0);
    hflow_replay_curve_free(&c);
    hflow_replay_set_free(&set);
}

static void test_length_worst_order_by_hand(void **state) {
    (void)state;
    hflow_replay_set set;
    load_small(&set);
    /* longest first = q5,q4,q3,q2,q1: accuracies .4 .2 .2 .2 .4 .6, PGR 0 -1 -1 -1 0 1 */
    hflow_replay_curve c = curve_of(&set, "length", NULL);
    static const double pgr[] = {0, -1, -1, -1, 0, 1};
    for (int k = 0; k < 6; k++) assert_near(c.pgr[k], pgr[k]);
    /* APGR = 0.2 * (-0.5 - 1 - 1 - 0.5 + 0.5) = -0.5; PGR reaches 0.5 only with everything in the cloud */
    assert_near(c.apgr, -0.5);
    assert_near(c.cpt50, 1.0);
    assert_near(c.cpt80, 1.0);
    hflow_replay_curve_free(&c);
    hflow_replay_set_free(&set);
}

static void test_random_expected_by_hand(void **state) {
    (void)state;
    hflow_replay_set set;
    load_small(&set);
    hflow_replay_curve c;
    hflow_error err;
    assert_int_equal(hflow_replay_curve_random(&set, &c, &err), 0);
    /* PGR_k = k/5: area 1/2; 0.5 first reached at k=3 (0.6), 0.8 at k=4 */
    assert_near(c.apgr, 0.5);
    assert_near(c.cpt50, 0.6);
    assert_near(c.cpt80, 0.8);
    assert_near(c.accuracy[2], 0.48);
    /* expected token share at k=1: 0.2*500 / (0.2*500 + 0.8*50) */
    assert_near(c.cloud_token_share[1], 100.0 / 140.0);
    hflow_replay_curve_free(&c);
    /* the random scorer is deterministic for a seed */
    hflow_replay_curve a = curve_of(&set, "random:7", NULL), b = curve_of(&set, "random:7", NULL);
    for (size_t k = 0; k < a.n_points; k++) assert_near(a.accuracy[k], b.accuracy[k]);
    hflow_replay_curve_free(&a);
    hflow_replay_curve_free(&b);
    hflow_replay_set_free(&set);
}

static void test_category_prior_by_hand(void **state) {
    (void)state;
    hflow_replay_set set;
    load_small(&set);
    /* train: math e0c1 x2, law e1c1 + e1c0, physics e1c0 x2 (6 queries: edge 4, cloud 3 correct)
     * smoothed gaps: math 3/4-1/4 = .5, law 2/4-3/4 = -.25, physics 1/4-3/4 = -.5,
     * unseen (bio) global 4/8-5/8 = -.125 */
    hflow_replay_query tq[6] = {
        {.id = "t1", .category = "math", .question = "", .correct = {0, 1}},
        {.id = "t2", .category = "math", .question = "", .correct = {0, 1}},
        {.id = "t3", .category = "law", .question = "", .correct = {1, 1}},
        {.id = "t4", .category = "law", .question = "", .correct = {1, 0}},
        {.id = "t5", .category = "physics", .question = "", .correct = {1, 0}},
        {.id = "t6", .category = "physics", .question = "", .correct = {1, 0}},
    };
    hflow_replay_set train = {.q = tq, .n = 6};
    hflow_replay_scorer *s;
    hflow_error err;
    assert_int_equal(hflow_replay_scorer_create("category", &s, &err), 0);
    assert_int_equal(s->fit(s, &train, &err), 0);
    assert_near(s->score(s, &set.q[0]), 0.5);
    assert_near(s->score(s, &set.q[1]), -0.125);
    assert_near(s->score(s, &set.q[2]), -0.25);
    assert_near(s->score(s, &set.q[4]), -0.5);
    hflow_replay_scorer_free(s);
    /* ranking q1, q2, {q3, q4}, q5 is the oracle's: same APGR 1.5 */
    hflow_replay_curve c = curve_of(&set, "category", &train);
    assert_near(c.apgr, 1.5);
    assert_near(c.cpt50, 0.2);
    hflow_replay_curve_free(&c);
    hflow_replay_set_free(&set);
}

/* A policy that prefers the cloud for long questions, seen through the route.h vtable. */
static int len_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    (void)p;
    (void)err;
    if (f->step_index != -1 || !f->task_type) return HFLOW_EINVAL; /* query level, category passed on */
    out->score = (double)strlen(f->question);
    out->tier = out->score > 3 ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    return 0;
}

static void test_policy_adapter(void **state) {
    (void)state;
    static const hflow_policy_vtable vt = {"test-length", len_decide, NULL};
    hflow_policy pol = {.vt = &vt, .name = "len-policy"};
    hflow_replay_set set;
    load_small(&set);
    hflow_replay_scorer *s;
    hflow_error err;
    assert_int_equal(hflow_replay_scorer_from_policy(&pol, &s, &err), 0);
    assert_string_equal(s->name, "len-policy");
    hflow_replay_curve c;
    assert_int_equal(hflow_replay_curve_compute(&set, s, &c, &err), 0);
    /* same ranking as the length scorer: worst order, APGR -0.5 */
    assert_near(c.apgr, -0.5);
    assert_near(c.cpt50, 1.0);
    hflow_replay_curve_free(&c);
    hflow_replay_scorer_free(s);
    hflow_replay_set_free(&set);
}

static void test_bad_input(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bad-replay.jsonl", tu_tmpdir());
    write_file(path, "{\"id\": \"a\", \"models\": {\"s\": {\"correct\": true}, \"b\": {\"correct\": false}}}\n{\"id\": \"b\", \"models\": {\"s\": {\"correct\": tru\n");
    hflow_replay_set set;
    hflow_error err;
    assert_int_equal(hflow_replay_load(path, "s", "b", &set, NULL, &err), HFLOW_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:2: invalid JSON", path);
    assert_string_equal(err.message, want);
    write_file(path, "{\"id\": \"a\", \"models\": {\"s\": {\"correct\": true}, \"b\": {\"correct\": true}}}\n");
    assert_int_equal(hflow_replay_load(path, "s", "b", &set, NULL, &err), 0);
    hflow_replay_curve c;
    assert_int_equal(hflow_replay_curve_random(&set, &c, &err), HFLOW_ERANGE); /* no gap to recover */
    hflow_replay_set_free(&set);
    assert_int_equal(hflow_replay_load(path, "s", "nope", &set, NULL, &err), HFLOW_ENOTFOUND);
    hflow_replay_scorer *s;
    assert_int_equal(hflow_replay_scorer_create("bogus", &s, &err), HFLOW_EINVAL);
}

/* The split hash, written out byte by byte: published held-out splits depend
 * on its exact values (including its non-standard FNV start state). */
static uint64_t ref_id_hash(const char *id, uint64_t seed) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 8; i++) { h ^= (seed >> (8 * i)) & 0xff; h *= 1099511628211ULL; }
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) { h ^= *p; h *= 1099511628211ULL; }
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL; h ^= h >> 33;
    return h;
}

static void test_id_hash_stable(void **state) {
    (void)state;
    const char *ids[] = {"0", "72", "gpqa-17", "a much longer question id 12345"};
    const uint64_t seeds[] = {0, 1, 7, 0x73656c656374ull ^ 3, 0x7469657301ull};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        for (size_t j = 0; j < sizeof seeds / sizeof seeds[0]; j++)
            assert_true(hflow_id_hash(ids[i], seeds[j]) == ref_id_hash(ids[i], seeds[j]));
}

static void test_mmlu_pro_invariants(void **state) {
    (void)state;
    char buf[4096];
    TU_REQUIRE_SHARED(tu_shared_path(buf, sizeof buf, "datasets/mmlu-pro-replay-dev.jsonl"), "datasets/mmlu-pro-replay-dev.jsonl");
    hflow_replay_set all, train, test, train2, test2;
    hflow_error err;
    size_t skipped = 0;
    assert_int_equal(hflow_replay_load(buf, "Meta-Llama-3.1-8B-Instruct", "gpt-4o-2024-05-13", &all, &skipped, &err), 0);
    assert_int_equal(all.n + skipped, 5983); /* 7 questions lack one of the two models */
    assert_int_equal(skipped, 7);
    assert_int_equal(hflow_replay_split(&all, 0.5, 1, &train, &test, &err), 0);
    assert_int_equal(train.n + test.n, all.n);
    assert_true(test.n > all.n * 45 / 100 && test.n < all.n * 55 / 100);
    assert_int_equal(hflow_replay_split(&all, 0.5, 1, &train2, &test2, &err), 0);
    assert_int_equal(test2.n, test.n);
    for (size_t i = 0; i < test.n; i++) assert_string_equal(test.q[i].id, test2.q[i].id);
    hflow_replay_curve o = curve_of(&test, "oracle", NULL), cat = curve_of(&test, "category", &train), r;
    assert_int_equal(hflow_replay_curve_random(&test, &r, &err), 0);
    assert_true(o.acc_edge > 0.38 && o.acc_edge < 0.50);   /* Llama-3.1-8B-Instruct is about 44% */
    assert_true(o.acc_cloud > 0.66 && o.acc_cloud < 0.78); /* GPT-4o about 72% */
    /* the oracle's ordering is the best possible at every cloud share */
    for (size_t k = 0; k < o.n_points; k++) assert_true(o.accuracy[k] >= cat.accuracy[k] - 1e-12);
    assert_true(o.apgr > cat.apgr);
    assert_true(o.cpt50 <= cat.cpt50 && o.cpt80 <= cat.cpt80);
    assert_near(r.apgr, 0.5);
    print_message("mmlu-pro test split n=%zu: APGR oracle %.3f category %.3f random %.3f; CPT50 %.3f/%.3f/%.3f\n", test.n,
                  o.apgr, cat.apgr, r.apgr, o.cpt50, cat.cpt50, r.cpt50);
    hflow_replay_curve_free(&o);
    hflow_replay_curve_free(&cat);
    hflow_replay_curve_free(&r);
    hflow_replay_split_free(&train);
    hflow_replay_split_free(&test);
    hflow_replay_split_free(&train2);
    hflow_replay_split_free(&test2);
    hflow_replay_set_free(&all);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_by_hand),         cmocka_unit_test(test_length_worst_order_by_hand),
        cmocka_unit_test(test_random_expected_by_hand), cmocka_unit_test(test_category_prior_by_hand),
        cmocka_unit_test(test_bad_input), cmocka_unit_test(test_policy_adapter),              cmocka_unit_test(test_mmlu_pro_invariants),
        cmocka_unit_test(test_id_hash_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
