/* knn.c - the router's non-parametric part: nearest training questions.
 *
 * On MMLU-style data questions come from a few sources that share templates
 * and difficulty, so the recorded outcomes of the most similar training
 * questions predict a new question's gain well, and differently from the
 * MLP's smooth fit. Stored in the router file as training data: TF-IDF
 * vectors (CSR) of the training texts and each one's label dU. The text
 * function is hflow_router_embed_text and the vectoriser below is the one
 * function used to store a training question and to query at serving time.
 *
 * Vectors: hashed lower-cased words and adjacent word pairs (words as the
 * featurizer reads them) into `dim` buckets; weight (1 + ln tf) * idf with
 * idf = ln((1 + N) / (1 + df)); buckets in more than max_df N texts (and
 * buckets no stored text has) get idf 0, i.e. are dropped; L2-normalised.
 * Search goes through an inverted index built at load/build time (not
 * stored), so a query touches only the postings of its own rare terms. The
 * bucket table is large (dim entries), so a query first prefetches every
 * bucket it will read, then every posting list: the cache misses overlap
 * instead of queueing one after another. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "engine/ggml_type.h"
#include "hybridflow/gguf.h"
#include "route/router_internal.h"

#define KNN_SEED 0x6b6e6e31u
#define KNN_SAME_TEXT 0.9999f /* cosine above which a stored text is the query itself */

typedef struct knn_bucket {
    uint32_t start; /* first posting; the bucket's postings end at the next bucket's start */
    float idf;
} knn_bucket;

typedef struct knn_posting {
    uint32_t doc;
    float val;
} knn_posting;

struct hflow_knn {
    hflow_router_knn_opts o;
    float prior;      /* mean label of the stored questions */
    uint32_t n_docs;
    uint32_t nnz;
    float *idf;       /* dim */
    uint32_t *row;    /* n_docs + 1: CSR offsets */
    uint32_t *col;    /* nnz bucket indices, unique within a row */
    float *val;       /* nnz weights */
    float *gain;      /* n_docs labels */
    knn_bucket *bk;   /* dim + 1: idf and inverted index offsets (derived) */
    knn_posting *pl;  /* nnz postings, by bucket (derived) */
};

void hflow_router_knn_opts_default(hflow_router_knn_opts *o) {
    o->k = 40;
    o->dim = 1u << 18;
    o->max_df = 0.1f;
    o->smooth = 1.0f;
    o->weight = 0.5f;
    o->power = 1.0f;
    o->denoise = 0.0f;
}

void hflow_knn_free(hflow_knn *kn) {
    if (!kn) return;
    free(kn->idf);
    free(kn->row);
    free(kn->col);
    free(kn->val);
    free(kn->gain);
    free(kn->bk);
    free(kn->pl);
    free(kn);
}

/* ---- the vectoriser ---- */

typedef struct term_vec {
    uint32_t n, cap;
    uint32_t *b; /* buckets: unsorted while collecting, then sorted unique */
    float *w;    /* term counts, then weights */
} term_vec;

static void term_vec_free(term_vec *t) {
    free(t->b);
    free(t->w);
    memset(t, 0, sizeof *t);
}

static int push_term(term_vec *t, uint32_t b) {
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? 2 * t->cap : 1024; /* a rendered MMLU prompt gives ~600 terms */
        uint32_t *nb = realloc(t->b, cap * sizeof *nb);
        if (!nb) return -1;
        t->b = nb;
        float *nw = realloc(t->w, cap * sizeof *nw);
        if (!nw) return -1;
        t->w = nw;
        t->cap = cap;
    }
    t->b[t->n++] = b;
    return 0;
}

/* Merges repeated buckets in place (first-occurrence order, counts in w)
 * with a small open-addressing table: linear in the number of words, where
 * sorting them cost more than the whole posting scan. */
