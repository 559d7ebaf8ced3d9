/* utility_policy.c - decisions of the utility router, calibration of
 * delta0, and the route.h policy "learned".
 *
 * Thread safety: a router is read-only after assembly/calibration; decide()
 * allocates its own feature vector, and sampled decisions draw from a
 * per-policy atomic counter hashed with the seed (no shared RNG state). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route/mlp_internal.h"
#include "route/router_internal.h"

int hflow_router_assemble(hflow_featurizer *fz, hflow_mlp *m, const hflow_router_lambdas *lam,
                          const hflow_router_decision_params *p, hflow_router **out, hflow_error *err) {
    *out = NULL;
    if (m->n_in != fz->cfg.hash_dim + fz->n_dense)
        return hflow_error_set(err, HFLOW_EINVAL, "router: MLP has %u inputs, features %u", m->n_in,
                               fz->cfg.hash_dim + fz->n_dense);
    if (!(p->tau > 0)) return hflow_error_set(err, HFLOW_EINVAL, "router: tau must be > 0");
    hflow_router *r = calloc(1, sizeof *r);
    if (!r) return hflow_error_set(err, HFLOW_ENOMEM, "router: out of memory");
    r->fz = *fz;
    r->mlp = *m;
    r->lam = *lam;
    r->p = *p;
    memset(fz, 0, sizeof *fz);
    memset(m, 0, sizeof *m);
    *out = r;
    return 0;
}

void hflow_router_free(hflow_router *r) {
    if (!r) return;
    free(r->embed_endpoint);
    hflow_knn_free(r->knn);
    hflow_featurizer_free(&r->fz);
    hflow_mlp_free(&r->mlp);
    free(r);
}

const hflow_featurizer *hflow_router_featurizer(const hflow_router *r) { return &r->fz; }
const hflow_mlp *hflow_router_mlp(const hflow_router *r) { return &r->mlp; }
hflow_router_decision_params hflow_router_params(const hflow_router *r) { return r->p; }
void hflow_router_set_params(hflow_router *r, const hflow_router_decision_params *p) { r->p = *p; }
hflow_router_lambdas hflow_router_get_lambdas(const hflow_router *r) { return r->lam; }
const char *hflow_router_embed_endpoint(const hflow_router *r) { return r->embed_endpoint; }

int hflow_router_set_embed_endpoint(hflow_router *r, const char *endpoint, hflow_error *err) {
    char *c = endpoint ? strdup(endpoint) : NULL;
    if (endpoint && !c) return hflow_error_set(err, HFLOW_ENOMEM, "router: out of memory");
    free(r->embed_endpoint);
    r->embed_endpoint = c;
    return 0;
}

double hflow_router_threshold_of(const hflow_router_decision_params *p, const hflow_budget_state *b) {
    /* The tighter of the token and dollar budgets drives r_B. */
    double rb = b->tokens_ratio > b->usd_ratio ? b->tokens_ratio : b->usd_ratio;
    double rl = b->latency_ratio;
    if (!(rb >= 0)) rb = 0;
    if (!(rl >= 0)) rl = 0;
    double t = (double)p->delta0 + (double)p->alpha_B * rb + (double)p->alpha_L * rl;
    return t < p->delta_lo ? p->delta_lo : t > p->delta_hi ? p->delta_hi : t;
}

double hflow_router_threshold(const hflow_router *r, const hflow_budget_state *b) {
    return hflow_router_threshold_of(&r->p, b);
}

double hflow_router_p_cloud(const hflow_router *r, float s, double delta_t) {
    return 1.0 / (1.0 + exp(-((double)s - delta_t) / (double)r->p.tau));
}

float hflow_router_head_score(const hflow_router_lambdas *lam, const float *out, uint32_t n_out) {
    if (n_out < 2) return out[0];
    return lam->q * (1.0f / (1.0f + expf(-out[1])) - 1.0f / (1.0f + expf(-out[0])));
}

int hflow_router_score(const hflow_router *r, const hflow_route_features *f, const float *embedding, float *s,
                       hflow_error *err) {
    hflow_router_fvec v = {0};
    float out[HFLOW_MLP_MAX_WIDTH];
    int rc = hflow_featurize(&r->fz, f, embedding, &v, err);
    const uint32_t n_out = r->mlp.size[r->mlp.n_hidden + 1];
    if (!rc) {
        hflow_mlp_forward_all(&r->mlp, &v, out);
        *s = hflow_router_head_score(&r->lam, out, n_out);
        rc = hflow_knn_blend(r->knn, f, s, err);
    }
    hflow_router_fvec_free(&v);
    return rc;
}

