/* model_load.c - hflow_model_load: hyper-parameters from `{arch}.*` metadata,
 * tensor lookup and shape checks, the worker pool, the vocabulary.
 *
 * Weights stay in the read-only mapping owned by the hflow_gguf; the model
 * only records pointers, so loading costs metadata parsing, not a copy. Every
 * tensor the forward pass touches is checked here (presence, shape, type), so
 * forward.c can run without checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ggml_type.h"
#include "engine/model.h"
#include "engine/quant.h"

/* What differs between llama-family architectures, as data. */
typedef struct arch_traits {
    const char *name;
    int rope_style;
    int has_qkv_bias; /* loads blk.N.attn_{q,k,v}.bias (qwen2) */
    int has_qk_norm;  /* loads blk.N.attn_{q,k}_norm.weight (qwen3) */
} arch_traits;

/* Pinned by tests/test_forward_arch.c against a reference forward computed
 * in the test. */
static const arch_traits ARCHS[] = {
    {"llama", HFLOW_ROPE_NORM, 0, 0},
    {"qwen2", HFLOW_ROPE_NEOX, 1, 0},
    {"qwen3", HFLOW_ROPE_NEOX, 0, 1},
};

static const arch_traits *find_arch(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (strlen(ARCHS[i].name) == len && !memcmp(ARCHS[i].name, name, len)) return &ARCHS[i];
    return NULL;
}

/* ---- metadata ---- */

static int get_arch_int(const hflow_gguf *g, const char *arch, const char *key, int required, int64_t dflt,
                        int32_t *out, hflow_error *err) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    int64_t v = dflt;
    int rc = hflow_gguf_get_int(g, full, &v);
    if (rc == HFLOW_ENOTFOUND && !required) rc = 0;
    if (rc == HFLOW_ENOTFOUND) return hflow_error_set(err, HFLOW_EFORMAT, "missing metadata key %s", full);
    if (rc) return hflow_error_set(err, HFLOW_EFORMAT, "metadata key %s is not an integer", full);
    if (v < 0 || v > INT32_MAX) return hflow_error_set(err, HFLOW_EFORMAT, "metadata %s = %lld out of range", full, (long long)v);
    *out = (int32_t)v;
    return 0;
}

static int get_arch_float(const hflow_gguf *g, const char *arch, const char *key, double dflt, float *out,
                          hflow_error *err) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    double v = dflt;
    int rc = hflow_gguf_get_float(g, full, &v);
    if (rc && rc != HFLOW_ENOTFOUND) return hflow_error_set(err, HFLOW_EFORMAT, "metadata key %s is not a float", full);
    if (!isfinite(v)) return hflow_error_set(err, HFLOW_EFORMAT, "metadata %s is not finite", full);
    *out = (float)v;
    return 0;
}

/* `{arch}.rope.scaling.type`: "none" or absent, or "linear" with
 * `rope.scaling.factor` f (positions are divided by f). YaRN and others are
 * refused rather than run with the wrong positions. */
static int load_rope_scaling(hflow_model *m, hflow_error *err) {
    char key[128];
    const char *type;
    size_t len;
    m->hp.rope_freq_scale = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch);
    if (hflow_gguf_get_str(m->gguf, key, &type, &len) != 0 || (len == 4 && !memcmp(type, "none", 4))) return 0;
    if (len != 6 || memcmp(type, "linear", 6))
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "rope scaling '%.*s' is not supported (only linear)",
                               len > 32 ? 32 : (int)len, type);
    float factor = 1.0f;
    int rc = get_arch_float(m->gguf, m->arch, "rope.scaling.factor", 1.0, &factor, err);
    if (rc) return rc;
    if (factor < 1.0f)
        return hflow_error_set(err, HFLOW_EFORMAT, "rope.scaling.factor %g must be >= 1", factor);
    m->hp.rope_freq_scale = 1.0f / factor;
    return 0;
}

