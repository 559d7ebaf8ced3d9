/* profile.c - `hybridflow profile`: per-step edge/cloud outcomes with quality
 * labels for training the subtask-level router (row format in docs/ROUTER.md).
 *
 * Per question the plan is run in n + 2 tier assignments: all-edge, one per
 * step with only that step on the cloud, and all-cloud. Both tiers sit behind
 * a request cache (memo_backend.h), so every variant sees the same plan and
 * the same outputs for every call whose input did not change; a variant costs
 * only the swapped step, its dependents and the aggregator. The features of a
 * row are the ones the policy itself received in the all-edge run (captured
 * by the assignment policy), so training sees exactly what serving will. In
 * cascade mode (the base flow config's cascade) the policy is asked after
 * each step's edge run, so those features hold the edge answer's confidence,
 * as `run --cascade` will give it; a variant's cloud steps are escalations. */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "eval/judge.h"
#include "eval/memo_backend.h"
#include "eval/runner_internal.h"

void hflow_profile_config_default(hflow_profile_config *c) {
    memset(c, 0, sizeof *c);
    c->labeler = HFLOW_LABEL_SWAP;
    c->planner_tier = HFLOW_TIER_EDGE;
    c->aggregate_tier = HFLOW_TIER_EDGE;
}

/* ---- the assignment policy: all-edge, all-cloud or one step swapped ---- */

#define PROF_MAX_STEPS 64
enum { ASSIGN_EDGE = -1, ASSIGN_CLOUD = -2 };

typedef struct assign_impl {
    pthread_mutex_t mu;
    int assign;                  /* ASSIGN_EDGE, ASSIGN_CLOUD or the swapped step index */
    int capture;                 /* record the features seen (all-edge run) */
    hflow_route_features seen[PROF_MAX_STEPS]; /* numeric fields only; strings cleared */
    unsigned char have[PROF_MAX_STEPS];
} assign_impl;

static int assign_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    (void)err;
    assign_impl *im = p->impl;
    pthread_mutex_lock(&im->mu);
    int cloud = im->assign == ASSIGN_CLOUD || (im->assign >= 0 && f->step_index == im->assign);
    if (im->capture && f->step_index >= 0 && f->step_index < PROF_MAX_STEPS) {
        im->seen[f->step_index] = *f;
        im->seen[f->step_index].question = im->seen[f->step_index].task = im->seen[f->step_index].task_type = NULL;
        im->have[f->step_index] = 1;
    }
    pthread_mutex_unlock(&im->mu);
    out->tier = cloud ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    out->score = cloud;
    out->threshold = NAN;
    out->reason = "profile";
    return 0;
}

static void assign_destroy(hflow_policy *p) { (void)p; }
static const hflow_policy_vtable assign_vt = {"profile-assign", assign_decide, assign_destroy};

/* ---- one question ---- */

typedef struct prof_ctx {
    const hflow_profile_config *cfg;
    hflow_backend *memo[2];
    hflow_policy policy;
    assign_impl assign;
    hflow_flow *flow;
    char *judge_tmpl;
    FILE *out;
} prof_ctx;

static int run_variant(prof_ctx *c, const hflow_eval_item *item, int assign, hflow_flow_result *res, double *score,
                       hflow_error *err) {
    pthread_mutex_lock(&c->assign.mu);
    c->assign.assign = assign;
    c->assign.capture = assign == ASSIGN_EDGE;
    pthread_mutex_unlock(&c->assign.mu);
    hflow_query_options opts = {ev_answer_format(item), ev_task_type(item), c->cfg->cancel};
    int rc = hflow_flow_run(c->flow, item->question, &opts, res, err);
    *score = 0;
    if (rc == 0 && res->answer) {
        hflow_eval_score sc;
        hflow_eval_score_output(item, res->answer, &sc);
        *score = sc.score;
    }
    return rc;
}

