/* train.c - training the utility router: loss, AdamW, mini-batches,
 * validation split by question, early stopping. Deterministic for a seed
 * (single thread, seeded shuffles and initialisation).
 *
 * Loss of a batch of n samples with scores s_i, labels y_i = dU_i:
 *
 *   L = (1/n) sum_i huber(s_i - y_i)
 *     + lambda_B * relu(E[tokens]  - B_max)^2
 *     + lambda_L * relu(E[latency] - L_max)^2
 *
 *   p_i        = sigmoid((s_i - delta_i) / tau)   delta_i = the sample's threshold
 *   E[tokens]  = (1/n) sum_i p_i * cloud_tokens_i
 *   E[latency] = (1/n) sum_i (p_i * latency_cloud_i + (1 - p_i) * latency_edge_i)
 *
 * i.e. the expectations are per-call means over the batch under independent
 * Bernoulli(p_i) routing, so B_max is "cloud tokens per call" and L_max
 * "seconds per call". Weight decay is decoupled (AdamW), not in L.
 *
 * The tiers objective replaces the Huber term by binary cross-entropies on
 * the edge and cloud correctness logits (+ aux_weight x the mean BCE of the
 * known auxiliary targets); s = lambda_q (P(cloud) - P(edge)) then enters the
 * same penalties. An ensemble trains several members and merges them
 * (hflow_mlp_ensemble) into one network. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "route/mlp_internal.h"
#include "route/router_internal.h"

void hflow_router_train_opts_default(hflow_router_train_opts *o) {
    memset(o, 0, sizeof *o);
    hflow_router_feature_config_default(&o->feat);
    o->n_hidden = 1;
    o->hidden[0] = 32;
    o->act = HFLOW_ACT_RELU;
    o->lr = 3e-4f;
    o->weight_decay = 1e-2f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->batch = 64;
    o->max_epochs = 40;
    o->patience = 5;
    o->val_frac = 0.15f;
    o->seed = 1;
    o->huber_delta = 1.0f;
    o->lam = (hflow_router_lambdas){.q = 1.0f, .t = 0.0f, .k = 0.0f};
    o->decision = (hflow_router_decision_params){
        .delta0 = 0.0f, .alpha_B = 0.5f, .alpha_L = 0.5f, .tau = 0.1f, .delta_lo = 0.0f, .delta_hi = 1.0f};
    hflow_router_knn_opts_default(&o->knn);
    o->knn.k = 0; /* retrieval part off unless asked for */
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double huber(double r, double d, double *dr) {
    if (fabs(r) <= d) {
        *dr = r;
        return 0.5 * r * r;
    }
    *dr = r > 0 ? d : -d;
    return d * (fabs(r) - 0.5 * d);
}

