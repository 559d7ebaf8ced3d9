/* embedder.c - dense text features for the router: the embedding of a
 * step's text from any backend with embeddings (an OpenAI-compatible
 * /v1/embeddings endpoint, or a GGUF run by our engine).
 *
 * One text function (hflow_router_embed_text) and one lookup
 * (hflow_router_embedder_embed) serve training (hflow_router_dataset_embed)
 * and the learned policy at serving time, so a router sees at serving time
 * exactly the vector it was trained on. Vectors are memoised per text (FNV-1a
 * 64 of the text) in memory and, optionally, in a JSONL cache file
 * ({"key":"hex","embedding":[...]} lines after a header naming the endpoint),
 * so training over thousands of questions computes each embedding once ever.
 * Thread-safe: the memo is under a mutex; backend calls run outside it. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "hybridflow/backend.h"
#include "hybridflow/router.h"
#include "route/router_internal.h"

typedef struct memo_entry {
    uint64_t key; /* 0 = empty slot */
    float *vec;
} memo_entry;

struct hflow_router_embedder {
    hflow_backend *backend;
    char *endpoint;
    uint32_t dim;           /* 0 until the first vector */
    pthread_mutex_t mu;
    memo_entry *tab;        /* open addressing, power-of-two capacity */
    size_t cap, n;
    FILE *cache;            /* append handle, NULL when no cache file */
    size_t batch;           /* texts per backend call in dataset_embed */
};

/* FNV-1a from the start state the cache files were written with: keys must not move. */
static uint64_t text_key(const char *t) {
    uint64_t h = hflow_fnv1a(HFLOW_FNV_OFFSET_LEGACY, t, strlen(t));
    return h ? h : 1;
}

/* ---- memo (caller holds mu) ---- */

static memo_entry *memo_slot(memo_entry *tab, size_t cap, uint64_t key) {
    size_t i = (size_t)key & (cap - 1);
    while (tab[i].key && tab[i].key != key) i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int memo_grow(hflow_router_embedder *e) {
    size_t cap = e->cap ? e->cap * 2 : 1024;
    memo_entry *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < e->cap; i++)
        if (e->tab[i].key) *memo_slot(t, cap, e->tab[i].key) = e->tab[i];
    free(e->tab);
    e->tab = t;
    e->cap = cap;
    return 0;
}

/* Takes ownership of vec (frees it when the key is already present). */
static int memo_put(hflow_router_embedder *e, uint64_t key, float *vec) {
    if ((e->n + 1) * 2 > e->cap && memo_grow(e)) {
        free(vec);
        return -1;
    }
    memo_entry *s = memo_slot(e->tab, e->cap, key);
    if (s->key) {
        free(vec);
        return 0;
    }
    s->key = key;
    s->vec = vec;
    e->n++;
    return 0;
}

static const float *memo_get(hflow_router_embedder *e, uint64_t key) {
    if (!e->cap) return NULL;
    memo_entry *s = memo_slot(e->tab, e->cap, key);
    return s->key ? s->vec : NULL;
}

/* ---- cache file ---- */

static void cache_write(hflow_router_embedder *e, uint64_t key, const float *v) {
    if (!e->cache) return;
    fprintf(e->cache, "{\"key\":\"%016" PRIx64 "\",\"embedding\":[", key);
    for (uint32_t j = 0; j < e->dim; j++) fprintf(e->cache, "%s%.9g", j ? "," : "", (double)v[j]);
    fputs("]}\n", e->cache);
}

