/* local_backend.c - the in-process engine as a backend.
 *
 * One hflow_model (loaded once, shared) and a pool of n_parallel slots, each
 * holding an engine session created on first use. A call tokenizes its
 * prompt, then takes the idle slot whose cached tokens share the longest
 * prefix with it (HybridFlow's step prompts all repeat the question, so a
 * slot that served a sibling step evaluates only the new suffix), waiting on
 * a condition variable while every slot is busy. Chat messages go through
 * the model's chat template (chat.h); completion prompts are plain text.
 *
 * Defaults when the request leaves them open: max_tokens = until EOG or the
 * context is full, temperature 1 and top_p 1 (OpenAI's), the options' seed
 * or else one from the clock. req->grammar names a built-in constraint (grammar.h), e.g. "plan"
 * or "plan:N"; the token texts it needs are computed once per backend. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend_internal.h"
#include "base/clock.h"
#include "base/strbuf.h"
#include "hybridflow/chat.h"
#include "hybridflow/embed.h"
#include "hybridflow/engine.h"
#include "hybridflow/grammar.h"

typedef struct local_slot {
    hflow_session *s; /* NULL until first used */
    int busy;
} local_slot;

typedef struct local_backend {
    hflow_model *model;
    int chat_family;
    int n_ctx;
    double total_timeout_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_slots;
    local_slot *slots;
    hflow_token_texts *texts; /* built on the first constrained call, under mu */
    uint64_t calls;           /* mixes into unseeded requests' seeds */
    uint64_t seed;            /* options.seed: the seed of unseeded requests, 0 = from the clock */
} local_backend;

/* ---- prompt ---- */

static int render_prompt(local_backend *lb, const hflow_request *req, int32_t **ids, int *n, hflow_error *err) {
    const hflow_vocab *v = hflow_model_vocab(lb->model);
    if (req->prompt) return hflow_tokenize(v, req->prompt, strlen(req->prompt), 1, 0, ids, n, err);
    hflow_chat_msg *msgs = malloc((size_t)req->n_messages * sizeof *msgs);
    if (!msgs) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int i = 0; i < req->n_messages; i++) msgs[i] = (hflow_chat_msg){req->messages[i].role, req->messages[i].content};
    char *text = NULL;
    int rc = hflow_chat_render(lb->chat_family, msgs, (size_t)req->n_messages, 1, &text, err);
    free(msgs);
    if (!rc) rc = hflow_tokenize(v, text, strlen(text), 1, 1, ids, n, err);
    free(text);
    return rc;
}

/* ---- slot pool ---- */

static int cancelled(const hflow_request *req) { return req->cancel && *req->cancel; }

/* Takes the idle slot with the longest common prefix; waits while all are
 * busy, waking every 20 ms to honour cancel and the deadline. */
static int acquire_slot(local_backend *lb, const hflow_request *req, const int32_t *ids, int n, double deadline,
                        local_slot **out, hflow_error *err) {
    pthread_mutex_lock(&lb->mu);
    for (;;) {
        int best = -1;
        int32_t best_len = -1;
        for (int i = 0; i < lb->n_slots; i++) {
            local_slot *sl = &lb->slots[i];
            if (sl->busy) continue;
            int32_t len = sl->s ? hflow_session_common_prefix(sl->s, ids, n) : 0;
            if (len > best_len || (len == best_len && sl->s && !lb->slots[best].s)) {
                best = i;
                best_len = len;
            }
        }
        if (best >= 0) {
            lb->slots[best].busy = 1;
            *out = &lb->slots[best];
            pthread_mutex_unlock(&lb->mu);
            return 0;
        }
        int rc = 0;
        if (cancelled(req)) rc = hflow_error_set(err, HFLOW_ECANCELLED, "cancelled while waiting for a free slot");
        else if (hflow_now_s() >= deadline)
            rc = hflow_error_set(err, HFLOW_ETIMEOUT, "deadline passed while waiting for a free slot");
        if (rc) {
            pthread_mutex_unlock(&lb->mu);
            return rc;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&lb->cv, &lb->mu, &ts);
    }
}

static void release_slot(local_backend *lb, local_slot *sl) {
    pthread_mutex_lock(&lb->mu);
    sl->busy = 0;
    pthread_cond_signal(&lb->cv);
    pthread_mutex_unlock(&lb->mu);
}

/* ---- one call ---- */

typedef struct call_ctx {
    const hflow_request *req;
    hflow_strbuf text;
    double deadline;
    int stopped_by_delta, timed_out;
    double logprob_sum;  /* generated tokens' logprobs (want_confidence) */
    int32_t logprob_n;
} call_ctx;

