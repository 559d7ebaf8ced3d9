/* transport_completions.c - greedy-only verification through an
 * OpenAI-compatible /v1/completions, for serving engines without our session
 * API (vLLM, SGLang, llama.cpp's server, ours).
 *
 * Each round sends {"prompt":[context..., d_1..d_k], "max_tokens":1,
 * "temperature":0, "echo":true, "logprobs":1, "return_tokens_as_token_ids":true}
 * (the last is vLLM's extension, also ours; servers that ignore it return
 * token strings, mapped back as below). With echo, top_logprobs[j] is
 * the target's top-1 for position j given the tokens before it, so entry
 * n+i (n = context length) is the target's argmax where d_{i+1} stands; the
 * one generated token is the prediction after d_k, i.e. the bonus.
 *
 * Cost, stated plainly: the whole context travels up every round (bytes grow
 * linearly with the output) and a server without a prefix cache re-reads all
 * of it per round, so a round costs O(context) target work instead of O(k).
 * Greedy only: logprobs give no exact sampling distribution to accept against.
 *
 * Servers return token strings, not ids. "token_id:N" (vLLM's
 * return_tokens_as_token_ids form) is read as an id; otherwise the string is
 * matched against the draft token's own piece first (so an accepted token
 * keeps the draft's id), then against the vocabulary (raw text, then piece). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/spec.h"
#include "hybridflow/tokenizer.h"
#include "spec/spec_http.h"

typedef struct {
    hflow_spec_http http;
    const hflow_vocab *vocab;
    int32_t *ctx;
    int32_t n_ctx, cap_ctx;
    int open;
    hflow_strbuf req, resp;
} comp_tr;

static int ctx_push(comp_tr *c, const int32_t *ids, int32_t n) {
    if (c->n_ctx + n > c->cap_ctx) {
        int32_t cap = c->cap_ctx ? c->cap_ctx : 256;
        while (cap < c->n_ctx + n) cap *= 2;
        int32_t *p = realloc(c->ctx, (size_t)cap * sizeof *p);
        if (!p) return HFLOW_ENOMEM;
        c->ctx = p;
        c->cap_ctx = cap;
    }
    memcpy(c->ctx + c->n_ctx, ids, (size_t)n * sizeof *ids);
    c->n_ctx += n;
    return 0;
}

static int comp_open(hflow_spec_transport *t, const int32_t *prompt, int32_t n, const hflow_spec_params *p,
                     hflow_spec_session_info *info, hflow_error *err) {
    comp_tr *c = t->impl;
    if (p && p->temperature > 0)
        return hflow_error_set(err, HFLOW_EUNSUPPORTED,
                               "verification through /v1/completions is greedy only (temperature 0); "
                               "sampling needs the session API");
    if (n < 1) return hflow_error_set(err, HFLOW_EINVAL, "spec: empty prompt");
    c->n_ctx = 0;
    if (ctx_push(c, prompt, n)) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    c->open = 1;
    if (info) {
        memset(info, 0, sizeof *info);
        snprintf(info->session_id, sizeof info->session_id, "completions");
        snprintf(info->model, sizeof info->model, "%s", c->http.model);
    }
    return 0;
}

/* Id of a returned token string; `expect` is preferred when its piece matches. */
static int32_t token_id_of(const comp_tr *c, const char *s, int32_t expect) {
    if (!strncmp(s, "token_id:", 9)) return (int32_t)strtol(s + 9, NULL, 10);
    if (!c->vocab) return -1;
    char piece[256];
    int n;
    if (expect >= 0 && (n = hflow_token_to_piece(c->vocab, expect, 1, piece, (int)sizeof piece - 1)) >= 0 &&
        n < (int)sizeof piece - 1) {
        piece[n] = '\0';
        if (!strcmp(piece, s)) return expect;
    }
    int32_t id = hflow_vocab_find(c->vocab, s);
    if (id >= 0) return id;
    int32_t V = hflow_vocab_size(c->vocab);
    for (int32_t v = 0; v < V; v++) {
        n = hflow_token_to_piece(c->vocab, v, 1, piece, (int)sizeof piece - 1);
        if (n < 0 || n >= (int)sizeof piece - 1) continue;
        piece[n] = '\0';
        if (!strcmp(piece, s)) return v;
    }
    return -1;
}

/* Top-1 token string of top_logprobs[j] (an object {token: logprob}). */
static const char *top1(const cJSON *tops, int32_t j) {
    const cJSON *o = cJSON_GetArrayItem(tops, j);
    const cJSON *best = NULL;
    for (const cJSON *e = cJSON_IsObject(o) ? o->child : NULL; e; e = e->next)
        if (cJSON_IsNumber(e) && (!best || e->valuedouble > best->valuedouble)) best = e;
    return best ? best->string : NULL;
}

