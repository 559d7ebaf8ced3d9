/* call.c - one backend call as the orchestrator makes it: budget reservation
 * for the cloud, retries with exponential backoff, per-call timeout from the
 * deadline, settlement and per-tier accounting. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hash.h"
#include "flow/flow_internal.h"

double flow_rel(const flow_query *q) { return hflow_now_s() - q->t0; }

void flow_mark_deadline(flow_query *q) {
    pthread_mutex_lock(&q->mu);
    q->deadline_hit = 1;
    pthread_mutex_unlock(&q->mu);
}

void flow_note(hflow_call_record *rec, const char *fmt, ...) {
    size_t used = strlen(rec->note);
    if (used + 3 >= sizeof rec->note) return;
    if (used) {
        memcpy(rec->note + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->note + used, sizeof rec->note - used, fmt, ap);
    va_end(ap);
}

static int32_t clamp_tokens(const hflow_flow_config *c, int32_t want) {
    if (want <= 0) want = c->default_step_tokens;
    if (want < c->min_step_tokens) want = c->min_step_tokens;
    return want;
}

/* A call's sampling seed: from the query seed and what the call is (its
 * tier, prompt and attempt), not from when it runs, so concurrent steps
 * finishing in another order sample the same text; a retry samples anew. */
static uint64_t call_seed(uint64_t seed, int tier, const char *system, const char *user, int attempt) {
    uint64_t h = hflow_fnv1a(HFLOW_FNV_OFFSET ^ seed, &tier, sizeof tier);
    if (system) h = hflow_fnv1a(h, system, strlen(system) + 1);
    h = hflow_fnv1a(h, user, strlen(user));
    return hflow_mix64(h + (uint64_t)attempt);
}

int flow_call(flow_query *q, int tier, hflow_backend *b, const char *system, const char *user, int32_t want_tokens,
              hflow_delta_cb on_delta, void *delta_user, int retries, hflow_call_record *rec, char **text,
              hflow_error *err) {
    return flow_call_grammar(q, tier, b, system, user, want_tokens, on_delta, delta_user, retries, NULL, rec, text,
                             err);
}

int flow_call_grammar(flow_query *q, int tier, hflow_backend *b, const char *system, const char *user,
                      int32_t want_tokens, hflow_delta_cb on_delta, void *delta_user, int retries, const char *grammar,
                      hflow_call_record *rec, char **text, hflow_error *err) {
    return flow_call_conf(q, tier, b, system, user, want_tokens, on_delta, delta_user, retries, grammar, NULL, rec,
                          text, err);
}

