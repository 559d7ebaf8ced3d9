/* openai_request.c - JSON request bodies for OpenAI-compatible servers.
 * Only the fields the caller set are sent, so each server applies its own
 * defaults for the rest. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "backend/openai_wire.h"

/* Floats travel as the shortest decimal that rounds back to the float, so
 * 0.7f is sent as 0.7 rather than 0.699999988079071. */
static double float_for_json(float f) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

static int add_messages(cJSON *root, const hflow_request *req) {
    cJSON *arr = cJSON_AddArrayToObject(root, "messages");
    if (!arr) return -1;
    for (int i = 0; i < req->n_messages; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m) return -1;
        cJSON_AddItemToArray(arr, m);
        if (!cJSON_AddStringToObject(m, "role", req->messages[i].role) ||
            !cJSON_AddStringToObject(m, "content", req->messages[i].content))
            return -1;
    }
    return 0;
}

static int add_sampling(cJSON *root, const hflow_request *req) {
    if (req->max_tokens > 0 && !cJSON_AddNumberToObject(root, "max_tokens", req->max_tokens)) return -1;
    if (req->temperature >= 0 && !cJSON_AddNumberToObject(root, "temperature", float_for_json(req->temperature)))
        return -1;
    if (req->top_p > 0 && !cJSON_AddNumberToObject(root, "top_p", float_for_json(req->top_p))) return -1;
    if (req->has_seed) {
        /* Raw text: a double would lose seeds above 2^53. */
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, req->seed);
        if (!cJSON_AddRawToObject(root, "seed", buf)) return -1;
    }
    if (req->n_stop > 0) {
        cJSON *arr = cJSON_AddArrayToObject(root, "stop");
        if (!arr) return -1;
        for (int i = 0; i < req->n_stop; i++) {
            cJSON *s = cJSON_CreateString(req->stop[i] ? req->stop[i] : "");
            if (!s) return -1;
            cJSON_AddItemToArray(arr, s);
        }
    }
    return 0;
}

char *hflow_openai_request_body(const hflow_request *req, const char *model, int stream, hflow_error *err) {
    return hflow_openai_request_body_ext(req, model, stream, 0, err);
}

char *hflow_openai_request_body_ext(const hflow_request *req, const char *model, int stream, int send_grammar,
                                    hflow_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) goto oom;
    if (model && *model && !cJSON_AddStringToObject(root, "model", model)) goto oom;
    if (req->messages) {
        if (add_messages(root, req) != 0) goto oom;
    } else if (!cJSON_AddStringToObject(root, "prompt", req->prompt)) {
        goto oom;
    }
    if (add_sampling(root, req) != 0) goto oom;
    if (req->response_format && *req->response_format) {
        cJSON *rf = cJSON_Parse(req->response_format);
        if (!rf || !cJSON_IsObject(rf)) {
            cJSON_Delete(rf);
            cJSON_Delete(root);
            hflow_error_set(err, HFLOW_EINVAL, "response_format is not a JSON object");
            return NULL;
        }
        cJSON_AddItemToObject(root, "response_format", rf);
    }
    if (req->want_confidence &&
        !(req->messages ? cJSON_AddTrueToObject(root, "logprobs") : cJSON_AddNumberToObject(root, "logprobs", 0)))
        goto oom;
    if (send_grammar && req->grammar && *req->grammar && !cJSON_AddStringToObject(root, "grammar", req->grammar))
        goto oom;
    if (stream) {
        cJSON *so = NULL;
        if (!cJSON_AddTrueToObject(root, "stream") || !(so = cJSON_AddObjectToObject(root, "stream_options")) ||
            !cJSON_AddTrueToObject(so, "include_usage"))
            goto oom;
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!out) hflow_error_set(err, HFLOW_ENOMEM, "out of memory building the request body");
    return out;
oom:
    cJSON_Delete(root);
    hflow_error_set(err, HFLOW_ENOMEM, "out of memory building the request body");
    return NULL;
}
