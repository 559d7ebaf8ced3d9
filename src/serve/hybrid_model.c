/* hybrid_model.c - the virtual model "hybridflow" (see hybrid_model.h).
 *
 * A request becomes one hflow_flow_run: the question is the last user
 * message (earlier turns are quoted before it, system messages are left to
 * the orchestrator's own prompts), max_tokens caps the aggregator's answer,
 * temperature and seed apply to every call the query makes.
 * The orchestrator already retries and falls back between tiers; this file
 * only reports what happened, in the response's "hybridflow" field. Streams
 * send step progress as SSE comments while the query runs, then the answer. */
#include "flow/trace_json.h"
#include "serve/hybrid_model.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "serve/openai_errors.h"
#include "serve/openai_format.h"
#include "serve/server_ctx.h"

struct serve_hybrid {
    char *name;
    hflow_backend *tier[2];
    hflow_policy *policy;
    hflow_price_table *prices;
    hflow_flow_config cfg; /* borrowed pointers all point into this struct */
    hflow_flow *flow;      /* the default orchestrator (no per-request max_tokens) */
    char *auth_header;
    long created;          /* for /v1/models */
    char *trace_path;      /* JSONL trace appended per answered query; NULL = none */
    pthread_mutex_t trace_mu; /* one query's line at a time */
};

/* ---- setup ---- */

/* Resolves a served model's name to this server's own URL. Such a tier is
 * known to be ours, so it takes grammars (a constrained planner); any other
 * URL is a foreign server and never gets our grammar names. */
static int open_tier(const char *what, const char *ep, const serve_registry *reg, const char *self_base,
                     const hflow_backend_options *bo, hflow_backend **out, hflow_error *err) {
    char self[512];
    const char *use = ep;
    hflow_backend_options o = *bo;
    for (int i = 0; i < reg->n; i++)
        if (!strcmp(reg->models[i].name, ep)) {
            snprintf(self, sizeof self, "%s#%s", self_base, ep);
            use = self;
            o.hybridflow_server = 1;
        }
    int rc = hflow_backend_open(use, &o, out, err);
    if (rc) hflow_error_wrap(err, "hybrid %s endpoint '%s'", what, ep);
    return rc;
}

