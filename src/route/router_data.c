/* router_data.c - training data for the utility router: the dataset
 * container, the utility label, the split by question, and the two loaders
 * (subtask-level profile JSONL, format in docs/ROUTER.md). Query-level
 * replay files are read by the eval module (hflow_replay_load) and converted
 * by the caller. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "hybridflow/router.h"
#include "route/router_internal.h"

void hflow_router_dataset_init(hflow_router_dataset *d) { memset(d, 0, sizeof *d); }

void hflow_router_dataset_free(hflow_router_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_strings; i++) free(d->strings[i]);
    for (size_t i = 0; i < d->n_vecs; i++) free(d->vecs[i]);
    free(d->strings);
    free(d->vecs);
    free(d->s);
    memset(d, 0, sizeof *d);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *n = realloc(*p, c * elem);
    if (!n) return -1;
    *p = n;
    *cap = c;
    return 0;
}

/* Copies s into the dataset's storage; NULL stays NULL. */
static int own_str(hflow_router_dataset *d, const char *s, const char **out) {
    *out = NULL;
    if (!s) return 0;
    if (grow((void **)&d->strings, &d->cap_strings, d->n_strings + 1, sizeof *d->strings)) return -1;
    char *c = strdup(s);
    if (!c) return -1;
    d->strings[d->n_strings++] = c;
    *out = c;
    return 0;
}

/* Copies n floats into the dataset's storage; NULL or n == 0 gives NULL. */
int hflow_router_dataset_own_vec(hflow_router_dataset *d, const float *src, uint32_t n, const float **out) {
    *out = NULL;
    if (!src || n == 0) return 0;
    float *v = malloc(n * sizeof *v);
    if (!v || grow((void **)&d->vecs, &d->cap_vecs, d->n_vecs + 1, sizeof *d->vecs)) {
        free(v);
        return -1;
    }
    memcpy(v, src, n * sizeof *v);
    d->vecs[d->n_vecs++] = v;
    *out = v;
    return 0;
}

int hflow_router_dataset_add(hflow_router_dataset *d, const hflow_router_sample *s, hflow_error *err) {
    if (grow((void **)&d->s, &d->cap, d->n + 1, sizeof *d->s))
        return hflow_error_set(err, HFLOW_ENOMEM, "router data: out of memory");
    hflow_router_sample c = *s;
    int bad = own_str(d, s->f.question, &c.f.question) || own_str(d, s->f.task, &c.f.task) ||
              own_str(d, s->f.task_type, &c.f.task_type) || own_str(d, s->group, &c.group);
    bad = bad || hflow_router_dataset_own_vec(d, s->embedding, d->embed_dim, &c.embedding) || hflow_router_dataset_own_vec(d, s->aux, d->aux_dim, &c.aux);
    if (bad) return hflow_error_set(err, HFLOW_ENOMEM, "router data: out of memory");
    d->s[d->n++] = c;
    return 0;
}

double hflow_router_label(const hflow_router_lambdas *l, const hflow_router_sample *s) {
    return l->q * (s->quality_cloud - s->quality_edge) - l->t * (s->latency_cloud - s->latency_edge) -
           l->k * s->cloud_tokens;
}

/* FNV-1a then half of the murmur finaliser: the values fix published
 * subtask splits, so they stay as first written (not hflow_mix64). */
