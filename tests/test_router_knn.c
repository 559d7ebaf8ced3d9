/* test_router_knn.c - the router's retrieval part (src/route/knn.c): the
 * right neighbours against an independent TF-IDF computation on a hand-made
 * set, the estimate's formula, the query's own text skipped, option letters
 * ignored, the blend, bit-identical decisions after save+load, the stored
 * vectors equal to the serving ones, and the replay split keeping copies of
 * a question on one side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"
#include "route/router_internal.h"

/* ---- a hand-made set and a reference TF-IDF without hashing ---- */

static const char *DOCS[] = {
    "apple banana cherry",      /* 0 */
    "apple banana grape",       /* 1 */
    "zebra lion tiger",         /* 2 */
    "apple cherry melon",       /* 3 */
    "car truck bus",            /* 4 */
    "lion tiger bear",          /* 5 */
    "apple kiwi",               /* 6 */
};
#define ND (sizeof DOCS / sizeof DOCS[0])
static const double GAIN[ND] = {1, 0, -1, 1, 0, 1, 0};

#define MAXT 16
typedef struct { char t[MAXT][160]; int n; } terms;

/* Words and adjacent pairs of a space-separated lower-case text (each once: every test text has distinct terms). */
static void ref_terms(const char *text, terms *out) {
    char w[8][16];
    int nw = 0;
    out->n = 0;
    for (const char *p = text; *p && nw < 8;) {
        int k = 0;
        while (*p == ' ') p++;
        while (*p && *p != ' ' && k < 15) w[nw][k++] = *p++;
        if (k) w[nw++][k] = '\0';
    }
    for (int i = 0; i < nw; i++) snprintf(out->t[out->n++], sizeof out->t[0], "%s", w[i]);
    for (int i = 1; i < nw; i++) snprintf(out->t[out->n++], sizeof out->t[0], "%s %s", w[i - 1], w[i]);
}

static int has_term(const terms *t, const char *s) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->t[i], s)) return 1;
    return 0;
}

/* idf = ln((1+N)/(1+df)), tf 1 everywhere; cosine of the L2-normalised vectors. */
static double ref_idf(const char *term) {
    int df = 0;
    for (size_t d = 0; d < ND; d++) {
        terms t;
        ref_terms(DOCS[d], &t);
        df += has_term(&t, term);
    }
    return df ? log((1.0 + ND) / (1.0 + df)) : 0.0;
}

static double ref_cosine(const char *a, const char *b) {
    terms ta, tb;
    ref_terms(a, &ta);
    ref_terms(b, &tb);
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < ta.n; i++) {
        double x = ref_idf(ta.t[i]);
        na += x * x;
        if (has_term(&tb, ta.t[i])) dot += x * x;
    }
    for (int i = 0; i < tb.n; i++) nb += ref_idf(tb.t[i]) * ref_idf(tb.t[i]);
    return na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
}

static void add_doc(hflow_router_dataset *d, const char *text, double gain, const char *group) {
    hflow_router_sample x = {0};
    x.f.question = text;
    x.f.task_type = "t";
    x.f.step_index = -1;
    x.f.edge_confidence = -1;
    x.group = group;
    x.quality_edge = gain < 0 ? 1.0 : 0.0;
    x.quality_cloud = gain > 0 ? 1.0 : 0.0;
    assert_int_equal(hflow_router_dataset_add(d, &x, NULL), 0);
}

static hflow_route_features query(const char *text) {
    hflow_route_features f = {0};
    f.question = text;
    f.task_type = "t";
    f.step_index = -1;
    f.edge_confidence = -1;
    return f;
}

/* A tiny router on the hand-made set with its retrieval part (max_df 1: no cut). */
static hflow_router *hand_router(uint32_t k, float weight) {
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    for (size_t i = 0; i < ND; i++) {
        char g[16];
        snprintf(g, sizeof g, "d%zu", i);
        add_doc(&d, DOCS[i], GAIN[i], g);
    }
    hflow_router_train_opts o;
    hflow_router_train_opts_default(&o);
    o.feat.hash_dim = 32;
    o.hidden[0] = 4;
    o.max_epochs = 2;
    o.val_frac = 0.3f;
    o.knn.k = k;
    o.knn.max_df = 1.0f;
    o.knn.weight = weight;
    hflow_router *r = NULL;
    hflow_error err;
    assert_int_equal(hflow_router_train(&d, NULL, &o, &r, NULL, &err), 0);
    hflow_router_dataset_free(&d);
    return r;
}

