/* family.c - stamping, deriving and splitting the models of a target family.
 *
 * Every operation is "copy a GGUF with changes": all metadata is carried over
 * byte for byte (so tokenizers and hyper-parameters cannot drift), tensors are
 * referenced in the source mapping unless changed, and a few keys are set.
 * rewrite() is that one mechanism; the operations only choose tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "hybridflow/family.h"
#include "hybridflow/tokenizer.h"

#define K_NAME "hybridflow.family.name"
#define K_VERSION "hybridflow.family.version"
#define K_TOKFP "hybridflow.family.tokenizer_fp"
#define K_BBFP "hybridflow.family.backbone_fp"
#define K_BBL "hybridflow.family.backbone_layers"
#define K_DELTA "hybridflow.family.delta_of"
#define K_ROLE "hybridflow.family.role"

/* Block index of "blk.N.*", -1 otherwise. */
static int block_of(const char *name) {
    if (strncmp(name, "blk.", 4)) return -1;
    char *end;
    long n = strtol(name + 4, &end, 10);
    return end != name + 4 && *end == '.' ? (int)n : -1;
}

uint64_t hflow_family_backbone_hash(const hflow_gguf *g, int32_t backbone_layers) {
    uint64_t h = HFLOW_FNV_OFFSET;
    /* order-independent (tensor order in a file is not part of the model):
     * per-tensor hashes are combined by addition */
    uint64_t acc = 0;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(g); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(g, i);
        int b = block_of(t->name);
        if (strcmp(t->name, "token_embd.weight") && (b < 0 || b >= backbone_layers)) continue;
        uint64_t th = hflow_fnv1a(h, t->name, strlen(t->name));
        th = hflow_fnv1a(th, &t->type, sizeof t->type);
        th = hflow_fnv1a(th, t->ne, sizeof t->ne);
        th = hflow_fnv1a(th, t->data, (size_t)t->size);
        acc += th * 0x9e3779b97f4a7c15ull + (th >> 29);
    }
    return acc;
}

static int get_str(const hflow_gguf *g, const char *key, char *out, size_t cap) {
    const char *s;
    size_t n;
    if (hflow_gguf_get_str(g, key, &s, &n)) return -1;
    snprintf(out, cap, "%.*s", (int)n, s);
    return 0;
}

int hflow_family_read(const hflow_gguf *g, hflow_family_info *out, hflow_error *err) {
    memset(out, 0, sizeof *out);
    hflow_vocab *v;
    int rc = hflow_vocab_load(g, &v, err);
    if (rc) return hflow_error_wrap(err, "family: the model has no usable tokenizer");
    out->tokenizer_fp = hflow_vocab_fingerprint(v);
    hflow_vocab_free(v);
    out->stamped = get_str(g, K_NAME, out->name, sizeof out->name) == 0;
    get_str(g, K_VERSION, out->version, sizeof out->version);
    int64_t x;
    if (!hflow_gguf_get_int(g, K_BBFP, &x)) out->backbone_fp = (uint64_t)x;
    if (!hflow_gguf_get_int(g, K_BBL, &x)) out->backbone_layers = (int32_t)x;
    if (!hflow_gguf_get_int(g, K_DELTA, &x)) out->delta_of = (uint64_t)x;
    char role[16] = "";
    out->is_draft = get_str(g, K_ROLE, role, sizeof role) == 0 && !strcmp(role, "draft");
    /* u64 keys read through int64: values above INT64_MAX saturate, so read raw */
    const hflow_gguf_value *val;
    if ((val = hflow_gguf_get(g, K_BBFP)) && val->type == HFLOW_GGUF_UINT64) memcpy(&out->backbone_fp, val->raw, 8);
    if ((val = hflow_gguf_get(g, K_DELTA)) && val->type == HFLOW_GGUF_UINT64) memcpy(&out->delta_of, val->raw, 8);
    return 0;
}

/* ---- the one copy-with-changes mechanism ---- */

typedef struct {
    void *data;   /* replacement bytes (owned), or NULL to keep the source's */
    int drop;
} tensor_edit;

typedef int (*edit_fn)(void *ctx, const hflow_gguf *src, const hflow_gguf_tensor *t, tensor_edit *e, hflow_error *err);
typedef int (*meta_fn)(void *ctx, const hflow_gguf *src, hflow_gguf_writer *w);

static int rewrite(const char *in, const char *out, edit_fn edit, meta_fn meta, void *ctx, hflow_error *err) {
    hflow_gguf *src;
    int rc = hflow_gguf_open(in, &src, err);
    if (rc) return rc;
    hflow_gguf_writer *w = hflow_gguf_writer_create();
    int64_t nt = hflow_gguf_n_tensors(src);
    tensor_edit *edits = calloc((size_t)(nt ? nt : 1), sizeof *edits);
    if (!w || !edits) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < hflow_gguf_n_kv(src); i++) rc = hflow_gguf_copy_kv(w, src, hflow_gguf_key(src, i));
    if (!rc && meta) rc = meta(ctx, src, w);
    if (rc && err && !err->message[0]) hflow_error_set(err, rc, "copying metadata failed");
    for (int64_t i = 0; !rc && i < nt; i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(src, i);
        if (edit && (rc = edit(ctx, src, t, &edits[i], err))) break;
        if (edits[i].drop) continue;
        rc = hflow_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, edits[i].data ? edits[i].data : t->data,
                                   t->size, err);
    }
    if (!rc) rc = hflow_gguf_writer_write(w, out, err);
    for (int64_t i = 0; i < nt && edits; i++) free(edits[i].data);
    free(edits);
    hflow_gguf_writer_free(w);
    hflow_gguf_close(src);
    return rc;
}

