/* routes_openai.c - POST /v1/chat/completions and POST /v1/completions.
 *
 * Flow: validate -> find model -> build the prompt tokens -> acquire a slot
 * (in the connection thread, so a full queue can still answer 503) ->
 * generate with hflow_generate, either inline (JSON reply) or on a spawned
 * producer thread writing SSE chunks (the connection thread streams them).
 * A streaming client that disconnects sets the stream's cancel flag, which
 * hflow_generate polls between tokens, so its slot is released at once; a
 * non-streamed generation checks its socket for a hang-up at every token.
 * An extension field "grammar" names a built-in constraint (grammar.h) that
 * masks the logits through the engine's hook (docs/SERVER.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "hybridflow/grammar.h"
#include "serve/chat_prompt.h"
#include "serve/openai_errors.h"
#include "serve/openai_format.h"
#include "serve/prompt_logprobs.h"
#include "serve/request_parse.h"
#include "serve/server_ctx.h"

typedef struct gen_job {
    hflow_server *srv;
    serve_model *sm;
    serve_gen_request rq;
    int32_t *prompt;
    int n_prompt;
    char *echo_text;       /* completion echo: the prompt's text */
    serve_slot *slot;
    hs_stream *st;         /* NULL when not streaming */
    hs_request *req;       /* non-streamed: the request, to notice a client that left */
    volatile int no_cancel;
    char id[48];
    serve_reply_head head;
    double t_start, t_first;
    hflow_strbuf text;     /* non-streamed: the answer so far */
    cJSON *logprobs;       /* non-streamed: accumulated logprobs */
    int sent_first;        /* streamed: role delta sent */
    size_t text_off;       /* bytes of answer so far (logprobs text_offset) */
    hflow_generate_stats stats;
    int32_t echo_reused;   /* echo + logprobs: prompt tokens whose entries came from the slot's cache */
    int echo_scored;       /* echo + logprobs: the prompt was evaluated for its logprobs */
    hflow_error err;
    int rc;
} gen_job;

static void job_free(gen_job *j) {
    if (!j) return;
    if (j->slot) serve_slots_release(j->sm->slots, j->slot);
    if (j->sm) serve_model_release(&j->srv->reg, j->sm);
    serve_gen_request_free(&j->rq);
    free(j->prompt);
    free(j->echo_text);
    hflow_strbuf_free(&j->text);
    cJSON_Delete(j->logprobs);
    hs_stream_unref(j->st);
    free(j);
}

static int want_logprobs(const gen_job *j) {
    return j->rq.kind == SERVE_CHAT ? j->rq.logprobs : j->rq.logprobs >= 0;
}

/* ---- prompt ---- */

static int tokenize_text(gen_job *j, const char *text, int parse_special) {
    return hflow_tokenize(hflow_model_vocab(j->sm->model), text, strlen(text), 1, parse_special, &j->prompt,
                          &j->n_prompt, &j->err);
}

/* Fills j->prompt or replies 400. */
static int build_prompt(gen_job *j, hs_request *req) {
    const hflow_vocab *v = hflow_model_vocab(j->sm->model);
    int rc = 0;
    for (int i = 0; i < j->rq.n_logit_bias; i++)
        if (j->rq.logit_bias[i].id >= hflow_vocab_size(v)) {
            hs_reply_error(req, 400, NULL, "logit_bias", "invalid_token_id",
                           "logit_bias key %d is not a token id (vocabulary size %d)", j->rq.logit_bias[i].id,
                           (int)hflow_vocab_size(v));
            return -1;
        }
    if (j->rq.kind == SERVE_CHAT) {
        char *text = NULL;
        rc = serve_chat_prompt(j->sm->model, j->rq.messages, j->rq.n_messages, &text, &j->err);
        if (rc == HFLOW_EINVAL) {
            hs_reply_error(req, 400, NULL, "messages", NULL, "%s", j->err.message);
            return -1;
        }
        if (!rc) rc = tokenize_text(j, text, 1);
        free(text);
    } else if (j->rq.prompt) {
        rc = tokenize_text(j, j->rq.prompt, 0);
        if (!rc && j->rq.echo && !(j->echo_text = strdup(j->rq.prompt))) rc = HFLOW_ENOMEM;
    } else {
        int32_t n_vocab = hflow_vocab_size(v);
        for (int i = 0; i < j->rq.n_prompt_ids; i++)
            if (j->rq.prompt_ids[i] >= n_vocab) {
                hs_reply_error(req, 400, NULL, "prompt", "invalid_token_id",
                               "prompt[%d] = %d is not a token id (vocabulary size %d)", i, j->rq.prompt_ids[i],
                               (int)n_vocab);
                return -1;
            }
        j->prompt = j->rq.prompt_ids;
        j->n_prompt = j->rq.n_prompt_ids;
        j->rq.prompt_ids = NULL;
        j->rq.n_prompt_ids = 0;
        if (j->rq.echo && !(j->echo_text = hflow_detokenize(v, j->prompt, j->n_prompt, 0))) rc = HFLOW_ENOMEM;
    }
    if (rc) {
        hs_reply_error(req, serve_status_for_hflow_code(rc), NULL, NULL, NULL, "cannot build the prompt: %s",
                       j->err.message);
        return -1;
    }
    int32_t n_ctx = serve_slots_n_ctx(j->sm->slots);
    if (j->n_prompt == 0 || j->n_prompt >= n_ctx) {
        hs_reply_error(req, 400, NULL, j->rq.kind == SERVE_CHAT ? "messages" : "prompt", "context_length_exceeded",
                       "the prompt has %d tokens; this model's context holds %d", j->n_prompt, (int)n_ctx);
        return -1;
    }
    return 0;
}

