/* features.c - the one featurizer of the utility router.
 *
 * Training, calibration and serving all call hflow_featurize on an
 * hflow_route_features: the reference implementation fed its label as a
 * feature during training and zeros at serving, a mismatch this design makes
 * impossible (the function sees nothing but what the policy sees).
 *
 * Layout of the input vector (dimension hash_dim + n_dense):
 *   [0, hash_dim)        signed hashed words and word pairs of the question and
 *                        of the task (+ shape tokens: one per word holding a
 *                        digit, one per formula symbol), each field scaled to
 *                        unit L2 norm
 *   hash_dim + META_*    metadata (below)
 *   then                 with question_shape: its 11 structure features (question_shape.c)
 *   then                 task-type one-hot (n_types + 1 slots, last = other)
 *   then                 budget ratios: tokens, usd, latency (clipped to [0, 4])
 *   then                 edge confidence value and "known" flag
 *   then                 with edge_answer: log(1 + the edge answer's tokens) and "known" flag
 *   then                 embed_dim caller-supplied embedding values
 * Dense values are normalised (x - mean) * scale with statistics fitted on
 * the training set (train.c). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "hybridflow/router.h"
#include "route/router_internal.h"

enum {
    META_HAS_TASK, META_QUERY_LEVEL, META_N_DEPS, META_DEPTH, META_POSITION, META_N_STEPS,
    META_IS_FIRST, META_IS_LAST, META_DIFFICULTY, META_DIFF_KNOWN, META_TOKEN_EST,
    META_Q_WORDS, META_T_WORDS, META_COUNT
};

void hflow_router_feature_config_default(hflow_router_feature_config *c) {
    memset(c, 0, sizeof *c);
    c->hash_dim = 4096;
    c->hash_seed = 0x9e3779b9u;
    c->bigrams = 1;
    c->shape_tokens = 1;
    c->question_shape = 1;
}

uint32_t hflow_router_n_dense(const hflow_router_feature_config *c) {
    return META_COUNT + (c->question_shape ? HFLOW_QSHAPE_COUNT : 0) + (uint32_t)c->n_types + 1 + 3 + 2 +
           (c->edge_answer ? 2 : 0) + c->embed_dim;
}

int hflow_featurizer_init(hflow_featurizer *fz, const hflow_router_feature_config *c, hflow_error *err) {
    memset(fz, 0, sizeof *fz);
    if (c->hash_dim < 1 || c->n_types < 0 || c->n_types > HFLOW_ROUTER_MAX_TYPES || c->embed_dim > (1u << 20))
        return hflow_error_set(err, HFLOW_EINVAL, "router features: bad config (hash_dim %u, n_types %d)",
                               c->hash_dim, c->n_types);
    fz->cfg = *c;
    fz->n_dense = hflow_router_n_dense(c);
    fz->mean = calloc(fz->n_dense, sizeof *fz->mean);
    fz->scale = malloc(fz->n_dense * sizeof *fz->scale);
    if (!fz->mean || !fz->scale) {
        hflow_featurizer_free(fz);
        return hflow_error_set(err, HFLOW_ENOMEM, "router features: out of memory");
    }
    for (uint32_t j = 0; j < fz->n_dense; j++) fz->scale[j] = 1.0f;
    return 0;
}

void hflow_featurizer_free(hflow_featurizer *fz) {
    if (!fz) return;
    free(fz->mean);
    free(fz->scale);
    fz->mean = fz->scale = NULL;
}

void hflow_router_fvec_free(hflow_router_fvec *v) {
    if (!v) return;
    free(v->idx);
    free(v->val);
    free(v->dense);
    memset(v, 0, sizeof *v);
}

/* ---- hashed text ---- */

static int push_sparse(hflow_router_fvec *v, uint32_t idx, float val) {
    if (v->n_sparse == v->cap_sparse) {
        uint32_t cap = v->cap_sparse ? v->cap_sparse * 2 : 256;
        uint32_t *ni = realloc(v->idx, cap * sizeof *ni);
        if (!ni) return -1;
        v->idx = ni;
        float *nv = realloc(v->val, cap * sizeof *nv);
        if (!nv) return -1;
        v->val = nv;
        v->cap_sparse = cap;
    }
    v->idx[v->n_sparse] = idx;
    v->val[v->n_sparse] = val;
    v->n_sparse++;
    return 0;
}