/* ---- stamp ---- */

typedef struct {
    const char *family, *version;
    int32_t layers;
    hflow_error *err;
} stamp_ctx;

static int stamp_meta(void *p, const hflow_gguf *src, hflow_gguf_writer *w) {
    stamp_ctx *c = p;
    hflow_family_info fi;
    int rc = hflow_family_read(src, &fi, c->err);
    if (rc) return rc;
    rc = hflow_gguf_set_str(w, K_NAME, c->family);
    if (!rc) rc = hflow_gguf_set_str(w, K_VERSION, c->version);
    if (!rc) rc = hflow_gguf_set_u64(w, K_TOKFP, fi.tokenizer_fp);
    if (!rc) rc = hflow_gguf_set_u64(w, K_BBFP, hflow_family_backbone_hash(src, c->layers));
    if (!rc) rc = hflow_gguf_set_u32(w, K_BBL, (uint32_t)c->layers);
    return rc;
}

static int block_count(const hflow_gguf *g, int64_t *n) {
    const char *arch;
    size_t len;
    char key[96];
    if (hflow_gguf_get_str(g, "general.architecture", &arch, &len)) return HFLOW_EFORMAT;
    snprintf(key, sizeof key, "%.*s.block_count", (int)len, arch);
    return hflow_gguf_get_int(g, key, n);
}

int hflow_family_stamp(const char *in, const char *out, const char *family, const char *version,
                       int32_t backbone_layers, hflow_error *err) {
    if (!family || !*family || !version || !*version || backbone_layers < 0)
        return hflow_error_set(err, HFLOW_EINVAL, "family stamp: a family name, a version and backbone layers >= 0 are needed");
    stamp_ctx c = {family, version, backbone_layers, err};
    return rewrite(in, out, NULL, stamp_meta, &c, err);
}

/* ---- early-exit draft ---- */

typedef struct {
    int32_t layers;
} exit_ctx;

static int exit_edit(void *p, const hflow_gguf *src, const hflow_gguf_tensor *t, tensor_edit *e, hflow_error *err) {
    (void)src;
    (void)err;
    int b = block_of(t->name);
    e->drop = b >= ((exit_ctx *)p)->layers;
    return 0;
}

static int exit_meta(void *p, const hflow_gguf *src, hflow_gguf_writer *w) {
    const char *arch;
    size_t len;
    char key[96];
    if (hflow_gguf_get_str(src, "general.architecture", &arch, &len)) return HFLOW_EFORMAT;
    snprintf(key, sizeof key, "%.*s.block_count", (int)len, arch);
    int rc = hflow_gguf_set_u32(w, key, (uint32_t)((exit_ctx *)p)->layers);
    return rc ? rc : hflow_gguf_set_str(w, K_ROLE, "draft");
}

static int draft_meta(void *p, const hflow_gguf *src, hflow_gguf_writer *w) {
    (void)p;
    (void)src;
    return hflow_gguf_set_str(w, K_ROLE, "draft");
}

int hflow_family_mark_draft(const char *in, const char *out, hflow_error *err) {
    return rewrite(in, out, NULL, draft_meta, NULL, err);
}

int hflow_family_derive_early_exit(const char *in, const char *out, int32_t n_layers, hflow_error *err) {
    hflow_gguf *g;
    int rc = hflow_gguf_open(in, &g, err);
    if (rc) return rc;
    int64_t n = 0;
    rc = block_count(g, &n);
    hflow_gguf_close(g);
    if (rc) return hflow_error_set(err, HFLOW_EFORMAT, "%s: no block_count for its architecture", in);
    if (n_layers < 1 || n_layers > n)
        return hflow_error_set(err, HFLOW_EINVAL, "early exit after %d layers: the model has %lld", n_layers, (long long)n);
    exit_ctx c = {n_layers};
    return rewrite(in, out, exit_edit, exit_meta, &c, err);
}

/* ---- emulated new version ---- */

typedef struct {
    int32_t from;
    float noise;
    uint64_t rng;
    const char *version;
} evolve_ctx;