/* ---- generation ---- */

static int stream_event(gen_job *j, char *json) {
    if (!json) return -1;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_printf(&b, "data: %s\n\n", json);
    free(json);
    int rc = b.oom ? -1 : hs_stream_write(j->st, b.data, b.len);
    hflow_strbuf_free(&b);
    return rc;
}

static int on_token(void *user, int32_t token, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)token;
    gen_job *j = user;
    if (j->t_first == 0) j->t_first = hflow_now_s();
    const hflow_vocab *v = hflow_model_vocab(j->sm->model);
    int lps = want_logprobs(j) && lp;
    if (!j->st) {
        if (hs_client_gone(j->req)) return 1; /* nobody will read the answer: free the slot */
        if (lps) serve_logprobs_add(j->logprobs, j->rq.kind, v, lp, j->rq.top_logprobs, j->text_off, j->rq.ids_as_tokens);
        hflow_strbuf_append(&j->text, text, len);
        j->text_off += len;
        return 0;
    }
    if (!len && !lps) return 0;
    cJSON *one = NULL;
    if (lps) {
        one = serve_logprobs_new(j->rq.kind);
        serve_logprobs_add(one, j->rq.kind, v, lp, j->rq.top_logprobs, j->text_off, j->rq.ids_as_tokens);
    }
    j->text_off += len;
    int first = !j->sent_first;
    j->sent_first = 1;
    return stream_event(j, serve_format_chunk(&j->head, text, len, one, NULL, first)) ? 1 : 0;
}

/* The request's named constraint (already validated by the parser) over
 * this model's token texts, which are built once per model version. */
static int make_grammar(gen_job *j, hflow_grammar **g) {
    const hflow_token_texts *texts = NULL;
    int rc = serve_model_token_texts(j->sm, &texts, &j->err);
    return rc ? rc : hflow_grammar_create_named(j->rq.grammar, texts, g, &j->err);
}

/* Choice j->head.index: n > 1 samples choice i with seed + i, so a seeded
 * request repeats every choice. The slot stays held (release_slot). */
static void run_generation(gen_job *j) {
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = j->rq.temperature;
    sp.top_p = j->rq.top_p;
    sp.top_k = j->rq.top_k;
    sp.min_p = j->rq.min_p;
    sp.repeat_penalty = j->rq.repeat_penalty;
    sp.presence_penalty = j->rq.presence_penalty;
    sp.frequency_penalty = j->rq.frequency_penalty;
    sp.logit_bias = j->rq.logit_bias;
    sp.n_logit_bias = j->rq.n_logit_bias;
    sp.seed = (j->rq.has_seed ? j->rq.seed : serve_next_id(j->srv) * 0x9E3779B97F4A7C15ull) + (uint64_t)j->head.index;
    sp.n_top_logprobs = want_logprobs(j) ? j->rq.top_logprobs : 0;
    j->stats.n_prompt = j->n_prompt;
    j->stats.n_prompt_reused = j->echo_reused;
    snprintf(j->stats.finish_reason, sizeof j->stats.finish_reason, "length");
    if (j->rq.max_tokens == 0) return; /* completion echo/scoring: nothing to generate */
    hflow_grammar *g = NULL;
    hflow_logits_hook hook;
    if (j->rq.grammar && (j->rc = make_grammar(j, &g))) return;
    hflow_sampler *smp = hflow_sampler_create(&sp, hflow_model_get_info(j->sm->model)->n_vocab);
    if (!smp) {
        hflow_grammar_free(g);
        j->rc = hflow_error_set(&j->err, HFLOW_ENOMEM, "cannot create the sampler");
        return;
    }
    hflow_generate_params gp = {.max_tokens = j->rq.max_tokens > 0 ? j->rq.max_tokens : 0,
                                .stop = (const char *const *)j->rq.stop, .n_stop = j->rq.n_stop,
                                .ignore_eos = j->rq.ignore_eos,
                                .want_logprobs = want_logprobs(j),
                                .cancel = j->st ? hs_stream_cancel_flag(j->st) : &j->no_cancel};
    if (g) {
        hook = hflow_grammar_hook(g);
        gp.hook = &hook;
    }
    j->rc = hflow_generate(j->slot->session, smp, j->prompt, j->n_prompt, &gp, on_token, j, &j->stats, &j->err);
    hflow_sampler_free(smp);
    hflow_grammar_free(g);
    if (j->echo_scored) j->stats.n_prompt_reused = j->echo_reused; /* generation only re-read the last token */
    serve_metrics_generation(&j->srv->metrics, j->stats.n_prompt, j->stats.n_prompt_reused, j->stats.n_generated,
                             j->t_first > 0 ? j->t_first - j->t_start : 0);
}