/* "Score: N" (the last one), else the last integer; rating / 10 in [0, 1]. */
static int judge_step(prof_ctx *c, const hflow_eval_item *item, const char *task, const char *answer, double *q,
                      hflow_error *err) {
    const char *names[] = {"question", "task", "answer"};
    const char *vals[] = {item->question, task, answer ? answer : "(no answer)"};
    return ev_judge_score(c->cfg->judge ? c->cfg->judge : c->cfg->cloud, c->judge_tmpl, names, vals, 3, c->cfg->cancel,
                          q, err);
}

static void add_tier(cJSON *row, const char *name, double quality, const hflow_step_record *s) {
    cJSON *t = cJSON_AddObjectToObject(row, name);
    cJSON_AddNumberToObject(t, "quality", quality);
    cJSON_AddNumberToObject(t, "latency_s", s->call.end_s > s->call.start_s ? s->call.end_s - s->call.start_s : 0);
    cJSON_AddNumberToObject(t, "tokens", (double)s->call.prompt_tokens + s->call.completion_tokens);
    cJSON_AddNumberToObject(t, "prompt_tokens", s->call.prompt_tokens);
    cJSON_AddNumberToObject(t, "completion_tokens", s->call.completion_tokens);
    cJSON_AddStringToObject(t, "model", s->call.model);
    cJSON_AddStringToObject(t, "output", s->result ? s->result : "");
}

typedef struct step_labels {
    double q[2];        /* [edge, cloud] */
    double swapped;     /* final score with this step alone on the cloud */
} step_labels;

static int write_row(prof_ctx *c, const hflow_eval_item *item, int i, const hflow_flow_result *edge_run,
                     const hflow_step_record *cloud_step, const step_labels *l, double all_edge, double all_cloud,
                     hflow_error *err) {
    const hflow_step_record *s = &edge_run->steps[i];
    const hflow_route_features *f = &c->assign.seen[i];
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "qid", item->id);
    cJSON_AddStringToObject(row, "question", item->question);
    cJSON_AddStringToObject(row, "task", s->task);
    cJSON_AddStringToObject(row, "task_type", ev_task_type(item));
    cJSON_AddNumberToObject(row, "step_index", i);
    cJSON_AddNumberToObject(row, "n_steps", c->assign.have[i] ? f->n_steps : edge_run->n_steps);
    cJSON_AddNumberToObject(row, "n_deps", s->n_deps);
    cJSON_AddNumberToObject(row, "depth", s->depth);
    cJSON_AddNumberToObject(row, "difficulty", s->difficulty);
    cJSON_AddNumberToObject(row, "token_estimate", s->token_estimate);
    cJSON_AddBoolToObject(row, "is_first", c->assign.have[i] ? f->is_first : i == 0);
    cJSON_AddBoolToObject(row, "is_last", c->assign.have[i] ? f->is_last : i == edge_run->n_steps - 1);
    /* Cascade profiles (flow.cascade): the confidence the policy saw after the edge answered. */
    cJSON_AddNumberToObject(row, "edge_confidence", c->assign.have[i] ? f->edge_confidence : -1);
    cJSON_AddNumberToObject(row, "edge_answer_tokens", c->assign.have[i] ? f->edge_answer_tokens : 0);
    cJSON *b = cJSON_AddObjectToObject(row, "budget");
    cJSON_AddNumberToObject(b, "tokens_ratio", c->assign.have[i] ? f->budget.tokens_ratio : 0);
    cJSON_AddNumberToObject(b, "usd_ratio", c->assign.have[i] ? f->budget.usd_ratio : 0);
    cJSON_AddNumberToObject(b, "latency_ratio", c->assign.have[i] ? f->budget.latency_ratio : 0);
    cJSON_AddStringToObject(row, "labeler", c->cfg->labeler == HFLOW_LABEL_JUDGE ? "judge" : "swap");
    add_tier(row, "edge", l->q[0], s);
    add_tier(row, "cloud", l->q[1], cloud_step);
    cJSON *fin = cJSON_AddObjectToObject(row, "final");
    cJSON_AddNumberToObject(fin, "all_edge", all_edge);
    cJSON_AddNumberToObject(fin, "swapped", l->swapped);
    cJSON_AddNumberToObject(fin, "all_cloud", all_cloud);
    char *txt = cJSON_PrintUnformatted(row);
    cJSON_Delete(row);
    int ok = txt && fprintf(c->out, "%s\n", txt) > 0;
    free(txt);
    if (!ok) return hflow_error_set(err, HFLOW_EIO, "profile: write failed");
    return 0;
}

