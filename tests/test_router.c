/* test_router.c - the learned utility router: gradients, training on a
 * problem with a known optimal rule, identical features at training and
 * serving, GGUF save/load, budget-driven thresholds, calibration, loaders. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/gguf.h"
#include "hybridflow/router.h"
#include "route/mlp_internal.h"

static const char *VOCAB[] = {"apple", "river", "stone", "cloud", "paper", "green", "table", "music", "light",
                              "water", "sound", "north", "glass", "horse", "bread", "metal", "plant", "storm",
                              "chair", "sugar", "smoke", "field", "train", "coast"};
#define NV (sizeof VOCAB / sizeof VOCAB[0])

static uint64_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Synthetic steps: the cloud wins exactly when the question says "integral"
 * or the planner rated the step 7 or harder; otherwise both tiers are right
 * and the cloud only costs tokens. Optimal rule: cloud iff hard. */
static int is_hard(const char *q, int difficulty) { return strstr(q, "integral") != NULL || difficulty >= 7; }

static void make_synthetic(hflow_router_dataset *d, size_t n, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        char q[256] = "", task[128] = "", group[32];
        int words = 4 + (int)(rnd(&s) % 6);
        for (int w = 0; w < words; w++) {
            strcat(q, VOCAB[rnd(&s) % NV]);
            strcat(q, " ");
        }
        if (rnd(&s) % 3 == 0) strcat(q, "integral of ");
        strcat(q, VOCAB[rnd(&s) % NV]);
        snprintf(task, sizeof task, "step about %s", VOCAB[rnd(&s) % NV]);
        snprintf(group, sizeof group, "q%llu-%zu", (unsigned long long)seed, i / 3);
        hflow_router_sample x = {0};
        x.f.question = q;
        x.f.task = task;
        x.f.task_type = (i % 2) ? "mc" : "integer";
        x.f.step_index = (int)(i % 3);
        x.f.n_steps = 3;
        x.f.n_deps = (int)(i % 3);
        x.f.depth = (int)(i % 3);
        x.f.difficulty = 1 + (int)(rnd(&s) % 9);
        x.f.token_estimate = 50 + (int)(rnd(&s) % 200);
        x.f.is_first = i % 3 == 0;
        x.f.is_last = i % 3 == 2;
        x.f.edge_confidence = -1;
        x.group = group;
        int hard = is_hard(q, x.f.difficulty);
        x.quality_cloud = 1.0;
        x.quality_edge = hard ? 0.0 : 1.0;
        x.cloud_tokens = 100;
        assert_int_equal(hflow_router_dataset_add(d, &x, NULL), 0);
    }
}

static void small_opts(hflow_router_train_opts *o) {
    hflow_router_train_opts_default(o);
    o->feat.hash_dim = 512;
    o->hidden[0] = 16;
    o->max_epochs = 150;
    o->patience = 15;
    o->lr = 1e-2f;
    o->batch = 32;
    o->lam.k = 5e-3f; /* 100 tokens cost 0.5: dU = +0.5 (hard) or -0.5 (easy) */
    o->seed = 7;
}

/* ---- gradients ---- */