static double softplus(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

/* Binary cross-entropy of a logit against y in [0, 1]; *g = dBCE/dlogit. */
static double bce(double logit, double y, double *g) {
    *g = sigmoid(logit) - y;
    return softplus(logit) - y * logit;
}

/* The objective's own loss of sample i (without the budget penalties) and
 * its gradient w.r.t. every output (gout, n_out floats; may be NULL). */
static double sample_loss(const hflow_router_batch *b, size_t i, const hflow_router_train_opts *o, const float *out,
                          uint32_t n_out, float s, float *gout) {
    double g, loss;
    if (o->objective != HFLOW_ROUTER_OBJ_TIERS) {
        loss = huber(s - b->y[i], o->huber_delta, &g);
        if (gout) gout[0] = (float)g;
        return loss;
    }
    loss = bce(out[0], b->q_edge[i], &g);
    if (gout) gout[0] = (float)g;
    loss += bce(out[1], b->q_cloud[i], &g);
    if (gout) gout[1] = (float)g;
    const float *aux = b->aux ? b->aux[i] : NULL;
    uint32_t known = 0;
    for (uint32_t k = 2; k < n_out; k++) {
        if (gout) gout[k] = 0;
        known += aux && aux[k - 2] >= 0;
    }
    for (uint32_t k = 2; k < n_out && known > 0; k++) {
        if (aux[k - 2] < 0) continue;
        loss += o->aux_weight / known * bce(out[k], aux[k - 2], &g);
        if (gout) gout[k] = (float)(o->aux_weight / known * g);
    }
    return loss;
}

/* ds/d(output k) of hflow_router_head_score, added times gs into gout. */
static void head_score_grad(const hflow_router_train_opts *o, const float *out, uint32_t n_out, double gs, float *gout) {
    if (n_out < 2) {
        gout[0] += (float)gs;
        return;
    }
    double pe = sigmoid(out[0]), pc = sigmoid(out[1]);
    gout[1] += (float)(gs * o->lam.q * pc * (1 - pc));
    gout[0] -= (float)(gs * o->lam.q * pe * (1 - pe));
}

double hflow_router_loss_grad(const hflow_mlp *m, const hflow_router_batch *b, const hflow_router_train_opts *o,
                              hflow_mlp *grads) {
    if (grads) hflow_mlp_zero(grads);
    if (b->n == 0) return 0.0;
    const uint32_t n_out = m->size[m->n_hidden + 1];
    if (o->objective == HFLOW_ROUTER_OBJ_TIERS && (n_out < 2 || !b->q_edge || !b->q_cloud)) return NAN;
    hflow_mlp_cache c;
    float *s = malloc(b->n * sizeof *s), *tmp = malloc(2 * HFLOW_MLP_MAX_WIDTH * sizeof *tmp);
    float *out = malloc((size_t)b->n * n_out * sizeof *out), *gout = malloc(n_out * sizeof *gout);
    if (!s || !tmp || !out || !gout || hflow_mlp_cache_init(&c, m) != 0) {
        free(s); free(tmp); free(out); free(gout);
        return NAN;
    }
    const double n = (double)b->n, tau = o->decision.tau > 0 ? o->decision.tau : 1.0;
    double loss = 0, eb = 0, el = 0;
    for (size_t i = 0; i < b->n; i++) {
        float *oi = out + i * n_out;
        hflow_mlp_forward_cached_all(m, &b->x[i], &c, oi);
        s[i] = hflow_router_head_score(&o->lam, oi, n_out);
        double delta = b->delta_t ? b->delta_t[i] : o->decision.delta0;
        loss += sample_loss(b, i, o, oi, n_out, s[i], NULL) / n;
        double p = sigmoid((s[i] - delta) / tau);
        if (b->tokens) eb += p * b->tokens[i] / n;
        if (b->lat_cloud) el += (p * b->lat_cloud[i] + (1 - p) * (b->lat_edge ? b->lat_edge[i] : 0)) / n;
    }
    double ob = o->lambda_B > 0 && b->tokens && eb > o->B_max ? eb - o->B_max : 0;
    double ol = o->lambda_L > 0 && b->lat_cloud && el > o->L_max ? el - o->L_max : 0;
    loss += o->lambda_B * ob * ob + o->lambda_L * ol * ol;
    if (grads) {
        for (size_t i = 0; i < b->n; i++) {
            /* Recompute the cache for sample i (cheaper than storing n caches). */
            const float *oi = out + i * n_out;
            hflow_mlp_forward_cached_all(m, &b->x[i], &c, gout);
            sample_loss(b, i, o, oi, n_out, s[i], gout);
            for (uint32_t k = 0; k < n_out; k++) gout[k] /= (float)n;
            double delta = b->delta_t ? b->delta_t[i] : o->decision.delta0;
            double p = sigmoid((s[i] - delta) / tau), dp = p * (1 - p) / tau, gs = 0;
            if (ob > 0) gs += 2.0 * o->lambda_B * ob * dp * b->tokens[i] / n;
            if (ol > 0) gs += 2.0 * o->lambda_L * ol * dp * (b->lat_cloud[i] - (b->lat_edge ? b->lat_edge[i] : 0)) / n;
            if (gs != 0) head_score_grad(o, oi, n_out, gs, gout);
            hflow_mlp_backward_all(m, &b->x[i], &c, gout, grads, tmp);
        }
    }
    hflow_mlp_cache_free(&c);
    free(s); free(tmp); free(out); free(gout);
    return loss;
}

/* ---- AdamW ---- */

typedef struct adamw {
    hflow_mlp mom, vel;
    uint64_t t;
} adamw;

static void adamw_step_array(float *w, const float *g, float *mo, float *ve, size_t n, const hflow_router_train_opts *o,
                             double bc1, double bc2, int decay) {
    const float lr = o->lr, b1 = o->beta1, b2 = o->beta2;
    const float wd = decay ? o->lr * o->weight_decay : 0.0f;
    for (size_t i = 0; i < n; i++) {
        mo[i] = b1 * mo[i] + (1 - b1) * g[i];
        ve[i] = b2 * ve[i] + (1 - b2) * g[i] * g[i];
        float mh = (float)(mo[i] / bc1), vh = (float)(ve[i] / bc2);
        w[i] -= lr * mh / (sqrtf(vh) + o->eps) + wd * w[i];
    }
}

static void adamw_step(adamw *a, hflow_mlp *m, const hflow_mlp *g, const hflow_router_train_opts *o) {
    a->t++;
    double bc1 = 1.0 - pow(o->beta1, (double)a->t), bc2 = 1.0 - pow(o->beta2, (double)a->t);
    for (uint32_t l = 0; l <= m->n_hidden; l++) {
        adamw_step_array(m->w[l], g->w[l], a->mom.w[l], a->vel.w[l], hflow_mlp_layer_w(m, l), o, bc1, bc2, 1);
        adamw_step_array(m->b[l], g->b[l], a->mom.b[l], a->vel.b[l], m->size[l + 1], o, bc1, bc2, 0);
    }
}

/* ---- data preparation ---- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shuffle(size_t *a, size_t n, uint64_t *rng) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(rng) % i);
        size_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Task-type vocabulary from the training samples, sorted so that data order
 * cannot change the feature layout. */
static void collect_types(const hflow_router_dataset *d, const unsigned char *use, hflow_router_feature_config *c) {
    if (c->n_types > 0) return;
    for (size_t i = 0; i < d->n; i++) {
        const char *t = d->s[i].f.task_type;
        if ((use && !use[i]) || !t || strlen(t) >= HFLOW_ROUTER_TYPE_LEN) continue;
        int seen = 0;
        for (int k = 0; k < c->n_types && !seen; k++) seen = !strcmp(c->types[k], t);
        if (!seen && c->n_types < HFLOW_ROUTER_MAX_TYPES) snprintf(c->types[c->n_types++], HFLOW_ROUTER_TYPE_LEN, "%s", t);
    }
    qsort(c->types, (size_t)c->n_types, HFLOW_ROUTER_TYPE_LEN, cmp_str);
}

/* Mean and 1/std of every dense feature over the used samples. A feature
 * constant in training gets scale 0: its weights never trained, so it must
 * not move the output at serving time either. */
static int fit_normalisation(hflow_featurizer *fz, const hflow_router_dataset *d, const size_t *idx, size_t n,
                             hflow_error *err) {
    const uint32_t nd = fz->n_dense;
    double *sum = calloc(nd, sizeof *sum), *sq = calloc(nd, sizeof *sq);
    hflow_router_fvec v = {0};
    int rc = sum && sq ? 0 : hflow_error_set(err, HFLOW_ENOMEM, "train: out of memory");
    for (size_t k = 0; k < n && rc == 0; k++) {
        rc = hflow_featurize(fz, &d->s[idx[k]].f, d->s[idx[k]].embedding, &v, err);
        for (uint32_t j = 0; j < nd && rc == 0; j++) {
            sum[j] += v.dense[j];
            sq[j] += (double)v.dense[j] * v.dense[j];
        }
    }
    for (uint32_t j = 0; j < nd && rc == 0 && n > 0; j++) {
        double mu = sum[j] / (double)n, var = sq[j] / (double)n - mu * mu;
        fz->mean[j] = (float)mu;
        fz->scale[j] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 0.0f;
    }
    hflow_router_fvec_free(&v);
    free(sum);
    free(sq);
    return rc;
}

typedef struct prepared {
    size_t n;
    hflow_router_fvec *x;
    float *y, *tok, *le, *lc, *delta, *qe, *qc;
    const float **aux;
} prepared;

static void prepared_free(prepared *p) {
    for (size_t i = 0; p->x && i < p->n; i++) hflow_router_fvec_free(&p->x[i]);
    free(p->x); free(p->y); free(p->tok); free(p->le); free(p->lc); free(p->delta);
    free(p->qe); free(p->qc); free(p->aux);
    memset(p, 0, sizeof *p);
}

static int prepare(const hflow_featurizer *fz, const hflow_router_dataset *d, const size_t *idx, size_t n,
                   const hflow_router_train_opts *o, prepared *p, hflow_error *err) {
    memset(p, 0, sizeof *p);
    p->x = calloc(n + 1, sizeof *p->x);
    p->y = malloc((n + 1) * sizeof(float));
    p->tok = malloc((n + 1) * sizeof(float));
    p->le = malloc((n + 1) * sizeof(float));
    p->lc = malloc((n + 1) * sizeof(float));
    p->delta = malloc((n + 1) * sizeof(float));
    p->qe = malloc((n + 1) * sizeof(float));
    p->qc = malloc((n + 1) * sizeof(float));
    p->aux = malloc((n + 1) * sizeof *p->aux);
    if (!p->x || !p->y || !p->tok || !p->le || !p->lc || !p->delta || !p->qe || !p->qc || !p->aux) {
        prepared_free(p);
        return hflow_error_set(err, HFLOW_ENOMEM, "train: out of memory");
    }
    p->n = n;
    for (size_t k = 0; k < n; k++) {
        const hflow_router_sample *s = &d->s[idx[k]];
        int rc = hflow_featurize(fz, &s->f, s->embedding, &p->x[k], err);
        if (rc) { prepared_free(p); return rc; }
        p->y[k] = (float)hflow_router_label(&o->lam, s);
        p->tok[k] = (float)s->cloud_tokens;
        p->le[k] = (float)s->latency_edge;
        p->lc[k] = (float)s->latency_cloud;
        p->delta[k] = (float)hflow_router_threshold_of(&o->decision, &s->f.budget);
        p->qe[k] = (float)s->quality_edge;
        p->qc[k] = (float)s->quality_cloud;
        p->aux[k] = s->aux;
    }
    return 0;
}

/* A mini-batch gathered from shuffled positions (shallow fvec copies). */
typedef struct gathered {
    hflow_router_fvec *x;
    float *y, *tok, *le, *lc, *delta, *qe, *qc;
    const float **aux;
    uint32_t n_aux;
} gathered;

static hflow_router_batch gather(const prepared *p, const size_t *pos, size_t n, gathered *g) {
    for (size_t k = 0; k < n; k++) {
        size_t i = pos[k];
        g->x[k] = p->x[i];
        g->y[k] = p->y[i];
        g->tok[k] = p->tok[i];
        g->le[k] = p->le[i];
        g->lc[k] = p->lc[i];
        g->delta[k] = p->delta[i];
        g->qe[k] = p->qe[i];
        g->qc[k] = p->qc[i];
        g->aux[k] = p->aux[i];
    }
    return (hflow_router_batch){.n = n, .x = g->x, .y = g->y, .tokens = g->tok, .lat_edge = g->le,
                                .lat_cloud = g->lc, .delta_t = g->delta, .q_edge = g->qe, .q_cloud = g->qc,
                                .aux = g->aux, .n_aux = g->n_aux};
}

static hflow_router_batch whole(const prepared *p, uint32_t n_aux) {
    return (hflow_router_batch){.n = p->n, .x = p->x, .y = p->y, .tokens = p->tok, .lat_edge = p->le,
                                .lat_cloud = p->lc, .delta_t = p->delta, .q_edge = p->qe, .q_cloud = p->qc,
                                .aux = p->aux, .n_aux = n_aux};
}

/* Splits the used samples into train / validation positions by group. */
static int split_train_val(const hflow_router_dataset *d, const unsigned char *use, const hflow_router_train_opts *o,
                           size_t **tr, size_t *ntr, size_t **va, size_t *nva) {
    unsigned char *is_val = calloc(d->n + 1, 1);
    *tr = malloc((d->n + 1) * sizeof **tr);
    *va = malloc((d->n + 1) * sizeof **va);
    if (!is_val || !*tr || !*va) {
        free(is_val);
        return -1;
    }
    if (o->val_frac > 0) hflow_router_split_by_group(d, o->val_frac, o->seed ^ HFLOW_ROUTER_VAL_SALT, is_val);
    *ntr = *nva = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i]) continue;
        if (is_val[i]) (*va)[(*nva)++] = i;
        else (*tr)[(*ntr)++] = i;
    }
    free(is_val);
    return 0;
}