static void test_neighbours_match_reference(void **state) {
    (void)state;
    hflow_router *r = hand_router(3, 0.5f);
    const char *queries[] = {"apple banana cherry melon", "lion tiger", "apple grape", "truck", "nothing shared"};
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        /* the reference ranking: every doc with a positive cosine, best first, ties by index */
        double ref[ND];
        size_t order[ND], n_pos = 0;
        for (size_t d = 0; d < ND; d++) {
            ref[d] = ref_cosine(queries[q], DOCS[d]);
            if (ref[d] > 1e-12) order[n_pos++] = d;
        }
        for (size_t i = 1; i < n_pos; i++)
            for (size_t j = i; j > 0 && ref[order[j]] > ref[order[j - 1]] + 1e-9; j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        uint32_t idx[ND], n = 99;
        float sim[ND];
        hflow_route_features f = query(queries[q]);
        assert_int_equal(hflow_router_knn_neighbours(r, &f, 3, idx, sim, &n, NULL), 0);
        assert_int_equal(n, n_pos < 3 ? n_pos : 3);
        for (uint32_t i = 0; i < n; i++) {
            assert_int_equal(idx[i], order[i]);
            assert_true(fabs(sim[i] - ref[order[i]]) < 1e-5);
        }
        /* g = (sum sim gain + smooth * mean gain) / (sum sim + smooth) */
        double mean = 0, num, den = 1.0;
        for (size_t d = 0; d < ND; d++) mean += GAIN[d] / ND;
        num = mean;
        for (uint32_t i = 0; i < n; i++) {
            num += sim[i] * GAIN[idx[i]];
            den += sim[i];
        }
        float g;
        assert_int_equal(hflow_router_knn_score(r, &f, &g, NULL), 0);
        assert_true(fabs(g - num / den) < 1e-5);
    }
    hflow_router_free(r);
}

/* A stored text equal to the query is skipped (leave-one-out on training texts): so a training
 * sample's stored vector is exactly its serving vector (cosine 1), while one more known word brings it
 * back first; a word no stored text has changes nothing (idf 0). */
static void test_own_text_skipped_and_vectors_identical(void **state) {
    (void)state;
    hflow_router *r = hand_router(ND, 0.5f);
    for (size_t d = 0; d < ND; d++) {
        uint32_t idx[ND], n;
        float sim[ND];
        hflow_route_features f = query(DOCS[d]);
        assert_int_equal(hflow_router_knn_neighbours(r, &f, ND, idx, sim, &n, NULL), 0);
        for (uint32_t i = 0; i < n; i++) assert_int_not_equal(idx[i], d);
        char longer[128];
        snprintf(longer, sizeof longer, "%s %s", DOCS[d], d == 4 ? "bear" : "car");
        f = query(longer);
        assert_int_equal(hflow_router_knn_neighbours(r, &f, ND, idx, sim, &n, NULL), 0);
        assert_true(n >= 1);
        assert_int_equal(idx[0], d);
        assert_true(sim[0] > 0.5f && sim[0] < 0.9999f);
        snprintf(longer, sizeof longer, "%s unseenword", DOCS[d]);
        f = query(longer);
        assert_int_equal(hflow_router_knn_neighbours(r, &f, ND, idx, sim, &n, NULL), 0);
        for (uint32_t i = 0; i < n; i++) assert_int_not_equal(idx[i], d);
    }
    hflow_router_free(r);
}

