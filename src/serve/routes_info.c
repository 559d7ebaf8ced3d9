/* routes_info.c - GET /health, GET /v1/models, GET /metrics. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "base/strbuf.h"
#include "serve/server_ctx.h"

void serve_route_health(void *app, hs_request *req) {
    (void)app;
    hs_reply_json(req, 200, "{\"status\":\"ok\"}");
}

void serve_route_models(void *app, hs_request *req) {
    hflow_server *s = app;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (int i = 0; i < s->reg.n; i++) {
        serve_model *m = serve_registry_acquire_at(&s->reg, i);
        if (!m) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", m->name);
        cJSON_AddStringToObject(e, "object", "model");
        cJSON_AddNumberToObject(e, "created", (double)m->created);
        cJSON_AddStringToObject(e, "owned_by", "hybridflow");
        cJSON_AddNumberToObject(e, "n_ctx", serve_slots_n_ctx(m->slots));
        cJSON_AddNumberToObject(e, "n_parallel", serve_slots_count(m->slots));
        cJSON_AddStringToObject(e, "version", m->version);
        serve_model_release(&s->reg, m);
        cJSON_AddItemToArray(data, e);
    }
    serve_hybrid *h = serve_get_hybrid(s);
    if (h) cJSON_AddItemToArray(data, serve_hybrid_model_entry(h));
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (json) hs_reply_json(req, 200, json);
    free(json);
}

void serve_route_metrics(void *app, hs_request *req) {
    hflow_server *s = app;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    serve_metrics_render(&s->metrics, &b);
    spec_table_render_metrics(s->spec, &b);
    if (b.oom) hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
    else hs_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    hflow_strbuf_free(&b);
}

serve_model *serve_find_model_or_404(hflow_server *s, hs_request *req, const char *name) {
    serve_model *m = serve_registry_acquire(&s->reg, name);
    if (!m) {
        if (name) hs_reply_error(req, 404, NULL, "model", "model_not_found", "The model '%s' does not exist", name);
        else hs_reply_error(req, 400, NULL, "model", NULL, "'model' is required when several models are served");
    }
    return m;
}