typedef struct trainer {
    hflow_mlp m, best, grads;
    adamw opt;
    prepared tr, va;
    gathered g;
    size_t *order;
} trainer;

static void trainer_free(trainer *t) {
    hflow_mlp_free(&t->m);
    hflow_mlp_free(&t->best);
    hflow_mlp_free(&t->grads);
    hflow_mlp_free(&t->opt.mom);
    hflow_mlp_free(&t->opt.vel);
    prepared_free(&t->tr);
    prepared_free(&t->va);
    free(t->g.x); free(t->g.y); free(t->g.tok); free(t->g.le); free(t->g.lc); free(t->g.delta);
    free(t->g.qe); free(t->g.qc); free(t->g.aux);
    free(t->order);
}

static int trainer_alloc(trainer *t, const hflow_router_train_opts *o, hflow_error *err) {
    size_t b = o->batch;
    t->g.x = calloc(b, sizeof *t->g.x);
    t->g.y = malloc(b * sizeof(float)); t->g.tok = malloc(b * sizeof(float));
    t->g.le = malloc(b * sizeof(float)); t->g.lc = malloc(b * sizeof(float));
    t->g.delta = malloc(b * sizeof(float));
    t->g.qe = malloc(b * sizeof(float)); t->g.qc = malloc(b * sizeof(float));
    t->g.aux = malloc(b * sizeof *t->g.aux);
    t->g.n_aux = t->m.size[t->m.n_hidden + 1] > 2 ? t->m.size[t->m.n_hidden + 1] - 2 : 0;
    t->order = malloc((t->tr.n + 1) * sizeof *t->order);
    if (!t->g.x || !t->g.y || !t->g.tok || !t->g.le || !t->g.lc || !t->g.delta || !t->g.qe || !t->g.qc ||
        !t->g.aux || !t->order)
        return hflow_error_set(err, HFLOW_ENOMEM, "train: out of memory");
    int rc = hflow_mlp_zeros_like(&t->best, &t->m, err);
    if (!rc) rc = hflow_mlp_zeros_like(&t->grads, &t->m, err);
    if (!rc) rc = hflow_mlp_zeros_like(&t->opt.mom, &t->m, err);
    if (!rc) rc = hflow_mlp_zeros_like(&t->opt.vel, &t->m, err);
    return rc;
}