/* Rendered prompts' option letters are not words: "A. x" lines match "x" lines. */
static void test_option_letters_ignored(void **state) {
    (void)state;
    hflow_router *r = hand_router(ND, 0.5f);
    uint32_t i1[ND], i2[ND], n1, n2;
    float s1[ND], s2[ND];
    hflow_route_features a = query("which fruit\n\nA. apple\nB. banana\nC. cherry melon");
    hflow_route_features b = query("which fruit\n\napple\nbanana\ncherry melon");
    assert_int_equal(hflow_router_knn_neighbours(r, &a, ND, i1, s1, &n1, NULL), 0);
    assert_int_equal(hflow_router_knn_neighbours(r, &b, ND, i2, s2, &n2, NULL), 0);
    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    for (uint32_t i = 0; i < n1; i++) {
        assert_int_equal(i1[i], i2[i]);
        assert_true(s1[i] == s2[i]);
    }
    hflow_router_free(r);
}

/* s = (1 - w) s_mlp + w g, and w = 0 is the MLP alone. */
static void test_blend(void **state) {
    (void)state;
    hflow_router *r = hand_router(3, 0.3f);
    hflow_route_features f = query("apple banana cherry melon");
    float s, g, s_mlp;
    assert_int_equal(hflow_router_score(r, &f, NULL, &s, NULL), 0);
    assert_int_equal(hflow_router_knn_score(r, &f, &g, NULL), 0);
    assert_int_equal(hflow_router_knn_set(r, 3, 0.0f, NULL), 0);
    assert_int_equal(hflow_router_score(r, &f, NULL, &s_mlp, NULL), 0);
    assert_true(fabsf(s - (0.7f * s_mlp + 0.3f * g)) < 1e-6f);
    assert_true(fabsf(s - s_mlp) > 1e-4f); /* the retrieval part moved the score */
    hflow_error err;
    assert_int_equal(hflow_router_knn_set(r, 0, 0.5f, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_router_knn_set(r, 3, 1.5f, &err), HFLOW_EINVAL);
    hflow_router_free(r);
}

static void test_save_load_bit_identical(void **state) {
    (void)state;
    hflow_router *r = hand_router(2, 0.6f), *l = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/knn-router.gguf", tu_tmpdir());
    hflow_error err;
    assert_int_equal(hflow_router_save(r, path, &err), 0);
    assert_int_equal(hflow_router_load(path, &l, &err), 0);
    hflow_router_knn_opts a = hflow_router_knn_get(r), b = hflow_router_knn_get(l);
    assert_int_equal(a.k, b.k);
    assert_int_equal(a.dim, b.dim);
    assert_true(a.weight == b.weight && a.smooth == b.smooth && a.max_df == b.max_df);
    const char *qs[] = {"apple banana cherry melon", "lion tiger", "truck bus car", "nothing", "apple"};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        hflow_route_features f = query(qs[i]);
        hflow_route_decision d1, d2;
        assert_int_equal(hflow_router_decide(r, &f, NULL, 0, 0, &d1, &err), 0);
        assert_int_equal(hflow_router_decide(l, &f, NULL, 0, 0, &d2, &err), 0);
        assert_memory_equal(&d1.score, &d2.score, sizeof d1.score);
        assert_int_equal(d1.tier, d2.tier);
    }
    hflow_router_free(r);
    hflow_router_free(l);
    /* a router without the part has none after loading either */
    hflow_router *plain = hand_router(0, 0.5f);
    assert_int_equal(hflow_router_save(plain, path, &err), 0);
    assert_int_equal(hflow_router_load(path, &l, &err), 0);
    assert_int_equal(hflow_router_knn_get(l).k, 0);
    hflow_route_features f = query("apple");
    float g;
    assert_int_equal(hflow_router_knn_score(l, &f, &g, &err), HFLOW_EINVAL);
    hflow_router_free(plain);
    hflow_router_free(l);
}

/* Denoised labels: beta 0 = dU; aux that carry no information (constant) pull every label towards
 * the mean gain, (1 - beta) dU + beta (mean q_cloud - mean q_edge); aux equal to the two tiers'
 * outcomes fit them almost exactly (ridge 1 on 200 samples), so labels stay close to dU. */