static void check_grad(int act, uint32_t n_hidden) {
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 12, 3);
    hflow_router_feature_config c;
    hflow_router_feature_config_default(&c);
    c.hash_dim = 32;
    hflow_featurizer fz;
    assert_int_equal(hflow_featurizer_init(&fz, &c, NULL), 0);
    hflow_router_fvec x[12];
    float y[12], tok[12], le[12], lc[12], delta[12];
    memset(x, 0, sizeof x);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(hflow_featurize(&fz, &d.s[i].f, NULL, &x[i], NULL), 0);
        y[i] = (float)(i % 3) - 0.7f;
        tok[i] = 50.0f + 10.0f * (float)i;
        le[i] = 1.0f;
        lc[i] = 2.0f + 0.1f * (float)i;
        delta[i] = 0.05f * (float)(i % 4);
    }
    uint32_t hidden[2] = {6, 5};
    hflow_mlp m, g;
    assert_int_equal(hflow_mlp_init(&m, c.hash_dim + fz.n_dense, n_hidden, hidden, act, 11, NULL), 0);
    assert_int_equal(hflow_mlp_zeros_like(&g, &m, NULL), 0);
    hflow_router_train_opts o;
    hflow_router_train_opts_default(&o);
    o.huber_delta = 0.8f;          /* both Huber branches occur */
    o.lambda_B = 0.01f; o.B_max = 20.0f;  /* penalties active */
    o.lambda_L = 0.5f; o.L_max = 1.2f;
    o.decision.tau = 0.5f;
    hflow_router_batch b = {.n = 12, .x = x, .y = y, .tokens = tok, .lat_edge = le, .lat_cloud = lc, .delta_t = delta};
    double l0 = hflow_router_loss_grad(&m, &b, &o, &g);
    assert_true(isfinite(l0));
    int checked = 0, bad = 0;
    for (uint32_t l = 0; l <= m.n_hidden; l++) {
        for (int which = 0; which < 2; which++) {
            float *p = which ? m.b[l] : m.w[l];
            const float *gp = which ? g.b[l] : g.w[l];
            size_t n = which ? m.size[l + 1] : hflow_mlp_layer_w(&m, l);
            for (size_t i = 0; i < n; i++) {
                if (gp[i] == 0.0f && l == 0 && !which) continue; /* untouched hashed rows */
                float keep = p[i];
                const float h = act == HFLOW_ACT_RELU ? 2e-3f : 1e-2f;
                p[i] = keep + h;
                double lp = hflow_router_loss_grad(&m, &b, &o, NULL);
                p[i] = keep - h;
                double lm = hflow_router_loss_grad(&m, &b, &o, NULL);
                p[i] = keep;
                double num = (lp - lm) / (2.0 * h), an = gp[i];
                double tol = 2e-3 + 3e-2 * fmax(fabs(num), fabs(an));
                if (fabs(num - an) > tol) {
                    if (bad < 5) print_message("grad mismatch layer %u %s[%zu]: analytic %g numeric %g\n", l,
                                               which ? "b" : "w", i, an, num);
                    bad++;
                }
                checked++;
            }
        }
    }
    /* ReLU kinks can make a handful of central differences straddle a kink. */
    assert_true(checked > 100);
    assert_true(bad <= (act == HFLOW_ACT_RELU ? checked / 100 : 0));
    for (int i = 0; i < 12; i++) hflow_router_fvec_free(&x[i]);
    hflow_mlp_free(&m);
    hflow_mlp_free(&g);
    hflow_featurizer_free(&fz);
    hflow_router_dataset_free(&d);
}

static void test_gradient_numeric_gelu(void **state) {
    (void)state;
    check_grad(HFLOW_ACT_GELU, 2);
}

static void test_gradient_numeric_relu(void **state) {
    (void)state;
    check_grad(HFLOW_ACT_RELU, 1);
}

/* ---- training ---- */

static hflow_router *train_synthetic(hflow_router_dataset *d, hflow_router_train_report *rep) {
    hflow_router_train_opts o;
    small_opts(&o);
    hflow_router *r = NULL;
    hflow_error err;
    int rc = hflow_router_train(d, NULL, &o, &r, rep, &err);
    if (rc) print_message("train: %s\n", err.message);
    assert_int_equal(rc, 0);
    return r;
}

static void test_synthetic_rule_recovered(void **state) {
    (void)state;
    hflow_router_dataset tr, te;
    hflow_router_dataset_init(&tr);
    hflow_router_dataset_init(&te);
    make_synthetic(&tr, 900, 1);
    make_synthetic(&te, 300, 2); /* fresh questions */
    hflow_router_train_report rep;
    hflow_router *r = train_synthetic(&tr, &rep);
    int agree = 0;
    for (size_t i = 0; i < te.n; i++) {
        hflow_route_decision dec;
        assert_int_equal(hflow_router_decide(r, &te.s[i].f, NULL, 0, 0, &dec, NULL), 0);
        int want = is_hard(te.s[i].f.question, te.s[i].f.difficulty) ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
        agree += dec.tier == want;
    }
    print_message("synthetic rule: %d/%zu held-out decisions optimal, %u epochs (best %u)\n", agree, te.n, rep.epochs,
                  rep.best_epoch);
    assert_true(agree >= (int)(0.95 * (double)te.n));
    hflow_router_free(r);
    hflow_router_dataset_free(&tr);
    hflow_router_dataset_free(&te);
}