/* One pass over the training positions in a seeded order; returns mean loss. */
static double train_epoch(trainer *t, const hflow_router_train_opts *o, uint64_t *rng) {
    for (size_t i = 0; i < t->tr.n; i++) t->order[i] = i;
    shuffle(t->order, t->tr.n, rng);
    double sum = 0;
    size_t nb = 0;
    for (size_t from = 0; from < t->tr.n; from += o->batch) {
        size_t n = t->tr.n - from < o->batch ? t->tr.n - from : o->batch;
        hflow_router_batch b = gather(&t->tr, t->order + from, n, &t->g);
        sum += hflow_router_loss_grad(&t->m, &b, o, &t->grads);
        adamw_step(&t->opt, &t->m, &t->grads, o);
        nb++;
    }
    return nb ? sum / (double)nb : 0.0;
}

static int check_opts(const hflow_router_train_opts *o, hflow_error *err) {
    if (o->batch < 1 || o->max_epochs < 1 || !(o->lr > 0) || !(o->decision.tau > 0) || o->val_frac < 0 ||
        o->val_frac >= 1 || o->n_hidden > HFLOW_ROUTER_MAX_HIDDEN)
        return hflow_error_set(err, HFLOW_EINVAL, "train: bad options (batch %u, epochs %u, lr %g, tau %g)",
                               o->batch, o->max_epochs, (double)o->lr, (double)o->decision.tau);
    if (o->ensemble > 1 && (o->n_hidden > 1 || (o->n_hidden == 1 && (uint64_t)o->ensemble * o->hidden[0] > HFLOW_MLP_MAX_WIDTH)))
        return hflow_error_set(err, HFLOW_EINVAL, "train: an ensemble of %u needs at most one hidden layer of at most "
                               "%d / %u units", o->ensemble, HFLOW_MLP_MAX_WIDTH, o->ensemble);
    if (o->objective != HFLOW_ROUTER_OBJ_UTILITY && o->objective != HFLOW_ROUTER_OBJ_TIERS)
        return hflow_error_set(err, HFLOW_EINVAL, "train: unknown objective %d", o->objective);
    if (o->objective == HFLOW_ROUTER_OBJ_TIERS && (o->lam.t != 0 || o->lam.k != 0 || o->aux_weight < 0))
        return hflow_error_set(err, HFLOW_EINVAL,
                               "train: the tiers objective predicts quality only (lambda_t = lambda_k = 0, aux weight >= 0)");
    return 0;
}

