/* model_registry.c - loading served models and finding them by name. */
#include "serve/model_registry.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

static int add_model(serve_registry *r, const hflow_serve_model *spec, const hflow_serve_options *o,
                     serve_metrics *metrics, hflow_error *err) {
    serve_model *m = &r->models[r->n];
    memset(m, 0, sizeof *m);
    if (!spec->name || !*spec->name) return hflow_error_set(err, HFLOW_EINVAL, "a served model needs a name");
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->models[i].name, spec->name))
            return hflow_error_set(err, HFLOW_EINVAL, "model name '%s' given twice", spec->name);
    if (!(m->name = strdup(spec->name))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int rc = 0;
    if (spec->model) {
        m->model = spec->model;
    } else if (spec->path) {
        hflow_model_params mp = {.n_threads = o->n_threads};
        rc = hflow_model_load(spec->path, &mp, &m->model, err);
        m->owned = rc == 0;
    } else {
        rc = hflow_error_set(err, HFLOW_EINVAL, "model '%s' has neither a path nor a loaded model", spec->name);
    }
    if (!rc) rc = serve_slots_create(m->model, o->n_parallel > 0 ? o->n_parallel : 1, o->n_ctx,
                                     o->max_queue >= 0 ? o->max_queue : 64, metrics, &m->slots, err);
    if (rc) {
        hflow_error_wrap(err, "model '%s'", spec->name);
        if (m->owned) hflow_model_free(m->model);
        free(m->name);
        return rc;
    }
    m->created = (long)hflow_wall_s();
    r->n++;
    return 0;
}

int serve_registry_init(serve_registry *r, const hflow_serve_options *o, serve_metrics *metrics, hflow_error *err) {
    memset(r, 0, sizeof *r);
    /* n_models may be 0 when the server offers only the virtual model. */
    if (!(r->models = calloc((size_t)o->n_models + 1, sizeof *r->models)))
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int i = 0; i < o->n_models; i++) {
        int rc = add_model(r, &o->models[i], o, metrics, err);
        if (rc) {
            serve_registry_free(r);
            return rc;
        }
    }
    return 0;
}

void serve_registry_free(serve_registry *r) {
    for (int i = 0; i < r->n; i++) {
        serve_slots_free(r->models[i].slots);
        if (r->models[i].owned) hflow_model_free(r->models[i].model);
        free(r->models[i].name);
    }
    free(r->models);
    memset(r, 0, sizeof *r);
}

serve_model *serve_registry_find(serve_registry *r, const char *name) {
    if (!name) return r->n == 1 ? &r->models[0] : NULL;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->models[i].name, name)) return &r->models[i];
    return NULL;
}
