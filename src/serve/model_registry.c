/* model_registry.c - loading served models, finding them by name, and
 * replacing them with new versions while they are in use. */
#include "serve/model_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "hybridflow/family.h"

static void version_free(serve_model *m) {
    if (!m) return;
    serve_slots_free(m->slots);
    hflow_token_texts_free(m->texts);
    pthread_mutex_destroy(&m->texts_mu);
    if (m->owned) hflow_model_free(m->model);
    free(m->name);
    free(m);
}

/* Family facts of a loaded model; an unstamped model gets "gN". */
static void version_identity(serve_model *m, int generation) {
    hflow_family_info fi;
    const hflow_gguf *g = hflow_model_gguf(m->model);
    int ok = g && hflow_family_read(g, &fi, NULL) == 0;
    if (ok) {
        m->tokenizer_fp = fi.tokenizer_fp;
        m->backbone_fp = fi.backbone_fp;
    } else {
        m->tokenizer_fp = hflow_vocab_fingerprint(hflow_model_vocab(m->model));
    }
    if (ok && fi.stamped && fi.version[0]) snprintf(m->version, sizeof m->version, "%s", fi.version);
    else snprintf(m->version, sizeof m->version, "g%d", generation);
}

/* A new version of `name` from a path or a borrowed model (refs = 1: the caller's). */
static int version_load(serve_registry *r, const char *name, const char *path, hflow_model *borrowed, int generation,
                        serve_model **out, hflow_error *err) {
    *out = NULL;
    serve_model *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name))) {
        free(m);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&m->texts_mu, NULL);
    int rc = 0;
    if (borrowed) {
        m->model = borrowed;
    } else if (path) {
        hflow_model_params mp = {.n_threads = r->n_threads};
        rc = hflow_model_load(path, &mp, &m->model, err);
        m->owned = rc == 0;
    } else {
        rc = hflow_error_set(err, HFLOW_EINVAL, "model '%s' has neither a path nor a loaded model", name);
    }
    if (!rc) rc = serve_slots_create(m->model, r->n_parallel, r->n_ctx, r->max_queue, r->metrics, &m->slots, err);
    if (rc) {
        hflow_error_wrap(err, "model '%s'", name);
        version_free(m);
        return rc;
    }
    m->created = (long)hflow_wall_s();
    version_identity(m, generation);
    m->refs = 1;
    *out = m;
    return 0;
}

static int add_model(serve_registry *r, const hflow_serve_model *spec, hflow_error *err) {
    serve_registry_entry *e = &r->models[r->n];
    memset(e, 0, sizeof *e);
    if (!spec->name || !*spec->name) return hflow_error_set(err, HFLOW_EINVAL, "a served model needs a name");
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->models[i].name, spec->name))
            return hflow_error_set(err, HFLOW_EINVAL, "model name '%s' given twice", spec->name);
    if (!(e->name = strdup(spec->name))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    e->generation = 1;
    int rc = version_load(r, spec->name, spec->path, spec->model, 1, &e->cur, err);
    if (rc) {
        free(e->name);
        return rc;
    }
    r->n++;
    return 0;
}

int serve_registry_init(serve_registry *r, const hflow_serve_options *o, serve_metrics *metrics, hflow_error *err) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->live = 1;
    r->n_parallel = o->n_parallel > 0 ? o->n_parallel : 1;
    r->n_ctx = o->n_ctx;
    r->n_threads = o->n_threads;
    r->max_queue = o->max_queue >= 0 ? o->max_queue : 64;
    r->metrics = metrics;
    /* n_models may be 0 when the server offers only the virtual model. */
    if (!(r->models = calloc((size_t)o->n_models + 1, sizeof *r->models))) {
        serve_registry_free(r);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    for (int i = 0; i < o->n_models; i++) {
        int rc = add_model(r, &o->models[i], err);
        if (rc) {
            serve_registry_free(r);
            return rc;
        }
    }
    return 0;
}

void serve_registry_free(serve_registry *r) {
    if (!r->live) return; /* never initialised, or already freed */
    for (int i = 0; i < r->n; i++) {
        version_free(r->models[i].cur);
        free(r->models[i].name);
    }
    free(r->models);
    pthread_mutex_destroy(&r->mu);
    memset(r, 0, sizeof *r);
}

static serve_registry_entry *find_entry(serve_registry *r, const char *name) {
    if (!name) return r->n == 1 ? &r->models[0] : NULL;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->models[i].name, name)) return &r->models[i];
    return NULL;
}

serve_model *serve_registry_find(serve_registry *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    serve_registry_entry *e = find_entry(r, name);
    serve_model *m = e ? e->cur : NULL;
    pthread_mutex_unlock(&r->mu);
    return m;
}

serve_model *serve_registry_acquire(serve_registry *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    serve_registry_entry *e = find_entry(r, name);
    serve_model *m = e ? e->cur : NULL;
    if (m) m->refs++;
    pthread_mutex_unlock(&r->mu);
    return m;
}

serve_model *serve_registry_acquire_at(serve_registry *r, int i) {
    pthread_mutex_lock(&r->mu);
    serve_model *m = i >= 0 && i < r->n ? r->models[i].cur : NULL;
    if (m) m->refs++;
    pthread_mutex_unlock(&r->mu);
    return m;
}

void serve_model_release(serve_registry *r, serve_model *m) {
    if (!m) return;
    pthread_mutex_lock(&r->mu);
    int left = --m->refs;
    pthread_mutex_unlock(&r->mu);
    if (left == 0) version_free(m); /* a replaced version whose last user just left */
}

int serve_registry_swap(serve_registry *r, const char *name, const char *path, hflow_error *err) {
    pthread_mutex_lock(&r->mu);
    serve_registry_entry *e = name ? find_entry(r, name) : NULL;
    int gen = e ? ++e->generation : 0;
    pthread_mutex_unlock(&r->mu);
    if (!e) return hflow_error_set(err, HFLOW_ENOTFOUND, "no served model named '%s'", name ? name : "");
    serve_model *m;
    int rc = version_load(r, e->name, path, NULL, gen, &m, err);
    if (rc) return rc;
    pthread_mutex_lock(&r->mu);
    serve_model *old = e->cur;
    e->cur = m;
    pthread_mutex_unlock(&r->mu);
    serve_model_release(r, old); /* the registry's reference */
    return 0;
}

int serve_model_token_texts(serve_model *m, const hflow_token_texts **out, hflow_error *err) {
    int rc = 0;
    pthread_mutex_lock(&m->texts_mu);
    if (!m->texts) rc = hflow_token_texts_create(hflow_model_vocab(m->model), &m->texts, err);
    *out = m->texts;
    pthread_mutex_unlock(&m->texts_mu);
    return rc;
}
