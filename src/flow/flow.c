/* flow.c - the orchestrator's public face: config, create/free, and one query
 * end to end (planner streaming into the scheduler, aggregator, result). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "flow/flow_internal.h"
#include "flow/prompt.h"

void hflow_flow_config_default(hflow_flow_config *c) {
    memset(c, 0, sizeof *c);
    c->mode = HFLOW_SCHED_COMPLETION;
    c->dispatch_while_planning = 1;
    c->edge_concurrency = 1;
    c->cloud_concurrency = 4;
    c->max_steps = 8;
    c->min_step_tokens = 32;
    c->max_step_tokens = 1024;
    c->default_step_tokens = 256;
    c->token_slack = 1.5;
    c->planner_max_tokens = 1024;
    c->aggregator_max_tokens = 512;
    c->aggregate_tier = -1;
    c->temperature = 0;
    c->step_retries = 1;
    c->retry_backoff_s = 0.05;
    c->aggregate_reserve_s = -1;
    c->constrain_plan = 1;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hflow_strbuf_append(&b, chunk, n);
    fclose(f);
    if (b.oom || !b.data) {
        hflow_strbuf_free(&b);
        return NULL;
    }
    return hflow_strbuf_take(&b);
}

int hflow_flow_create(const hflow_flow_config *cfg, hflow_flow **out, hflow_error *err) {
    *out = NULL;
    if (!cfg || (!cfg->edge && !cfg->cloud))
        return hflow_error_set(err, HFLOW_EINVAL, "flow: needs an edge or a cloud backend");
    if (cfg->max_steps < 1 || cfg->max_steps > 64 || cfg->edge_concurrency < 1 || cfg->cloud_concurrency < 1 ||
        cfg->mode < 0 || cfg->mode > 2 || cfg->min_step_tokens < 1 || cfg->max_step_tokens < cfg->min_step_tokens ||
        cfg->step_retries < 0 || cfg->aggregate_tier > 1)
        return hflow_error_set(err, HFLOW_EINVAL, "flow: config out of range");
    if (cfg->policy && (cfg->policy->flags & HFLOW_POLICY_NEEDS_CONFIDENCE) && !cfg->cascade)
        return hflow_error_set(err, HFLOW_EINVAL,
                               "flow: policy '%s' decides on the edge answer's confidence, which only cascade mode "
                               "provides: enable hflow_flow_config.cascade (--cascade in hybridflow run and eval)",
                               cfg->policy->name);
    if (cfg->policy && (cfg->policy->flags & HFLOW_POLICY_NEEDS_EDGE_ANSWER) && !cfg->cascade)
        return hflow_error_set(err, HFLOW_EINVAL,
                               "flow: policy '%s' is a cascade router (it decides on the edge's answer), which only "
                               "cascade mode provides: enable hflow_flow_config.cascade (--cascade in hybridflow run "
                               "and eval)",
                               cfg->policy->name);
    hflow_flow *f = calloc(1, sizeof *f);
    if (!f) return hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    f->cfg = *cfg;
    if (!f->cfg.planner) f->cfg.planner = cfg->edge ? cfg->edge : cfg->cloud;
    const char *path = cfg->planner_template_path ? cfg->planner_template_path : HFLOW_SOURCE_DIR "/prompts/planner.txt";
    f->planner_tmpl = read_text(path);
    if (!f->planner_tmpl) {
        free(f);
        return hflow_error_set(err, HFLOW_EIO, "flow: cannot read planner template %s", path);
    }
    f->cfg.planner_template_path = NULL; /* borrowed pointer not kept */
    *out = f;
    return 0;
}

void hflow_flow_free(hflow_flow *f) {
    if (!f) return;
    free(f->planner_tmpl);
    free(f);
}

/* ---- planner ---- */

typedef struct planner_stream {
    flow_query *q;
    hflow_strbuf text;   /* everything streamed so far */
    flow_plan_parser *parser;
} planner_stream;