static int dedupe_terms(term_vec *t) {
    uint32_t cap = 64;
    while (cap < 2 * t->n) cap *= 2;
    uint32_t *slot = malloc(cap * sizeof *slot); /* index into the unique prefix + 1, 0 = empty */
    if (!slot) return -1;
    memset(slot, 0, cap * sizeof *slot);
    uint32_t m = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t b = t->b[i], j = (b * 2654435761u) & (cap - 1);
        while (slot[j] && t->b[slot[j] - 1] != b) j = (j + 1) & (cap - 1);
        if (slot[j]) { t->w[slot[j] - 1] += 1; continue; }
        t->b[m] = b;
        t->w[m] = 1;
        slot[j] = ++m;
    }
    t->n = m;
    free(slot);
    return 0;
}

/* The letter of an "A. option" line of a rendered prompt (ev_render_question):
 * the same letters start every question's option lines, so as words they only
 * add pairs like "b the" that tie unrelated questions together. `end` points
 * just past the n-byte word. */
static int is_option_marker(const char *text, const char *end, size_t n) {
    const char *start = end - n;
    return n == 1 && *end == '.' && start > text && start[-1] == '\n';
}

/* Buckets of the words and word pairs of text, unique (first-occurrence order) with counts in w. */
static int text_terms(const char *text, uint32_t dim, term_vec *t) {
    if (!text) text = "";
    const uint64_t base = hflow_fnv1a(HFLOW_FNV_OFFSET, &(uint32_t){KNN_SEED}, 4);
    char w[64];
    size_t n;
    hflow_word_hasher wh;
    hflow_word_hasher_init(&wh, base);
    const char *p = text;
    t->n = 0;
    while ((n = hflow_router_next_word(&p, w, sizeof w)) > 0) {
        if (is_option_marker(text, p, n)) continue;
        uint64_t hw, hp;
        int has_pair = hflow_word_hasher_add(&wh, w, n, &hw, &hp);
        if (push_term(t, (uint32_t)(hflow_mix64(hw) % dim))) return -1;
        if (has_pair && push_term(t, (uint32_t)(hflow_mix64(hp) % dim))) return -1;
    }
    return dedupe_terms(t);
}

/* Counts -> sublinear tf-idf, idf-0 buckets dropped, unit L2 norm. */
static void weigh_terms(const knn_bucket *bk, term_vec *t) {
    uint32_t m = 0;
    double ss = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        float x = (1.0f + logf(t->w[i])) * bk[t->b[i]].idf;
        if (x == 0) continue;
        t->b[m] = t->b[i];
        t->w[m++] = x;
        ss += (double)x * x;
    }
    t->n = m;
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0;
    for (uint32_t i = 0; i < m; i++) t->w[i] *= inv;
}

/* THE vector of a step, for storing and for querying. */
static int knn_vector(const hflow_knn *kn, const hflow_route_features *f, term_vec *t) {
    char *text = hflow_router_embed_text(f);
    if (!text) return -1;
    int rc = text_terms(text, kn->o.dim, t);
    free(text);
    for (uint32_t i = 0; !rc && i < t->n; i++) __builtin_prefetch(&kn->bk[t->b[i]]);
    if (!rc) weigh_terms(kn->bk, t);
    return rc;
}

/* ---- index ---- */

/* The bucket table with idf (starts filled by build_postings). */
static int init_buckets(hflow_knn *kn) {
    kn->bk = calloc((size_t)kn->o.dim + 1, sizeof *kn->bk);
    if (!kn->bk) return -1;
    for (uint32_t b = 0; b < kn->o.dim; b++) kn->bk[b].idf = kn->idf[b];
    return 0;
}

/* Inverted index from the CSR rows (counting sort by bucket). */
static int build_postings(hflow_knn *kn) {
    knn_bucket *bk = kn->bk;
    kn->pl = malloc(((size_t)kn->nnz + 1) * sizeof *kn->pl);
    uint32_t *fill = malloc(((size_t)kn->o.dim + 1) * sizeof *fill);
    if (!kn->pl || !fill) { free(fill); return -1; }
    for (uint32_t b = 0; b <= kn->o.dim; b++) bk[b].start = 0;
    for (uint32_t j = 0; j < kn->nnz; j++) bk[kn->col[j] + 1].start++;
    for (uint32_t b = 0; b < kn->o.dim; b++) bk[b + 1].start += bk[b].start;
    for (uint32_t b = 0; b <= kn->o.dim; b++) fill[b] = bk[b].start;
    for (uint32_t d = 0; d < kn->n_docs; d++)
        for (uint32_t j = kn->row[d]; j < kn->row[d + 1]; j++) kn->pl[fill[kn->col[j]]++] = (knn_posting){d, kn->val[j]};
    free(fill);
    return 0;
}