/* 1 when a training sample carries an edge confidence (a cascade profile). */
static int any_confidence(const hflow_router_dataset *d, const size_t *tr, size_t ntr) {
    for (size_t i = 0; i < ntr; i++)
        if (d->s[tr[i]].f.edge_confidence >= 0 && d->s[tr[i]].f.edge_confidence <= 1) return 1;
    return 0;
}

/* 1 when a training sample carries the edge's answer (a cascade replay or profile). */
static int any_edge_answer(const hflow_router_dataset *d, const size_t *tr, size_t ntr) {
    for (size_t i = 0; i < ntr; i++)
        if (d->s[tr[i]].f.edge_answer_tokens > 0) return 1;
    return 0;
}

/* Fits the featurizer (types, normalisation) on the training positions. */
static int build_featurizer(const hflow_router_dataset *d, const unsigned char *use, const size_t *tr, size_t ntr,
                            const hflow_router_train_opts *o, hflow_featurizer *fz, hflow_error *err) {
    hflow_router_feature_config c = o->feat;
    c.embed_dim = d->embed_dim;
    c.edge_confidence = any_confidence(d, tr, ntr);
    c.edge_answer = any_edge_answer(d, tr, ntr);
    collect_types(d, use, &c);
    int rc = hflow_featurizer_init(fz, &c, err);
    if (!rc) rc = fit_normalisation(fz, d, tr, ntr, err);
    return rc;
}