static uint64_t hash_str(const char *s, uint64_t seed) {
    uint64_t h = hflow_fnv1a(HFLOW_FNV_OFFSET ^ seed, s ? s : "", s ? strlen(s) : 0);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void hflow_router_split_by_group(const hflow_router_dataset *d, double frac, uint64_t seed, unsigned char *in_test) {
    for (size_t i = 0; i < d->n; i++) {
        double u = (double)(hash_str(d->s[i].group, seed) >> 11) / 9007199254740992.0;
        in_test[i] = u < frac;
    }
}

/* ---- line reading ---- */

typedef int (*line_fn)(hflow_router_dataset *d, const cJSON *row, void *ctx, hflow_error *err);

static int for_each_line(const char *path, hflow_router_dataset *d, line_fn fn, void *ctx, hflow_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return hflow_error_set(err, HFLOW_EIO, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n == 0 || line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *row = cJSON_ParseWithLength(line, (size_t)n);
        if (!row || !cJSON_IsObject(row)) rc = hflow_error_set(err, HFLOW_EFORMAT, "%s:%ld: not a JSON object", path, lineno);
        else if ((rc = fn(d, row, ctx, err)) != 0) hflow_error_wrap(err, "%s:%ld", path, lineno);
        cJSON_Delete(row);
    }
    free(line);
    fclose(f);
    return rc;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? 1.0 : 0.0;
    return dflt;
}

/* ---- profile (subtask level) ---- */

static int tier_outcome(const cJSON *row, const char *name, double *q, double *lat, double *tok, hflow_error *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(row, name);
    if (!cJSON_IsObject(t) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "quality")))
        return hflow_error_set(err, HFLOW_EFORMAT, "profile row lacks %s.quality", name);
    *q = jnum(t, "quality", 0);
    *lat = jnum(t, "latency_s", 0);
    *tok = jnum(t, "tokens", 0);
    return 0;
}

static int read_embedding(const cJSON *row, hflow_router_dataset *d, float **out, hflow_error *err) {
    *out = NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "embedding");
    if (!cJSON_IsArray(e)) return 0;
    int n = cJSON_GetArraySize(e);
    if (d->n == 0 && d->embed_dim == 0) d->embed_dim = (uint32_t)n;
    if (n < 1 || (uint32_t)n != d->embed_dim)
        return hflow_error_set(err, HFLOW_EFORMAT, "embedding has %d values, expected %u", n, d->embed_dim);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return hflow_error_set(err, HFLOW_ENOMEM, "router data: out of memory");
    int k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, e) v[k++] = (float)(cJSON_IsNumber(x) ? x->valuedouble : 0.0);
    *out = v;
    return 0;
}

static int profile_row(hflow_router_dataset *d, const cJSON *row, void *ctx, hflow_error *err) {
    (void)ctx;
    hflow_router_sample s = {0};
    double tok_edge;
    s.group = jstr(row, "qid");
    s.f.question = jstr(row, "question");
    if (!s.group || !s.f.question) return hflow_error_set(err, HFLOW_EFORMAT, "profile row needs qid and question");
    s.f.task = jstr(row, "task");
    s.f.task_type = jstr(row, "task_type");
    s.f.step_index = (int)jnum(row, "step_index", -1);
    s.f.n_steps = (int)jnum(row, "n_steps", 0);
    s.f.n_deps = (int)jnum(row, "n_deps", 0);
    s.f.depth = (int)jnum(row, "depth", 0);
    s.f.difficulty = (int)jnum(row, "difficulty", 0);
    s.f.token_estimate = (int)jnum(row, "token_estimate", 0);
    s.f.is_first = jnum(row, "is_first", 0) != 0;
    s.f.is_last = jnum(row, "is_last", 0) != 0;
    s.f.edge_confidence = jnum(row, "edge_confidence", -1);
    s.f.edge_answer_tokens = jnum(row, "edge_answer_tokens", 0);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(row, "budget");
    s.f.budget.tokens_ratio = jnum(b, "tokens_ratio", 0);
    s.f.budget.usd_ratio = jnum(b, "usd_ratio", 0);
    s.f.budget.latency_ratio = jnum(b, "latency_ratio", 0);
    int rc = tier_outcome(row, "edge", &s.quality_edge, &s.latency_edge, &tok_edge, err);
    if (!rc) rc = tier_outcome(row, "cloud", &s.quality_cloud, &s.latency_cloud, &s.cloud_tokens, err);
    float *emb = NULL;
    if (!rc) rc = read_embedding(row, d, &emb, err);
    s.embedding = emb;
    if (!rc) rc = hflow_router_dataset_add(d, &s, err);
    free(emb);
    return rc;
}

int hflow_router_load_profile(const char *path, hflow_router_dataset *d, hflow_error *err) {
    if (!path) return hflow_error_set(err, HFLOW_EINVAL, "load profile: NULL path");
    int rc = for_each_line(path, d, profile_row, NULL, err);
    if (!rc && d->n == 0) rc = hflow_error_set(err, HFLOW_ENOTFOUND, "%s: no profile rows", path);
    return rc;
}
