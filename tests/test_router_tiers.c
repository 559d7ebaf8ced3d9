/* test_router_tiers.c - the router's tiers objective (per-tier correctness
 * with auxiliary targets), seed ensembles merged into one network, shape
 * tokens, question-structure features, the answer options reaching the routing features identically
 * in training (replay loader) and serving (the live eval's rendered prompt), and a cascade router
 * learning from the edge answer's recorded length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"
#include "route/mlp_internal.h"
#include "route/router_internal.h"

static const char *VOCAB[] = {"apple", "river", "stone", "cloud", "paper", "green", "table", "music",
                              "light", "water", "sound", "north", "glass", "horse", "bread", "metal"};
#define NV (sizeof VOCAB / sizeof VOCAB[0])
#define N_AUX 4

static uint64_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Query-level samples: the edge fails exactly the questions that say
 * "integral"; the cloud is always right. Aux targets: models 0-1 fail the
 * hard ones too, model 2 is always right, model 3 is unknown on odd items. */
static void make_queries(hflow_router_dataset *d, size_t n, uint64_t seed) {
    uint64_t s = seed;
    d->aux_dim = N_AUX;
    for (size_t i = 0; i < n; i++) {
        char q[256] = "", group[32];
        for (int w = 0; w < 5 + (int)(rnd(&s) % 5); w++) {
            strcat(q, VOCAB[rnd(&s) % NV]);
            strcat(q, " ");
        }
        int hard = rnd(&s) % 3 == 0;
        if (hard) strcat(q, "integral");
        snprintf(group, sizeof group, "s%llu-%zu", (unsigned long long)seed, i);
        float aux[N_AUX] = {hard ? 0.0f : 1.0f, hard ? 0.0f : 1.0f, 1.0f, i % 2 ? -1.0f : 0.5f};
        hflow_router_sample x = {0};
        x.f.question = q;
        x.f.task_type = i % 2 ? "math" : "law";
        x.f.step_index = -1;
        x.f.edge_confidence = -1;
        x.group = group;
        x.quality_edge = hard ? 0.0 : 1.0;
        x.quality_cloud = 1.0;
        x.aux = aux;
        assert_int_equal(hflow_router_dataset_add(d, &x, NULL), 0);
    }
}

static void tiers_opts(hflow_router_train_opts *o) {
    hflow_router_train_opts_default(o);
    o->objective = HFLOW_ROUTER_OBJ_TIERS;
    o->aux_weight = 1.0f;
    o->feat.hash_dim = 256;
    o->hidden[0] = 8;
    o->lr = 1e-2f;
    o->batch = 32;
    o->max_epochs = 80;
    o->patience = 10;
    o->seed = 3;
}

/* ---- gradients of the tiers loss (BCE per tier + aux + budget penalty) ---- */

