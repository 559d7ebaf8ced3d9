/* router_io.c - a router as a GGUF file.
 *
 * Tensors (F32): router.l{L}.weight with ne = {size[L+1], size[L]} (the
 * input-major layout of hflow_mlp, ne[0] contiguous) and router.l{L}.bias.
 * Metadata: general.architecture = "hflow-router", the feature config, the
 * dense normalisation (F32 arrays), the MLP shape, the label lambdas and the
 * decision parameters, all under "router.". Every value is stored at the
 * precision the router uses (float), so a loaded router decides bit for bit
 * like the saved one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ggml_type.h"
#include "hybridflow/gguf.h"
#include "route/mlp_internal.h"
#include "route/router_internal.h"

#define ROUTER_ARCH "hflow-router"
#define ROUTER_FORMAT 1

static int set_meta(hflow_gguf_writer *w, const hflow_router *r) {
    const hflow_router_feature_config *c = &r->fz.cfg;
    const char *types[HFLOW_ROUTER_MAX_TYPES];
    for (int i = 0; i < c->n_types; i++) types[i] = c->types[i];
    uint32_t sizes[HFLOW_ROUTER_MAX_HIDDEN + 2];
    for (uint32_t l = 0; l <= r->mlp.n_hidden + 1; l++) sizes[l] = r->mlp.size[l];
    int rc = 0;
    rc |= hflow_gguf_set_str(w, "general.architecture", ROUTER_ARCH);
    rc |= hflow_gguf_set_u32(w, "router.format", ROUTER_FORMAT);
    rc |= hflow_gguf_set_u32(w, "router.feature.hash_dim", c->hash_dim);
    rc |= hflow_gguf_set_u32(w, "router.feature.hash_seed", c->hash_seed);
    rc |= hflow_gguf_set_bool(w, "router.feature.bigrams", c->bigrams != 0);
    rc |= hflow_gguf_set_bool(w, "router.feature.shape_tokens", c->shape_tokens != 0);
    rc |= hflow_gguf_set_bool(w, "router.feature.question_shape", c->question_shape != 0);
    rc |= hflow_gguf_set_u32(w, "router.feature.embed_dim", c->embed_dim);
    rc |= hflow_gguf_set_bool(w, "router.feature.edge_confidence", c->edge_confidence != 0);
    rc |= hflow_gguf_set_bool(w, "router.feature.edge_answer", c->edge_answer != 0);
    rc |= hflow_gguf_set_arr_str(w, "router.feature.types", types, NULL, (uint64_t)c->n_types);
    rc |= hflow_gguf_set_arr(w, "router.norm.mean", HFLOW_GGUF_FLOAT32, r->fz.mean, r->fz.n_dense);
    rc |= hflow_gguf_set_arr(w, "router.norm.scale", HFLOW_GGUF_FLOAT32, r->fz.scale, r->fz.n_dense);
    rc |= hflow_gguf_set_arr(w, "router.mlp.sizes", HFLOW_GGUF_UINT32, sizes, r->mlp.n_hidden + 2);
    rc |= hflow_gguf_set_str(w, "router.mlp.activation", r->mlp.act == HFLOW_ACT_GELU ? "gelu" : "relu");
    rc |= hflow_gguf_set_f32(w, "router.lambda.q", r->lam.q);
    rc |= hflow_gguf_set_f32(w, "router.lambda.t", r->lam.t);
    rc |= hflow_gguf_set_f32(w, "router.lambda.k", r->lam.k);
    rc |= hflow_gguf_set_f32(w, "router.decision.delta0", r->p.delta0);
    rc |= hflow_gguf_set_f32(w, "router.decision.alpha_B", r->p.alpha_B);
    rc |= hflow_gguf_set_f32(w, "router.decision.alpha_L", r->p.alpha_L);
    rc |= hflow_gguf_set_f32(w, "router.decision.tau", r->p.tau);
    rc |= hflow_gguf_set_f32(w, "router.decision.delta_lo", r->p.delta_lo);
    rc |= hflow_gguf_set_f32(w, "router.decision.delta_hi", r->p.delta_hi);
    if (r->embed_endpoint) rc |= hflow_gguf_set_str(w, "router.embed.endpoint", r->embed_endpoint);
    return rc;
}

int hflow_router_save(const hflow_router *r, const char *path, hflow_error *err) {
    hflow_gguf_writer *w = hflow_gguf_writer_create();
    if (!w) return hflow_error_set(err, HFLOW_ENOMEM, "router save: out of memory");
    int rc = set_meta(w, r) ? hflow_error_set(err, HFLOW_ENOMEM, "router save: metadata failed") : 0;
    for (uint32_t l = 0; l <= r->mlp.n_hidden && rc == 0; l++) {
        char name[64];
        int64_t ne[2] = {r->mlp.size[l + 1], r->mlp.size[l]};
        snprintf(name, sizeof name, "router.l%u.weight", l);
        rc = hflow_gguf_add_tensor(w, name, HFLOW_TYPE_F32, 2, ne, r->mlp.w[l],
                                   hflow_mlp_layer_w(&r->mlp, l) * sizeof(float), err);
        snprintf(name, sizeof name, "router.l%u.bias", l);
        if (!rc) rc = hflow_gguf_add_tensor(w, name, HFLOW_TYPE_F32, 1, ne, r->mlp.b[l], ne[0] * sizeof(float), err);
    }
    if (!rc && r->knn) rc = hflow_knn_save(r->knn, w, err);
    if (!rc) rc = hflow_gguf_writer_write(w, path, err);
    hflow_gguf_writer_free(w);
    if (rc) hflow_error_wrap(err, "router save %s", path);
    return rc;
}

/* ---- load ---- */