static int check_opts(const hflow_router_knn_opts *o, hflow_error *err) {
    if (o->k < 1 || o->dim < 1 || !(o->max_df > 0 && o->max_df <= 1) || !(o->smooth >= 0) ||
        !(o->weight >= 0 && o->weight <= 1) || !(o->denoise >= 0 && o->denoise <= 1) ||
        !(o->power >= 0 && o->power <= 8))
        return hflow_error_set(err, HFLOW_EINVAL, "router knn: need k >= 1, dim >= 1, max_df in (0,1], smooth >= 0, "
                                                  "weight and denoise in [0,1], power in [0,8]");
    return 0;
}

/* Document frequencies of the used samples -> idf (max_df cut applied). */
static int fit_idf(hflow_knn *kn, const hflow_router_dataset *d, const unsigned char *use, term_vec *t) {
    uint32_t *df = calloc(kn->o.dim, sizeof *df);
    if (!df) return -1;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i]) continue;
        char *text = hflow_router_embed_text(&d->s[i].f);
        int rc = text ? text_terms(text, kn->o.dim, t) : -1;
        free(text);
        if (rc) { free(df); return -1; }
        for (uint32_t j = 0; j < t->n; j++) df[t->b[j]]++;
    }
    double n = kn->n_docs, cut = (double)kn->o.max_df * n;
    for (uint32_t b = 0; b < kn->o.dim; b++)
        kn->idf[b] = df[b] == 0 || df[b] > cut ? 0.0f : (float)log((1.0 + n) / (1.0 + df[b]));
    free(df);
    return init_buckets(kn);
}

/* Appends the used samples' vectors as CSR rows (labels already in kn->gain). */
static int store_rows(hflow_knn *kn, const hflow_router_dataset *d, const unsigned char *use, term_vec *t) {
    uint32_t cap = 4096, r = 0;
    double sum = 0;
    kn->col = malloc(cap * sizeof *kn->col);
    kn->val = malloc(cap * sizeof *kn->val);
    if (!kn->col || !kn->val) return -1;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i]) continue;
        if (knn_vector(kn, &d->s[i].f, t)) return -1;
        while (kn->nnz + t->n > cap) {
            cap *= 2;
            uint32_t *nc = realloc(kn->col, cap * sizeof *nc);
            if (!nc) return -1;
            kn->col = nc;
            float *nv = realloc(kn->val, cap * sizeof *nv);
            if (!nv) return -1;
            kn->val = nv;
        }
        memcpy(kn->col + kn->nnz, t->b, t->n * sizeof *t->b);
        memcpy(kn->val + kn->nnz, t->w, t->n * sizeof *t->w);
        kn->nnz += t->n;
        sum += kn->gain[r];
        kn->row[++r] = kn->nnz;
    }
    kn->prior = r ? (float)(sum / r) : 0.0f;
    return 0;
}

int hflow_router_knn_build(hflow_router *r, const hflow_router_dataset *d, const unsigned char *use,
                           const hflow_router_knn_opts *o, hflow_error *err) {
    int rc = check_opts(o, err);
    if (rc) return rc;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) n += !use || use[i];
    if (n == 0 || n > UINT32_MAX / 2) return hflow_error_set(err, HFLOW_EINVAL, "router knn: %zu samples", n);
    hflow_knn *kn = calloc(1, sizeof *kn);
    term_vec t = {0};
    if (!kn) return hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    kn->o = *o;
    kn->n_docs = (uint32_t)n;
    kn->idf = malloc(o->dim * sizeof *kn->idf);
    kn->row = calloc(n + 1, sizeof *kn->row);
    kn->gain = malloc(n * sizeof *kn->gain);
    if (!kn->idf || !kn->row || !kn->gain) rc = hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    if (!rc) rc = hflow_knn_labels(d, use, &r->lam, o->denoise, kn->gain, err);
    if (!rc && (fit_idf(kn, d, use, &t) || store_rows(kn, d, use, &t) || build_postings(kn)))
        rc = hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    term_vec_free(&t);
    if (rc) { hflow_knn_free(kn); return rc; }
    hflow_knn_free(r->knn);
    r->knn = kn;
    return 0;
}