static void test_tiers_gradient_numeric(void **state) {
    (void)state;
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_queries(&d, 10, 9);
    hflow_router_feature_config c;
    hflow_router_feature_config_default(&c);
    c.hash_dim = 16;
    hflow_featurizer fz;
    assert_int_equal(hflow_featurizer_init(&fz, &c, NULL), 0);
    hflow_router_fvec x[10];
    float y[10], tok[10], qe[10], qc[10];
    const float *aux[10];
    memset(x, 0, sizeof x);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(hflow_featurize(&fz, &d.s[i].f, NULL, &x[i], NULL), 0);
        y[i] = 0;
        tok[i] = 40.0f + 7.0f * (float)i;
        qe[i] = (float)d.s[i].quality_edge;
        qc[i] = i % 3 ? 1.0f : 0.25f; /* soft labels too */
        aux[i] = i == 4 ? NULL : d.s[i].aux;
    }
    uint32_t hidden[1] = {5};
    hflow_mlp m, g;
    assert_int_equal(hflow_mlp_init_n(&m, c.hash_dim + fz.n_dense, 1, hidden, 2 + N_AUX, HFLOW_ACT_GELU, 5, NULL), 0);
    assert_int_equal(hflow_mlp_zeros_like(&g, &m, NULL), 0);
    hflow_router_train_opts o;
    tiers_opts(&o);
    o.aux_weight = 0.7f;
    o.lam.q = 1.5f;
    o.lambda_B = 0.02f; /* the penalty acts on s = lambda_q (P(cloud) - P(edge)) */
    o.B_max = 5.0f;
    o.decision.tau = 0.3f;
    hflow_router_batch b = {.n = 10, .x = x, .y = y, .tokens = tok, .q_edge = qe, .q_cloud = qc, .aux = aux,
                            .n_aux = N_AUX};
    double l0 = hflow_router_loss_grad(&m, &b, &o, &g);
    assert_true(isfinite(l0) && l0 > 0);
    int checked = 0, bad = 0;
    for (uint32_t l = 0; l <= m.n_hidden; l++) {
        for (int which = 0; which < 2; which++) {
            float *p = which ? m.b[l] : m.w[l];
            const float *gp = which ? g.b[l] : g.w[l];
            size_t n = which ? m.size[l + 1] : hflow_mlp_layer_w(&m, l);
            for (size_t i = 0; i < n; i++) {
                if (gp[i] == 0.0f && l == 0 && !which) continue;
                float keep = p[i];
                const float h = 1e-2f;
                p[i] = keep + h;
                double lp = hflow_router_loss_grad(&m, &b, &o, NULL);
                p[i] = keep - h;
                double lm = hflow_router_loss_grad(&m, &b, &o, NULL);
                p[i] = keep;
                double num = (lp - lm) / (2.0 * h), an = gp[i];
                if (fabs(num - an) > 2e-3 + 3e-2 * fmax(fabs(num), fabs(an))) {
                    if (bad < 5) print_message("tiers grad mismatch l%u %s[%zu]: %g vs %g\n", l, which ? "b" : "w", i, an, num);
                    bad++;
                }
                checked++;
            }
        }
    }
    assert_true(checked > 50);
    assert_int_equal(bad, 0);
    /* The penalty is live: without it the loss is smaller. */
    o.lambda_B = 0;
    assert_true(hflow_router_loss_grad(&m, &b, &o, NULL) < l0);
    /* Missing labels are an error (NaN), not a silent zero. */
    b.q_edge = NULL;
    assert_true(isnan(hflow_router_loss_grad(&m, &b, &o, NULL)));
    for (int i = 0; i < 10; i++) hflow_router_fvec_free(&x[i]);
    hflow_mlp_free(&m);
    hflow_mlp_free(&g);
    hflow_featurizer_free(&fz);
    hflow_router_dataset_free(&d);
}

/* ---- ensembles ---- */

static void check_ensemble(uint32_t n_hidden) {
    const uint32_t k = 3, n_in = 40, n_out = 3;
    uint32_t hidden[1] = {6};
    hflow_mlp mem[3], merged;
    for (uint32_t j = 0; j < k; j++)
        assert_int_equal(hflow_mlp_init_n(&mem[j], n_in, n_hidden, hidden, n_out, HFLOW_ACT_RELU, 100 + j, NULL), 0);
    for (uint32_t j = 0; j < k; j++) /* non-zero biases so their averaging is exercised */
        for (uint32_t l = 0; l <= n_hidden; l++)
            for (uint32_t o = 0; o < mem[j].size[l + 1]; o++) mem[j].b[l][o] = 0.1f * (float)(j + 1) - 0.05f * (float)o;
    assert_int_equal(hflow_mlp_ensemble(mem, k, &merged, NULL), 0);
    assert_int_equal(merged.size[merged.n_hidden + 1], n_out);
    if (n_hidden == 1) assert_int_equal(merged.size[1], k * hidden[0]);
    uint64_t s = 77;
    for (int t = 0; t < 20; t++) {
        hflow_router_fvec x = {0};
        x.n_dense = 4;
        x.dense = calloc(4, sizeof(float));
        x.idx = malloc(5 * sizeof(uint32_t));
        x.val = malloc(5 * sizeof(float));
        x.cap_sparse = 5;
        for (uint32_t i = 0; i < 5; i++) {
            x.idx[i] = 7 * i + (uint32_t)(rnd(&s) % 7);
            x.val[i] = (float)(rnd(&s) % 100) / 50.0f - 1.0f;
        }
        x.n_sparse = 5;
        for (int j = 0; j < 4; j++) x.dense[j] = (float)(rnd(&s) % 100) / 100.0f;
        float want[3] = {0}, got[3], one[3];
        for (uint32_t j = 0; j < k; j++) {
            hflow_mlp_forward_all(&mem[j], &x, one);
            for (uint32_t o = 0; o < n_out; o++) want[o] += one[o] / (float)k;
        }
        hflow_mlp_forward_all(&merged, &x, got);
        for (uint32_t o = 0; o < n_out; o++) assert_true(fabsf(got[o] - want[o]) < 1e-5f);
        assert_true(hflow_mlp_forward(&merged, &x) == got[0]);
        hflow_router_fvec_free(&x);
    }
    for (uint32_t j = 0; j < k; j++) hflow_mlp_free(&mem[j]);
    hflow_mlp_free(&merged);
    /* Too wide or too deep: refused, not truncated. */
    uint32_t wide[2] = {600, 4};
    hflow_mlp a[2];
    assert_int_equal(hflow_mlp_init_n(&a[0], n_in, 2, wide, 1, HFLOW_ACT_RELU, 1, NULL), 0);
    assert_int_equal(hflow_mlp_init_n(&a[1], n_in, 2, wide, 1, HFLOW_ACT_RELU, 2, NULL), 0);
    assert_int_not_equal(hflow_mlp_ensemble(a, 2, &merged, NULL), 0);
    hflow_mlp_free(&a[0]);
    hflow_mlp_free(&a[1]);
}