int flow_call_conf(flow_query *q, int tier, hflow_backend *b, const char *system, const char *user,
                   int32_t want_tokens, hflow_delta_cb on_delta, void *delta_user, int retries, const char *grammar,
                   flow_confidence *conf, hflow_call_record *rec, char **text, hflow_error *err) {
    const hflow_flow_config *c = q->cfg;
    if (conf) memset(conf, 0, sizeof *conf);
    if (!b) b = q->backend[tier];
    *text = NULL;
    if (!b) return hflow_error_set(err, HFLOW_EINVAL, "no %s backend", hflow_tier_name(tier));
    want_tokens = clamp_tokens(c, want_tokens);
    hflow_chat_message msgs[2] = {{"system", system}, {"user", user}};
    int n_msgs = system ? 2 : 1;
    const hflow_chat_message *m = system ? msgs : msgs + 1;
    size_t bytes = strlen(user) + (system ? strlen(system) : 0);
    const char *model = hflow_backend_model(b);
    int rc = HFLOW_EINVAL;
    for (int attempt = 0; attempt <= retries; attempt++) {
        double left = q->call_deadline - hflow_now_s();
        if (q->cancel_calls) return hflow_error_set(err, HFLOW_ECANCELLED, "cancelled");
        if (left <= 0) {
            flow_mark_deadline(q);
            return hflow_error_set(err, HFLOW_ETIMEOUT, "deadline passed before the call");
        }
        if (attempt > 0) {
            rec->retries++;
            double backoff = c->retry_backoff_s * pow(2, attempt - 1);
            hflow_sleep_ms(fmin(backoff, left) * 1e3);
            left = q->call_deadline - hflow_now_s();
            if (left <= 0) {
                flow_mark_deadline(q);
                return hflow_error_set(err, HFLOW_ETIMEOUT, "deadline passed during backoff");
            }
        }
        flow_reservation res = {0};
        int32_t max_tokens = want_tokens;
        if (tier == HFLOW_TIER_CLOUD) {
            int64_t bound = flow_prompt_token_bound(bytes, n_msgs);
            max_tokens = flow_budget_reserve(q->budgets, 2, c->prices, model, bound, want_tokens,
                                             c->min_step_tokens, &res);
            if (!max_tokens) {
                flow_note(rec, "budget: cloud call (%d max tokens) would exceed a cap", want_tokens);
                return hflow_error_set(err, HFLOW_EBUDGET, "cloud budget exhausted");
            }
            if (max_tokens < want_tokens) flow_note(rec, "budget: max_tokens shortened %d->%d", want_tokens, max_tokens);
        }
        hflow_request req;
        hflow_request_init(&req);
        req.messages = m;
        req.n_messages = n_msgs;
        req.max_tokens = max_tokens;
        req.temperature = c->temperature;
        if (c->has_seed) {
            req.has_seed = 1;
            req.seed = call_seed(c->seed, tier, system, user, attempt);
        }
        req.grammar = grammar;
        req.want_confidence = conf != NULL;
        req.on_delta = on_delta;
        req.user = delta_user;
        req.cancel = &q->cancel_calls;
        req.timeout_s = c->call_timeout_s > 0 ? fmin(c->call_timeout_s, left) : (isfinite(left) ? left : 0);
        hflow_response resp;
        memset(&resp, 0, sizeof resp);
        double start = flow_rel(q);
        hflow_error cerr;
        hflow_error_clear(&cerr);
        rc = hflow_backend_complete(b, &req, &resp, &cerr);
        double end = flow_rel(q);
        if (res.active) flow_budget_settle(&res, c->prices, model, resp.prompt_tokens, resp.completion_tokens);
        double usd = tier == HFLOW_TIER_CLOUD
                         ? hflow_price_cost(c->prices, model, resp.prompt_tokens, resp.completion_tokens)
                         : 0;
        pthread_mutex_lock(&q->mu);
        q->usage[tier].calls++;
        q->usage[tier].prompt_tokens += resp.prompt_tokens;
        q->usage[tier].completion_tokens += resp.completion_tokens;
        q->usage[tier].usd += usd;
        q->usage[tier].busy_s += end - start;
        pthread_mutex_unlock(&q->mu);
        if (rec->start_s <= 0 || rec->tier != tier) rec->start_s = start;
        rec->end_s = end;
        rec->tier = tier;
        rec->max_tokens = max_tokens;
        snprintf(rec->grammar, sizeof rec->grammar, "%s", grammar ? grammar : "");
        snprintf(rec->model, sizeof rec->model, "%s", resp.model[0] ? resp.model : model);
        rec->prompt_tokens = resp.prompt_tokens;
        rec->completion_tokens = resp.completion_tokens;
        rec->ttft_s = resp.ttft_s;
        if (!rc) {
            if (conf) *conf = (flow_confidence){resp.confidence_known, resp.mean_logprob, resp.logprob_tokens};
            *text = resp.text ? resp.text : strdup("");
            resp.text = NULL;
            hflow_response_clear(&resp);
            if (!*text) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
            return 0;
        }
        hflow_response_clear(&resp);
        /* Timed out because the deadline (not the per-call limit) ran out. */
        if (rc == HFLOW_ETIMEOUT && !(c->call_timeout_s > 0 && c->call_timeout_s < left)) flow_mark_deadline(q);
        /* Kept short so the notes that follow (fallback, budget) still fit the record. */
        flow_note(rec, "%s attempt %d failed: %.90s", hflow_tier_name(tier), attempt + 1, cerr.message);
        if (err) *err = cerr;
        if (rc == HFLOW_ECANCELLED || rc == HFLOW_EINVAL) break;
    }
    return rc;
}
