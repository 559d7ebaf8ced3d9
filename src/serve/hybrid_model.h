/* hybrid_model.h - the server's virtual model "hybridflow": a chat request
 * naming it runs the orchestrator (include/hybridflow/flow.h) over the
 * configured edge and cloud endpoints and is answered as an ordinary chat
 * completion with a "hybridflow" extension field (per-tier usage, cost,
 * plan shape, fallbacks). docs/SERVER.md, "The virtual model".
 *
 * Ownership: serve_hybrid_create copies the config and owns the backends,
 * policy, price table and orchestrator it opens; serve_hybrid_free releases
 * them (after every request using it has finished). */
#ifndef HFLOW_SERVE_HYBRID_MODEL_H
#define HFLOW_SERVE_HYBRID_MODEL_H

#include <cjson/cJSON.h>

#include "hybridflow/serve.h"
#include "serve/http_server.h"
#include "serve/model_registry.h"
#include "serve/request_parse.h"

typedef struct serve_hybrid serve_hybrid;

/* Opens the tiers. An endpoint equal to the name of a served model becomes
 * self_base + "#NAME" (this server over loopback; api_key, when set, is sent
 * as a bearer header). Fails with a message naming the bad setting. */
int serve_hybrid_create(const hflow_serve_hybrid *cfg, const serve_registry *reg, const char *self_base,
                        const char *api_key, serve_hybrid **out, hflow_error *err);
void serve_hybrid_free(serve_hybrid *h);
const char *serve_hybrid_name(const serve_hybrid *h);
/* The /v1/models entry (caller adds it to the list). */
cJSON *serve_hybrid_model_entry(const serve_hybrid *h);

/* Answers a validated chat request for the virtual model (JSON or SSE).
 * Takes ownership of *rq (it is moved out and freed). */
void serve_hybrid_chat(hflow_server *srv, serve_hybrid *h, hs_request *req, serve_gen_request *rq);

/* The "hybridflow" extension object for a finished query (exposed for tests
 * and other front ends); NULL when out of memory. */
cJSON *serve_hybrid_extension(const serve_hybrid *h, const hflow_flow_result *r);

#endif
