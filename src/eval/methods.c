/* methods.c - one question under one evaluation method: a single call on one
 * tier (direct or chain-of-thought prompt), query-level routing (the policy
 * picks the tier for the whole question), or the orchestrator (HybridFlow,
 * completion-driven or forced sequential). Every method is scored by the same
 * rule on its final output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "eval/judge.h"
#include "eval/runner_internal.h"
#include "flow/prompt.h"
#include "hybridflow/route.h"

static const struct {
    const char *name;
    int kind, tier;
} method_table[] = {
    {"edge", HFLOW_METHOD_DIRECT, HFLOW_TIER_EDGE},   {"edge-cot", HFLOW_METHOD_COT, HFLOW_TIER_EDGE},
    {"cloud", HFLOW_METHOD_DIRECT, HFLOW_TIER_CLOUD}, {"cloud-cot", HFLOW_METHOD_COT, HFLOW_TIER_CLOUD},
    {"route", HFLOW_METHOD_ROUTE, -1},                {"hybridflow", HFLOW_METHOD_FLOW, -1},
    {"hybridflow-chain", HFLOW_METHOD_CHAIN, -1},
};

int hflow_eval_method_parse(const char *name, hflow_eval_method *out, hflow_error *err) {
    for (size_t i = 0; i < sizeof method_table / sizeof method_table[0]; i++)
        if (name && !strcmp(name, method_table[i].name)) {
            memset(out, 0, sizeof *out);
            snprintf(out->name, sizeof out->name, "%s", name);
            out->kind = method_table[i].kind;
            out->tier = method_table[i].tier;
            return 0;
        }
    return hflow_error_set(err, HFLOW_EINVAL,
                           "unknown method '%s' (edge, edge-cot, cloud, cloud-cot, route, hybridflow, hybridflow-chain)",
                           name ? name : "");
}

int ev_parse_methods(const char *list, hflow_eval_method **out, int *n, hflow_error *err) {
    *out = NULL;
    *n = 0;
    char *copy = ev_strdup(list ? list : "");
    hflow_eval_method *m = calloc(strlen(list ? list : "") / 2 + 2, sizeof *m);
    int rc = (!copy || !m) ? hflow_error_set(err, HFLOW_ENOMEM, "out of memory") : 0;
    char *save = NULL;
    for (char *tok = rc ? NULL : strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        ev_trim(tok);
        if (!*tok) continue;
        for (int k = 0; k < *n; k++)
            if (!strcmp(m[k].name, tok)) rc = hflow_error_set(err, HFLOW_EINVAL, "method '%s' listed twice", tok);
        if (!rc) rc = hflow_eval_method_parse(tok, &m[*n], err);
        if (!rc) (*n)++;
    }
    if (!rc && *n == 0) rc = hflow_error_set(err, HFLOW_EINVAL, "no method given");
    free(copy);
    if (rc) {
        free(m);
        *n = 0;
        return rc;
    }
    *out = m;
    return 0;
}

const char *ev_task_type(const hflow_eval_item *item) {
    return item->task ? item->task : hflow_answer_type_name(item->answer_type);
}

void ev_flow_config(const hflow_flow_config *base, hflow_backend *edge, hflow_backend *cloud, int planner_tier,
                    hflow_policy *policy, const hflow_price_table *prices, hflow_flow_config *out) {
    if (base) *out = *base;
    else hflow_flow_config_default(out);
    out->edge = edge;
    out->cloud = cloud;
    out->planner = planner_tier == HFLOW_TIER_CLOUD ? cloud : edge;
    out->policy = policy;
    if (!out->prices) out->prices = prices;
    out->progress = NULL;
    out->progress_user = NULL;
}

static void copy_error(hflow_eval_result *r, const hflow_error *e, int rc) {
    snprintf(r->error, sizeof r->error, "%.150s", e->message[0] ? e->message : hflow_status_name(rc));
}

static int cancelled(const ev_run_ctx *c) { return c->cfg->cancel && *c->cfg->cancel; }

/* One call of `tmpl` filled for the item on `tier`. */
/* Scores an answer by the item's rule; a free-form (text) answer goes to the
 * LLM judge instead when one is configured. A judge that fails leaves the
 * rule-based score and notes why in `extracted`, so no result is lost. */
static void score_into(ev_run_ctx *c, const hflow_eval_item *item, const char *answer, hflow_eval_result *r) {
    hflow_eval_score sc;
    hflow_eval_score_output(item, answer, &sc);
    r->score = sc.score;
    r->correct = sc.correct;
    snprintf(r->extracted, sizeof r->extracted, "%s", sc.extracted);
    if (!c->cfg->judge || item->answer_type != HFLOW_ANSWER_TEXT || (item->task && *item->task)) return;
    const char *names[] = {"question", "gold", "response"};
    const char *vals[] = {item->question, item->gold ? item->gold : "", answer};
    double q = 0;
    hflow_error e;
    hflow_error_clear(&e);
    if (ev_judge_score(c->cfg->judge, c->tmpl_judge, names, vals, 3, c->cfg->cancel, &q, &e) == 0) {
        r->correct = q >= 0.5;
        r->score = r->correct;
        snprintf(r->extracted, sizeof r->extracted, "judge:%s", r->correct ? "correct" : "incorrect");
    } else {
        snprintf(r->extracted, sizeof r->extracted, "judge failed: %.100s", e.message);
    }
}