int serve_hybrid_create(const hflow_serve_hybrid *c, const serve_registry *reg, const char *self_base,
                        const char *api_key, serve_hybrid **out, hflow_error *err) {
    *out = NULL;
    if (!c->edge || !*c->edge)
        return hflow_error_set(err, HFLOW_EINVAL, "the hybrid model needs an edge endpoint (--hybrid-edge)");
    const char *planner = c->planner ? c->planner : "edge";
    if (strcmp(planner, "edge") && strcmp(planner, "cloud"))
        return hflow_error_set(err, HFLOW_EINVAL, "hybrid planner must be 'edge' or 'cloud', not '%s'", planner);
    const char *name = c->name && *c->name ? c->name : "hybridflow";
    if (serve_registry_find((serve_registry *)reg, name))
        return hflow_error_set(err, HFLOW_EINVAL, "the hybrid model's name '%s' is also a served model", name);
    serve_hybrid *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(name))) {
        free(h);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&h->trace_mu, NULL);
    if (c->trace && *c->trace && !(h->trace_path = strdup(c->trace))) {
        serve_hybrid_free(h);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    hflow_backend_options bo;
    hflow_backend_options_default(&bo);
    bo.always_stream = 1; /* real time-to-first-token in the traces */
    /* The orchestrator retries and falls back to the other tier itself; deep
     * HTTP retries would only delay that fallback when a tier is down. */
    bo.max_retries = 1;
    const char *hdr[1];
    if (api_key && *api_key) {
        size_t n = strlen(api_key) + 32;
        if ((h->auth_header = malloc(n))) snprintf(h->auth_header, n, "Authorization: Bearer %s", api_key);
        hdr[0] = h->auth_header;
        bo.headers = hdr;
        bo.n_headers = 1;
    }
    int rc = open_tier("edge", c->edge, reg, self_base, &bo, &h->tier[HFLOW_TIER_EDGE], err);
    if (!rc && c->cloud && *c->cloud)
        rc = open_tier("cloud", c->cloud, reg, self_base, &bo, &h->tier[HFLOW_TIER_CLOUD], err);
    if (!rc) {
        rc = hflow_policy_create(c->policy ? c->policy : "difficulty:6", &h->policy, err);
        if (rc) hflow_error_wrap(err, "hybrid policy");
    }
    if (!rc && c->prices) {
        rc = hflow_price_table_load(c->prices, &h->prices, err);
        if (rc) hflow_error_wrap(err, "hybrid prices");
    }
    if (!rc && !strcmp(planner, "cloud") && !h->tier[HFLOW_TIER_CLOUD])
        rc = hflow_error_set(err, HFLOW_EINVAL, "hybrid planner 'cloud' needs a cloud endpoint (--hybrid-cloud)");
    if (!rc) {
        hflow_flow_config *f = &h->cfg;
        hflow_flow_config_default(f);
        f->edge = h->tier[HFLOW_TIER_EDGE];
        f->cloud = h->tier[HFLOW_TIER_CLOUD];
        f->planner = !strcmp(planner, "cloud") ? f->cloud : f->edge;
        f->policy = h->policy;
        f->prices = h->prices;
        f->query_limits = c->limits;
        if (c->max_steps > 0) f->max_steps = c->max_steps;
        if (c->max_tokens > 0) {
            f->planner_max_tokens = f->aggregator_max_tokens = f->max_step_tokens = c->max_tokens;
            if (f->default_step_tokens > c->max_tokens) f->default_step_tokens = c->max_tokens;
            if (f->min_step_tokens > c->max_tokens) f->min_step_tokens = c->max_tokens;
        }
        if (c->planner_max_tokens > 0) f->planner_max_tokens = c->planner_max_tokens;
        f->call_timeout_s = c->call_timeout_s;
        f->cascade = c->cascade;
        f->planner_template_path = c->planner_template;
        rc = hflow_flow_create(f, &h->flow, err);
        if (rc) hflow_error_wrap(err, "hybrid model");
        f->planner_template_path = NULL; /* read by create; not kept */
        if (!rc && c->planner_template && !(f->planner_template_path = strdup(c->planner_template)))
            rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    if (rc) {
        serve_hybrid_free(h);
        return rc;
    }
    h->created = (long)hflow_wall_s();
    *out = h;
    return 0;
}

void serve_hybrid_free(serve_hybrid *h) {
    if (!h) return;
    hflow_flow_free(h->flow);
    free((char *)h->cfg.planner_template_path);
    hflow_price_table_free(h->prices);
    hflow_policy_free(h->policy);
    hflow_backend_free(h->tier[HFLOW_TIER_CLOUD]);
    hflow_backend_free(h->tier[HFLOW_TIER_EDGE]);
    free(h->auth_header);
    free(h->name);
    free(h->trace_path);
    pthread_mutex_destroy(&h->trace_mu);
    free(h);
}

/* Appends the query's trace line (flow.h's JSONL format); a trace that cannot
 * be written costs the client nothing, so failures are only logged. */
static void append_trace(serve_hybrid *h, const hflow_flow_result *r) {
    if (!h->trace_path) return;
    pthread_mutex_lock(&h->trace_mu);
    FILE *f = fopen(h->trace_path, "a");
    hflow_error err;
    if (!f || hflow_trace_write_jsonl(r, f, &err))
        fprintf(stderr, "hybrid model: cannot append the trace to %s\n", h->trace_path);
    if (f) fclose(f);
    pthread_mutex_unlock(&h->trace_mu);
}

const char *serve_hybrid_name(const serve_hybrid *h) { return h->name; }

cJSON *serve_hybrid_model_entry(const serve_hybrid *h) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", h->name);
    cJSON_AddStringToObject(e, "object", "model");
    cJSON_AddNumberToObject(e, "created", (double)h->created);
    cJSON_AddStringToObject(e, "owned_by", "hybridflow");
    cJSON_AddStringToObject(e, "kind", "hybrid");
    cJSON_AddStringToObject(e, "edge", hflow_backend_name(h->tier[HFLOW_TIER_EDGE]));
    if (h->tier[HFLOW_TIER_CLOUD]) cJSON_AddStringToObject(e, "cloud", hflow_backend_name(h->tier[HFLOW_TIER_CLOUD]));
    else cJSON_AddNullToObject(e, "cloud");
    cJSON_AddStringToObject(e, "policy", h->policy->name);
    cJSON_AddBoolToObject(e, "planner_constrained", h->cfg.constrain_plan && hflow_backend_has_grammar(h->cfg.planner));
    return e;
}

/* ---- the extension field ---- */