/* Next lower-cased word (ASCII letters/digits, plus any non-ASCII byte so
 * UTF-8 words stay whole) into buf; returns its length, 0 at the end. */
/* ASCII classes spelled out (what isalnum/tolower give in the C locale),
 * without a locale lookup per byte. */
static int word_byte(unsigned char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

size_t hflow_router_next_word(const char **p, char *buf, size_t cap) {
    const unsigned char *s = (const unsigned char *)*p;
    while (*s && !word_byte(*s)) s++;
    size_t n = 0;
    while (*s && word_byte(*s)) {
        if (n < cap) buf[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + ('a' - 'A') : *s);
        s++;
    }
    *p = (const char *)s;
    return n;
}

static int has_digit(const char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)w[i])) return 1;
    return 0;
}

#define PAIR_SALT 0x5bd1e995ull /* word pairs hash from base ^ PAIR_SALT */

void hflow_word_hasher_init(hflow_word_hasher *s, uint64_t base) {
    s->base = base;
    s->pair = 0;
    s->have_prev = 0;
}

int hflow_word_hasher_add(hflow_word_hasher *s, const char *w, size_t n, uint64_t *word, uint64_t *pair) {
    /* the word's own hash, the pair it ends and the pair it starts, in one pass (hash.h) */
    uint64_t h[3] = {s->base, s->pair, s->base ^ PAIR_SALT};
    hflow_fnv1a3(h, w, n);
    int had = s->have_prev;
    *word = h[0];
    *pair = h[1];
    s->pair = hflow_fnv1a(h[2], " ", 1);
    s->have_prev = 1;
    return had;
}

/* A mixed hash into v: bucket h mod hash_dim, sign from the top bit. */
static int push_hashed(const hflow_router_feature_config *c, uint64_t h, hflow_router_fvec *v) {
    return push_sparse(v, (uint32_t)(h % c->hash_dim), (h >> 63) ? -1.0f : 1.0f);
}

/* One hashed token (bucket and sign from the salted hash) into v. */
static int push_token(const hflow_router_feature_config *c, uint64_t base, const char *tok, size_t n,
                      hflow_router_fvec *v) {
    return push_hashed(c, hflow_mix64(hflow_fnv1a(base, tok, n)), v);
}

/* One of = + * / ^ < > % $ \\ _ { } | (a switch the compiler turns into a
 * bit test: a strchr per character of every prompt was a visible part of a
 * decision). */
int hflow_router_is_formula_symbol(unsigned char ch) {
    switch (ch) {
    case '=': case '+': case '*': case '/': case '^': case '<': case '>': case '%':
    case '$': case '\\': case '_': case '{': case '}': case '|': return 1;
    default: return 0;
    }
}

/* Hashes one text field into v; returns the word count. `salt` keeps the
 * question's and the task's words apart. Entries of this field are scaled so
 * the field has unit L2 norm before duplicates merge (a fixed 1/sqrt(count)). */
