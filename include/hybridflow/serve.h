/* hybridflow/serve.h - the OpenAI-compatible HTTP server, in-process.
 *
 * hflow_server_start loads (or borrows) the models, creates n_parallel engine
 * sessions per model and starts listening; requests are served on MHD's
 * connection threads until hflow_server_stop. The CLI `hybridflow serve` is a
 * thin wrapper; tests and other modules embed the server with these calls.
 * Routes, parameters, error codes and metric names: docs/SERVER.md. */
#ifndef HYBRIDFLOW_SERVE_H
#define HYBRIDFLOW_SERVE_H

#include <stddef.h>

#include "hybridflow/engine.h"
#include "hybridflow/error.h"
#include "hybridflow/flow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_server hflow_server;

/* One served model. Give either a path (the server loads and frees it) or an
 * already loaded model (borrowed: it must outlive the server). */
typedef struct hflow_serve_model {
    const char *name;   /* the "model" clients ask for; copied */
    const char *path;   /* GGUF file */
    hflow_model *model; /* when non-NULL, used instead of path */
} hflow_serve_model;

/* The virtual model: chat requests naming it run the orchestrator (plan ->
 * DAG -> routed steps -> aggregated answer) over an edge and a cloud endpoint
 * and answer as a normal chat completion, with per-tier usage in the
 * "hybridflow" extension field (docs/SERVER.md). Every string is copied at start. */
typedef struct hflow_serve_hybrid {
    const char *name;       /* the model id clients ask for; NULL = "hybridflow" */
    const char *edge;       /* endpoint (http://host:port/v1#model, a GGUF path, or the NAME
                               of a model this server serves); required */
    const char *cloud;      /* the same; NULL = everything on the edge */
    const char *policy;     /* hflow_policy_create spec; NULL = "difficulty:6" */
    const char *planner;    /* "edge" (default) or "cloud" */
    const char *prices;     /* price table JSON (hflow_price_table_load); NULL = free */
    const char *planner_template; /* NULL = prompts/planner.txt */
    hflow_budget_limits limits;   /* per query; zeros = no caps */
    int max_steps;          /* 0 = the orchestrator's default */
    int max_tokens;         /* > 0: caps every call (planner, steps, aggregator); 0 = defaults */
    int planner_max_tokens; /* > 0: the planner's cap, overriding max_tokens (a constrained plan of a
                               few steps needs hundreds of tokens); 0 = max_tokens or the default */
    double call_timeout_s;  /* per tier call; 0 = up to the deadline */
    int cascade;            /* 1: hflow_flow_config.cascade (edge first, then keep or escalate on the
                               answer's confidence); needed by confidence:T and confidence-trained
                               routers */
    const char *trace;      /* JSONL file every answered query's trace (flow.h format, with the
                               router's scores, thresholds and budget state) is appended to; NULL = none */
} hflow_serve_hybrid;

typedef struct hflow_serve_options {
    const hflow_serve_model *models; /* copied at start */
    int n_models;
    const char *host;        /* IPv4 address to bind; default "127.0.0.1" */
    int port;                /* 0 = any free port (see hflow_server_port) */
    int n_parallel;          /* engine sessions (slots) per model; default 1 */
    int n_ctx;               /* context per slot; 0 = the engine's default */
    int n_threads;           /* engine threads for models loaded by path; 0 = all */
    const char *api_key;     /* NULL = no auth; copied */
    size_t max_body_bytes;   /* default 8 MiB */
    int max_queue;           /* requests that may wait per model before 503 (0 = none); default 64 */
    double drain_timeout_s;  /* stop waits this long for in-flight work; default 30, <= 0 forever */
    int spec_max_sessions;   /* open speculative sessions at most (429 beyond); default 16 */
    double spec_idle_timeout_s; /* a spec session idle this long expires; default 300 */
    const hflow_serve_hybrid *hybrid; /* optional virtual model (copied at start); with it,
                                         n_models may be 0 */
} hflow_serve_options;

void hflow_serve_options_default(hflow_serve_options *o);

/* Starts serving. On success *out is owned by the caller (free it with
 * hflow_server_stop). Fails with HFLOW_EIO when the address is in use. */
int hflow_server_start(const hflow_serve_options *o, hflow_server **out, hflow_error *err);
/* The bound TCP port (useful with port 0). */
int hflow_server_port(const hflow_server *s);
/* Hot swap: loads `path` as the new version of the served model `name` and
 * makes it current without a restart. New requests and speculative sessions
 * use the new version; open sessions finish on the version they started
 * with, which is freed when its last user goes. HFLOW_ENOTFOUND for an
 * unknown name; on a load error the current version stays. Thread-safe. */
int hflow_server_swap_model(hflow_server *s, const char *name, const char *path, hflow_error *err);
/* Stops accepting, drains in-flight requests, frees everything. NULL is allowed. */
void hflow_server_stop(hflow_server *s);

#ifdef __cplusplus
}
#endif
#endif