/* Failed attempts on a tier, as the orchestrator noted them ("cloud attempt 1 failed: ..."). */
static int count_failures(const char *note, const char *tier) {
    char key[32];
    snprintf(key, sizeof key, "%s attempt ", tier);
    int n = 0;
    for (const char *p = note; (p = strstr(p, key)); p += strlen(key)) n++;
    return n;
}

/* Every call record of the query: planner, steps, aggregator. */
static int all_calls(const hflow_flow_result *r, const hflow_call_record **out, int max) {
    int n = 0;
    out[n++] = &r->planner;
    for (int i = 0; i < r->n_steps && n < max - 1; i++) out[n++] = &r->steps[i].call;
    out[n++] = &r->aggregator;
    return n;
}

cJSON *serve_hybrid_extension(const serve_hybrid *h, const hflow_flow_result *r) {
    const hflow_call_record *calls[66];
    int n_calls = all_calls(r, calls, 66);
    int fallbacks = 0, failed_steps = 0;
    cJSON *o = cJSON_CreateObject();
    cJSON *notes = cJSON_CreateArray();
    for (int k = 0; k < n_calls; k++) {
        fallbacks += calls[k]->fell_back;
        if (!calls[k]->note[0]) continue;
        char line[320];
        const char *who = k == 0 ? "planner" : k == n_calls - 1 ? "aggregator" : "step";
        if (k > 0 && k < n_calls - 1) snprintf(line, sizeof line, "step %d: %s", k, calls[k]->note);
        else snprintf(line, sizeof line, "%s: %s", who, calls[k]->note);
        cJSON_AddItemToArray(notes, cJSON_CreateString(line));
    }
    for (int t = 0; t < 2; t++) {
        const hflow_tier_usage *u = &r->usage[t];
        cJSON *to = cJSON_AddObjectToObject(o, hflow_tier_name(t));
        cJSON_AddStringToObject(to, "endpoint", h->tier[t] ? hflow_backend_name(h->tier[t]) : "");
        cJSON_AddNumberToObject(to, "calls", u->calls);
        cJSON_AddNumberToObject(to, "prompt_tokens", (double)u->prompt_tokens);
        cJSON_AddNumberToObject(to, "completion_tokens", (double)u->completion_tokens);
        cJSON_AddNumberToObject(to, "usd", u->usd);
        cJSON_AddNumberToObject(to, "busy_s", u->busy_s);
        int failed = 0;
        for (int k = 0; k < n_calls; k++) failed += count_failures(calls[k]->note, hflow_tier_name(t));
        cJSON_AddNumberToObject(to, "failed_attempts", failed);
    }
    for (int i = 0; i < r->n_steps; i++) failed_steps += r->steps[i].state == HFLOW_STEP_FAILED;
    cJSON_AddNumberToObject(o, "cloud_share", r->cloud_share);
    cJSON_AddNumberToObject(o, "usd", r->usd);
    cJSON_AddNumberToObject(o, "steps", r->n_steps);
    cJSON_AddNumberToObject(o, "critical_path", r->critical_path);
    cJSON_AddNumberToObject(o, "repairs", r->n_repairs);
    cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
    cJSON_AddNumberToObject(o, "plan_done_s", r->plan_done_s);
    cJSON_AddStringToObject(o, "answer_source", r->answer_source ? "last_step" : "aggregator");
    cJSON_AddBoolToObject(o, "deadline_hit", r->deadline_hit);
    cJSON_AddNumberToObject(o, "fallbacks", fallbacks);
    cJSON_AddNumberToObject(o, "failed_steps", failed_steps);
    cJSON_AddItemToObject(o, "notes", notes);
    cJSON_AddItemToObject(o, "planner", hflow_trace_call_json(&r->planner));
    cJSON *steps = cJSON_AddArrayToObject(o, "plan");
    for (int i = 0; i < r->n_steps; i++) {
        const hflow_step_record *s = &r->steps[i];
        cJSON *so = hflow_trace_call_json(&s->call);
        cJSON_AddStringToObject(so, "task", s->task ? s->task : "");
        cJSON *deps = cJSON_AddArrayToObject(so, "deps");
        for (int d = 0; d < s->n_deps; d++) cJSON_AddItemToArray(deps, cJSON_CreateNumber(s->deps[d] + 1));
        cJSON_AddStringToObject(so, "state", hflow_step_state_name(s->state));
        cJSON_AddItemToArray(steps, so);
    }
    cJSON_AddItemToObject(o, "aggregator", hflow_trace_call_json(&r->aggregator));
    return o;
}

