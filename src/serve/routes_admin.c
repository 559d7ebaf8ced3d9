/* routes_admin.c - POST /admin/models/{name} {"path": "NEW.gguf"}: hot swap.
 * Loads the new version while the old one keeps serving, then makes it
 * current: new requests and spec sessions get it, open sessions finish on
 * theirs (model_registry.h). Guarded by the API key when one is set. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/openai_errors.h"
#include "serve/server_ctx.h"

#define ADMIN_PREFIX "/admin/models/"

int hflow_server_swap_model(hflow_server *s, const char *name, const char *path, hflow_error *err) {
    return serve_registry_swap(&s->reg, name, path, err);
}

void serve_route_admin_model(void *app, hs_request *req) {
    hflow_server *srv = app;
    const char *name = req->path + strlen(ADMIN_PREFIX);
    cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "path");
    if (!cJSON_IsObject(root) || !cJSON_IsString(p) || !*p->valuestring || cJSON_GetArraySize(root) != 1) {
        cJSON_Delete(root);
        hs_reply_error(req, 400, NULL, "path", NULL, "hot swap wants {\"path\": \"NEW.gguf\"}");
        return;
    }
    hflow_error err = {0};
    int rc = hflow_server_swap_model(srv, name, p->valuestring, &err);
    cJSON_Delete(root);
    if (rc) {
        hs_reply_error(req, rc == HFLOW_ENOTFOUND ? 404 : 400, NULL, NULL, NULL, "%s", err.message);
        return;
    }
    serve_model *m = serve_registry_acquire(&srv->reg, name);
    if (!m) {
        hs_reply_error(req, 404, NULL, NULL, NULL, "model '%s' vanished", name);
        return;
    }
    char body[512];
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"version\":\"%s\",\"tokenizer_fp\":\"%016llx\",\"backbone_fp\":\"%016llx\"}",
             m->name, m->version, (unsigned long long)m->tokenizer_fp, (unsigned long long)m->backbone_fp);
    serve_model_release(&srv->reg, m);
    hs_reply_json(req, 200, body);
}