static int run_epochs(trainer *t, const hflow_router_train_opts *o, hflow_router_train_report *rep) {
    uint64_t rng = o->seed * 0x2545f4914f6cdd1dull + 7;
    double best = INFINITY;
    uint32_t since = 0;
    for (uint32_t ep = 1; ep <= o->max_epochs; ep++) {
        double tl = train_epoch(t, o, &rng);
        hflow_router_batch vb = whole(t->va.n ? &t->va : &t->tr, t->g.n_aux);
        double vl = hflow_router_loss_grad(&t->m, &vb, o, NULL);
        if (o->verbose) fprintf(stderr, "train-router: epoch %u train %.5f val %.5f\n", ep, tl, vl);
        rep->epochs = ep;
        if (!isfinite(vl)) return -1;
        if (vl < best) {
            best = vl;
            rep->best_epoch = ep;
            rep->train_loss = tl;
            rep->val_loss = vl;
            hflow_mlp_copy(&t->best, &t->m);
            since = 0;
        } else if (++since >= o->patience) {
            break;
        }
    }
    hflow_mlp_copy(&t->m, &t->best);
    return 0;
}

/* One network on the used samples: its own validation split and seed; the
 * featurizer is fitted on the first member's training positions (when
 * fz->mean is NULL) and shared by the later ones. */