/* All variants of one question, then its rows (written only when every
 * variant ran, so a resumed profile never holds half a question). */
static int profile_question(prof_ctx *c, const hflow_eval_item *item, hflow_profile_stats *st, hflow_error *err) {
    ev_memo_backend_reset(c->memo[0]);
    ev_memo_backend_reset(c->memo[1]);
    memset(c->assign.have, 0, sizeof c->assign.have);
    hflow_flow_result base, all_cloud;
    double s_edge, s_cloud;
    int rc = run_variant(c, item, ASSIGN_EDGE, &base, &s_edge, err);
    int n = base.n_steps < PROF_MAX_STEPS ? base.n_steps : PROF_MAX_STEPS;
    hflow_flow_result *swap = calloc((size_t)n + 1, sizeof *swap);
    step_labels *lab = calloc((size_t)n + 1, sizeof *lab);
    int n_swap = 0;
    if (!rc && (!swap || !lab)) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (; !rc && n_swap < n; n_swap++) {
        rc = run_variant(c, item, n_swap, &swap[n_swap], &lab[n_swap].swapped, err);
        if (!rc && swap[n_swap].n_steps != base.n_steps)
            rc = hflow_error_set(err, HFLOW_ESTATE, "plan changed between variants");
        lab[n_swap].q[0] = s_edge;
        lab[n_swap].q[1] = lab[n_swap].swapped;
    }
    int ran_cloud = !rc;
    if (!rc) rc = run_variant(c, item, ASSIGN_CLOUD, &all_cloud, &s_cloud, err);
    for (int i = 0; !rc && c->cfg->labeler == HFLOW_LABEL_JUDGE && i < n; i++) {
        rc = judge_step(c, item, base.steps[i].task, base.steps[i].result, &lab[i].q[0], err);
        if (!rc) rc = judge_step(c, item, swap[i].steps[i].task, swap[i].steps[i].result, &lab[i].q[1], err);
    }
    for (int i = 0; !rc && i < n; i++)
        rc = write_row(c, item, i, &base, &swap[i].steps[i], &lab[i], s_edge, s_cloud, err);
    if (!rc) {
        fflush(c->out);
        st->rows += (size_t)n;
        st->acc_all_edge += s_edge;
        st->acc_all_cloud += s_cloud;
    }
    for (int i = 0; i < n_swap; i++) hflow_flow_result_clear(&swap[i]);
    if (ran_cloud) hflow_flow_result_clear(&all_cloud);
    hflow_flow_result_clear(&base);
    free(swap);
    free(lab);
    return rc;
}

/* ---- resume: question ids already in the profile ---- */

static int seen_qid(char **ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id)) return 1;
    return 0;
}

static int load_qids(const char *path, char ***ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0, cap_ids = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) >= 0) {
        cJSON *o = cJSON_Parse(line);
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "qid"));
        if (q && !seen_qid(*ids, *n, q)) {
            if (*n == cap_ids) {
                cap_ids = cap_ids ? cap_ids * 2 : 64;
                char **g = realloc(*ids, cap_ids * sizeof *g);
                if (!g) rc = -1;
                else *ids = g;
            }
            if (!rc && !((*ids)[*n] = strdup(q))) rc = -1;
            if (!rc) (*n)++;
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    return rc;
}