static double unit(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

static int evolve_edit(void *p, const hflow_gguf *src, const hflow_gguf_tensor *t, tensor_edit *e, hflow_error *err) {
    (void)src;
    evolve_ctx *c = p;
    if (block_of(t->name) < c->from || (t->type != HFLOW_TYPE_F32 && t->type != HFLOW_TYPE_F16)) return 0;
    if (t->n_dims < 2) return 0; /* norms stay: a fine-tune moves the matrices */
    int64_t n = (int64_t)(t->size / (t->type == HFLOW_TYPE_F32 ? 4 : 2));
    e->data = malloc((size_t)t->size);
    if (!e->data) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        float x = t->type == HFLOW_TYPE_F32 ? ((const float *)t->data)[i]
                                            : hflow_fp16_to_fp32(((const uint16_t *)t->data)[i]);
        x *= 1.0f + c->noise * (float)unit(&c->rng);
        if (t->type == HFLOW_TYPE_F32) ((float *)e->data)[i] = x;
        else ((uint16_t *)e->data)[i] = hflow_fp32_to_fp16(x);
    }
    return 0;
}

static int evolve_meta(void *p, const hflow_gguf *src, hflow_gguf_writer *w) {
    (void)src;
    return hflow_gguf_set_str(w, K_VERSION, ((evolve_ctx *)p)->version);
}

int hflow_family_evolve(const char *in, const char *out, int32_t from_layer, float noise, uint64_t seed,
                        const char *version, hflow_error *err) {
    if (!version || !*version || noise < 0) return hflow_error_set(err, HFLOW_EINVAL, "family evolve: bad arguments");
    evolve_ctx c = {from_layer, noise, seed | 1, version};
    return rewrite(in, out, evolve_edit, evolve_meta, &c, err);
}

/* ---- delta storage ---- */

typedef struct {
    hflow_gguf *base;
    uint64_t base_fp;
    int32_t kept;
} split_ctx;

static int same_tensor(const hflow_gguf_tensor *a, const hflow_gguf_tensor *b) {
    return a && b && a->type == b->type && !memcmp(a->ne, b->ne, sizeof a->ne) && a->size == b->size &&
           !memcmp(a->data, b->data, (size_t)a->size);
}

static int split_edit(void *p, const hflow_gguf *src, const hflow_gguf_tensor *t, tensor_edit *e, hflow_error *err) {
    (void)src;
    (void)err;
    split_ctx *c = p;
    e->drop = same_tensor(t, hflow_gguf_find_tensor(c->base, t->name));
    c->kept += !e->drop;
    return 0;
}

static int split_meta(void *p, const hflow_gguf *src, hflow_gguf_writer *w) {
    (void)src;
    return hflow_gguf_set_u64(w, K_DELTA, ((split_ctx *)p)->base_fp);
}

static uint64_t file_fp(const hflow_gguf *g) {
    /* a backbone file is identified by the hash of all its tensors */
    return hflow_family_backbone_hash(g, 1 << 30);
}

int hflow_family_split(const char *target, const char *backbone, const char *out_delta, hflow_error *err) {
    split_ctx c = {0};
    int rc = hflow_gguf_open(backbone, &c.base, err);
    if (rc) return rc;
    c.base_fp = file_fp(c.base);
    rc = rewrite(target, out_delta, split_edit, split_meta, &c, err);
    hflow_gguf_close(c.base);
    return rc;
}

/* Merging walks the backbone's tensors and takes each from the delta when the
 * delta has it; metadata comes from the delta (the version's own). */
int hflow_family_merge(const char *delta, const char *backbone, const char *out_full, hflow_error *err) {
    hflow_gguf *d = NULL, *b = NULL;
    int rc = hflow_gguf_open(delta, &d, err);
    if (!rc) rc = hflow_gguf_open(backbone, &b, err);
    hflow_family_info fi = {0};
    if (!rc) {
        const hflow_gguf_value *v = hflow_gguf_get(d, K_DELTA);
        if (!v || v->type != HFLOW_GGUF_UINT64) rc = hflow_error_set(err, HFLOW_EFORMAT, "%s is not a delta file", delta);
        else memcpy(&fi.delta_of, v->raw, 8);
    }
    if (!rc && fi.delta_of != file_fp(b))
        rc = hflow_error_set(err, HFLOW_EINVAL, "%s was split from a different backbone than %s", delta, backbone);
    hflow_gguf_writer *w = rc ? NULL : hflow_gguf_writer_create();
    for (int64_t i = 0; !rc && i < hflow_gguf_n_kv(d); i++)
        if (strcmp(hflow_gguf_key(d, i), K_DELTA)) rc = hflow_gguf_copy_kv(w, d, hflow_gguf_key(d, i));
    for (int64_t i = 0; !rc && i < hflow_gguf_n_tensors(b); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(b, i);
        const hflow_gguf_tensor *dt = hflow_gguf_find_tensor(d, t->name);
        const hflow_gguf_tensor *use = dt ? dt : t;
        rc = hflow_gguf_add_tensor(w, use->name, use->type, use->n_dims, use->ne, use->data, use->size, err);
    }
    for (int64_t i = 0; !rc && i < hflow_gguf_n_tensors(d); i++) { /* tensors only the new version has */
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(d, i);
        if (!hflow_gguf_find_tensor(b, t->name))
            rc = hflow_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size, err);
    }
    if (!rc) rc = hflow_gguf_writer_write(w, out_full, err);
    hflow_gguf_writer_free(w);
    hflow_gguf_close(d);
    hflow_gguf_close(b);
    return rc;
}