static int train_member(const hflow_router_dataset *d, const unsigned char *use, const hflow_router_train_opts *o,
                        hflow_featurizer *fz, hflow_mlp *out, hflow_router_train_report *rep, hflow_error *err) {
    size_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    if (split_train_val(d, use, o, &tr, &ntr, &va, &nva) != 0) {
        free(tr);
        free(va);
        return hflow_error_set(err, HFLOW_ENOMEM, "train: out of memory");
    }
    trainer t;
    memset(&t, 0, sizeof t);
    int rc = 0;
    if (ntr == 0) rc = hflow_error_set(err, HFLOW_EINVAL, "train: no training samples");
    if (!rc && !fz->mean) rc = build_featurizer(d, use, tr, ntr, o, fz, err);
    if (!rc) rc = prepare(fz, d, tr, ntr, o, &t.tr, err);
    if (!rc) rc = prepare(fz, d, va, nva, o, &t.va, err);
    uint32_t n_out = o->objective == HFLOW_ROUTER_OBJ_TIERS ? 2 + (o->aux_weight > 0 ? d->aux_dim : 0) : 1;
    if (!rc) rc = hflow_mlp_init_n(&t.m, fz->cfg.hash_dim + fz->n_dense, o->n_hidden, o->hidden, n_out, o->act, o->seed, err);
    if (!rc) rc = trainer_alloc(&t, o, err);
    if (!rc && run_epochs(&t, o, rep) != 0) rc = hflow_error_set(err, HFLOW_ERANGE, "train: loss diverged");
    if (!rc) {
        *out = t.m;
        memset(&t.m, 0, sizeof t.m);
    }
    rep->n_train = ntr;
    rep->n_val = nva;
    trainer_free(&t);
    free(tr);
    free(va);
    return rc;
}

int hflow_router_train(const hflow_router_dataset *d, const unsigned char *use, const hflow_router_train_opts *o,
                       hflow_router **out, hflow_router_train_report *rep_out, hflow_error *err) {
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc) return rc;
    double t0 = hflow_now_s();
    const uint32_t k_members = o->ensemble > 1 ? o->ensemble : 1;
    hflow_router_train_report rep = {0};
    hflow_featurizer fz = {0};
    hflow_mlp *mem = calloc(k_members, sizeof *mem), m = {0};
    if (!mem) return hflow_error_set(err, HFLOW_ENOMEM, "train: out of memory");
    double val_sum = 0;
    for (uint32_t k = 0; k < k_members && !rc; k++) {
        hflow_router_train_opts ok = *o;
        ok.seed = o->seed + (uint64_t)k * 7919u; /* member 0 = the single-network run */
        hflow_router_train_report rk = {0};
        rc = train_member(d, use, &ok, &fz, &mem[k], &rk, err);
        if (k == 0) rep = rk;
        val_sum += rk.val_loss;
    }
    rep.val_loss = val_sum / k_members;
    if (!rc && k_members > 1) rc = hflow_mlp_ensemble(mem, k_members, &m, err);
    else if (!rc) { m = mem[0]; memset(&mem[0], 0, sizeof mem[0]); }
    if (!rc) rc = hflow_router_assemble(&fz, &m, &o->lam, &o->decision, out, err);
    if (!rc && o->knn.k > 0 && (rc = hflow_router_knn_build(*out, d, use, &o->knn, err)) != 0) {
        hflow_router_free(*out);
        *out = NULL;
    }
    rep.seconds = hflow_now_s() - t0;
    if (rep_out) *rep_out = rep;
    for (uint32_t k = 0; k < k_members; k++) hflow_mlp_free(&mem[k]);
    free(mem);
    hflow_mlp_free(&m);
    hflow_featurizer_free(&fz);
    return rc;
}