static int load_hparams(hflow_model *m, hflow_error *err) {
    const hflow_gguf *g = m->gguf;
    const char *a = m->arch;
    hflow_hparams *hp = &m->hp;
    int rc;
    int32_t key_len = 0, val_len = 0;
    if ((rc = get_arch_int(g, a, "embedding_length", 1, 0, &hp->n_embd, err)) ||
        (rc = get_arch_int(g, a, "block_count", 1, 0, &hp->n_layer, err)) ||
        (rc = get_arch_int(g, a, "feed_forward_length", 1, 0, &hp->n_ff, err)) ||
        (rc = get_arch_int(g, a, "attention.head_count", 1, 0, &hp->n_head, err)) ||
        (rc = get_arch_int(g, a, "context_length", 0, 2048, &hp->n_ctx_train, err)) ||
        (rc = get_arch_int(g, a, "attention.key_length", 0, 0, &key_len, err)) ||
        (rc = get_arch_int(g, a, "attention.value_length", 0, 0, &val_len, err)))
        return rc;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_head <= 0 || hp->n_ctx_train <= 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "zero embedding/block/ffn/head/context size in metadata");
    if ((rc = get_arch_int(g, a, "attention.head_count_kv", 0, hp->n_head, &hp->n_head_kv, err))) return rc;
    if (hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv)
        return hflow_error_set(err, HFLOW_EFORMAT, "head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                               hp->n_head_kv);
    if (!key_len && hp->n_embd % hp->n_head)
        return hflow_error_set(err, HFLOW_EFORMAT, "embedding_length %d not divisible by head_count %d", hp->n_embd,
                               hp->n_head);
    hp->head_dim = key_len ? key_len : hp->n_embd / hp->n_head;
    if (val_len && val_len != hp->head_dim)
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "value_length %d != key_length %d is not supported", val_len,
                               hp->head_dim);
    if ((rc = get_arch_int(g, a, "rope.dimension_count", 0, hp->head_dim, &hp->n_rot, err))) return rc;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return hflow_error_set(err, HFLOW_EFORMAT, "rope.dimension_count %d must be even and <= head dim %d", hp->n_rot,
                               hp->head_dim);
    if ((rc = get_arch_float(g, a, "attention.layer_norm_rms_epsilon", 1e-5, &hp->norm_eps, err)) ||
        (rc = get_arch_float(g, a, "rope.freq_base", 10000.0, &hp->rope_theta, err)))
        return rc;
    if (hp->norm_eps < 0 || hp->rope_theta <= 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "bad rms epsilon %g or rope.freq_base %g", hp->norm_eps,
                               hp->rope_theta);
    return load_rope_scaling(m, err);
}

/* ---- tensors ---- */

static const hflow_gguf_tensor *find_tensor(const hflow_model *m, const char *name, int layer) {
    char full[96];
    if (layer >= 0) snprintf(full, sizeof full, "blk.%d.%s", layer, name);
    else snprintf(full, sizeof full, "%s", name);
    return hflow_gguf_find_tensor(m->gguf, full);
}

static int check_shape(const hflow_gguf_tensor *t, int64_t ne0, int64_t ne1, hflow_error *err) {
    int64_t want[HFLOW_GGUF_MAX_DIMS] = {ne0, ne1, 1, 1};
    for (int d = 0; d < HFLOW_GGUF_MAX_DIMS; d++)
        if (t->ne[d] != want[d])
            return hflow_error_set(err, HFLOW_EFORMAT,
                                   "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", t->name,
                                   (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                                   (long long)t->ne[3], (long long)ne0, (long long)ne1);
    return 0;
}

/* A weight matrix: rows x cols, any type the kernels support. */
static int get_matrix(hflow_model *m, const char *name, int layer, int64_t rows, int64_t cols, hflow_weight *w,
                      hflow_error *err) {
    const hflow_gguf_tensor *t = find_tensor(m, name, layer);
    if (!t) {
        if (layer >= 0) return hflow_error_set(err, HFLOW_EFORMAT, "missing tensor blk.%d.%s", layer, name);
        return hflow_error_set(err, HFLOW_EFORMAT, "missing tensor %s", name);
    }
    int rc = check_shape(t, cols, rows, err);
    if (rc) return rc;
    if (!hflow_type_supported(t->type))
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "tensor %s has type %s, which the engine cannot compute with",
                               t->name, hflow_type_name(t->type));
    w->data = t->data;
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    return 0;
}