/* echo + logprobs (completions): the prompt's own tokens with their logprobs,
 * which OpenAI's legacy format puts first in the choice's logprobs. */
static cJSON *echo_logprobs(gen_job *j) {
    if (!j->echo_text || j->rq.logprobs < 0) return NULL;
    cJSON *lps = serve_logprobs_new(SERVE_COMPLETION);
    if (!lps) {
        j->rc = hflow_error_set(&j->err, HFLOW_ENOMEM, "out of memory");
        return NULL;
    }
    j->rc = serve_prompt_logprobs(j->slot->session, &j->slot->prompt_lp, j->prompt, j->n_prompt, j->rq.top_logprobs,
                                  j->rq.ids_as_tokens, lps, &j->echo_reused, &j->err);
    if (j->rc) {
        cJSON_Delete(lps);
        return NULL;
    }
    j->echo_scored = 1;
    return lps;
}

/* Moves the entries of `from` to the end of `to` (both completion logprobs objects). */
static void logprobs_append(cJSON *to, cJSON *from) {
    static const char *const keys[] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
    for (int k = 0; k < 4; k++) {
        cJSON *src = cJSON_GetObjectItem(from, keys[k]), *dst = cJSON_GetObjectItem(to, keys[k]);
        while (src && src->child) cJSON_AddItemToArray(dst, cJSON_DetachItemViaPointer(src, src->child));
    }
}

static void release_slot(gen_job *j) {
    if (j->slot) serve_slots_release(j->sm->slots, j->slot);
    j->slot = NULL;
}

/* Usage over the choices so far: the prompt counts once (as OpenAI bills n > 1),
 * completions add up. */
static void usage_add(serve_usage *u, const gen_job *j) {
    if (j->head.index == 0) {
        u->prompt_tokens = j->stats.n_prompt;
        u->cached_tokens = j->stats.n_prompt_reused;
    }
    u->completion_tokens += j->stats.n_generated;
}

/* Streams choice j->head.index: its echo, its tokens, its finish chunk. */
static void stream_choice(gen_job *j) {
    j->sent_first = 0;
    j->text_off = 0;
    memset(&j->stats, 0, sizeof j->stats);
    if (j->echo_text) {
        cJSON *lps = echo_logprobs(j);
        j->sent_first = 1;
        j->text_off = strlen(j->echo_text);
        if (!j->rc) stream_event(j, serve_format_chunk(&j->head, j->echo_text, strlen(j->echo_text), lps, NULL, 1));
        else cJSON_Delete(lps);
    }
    if (!j->rc) run_generation(j);
    if (!j->rc) stream_event(j, serve_format_chunk(&j->head, "", 0, NULL, j->stats.finish_reason, !j->sent_first));
}

static void stream_main(void *p) {
    gen_job *j = p;
    serve_usage u = {0, 0, 0};
    for (j->head.index = 0; j->head.index < j->rq.n && !j->rc; j->head.index++) {
        stream_choice(j);
        usage_add(&u, j);
    }
    release_slot(j);
    if (j->rc && j->rc != HFLOW_ECANCELLED) {
        int status = serve_status_for_hflow_code(j->rc);
        stream_event(j, serve_error_json(status, NULL, NULL, NULL, j->err.message));
    } else if (!j->rc && j->rq.include_usage) {
        stream_event(j, serve_format_usage_chunk(&j->head, &u));
    }
    hs_stream_write(j->st, "data: [DONE]\n\n", 14);
    hs_stream_finish(j->st);
    job_free(j);
}