static void test_training_deterministic(void **state) {
    (void)state;
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 200, 5);
    hflow_router_train_report r1, r2;
    hflow_router *a = train_synthetic(&d, &r1), *b = train_synthetic(&d, &r2);
    const hflow_mlp *ma = hflow_router_mlp(a), *mb = hflow_router_mlp(b);
    for (uint32_t l = 0; l <= ma->n_hidden; l++)
        assert_memory_equal(ma->w[l], mb->w[l], hflow_mlp_layer_w(ma, l) * sizeof(float));
    assert_int_equal(r1.best_epoch, r2.best_epoch);
    hflow_router_free(a);
    hflow_router_free(b);
    hflow_router_dataset_free(&d);
}

/* ---- identical features at training and serving ---- */

/* The reference implementation trained with the label among the features and
 * served with zeros there. Here: (1) the trainer's own validation loss must
 * equal the loss recomputed from scores obtained through the serving path
 * (the policy), and the labels below are pure noise, so a label leak would
 * show as a far lower training-side loss; (2) the serving score equals the
 * MLP on the featurizer's vector bit for bit; (3) the label cannot change the
 * feature vector. With the edge's confidence (a cascade profile) the same
 * holds, the confidence reaches the vector, the router records that it was
 * trained with it (flag, policy flag, file) and its policy refuses a step
 * without one instead of scoring a feature it never saw unknown. The same for
 * the edge answer's length (a cascade router). */