/* ---- one request ---- */

typedef struct hybrid_job {
    hflow_server *srv;
    serve_hybrid *h;
    serve_gen_request rq;
    hs_request *req;        /* non-streamed: to notice a client that left */
    hs_stream *st;          /* streamed */
    volatile int cancel;
    char id[48];
    serve_reply_head head;
    hflow_flow_result res;
    hflow_error err;
    int rc;
} hybrid_job;

static void job_free(hybrid_job *j) {
    serve_gen_request_free(&j->rq);
    hflow_flow_result_clear(&j->res);
    hs_stream_unref(j->st);
    free(j);
}

/* The question: the last user message; earlier turns quoted before it. */
static char *build_question(const serve_gen_request *rq) {
    int last = -1;
    for (int i = 0; i < rq->n_messages; i++)
        if (!strcmp(rq->messages[i].role, "user")) last = i;
    if (last < 0) return NULL;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    int quoted = 0;
    for (int i = 0; i < last; i++) {
        const char *role = rq->messages[i].role;
        if (strcmp(role, "user") && strcmp(role, "assistant")) continue;
        if (!quoted++) hflow_strbuf_puts(&b, "Conversation so far:\n");
        hflow_strbuf_printf(&b, "%s: %s\n", !strcmp(role, "user") ? "User" : "Assistant", rq->messages[i].content);
    }
    if (quoted) hflow_strbuf_puts(&b, "\nQuestion: ");
    hflow_strbuf_puts(&b, rq->messages[last].content);
    if (b.oom) {
        hflow_strbuf_free(&b);
        return NULL;
    }
    return hflow_strbuf_take(&b);
}

