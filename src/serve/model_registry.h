/* model_registry.h - the models a server offers, each with its slot pool, and
 * their versions.
 *
 * A name maps to its current version (serve_model). Versions are reference
 * counted so a model can be replaced while it is in use (hot swap): a request
 * pins the version it starts on (serve_registry_acquire) and releases it when
 * done; a swap installs the new version at once, and the old one is freed when
 * its last user releases it. So new requests and sessions see the new version
 * while open ones finish on theirs. The registry's mutex guards the name ->
 * version map and every reference count; loading happens outside it. */
#ifndef HFLOW_SERVE_MODEL_REGISTRY_H
#define HFLOW_SERVE_MODEL_REGISTRY_H

#include <pthread.h>
#include <stdint.h>

#include "hybridflow/grammar.h"
#include "hybridflow/serve.h"
#include "serve/metrics.h"
#include "serve/slots.h"

/* One loaded version of a served model. */
typedef struct serve_model {
    char *name;
    hflow_model *model;
    int owned;          /* loaded by us from a path */
    serve_slots *slots;
    long created;       /* Unix time of loading, for /v1/models */
    char version[64];   /* the family version when stamped, else "gN" (N-th load of this name) */
    uint64_t tokenizer_fp, backbone_fp; /* family fingerprints (backbone 0 when not stamped) */
    int refs;           /* the registry's own (while current) plus one per user; under the registry mutex */
    pthread_mutex_t texts_mu;
    hflow_token_texts *texts; /* token bytes for grammars: built on the first constrained request, under texts_mu */
} serve_model;

/* A served name and its current version. */
typedef struct serve_registry_entry {
    char *name;
    serve_model *cur;
    int generation;     /* loads so far under this name */
} serve_registry_entry;

typedef struct serve_registry {
    serve_registry_entry *models;
    int n;
    pthread_mutex_t mu;
    int n_parallel, n_ctx, n_threads, max_queue; /* for versions loaded later */
    serve_metrics *metrics;
    int live;           /* between init and free (free is idempotent) */
} serve_registry;

/* Loads every model of o and creates its slots. On failure everything loaded so far is freed. */
int serve_registry_init(serve_registry *r, const hflow_serve_options *o, serve_metrics *metrics, hflow_error *err);
/* Frees every version, in use or not: call only once no request is running. */
void serve_registry_free(serve_registry *r);
/* The current version by name, NOT pinned (valid only while no swap can free
 * it); a NULL name finds the only model when exactly one is served. Prefer
 * serve_registry_acquire. */
serve_model *serve_registry_find(serve_registry *r, const char *name);
/* The current version, pinned: release it with serve_model_release. NULL when unknown. */
serve_model *serve_registry_acquire(serve_registry *r, const char *name);
/* The i-th name's current version, pinned (0 <= i < n). */
serve_model *serve_registry_acquire_at(serve_registry *r, int i);
void serve_model_release(serve_registry *r, serve_model *m);
/* The version's token texts for grammar masks (grammar.h), built once on
 * first use; owned by m (valid while m is pinned). */
int serve_model_token_texts(serve_model *m, const hflow_token_texts **out, hflow_error *err);
/* Loads `path` as the new version of an already served `name` and makes it
 * current; the old version is freed when its last user releases it. The load
 * happens outside the lock (requests keep flowing). HFLOW_ENOTFOUND for an
 * unknown name; load errors leave the current version in place. */
int serve_registry_swap(serve_registry *r, const char *name, const char *path, hflow_error *err);

#endif
