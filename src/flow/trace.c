/* trace.c - a query's record as one JSON line, and as Chrome trace events.
 * Built with cJSON so escaping is never our problem; numbers are seconds in
 * the JSONL and microseconds in the Chrome format (its unit). */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/trace_json.h"
#include "hybridflow/flow.h"

static void add_num(cJSON *o, const char *k, double v) { cJSON_AddNumberToObject(o, k, isfinite(v) ? v : 0); }

cJSON *hflow_trace_call_json(const hflow_call_record *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tier", hflow_tier_name(c->tier));
    cJSON_AddStringToObject(o, "routed_tier", hflow_tier_name(c->routed_tier));
    cJSON_AddStringToObject(o, "model", c->model);
    add_num(o, "prompt_tokens", c->prompt_tokens);
    add_num(o, "completion_tokens", c->completion_tokens);
    add_num(o, "max_tokens", c->max_tokens);
    add_num(o, "ttft_s", c->ttft_s);
    add_num(o, "start_s", c->start_s);
    add_num(o, "end_s", c->end_s);
    add_num(o, "retries", c->retries);
    cJSON_AddBoolToObject(o, "fell_back", c->fell_back);
    add_num(o, "worker", c->worker);
    add_num(o, "route_score", c->route_score);
    if (isfinite(c->route_threshold)) add_num(o, "route_threshold", c->route_threshold);
    cJSON_AddStringToObject(o, "route_reason", c->route_reason ? c->route_reason : "");
    cJSON *b = cJSON_AddObjectToObject(o, "budget");
    add_num(b, "tokens_ratio", c->budget.tokens_ratio);
    add_num(b, "usd_ratio", c->budget.usd_ratio);
    add_num(b, "latency_ratio", c->budget.latency_ratio);
    cJSON_AddStringToObject(o, "note", c->note);
    if (c->grammar[0]) cJSON_AddStringToObject(o, "grammar", c->grammar);
    if (c->cascade) {
        cJSON *k = cJSON_AddObjectToObject(o, "cascade");
        cJSON_AddStringToObject(k, "decision", c->escalated ? "escalated" : "kept");
        cJSON_AddBoolToObject(k, "confidence_known", c->edge_confidence_known);
        add_num(k, "edge_confidence", c->edge_confidence);
        add_num(k, "edge_mean_logprob", c->edge_mean_logprob);
        add_num(k, "edge_prompt_tokens", c->edge_prompt_tokens);
        add_num(k, "edge_completion_tokens", c->edge_completion_tokens);
        add_num(k, "edge_start_s", c->edge_start_s);
        add_num(k, "edge_end_s", c->edge_end_s);
    }
    return o;
}

static cJSON *usage_json(const hflow_tier_usage *u) {
    cJSON *o = cJSON_CreateObject();
    add_num(o, "calls", u->calls);
    add_num(o, "prompt_tokens", (double)u->prompt_tokens);
    add_num(o, "completion_tokens", (double)u->completion_tokens);
    add_num(o, "usd", u->usd);
    add_num(o, "busy_s", u->busy_s);
    return o;
}

static int write_json(cJSON *root, FILE *out, int newline, hflow_error *err) {
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "trace: out of memory");
    int ok = fputs(s, out) >= 0 && (!newline || fputc('\n', out) != EOF);
    free(s);
    if (!ok || fflush(out)) return hflow_error_set(err, HFLOW_EIO, "trace: write failed");
    return 0;
}

