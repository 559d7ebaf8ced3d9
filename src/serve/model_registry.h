/* model_registry.h - the models a server offers, each with its slot pool. */
#ifndef HFLOW_SERVE_MODEL_REGISTRY_H
#define HFLOW_SERVE_MODEL_REGISTRY_H

#include "hybridflow/serve.h"
#include "serve/metrics.h"
#include "serve/slots.h"

typedef struct serve_model {
    char *name;
    hflow_model *model;
    int owned;          /* loaded by us from a path */
    serve_slots *slots;
    long created;       /* Unix time of loading, for /v1/models */
} serve_model;

typedef struct serve_registry {
    serve_model *models;
    int n;
} serve_registry;

/* Loads every model of o and creates its slots. On failure everything loaded so far is freed. */
int serve_registry_init(serve_registry *r, const hflow_serve_options *o, serve_metrics *metrics, hflow_error *err);
void serve_registry_free(serve_registry *r);
/* By name; a NULL name finds the only model when exactly one is served. */
serve_model *serve_registry_find(serve_registry *r, const char *name);

#endif