static int prof_setup(prof_ctx *c, hflow_error *err) {
    const hflow_profile_config *cfg = c->cfg;
    int rc = ev_memo_backend_create(cfg->edge, &c->memo[0], err);
    if (!rc) rc = ev_memo_backend_create(cfg->cloud, &c->memo[1], err);
    if (!rc && cfg->labeler == HFLOW_LABEL_JUDGE) rc = ev_read_prompt(cfg->prompts_dir, "judge_step.txt", &c->judge_tmpl, err);
    c->policy.vt = &assign_vt;
    c->policy.impl = &c->assign;
    snprintf(c->policy.name, sizeof c->policy.name, "profile-assign");
    if (!rc) {
        hflow_flow_config fc;
        ev_flow_config(cfg->flow, c->memo[0], c->memo[1], cfg->planner_tier, &c->policy, NULL, &fc);
        fc.force_first_cloud = fc.force_last_cloud = 0;
        fc.aggregate_tier = cfg->aggregate_tier;
        fc.mode = HFLOW_SCHED_COMPLETION;
        rc = hflow_flow_create(&fc, &c->flow, err);
    }
    if (!rc && !(c->out = fopen(cfg->out_path, "a"))) rc = hflow_error_set(err, HFLOW_EIO, "cannot open %s", cfg->out_path);
    return rc;
}

int hflow_profile_run(const hflow_profile_config *cfg, hflow_profile_stats *st, hflow_error *err) {
    hflow_profile_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (!cfg || !cfg->dataset || !cfg->edge || !cfg->cloud || !cfg->out_path)
        return hflow_error_set(err, HFLOW_EINVAL, "profile: dataset, edge, cloud and out_path are required");
    if (cfg->aggregate_tier != HFLOW_TIER_EDGE && cfg->aggregate_tier != HFLOW_TIER_CLOUD)
        return hflow_error_set(err, HFLOW_EINVAL, "profile: aggregate_tier must be edge or cloud");
    prof_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    pthread_mutex_init(&c.assign.mu, NULL);
    char **done = NULL;
    size_t n_done = 0;
    int rc = load_qids(cfg->out_path, &done, &n_done) ? hflow_error_set(err, HFLOW_ENOMEM, "out of memory") : 0;
    if (!rc) rc = prof_setup(&c, err);
    size_t n_items = cfg->limit && cfg->limit < cfg->dataset->n ? cfg->limit : cfg->dataset->n;
    hflow_eval_progress prog = {0};
    for (size_t i = 0; i < n_items; i++) prog.total += !seen_qid(done, n_done, cfg->dataset->items[i].id);
    prog.resumed = n_items - prog.total;
    st->resumed = prog.resumed;
    size_t scored = 0;
    for (size_t i = 0; i < n_items && !rc; i++) {
        const hflow_eval_item *item = &cfg->dataset->items[i];
        if (seen_qid(done, n_done, item->id)) continue;
        if (cfg->cancel && *cfg->cancel) {
            rc = hflow_error_set(err, HFLOW_ECANCELLED, "profile: cancelled");
            break;
        }
        hflow_error qe;
        hflow_error_clear(&qe);
        int qrc = profile_question(&c, item, st, &qe);
        if (qrc == HFLOW_ECANCELLED && cfg->cancel && *cfg->cancel) {
            rc = hflow_error_set(err, HFLOW_ECANCELLED, "profile: cancelled");
            break;
        }
        if (qrc == HFLOW_EIO) { /* the output file failed: nothing more can be recorded */
            rc = qrc;
            if (err) *err = qe;
            break;
        }
        st->questions++;
        if (qrc) st->errors++;
        else scored++;
        prog.done++;
        prog.errors = st->errors;
        if (cfg->progress) cfg->progress(cfg->progress_user, &prog);
    }
    if (scored) {
        st->acc_all_edge /= (double)scored;
        st->acc_all_cloud /= (double)scored;
    }
    if (c.memo[0]) st->backend_calls[0] = (size_t)ev_memo_backend_misses(c.memo[0]);
    if (c.memo[1]) st->backend_calls[1] = (size_t)ev_memo_backend_misses(c.memo[1]);
    if (c.out) fclose(c.out);
    hflow_flow_free(c.flow);
    hflow_backend_free(c.memo[0]);
    hflow_backend_free(c.memo[1]);
    pthread_mutex_destroy(&c.assign.mu);
    free(c.judge_tmpl);
    for (size_t i = 0; i < n_done; i++) free(done[i]);
    free(done);
    return rc;
}