/* Generates choice j->head.index whole; NULL when generation failed (j->rc). */
static cJSON *whole_choice(gen_job *j) {
    hflow_strbuf_reset(&j->text);
    j->text_off = 0;
    memset(&j->stats, 0, sizeof j->stats);
    if (want_logprobs(j) && !(j->logprobs = serve_logprobs_new(j->rq.kind))) {
        j->rc = hflow_error_set(&j->err, HFLOW_ENOMEM, "out of memory");
        return NULL;
    }
    if (j->echo_text) {
        cJSON *lps = echo_logprobs(j);
        if (lps && j->logprobs) logprobs_append(lps, j->logprobs);
        if (lps) {
            cJSON_Delete(j->logprobs);
            j->logprobs = lps;
        }
        hflow_strbuf_puts(&j->text, j->echo_text);
        j->text_off = j->text.len;
    }
    if (!j->rc) run_generation(j);
    if (j->rc) return NULL;
    cJSON *c = serve_format_choice(&j->head, j->text.data ? j->text.data : "", j->text.len, j->logprobs,
                                   j->stats.finish_reason);
    j->logprobs = NULL; /* consumed */
    return c;
}

static void reply_whole(gen_job *j, hs_request *req) {
    j->req = req;
    serve_usage u = {0, 0, 0};
    cJSON *choices = cJSON_CreateArray();
    for (j->head.index = 0; j->head.index < j->rq.n && choices; j->head.index++) {
        cJSON *c = whole_choice(j);
        if (!c) break;
        cJSON_AddItemToArray(choices, c);
        usage_add(&u, j);
    }
    release_slot(j);
    if (j->rc || !choices) {
        cJSON_Delete(choices);
        int status = choices ? serve_status_for_hflow_code(j->rc) : 500;
        hs_reply_error(req, status, NULL, NULL, NULL, "generation failed: %s", choices ? j->err.message : "out of memory");
        return;
    }
    char *json = serve_format_response_choices(&j->head, choices, &u);
    if (json) hs_reply_json(req, 200, json);
    else hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
    free(json);
}

static int client_gone(void *req) { return hs_client_gone(req); }

static void handle(hflow_server *srv, hs_request *req, int kind) {
    gen_job *j = calloc(1, sizeof *j);
    if (!j) {
        hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
        return;
    }
    j->srv = srv;
    j->t_start = hflow_now_s();
    hflow_strbuf_init(&j->text);
    serve_parse_error pe;
    int rc = kind == SERVE_CHAT ? serve_parse_chat(req->body, req->body_len, &j->rq, &pe)
                                : serve_parse_completion(req->body, req->body_len, &j->rq, &pe);
    if (rc) {
        hs_reply_error(req, 400, NULL, pe.param[0] ? pe.param : NULL, NULL, "%s", pe.message);
        job_free(j);
        return;
    }
    if (kind == SERVE_CHAT && srv->hybrid_name && j->rq.model && !strcmp(j->rq.model, srv->hybrid_name)) {
        serve_hybrid *h = serve_get_hybrid(srv);
        if (h) serve_hybrid_chat(srv, h, req, &j->rq);
        else hs_reply_error(req, 503, NULL, NULL, NULL, "the hybrid model is still starting; retry later");
        job_free(j);
        return;
    }
    if (!(j->sm = serve_find_model_or_404(srv, req, j->rq.model)) || build_prompt(j, req)) {
        job_free(j);
        return;
    }
    snprintf(j->id, sizeof j->id, "%s-%llu", kind == SERVE_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)serve_next_id(srv));
    j->head = (serve_reply_head){kind, j->id, (long)hflow_wall_s(), j->sm->name, 0};
    rc = serve_slots_acquire(j->sm->slots, j->prompt, j->n_prompt, client_gone, req, &j->slot);
    if (rc == HFLOW_ECANCELLED) { /* left while queued: the reply goes nowhere */
        hs_reply_error(req, 503, NULL, NULL, "cancelled", "the client went away while queued");
        job_free(j);
        return;
    }
    if (rc) {
        hs_reply_error(req, 503, NULL, NULL, "queue_full", "all %d slots are busy and the queue is full; retry later",
                       serve_slots_count(j->sm->slots));
        job_free(j);
        return;
    }
    if (!j->rq.stream) {
        reply_whole(j, req);
        job_free(j);
        return;
    }
    if (hs_stream_spawn(req, &j->st, stream_main, j)) job_free(j);
}

void serve_route_chat(void *app, hs_request *req) { handle(app, req, SERVE_CHAT); }
void serve_route_completions(void *app, hs_request *req) { handle(app, req, SERVE_COMPLETION); }