static void on_progress(void *user, const hflow_flow_event *ev) {
    hybrid_job *j = user;
    if (!j->st) {
        /* Nobody will read the answer: stop the query (polled, non-blocking). */
        if (hs_client_gone(j->req)) j->cancel = 1;
        return;
    }
    char line[200];
    int n = 0;
    switch (ev->kind) {
    case HFLOW_EV_PLAN_STARTED: n = snprintf(line, sizeof line, ": hybridflow planning on %s\n\n", hflow_tier_name(ev->tier)); break;
    case HFLOW_EV_STEP_STARTED:
    case HFLOW_EV_STEP_FINISHED:
        n = snprintf(line, sizeof line, ": hybridflow step %d %s on %s (%.2fs)\n\n", ev->step + 1,
                     hflow_step_state_name(ev->state), hflow_tier_name(ev->tier), ev->t_s);
        break;
    case HFLOW_EV_AGGREGATE_STARTED: n = snprintf(line, sizeof line, ": hybridflow aggregating on %s\n\n", hflow_tier_name(ev->tier)); break;
    default: break;
    }
    if (n > 0) hs_stream_write(j->st, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Runs the query on an orchestrator of its own, since the progress callback
 * and max_tokens are per request (cheap: create copies the config and reads
 * the planner template; the long-lived one only validated the setup). */
static void run_query(hybrid_job *j) {
    char *q = build_question(&j->rq);
    if (!q) {
        j->rc = hflow_error_set(&j->err, HFLOW_EINVAL, "the hybrid model needs a user message");
        return;
    }
    hflow_flow *own = NULL;
    hflow_flow_config cfg = j->h->cfg;
    cfg.progress = on_progress;
    cfg.progress_user = j;
    if (j->rq.max_tokens > 0) cfg.aggregator_max_tokens = j->rq.max_tokens;
    /* Sampling is per request too. Without a temperature the orchestrator's
     * own (greedy by default) applies, not OpenAI's 1: a client that sets
     * nothing gets the configured behaviour. */
    if (j->rq.has_temperature) cfg.temperature = j->rq.temperature;
    if (j->rq.has_seed) {
        cfg.has_seed = 1;
        cfg.seed = j->rq.seed;
    }
    j->rc = hflow_flow_create(&cfg, &own, &j->err);
    hflow_query_options qo = {HFLOW_FORMAT_FREE, NULL, j->st ? hs_stream_cancel_flag(j->st) : &j->cancel};
    if (!j->rc) j->rc = hflow_flow_run(own, q, &qo, &j->res, &j->err);
    if (!j->rc) append_trace(j->h, &j->res);
    hflow_flow_free(own);
    free(q);
}

static serve_usage usage_of(const hflow_flow_result *r) {
    serve_usage u = {(int32_t)(r->usage[0].prompt_tokens + r->usage[1].prompt_tokens),
                     (int32_t)(r->usage[0].completion_tokens + r->usage[1].completion_tokens), 0};
    return u;
}

/* Adds the extension to a formatted JSON object; returns the new text (frees json). */
static char *with_extension(hybrid_job *j, char *json) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    free(json);
    if (!o) return NULL;
    cJSON *ext = serve_hybrid_extension(j->h, &j->res);
    if (ext) cJSON_AddItemToObject(o, "hybridflow", ext);
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

static int status_for(int rc) {
    /* Every tier failed: the upstream is at fault, not the request. */
    return rc == HFLOW_ENET || rc == HFLOW_EHTTP || rc == HFLOW_ETIMEOUT ? 502 : serve_status_for_hflow_code(rc);
}

static void reply_whole(hybrid_job *j) {
    run_query(j);
    if (j->rc) {
        hs_reply_error(j->req, status_for(j->rc), NULL, NULL, NULL, "hybrid model: %s", j->err.message);
        return;
    }
    serve_usage u = usage_of(&j->res);
    const char *a = j->res.answer;
    char *json = with_extension(j, serve_format_response(&j->head, a, strlen(a), NULL, "stop", &u));
    if (json) hs_reply_json(j->req, 200, json);
    else hs_reply_error(j->req, 500, NULL, NULL, NULL, "out of memory");
    free(json);
}

static void stream_event(hybrid_job *j, char *json) {
    if (!json) return;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_printf(&b, "data: %s\n\n", json);
    free(json);
    if (!b.oom) hs_stream_write(j->st, b.data, b.len);
    hflow_strbuf_free(&b);
}

static void stream_main(void *p) {
    hybrid_job *j = p;
    run_query(j);
    if (j->rc) {
        if (j->rc != HFLOW_ECANCELLED) {
            char msg[600];
            snprintf(msg, sizeof msg, "hybrid model: %s", j->err.message);
            stream_event(j, serve_error_json(status_for(j->rc), NULL, NULL, NULL, msg));
        }
    } else {
        const char *a = j->res.answer;
        stream_event(j, serve_format_chunk(&j->head, a, strlen(a), NULL, NULL, 1));
        stream_event(j, with_extension(j, serve_format_chunk(&j->head, "", 0, NULL, "stop", 0)));
        serve_usage u = usage_of(&j->res);
        if (j->rq.include_usage) stream_event(j, serve_format_usage_chunk(&j->head, &u));
    }
    hs_stream_write(j->st, "data: [DONE]\n\n", 14);
    hs_stream_finish(j->st);
    job_free(j);
}

void serve_hybrid_chat(hflow_server *srv, serve_hybrid *h, hs_request *req, serve_gen_request *rq) {
    hybrid_job *j = calloc(1, sizeof *j);
    if (!j) {
        serve_gen_request_free(rq);
        hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
        return;
    }
    j->srv = srv;
    j->h = h;
    j->rq = *rq;
    memset(rq, 0, sizeof *rq);
    snprintf(j->id, sizeof j->id, "chatcmpl-%llu", (unsigned long long)serve_next_id(srv));
    j->head = (serve_reply_head){SERVE_CHAT, j->id, (long)hflow_wall_s(), h->name, 0};
    if (j->rq.logprobs) {
        hs_reply_error(req, 400, NULL, "logprobs", NULL, "the hybrid model has no logprobs (its answer comes from several models)");
        job_free(j);
        return;
    }
    if (j->rq.n > 1) {
        hs_reply_error(req, 400, NULL, "n", NULL, "the hybrid model answers with one choice ('n': 1)");
        job_free(j);
        return;
    }
    if (j->rq.json_object) {
        hs_reply_error(req, 400, NULL, "response_format", NULL, "the hybrid model answers in free text: no json_object");
        job_free(j);
        return;
    }
    if (j->rq.grammar) {
        /* Its answer is the aggregator's free text; the planner's constraint is the orchestrator's business. */
        hs_reply_error(req, 400, NULL, "grammar", NULL, "the hybrid model takes no 'grammar' (its planner is constrained on its own)");
        job_free(j);
        return;
    }
    if (!j->rq.stream) {
        j->req = req;
        reply_whole(j);
        job_free(j);
        return;
    }
    if (hs_stream_spawn(req, &j->st, stream_main, j)) job_free(j);
}
