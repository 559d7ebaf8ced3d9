/* server_ctx.h - the state behind an hflow_server, shared by the route files. */
#ifndef HFLOW_SERVE_SERVER_CTX_H
#define HFLOW_SERVE_SERVER_CTX_H

#include <pthread.h>
#include <stdint.h>

#include "hybridflow/serve.h"
#include "serve/http_server.h"
#include "serve/hybrid_model.h"
#include "serve/metrics.h"
#include "serve/model_registry.h"
#include "serve/spec_sessions.h"

struct hflow_server {
    hs_server *http;
    serve_registry reg;
    serve_metrics metrics;
    double drain_timeout_s;
    pthread_mutex_t id_mu;
    uint64_t next_id; /* request ids and default seeds */
    spec_table *spec;  /* speculative sessions (routes_spec.c) */
    char *hybrid_name;    /* the virtual model's id, known before it is ready; NULL = none */
    serve_hybrid *hybrid; /* set once after listening starts (it may call this server); read via serve_get_hybrid */
};

/* The virtual model, or NULL while it is being set up (or when none). */
serve_hybrid *serve_get_hybrid(hflow_server *s);

/* A fresh number per call (ids, default seeds). */
uint64_t serve_next_id(hflow_server *s);

/* Finds the request's model and pins its current version (release it with
 * serve_model_release(&s->reg, m)), or replies 404 (NULL returned). */
serve_model *serve_find_model_or_404(hflow_server *s, hs_request *req, const char *name);

/* Route handlers; app is the hflow_server. */
void serve_route_health(void *app, hs_request *req);
void serve_route_models(void *app, hs_request *req);
void serve_route_metrics(void *app, hs_request *req);
void serve_route_chat(void *app, hs_request *req);
void serve_route_completions(void *app, hs_request *req);
void serve_route_embeddings(void *app, hs_request *req);
void serve_route_tokenize(void *app, hs_request *req);
void serve_route_detokenize(void *app, hs_request *req);
void serve_route_spec_create(void *app, hs_request *req);
void serve_route_spec_session(void *app, hs_request *req); /* POST {id}/verify, {id}/generate */
void serve_route_spec_delete(void *app, hs_request *req);
void serve_route_admin_model(void *app, hs_request *req);

#endif