static void test_ensemble_equals_member_average(void **state) {
    (void)state;
    check_ensemble(1);
    check_ensemble(0);
}

/* ---- training with the tiers objective, ensembles, save/load ---- */

static void test_tiers_rule_recovered_and_saved(void **state) {
    (void)state;
    hflow_router_dataset tr, te;
    hflow_router_dataset_init(&tr);
    hflow_router_dataset_init(&te);
    make_queries(&tr, 600, 1);
    make_queries(&te, 200, 2);
    hflow_router_train_opts o;
    tiers_opts(&o);
    o.ensemble = 3;
    hflow_router *r = NULL;
    hflow_router_train_report rep;
    hflow_error err;
    int rc = hflow_router_train(&tr, NULL, &o, &r, &rep, &err);
    if (rc) print_message("train: %s\n", err.message);
    assert_int_equal(rc, 0);
    const hflow_mlp *m = hflow_router_mlp(r);
    assert_int_equal(m->size[m->n_hidden + 1], 2 + N_AUX); /* edge, cloud, aux heads */
    assert_int_equal(m->size[1], 3 * 8);                    /* three members side by side */
    /* s estimates P(cloud ok) - P(edge ok): ~1 on hard questions, ~0 on easy ones. */
    int agree = 0;
    for (size_t i = 0; i < te.n; i++) {
        float s = 0;
        assert_int_equal(hflow_router_score(r, &te.s[i].f, NULL, &s, NULL), 0);
        assert_true(s > -0.2f && s < 1.2f);
        agree += (s > 0.5f) == (te.s[i].quality_edge == 0.0);
    }
    print_message("tiers: %d/%zu held-out scores on the right side of 0.5\n", agree, te.n);
    assert_true(agree >= (int)(0.95 * (double)te.n));
    /* A multi-output router survives save/load bit for bit. */
    char path[512];
    snprintf(path, sizeof path, "%s/tiers.gguf", tu_tmpdir());
    assert_int_equal(hflow_router_save(r, path, NULL), 0);
    hflow_router *l = NULL;
    assert_int_equal(hflow_router_load(path, &l, NULL), 0);
    assert_int_equal(hflow_router_featurizer(l)->cfg.shape_tokens, 1);
    assert_int_equal(hflow_router_featurizer(l)->cfg.question_shape, 1);
    for (size_t i = 0; i < te.n; i++) {
        float a = 0, b = 0;
        assert_int_equal(hflow_router_score(r, &te.s[i].f, NULL, &a, NULL), 0);
        assert_int_equal(hflow_router_score(l, &te.s[i].f, NULL, &b, NULL), 0);
        assert_memory_equal(&a, &b, sizeof a);
    }
    hflow_router_free(l);
    hflow_router_free(r);
    /* The tiers objective predicts quality only: cost lambdas are refused. */
    o.lam.k = 0.01f;
    assert_int_not_equal(hflow_router_train(&tr, NULL, &o, &r, NULL, NULL), 0);
    assert_null(r);
    hflow_router_dataset_free(&tr);
    hflow_router_dataset_free(&te);
}

/* ---- shape tokens ---- */