static void check_identical_train_serve(int with_confidence, int with_answer) {
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 400, 9);
    uint64_t s = 99;
    for (size_t i = 0; i < d.n; i++) { /* labels unrelated to any feature */
        d.s[i].quality_cloud = (double)(rnd(&s) % 2);
        d.s[i].quality_edge = (double)(rnd(&s) % 2);
        if (with_confidence) d.s[i].f.edge_confidence = (double)(1 + rnd(&s) % 1000) / 1000.0;
        d.s[i].f.edge_answer_tokens = with_answer ? (double)(1 + rnd(&s) % 2000) : 0;
    }
    hflow_router_train_opts o;
    small_opts(&o);
    o.lam.k = 0;
    hflow_router *r = NULL;
    hflow_router_train_report rep;
    assert_int_equal(hflow_router_train(&d, NULL, &o, &r, &rep, NULL), 0);
    unsigned char *val = calloc(d.n, 1);
    hflow_router_split_by_group(&d, o.val_frac, o.seed ^ HFLOW_ROUTER_VAL_SALT, val);
    hflow_policy *p = NULL;
    hflow_learned_opts lo = {.sampled = 0, .seed = 0, .force_first = -1, .force_last = -1};
    assert_int_equal(hflow_policy_from_router(r, &lo, &p, NULL), 0);
    assert_int_equal(hflow_router_featurizer(r)->cfg.edge_confidence, with_confidence);
    assert_int_equal((p->flags & HFLOW_POLICY_NEEDS_CONFIDENCE) != 0, with_confidence);
    assert_int_equal(hflow_router_featurizer(r)->cfg.edge_answer, with_answer);
    assert_int_equal((p->flags & HFLOW_POLICY_NEEDS_EDGE_ANSWER) != 0, with_answer);
    double loss = 0;
    size_t n = 0;
    hflow_router_fvec v = {0}, v2 = {0};
    for (size_t i = 0; i < d.n; i++) {
        hflow_route_decision dec;
        assert_int_equal(p->vt->decide(p, &d.s[i].f, &dec, NULL), 0);
        if (with_confidence) { /* the value reaches the vector; serving without it is refused */
            hflow_route_features g = d.s[i].f;
            g.edge_confidence = g.edge_confidence > 0.5 ? 0.25 : 0.75;
            assert_int_equal(hflow_featurize(hflow_router_featurizer(r), &g, NULL, &v2, NULL), 0);
            assert_int_equal(hflow_featurize(hflow_router_featurizer(r), &d.s[i].f, NULL, &v, NULL), 0);
            assert_memory_not_equal(v.dense, v2.dense, v.n_dense * sizeof(float));
            g.edge_confidence = -1;
            hflow_route_decision none;
            hflow_error e;
            assert_int_equal(p->vt->decide(p, &g, &none, &e), HFLOW_EINVAL);
            assert_non_null(strstr(e.message, "cascade"));
        }
        if (with_answer) { /* likewise the edge answer's length */
            hflow_route_features g = d.s[i].f;
            g.edge_answer_tokens = g.edge_answer_tokens + 500;
            assert_int_equal(hflow_featurize(hflow_router_featurizer(r), &g, NULL, &v2, NULL), 0);
            assert_int_equal(hflow_featurize(hflow_router_featurizer(r), &d.s[i].f, NULL, &v, NULL), 0);
            assert_memory_not_equal(v.dense, v2.dense, v.n_dense * sizeof(float));
            g.edge_answer_tokens = 0;
            hflow_route_decision none;
            hflow_error e;
            assert_int_equal(p->vt->decide(p, &g, &none, &e), HFLOW_EINVAL);
            assert_non_null(strstr(e.message, "cascade"));
        }
        assert_int_equal(hflow_featurize(hflow_router_featurizer(r), &d.s[i].f, NULL, &v, NULL), 0);
        float direct = hflow_mlp_forward(hflow_router_mlp(r), &v);
        assert_memory_equal(&direct, &(float){(float)dec.score}, sizeof direct);
        hflow_router_sample changed = d.s[i];
        changed.quality_cloud = 1 - changed.quality_cloud;
        assert_int_equal(hflow_featurize(hflow_router_featurizer(r), &changed.f, NULL, &v2, NULL), 0);
        assert_int_equal(v.n_sparse, v2.n_sparse);
        assert_memory_equal(v.dense, v2.dense, v.n_dense * sizeof(float));
        if (!val[i]) continue;
        double rres = dec.score - hflow_router_label(&o.lam, &d.s[i]);
        loss += (fabs(rres) <= o.huber_delta ? 0.5 * rres * rres : o.huber_delta * (fabs(rres) - 0.5 * o.huber_delta));
        n++;
    }
    loss /= (double)n;
    print_message("val loss: trainer %.6f, serving path %.6f (n=%zu)\n", rep.val_loss, loss, n);
    assert_int_equal(n, rep.n_val);
    assert_true(fabs(loss - rep.val_loss) <= 1e-5 * fmax(1.0, loss));
    /* The file keeps the flags (router.feature.edge_confidence, .edge_answer). */
    char path[512];
    snprintf(path, sizeof path, "%s/router-conf-%d-%d.gguf", tu_tmpdir(), with_confidence, with_answer);
    assert_int_equal(hflow_router_save(r, path, NULL), 0);
    hflow_router *back = NULL;
    assert_int_equal(hflow_router_load(path, &back, NULL), 0);
    assert_int_equal(hflow_router_featurizer(back)->cfg.edge_confidence, with_confidence);
    assert_int_equal(hflow_router_featurizer(back)->cfg.edge_answer, with_answer);
    hflow_router_free(back);
    hflow_router_fvec_free(&v);
    hflow_router_fvec_free(&v2);
    free(val);
    p->vt->destroy(p); /* frees r */
    hflow_router_dataset_free(&d);
}

static void test_features_identical_train_serve(void **state) {
    (void)state;
    check_identical_train_serve(0, 0);
    check_identical_train_serve(1, 0);
    check_identical_train_serve(0, 1);
}

/* ---- save / load ---- */

static void vary_budget(hflow_route_features *f, int k) {
    f->budget.tokens_ratio = 0.25 * (k % 5);
    f->budget.usd_ratio = 0.1 * (k % 3);
    f->budget.latency_ratio = 0.3 * (k % 4);
}