static int parser_step(void *user, const flow_raw_step *raw) {
    return flow_sched_add_step_locked(user, raw);
}

static int planner_delta(void *user, const char *text, size_t len) {
    planner_stream *ps = user;
    hflow_strbuf_append(&ps->text, text, len);
    pthread_mutex_lock(&ps->q->mu);
    int rc = flow_plan_parser_feed(ps->parser, text, len);
    pthread_mutex_unlock(&ps->q->mu);
    if (rc) ps->q->oom = 1;
    return 0;
}

/* The constraint for a planner call on backend b: the plan grammar when b
 * applies grammars (the in-process engine, or `hybridflow serve` over HTTP
 * when the backend was told the server is ours). Other remote planners run
 * unconstrained: OpenAI's response_format can only demand JSON, and the plan
 * format is XML-like, so the tolerant streaming parser and the DAG repairs
 * are what keep their plans usable. */
static const char *planner_grammar(const flow_query *q, const hflow_backend *b, char *buf, size_t cap) {
    if (!q->cfg->constrain_plan || !hflow_backend_has_grammar(b)) return NULL;
    snprintf(buf, cap, "plan:%d", q->cfg->max_steps);
    return buf;
}

static int planner_tier(const flow_query *q) {
    const hflow_flow_config *c = q->cfg;
    return c->cloud && c->planner == c->cloud ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
}

/* Runs the planner, streaming its plan into the scheduler. Never fails the
 * query: a planner failure leaves an empty plan, which R9 turns into a
 * direct answer. */
static void run_planner(flow_query *q, hflow_flow_result *out) {
    const hflow_flow_config *c = q->cfg;
    planner_stream ps = {q, {0}, NULL};
    hflow_strbuf_init(&ps.text);
    ps.parser = flow_plan_parser_create(parser_step, q);
    char *prompt = flow_prompt_planner(q->f->planner_tmpl, q->question, c->max_steps);
    hflow_call_record *rec = &out->planner;
    rec->tier = rec->routed_tier = planner_tier(q);
    rec->route_reason = "planner";
    pthread_mutex_lock(&q->mu);
    flow_emit(q, HFLOW_EV_PLAN_STARTED, -1, rec->tier, 0);
    pthread_mutex_unlock(&q->mu);
    char *text = NULL;
    if (ps.parser && prompt) {
        hflow_error e;
        int tier = rec->tier;
        char gbuf[32];
        int rc = flow_call_grammar(q, tier, c->planner, NULL, prompt, c->planner_max_tokens, planner_delta, &ps,
                                   c->step_retries, planner_grammar(q, c->planner, gbuf, sizeof gbuf), rec, &text, &e);
        if (rc == HFLOW_EBUDGET && tier == HFLOW_TIER_CLOUD && c->edge && ps.text.len == 0) {
            rec->fell_back = 1;
            flow_note(rec, "planner moved to the edge (budget)");
            rc = flow_call_grammar(q, HFLOW_TIER_EDGE, c->edge, NULL, prompt, c->planner_max_tokens, planner_delta, &ps,
                                   c->step_retries, planner_grammar(q, c->edge, gbuf, sizeof gbuf), rec, &text, &e);
        }
        if (rc) flow_note(rec, "planner failed: %s", e.message);
        /* A backend that does not stream delivers the text only at the end. */
        if (text && strlen(text) > ps.text.len && !strncmp(text, ps.text.data ? ps.text.data : "", ps.text.len))
            planner_delta(&ps, text + ps.text.len, strlen(text) - ps.text.len);
    } else {
        q->oom = 1;
    }
    pthread_mutex_lock(&q->mu);
    if (ps.parser) flow_plan_parser_finish(ps.parser);
    pthread_mutex_unlock(&q->mu);
    flow_plan_parser_free(ps.parser);
    free(prompt);
    free(text);
    out->plan_text = ps.text.data ? hflow_strbuf_take(&ps.text) : strdup("");
    hflow_strbuf_free(&ps.text);
    out->plan_done_s = flow_rel(q);
    flow_sched_plan_done(q);
}