static void test_shape_tokens(void **state) {
    (void)state;
    hflow_router_feature_config c;
    hflow_router_feature_config_default(&c);
    assert_int_equal(c.shape_tokens, 1);
    c.hash_dim = 1u << 20; /* no collisions among a handful of tokens */
    c.bigrams = 0;
    hflow_featurizer on, off;
    assert_int_equal(hflow_featurizer_init(&on, &c, NULL), 0);
    c.shape_tokens = 0;
    assert_int_equal(hflow_featurizer_init(&off, &c, NULL), 0);
    hflow_route_features f = {.question = "solve x = 3 + 4 quickly", .step_index = -1, .edge_confidence = -1};
    hflow_router_fvec a = {0}, b = {0};
    assert_int_equal(hflow_featurize(&on, &f, NULL, &a, NULL), 0);
    assert_int_equal(hflow_featurize(&off, &f, NULL, &b, NULL), 0);
    /* words: solve x 3 4 quickly (5); shape: two numbers share one token, '=' and '+' */
    assert_int_equal(b.n_sparse, 5);
    assert_int_equal(a.n_sparse, 8);
    f.question = "solve the riddle quickly";
    assert_int_equal(hflow_featurize(&on, &f, NULL, &a, NULL), 0);
    assert_int_equal(hflow_featurize(&off, &f, NULL, &b, NULL), 0);
    assert_int_equal(a.n_sparse, b.n_sparse); /* plain words: no shape tokens */
    for (uint32_t i = 0; i < a.n_sparse; i++) {
        assert_int_equal(a.idx[i], b.idx[i]);
        assert_true(a.val[i] == b.val[i]);
    }
    hflow_router_fvec_free(&a);
    hflow_router_fvec_free(&b);
    hflow_featurizer_free(&on);
    hflow_featurizer_free(&off);
}

/* ---- question-structure features ---- */

static void test_question_shape(void **state) {
    (void)state;
    /* Worked by hand. Options: "4 m/s" (5 chars, starts with a number, more
     * letters than digits), "36" (numeric), "It stops" (8 chars). Stem words:
     * A car moves 12 m in 3 s Find v d t (12; two hold a digit), digits 1 2 3,
     * symbols '=' '/'. */
    const char *q = "A car moves 12 m in 3 s. Find v = d/t?\n\nA. 4 m/s\nB. 36\nC. It stops\n";
    float v[HFLOW_QSHAPE_COUNT];
    hflow_router_question_shape(q, v);
    const float want[HFLOW_QSHAPE_COUNT] = {0.3f, 1.0f / 3, logf(6), sqrtf(6) / 5, logf(4), logf(3), logf(13),
                                            2.0f / 12, 2.0f / 3, logf(9), logf(3)};
    for (int i = 0; i < HFLOW_QSHAPE_COUNT; i++) {
        if (fabsf(v[i] - want[i]) > 1e-5f) print_message("feature %d: %g, want %g\n", i, (double)v[i], (double)want[i]);
        assert_true(fabsf(v[i] - want[i]) <= 1e-5f);
    }
    /* A text without an option block (a subtask) has no option features. */
    hflow_router_question_shape("Compute 2 + 2", v);
    assert_true(v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0 && v[8] == 0 && v[9] == 0);
    assert_true(fabsf(v[4] - logf(3)) < 1e-6f && fabsf(v[6] - logf(4)) < 1e-6f);
    /* They follow the 13 metadata values in the featurizer's dense block (on
     * by default), and switching them off removes exactly them. */
    hflow_router_feature_config c;
    hflow_router_feature_config_default(&c);
    assert_int_equal(c.question_shape, 1);
    hflow_featurizer on, off;
    assert_int_equal(hflow_featurizer_init(&on, &c, NULL), 0);
    c.question_shape = 0;
    assert_int_equal(hflow_featurizer_init(&off, &c, NULL), 0);
    assert_int_equal(on.n_dense, off.n_dense + HFLOW_QSHAPE_COUNT);
    hflow_route_features f = {.question = q, .step_index = -1, .edge_confidence = -1};
    hflow_router_fvec a = {0}, b = {0};
    assert_int_equal(hflow_featurize(&on, &f, NULL, &a, NULL), 0);
    assert_int_equal(hflow_featurize(&off, &f, NULL, &b, NULL), 0);
    hflow_router_question_shape(q, v);
    assert_memory_equal(a.dense + 13, v, sizeof v);
    assert_memory_equal(a.dense, b.dense, 13 * sizeof *a.dense);
    assert_memory_equal(a.dense + 13 + HFLOW_QSHAPE_COUNT, b.dense + 13, (b.n_dense - 13) * sizeof *b.dense);
    hflow_router_fvec_free(&a);
    hflow_router_fvec_free(&b);
    hflow_featurizer_free(&on);
    hflow_featurizer_free(&off);
}