/* An F32 vector of n elements; `optional` ones yield NULL when absent. */
static int get_vector(hflow_model *m, const char *name, int layer, int64_t n, int optional, const float **out,
                      hflow_error *err) {
    const hflow_gguf_tensor *t = find_tensor(m, name, layer);
    *out = NULL;
    if (!t) {
        if (optional) return 0;
        if (layer >= 0) return hflow_error_set(err, HFLOW_EFORMAT, "missing tensor blk.%d.%s", layer, name);
        return hflow_error_set(err, HFLOW_EFORMAT, "missing tensor %s", name);
    }
    int rc = check_shape(t, n, 1, err);
    if (rc) return rc;
    if (t->type != HFLOW_TYPE_F32)
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "tensor %s has type %s; norms and biases must be F32", t->name,
                               hflow_type_name(t->type));
    *out = t->data;
    return 0;
}

static int load_layer(hflow_model *m, const arch_traits *at, int i, hflow_error *err) {
    const hflow_hparams *hp = &m->hp;
    hflow_layer *l = &m->layers[i];
    int64_t q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    int rc;
    if ((rc = get_vector(m, "attn_norm.weight", i, hp->n_embd, 0, &l->attn_norm, err)) ||
        (rc = get_matrix(m, "attn_q.weight", i, q_dim, hp->n_embd, &l->wq, err)) ||
        (rc = get_matrix(m, "attn_k.weight", i, kv_dim, hp->n_embd, &l->wk, err)) ||
        (rc = get_matrix(m, "attn_v.weight", i, kv_dim, hp->n_embd, &l->wv, err)) ||
        (rc = get_matrix(m, "attn_output.weight", i, hp->n_embd, q_dim, &l->wo, err)) ||
        (rc = get_vector(m, "ffn_norm.weight", i, hp->n_embd, 0, &l->ffn_norm, err)) ||
        (rc = get_matrix(m, "ffn_gate.weight", i, hp->n_ff, hp->n_embd, &l->w_gate, err)) ||
        (rc = get_matrix(m, "ffn_up.weight", i, hp->n_ff, hp->n_embd, &l->w_up, err)) ||
        (rc = get_matrix(m, "ffn_down.weight", i, hp->n_embd, hp->n_ff, &l->w_down, err)))
        return rc;
    if (at->has_qkv_bias &&
        ((rc = get_vector(m, "attn_q.bias", i, q_dim, 0, &l->bq, err)) ||
         (rc = get_vector(m, "attn_k.bias", i, kv_dim, 0, &l->bk, err)) ||
         (rc = get_vector(m, "attn_v.bias", i, kv_dim, 0, &l->bv, err))))
        return rc;
    if (at->has_qk_norm &&
        ((rc = get_vector(m, "attn_q_norm.weight", i, hp->head_dim, 0, &l->q_norm, err)) ||
         (rc = get_vector(m, "attn_k_norm.weight", i, hp->head_dim, 0, &l->k_norm, err))))
        return rc;
    return 0;
}

static int load_tensors(hflow_model *m, const arch_traits *at, hflow_error *err) {
    hflow_hparams *hp = &m->hp;
    const hflow_gguf_tensor *te = hflow_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return hflow_error_set(err, HFLOW_EFORMAT, "missing tensor token_embd.weight");
    if (te->ne[1] <= 0 || te->ne[1] > INT32_MAX)
        return hflow_error_set(err, HFLOW_EFORMAT, "token_embd.weight has a bad vocabulary dimension");
    hp->n_vocab = (int32_t)te->ne[1];
    int rc = get_matrix(m, "token_embd.weight", -1, hp->n_vocab, hp->n_embd, &m->tok_embd, err);
    if (rc) return rc;
    if ((rc = get_vector(m, "output_norm.weight", -1, hp->n_embd, 0, &m->output_norm, err))) return rc;
    if (hflow_gguf_find_tensor(m->gguf, "output.weight")) {
        if ((rc = get_matrix(m, "output.weight", -1, hp->n_vocab, hp->n_embd, &m->output, err))) return rc;
    } else {
        m->output = m->tok_embd; /* tied head */
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = load_layer(m, at, i, err))) return rc;
    return 0;
}

/* ---- info ---- */

static uint64_t weight_size(const hflow_weight *w) { return (uint64_t)hflow_row_size(w->type, w->cols) * (uint64_t)w->rows; }