hflow_router_knn_opts hflow_router_knn_get(const hflow_router *r) {
    hflow_router_knn_opts o = {0};
    if (r->knn) o = r->knn->o;
    return o;
}

int hflow_router_knn_set(hflow_router *r, uint32_t k, float weight, hflow_error *err) {
    if (!r->knn) return hflow_error_set(err, HFLOW_EINVAL, "router knn: the router has no retrieval part");
    hflow_router_knn_opts o = r->knn->o;
    o.k = k;
    o.weight = weight;
    int rc = check_opts(&o, err);
    if (!rc) r->knn->o = o;
    return rc;
}

/* ---- search ---- */

/* Top k of the accumulated cosines (ties: lower index), skipping the query's
 * own text. Blocks of 16 are first tested as a whole against the current
 * k-th best (a loop the compiler vectorises): most blocks hold nothing better. */
static uint32_t top_k(const float *acc, uint32_t n_docs, uint32_t k, uint32_t *idx, float *sim) {
    uint32_t m = 0;
    for (uint32_t d0 = 0; d0 < n_docs; d0 += 16) {
        uint32_t end = d0 + 16 < n_docs ? d0 + 16 : n_docs;
        float bar = m == k ? sim[k - 1] : 0.0f;
        int any = 0;
        for (uint32_t d = d0; d < end; d++) any |= acc[d] > bar;
        if (!any) continue;
        for (uint32_t d = d0; d < end; d++) {
            float s = acc[d];
            if (!(s > 0) || s > KNN_SAME_TEXT || (m == k && s <= sim[m - 1])) continue;
            uint32_t j = m < k ? m++ : k - 1;
            while (j > 0 && sim[j - 1] < s) { sim[j] = sim[j - 1]; idx[j] = idx[j - 1]; j--; }
            sim[j] = s;
            idx[j] = d;
        }
    }
    return m;
}

static int search(const hflow_knn *kn, const hflow_route_features *f, uint32_t k, uint32_t *idx, float *sim,
                  uint32_t *n_found, hflow_error *err) {
    term_vec t = {0};
    float *acc = calloc(kn->n_docs, sizeof *acc);
    int rc = acc && !knn_vector(kn, f, &t) ? 0 : hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    for (uint32_t i = 0; !rc && i < t.n; i++) __builtin_prefetch(&kn->pl[kn->bk[t.b[i]].start]);
    for (uint32_t i = 0; !rc && i < t.n; i++) {
        const float x = t.w[i];
        const knn_posting *p = kn->pl + kn->bk[t.b[i]].start, *end = kn->pl + kn->bk[t.b[i] + 1].start;
        for (; p < end; p++) acc[p->doc] += x * p->val;
    }
    if (!rc) *n_found = top_k(acc, kn->n_docs, k, idx, sim);
    free(acc);
    term_vec_free(&t);
    return rc;
}

int hflow_router_knn_neighbours(const hflow_router *r, const hflow_route_features *f, uint32_t k, uint32_t *idx,
                                float *sim, uint32_t *n_found, hflow_error *err) {
    *n_found = 0;
    if (!r->knn) return hflow_error_set(err, HFLOW_EINVAL, "router knn: the router has no retrieval part");
    if (k == 0) return 0;
    return search(r->knn, f, k, idx, sim, n_found, err);
}

static int knn_estimate(const hflow_knn *kn, const hflow_route_features *f, float *g, hflow_error *err) {
    uint32_t *idx = malloc(kn->o.k * sizeof *idx), n = 0;
    float *sim = malloc(kn->o.k * sizeof *sim);
    int rc = idx && sim ? search(kn, f, kn->o.k, idx, sim, &n, err) : hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if (!rc) {
        double num = (double)kn->o.smooth * kn->prior, den = kn->o.smooth;
        for (uint32_t i = 0; i < n; i++) {
            double v = kn->o.power == 1 ? (double)sim[i]
                       : kn->o.power == 0.5f ? sqrt((double)sim[i]) : pow((double)sim[i], (double)kn->o.power);
            num += v * kn->gain[idx[i]];
            den += v;
        }
        *g = den > 0 ? (float)(num / den) : kn->prior;
    }
    free(idx);
    free(sim);
    return rc;
}