static void test_denoised_labels(void **state) {
    (void)state;
    for (int informative = 0; informative < 2; informative++) {
        hflow_router_dataset d;
        hflow_router_dataset_init(&d);
        d.aux_dim = 3;
        double me = 0, mc = 0;
        for (int i = 0; i < 200; i++) {
            double qe = (i * 7) % 3 == 0, qc = (i * 5) % 4 != 0;
            float aux[3] = {0.7f, 0.7f, 0.7f};
            if (informative) { aux[0] = (float)qe; aux[1] = (float)qc; aux[2] = i % 2 ? -1.0f : 1.0f; }
            hflow_router_sample x = {0};
            x.f.question = "q";
            x.group = "g";
            x.quality_edge = qe;
            x.quality_cloud = qc;
            x.aux = aux;
            assert_int_equal(hflow_router_dataset_add(&d, &x, NULL), 0);
            me += qe / 200;
            mc += qc / 200;
        }
        hflow_router_lambdas lam = {.q = 2.0f, .t = 0, .k = 0};
        float raw[200], den[200];
        assert_int_equal(hflow_knn_labels(&d, NULL, &lam, 0.0f, raw, NULL), 0);
        assert_int_equal(hflow_knn_labels(&d, NULL, &lam, 0.5f, den, NULL), 0);
        for (int i = 0; i < 200; i++) {
            assert_true(raw[i] == (float)hflow_router_label(&lam, &d.s[i]));
            if (!informative) assert_true(fabs(den[i] - (0.5 * raw[i] + 0.5 * 2.0 * (mc - me))) < 1e-4);
            else assert_true(fabs(den[i] - raw[i]) < 0.05);
        }
        hflow_router_dataset_free(&d);
    }
}

/* ---- the replay split keeps copies of a question together ---- */

static void test_split_keeps_copies_together(void **state) {
    (void)state;
    char file[512];
    snprintf(file, sizeof file, "%s/knn-split.jsonl", tu_tmpdir());
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    /* 60 distinct questions; ids 100+i repeat question i (other case and punctuation) for i < 20 */
    for (int i = 0; i < 80; i++) {
        int base = i < 60 ? i : i - 60;
        fprintf(fp, "{\"id\": \"%d\", \"category\": \"c\", \"question\": \"%s number %d%s\", "
                    "\"models\": {\"e\": {\"correct\": %s}, \"c\": {\"correct\": true}}}\n",
                i < 60 ? i : 100 + base, i < 60 ? "What is question" : "WHAT is  question,", base,
                i < 60 ? "?" : " ?!", i % 3 ? "true" : "false");
    }
    fclose(fp);
    hflow_replay_set all, tr, te;
    hflow_error err;
    assert_int_equal(hflow_replay_load(file, "e", "c", &all, NULL, &err), 0);
    assert_int_equal(all.n, 80);
    assert_true(hflow_question_text_key(all.q[3].question) == hflow_question_text_key(all.q[63].question));
    assert_true(hflow_question_text_key(all.q[3].question) != hflow_question_text_key(all.q[4].question));
    for (uint64_t seed = 1; seed <= 5; seed++) {
        assert_int_equal(hflow_replay_split(&all, 0.3, seed, &tr, &te, &err), 0);
        assert_int_equal(tr.n + te.n, all.n);
        for (size_t i = 0; i < te.n; i++) {
            /* a held-out question: no training question has its text */
            for (size_t j = 0; j < tr.n; j++)
                assert_true(hflow_question_text_key(te.q[i].question) != hflow_question_text_key(tr.q[j].question));
            /* a first occurrence sits where its own id's hash puts it */
            int id = atoi(te.q[i].id);
            if (id < 60) assert_true((double)(hflow_id_hash(te.q[i].id, seed) >> 11) / 9007199254740992.0 < 0.3);
        }
        hflow_replay_split_free(&tr);
        hflow_replay_split_free(&te);
    }
    hflow_replay_set_free(&all);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_neighbours_match_reference),
        cmocka_unit_test(test_own_text_skipped_and_vectors_identical),
        cmocka_unit_test(test_option_letters_ignored),
        cmocka_unit_test(test_blend),
        cmocka_unit_test(test_save_load_bit_identical),
        cmocka_unit_test(test_denoised_labels),
        cmocka_unit_test(test_split_keeps_copies_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
