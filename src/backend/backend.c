/* backend.c - PLACEHOLDER for the backend core (defaults, dispatch through the
 * vtable, response ownership) so the orchestrator builds before the backend
 * branch lands. The backend branch owns this file: on a merge conflict take
 * its version. hflow_backend_open knows no endpoint kinds here. */
#include <stdlib.h>
#include <string.h>

#include "hybridflow/backend.h"

void hflow_backend_options_default(hflow_backend_options *o) {
    memset(o, 0, sizeof *o);
    o->connect_timeout_s = 5;
    o->idle_timeout_s = 60;
    o->total_timeout_s = 600;
    o->max_retries = 3;
    o->backoff_base_s = 0.25;
    o->api_key_env = "OPENAI_API_KEY";
    o->n_parallel = 1;
}

void hflow_request_init(hflow_request *r) {
    memset(r, 0, sizeof *r);
    r->temperature = -1.0f;
}

void hflow_response_clear(hflow_response *r) {
    if (!r) return;
    free(r->text);
    memset(r, 0, sizeof *r);
}

int hflow_backend_open(const char *endpoint, const hflow_backend_options *opts, hflow_backend **out,
                       hflow_error *err) {
    (void)opts;
    if (out) *out = NULL;
    return hflow_error_set(err, HFLOW_EUNSUPPORTED, "backend open '%s': backends are not built in yet",
                           endpoint ? endpoint : "");
}

void hflow_backend_free(hflow_backend *b) {
    if (b && b->vt && b->vt->destroy) b->vt->destroy(b);
}

const char *hflow_backend_name(const hflow_backend *b) { return b ? b->name : ""; }
const char *hflow_backend_model(const hflow_backend *b) { return b ? b->model : ""; }

int hflow_backend_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    if (!resp) return hflow_error_set(err, HFLOW_EINVAL, "backend complete: resp is NULL");
    memset(resp, 0, sizeof *resp);
    if (!b || !b->vt || !req) return hflow_error_set(err, HFLOW_EINVAL, "backend complete: NULL argument");
    return b->vt->complete(b, req, resp, err);
}