static int hash_field(const hflow_router_feature_config *c, const char *text, uint64_t salt, hflow_router_fvec *v,
                      uint32_t *n_words) {
    *n_words = 0;
    if (!text) return 0;
    uint32_t start = v->n_sparse;
    uint64_t base = hflow_fnv1a(0xcbf29ce484222325ull ^ ((uint64_t)c->hash_seed << 17), (const char *)&salt, sizeof salt);
    char w[64];
    size_t n;
    hflow_word_hasher wh;
    hflow_word_hasher_init(&wh, base);
    const char *p = text;
    while ((n = hflow_router_next_word(&p, w, sizeof w)) > 0) {
        (*n_words)++;
        uint64_t hw, hp;
        int has_pair = hflow_word_hasher_add(&wh, w, n, &hw, &hp);
        if (push_hashed(c, hflow_mix64(hw), v) != 0) return -1;
        if (c->bigrams && has_pair && push_hashed(c, hflow_mix64(hp), v) != 0) return -1;
        if (c->shape_tokens && has_digit(w, n) && push_token(c, base, "\x01num", 4, v) != 0) return -1;
    }
    /* Formula symbols are not words; as "shape" tokens they mark computational
     * questions (within a category the edge/cloud gap depends on that). */
    for (const char *q = text; c->shape_tokens && *q; q++) {
        char tok[2] = {'\x02', *q};
        if (hflow_router_is_formula_symbol((unsigned char)*q) && push_token(c, base, tok, 2, v) != 0) return -1;
    }
    uint32_t cnt = v->n_sparse - start;
    if (cnt > 0) {
        float sc = 1.0f / sqrtf((float)cnt);
        for (uint32_t i = start; i < v->n_sparse; i++) v->val[i] *= sc;
    }
    return 0;
}

/* Positions 0..n-1 ordered by idx, equal indices in input order: a stable
 * LSD radix sort, one pass per byte of the largest index (two for 4096
 * buckets). The same order a comparison sort on (idx, position) gives, at a
 * fraction of the cost: qsort's callback per comparison was a fifth of a
 * routing decision. */
static int order_by_index(const uint32_t *idx, uint32_t n, uint32_t *order) {
    uint32_t *scratch = malloc(n * sizeof *scratch), max = 0;
    if (!scratch) return -1;
    uint32_t *a = order, *b = scratch; /* a: the order so far; b: the next pass's output */
    for (uint32_t i = 0; i < n; i++) {
        a[i] = i;
        if (idx[i] > max) max = idx[i];
    }
    for (uint32_t shift = 0; shift < 32; shift += 8) {
        if (shift > 0 && (max >> shift) == 0) break;
        uint32_t count[257] = {0};
        for (uint32_t i = 0; i < n; i++) count[((idx[a[i]] >> shift) & 255u) + 1]++;
        for (int d = 0; d < 256; d++) count[d + 1] += count[d];
        for (uint32_t i = 0; i < n; i++) b[count[(idx[a[i]] >> shift) & 255u]++] = a[i];
        uint32_t *t = a;
        a = b, b = t;
    }
    if (a != order) memcpy(order, a, n * sizeof *order); /* an odd number of passes */
    free(scratch);
    return 0;
}

/* Sorts by index and sums duplicates; the order of equal indices cannot
 * change a sum of +-k/sqrt(n) terms that are added in input order. */
static int merge_sparse(hflow_router_fvec *v) {
    if (v->n_sparse < 2) return 0;
    uint32_t n = v->n_sparse;
    uint32_t *order = malloc(n * sizeof *order);
    float *vals = malloc(n * sizeof *vals);
    uint32_t *idx = malloc(n * sizeof *idx);
    if (!order || !vals || !idx || order_by_index(v->idx, n, order)) {
        free(order), free(vals), free(idx);
        return -1;
    }
    memcpy(vals, v->val, n * sizeof *vals);
    memcpy(idx, v->idx, n * sizeof *idx);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = idx[order[i]];
        float val = vals[order[i]];
        if (m > 0 && v->idx[m - 1] == k) v->val[m - 1] += val;
        else { v->idx[m] = k; v->val[m] = val; m++; }
    }
    v->n_sparse = m;
    free(order), free(vals), free(idx);
    return 0;
}

/* ---- dense part ---- */

static int type_slot(const hflow_router_feature_config *c, const char *t) {
    if (t)
        for (int i = 0; i < c->n_types; i++)
            if (!strncmp(c->types[i], t, HFLOW_ROUTER_TYPE_LEN - 1) && strlen(t) < HFLOW_ROUTER_TYPE_LEN) return i;
    return c->n_types;
}

static float clip_ratio(double r) { return (float)(r < 0 || r != r ? 0 : r > 4 ? 4 : r); }

