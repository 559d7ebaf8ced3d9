/* routes_tokenize.c - POST /tokenize and POST /detokenize (llama.cpp's shapes):
 *   {"content":"text","add_special":true,"with_pieces":false} -> {"tokens":[ids]}
 *     (with_pieces: {"tokens":[{"id":1,"piece":"..."}]})
 *   {"tokens":[ids]} -> {"content":"text"}
 * "model" is optional when one model is served. Special tokens in the text are
 * not parsed (plain text in, plain text out), so the two round-trip. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "serve/openai_errors.h"
#include "serve/openai_format.h"
#include "serve/request_parse.h"
#include "serve/server_ctx.h"

static void reply_cjson(hs_request *req, cJSON *o) {
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (json) hs_reply_json(req, 200, json);
    else hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
    free(json);
}

void serve_route_tokenize(void *app, hs_request *req) {
    serve_tokenize_request r;
    serve_parse_error pe;
    if (serve_parse_tokenize(req->body, req->body_len, &r, &pe)) {
        hs_reply_error(req, 400, NULL, pe.param[0] ? pe.param : NULL, NULL, "%s", pe.message);
        serve_tokenize_request_free(&r);
        return;
    }
    serve_model *m = serve_find_model_or_404(app, req, r.model);
    if (!m) {
        serve_tokenize_request_free(&r);
        return;
    }
    const hflow_vocab *v = hflow_model_vocab(m->model);
    int32_t *ids = NULL;
    int n = 0;
    hflow_error err;
    int rc = hflow_tokenize(v, r.content, strlen(r.content), r.add_special, 0, &ids, &n, &err);
    if (rc) {
        hs_reply_error(req, serve_status_for_hflow_code(rc), NULL, "content", NULL, "%s", err.message);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "tokens");
        for (int i = 0; i < n; i++) {
            if (!r.with_pieces) {
                cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
                continue;
            }
            char buf[256];
            int k = hflow_token_to_piece(v, ids[i], 1, buf, (int)sizeof buf - 1);
            buf[k >= 0 && k < (int)sizeof buf ? k : 0] = '\0';
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "id", ids[i]);
            cJSON_AddItemToObject(e, "piece", serve_json_utf8_string(buf, strlen(buf)));
            cJSON_AddItemToArray(arr, e);
        }
        reply_cjson(req, o);
    }
    free(ids);
    serve_model_release(&((hflow_server *)app)->reg, m);
    serve_tokenize_request_free(&r);
}

void serve_route_detokenize(void *app, hs_request *req) {
    serve_detokenize_request r;
    serve_parse_error pe;
    if (serve_parse_detokenize(req->body, req->body_len, &r, &pe)) {
        hs_reply_error(req, 400, NULL, pe.param[0] ? pe.param : NULL, NULL, "%s", pe.message);
        serve_detokenize_request_free(&r);
        return;
    }
    serve_model *m = serve_find_model_or_404(app, req, r.model);
    if (!m) {
        serve_detokenize_request_free(&r);
        return;
    }
    const hflow_vocab *v = hflow_model_vocab(m->model);
    for (int i = 0; i < r.n_tokens; i++)
        if (r.tokens[i] >= hflow_vocab_size(v)) {
            hs_reply_error(req, 400, NULL, "tokens", "invalid_token_id", "tokens[%d] = %d is not a token id", i,
                           r.tokens[i]);
            serve_model_release(&((hflow_server *)app)->reg, m);
            serve_detokenize_request_free(&r);
            return;
        }
    char *text = hflow_detokenize(v, r.tokens, r.n_tokens, 0);
    if (!text) {
        hs_reply_error(req, 500, NULL, NULL, NULL, "detokenization failed");
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "content", serve_json_utf8_string(text, strlen(text)));
        reply_cjson(req, o);
    }
    free(text);
    serve_model_release(&((hflow_server *)app)->reg, m);
    serve_detokenize_request_free(&r);
}