static void test_save_load_bit_identical(void **state) {
    (void)state;
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 300, 4);
    hflow_router_train_report rep;
    hflow_router *r = train_synthetic(&d, &rep);
    assert_int_equal(hflow_router_calibrate(r, &d, NULL, 0.4, NULL), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/router.gguf", tu_tmpdir());
    hflow_error err;
    int rc = hflow_router_save(r, path, &err);
    if (rc) print_message("save: %s\n", err.message);
    assert_int_equal(rc, 0);
    hflow_router *l = NULL;
    rc = hflow_router_load(path, &l, &err);
    if (rc) print_message("load: %s\n", err.message);
    assert_int_equal(rc, 0);
    hflow_router_decision_params pa = hflow_router_params(r), pb = hflow_router_params(l);
    assert_memory_equal(&pa, &pb, sizeof pa);
    for (size_t i = 0; i < d.n; i++) {
        hflow_route_features f = d.s[i].f;
        vary_budget(&f, (int)i);
        hflow_route_decision a, b;
        for (int sampled = 0; sampled < 2; sampled++) {
            double u = (double)(i % 17) / 17.0;
            assert_int_equal(hflow_router_decide(r, &f, NULL, sampled, u, &a, NULL), 0);
            assert_int_equal(hflow_router_decide(l, &f, NULL, sampled, u, &b, NULL), 0);
            assert_int_equal(a.tier, b.tier);
            assert_memory_equal(&a.score, &b.score, sizeof a.score);
            assert_memory_equal(&a.threshold, &b.threshold, sizeof a.threshold);
        }
    }
    /* The spec form of the policy loads the same file; sampled decisions
     * with the same seed repeat exactly. */
    char spec[600];
    snprintf(spec, sizeof spec, "%s,sample,seed=5,first=edge", path);
    hflow_policy *p1 = NULL, *p2 = NULL;
    assert_int_equal(hflow_policy_create_learned(spec, &p1, NULL), 0);
    assert_int_equal(hflow_policy_create_learned(spec, &p2, NULL), 0);
    int clouds = 0;
    for (size_t i = 0; i < d.n; i++) {
        hflow_route_decision a, b;
        assert_int_equal(p1->vt->decide(p1, &d.s[i].f, &a, NULL), 0);
        assert_int_equal(p2->vt->decide(p2, &d.s[i].f, &b, NULL), 0);
        assert_int_equal(a.tier, b.tier);
        if (d.s[i].f.is_first) {
            assert_int_equal(a.tier, HFLOW_TIER_EDGE);
            assert_string_equal(a.reason, "forced-first");
        }
        clouds += a.tier;
    }
    assert_true(clouds > 0);
    p1->vt->destroy(p1);
    p2->vt->destroy(p2);
    hflow_policy *bad = NULL;
    assert_int_equal(hflow_policy_create_learned("/nonexistent/router.gguf", &bad, NULL) < 0, 1);
    snprintf(spec, sizeof spec, "%s,bogus", path);
    assert_int_equal(hflow_policy_create_learned(spec, &bad, NULL), HFLOW_EINVAL);
    assert_null(bad);
    hflow_router_free(r);
    hflow_router_free(l);
    hflow_router_dataset_free(&d);
}

