/* routes_embeddings.c - POST /v1/embeddings (OpenAI's shape):
 *   {"model":"m","input":"text" | ["a","b"] | [ids] | [[ids],[ids]],
 *    "encoding_format":"float"|"base64"}
 *   -> {"object":"list","data":[{"object":"embedding","index":0,"embedding":[...]}],
 *       "model":"m","usage":{"prompt_tokens":N,"total_tokens":N}}
 * Each input is embedded with hflow_embed_tokens (mean-pooled final hidden
 * state, L2-normalised) on one slot of the model, acquired once for the
 * whole batch. Texts are tokenized as hflow_embed does (BOS per the
 * vocabulary, special-token text not parsed), so the server and the library
 * give identical vectors. An input longer than the slot's context is a 400
 * (context_length_exceeded), as OpenAI answers; nothing is truncated. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "hybridflow/embed.h"
#include "serve/openai_errors.h"
#include "serve/request_parse.h"
#include "serve/server_ctx.h"

typedef struct embed_job {
    hflow_server *srv;
    hs_request *req;
    serve_embeddings_request rq;
    serve_model *sm;
    serve_slot *slot;
    int32_t **ids;  /* per input: the tokens to embed (owned) */
    int *n_ids;
    long long n_tokens;
    float *vec;     /* [n_inputs][n_embd] */
} embed_job;

static void job_free(embed_job *j) {
    if (j->slot) serve_slots_release(j->sm->slots, j->slot);
    if (j->sm) serve_model_release(&j->srv->reg, j->sm);
    for (int i = 0; j->ids && i < j->rq.n_inputs; i++) free(j->ids[i]);
    free(j->ids);
    free(j->n_ids);
    free(j->vec);
    serve_embeddings_request_free(&j->rq);
}

/* Tokens of every input, checked against the vocabulary and the context; replies 400 on failure. */
static int build_inputs(embed_job *j) {
    const hflow_vocab *v = hflow_model_vocab(j->sm->model);
    int32_t n_ctx = serve_slots_n_ctx(j->sm->slots), n_vocab = hflow_vocab_size(v);
    j->ids = calloc((size_t)j->rq.n_inputs, sizeof *j->ids);
    j->n_ids = calloc((size_t)j->rq.n_inputs, sizeof *j->n_ids);
    if (!j->ids || !j->n_ids) {
        hs_reply_error(j->req, 500, NULL, NULL, NULL, "out of memory");
        return -1;
    }
    for (int i = 0; i < j->rq.n_inputs; i++) {
        serve_embed_input *in = &j->rq.inputs[i];
        hflow_error err;
        if (in->text) {
            if (hflow_tokenize(v, in->text, strlen(in->text), 1, 0, &j->ids[i], &j->n_ids[i], &err)) {
                hs_reply_error(j->req, 400, NULL, "input", NULL, "input[%d]: %s", i, err.message);
                return -1;
            }
        } else {
            j->ids[i] = in->ids;
            j->n_ids[i] = in->n_ids;
            in->ids = NULL; /* moved */
            for (int k = 0; k < j->n_ids[i]; k++)
                if (j->ids[i][k] >= n_vocab) {
                    hs_reply_error(j->req, 400, NULL, "input", "invalid_token_id",
                                   "input[%d][%d] = %d is not a token id of this model", i, k, j->ids[i][k]);
                    return -1;
                }
        }
        if (j->n_ids[i] < 1) {
            hs_reply_error(j->req, 400, NULL, "input", NULL, "input[%d] has no tokens", i);
            return -1;
        }
        if (j->n_ids[i] > n_ctx) {
            hs_reply_error(j->req, 400, NULL, "input", "context_length_exceeded",
                           "This model's maximum context length is %d tokens, however input[%d] has %d tokens", n_ctx,
                           i, j->n_ids[i]);
            return -1;
        }
        j->n_tokens += j->n_ids[i];
    }
    return 0;
}

static int client_gone(void *req) { return hs_client_gone(req); }

/* Embeds every input on the slot; replies with an error on failure. */
static int run(embed_job *j, int dim) {
    j->vec = malloc((size_t)j->rq.n_inputs * (size_t)dim * sizeof *j->vec);
    if (!j->vec) {
        hs_reply_error(j->req, 500, NULL, NULL, NULL, "out of memory");
        return -1;
    }
    int rc = serve_slots_acquire(j->sm->slots, NULL, 0, client_gone, j->req, &j->slot);
    if (rc) {
        if (rc == HFLOW_ECANCELLED) hs_reply_error(j->req, 503, NULL, NULL, "cancelled", "the client went away while queued");
        else hs_reply_error(j->req, 503, NULL, NULL, "queue_full", "all %d slots are busy and the queue is full; retry later",
                            serve_slots_count(j->sm->slots));
        return -1;
    }
    for (int i = 0; i < j->rq.n_inputs; i++) {
        hflow_error err;
        if (hs_client_gone(j->req)) { /* nobody will read the answer: stop early */
            hs_reply_error(j->req, 503, NULL, NULL, "cancelled", "the client went away");
            return -1;
        }
        rc = hflow_embed_tokens(j->slot->session, j->ids[i], j->n_ids[i], NULL, j->vec + (size_t)i * dim, NULL, &err);
        if (rc) {
            hs_reply_error(j->req, serve_status_for_hflow_code(rc), NULL, "input", NULL, "input[%d]: %s", i, err.message);
            return -1;
        }
    }
    return 0;
}

static cJSON *embedding_json(const float *v, int dim, int base64) {
    if (base64) {
        /* OpenAI's base64 is the little-endian float32 bytes; this engine runs on little-endian hosts. */
        char *b = hflow_base64_encode(v, (size_t)dim * sizeof *v);
        cJSON *s = b ? cJSON_CreateString(b) : NULL;
        free(b);
        return s;
    }
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < dim; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[k]));
    return a;
}

static void reply(embed_job *j, int dim) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (int i = 0; i < j->rq.n_inputs; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "object", "embedding");
        cJSON_AddNumberToObject(e, "index", i);
        cJSON_AddItemToObject(e, "embedding", embedding_json(j->vec + (size_t)i * dim, dim, j->rq.base64));
        cJSON_AddItemToArray(data, e);
    }
    cJSON_AddStringToObject(o, "model", j->sm->name);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)j->n_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)j->n_tokens);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (json) hs_reply_json(j->req, 200, json);
    else hs_reply_error(j->req, 500, NULL, NULL, NULL, "out of memory");
    free(json);
}

void serve_route_embeddings(void *app, hs_request *req) {
    embed_job j = {.srv = app, .req = req};
    serve_parse_error pe;
    if (serve_parse_embeddings(req->body, req->body_len, &j.rq, &pe)) {
        hs_reply_error(req, 400, NULL, pe.param[0] ? pe.param : NULL, NULL, "%s", pe.message);
        job_free(&j);
        return;
    }
    if (!(j.sm = serve_find_model_or_404(j.srv, req, j.rq.model))) {
        job_free(&j);
        return;
    }
    int dim = hflow_model_get_info(j.sm->model)->n_embd;
    if (j.rq.dimensions && j.rq.dimensions != dim) {
        hs_reply_error(req, 400, NULL, "dimensions", NULL, "this model's embeddings have %d dimensions, not %lld", dim,
                       j.rq.dimensions);
    } else if (!build_inputs(&j) && !run(&j, dim)) {
        reply(&j, dim);
    }
    job_free(&j);
}