int hflow_router_decide(const hflow_router *r, const hflow_route_features *f, const float *embedding, int sampled,
                        double u01, hflow_route_decision *out, hflow_error *err) {
    float s = 0;
    int rc = hflow_router_score(r, f, embedding, &s, err);
    if (rc) return rc;
    double t = hflow_router_threshold(r, &f->budget);
    out->score = s;
    out->threshold = t;
    out->reason = sampled ? "learned-sampled" : "learned";
    out->tier = (sampled ? u01 < hflow_router_p_cloud(r, s, t) : (double)s > t) ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    return 0;
}

/* ---- calibration ---- */

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* Sample i goes to the cloud iff s_i - (delta_t,i - delta0) > delta0 (when the
 * clip does not bind). So sort c_i = s_i - budget offset_i and put delta0
 * between the k-th and (k+1)-th largest, k = round(share * n). */
int hflow_router_calibrate(hflow_router *r, const hflow_router_dataset *cal, const unsigned char *use,
                           double target_share, hflow_error *err) {
    if (!(target_share >= 0 && target_share <= 1))
        return hflow_error_set(err, HFLOW_EINVAL, "calibrate: target share %g not in [0, 1]", target_share);
    double *c = malloc((cal->n + 1) * sizeof *c);
    if (!c) return hflow_error_set(err, HFLOW_ENOMEM, "calibrate: out of memory");
    hflow_router_decision_params p0 = r->p;
    p0.delta0 = 0;
    p0.delta_lo = -INFINITY;
    p0.delta_hi = INFINITY;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < cal->n && rc == 0; i++) {
        if (use && !use[i]) continue;
        float s = 0;
        rc = hflow_router_score(r, &cal->s[i].f, cal->s[i].embedding, &s, err);
        c[n++] = (double)s - hflow_router_threshold_of(&p0, &cal->s[i].f.budget);
    }
    if (!rc && n == 0) rc = hflow_error_set(err, HFLOW_EINVAL, "calibrate: no samples");
    if (!rc) {
        qsort(c, n, sizeof *c, cmp_desc);
        size_t k = (size_t)llround(target_share * (double)n);
        double d0 = k == 0 ? c[0] + 1e-3 : k >= n ? c[n - 1] - 1e-3 : 0.5 * (c[k - 1] + c[k]);
        r->p.delta0 = (float)d0;
        /* Keep (float)delta0 on the right side of both neighbours. */
        if (k > 0 && k < n && !((double)r->p.delta0 < c[k - 1] && (double)r->p.delta0 >= c[k])) r->p.delta0 = (float)c[k];
        if (r->p.delta0 < r->p.delta_lo) r->p.delta_lo = r->p.delta0;
        if (r->p.delta0 > r->p.delta_hi) r->p.delta_hi = r->p.delta0;
    }
    free(c);
    return rc;
}

/* ---- the route.h policy ---- */

typedef struct learned_policy {
    hflow_router *r;
    hflow_learned_opts o;
    hflow_router_embedder *emb; /* NULL unless the router has embedding features */
    atomic_uint_fast64_t draws;
} learned_policy;