static void test_load_rejects_non_router(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/not-router.gguf", tu_tmpdir());
    hflow_gguf_writer *w = hflow_gguf_writer_create();
    assert_int_equal(hflow_gguf_set_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(hflow_gguf_writer_write(w, path, NULL), 0);
    hflow_gguf_writer_free(w);
    hflow_router *r = NULL;
    hflow_error err;
    assert_int_equal(hflow_router_load(path, &r, &err), HFLOW_EFORMAT);
    assert_null(r);
    assert_non_null(strstr(err.message, "not a router"));
}

/* ---- budget ---- */

static void test_budget_raises_threshold(void **state) {
    (void)state;
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 300, 6);
    hflow_router_train_report rep;
    hflow_router *r = train_synthetic(&d, &rep);
    hflow_router_decision_params p = hflow_router_params(r);
    p.delta0 = 0.1f;
    p.alpha_B = 0.5f;
    p.alpha_L = 0.25f;
    hflow_router_set_params(r, &p);
    int prev_clouds = (int)d.n + 1;
    double prev_t = -1;
    for (int k = 0; k <= 8; k++) {
        int clouds = 0;
        double t = 0;
        for (size_t i = 0; i < d.n; i++) {
            hflow_route_features f = d.s[i].f;
            f.budget.tokens_ratio = 0.25 * k;
            f.budget.latency_ratio = 0.1 * k;
            hflow_route_decision dec;
            assert_int_equal(hflow_router_decide(r, &f, NULL, 0, 0, &dec, NULL), 0);
            float s0;
            assert_int_equal(hflow_router_score(r, &d.s[i].f, NULL, &s0, NULL), 0);
            /* Ratios constant in training cannot move the score. */
            assert_memory_equal(&s0, &(float){(float)dec.score}, sizeof s0);
            clouds += dec.tier;
            t = dec.threshold;
        }
        double want = fmin(1.0, 0.1 + 0.5 * 0.25 * k + 0.25 * 0.1 * k);
        assert_true(fabs(t - want) < 1e-6);
        assert_true(t >= prev_t);
        assert_true(clouds <= prev_clouds);
        prev_t = t;
        prev_clouds = clouds;
        if (k == 0) assert_true(clouds > 0);
    }
    /* At the clip (delta_t = 1) nothing predicted below 1 goes to the cloud. */
    assert_true(prev_clouds < (int)d.n / 20);
    /* p_cloud falls as the bar rises. */
    assert_true(hflow_router_p_cloud(r, 0.5f, 0.2) > hflow_router_p_cloud(r, 0.5f, 0.6));
    /* Dollar budget counts like tokens: the tighter of the two drives r_B. */
    hflow_budget_state b1 = {.tokens_ratio = 0.1, .usd_ratio = 0.8, .latency_ratio = 0};
    hflow_budget_state b2 = {.tokens_ratio = 0.8, .usd_ratio = 0.1, .latency_ratio = 0};
    assert_true(hflow_router_threshold(r, &b1) == hflow_router_threshold(r, &b2));
    hflow_router_free(r);
    hflow_router_dataset_free(&d);
}

/* ---- calibration ---- */

static void test_calibration_hits_share(void **state) {
    (void)state;
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 400, 8);
    hflow_router_train_report rep;
    hflow_router *r = train_synthetic(&d, &rep);
    const double targets[] = {0.0, 0.1, 0.3, 0.5, 0.8, 1.0};
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        assert_int_equal(hflow_router_calibrate(r, &d, NULL, targets[t], NULL), 0);
        int clouds = 0;
        for (size_t i = 0; i < d.n; i++) {
            hflow_route_decision dec;
            assert_int_equal(hflow_router_decide(r, &d.s[i].f, NULL, 0, 0, &dec, NULL), 0);
            clouds += dec.tier;
        }
        double share = (double)clouds / (double)d.n;
        print_message("calibrated to %.2f: share %.4f (delta0 %.4f)\n", targets[t], share,
                      (double)hflow_router_params(r).delta0);
        assert_true(fabs(share - targets[t]) <= 2.0 / (double)d.n);
    }
    assert_int_equal(hflow_router_calibrate(r, &d, NULL, 1.5, NULL), HFLOW_EINVAL);
    hflow_router_free(r);
    hflow_router_dataset_free(&d);
}

/* ---- data ---- */