static void fill_dense(const hflow_router_feature_config *c, const hflow_route_features *f, const float *emb,
                       uint32_t q_words, uint32_t t_words, float *d) {
    d[META_HAS_TASK] = f->task ? 1.0f : 0.0f;
    d[META_QUERY_LEVEL] = f->step_index < 0 ? 1.0f : 0.0f;
    d[META_N_DEPS] = (float)(f->n_deps > 0 ? f->n_deps : 0);
    d[META_DEPTH] = (float)(f->depth > 0 ? f->depth : 0);
    d[META_POSITION] = (f->step_index >= 0 && f->n_steps > 1) ? (float)f->step_index / (float)(f->n_steps - 1) : 0.0f;
    d[META_N_STEPS] = logf(1.0f + (float)(f->n_steps > 0 ? f->n_steps : 0));
    d[META_IS_FIRST] = f->is_first ? 1.0f : 0.0f;
    d[META_IS_LAST] = f->is_last ? 1.0f : 0.0f;
    d[META_DIFFICULTY] = (f->difficulty >= 1 && f->difficulty <= 9) ? (float)f->difficulty / 9.0f : 0.0f;
    d[META_DIFF_KNOWN] = (f->difficulty >= 1 && f->difficulty <= 9) ? 1.0f : 0.0f;
    d[META_TOKEN_EST] = logf(1.0f + (float)(f->token_estimate > 0 ? f->token_estimate : 0));
    d[META_Q_WORDS] = logf(1.0f + (float)q_words);
    d[META_T_WORDS] = logf(1.0f + (float)t_words);
    uint32_t k = META_COUNT;
    if (c->question_shape) {
        hflow_router_question_shape(f->question, d + k);
        k += HFLOW_QSHAPE_COUNT;
    }
    for (int i = 0; i <= c->n_types; i++) d[k + (uint32_t)i] = 0.0f;
    d[k + (uint32_t)type_slot(c, f->task_type)] = 1.0f;
    k += (uint32_t)c->n_types + 1;
    d[k++] = clip_ratio(f->budget.tokens_ratio);
    d[k++] = clip_ratio(f->budget.usd_ratio);
    d[k++] = clip_ratio(f->budget.latency_ratio);
    int known = f->edge_confidence >= 0 && f->edge_confidence <= 1;
    d[k++] = known ? (float)f->edge_confidence : 0.0f;
    d[k++] = known ? 1.0f : 0.0f;
    if (c->edge_answer) { /* how long the edge's answer ran: long ones are where it struggled */
        int have = f->edge_answer_tokens > 0;
        d[k++] = have ? logf(1.0f + (float)f->edge_answer_tokens) : 0.0f;
        d[k++] = have ? 1.0f : 0.0f;
    }
    for (uint32_t i = 0; i < c->embed_dim; i++) d[k + i] = emb ? emb[i] : 0.0f;
}

int hflow_featurize(const hflow_featurizer *fz, const hflow_route_features *f, const float *embedding,
                    hflow_router_fvec *out, hflow_error *err) {
    if (!fz || !f || !out || !fz->mean) return hflow_error_set(err, HFLOW_EINVAL, "featurize: NULL argument");
    const hflow_router_feature_config *c = &fz->cfg;
    out->n_sparse = 0;
    if (out->n_dense != fz->n_dense || !out->dense) {
        float *d = realloc(out->dense, fz->n_dense * sizeof *d);
        if (!d) return hflow_error_set(err, HFLOW_ENOMEM, "featurize: out of memory");
        out->dense = d;
        out->n_dense = fz->n_dense;
    }
    uint32_t qw = 0, tw = 0;
    if (hash_field(c, f->question, 0x51, out, &qw) != 0 || hash_field(c, f->task, 0x7a5c, out, &tw) != 0 ||
        merge_sparse(out) != 0)
        return hflow_error_set(err, HFLOW_ENOMEM, "featurize: out of memory");
    fill_dense(c, f, embedding, qw, tw, out->dense);
    for (uint32_t j = 0; j < fz->n_dense; j++) out->dense[j] = (out->dense[j] - fz->mean[j]) * fz->scale[j];
    return 0;
}
