/* server.c - hflow_server lifecycle: registry + metrics + HTTP routes. */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "serve/server_ctx.h"

static const hs_route routes[] = {
    {"GET", "/health", serve_route_health, 1},
    {"GET", "/v1/models", serve_route_models, 0},
    {"POST", "/v1/chat/completions", serve_route_chat, 0},
    {"POST", "/v1/completions", serve_route_completions, 0},
    {"POST", "/v1/embeddings", serve_route_embeddings, 0},
    {"POST", "/tokenize", serve_route_tokenize, 0},
    {"POST", "/detokenize", serve_route_detokenize, 0},
    {"GET", "/metrics", serve_route_metrics, 0},
    {"POST", "/v1/spec/sessions", serve_route_spec_create, 0},
    {"POST", "/v1/spec/sessions/*", serve_route_spec_session, 0},
    {"DELETE", "/v1/spec/sessions/*", serve_route_spec_delete, 0},
    {"POST", "/admin/models/*", serve_route_admin_model, 0},
};

void hflow_serve_options_default(hflow_serve_options *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->n_parallel = 1;
    o->max_body_bytes = 8u << 20;
    o->max_queue = 64;
    o->drain_timeout_s = 30;
    o->spec_max_sessions = 16;
    o->spec_idle_timeout_s = 300;
}

uint64_t serve_next_id(hflow_server *s) {
    pthread_mutex_lock(&s->id_mu);
    uint64_t id = ++s->next_id;
    pthread_mutex_unlock(&s->id_mu);
    return id;
}

static void observe(void *app, const char *route, int status, double seconds) {
    hflow_server *s = app;
    serve_metrics_request(&s->metrics, route, status, seconds);
}

serve_hybrid *serve_get_hybrid(hflow_server *s) {
    pthread_mutex_lock(&s->id_mu);
    serve_hybrid *h = s->hybrid;
    pthread_mutex_unlock(&s->id_mu);
    return h;
}

/* The virtual model may name this server's own models, so it is opened once
 * the port is known; until then its requests get 503. */
static int start_hybrid(hflow_server *s, const hflow_serve_options *o, hflow_error *err) {
    const char *host = o->host && strcmp(o->host, "0.0.0.0") ? o->host : "127.0.0.1";
    char base[128];
    snprintf(base, sizeof base, "http://%s:%d/v1", host, hs_server_port(s->http));
    serve_hybrid *h;
    int rc = serve_hybrid_create(o->hybrid, &s->reg, base, o->api_key, &h, err);
    if (rc) return rc;
    pthread_mutex_lock(&s->id_mu);
    s->hybrid = h;
    pthread_mutex_unlock(&s->id_mu);
    return 0;
}

static void free_server(hflow_server *s) {
    serve_hybrid_free(s->hybrid);
    free(s->hybrid_name);
    spec_table_free(s->spec); /* sessions pin model versions: before the registry */
    serve_registry_free(&s->reg);
    pthread_mutex_destroy(&s->id_mu);
    serve_metrics_destroy(&s->metrics);
    free(s);
}

int hflow_server_start(const hflow_serve_options *o, hflow_server **out, hflow_error *err) {
    *out = NULL;
    hflow_server *s = calloc(1, sizeof *s);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    serve_metrics_init(&s->metrics);
    pthread_mutex_init(&s->id_mu, NULL);
    /* Ids only need to be unique per process run; the clock keeps restarts apart. */
    s->next_id = hflow_now_ns() & 0xffffffffffull;
    s->drain_timeout_s = o->drain_timeout_s;
    int rc = 0;
    if (o->hybrid) {
        const char *hn = o->hybrid->name && *o->hybrid->name ? o->hybrid->name : "hybridflow";
        if (!(s->hybrid_name = strdup(hn))) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    if (!rc && o->n_models < 1 && !o->hybrid) rc = hflow_error_set(err, HFLOW_EINVAL, "no model to serve");
    if (!rc) rc = serve_registry_init(&s->reg, o, &s->metrics, err);
    if (!rc) rc = spec_table_create(&s->reg, o->spec_max_sessions, o->spec_idle_timeout_s, &s->spec, err);
    if (!rc) {
        hs_config cfg = {.host = o->host, .port = o->port, .max_body = o->max_body_bytes ? o->max_body_bytes : 8u << 20,
                         .api_key = o->api_key, .routes = routes, .n_routes = (int)(sizeof routes / sizeof routes[0]),
                         .app = s, .observer = observe};
        rc = hs_server_start(&cfg, &s->http, err);
        if (!rc && o->hybrid && (rc = start_hybrid(s, o, err))) hs_server_stop(s->http, 0);
    }
    if (rc) {
        free_server(s);
        return rc;
    }
    *out = s;
    return 0;
}

int hflow_server_port(const hflow_server *s) { return hs_server_port(s->http); }

void hflow_server_stop(hflow_server *s) {
    if (!s) return;
    hs_server_stop(s->http, s->drain_timeout_s);
    free_server(s);
}