static void test_label_and_profile_loader(void **state) {
    (void)state;
    char pp[512];
    snprintf(pp, sizeof pp, "%s/profile.jsonl", tu_tmpdir());
    hflow_router_dataset d;
    FILE *f;
    hflow_router_sample x = {0};
    x.quality_cloud = 1.0;
    x.cloud_tokens = 200.0;
    hflow_router_lambdas lam = {.q = 1.0f, .t = 0.5f, .k = 0.001f};
    assert_true(fabs(hflow_router_label(&lam, &x) - (1.0 - 0.2)) < 1e-6);
    x.latency_cloud = 3.0;
    x.latency_edge = 1.0;
    assert_true(fabs(hflow_router_label(&lam, &x) - (1.0 - 1.0 - 0.2)) < 1e-6);

    f = fopen(pp, "w");
    assert_non_null(f);
    fputs("{\"qid\": \"q1\", \"question\": \"Q\", \"task\": \"T1\", \"task_type\": \"mc\", \"step_index\": 0, "
          "\"n_steps\": 2, \"n_deps\": 0, \"depth\": 0, \"difficulty\": 4, \"token_estimate\": 80, \"is_first\": true, "
          "\"is_last\": false, \"edge_confidence\": 0.7, \"budget\": {\"tokens_ratio\": 0.2, \"usd_ratio\": 0.1, "
          "\"latency_ratio\": 0.3}, \"edge\": {\"quality\": 0.0, \"latency_s\": 1.5, \"tokens\": 40}, "
          "\"cloud\": {\"quality\": 1.0, \"latency_s\": 3.0, \"tokens\": 120}, \"embedding\": [0.5, -1]}\n",
          f);
    fputs("{\"qid\": \"q1\", \"question\": \"Q\", \"task\": \"T2\", \"step_index\": 1, \"n_steps\": 2, "
          "\"edge\": {\"quality\": 1}, \"cloud\": {\"quality\": 1}, \"embedding\": [1, 2]}\n",
          f);
    fclose(f);
    hflow_router_dataset_init(&d);
    assert_int_equal(hflow_router_load_profile(pp, &d, NULL), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.embed_dim, 2);
    assert_true(d.s[0].embedding[0] == 0.5f && d.s[0].embedding[1] == -1.0f);
    assert_int_equal(d.s[0].f.difficulty, 4);
    assert_true(d.s[0].f.is_first && !d.s[0].f.is_last);
    assert_true(fabs(d.s[0].f.budget.latency_ratio - 0.3) < 1e-12);
    assert_true(fabs(d.s[0].latency_cloud - 3.0) < 1e-12 && fabs(d.s[0].cloud_tokens - 120) < 1e-12);
    assert_string_equal(d.s[1].f.task, "T2");
    assert_true(d.s[1].f.edge_confidence < 0);
    hflow_router_dataset_free(&d);

    /* A wrong-length embedding is a format error, not a crash. */
    f = fopen(pp, "a");
    fputs("{\"qid\": \"q2\", \"question\": \"Q\", \"edge\": {\"quality\": 1}, \"cloud\": {\"quality\": 1}, "
          "\"embedding\": [1]}\n", f);
    fclose(f);
    hflow_router_dataset_init(&d);
    hflow_error err;
    assert_int_equal(hflow_router_load_profile(pp, &d, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, ":3"));
    hflow_router_dataset_free(&d);
}

static void test_split_keeps_groups_together(void **state) {
    (void)state;
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    make_synthetic(&d, 600, 12); /* groups of 3 */
    unsigned char *t = calloc(d.n, 1);
    hflow_router_split_by_group(&d, 0.25, 42, t);
    size_t n_test = 0;
    for (size_t i = 0; i < d.n; i++) {
        n_test += t[i];
        if (i % 3) assert_int_equal(t[i], t[i - 1]);
    }
    assert_true(n_test > d.n / 8 && n_test < d.n / 2);
    free(t);
    hflow_router_dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_numeric_gelu),
        cmocka_unit_test(test_gradient_numeric_relu),
        cmocka_unit_test(test_synthetic_rule_recovered),
        cmocka_unit_test(test_training_deterministic),
        cmocka_unit_test(test_features_identical_train_serve),
        cmocka_unit_test(test_save_load_bit_identical),
        cmocka_unit_test(test_load_rejects_non_router),
        cmocka_unit_test(test_budget_raises_threshold),
        cmocka_unit_test(test_calibration_hits_share),
        cmocka_unit_test(test_label_and_profile_loader),
        cmocka_unit_test(test_split_keeps_groups_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