/* ---- aggregator ---- */

static int run_aggregator(flow_query *q, hflow_flow_result *out, hflow_error *err) {
    const hflow_flow_config *c = q->cfg;
    char **results = calloc((size_t)q->dag.n + 1, sizeof *results);
    if (!results) return hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    for (int k = 0; k < q->dag.n; k++) results[k] = q->runs[k].result;
    char *prompt = flow_prompt_aggregate(q->question, &q->dag, results, q->opts.answer_format);
    free(results);
    if (!prompt) return hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    hflow_call_record *rec = &out->aggregator;
    int tier = c->aggregate_tier >= 0 ? c->aggregate_tier : (c->cloud ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE);
    if (!q->backend[tier]) tier = !tier;
    rec->routed_tier = tier;
    rec->route_reason = "aggregator";
    flow_budget_state_max(q->budgets, 2, &rec->budget);
    pthread_mutex_lock(&q->mu);
    flow_emit(q, HFLOW_EV_AGGREGATE_STARTED, -1, tier, 0);
    pthread_mutex_unlock(&q->mu);
    /* The aggregator may use the time kept in reserve for it. */
    q->call_deadline = q->deadline;
    if (!q->user_cancelled) q->cancel_calls = 0;
    char *text = NULL;
    int rc = flow_call(q, tier, NULL, flow_aggregate_system_prompt, prompt, c->aggregator_max_tokens, NULL, NULL,
                       c->step_retries, rec, &text, err);
    if (rc && rc != HFLOW_ECANCELLED && q->backend[!tier]) {
        rec->fell_back = 1;
        flow_note(rec, "fallback %s->%s", hflow_tier_name(tier), hflow_tier_name(!tier));
        rc = flow_call(q, !tier, NULL, flow_aggregate_system_prompt, prompt, c->aggregator_max_tokens, NULL, NULL,
                       c->step_retries, rec, &text, err);
    }
    free(prompt);
    if (!rc) {
        out->answer = text;
        out->answer_source = 0;
        return 0;
    }
    /* Out of time or tiers: the last finished step (the synthesis, when the
     * plan follows the prompt) is the best answer there is. */
    for (int k = q->dag.n - 1; k >= 0; k--)
        if (q->runs[k].state == HFLOW_STEP_DONE && q->runs[k].result) {
            out->answer = strdup(q->runs[k].result);
            out->answer_source = 1;
            flow_note(rec, "answer taken from step %d", q->dag.steps[k]->id);
            if (!out->answer) return hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
            hflow_error_clear(err);
            return 0;
        }
    return rc;
}

/* ---- result ---- */

static int fill_steps(flow_query *q, hflow_flow_result *out) {
    out->n_steps = q->dag.n;
    out->steps = calloc((size_t)q->dag.n + 1, sizeof *out->steps);
    if (!out->steps) return -1;
    for (int i = 0; i < q->dag.n; i++) {
        const flow_step *s = q->dag.steps[i];
        flow_step_run *r = &q->runs[i];
        hflow_step_record *o = &out->steps[i];
        o->index = i;
        o->plan_id = s->plan_id;
        o->task = strdup(s->task);
        o->deps = malloc(((size_t)s->n_deps + 1) * sizeof *o->deps);
        if (!o->task || !o->deps) return -1;
        memcpy(o->deps, s->deps, (size_t)s->n_deps * sizeof *o->deps);
        o->n_deps = s->n_deps;
        o->difficulty = s->difficulty;
        o->token_estimate = s->token_estimate;
        o->depth = s->depth;
        o->state = r->state;
        o->added_s = r->added_s;
        o->ready_s = r->ready_s;
        o->result = r->result;
        r->result = NULL;
        o->call = r->rec;
        if (o->call.end_s > out->steps_done_s) out->steps_done_s = o->call.end_s;
    }
    return 0;
}