static int on_token(void *user, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    call_ctx *c = user;
    if (lp && tok >= 0) {
        c->logprob_sum += lp->logprob;
        c->logprob_n++;
    }
    hflow_strbuf_append(&c->text, text, len);
    if (len && c->req->on_delta && c->req->on_delta(c->req->user, text, len)) {
        c->stopped_by_delta = 1;
        return 1;
    }
    if (cancelled(c->req)) return 1;
    if (hflow_now_s() >= c->deadline) {
        c->timed_out = 1;
        return 1;
    }
    return 0;
}

/* response_format {"type":"json_object"}: what OpenAI servers hold to JSON,
 * the engine does with its "json" grammar. Other formats are left to the
 * caller's prompt, as before. */
static int wants_json_object(const char *response_format) {
    if (!response_format || !strstr(response_format, "json_object")) return 0;
    cJSON *rf = cJSON_Parse(response_format);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rf, "type");
    int yes = cJSON_IsString(t) && !strcmp(t->valuestring, "json_object");
    cJSON_Delete(rf);
    return yes;
}

static int make_grammar(local_backend *lb, const char *name, hflow_grammar **g, hflow_error *err) {
    int rc = 0;
    pthread_mutex_lock(&lb->mu);
    if (!lb->texts) rc = hflow_token_texts_create(hflow_model_vocab(lb->model), &lb->texts, err);
    pthread_mutex_unlock(&lb->mu);
    return rc ? rc : hflow_grammar_create_named(name, lb->texts, g, err);
}

static hflow_sampler *make_sampler(local_backend *lb, const hflow_request *req) {
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = req->temperature >= 0 ? req->temperature : 1.0f;
    sp.top_p = req->top_p > 0 && req->top_p < 1 ? req->top_p : 1.0f;
    if (req->has_seed) {
        sp.seed = req->seed;
    } else if (lb->seed) {
        sp.seed = lb->seed;
    } else {
        pthread_mutex_lock(&lb->mu);
        sp.seed = hflow_now_ns() ^ (++lb->calls * 0x9e3779b97f4a7c15ULL);
        pthread_mutex_unlock(&lb->mu);
    }
    return hflow_sampler_create(&sp, hflow_model_get_info(lb->model)->n_vocab);
}

static int ensure_session(local_backend *lb, local_slot *sl, hflow_error *err) {
    if (sl->s) return 0;
    hflow_session_params sp = {.n_ctx = lb->n_ctx};
    return hflow_session_create(lb->model, &sp, &sl->s, err);
}

/* Runs the generation on a slot and fills resp from its stats. */
static int run_on_slot(local_backend *lb, local_slot *sl, const hflow_request *req, const int32_t *ids, int n,
                       hflow_grammar *g, call_ctx *ctx, hflow_generate_stats *st, hflow_error *err) {
    int rc = ensure_session(lb, sl, err);
    if (rc) return rc;
    hflow_sampler *smp = make_sampler(lb, req);
    if (!smp) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    hflow_logits_hook hook;
    hflow_generate_params gp = {0};
    gp.max_tokens = req->max_tokens > 0 ? req->max_tokens : 0;
    gp.stop = req->stop;
    gp.n_stop = req->n_stop;
    gp.cancel = req->cancel;
    gp.want_logprobs = req->want_confidence != 0;
    if (g) {
        hook = hflow_grammar_hook(g);
        gp.hook = &hook;
    }
    rc = hflow_generate(sl->s, smp, ids, n, &gp, on_token, ctx, st, err);
    hflow_sampler_free(smp);
    return rc;
}

static int local_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    local_backend *lb = b->impl;
    double t0 = hflow_now_s();
    double timeout = req->timeout_s > 0 ? req->timeout_s : lb->total_timeout_s;
    call_ctx ctx = {req, {0}, timeout > 0 ? t0 + timeout : HUGE_VAL, 0, 0, 0, 0};
    hflow_strbuf_init(&ctx.text);
    hflow_copy_field(resp->model, sizeof resp->model, b->model);
    int32_t *ids = NULL;
    int n = 0;
    hflow_grammar *g = NULL;
    local_slot *sl = NULL;
    hflow_generate_stats st;
    memset(&st, 0, sizeof st);
    int rc = render_prompt(lb, req, &ids, &n, err);
    const char *grammar = req->grammar && *req->grammar ? req->grammar : NULL;
    if (!rc && !grammar && wants_json_object(req->response_format)) grammar = "json";
    if (!rc && grammar) rc = make_grammar(lb, grammar, &g, err);
    if (!rc) rc = acquire_slot(lb, req, ids, n, ctx.deadline, &sl, err);
    double t_gen = hflow_now_s();
    if (!rc) {
        rc = run_on_slot(lb, sl, req, ids, n, g, &ctx, &st, err);
        release_slot(lb, sl);
    }
    if (!rc && ctx.timed_out)
        rc = hflow_error_set(err, HFLOW_ETIMEOUT, "%s passed its %.3g s deadline", b->name, timeout);
    else if (!rc && !strcmp(st.finish_reason, "cancelled"))
        rc = hflow_error_set(err, HFLOW_ECANCELLED, ctx.stopped_by_delta ? "%s: stopped by the delta callback"
                                                                          : "%s: cancelled", b->name);
    if (!rc && ctx.text.oom) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    resp->prompt_tokens = st.n_prompt;
    resp->completion_tokens = st.n_generated;
    resp->ttft_s = st.n_generated > 0 || st.t_first_token_s > 0 ? (t_gen - t0) + st.t_first_token_s : 0;
    resp->latency_s = hflow_now_s() - t0;
    if (ctx.logprob_n > 0) {
        resp->confidence_known = 1;
        resp->logprob_tokens = ctx.logprob_n;
        resp->mean_logprob = ctx.logprob_sum / ctx.logprob_n;
    }
    resp->text = ctx.text.data ? hflow_strbuf_take(&ctx.text) : NULL;
    if (!resp->text && !rc) {
        resp->text = calloc(1, 1);
        if (!resp->text) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    hflow_copy_field(resp->finish_reason, sizeof resp->finish_reason,
                     rc == HFLOW_ECANCELLED ? "cancelled" : rc ? "error" : st.finish_reason);
    hflow_strbuf_free(&ctx.text);
    hflow_grammar_free(g);
    free(ids);
    return rc;
}