static int single_call(ev_run_ctx *c, int tier, const char *tmpl, const hflow_eval_item *item, hflow_eval_result *r) {
    const hflow_eval_run_config *cfg = c->cfg;
    hflow_backend *b = tier == HFLOW_TIER_CLOUD ? cfg->cloud : cfg->edge;
    const char *names[] = {"question", "format"};
    const char *vals[] = {item->question, flow_prompt_format_instruction(ev_answer_format(item))};
    char *prompt = ev_fill_template(tmpl, names, vals, 2);
    if (!prompt) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return 0;
    }
    hflow_chat_message msg = {"user", prompt};
    hflow_request req;
    hflow_request_init(&req);
    req.messages = &msg;
    req.n_messages = 1;
    req.max_tokens = cfg->max_tokens > 0 ? cfg->max_tokens : 1024;
    req.temperature = 0;
    req.has_seed = 1;
    /* 31 bits: servers differ in the seeds they take (ours refuses JSON
     * integers beyond 2^53, llama.cpp keeps 32 bits), and every one takes these. */
    req.seed = hflow_id_hash(item->id, cfg->seed) & 0x7fffffffu;
    req.cancel = cfg->cancel;
    req.timeout_s = cfg->timeout_s;
    hflow_response resp;
    hflow_error e;
    hflow_error_clear(&e);
    int rc = hflow_backend_complete(b, &req, &resp, &e);
    free(prompt);
    r->latency_s = resp.latency_s;
    r->ttft_s = resp.ttft_s > 0 ? resp.ttft_s : resp.latency_s;
    r->prompt_tokens[tier] += resp.prompt_tokens;
    r->completion_tokens[tier] += resp.completion_tokens;
    r->calls[tier] += 1;
    if (tier == HFLOW_TIER_CLOUD)
        r->usd += hflow_price_cost(cfg->prices, resp.model[0] ? resp.model : hflow_backend_model(b), resp.prompt_tokens,
                                   resp.completion_tokens);
    if (rc == 0) {
        score_into(c, item, resp.text ? resp.text : "", r);
    } else {
        copy_error(r, &e, rc);
    }
    hflow_response_clear(&resp);
    return rc == HFLOW_ECANCELLED && cancelled(c) ? HFLOW_ECANCELLED : 0;
}

/* Query-level routing: the policy sees the question as one step (index -1),
 * built by the same function as replay scoring and replay-trained routers
 * (the rendered prompt, the category as task type). */
static int routed_call(ev_run_ctx *c, const hflow_eval_item *item, hflow_eval_result *r) {
    hflow_route_features f;
    hflow_query_route_features(item->question, item->category ? item->category : ev_task_type(item), &f);
    f.difficulty = item->difficulty > 0 && item->difficulty <= 9 ? item->difficulty : 0;
    hflow_route_decision d = {HFLOW_TIER_EDGE, 0, NAN, "default"};
    hflow_error e;
    hflow_error_clear(&e);
    if (c->cfg->policy) {
        int rc = hflow_policy_decide(c->cfg->policy, &f, &d, &e);
        if (rc) {
            copy_error(r, &e, rc);
            return 0;
        }
    }
    return single_call(c, d.tier == HFLOW_TIER_CLOUD ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE, c->tmpl_cot, item, r);
}

static int flow_call_method(ev_run_ctx *c, int method, int sequential, const hflow_eval_item *item,
                            hflow_eval_result *r) {
    hflow_query_options opts = {ev_answer_format(item), ev_task_type(item), c->cfg->cancel};
    hflow_flow_result res;
    hflow_error e;
    hflow_error_clear(&e);
    int rc = hflow_flow_run(c->flow[sequential], item->question, &opts, &res, &e);
    if (rc == HFLOW_ECANCELLED && cancelled(c)) {
        hflow_flow_result_clear(&res);
        return HFLOW_ECANCELLED;
    }
    r->latency_s = res.wall_s;
    const hflow_call_record *agg = &res.aggregator;
    r->ttft_s = res.answer_source == 0 && agg->tier >= 0 ? agg->start_s + agg->ttft_s : res.wall_s;
    for (int t = 0; t < 2; t++) {
        r->prompt_tokens[t] = (long)res.usage[t].prompt_tokens;
        r->completion_tokens[t] = (long)res.usage[t].completion_tokens;
        r->calls[t] = res.usage[t].calls;
    }
    r->usd = res.usd;
    r->n_steps = res.n_steps;
    r->depth = res.critical_path;
    if (rc == 0 && res.answer) {
        score_into(c, item, res.answer, r);
    } else {
        copy_error(r, &e, rc ? rc : HFLOW_EINVAL);
    }
    if (c->trace[method]) {
        pthread_mutex_lock(&c->io_mu);
        hflow_trace_write_jsonl(&res, c->trace[method], NULL); /* a trace that fails to write costs no result */
        pthread_mutex_unlock(&c->io_mu);
    }
    hflow_flow_result_clear(&res);
    return 0;
}

int ev_run_one(ev_run_ctx *c, int method, const hflow_eval_item *item, hflow_eval_result *r) {
    const hflow_eval_method *m = &c->methods[method];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", item->id);
    snprintf(r->method, sizeof r->method, "%s", m->name);
    switch (m->kind) {
    case HFLOW_METHOD_DIRECT: return single_call(c, m->tier, c->tmpl_direct, item, r);
    case HFLOW_METHOD_COT: return single_call(c, m->tier, c->tmpl_cot, item, r);
    case HFLOW_METHOD_ROUTE: return routed_call(c, item, r);
    case HFLOW_METHOD_FLOW: return flow_call_method(c, method, 0, item, r);
    default: return flow_call_method(c, method, 1, item, r);
    }
}