static double uniform_draw(learned_policy *lp) {
    uint64_t z = lp->o.seed + 0x9e3779b97f4a7c15ull * (atomic_fetch_add(&lp->draws, 1) + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static int learned_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    learned_policy *lp = p->impl;
    uint32_t dim = lp->r->fz.cfg.embed_dim;
    float *emb = NULL;
    int rc = 0;
    if (lp->r->fz.cfg.edge_confidence && !(f->edge_confidence >= 0 && f->edge_confidence <= 1))
        return hflow_error_set(err, HFLOW_EINVAL,
                               "learned policy: the router was trained with the edge's confidence and this step has "
                               "none (run in cascade mode, with an edge that reports logprobs)");
    if (lp->r->fz.cfg.edge_answer && !(f->edge_answer_tokens > 0))
        return hflow_error_set(err, HFLOW_EINVAL,
                               "learned policy: the router was trained with the edge's answer (a cascade router) and "
                               "this step has none (run in cascade mode)");
    if (lp->emb) { /* the same lookup training used (hflow_router_dataset_embed) */
        emb = malloc(dim * sizeof *emb);
        rc = emb ? hflow_router_embedder_embed(lp->emb, f, emb, dim, err)
                 : hflow_error_set(err, HFLOW_ENOMEM, "learned policy: out of memory");
    }
    if (!rc) rc = hflow_router_decide(lp->r, f, emb, lp->o.sampled, lp->o.sampled ? uniform_draw(lp) : 0.0, out, err);
    free(emb);
    if (rc) return rc;
    /* Forced rules override the model but keep its score in the trace. */
    if (f->is_first && lp->o.force_first >= 0) {
        out->tier = lp->o.force_first;
        out->reason = "forced-first";
    } else if (f->is_last && lp->o.force_last >= 0) {
        out->tier = lp->o.force_last;
        out->reason = "forced-last";
    }
    return 0;
}

static void learned_destroy(hflow_policy *p) {
    if (!p) return;
    learned_policy *lp = p->impl;
    if (lp) {
        hflow_router_free(lp->r);
        hflow_router_embedder_free(lp->emb);
    }
    free(lp);
    free(p);
}

static const hflow_policy_vtable learned_vt = {"learned", learned_decide, learned_destroy};

int hflow_policy_from_router(hflow_router *r, const hflow_learned_opts *o, hflow_policy **out, hflow_error *err) {
    *out = NULL;
    hflow_router_embedder *emb = NULL;
    if (r->fz.cfg.embed_dim > 0) {
        const char *ep = o->embed_endpoint ? o->embed_endpoint : r->embed_endpoint;
        if (!ep)
            return hflow_error_set(err, HFLOW_EUNSUPPORTED,
                                   "learned policy: router wants a %u-d embedding and names no embedder (give embed=)",
                                   r->fz.cfg.embed_dim);
        int rc = hflow_router_embedder_open(ep, NULL, &emb, err);
        if (rc) return rc;
    }
    hflow_policy *p = calloc(1, sizeof *p);
    learned_policy *lp = calloc(1, sizeof *lp);
    if (!p || !lp) {
        free(p);
        free(lp);
        hflow_router_embedder_free(emb);
        return hflow_error_set(err, HFLOW_ENOMEM, "learned policy: out of memory");
    }
    lp->r = r;
    lp->o = *o;
    lp->o.embed_endpoint = NULL; /* not kept: the embedder holds its own copy */
    lp->emb = emb;
    atomic_init(&lp->draws, 0);
    p->vt = &learned_vt;
    p->impl = lp;
    if (r->fz.cfg.edge_confidence) p->flags |= HFLOW_POLICY_NEEDS_CONFIDENCE;
    if (r->fz.cfg.edge_answer) p->flags |= HFLOW_POLICY_NEEDS_EDGE_ANSWER;
    snprintf(p->name, sizeof p->name, "learned%s", o->sampled ? "-sampled" : "");
    *out = p;
    return 0;
}

static int parse_tier(const char *v, int *out) {
    if (!strcmp(v, "edge")) *out = HFLOW_TIER_EDGE;
    else if (!strcmp(v, "cloud")) *out = HFLOW_TIER_CLOUD;
    else return -1;
    return 0;
}

/* "PATH[,sample][,seed=N][,first=edge|cloud][,last=edge|cloud]" */
static int parse_learned_arg(const char *arg, char *path, size_t cap, hflow_learned_opts *o, hflow_error *err) {
    *o = (hflow_learned_opts){.sampled = 0, .seed = 0, .force_first = -1, .force_last = -1};
    const char *comma = strchr(arg, ',');
    size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
    if (n == 0 || n >= cap) return hflow_error_set(err, HFLOW_EINVAL, "learned policy: bad router path in '%s'", arg);
    memcpy(path, arg, n);
    path[n] = '\0';
    while (comma) {
        const char *opt = comma + 1;
        if (!strncmp(opt, "embed=", 6)) { /* the rest of the spec: endpoints may hold commas */
            if (!opt[6]) return hflow_error_set(err, HFLOW_EINVAL, "learned policy: empty embed=");
            o->embed_endpoint = opt + 6;
            break;
        }
        comma = strchr(opt, ',');
        char buf[64];
        size_t m = comma ? (size_t)(comma - opt) : strlen(opt);
        if (m >= sizeof buf) return hflow_error_set(err, HFLOW_EINVAL, "learned policy: option too long");
        memcpy(buf, opt, m);
        buf[m] = '\0';
        char *end;
        if (!strcmp(buf, "sample")) o->sampled = 1;
        else if (!strncmp(buf, "seed=", 5) && (o->seed = strtoull(buf + 5, &end, 10), *end == '\0' && buf[5])) continue;
        else if (!strncmp(buf, "first=", 6) && parse_tier(buf + 6, &o->force_first) == 0) continue;
        else if (!strncmp(buf, "last=", 5) && parse_tier(buf + 5, &o->force_last) == 0) continue;
        else return hflow_error_set(err, HFLOW_EINVAL, "learned policy: unknown option '%s'", buf);
    }
    return 0;
}

int hflow_policy_create_learned(const char *arg, hflow_policy **out, hflow_error *err) {
    *out = NULL;
    if (!arg) return hflow_error_set(err, HFLOW_EINVAL, "learned policy: NULL spec");
    char path[4096];
    hflow_learned_opts o;
    int rc = parse_learned_arg(arg, path, sizeof path, &o, err);
    if (rc) return rc;
    hflow_router *r = NULL;
    rc = hflow_router_load(path, &r, err);
    if (rc) return rc;
    rc = hflow_policy_from_router(r, &o, out, err);
    if (rc) hflow_router_free(r);
    return rc;
}