int hflow_router_knn_score(const hflow_router *r, const hflow_route_features *f, float *g, hflow_error *err) {
    if (!r->knn) return hflow_error_set(err, HFLOW_EINVAL, "router knn: the router has no retrieval part");
    return knn_estimate(r->knn, f, g, err);
}

int hflow_knn_blend(const hflow_knn *kn, const hflow_route_features *f, float *s, hflow_error *err) {
    if (!kn || kn->o.weight == 0) return 0;
    float g = 0;
    int rc = knn_estimate(kn, f, &g, err);
    if (!rc) *s = (1.0f - kn->o.weight) * *s + kn->o.weight * g;
    return rc;
}

/* ---- file ---- */

int hflow_knn_save(const hflow_knn *kn, hflow_gguf_writer *w, hflow_error *err) {
    int rc = 0;
    rc |= hflow_gguf_set_u32(w, "router.knn.k", kn->o.k);
    rc |= hflow_gguf_set_u32(w, "router.knn.dim", kn->o.dim);
    rc |= hflow_gguf_set_f32(w, "router.knn.max_df", kn->o.max_df);
    rc |= hflow_gguf_set_f32(w, "router.knn.smooth", kn->o.smooth);
    rc |= hflow_gguf_set_f32(w, "router.knn.weight", kn->o.weight);
    rc |= hflow_gguf_set_f32(w, "router.knn.prior", kn->prior);
    rc |= hflow_gguf_set_f32(w, "router.knn.power", kn->o.power);
    rc |= hflow_gguf_set_f32(w, "router.knn.denoise", kn->o.denoise); /* how the labels were made (not read) */
    if (rc) return hflow_error_set(err, HFLOW_ENOMEM, "router save: knn metadata failed");
    int64_t ne_idf[1] = {kn->o.dim}, ne_row[1] = {(int64_t)kn->n_docs + 1}, ne_nnz[1] = {kn->nnz ? kn->nnz : 1},
            ne_doc[1] = {kn->n_docs};
    static const uint32_t zero = 0; /* a tensor needs >= 1 element */
    rc = hflow_gguf_add_tensor(w, "router.knn.idf", HFLOW_TYPE_F32, 1, ne_idf, kn->idf, (uint64_t)kn->o.dim * 4, err);
    if (!rc) rc = hflow_gguf_add_tensor(w, "router.knn.row", HFLOW_TYPE_I32, 1, ne_row, kn->row, (uint64_t)ne_row[0] * 4, err);
    if (!rc) rc = hflow_gguf_add_tensor(w, "router.knn.col", HFLOW_TYPE_I32, 1, ne_nnz, kn->nnz ? (const void *)kn->col : &zero,
                                        (uint64_t)ne_nnz[0] * 4, err);
    if (!rc) rc = hflow_gguf_add_tensor(w, "router.knn.val", HFLOW_TYPE_F32, 1, ne_nnz, kn->nnz ? (const void *)kn->val : &zero,
                                        (uint64_t)ne_nnz[0] * 4, err);
    if (!rc) rc = hflow_gguf_add_tensor(w, "router.knn.gain", HFLOW_TYPE_F32, 1, ne_doc, kn->gain, (uint64_t)kn->n_docs * 4, err);
    return rc;
}

/* A 1-d tensor of n 4-byte elements of `type`, copied into a new buffer. */
static void *load_vec(const hflow_gguf *g, const char *name, uint32_t type, uint64_t n, hflow_error *err) {
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, name);
    if (!t || t->type != type || (uint64_t)t->ne[0] != n || t->ne[1] != 1 || t->size != n * 4) {
        hflow_error_set(err, HFLOW_EFORMAT, "tensor %s missing or not %llu values", name, (unsigned long long)n);
        return NULL;
    }
    void *p = malloc(n * 4);
    if (!p) hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    else memcpy(p, t->data, n * 4);
    return p;
}