/* ---- options reach the features identically in training and serving ---- */

static const char *mc_line =
    "{\"id\": \"7\", \"category\": \"physics\", \"question\": \"Which force holds planets in orbit?\", "
    "\"options\": [\"gravity\", \"friction\", \"magnetism\"], \"answer\": \"A\", \"models\": "
    "{\"E\": {\"correct\": false, \"response_words\": 30}, \"X\": {\"correct\": true, \"response_words\": 3}, "
    "\"C\": {\"correct\": true, \"response_words\": 60}}}\n";

static void test_options_identical_train_serve(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/mc.jsonl", tu_tmpdir());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(mc_line, fp);
    fclose(fp);
    hflow_replay_set set;
    assert_int_equal(hflow_replay_load(path, "E", "C", &set, NULL, NULL), 0);
    assert_int_equal(set.q[0].n_options, 3);
    assert_string_equal(set.q[0].options[2], "magnetism");
    /* Every model's outcome is kept (as labels) in the set's model order. */
    assert_int_equal(set.n_models, 3);
    assert_string_equal(set.models[1], "X");
    assert_int_equal(set.q[0].outcomes[0], 0);
    assert_int_equal(set.q[0].outcomes[1], 1);
    /* The live eval loads the same line as an item whose question is the
     * prompt the model (and a live router) sees. */
    hflow_eval_dataset ds;
    assert_int_equal(hflow_eval_dataset_load(path, NULL, &ds, NULL), 0);
    assert_string_equal(ds.items[0].question, set.q[0].prompt);
    assert_non_null(strstr(set.q[0].prompt, "C. magnetism"));
    /* Training builds features with hflow_replay_query_features; the live
     * eval's routed call builds them from the item with
     * hflow_query_route_features (prompt, category). Same vector. */
    hflow_route_features ft, fs;
    hflow_replay_query_features(&set.q[0], &ft);
    assert_ptr_equal(ft.question, set.q[0].prompt);
    assert_string_equal(ds.items[0].category, "physics");
    hflow_query_route_features(ds.items[0].question, ds.items[0].category, &fs);
    assert_string_equal(fs.task_type, ft.task_type);
    hflow_router_feature_config c;
    hflow_router_feature_config_default(&c);
    c.hash_dim = 512;
    c.n_types = 2; /* the category one-hot must see the same slot in both */
    snprintf(c.types[0], sizeof c.types[0], "law");
    snprintf(c.types[1], sizeof c.types[1], "physics");
    hflow_featurizer fz;
    assert_int_equal(hflow_featurizer_init(&fz, &c, NULL), 0);
    hflow_router_fvec a = {0}, b = {0};
    assert_int_equal(hflow_featurize(&fz, &ft, NULL, &a, NULL), 0);
    assert_int_equal(hflow_featurize(&fz, &fs, NULL, &b, NULL), 0);
    assert_int_equal(a.n_sparse, b.n_sparse);
    assert_memory_equal(a.idx, b.idx, a.n_sparse * sizeof *a.idx);
    assert_memory_equal(a.val, b.val, a.n_sparse * sizeof *a.val);
    assert_memory_equal(a.dense, b.dense, a.n_dense * sizeof *a.dense);
    /* The one-hot follows the metadata: [law, physics, other], then 3 budget + 2 confidence values. */
    uint32_t type0 = a.n_dense - (uint32_t)(c.n_types + 1) - 5;
    assert_true(a.dense[type0] == 0.0f && a.dense[type0 + 1] == 1.0f && a.dense[type0 + 2] == 0.0f);
    /* ... and the option words are in it: the stem alone gives another vector. */
    hflow_route_features stem = ft;
    stem.question = set.q[0].question;
    hflow_router_fvec e = {0};
    assert_int_equal(hflow_featurize(&fz, &stem, NULL, &e, NULL), 0);
    assert_true(a.n_sparse > e.n_sparse + 3);
    hflow_router_fvec_free(&a);
    hflow_router_fvec_free(&b);
    hflow_router_fvec_free(&e);
    hflow_featurizer_free(&fz);
    hflow_eval_dataset_free(&ds);
    hflow_replay_set_free(&set);
}