int hflow_flow_run(hflow_flow *f, const char *question, const hflow_query_options *opts, hflow_flow_result *out,
                   hflow_error *err) {
    if (!out) return hflow_error_set(err, HFLOW_EINVAL, "flow run: out is NULL");
    memset(out, 0, sizeof *out);
    out->planner.tier = out->aggregator.tier = -1;
    if (!f || !question) return hflow_error_set(err, HFLOW_EINVAL, "flow run: NULL argument");
    flow_query q;
    int rc = flow_query_init(&q, f, question, opts, err);
    out->question = strdup(question);
    if (!rc && !out->question) rc = hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    if (!rc) rc = flow_sched_start(&q, err);
    if (rc) {
        flow_query_destroy(&q);
        return rc;
    }
    run_planner(&q, out);
    flow_sched_wait(&q);
    /* Calls that timed out at the deadline may finish every step before the
     * waiter sees the clock pass it; the deadline still cut the work. */
    if (hflow_now_s() >= q.step_deadline) q.deadline_hit = 1;
    if (q.user_cancelled) {
        rc = hflow_error_set(err, HFLOW_ECANCELLED, "flow: cancelled");
    } else {
        rc = run_aggregator(&q, out, err);
    }
    if (!rc && q.oom) rc = hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    if (fill_steps(&q, out) && !rc) rc = hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    out->critical_path = flow_dag_critical_path(&q.dag);
    out->repair_log = strdup(q.dag.log.data ? q.dag.log.data : "");
    out->n_repairs = q.dag.n_repairs;
    memcpy(out->usage, q.usage, sizeof out->usage);
    out->usd = q.usage[0].usd + q.usage[1].usd;
    int64_t cloud = q.usage[1].prompt_tokens + q.usage[1].completion_tokens;
    int64_t all = cloud + q.usage[0].prompt_tokens + q.usage[0].completion_tokens;
    out->cloud_share = all ? (double)cloud / (double)all : 0;
    out->deadline_hit = q.deadline_hit;
    out->mode = f->cfg.mode;
    hflow_budget_get_usage(q.qbudget, &out->budget_used);
    out->limits = f->cfg.query_limits;
    out->wall_s = flow_rel(&q);
    pthread_mutex_lock(&q.mu);
    flow_emit(&q, HFLOW_EV_DONE, -1, -1, 0);
    pthread_mutex_unlock(&q.mu);
    flow_query_destroy(&q);
    return rc;
}

void hflow_flow_result_clear(hflow_flow_result *r) {
    if (!r) return;
    for (int i = 0; r->steps && i < r->n_steps; i++) {
        free(r->steps[i].task);
        free(r->steps[i].deps);
        free(r->steps[i].result);
    }
    free(r->steps);
    free(r->question);
    free(r->answer);
    free(r->plan_text);
    free(r->repair_log);
    memset(r, 0, sizeof *r);
}

const char *hflow_tier_name(int tier) {
    return tier == HFLOW_TIER_EDGE ? "edge" : tier == HFLOW_TIER_CLOUD ? "cloud" : "none";
}

const char *hflow_step_state_name(int state) {
    static const char *const names[] = {"pending", "ready", "running", "done", "failed", "skipped"};
    return state >= 0 && state <= 5 ? names[state] : "?";
}

const char *hflow_sched_mode_name(int mode) {
    static const char *const names[] = {"completion", "waves", "sequential"};
    return mode >= 0 && mode <= 2 ? names[mode] : "?";
}

int hflow_sched_mode_parse(const char *s) {
    for (int m = 0; m <= 2; m++)
        if (s && !strcmp(s, hflow_sched_mode_name(m))) return m;
    return -1;
}
