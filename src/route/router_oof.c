/* router_oof.c - choosing the retrieval blend on out-of-fold scores.
 *
 * A cross-fitted router (hflow_router_train_oof) has, for every training
 * question, an MLP score from the member that never trained on it; the
 * retrieval part scores a training question leave-one-out (knn.c skips the
 * question's own text). Blending the two over all training questions gives
 * an honest stand-in for the held-out blend on ~4x the questions of a
 * validation carve, so k and the weight can be chosen there, by the same
 * APGR the held-out report uses, without reading any other ids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hybridflow/eval.h"
#include "hybridflow/router.h"

typedef struct oof_blend {
    const hflow_replay_set *set;
    const float *mlp, *g; /* per query of set */
    float w;
} oof_blend;

static double blended(hflow_replay_scorer *s, const hflow_replay_query *q) {
    const oof_blend *b = s->impl;
    size_t i = (size_t)(q - b->set->q);
    return (1.0 - b->w) * b->mlp[i] + b->w * b->g[i];
}

static int oof_apgr(oof_blend *b, float w, double *apgr, hflow_error *err) {
    hflow_replay_scorer sc = {.score = blended, .impl = b};
    hflow_replay_curve c = {0};
    b->w = w;
    int rc = hflow_replay_curve_compute(b->set, &sc, &c, err);
    *apgr = c.apgr;
    hflow_replay_curve_free(&c);
    return rc;
}

/* Leave-one-out retrieval estimates of every query of set with k neighbours. */
static int loo_scores(hflow_router *r, const hflow_replay_set *set, uint32_t k, float *g, hflow_error *err) {
    hflow_router_knn_opts keep = hflow_router_knn_get(r);
    int rc = hflow_router_knn_set(r, k, keep.weight, err);
    for (size_t i = 0; i < set->n && !rc; i++) {
        hflow_route_features f;
        hflow_replay_query_features(&set->q[i], &f);
        rc = hflow_router_knn_score(r, &f, &g[i], err);
    }
    int rc2 = hflow_router_knn_set(r, keep.k, keep.weight, err);
    return rc ? rc : rc2;
}

int hflow_router_knn_select_oof(hflow_router *r, const hflow_replay_set *set, const float *oof, const uint32_t *ks,
                                size_t n_k, const float *ws, size_t n_w, int verbose, hflow_error *err) {
    if (!r || !set || !oof || !ks || !ws || n_k == 0 || n_w == 0 || hflow_router_knn_get(r).k == 0)
        return hflow_error_set(err, HFLOW_EINVAL, "oof blend: needs a router with a retrieval part, scores and a grid");
    float *g = malloc((set->n + 1) * sizeof *g);
    if (!g) return hflow_error_set(err, HFLOW_ENOMEM, "oof blend: out of memory");
    oof_blend b = {.set = set, .mlp = oof, .g = g};
    double best = -INFINITY;
    uint32_t best_k = ks[0];
    float best_w = ws[0];
    int rc = 0;
    if (verbose) printf("out-of-fold blend (APGR over %zu training questions; rows k, columns weight):\n", set->n);
    for (size_t i = 0; i < n_k && !rc; i++) {
        rc = loo_scores(r, set, ks[i], g, err);
        if (verbose) printf("  k=%-4u", ks[i]);
        for (size_t j = 0; j < n_w && !rc; j++) {
            double a = 0;
            rc = oof_apgr(&b, ws[j], &a, err);
            if (verbose) printf("  %.4f", a);
            /* strictly better only: ties keep the smaller k and weight */
            if (!rc && a > best) {
                best = a;
                best_k = ks[i];
                best_w = ws[j];
            }
        }
        if (verbose) printf("\n");
    }
    if (!rc) rc = hflow_router_knn_set(r, best_k, best_w, err);
    if (!rc && verbose) printf("out-of-fold choice: k %u, weight %.2f (APGR %.4f)\n", best_k, (double)best_w, best);
    free(g);
    return rc;
}
