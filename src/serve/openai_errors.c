/* openai_errors.c - OpenAI-style error bodies, built with cJSON so messages
 * that quote user input are always escaped correctly. */
#include "serve/openai_errors.h"

#include <cjson/cJSON.h>

#include "hybridflow/error.h"

const char *serve_error_type_for_status(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

char *serve_error_json(int status, const char *type, const char *param, const char *code, const char *message) {
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    if (!e) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(e, "message", message ? message : "");
    cJSON_AddStringToObject(e, "type", type ? type : serve_error_type_for_status(status));
    cJSON_AddItemToObject(e, "param", str_or_null(param));
    cJSON_AddItemToObject(e, "code", str_or_null(code));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

int serve_status_for_hflow_code(int code) {
    switch (code) {
    case HFLOW_EINVAL: case HFLOW_ERANGE: return 400;
    case HFLOW_ENOTFOUND: return 404;
    case HFLOW_EBUDGET: return 429;
    case HFLOW_ESTATE: case HFLOW_ETIMEOUT: return 503;
    default: return 500;
    }
}