static int cache_line(hflow_router_embedder *e, const char *line, const char *path, int lineno, hflow_error *err) {
    cJSON *o = cJSON_Parse(line);
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "endpoint");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "key");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "embedding");
    int rc = 0;
    if (cJSON_IsString(ep)) { /* header */
        if (strcmp(ep->valuestring, e->endpoint))
            rc = hflow_error_set(err, HFLOW_EINVAL, "embedding cache %s was made with '%s', not '%s'", path,
                                 ep->valuestring, e->endpoint);
    } else if (!cJSON_IsString(k) || !cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
               (e->dim && (uint32_t)cJSON_GetArraySize(v) != e->dim)) {
        rc = hflow_error_set(err, HFLOW_EFORMAT, "%s:%d: not an embedding cache line", path, lineno);
    } else {
        e->dim = (uint32_t)cJSON_GetArraySize(v);
        float *vec = malloc(e->dim * sizeof *vec);
        int j = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v) if (vec) vec[j++] = (float)x->valuedouble;
        if (!vec || memo_put(e, strtoull(k->valuestring, NULL, 16), vec))
            rc = hflow_error_set(err, HFLOW_ENOMEM, "embedding cache: out of memory");
    }
    cJSON_Delete(o);
    return rc;
}

static int cache_open(hflow_router_embedder *e, const char *path, hflow_error *err) {
    FILE *f = fopen(path, "r");
    int rc = 0, lineno = 0, fresh = !f;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        while (!rc && getline(&line, &cap, f) > 0) {
            lineno++;
            if (line[0] != '\n') rc = cache_line(e, line, path, lineno, err);
        }
        free(line);
        fclose(f);
        fresh = lineno == 0;
    }
    if (rc) return rc;
    if (!(e->cache = fopen(path, "a")))
        return hflow_error_set(err, HFLOW_EIO, "cannot write the embedding cache %s", path);
    if (fresh) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "endpoint", e->endpoint);
        char *s = cJSON_PrintUnformatted(h);
        cJSON_Delete(h);
        if (s) fprintf(e->cache, "%s\n", s);
        free(s);
    }
    return 0;
}

/* ---- public ---- */