/* ---- embeddings ---- */

/* Every text on one slot, with hflow_embed's defaults plus truncation to the
 * context (a question longer than a small edge model's window still gets a
 * vector from its first n_ctx tokens). The slot's cache is replaced. */
static int local_embed(hflow_backend *b, const char *const *texts, int n, hflow_embeddings *out, hflow_error *err) {
    local_backend *lb = b->impl;
    double t0 = hflow_now_s();
    int dim = hflow_model_get_info(lb->model)->n_embd;
    out->data = malloc((size_t)n * (size_t)dim * sizeof *out->data);
    if (!out->data) return hflow_error_set(err, HFLOW_ENOMEM, "embed: out of memory");
    out->dim = dim;
    hflow_request none;
    hflow_request_init(&none);
    local_slot *sl = NULL;
    int rc = acquire_slot(lb, &none, NULL, 0, lb->total_timeout_s > 0 ? t0 + lb->total_timeout_s : HUGE_VAL, &sl, err);
    if (!rc) {
        rc = ensure_session(lb, sl, err);
        hflow_embed_params p = {.truncate = 1};
        for (int i = 0; i < n && !rc; i++) {
            int32_t used = 0;
            rc = hflow_embed(sl->s, texts[i], &p, out->data + (size_t)i * dim, &used, err);
            out->prompt_tokens += used;
        }
        release_slot(lb, sl);
    }
    out->n = rc ? 0 : n;
    out->latency_s = hflow_now_s() - t0;
    return rc;
}

static void local_destroy(hflow_backend *b) {
    local_backend *lb = b->impl;
    if (lb) {
        for (int i = 0; lb->slots && i < lb->n_slots; i++) hflow_session_free(lb->slots[i].s);
        free(lb->slots);
        hflow_token_texts_free(lb->texts);
        hflow_model_free(lb->model);
        pthread_mutex_destroy(&lb->mu);
        pthread_cond_destroy(&lb->cv);
        free(lb);
    }
    free(b);
}

static const hflow_backend_vtable LOCAL_VT = {"local", local_complete, local_destroy};

/* The file name without directory and ".gguf": what traces and prices call the model. */
static void model_name_from_path(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf")) n -= 5;
    if (n >= cap) n = cap - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

int hflow_local_backend_open(const char *path, const hflow_backend_options *opts, hflow_backend **out,
                             hflow_error *err) {
    *out = NULL;
    hflow_backend *b = calloc(1, sizeof *b);
    local_backend *lb = calloc(1, sizeof *lb);
    if (!b || !lb) {
        free(b);
        free(lb);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    b->vt = &LOCAL_VT;
    b->embed = local_embed;
    b->impl = lb;
    b->caps = HFLOW_BACKEND_CAP_GRAMMAR;
    pthread_mutex_init(&lb->mu, NULL);
    pthread_cond_init(&lb->cv, NULL);
    lb->n_ctx = opts->n_ctx > 0 ? opts->n_ctx : 0;
    lb->total_timeout_s = opts->total_timeout_s;
    lb->seed = opts->seed;
    lb->n_slots = opts->n_parallel > 0 ? opts->n_parallel : 1;
    lb->slots = calloc((size_t)lb->n_slots, sizeof *lb->slots);
    hflow_model_params mp = {opts->n_threads};
    int rc = lb->slots ? hflow_model_load(path, &mp, &lb->model, err) : hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if (rc) {
        local_destroy(b);
        return rc;
    }
    lb->chat_family = hflow_chat_family_for_gguf(hflow_model_gguf(lb->model), NULL);
    model_name_from_path(path, b->model, sizeof b->model);
    snprintf(b->name, sizeof b->name, "local:%s", b->model);
    *out = b;
    return 0;
}