static int get_u32(const hflow_gguf *g, const char *key, uint32_t *out, hflow_error *err) {
    int64_t v;
    if (hflow_gguf_get_int(g, key, &v) != 0 || v < 0 || v > UINT32_MAX)
        return hflow_error_set(err, HFLOW_EFORMAT, "missing or bad %s", key);
    *out = (uint32_t)v;
    return 0;
}

static int get_f32(const hflow_gguf *g, const char *key, float *out, hflow_error *err) {
    double v;
    if (hflow_gguf_get_float(g, key, &v) != 0 || isnan(v)) return hflow_error_set(err, HFLOW_EFORMAT, "missing or bad %s", key);
    *out = (float)v;
    return 0;
}

static int load_features(const hflow_gguf *g, hflow_featurizer *fz, hflow_error *err) {
    hflow_router_feature_config c;
    hflow_router_feature_config_default(&c);
    int bg = 1;
    int rc = get_u32(g, "router.feature.hash_dim", &c.hash_dim, err);
    if (!rc) rc = get_u32(g, "router.feature.hash_seed", &c.hash_seed, err);
    if (!rc) rc = get_u32(g, "router.feature.embed_dim", &c.embed_dim, err);
    if (!rc && hflow_gguf_get_bool(g, "router.feature.bigrams", &bg) != 0)
        rc = hflow_error_set(err, HFLOW_EFORMAT, "missing router.feature.bigrams");
    c.bigrams = bg;
    /* Absent in files written before shape tokens existed: those hashed words only. */
    int sh = 0;
    c.shape_tokens = hflow_gguf_get_bool(g, "router.feature.shape_tokens", &sh) == 0 && sh;
    int qs = 0; /* absent before question-structure features */
    c.question_shape = hflow_gguf_get_bool(g, "router.feature.question_shape", &qs) == 0 && qs;
    int ec = 0; /* absent before cascade mode: no confidence */
    c.edge_confidence = hflow_gguf_get_bool(g, "router.feature.edge_confidence", &ec) == 0 && ec;
    int ea = 0; /* absent before cascade routers read the edge's answer */
    c.edge_answer = hflow_gguf_get_bool(g, "router.feature.edge_answer", &ea) == 0 && ea;
    const hflow_gguf_value *t = hflow_gguf_get(g, "router.feature.types");
    if (!rc && (!t || t->type != HFLOW_GGUF_ARRAY || t->arr_type != HFLOW_GGUF_STRING || t->arr_n > HFLOW_ROUTER_MAX_TYPES))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "missing or bad router.feature.types");
    for (uint64_t i = 0; !rc && i < t->arr_n; i++) {
        size_t len;
        const char *s = hflow_gguf_arr_str(g, t, i, &len);
        if (!s || len >= HFLOW_ROUTER_TYPE_LEN) return hflow_error_set(err, HFLOW_EFORMAT, "bad task type %u", (unsigned)i);
        memcpy(c.types[i], s, len);
        c.types[i][len] = '\0';
        c.n_types = (int)i + 1;
    }
    if (!rc) rc = hflow_featurizer_init(fz, &c, err);
    const hflow_gguf_value *mean = hflow_gguf_get(g, "router.norm.mean"), *scale = hflow_gguf_get(g, "router.norm.scale");
    if (!rc && (!mean || !scale || mean->arr_type != HFLOW_GGUF_FLOAT32 || scale->arr_type != HFLOW_GGUF_FLOAT32 ||
                mean->arr_n != fz->n_dense || scale->arr_n != fz->n_dense))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "router.norm.* must be %u floats", fz->n_dense);
    for (uint32_t j = 0; !rc && j < fz->n_dense; j++) {
        fz->mean[j] = (float)hflow_gguf_arr_float(g, mean, j);
        fz->scale[j] = (float)hflow_gguf_arr_float(g, scale, j);
    }
    return rc;
}

static int load_tensor(const hflow_gguf *g, const char *name, int64_t ne0, int64_t ne1, float *dst, hflow_error *err) {
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, name);
    if (!t || t->type != HFLOW_TYPE_F32 || t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1 ||
        t->size != (uint64_t)(ne0 * ne1) * sizeof(float))
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor %s missing or not F32 [%lld x %lld]", name, (long long)ne1,
                               (long long)ne0);
    memcpy(dst, t->data, t->size);
    return 0;
}