int hflow_router_embedder_open(const char *endpoint, const char *cache_path, hflow_router_embedder **out,
                               hflow_error *err) {
    *out = NULL;
    if (!endpoint || !*endpoint) return hflow_error_set(err, HFLOW_EINVAL, "embedder: no endpoint");
    hflow_router_embedder *e = calloc(1, sizeof *e);
    if (!e || !(e->endpoint = strdup(endpoint))) {
        free(e);
        return hflow_error_set(err, HFLOW_ENOMEM, "embedder: out of memory");
    }
    pthread_mutex_init(&e->mu, NULL);
    e->batch = 32;
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    int rc = hflow_backend_open(endpoint, &o, &e->backend, err);
    if (!rc && cache_path) rc = cache_open(e, cache_path, err);
    if (rc) {
        hflow_error_wrap(err, "embedder '%s'", endpoint);
        hflow_router_embedder_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void hflow_router_embedder_free(hflow_router_embedder *e) {
    if (!e) return;
    for (size_t i = 0; i < e->cap; i++) free(e->tab[i].vec);
    free(e->tab);
    if (e->cache) fclose(e->cache);
    hflow_backend_free(e->backend);
    pthread_mutex_destroy(&e->mu);
    free(e->endpoint);
    free(e);
}

const char *hflow_router_embedder_endpoint(const hflow_router_embedder *e) { return e->endpoint; }
uint32_t hflow_router_embedder_dim(const hflow_router_embedder *e) { return e->dim; }

char *hflow_router_embed_text(const hflow_route_features *f) {
    const char *q = f->question ? f->question : "";
    if (!f->task || !*f->task) return strdup(q);
    size_t n = strlen(q) + strlen(f->task) + 3;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s\n\n%s", q, f->task);
    return s;
}

/* Embeds the texts not yet memoised (one backend call) and memoises them. */
static int fill(hflow_router_embedder *e, const char *const *texts, const uint64_t *keys, size_t n, hflow_error *err) {
    const char **todo = malloc(n * sizeof *todo);
    uint64_t *tkeys = malloc(n * sizeof *tkeys);
    int m = 0, rc = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; todo && tkeys && i < n; i++) {
        int dup = memo_get(e, keys[i]) != NULL;
        for (int j = 0; j < m && !dup; j++) dup = tkeys[j] == keys[i];
        if (!dup) todo[m] = texts[i], tkeys[m++] = keys[i];
    }
    pthread_mutex_unlock(&e->mu);
    if (!todo || !tkeys) rc = hflow_error_set(err, HFLOW_ENOMEM, "embedder: out of memory");
    hflow_embeddings em = {0};
    if (!rc && m) rc = hflow_backend_embed(e->backend, todo, m, &em, err);
    pthread_mutex_lock(&e->mu);
    if (!rc && m && e->dim && (uint32_t)em.dim != e->dim)
        rc = hflow_error_set(err, HFLOW_EFORMAT, "embedder '%s' returned %d values, earlier %u", e->endpoint, em.dim,
                             e->dim);
    if (!rc && m) e->dim = (uint32_t)em.dim;
    for (int j = 0; !rc && j < m; j++) {
        float *v = malloc(e->dim * sizeof *v);
        if (v) memcpy(v, em.data + (size_t)j * e->dim, e->dim * sizeof *v);
        if (!v || memo_put(e, tkeys[j], v)) rc = hflow_error_set(err, HFLOW_ENOMEM, "embedder: out of memory");
        else cache_write(e, tkeys[j], v);
    }
    if (e->cache) fflush(e->cache);
    pthread_mutex_unlock(&e->mu);
    hflow_embeddings_clear(&em);
    free(todo);
    free(tkeys);
    return rc;
}

/* Copies the memoised vector of key into out (dim values). */
static int copy_out(hflow_router_embedder *e, uint64_t key, float *out, uint32_t dim, hflow_error *err) {
    pthread_mutex_lock(&e->mu);
    const float *v = memo_get(e, key);
    int rc = 0;
    if (!v) rc = hflow_error_set(err, HFLOW_ENOTFOUND, "embedder: vector missing");
    else if (dim != e->dim)
        rc = hflow_error_set(err, HFLOW_EINVAL, "embedder '%s' gives %u values, the router expects %u", e->endpoint,
                             e->dim, dim);
    else memcpy(out, v, dim * sizeof *out);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int hflow_router_embedder_embed(hflow_router_embedder *e, const hflow_route_features *f, float *out, uint32_t dim,
                                hflow_error *err) {
    char *text = hflow_router_embed_text(f);
    if (!text) return hflow_error_set(err, HFLOW_ENOMEM, "embedder: out of memory");
    uint64_t key = text_key(text);
    const char *t = text;
    int rc = fill(e, &t, &key, 1, err);
    if (!rc) rc = copy_out(e, key, out, dim, err);
    free(text);
    return rc;
}

int hflow_router_dataset_embed(hflow_router_dataset *d, hflow_router_embedder *e, hflow_error *err) {
    if (d->embed_dim) return hflow_error_set(err, HFLOW_EINVAL, "dataset already has %u-d embeddings", d->embed_dim);
    char **texts = calloc(d->n + 1, sizeof *texts);
    uint64_t *keys = calloc(d->n + 1, sizeof *keys);
    int rc = texts && keys ? 0 : hflow_error_set(err, HFLOW_ENOMEM, "embedder: out of memory");
    for (size_t i = 0; !rc && i < d->n; i++) {
        if (!(texts[i] = hflow_router_embed_text(&d->s[i].f))) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        else keys[i] = text_key(texts[i]);
    }
    for (size_t i = 0; !rc && i < d->n; i += e->batch) {
        size_t m = d->n - i < e->batch ? d->n - i : e->batch;
        rc = fill(e, (const char *const *)texts + i, keys + i, m, err);
    }
    /* Vectors become dataset-owned copies, as hflow_router_dataset_add stores them. */
    float *v = rc ? NULL : malloc((e->dim ? e->dim : 1) * sizeof *v);
    if (!rc && !v) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < d->n; i++) {
        rc = copy_out(e, keys[i], v, e->dim, err);
        if (!rc && hflow_router_dataset_own_vec(d, v, e->dim, &d->s[i].embedding))
            rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    free(v);
    if (!rc) d->embed_dim = e->dim;
    for (size_t i = 0; texts && i < d->n; i++) free(texts[i]);
    free(texts);
    free(keys);
    return rc;
}