int hflow_trace_write_jsonl(const hflow_flow_result *r, FILE *out, hflow_error *err) {
    if (!r || !out) return hflow_error_set(err, HFLOW_EINVAL, "trace: NULL argument");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "question", r->question ? r->question : "");
    cJSON_AddStringToObject(root, "answer", r->answer ? r->answer : "");
    cJSON_AddStringToObject(root, "answer_source", r->answer_source ? "last_step" : "aggregator");
    cJSON_AddStringToObject(root, "mode", hflow_sched_mode_name(r->mode));
    cJSON *plan = cJSON_AddObjectToObject(root, "plan");
    cJSON_AddStringToObject(plan, "text", r->plan_text ? r->plan_text : "");
    cJSON_AddStringToObject(plan, "repairs", r->repair_log ? r->repair_log : "");
    add_num(plan, "n_repairs", r->n_repairs);
    cJSON_AddItemToObject(plan, "call", hflow_trace_call_json(&r->planner));
    add_num(plan, "done_s", r->plan_done_s);
    cJSON *steps = cJSON_AddArrayToObject(root, "steps");
    for (int i = 0; i < r->n_steps; i++) {
        const hflow_step_record *s = &r->steps[i];
        cJSON *o = cJSON_CreateObject();
        add_num(o, "index", s->index);
        add_num(o, "plan_id", s->plan_id);
        cJSON_AddStringToObject(o, "task", s->task);
        cJSON *deps = cJSON_AddArrayToObject(o, "deps");
        for (int m = 0; m < s->n_deps; m++) cJSON_AddItemToArray(deps, cJSON_CreateNumber(s->deps[m]));
        add_num(o, "difficulty", s->difficulty);
        add_num(o, "token_estimate", s->token_estimate);
        add_num(o, "depth", s->depth);
        cJSON_AddStringToObject(o, "state", hflow_step_state_name(s->state));
        add_num(o, "added_s", s->added_s);
        add_num(o, "ready_s", s->ready_s);
        cJSON_AddItemToObject(o, "call", hflow_trace_call_json(&s->call));
        cJSON_AddStringToObject(o, "result", s->result ? s->result : "");
        cJSON_AddItemToArray(steps, o);
    }
    cJSON_AddItemToObject(root, "aggregator", hflow_trace_call_json(&r->aggregator));
    cJSON *tot = cJSON_AddObjectToObject(root, "totals");
    cJSON_AddItemToObject(tot, "edge", usage_json(&r->usage[HFLOW_TIER_EDGE]));
    cJSON_AddItemToObject(tot, "cloud", usage_json(&r->usage[HFLOW_TIER_CLOUD]));
    add_num(tot, "usd", r->usd);
    add_num(tot, "cloud_share", r->cloud_share);
    add_num(tot, "wall_s", r->wall_s);
    add_num(tot, "steps_done_s", r->steps_done_s);
    add_num(tot, "n_steps", r->n_steps);
    add_num(tot, "critical_path", r->critical_path);
    cJSON_AddBoolToObject(tot, "deadline_hit", r->deadline_hit);
    cJSON *lim = cJSON_AddObjectToObject(tot, "limits");
    add_num(lim, "cloud_tokens", (double)r->limits.cloud_tokens);
    add_num(lim, "usd", r->limits.usd);
    add_num(lim, "deadline_s", r->limits.deadline_s);
    cJSON *used = cJSON_AddObjectToObject(tot, "budget_used");
    add_num(used, "cloud_tokens", (double)r->budget_used.cloud_tokens);
    add_num(used, "usd", r->budget_used.usd);
    return write_json(root, out, 1, err);
}

/* Lanes: pid 1 planner, 2 edge, 3 cloud, 4 aggregator; tid = worker slot. */
static void add_event(cJSON *evs, const char *name, int pid, int tid, const hflow_call_record *c, const char *state) {
    if (c->tier < 0 || c->end_s <= 0) return;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "cat", hflow_tier_name(c->tier));
    cJSON_AddStringToObject(e, "ph", "X");
    add_num(e, "ts", c->start_s * 1e6);
    add_num(e, "dur", (c->end_s - c->start_s) * 1e6);
    add_num(e, "pid", pid);
    add_num(e, "tid", tid);
    cJSON *a = cJSON_AddObjectToObject(e, "args");
    cJSON_AddStringToObject(a, "model", c->model);
    cJSON_AddStringToObject(a, "state", state);
    add_num(a, "prompt_tokens", c->prompt_tokens);
    add_num(a, "completion_tokens", c->completion_tokens);
    add_num(a, "ttft_ms", c->ttft_s * 1e3);
    add_num(a, "retries", c->retries);
    cJSON_AddStringToObject(a, "route_reason", c->route_reason ? c->route_reason : "");
    cJSON_AddStringToObject(a, "note", c->note);
    cJSON_AddItemToArray(evs, e);
}

static void add_lane_name(cJSON *evs, int pid, const char *name) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", "process_name");
    cJSON_AddStringToObject(e, "ph", "M");
    add_num(e, "pid", pid);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "args"), "name", name);
    cJSON_AddItemToArray(evs, e);
}

int hflow_trace_write_chrome(const hflow_flow_result *r, FILE *out, hflow_error *err) {
    if (!r || !out) return hflow_error_set(err, HFLOW_EINVAL, "trace: NULL argument");
    cJSON *root = cJSON_CreateObject();
    cJSON *evs = cJSON_AddArrayToObject(root, "traceEvents");
    add_lane_name(evs, 1, "planner");
    add_lane_name(evs, 2, "edge");
    add_lane_name(evs, 3, "cloud");
    add_lane_name(evs, 4, "aggregator");
    add_event(evs, "plan", 1, 0, &r->planner, "done");
    for (int i = 0; i < r->n_steps; i++) {
        const hflow_step_record *s = &r->steps[i];
        char name[96];
        snprintf(name, sizeof name, "step %d: %.60s", i + 1, s->task);
        add_event(evs, name, s->call.tier == HFLOW_TIER_CLOUD ? 3 : 2, s->call.worker, &s->call,
                  hflow_step_state_name(s->state));
        if (s->call.cascade && s->call.escalated) { /* the edge attempt before the escalation */
            hflow_call_record e = s->call;
            e.tier = HFLOW_TIER_EDGE;
            e.start_s = s->call.edge_start_s;
            e.end_s = s->call.edge_end_s;
            e.prompt_tokens = s->call.edge_prompt_tokens;
            e.completion_tokens = s->call.edge_completion_tokens;
            e.model[0] = '\0';
            add_event(evs, name, 2, 0, &e, "escalated");
        }
    }
    add_event(evs, "aggregate", 4, 0, &r->aggregator, r->answer_source ? "failed" : "done");
    cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
    return write_json(root, out, 1, err);
}