/* The stored arrays must describe a valid index before anything reads them. */
static int check_index(const hflow_knn *kn, hflow_error *err) {
    if (kn->row[0] != 0 || kn->row[kn->n_docs] != kn->nnz)
        return hflow_error_set(err, HFLOW_EFORMAT, "router.knn.row does not cover router.knn.col");
    for (uint32_t d = 0; d < kn->n_docs; d++)
        if (kn->row[d] > kn->row[d + 1]) return hflow_error_set(err, HFLOW_EFORMAT, "router.knn.row not sorted");
    for (uint32_t j = 0; j < kn->nnz; j++)
        if (kn->col[j] >= kn->o.dim) return hflow_error_set(err, HFLOW_EFORMAT, "router.knn.col out of range");
    return 0;
}

int hflow_knn_load(const hflow_gguf *g, hflow_knn **out, hflow_error *err) {
    *out = NULL;
    int64_t k;
    if (hflow_gguf_get_int(g, "router.knn.k", &k) != 0) return 0; /* no retrieval part */
    hflow_knn *kn = calloc(1, sizeof *kn);
    if (!kn) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int64_t dim;
    double mdf, sm, wt, pr;
    int rc = 0;
    if (hflow_gguf_get_int(g, "router.knn.dim", &dim) || hflow_gguf_get_float(g, "router.knn.max_df", &mdf) ||
        hflow_gguf_get_float(g, "router.knn.smooth", &sm) || hflow_gguf_get_float(g, "router.knn.weight", &wt) ||
        hflow_gguf_get_float(g, "router.knn.prior", &pr) || k < 1 || k > UINT32_MAX || dim < 1 || dim > (1 << 28))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "missing or bad router.knn.* metadata");
    double dn = 0, pw = 1;
    hflow_gguf_get_float(g, "router.knn.denoise", &dn);
    if (!rc && hflow_gguf_get_float(g, "router.knn.power", &pw)) rc = hflow_error_set(err, HFLOW_EFORMAT, "missing router.knn.power");
    kn->o = (hflow_router_knn_opts){(uint32_t)k, (uint32_t)dim, (float)mdf, (float)sm, (float)wt, (float)pw, (float)dn};
    kn->prior = (float)pr;
    if (!rc) rc = check_opts(&kn->o, err);
    const hflow_gguf_tensor *gt = rc ? NULL : hflow_gguf_find_tensor(g, "router.knn.gain");
    const hflow_gguf_tensor *ct = rc ? NULL : hflow_gguf_find_tensor(g, "router.knn.col");
    if (!rc && (!gt || !ct || gt->ne[0] < 1 || gt->ne[0] > UINT32_MAX / 2 || ct->ne[0] < 1 || ct->ne[0] > UINT32_MAX))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "missing or bad router.knn tensors");
    if (!rc) {
        kn->n_docs = (uint32_t)gt->ne[0];
        uint64_t ncol = (uint64_t)ct->ne[0];
        if (!(kn->idf = load_vec(g, "router.knn.idf", HFLOW_TYPE_F32, kn->o.dim, err)) ||
            !(kn->row = load_vec(g, "router.knn.row", HFLOW_TYPE_I32, (uint64_t)kn->n_docs + 1, err)) ||
            !(kn->col = load_vec(g, "router.knn.col", HFLOW_TYPE_I32, ncol, err)) ||
            !(kn->val = load_vec(g, "router.knn.val", HFLOW_TYPE_F32, ncol, err)) ||
            !(kn->gain = load_vec(g, "router.knn.gain", HFLOW_TYPE_F32, kn->n_docs, err)))
            rc = err ? err->code : HFLOW_EFORMAT;
    }
    if (!rc) {
        kn->nnz = kn->row[kn->n_docs]; /* col holds one placeholder when nnz is 0 */
        rc = kn->nnz > (uint32_t)ct->ne[0] ? hflow_error_set(err, HFLOW_EFORMAT, "router.knn.row past router.knn.col")
                                           : check_index(kn, err);
    }
    if (!rc && (init_buckets(kn) || build_postings(kn))) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if (rc) { hflow_knn_free(kn); return rc; }
    *out = kn;
    return 0;
}