static int parse_verdict(comp_tr *c, const int32_t *draft, int32_t k, hflow_spec_verdict *out, hflow_error *err) {
    cJSON *root = cJSON_ParseWithLength(c->resp.data, c->resp.len);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(lp, "tokens");
    const cJSON *tops = cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs");
    int32_t n = c->n_ctx;
    int rc = 0;
    if (!cJSON_IsArray(toks) || !cJSON_IsArray(tops) || cJSON_GetArraySize(toks) < n + k + 1)
        rc = hflow_error_set(err, HFLOW_EFORMAT,
                             "/v1/completions reply lacks echoed logprobs for every prompt token "
                             "(needs echo + logprobs with token-id prompts)");
    out->n_accepted = 0;
    out->next_token = -1;
    for (int32_t i = 0; !rc && i < k; i++) {
        const char *s = top1(tops, n + i);
        int32_t id = s ? token_id_of(c, s, draft[i]) : -1;
        if (id < 0) {
            rc = hflow_error_set(err, HFLOW_EFORMAT, "cannot map the target's top-1 at position %d to a token id", n + i);
        } else if (id != draft[i]) {
            out->next_token = id; /* the target's correction */
            break;
        } else {
            out->n_accepted++;
        }
    }
    if (!rc && out->next_token < 0) { /* all accepted: the generated token is the bonus */
        const cJSON *g = cJSON_GetArrayItem(toks, n + k);
        out->next_token = cJSON_IsString(g) ? token_id_of(c, g->valuestring, -1) : -1;
        if (out->next_token < 0) rc = hflow_error_set(err, HFLOW_EFORMAT, "cannot map the generated token to an id");
    }
    cJSON_Delete(root);
    return rc;
}

static int comp_verify(hflow_spec_transport *t, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q,
                       hflow_spec_verdict *out, double *t_verify_s, int32_t *bytes_up, int32_t *bytes_down,
                       hflow_error *err) {
    comp_tr *c = t->impl;
    if (!c->open) return hflow_error_set(err, HFLOW_ESTATE, "spec transport: no open session");
    if (q) return hflow_error_set(err, HFLOW_EUNSUPPORTED, "/v1/completions verification is greedy only");
    hflow_strbuf *b = &c->req;
    hflow_strbuf_reset(b);
    hflow_strbuf_printf(b, "{\"model\":\"%s\",\"prompt\":[", c->http.model);
    for (int32_t i = 0; i < c->n_ctx; i++) hflow_strbuf_printf(b, "%s%d", i ? "," : "", c->ctx[i]);
    for (int32_t i = 0; i < k; i++) hflow_strbuf_printf(b, ",%d", draft[i]);
    hflow_strbuf_puts(b, "],\"max_tokens\":1,\"temperature\":0,\"echo\":true,\"logprobs\":1,"
                         "\"return_tokens_as_token_ids\":true}");
    if (b->oom) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int rc = hflow_spec_http_call(&c->http, "POST", "/completions", b->data, &c->resp, bytes_up, bytes_down, err);
    if (!rc) rc = parse_verdict(c, draft, k, out, err);
    if (rc) return rc;
    if (ctx_push(c, draft, out->n_accepted) || ctx_push(c, &out->next_token, 1))
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if (t_verify_s) *t_verify_s = 0; /* the API reports no forward time */
    return 0;
}

static void comp_close(hflow_spec_transport *t) { ((comp_tr *)t->impl)->open = 0; }

static void comp_destroy(hflow_spec_transport *t) {
    comp_tr *c = t->impl;
    hflow_spec_http_free(&c->http);
    hflow_strbuf_free(&c->req);
    hflow_strbuf_free(&c->resp);
    free(c->ctx);
    free(c);
    free(t);
}

static const hflow_spec_transport_vtable comp_vt = {"completions", comp_open, comp_verify, comp_close, comp_destroy, NULL};

int hflow_spec_transport_completions(const char *endpoint, const hflow_vocab *vocab, double timeout_s,
                                     hflow_spec_transport **out, hflow_error *err) {
    *out = NULL;
    hflow_spec_transport *t = calloc(1, sizeof *t);
    comp_tr *c = calloc(1, sizeof *c);
    if (!t || !c) {
        free(t);
        free(c);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    int rc = hflow_spec_http_init(&c->http, endpoint, timeout_s, err);
    if (!rc && !c->http.model[0])
        rc = hflow_error_set(err, HFLOW_EINVAL, "spec endpoint '%s' names no model (add #MODEL)", endpoint);
    if (rc) {
        hflow_spec_http_free(&c->http);
        free(c);
        free(t);
        return rc;
    }
    c->vocab = vocab;
    hflow_strbuf_init(&c->req);
    hflow_strbuf_init(&c->resp);
    t->vt = &comp_vt;
    t->impl = c;
    *out = t;
    return 0;
}