static int load_mlp(const hflow_gguf *g, const hflow_featurizer *fz, hflow_mlp *m, hflow_error *err) {
    const hflow_gguf_value *sz = hflow_gguf_get(g, "router.mlp.sizes");
    if (!sz || sz->type != HFLOW_GGUF_ARRAY || sz->arr_n < 2 || sz->arr_n > HFLOW_ROUTER_MAX_HIDDEN + 2)
        return hflow_error_set(err, HFLOW_EFORMAT, "missing or bad router.mlp.sizes");
    uint32_t n_hidden = (uint32_t)sz->arr_n - 2, hidden[HFLOW_ROUTER_MAX_HIDDEN];
    for (uint32_t l = 0; l < n_hidden; l++) {
        int64_t v = hflow_gguf_arr_int(g, sz, l + 1);
        hidden[l] = v < 0 || v > UINT32_MAX ? 0 : (uint32_t)v;
    }
    int64_t n_out = hflow_gguf_arr_int(g, sz, n_hidden + 1);
    if (hflow_gguf_arr_int(g, sz, 0) != (int64_t)(fz->cfg.hash_dim + fz->n_dense) || n_out < 1 ||
        n_out > HFLOW_MLP_MAX_WIDTH)
        return hflow_error_set(err, HFLOW_EFORMAT, "router.mlp.sizes does not match the feature config");
    const char *act;
    size_t alen;
    int a = HFLOW_ACT_RELU;
    if (hflow_gguf_get_str(g, "router.mlp.activation", &act, &alen) != 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "missing router.mlp.activation");
    if (alen == 4 && !memcmp(act, "gelu", 4)) a = HFLOW_ACT_GELU;
    else if (!(alen == 4 && !memcmp(act, "relu", 4))) return hflow_error_set(err, HFLOW_EFORMAT, "unknown activation");
    int rc = hflow_mlp_init_n(m, fz->cfg.hash_dim + fz->n_dense, n_hidden, hidden, (uint32_t)n_out, a, 0, err);
    for (uint32_t l = 0; !rc && l <= n_hidden; l++) {
        char name[64];
        snprintf(name, sizeof name, "router.l%u.weight", l);
        rc = load_tensor(g, name, m->size[l + 1], m->size[l], m->w[l], err);
        snprintf(name, sizeof name, "router.l%u.bias", l);
        if (!rc) rc = load_tensor(g, name, m->size[l + 1], 1, m->b[l], err);
    }
    return rc;
}

static int load_params(const hflow_gguf *g, hflow_router_lambdas *lam, hflow_router_decision_params *p,
                       hflow_error *err) {
    int rc = get_f32(g, "router.lambda.q", &lam->q, err);
    if (!rc) rc = get_f32(g, "router.lambda.t", &lam->t, err);
    if (!rc) rc = get_f32(g, "router.lambda.k", &lam->k, err);
    if (!rc) rc = get_f32(g, "router.decision.delta0", &p->delta0, err);
    if (!rc) rc = get_f32(g, "router.decision.alpha_B", &p->alpha_B, err);
    if (!rc) rc = get_f32(g, "router.decision.alpha_L", &p->alpha_L, err);
    if (!rc) rc = get_f32(g, "router.decision.tau", &p->tau, err);
    if (!rc) rc = get_f32(g, "router.decision.delta_lo", &p->delta_lo, err);
    if (!rc) rc = get_f32(g, "router.decision.delta_hi", &p->delta_hi, err);
    return rc;
}

int hflow_router_load(const char *path, hflow_router **out, hflow_error *err) {
    *out = NULL;
    hflow_gguf *g = NULL;
    int rc = hflow_gguf_open(path, &g, err);
    if (rc) return rc;
    const char *arch;
    size_t alen;
    if (hflow_gguf_get_str(g, "general.architecture", &arch, &alen) != 0 || alen != strlen(ROUTER_ARCH) ||
        memcmp(arch, ROUTER_ARCH, alen))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "not a router file (general.architecture != %s)", ROUTER_ARCH);
    hflow_featurizer fz = {0};
    hflow_mlp m = {0};
    hflow_router_lambdas lam;
    hflow_router_decision_params p;
    if (!rc) rc = load_features(g, &fz, err);
    if (!rc) rc = load_mlp(g, &fz, &m, err);
    if (!rc) rc = load_params(g, &lam, &p, err);
    if (!rc) rc = hflow_router_assemble(&fz, &m, &lam, &p, out, err);
    if (!rc && (rc = hflow_knn_load(g, &(*out)->knn, err)) != 0) {
        hflow_router_free(*out);
        *out = NULL;
    }
    const char *ep;
    size_t eplen;
    if (!rc && hflow_gguf_get_str(g, "router.embed.endpoint", &ep, &eplen) == 0) {
        char *copy = strndup(ep, eplen);
        rc = copy ? hflow_router_set_embed_endpoint(*out, copy, err) : hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        free(copy);
        if (rc) {
            hflow_router_free(*out);
            *out = NULL;
        }
    }
    hflow_featurizer_free(&fz);
    hflow_mlp_free(&m);
    hflow_gguf_close(g);
    if (rc) hflow_error_wrap(err, "router load %s", path);
    return rc;
}