static void fill_info(hflow_model *m) {
    const hflow_hparams *hp = &m->hp;
    hflow_model_info *in = &m->info;
    in->arch = m->arch;
    in->name = m->name;
    in->n_vocab = hp->n_vocab;
    in->n_embd = hp->n_embd;
    in->n_layer = hp->n_layer;
    in->n_head = hp->n_head;
    in->n_head_kv = hp->n_head_kv;
    in->n_ff = hp->n_ff;
    in->head_dim = hp->head_dim;
    in->n_ctx_train = hp->n_ctx_train;
    in->rope_theta = hp->rope_theta;
    in->norm_eps = hp->norm_eps;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(m->gguf); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(m->gguf, i);
        in->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    /* Per decoded token: every layer matrix and the head; one embedding row. */
    uint64_t b = weight_size(&m->output) + (uint64_t)hflow_row_size(m->tok_embd.type, m->tok_embd.cols);
    for (int i = 0; i < hp->n_layer; i++) {
        const hflow_layer *l = &m->layers[i];
        b += weight_size(&l->wq) + weight_size(&l->wk) + weight_size(&l->wv) + weight_size(&l->wo) +
             weight_size(&l->w_gate) + weight_size(&l->w_up) + weight_size(&l->w_down);
    }
    in->weight_bytes = b;
}

static char *dup_name(const hflow_gguf *g, const char *path) {
    const char *s;
    size_t len;
    if (hflow_gguf_get_str(g, "general.name", &s, &len) != 0 || len == 0) {
        s = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        len = strlen(s);
    }
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

static int load_arch(hflow_model *m, const arch_traits **at, hflow_error *err) {
    const char *s;
    size_t len;
    if (hflow_gguf_get_str(m->gguf, "general.architecture", &s, &len) != 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "missing metadata key general.architecture");
    *at = find_arch(s, len);
    if (!*at)
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "architecture '%.*s' is not supported", len > 64 ? 64 : (int)len,
                               s);
    snprintf(m->arch, sizeof m->arch, "%s", (*at)->name);
    m->hp.rope_style = (*at)->rope_style;
    return 0;
}

static int load_all(hflow_model *m, const char *path, const hflow_model_params *params, hflow_error *err) {
    const arch_traits *at;
    int rc;
    if ((rc = hflow_gguf_open(path, &m->gguf, err))) return rc;
    m->path = strdup(path);
    m->name = dup_name(m->gguf, path);
    if (!m->path || !m->name) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if ((rc = load_arch(m, &at, err)) || (rc = load_hparams(m, err)) || (rc = load_tensors(m, at, err))) return rc;
    if ((rc = hflow_model_vocab_load(m->gguf, m->hp.n_vocab, &m->vocab, err))) return rc;
    m->pool = hflow_pool_create(params ? params->n_threads : 0);
    if (!m->pool) return hflow_error_set(err, HFLOW_ENOMEM, "cannot create the worker pool");
    fill_info(m);
    return 0;
}

int hflow_model_load(const char *path, const hflow_model_params *params, hflow_model **out, hflow_error *err) {
    if (!path || !out) return hflow_error_set(err, HFLOW_EINVAL, "hflow_model_load: bad arguments");
    *out = NULL;
    hflow_model *m = calloc(1, sizeof *m);
    if (!m) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int rc = load_all(m, path, params, err);
    if (rc) {
        hflow_error_wrap(err, "loading %s", path);
        hflow_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void hflow_model_free(hflow_model *m) {
    if (!m) return;
    hflow_pool_free(m->pool);
    hflow_model_vocab_free(m->vocab);
    hflow_gguf_close(m->gguf);
    free(m->layers);
    free(m->name);
    free(m->path);
    free(m);
}

const hflow_model_info *hflow_model_get_info(const hflow_model *m) { return m ? &m->info : NULL; }
const hflow_vocab *hflow_model_vocab(const hflow_model *m) { return m ? m->vocab : NULL; }
const hflow_gguf *hflow_model_gguf(const hflow_model *m) { return m ? m->gguf : NULL; }
const char *hflow_model_path(const hflow_model *m) { return m ? m->path : NULL; }