/* A replay where the question text says nothing and the edge is right exactly
 * when its answer is short: a cascade router (which sees the answer's length)
 * recovers the rule, the plain router cannot; eval's replay scoring of the
 * cascade router's policy reads the same recorded length. */
static double cascade_apgr(const hflow_replay_set *set, int cascade, int *flag) {
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    if (cascade) assert_int_equal(hflow_router_dataset_add_replay_cascade(&d, set, "E", "C", 0, NULL), 0);
    else assert_int_equal(hflow_router_dataset_add_replay(&d, set, "E", "C", 0, NULL), 0);
    hflow_router_train_opts o;
    tiers_opts(&o);
    o.aux_weight = 0;
    o.feat.question_shape = 0;
    hflow_router *r = NULL;
    assert_int_equal(hflow_router_train(&d, NULL, &o, &r, NULL, NULL), 0);
    *flag = hflow_router_featurizer(r)->cfg.edge_answer;
    hflow_policy *p = NULL;
    hflow_learned_opts lo = {.sampled = 0, .seed = 0, .force_first = -1, .force_last = -1};
    assert_int_equal(hflow_policy_from_router(r, &lo, &p, NULL), 0);
    assert_int_equal((p->flags & HFLOW_POLICY_NEEDS_EDGE_ANSWER) != 0, cascade);
    hflow_replay_scorer *sc = NULL;
    assert_int_equal(hflow_replay_scorer_from_policy(p, &sc, NULL), 0);
    hflow_replay_curve c = {0};
    assert_int_equal(hflow_replay_curve_compute(set, sc, &c, NULL), 0);
    double apgr = c.apgr;
    hflow_replay_curve_free(&c);
    hflow_replay_scorer_free(sc);
    p->vt->destroy(p); /* frees r */
    hflow_router_dataset_free(&d);
    return apgr;
}

static void test_cascade_router_reads_edge_answer(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/cascade-replay.jsonl", tu_tmpdir());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    uint64_t s = 11;
    for (int i = 0; i < 240; i++) {
        int words = 10 + (int)(rnd(&s) % 110);
        fprintf(fp, "{\"id\": \"c%d\", \"category\": \"x\", \"question\": \"%s %s %s\", \"models\": "
                    "{\"E\": {\"correct\": %s, \"response_words\": %d}, \"C\": {\"correct\": true, \"response_words\": 50}}}\n",
                i, VOCAB[rnd(&s) % NV], VOCAB[rnd(&s) % NV], VOCAB[rnd(&s) % NV], words < 60 ? "true" : "false", words);
    }
    fclose(fp);
    hflow_replay_set set;
    assert_int_equal(hflow_replay_load(path, "E", "C", &set, NULL, NULL), 0);
    hflow_route_features f;
    hflow_replay_query_features(&set.q[0], &f);
    assert_true(f.edge_answer_tokens == 0); /* before any answer: unknown */
    hflow_replay_query_features_cascade(&set.q[0], &f);
    assert_true(f.edge_answer_tokens > 0 && f.edge_answer_tokens == set.q[0].tokens[0]);
    int flag_c = -1, flag_p = -1;
    double with = cascade_apgr(&set, 1, &flag_c), without = cascade_apgr(&set, 0, &flag_p);
    hflow_replay_scorer *oracle = NULL;
    assert_int_equal(hflow_replay_scorer_create("oracle", &oracle, NULL), 0);
    hflow_replay_curve c = {0};
    assert_int_equal(hflow_replay_curve_compute(&set, oracle, &c, NULL), 0);
    print_message("APGR: cascade router %.3f, plain router %.3f, oracle %.3f\n", with, without, c.apgr);
    assert_int_equal(flag_c, 1);
    assert_int_equal(flag_p, 0);
    assert_true(with >= c.apgr - 0.01); /* the rule, recovered: as good as knowing the outcomes */
    assert_true(without < with - 0.05); /* the text alone (memorised in-sample) is far from it */
    hflow_replay_curve_free(&c);
    hflow_replay_scorer_free(oracle);
    hflow_replay_set_free(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiers_gradient_numeric),
        cmocka_unit_test(test_ensemble_equals_member_average),
        cmocka_unit_test(test_tiers_rule_recovered_and_saved),
        cmocka_unit_test(test_shape_tokens),
        cmocka_unit_test(test_question_shape),
        cmocka_unit_test(test_options_identical_train_serve),
        cmocka_unit_test(test_cascade_router_reads_edge_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
