/* scheduler.c - completion-driven dispatch over per-tier worker threads.
 *
 * One mutex guards the query. Whenever something changes (a step is added by
 * the streaming parser, a step finishes, the plan ends) dispatch_ready() looks
 * for pending steps whose own dependencies are all finished, routes each one
 * (policy + forced rules + budget state), builds its prompt and puts it on its
 * tier's queue. Each tier has as many worker threads as its concurrency limit,
 * so the limit holds without counting. Waves and sequential modes only change
 * WHEN dispatch_ready may release steps, which keeps the ablation honest: the
 * rest of the machinery is identical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "flow/flow_internal.h"
#include "flow/prompt.h"

void flow_emit(flow_query *q, int kind, int step, int tier, int state) {
    if (!q->cfg->progress) return;
    hflow_flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.step = step;
    ev.n_steps = q->dag.n;
    ev.tier = tier;
    ev.state = state;
    ev.t_s = flow_rel(q);
    if (step >= 0 && step < q->dag.n) {
        ev.task = q->dag.steps[step]->task;
        ev.deps = q->dag.steps[step]->deps;
        ev.n_deps = q->dag.steps[step]->n_deps;
    }
    q->cfg->progress(q->cfg->progress_user, &ev);
}

int flow_query_init(flow_query *q, const hflow_flow *f, const char *question, const hflow_query_options *opts,
                    hflow_error *err) {
    memset(q, 0, sizeof *q);
    q->f = f;
    q->cfg = &f->cfg;
    q->question = question;
    if (opts) q->opts = *opts;
    q->t0 = hflow_now_s();
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    flow_dag_init(&q->dag, q->cfg->max_steps);
    int cap = q->cfg->max_steps + 1;
    q->runs = calloc((size_t)cap, sizeof *q->runs);
    q->queue[0] = calloc((size_t)cap, sizeof(int));
    q->queue[1] = calloc((size_t)cap, sizeof(int));
    q->backend[HFLOW_TIER_EDGE] = q->cfg->edge;
    q->backend[HFLOW_TIER_CLOUD] = q->cfg->cloud;
    if (!q->runs || !q->queue[0] || !q->queue[1]) return hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    int rc = hflow_budget_create(&q->cfg->query_limits, &q->qbudget, err);
    if (rc) return rc;
    q->budgets[0] = q->qbudget;
    q->budgets[1] = q->cfg->run_budget;
    /* The query ends at the earlier of its own deadline and the run's. */
    double left = fmin(flow_budget_remaining_s(q->qbudget), flow_budget_remaining_s(q->cfg->run_budget));
    q->deadline = q->t0 + left;
    double reserve = 0;
    if (isfinite(left)) reserve = q->cfg->aggregate_reserve_s >= 0 ? q->cfg->aggregate_reserve_s : 0.1 * left;
    q->step_deadline = q->deadline - reserve;
    q->call_deadline = q->step_deadline;
    return 0;
}

void flow_query_destroy(flow_query *q) {
    int cap = q->cfg->max_steps + 1;
    for (int i = 0; q->runs && i < cap; i++) {
        free(q->runs[i].prompt);
        free(q->runs[i].result);
        free(q->runs[i].edge_result);
    }
    free(q->runs);
    free(q->queue[0]);
    free(q->queue[1]);
    free(q->threads);
    free(q->workers);
    hflow_budget_free(q->qbudget);
    flow_dag_free(&q->dag);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

static int deps_finished(const flow_query *q, int i) {
    const flow_step *s = q->dag.steps[i];
    for (int m = 0; m < s->n_deps; m++) {
        int st = q->runs[s->deps[m]].state;
        if (st != HFLOW_STEP_DONE && st != HFLOW_STEP_FAILED) return 0;
    }
    return 1;
}

static void enqueue(flow_query *q, int i, int tier) {
    int cap = q->cfg->max_steps + 1;
    q->queue[tier][(q->qhead[tier] + q->qlen[tier]) % cap] = i;
    q->qlen[tier]++;
    q->runs[i].tier = tier;
    q->runs[i].state = HFLOW_STEP_READY;
    pthread_cond_broadcast(&q->cv);
}

static int pop(flow_query *q, int tier) {
    int cap = q->cfg->max_steps + 1;
    int i = q->queue[tier][q->qhead[tier]];
    q->qhead[tier] = (q->qhead[tier] + 1) % cap;
    q->qlen[tier]--;
    return i;
}

/* The features a policy sees for step i now (caller holds q->mu). */
static void step_features(flow_query *q, int i, hflow_route_features *f) {
    const flow_step *s = q->dag.steps[i];
    memset(f, 0, sizeof *f);
    f->question = q->question;
    f->task = s->task;
    f->task_type = q->opts.task_type;
    f->step_index = i;
    f->n_steps = q->dag.n;
    f->n_deps = s->n_deps;
    f->depth = s->depth;
    f->difficulty = s->difficulty;
    f->token_estimate = s->token_estimate;
    f->is_first = i == 0;
    f->is_last = q->plan_done && i == q->dag.n - 1; /* unknown while the plan still streams */
    f->edge_confidence = -1;
    flow_budget_state_max(q->budgets, 2, &f->budget);
}

/* Asks the configured policy (d keeps its default when there is none or it fails). */
static void ask_policy(flow_query *q, hflow_call_record *rec, const hflow_route_features *f, hflow_route_decision *d) {
    if (!q->cfg->policy) return;
    hflow_error e;
    if (hflow_policy_decide(q->cfg->policy, f, d, &e)) {
        d->tier = HFLOW_TIER_EDGE;
        d->reason = "policy-error";
        flow_note(rec, "policy failed: %s", e.message);
    }
}

static void record_decision(hflow_call_record *rec, int tier, const hflow_route_decision *d,
                            const hflow_route_features *f) {
    rec->routed_tier = tier;
    rec->route_score = d->score;
    rec->route_threshold = d->threshold;
    rec->route_reason = d->reason;
    rec->budget = f->budget;
}

/* Picks a tier for step i and records why (caller holds q->mu). In cascade
 * mode the policy is not asked yet: the step goes to the edge first and
 * cascade_decide asks once the edge's answer and confidence are known. */
static int route_step(flow_query *q, int i) {
    const hflow_flow_config *c = q->cfg;
    hflow_call_record *rec = &q->runs[i].rec;
    hflow_route_features f;
    step_features(q, i, &f);
    int cascade = c->cascade && q->backend[HFLOW_TIER_EDGE];
    hflow_route_decision d = {HFLOW_TIER_EDGE, 0, NAN, cascade ? "cascade-edge-first" : "default-edge"};
    if (!cascade) ask_policy(q, rec, &f, &d);
    if (c->force_first_cloud && f.is_first) d.tier = HFLOW_TIER_CLOUD, d.reason = "forced-first";
    if (c->force_last_cloud && f.is_last) d.tier = HFLOW_TIER_CLOUD, d.reason = "forced-last";
    int tier = d.tier == HFLOW_TIER_CLOUD ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    if (!q->backend[tier]) {
        tier = !tier;
        d.reason = tier == HFLOW_TIER_EDGE ? "no-cloud" : "no-edge";
    }
    rec->cascade = cascade && tier == HFLOW_TIER_EDGE;
    rec->edge_confidence = -1;
    record_decision(rec, tier, &d, &f);
    rec->tier = -1;
    return tier;
}

/* Cascade, after the edge answered step i: the policy decides with the
 * answer's confidence and length whether to keep it or escalate to the cloud
 * (an empty answer is escalated without asking); records
 * the edge attempt and the decision (caller holds q->mu). */
static int cascade_decide(flow_query *q, int i, const flow_confidence *conf) {
    hflow_call_record *rec = &q->runs[i].rec;
    hflow_route_features f;
    step_features(q, i, &f);
    f.edge_confidence = conf->known ? exp(conf->mean_logprob) : -1;
    f.edge_answer_tokens = (double)rec->completion_tokens; /* the edge's answer, just recorded */
    rec->edge_confidence_known = conf->known;
    rec->edge_mean_logprob = conf->known ? conf->mean_logprob : 0;
    rec->edge_confidence = f.edge_confidence;
    rec->edge_prompt_tokens = rec->prompt_tokens;
    rec->edge_completion_tokens = rec->completion_tokens;
    rec->edge_start_s = rec->start_s;
    rec->edge_end_s = rec->end_s;
    hflow_route_decision d = {HFLOW_TIER_EDGE, 0, NAN, "cascade-keep"};
    /* An empty edge answer is nothing to keep: it goes up whatever the policy
     * would say (a cascade router could not even score it) */
    if (rec->completion_tokens <= 0) d = (hflow_route_decision){HFLOW_TIER_CLOUD, NAN, NAN, "cascade-empty-edge"};
    else ask_policy(q, rec, &f, &d);
    int tier = d.tier == HFLOW_TIER_CLOUD && q->backend[HFLOW_TIER_CLOUD] ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    record_decision(rec, tier, &d, &f);
    rec->escalated = tier == HFLOW_TIER_CLOUD;
    return tier;
}

/* An escalated step whose cloud run failed, was refused by the budget or was
 * cut by the deadline keeps its edge answer (caller holds q->mu). */
static void keep_edge_answer(flow_query *q, int i, const char *why) {
    flow_step_run *r = &q->runs[i];
    char note[sizeof r->rec.note];
    memcpy(note, r->rec.note, sizeof note);
    int retries = r->rec.retries;
    r->rec = r->edge_rec;
    memcpy(r->rec.note, note, sizeof note);
    r->rec.retries = retries;
    r->rec.escalated = 0;
    flow_note(&r->rec, "escalation failed (%.80s): kept the edge answer", why);
    r->result = r->edge_result;
    r->edge_result = NULL;
    r->state = HFLOW_STEP_DONE;
    q->n_finished++;
    flow_emit(q, HFLOW_EV_STEP_FINISHED, i, HFLOW_TIER_EDGE, r->state);
}

static int release_step(flow_query *q, int i) {
    flow_step_run *r = &q->runs[i];
    int n = q->dag.n;
    unsigned char *ctx = calloc((size_t)n + 1, 1);
    char **results = calloc((size_t)n + 1, sizeof *results);
    if (!ctx || !results) {
        free(ctx);
        free(results);
        return -1;
    }
    if (q->cfg->context_ancestors) {
        flow_dag_ancestors(&q->dag, i, ctx);
    } else {
        for (int m = 0; m < q->dag.steps[i]->n_deps; m++) ctx[q->dag.steps[i]->deps[m]] = 1;
    }
    for (int k = 0; k < i; k++) results[k] = q->runs[k].result;
    r->prompt = flow_prompt_step(q->question, &q->dag, i, ctx, results);
    free(ctx);
    free(results);
    if (!r->prompt) return -1;
    r->ready_s = flow_rel(q);
    enqueue(q, i, route_step(q, i));
    return 0;
}

static void check_all_done(flow_query *q) {
    if (q->plan_done && q->n_finished == q->dag.n && !q->finished) {
        q->finished = 1;
        pthread_cond_broadcast(&q->cv);
    }
}

/* Releases every step that may start now (caller holds q->mu). */
static void dispatch_ready(flow_query *q) {
    const hflow_flow_config *c = q->cfg;
    if (q->finished || q->cancel_calls) return;
    if (!q->plan_done && !c->dispatch_while_planning) return;
    int busy = q->running_total || q->qlen[0] || q->qlen[1];
    if ((c->mode == HFLOW_SCHED_WAVES || c->mode == HFLOW_SCHED_SEQUENTIAL) && busy) return;
    for (int i = 0; i < q->dag.n; i++) {
        if (q->runs[i].state != HFLOW_STEP_PENDING || !deps_finished(q, i)) continue;
        if (release_step(q, i)) {
            q->oom = 1;
            q->runs[i].state = HFLOW_STEP_FAILED;
            flow_note(&q->runs[i].rec, "out of memory building the prompt");
            q->n_finished++;
            continue;
        }
        if (c->mode == HFLOW_SCHED_SEQUENTIAL) break;
    }
}

int flow_sched_add_step_locked(flow_query *q, const flow_raw_step *raw) {
    int i = flow_dag_add(&q->dag, raw);
    if (i == -2) {
        q->oom = 1;
        return 1;
    }
    if (i < 0) return 0;
    q->runs[i].state = HFLOW_STEP_PENDING;
    q->runs[i].tier = -1;
    q->runs[i].added_s = flow_rel(q);
    q->runs[i].rec.tier = -1;
    q->runs[i].rec.routed_tier = -1;
    flow_emit(q, HFLOW_EV_STEP_ADDED, i, -1, HFLOW_STEP_PENDING);
    dispatch_ready(q);
    return 0;
}

void flow_sched_plan_done(flow_query *q) {
    pthread_mutex_lock(&q->mu);
    int before = q->dag.n;
    if (flow_dag_finish(&q->dag) == -2) q->oom = 1;
    for (int i = before; i < q->dag.n; i++) {
        q->runs[i].state = HFLOW_STEP_PENDING;
        q->runs[i].added_s = flow_rel(q);
        q->runs[i].rec.tier = -1;
        flow_emit(q, HFLOW_EV_STEP_ADDED, i, -1, HFLOW_STEP_PENDING);
    }
    q->plan_done = 1;
    flow_emit(q, HFLOW_EV_PLAN_DONE, -1, -1, 0);
    dispatch_ready(q);
    check_all_done(q);
    pthread_mutex_unlock(&q->mu);
}

static int32_t step_tokens(const hflow_flow_config *c, const flow_step *s) {
    if (s->token_estimate <= 0) return c->default_step_tokens;
    double t = ceil(s->token_estimate * c->token_slack);
    if (t < c->min_step_tokens) t = c->min_step_tokens;
    if (t > c->max_step_tokens) t = c->max_step_tokens;
    return (int32_t)t;
}

/* After a failed attempt sequence: hand the step to the other tier when it
 * exists, was not tried yet and there is still time; else mark it FAILED. */
static void step_failed(flow_query *q, int i, int tier, int rc, const char *why) {
    flow_step_run *r = &q->runs[i];
    int other = !tier;
    int can = q->backend[other] && !(r->tried & (1 << other)) && !q->cancel_calls && rc != HFLOW_ECANCELLED &&
              hflow_now_s() < q->step_deadline;
    if (can) {
        r->rec.fell_back = 1;
        r->rec.cascade = 0; /* a failed edge attempt: no answer, no confidence, no cascade decision */
        flow_note(&r->rec, "fallback %s->%s (%s)", hflow_tier_name(tier), hflow_tier_name(other), why);
        enqueue(q, i, other);
        return;
    }
    r->state = HFLOW_STEP_FAILED;
    q->n_finished++;
    flow_emit(q, HFLOW_EV_STEP_FINISHED, i, tier, r->state);
}

static void *worker_main(void *arg) {
    flow_worker *w = arg;
    flow_query *q = w->q;
    const hflow_flow_config *c = q->cfg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->finished && q->qlen[w->tier] == 0) pthread_cond_wait(&q->cv, &q->mu);
        if (q->finished) break;
        int i = pop(q, w->tier);
        flow_step_run *r = &q->runs[i];
        r->state = HFLOW_STEP_RUNNING;
        r->tried |= 1 << w->tier;
        r->rec.worker = w->slot;
        q->running[w->tier]++;
        q->running_total++;
        flow_emit(q, HFLOW_EV_STEP_STARTED, i, w->tier, r->state);
        const char *prompt = r->prompt;
        int32_t want = step_tokens(c, q->dag.steps[i]);
        int edge_first = w->tier == HFLOW_TIER_EDGE && r->rec.cascade && !r->edge_result;
        pthread_mutex_unlock(&q->mu);

        char *text = NULL;
        hflow_error e;
        hflow_error_clear(&e);
        flow_confidence conf;
        int rc = flow_call_conf(q, w->tier, NULL, flow_step_system_prompt, prompt, want, NULL, NULL, c->step_retries,
                                NULL, edge_first ? &conf : NULL, &r->rec, &text, &e);

        pthread_mutex_lock(&q->mu);
        q->running[w->tier]--;
        q->running_total--;
        if (rc == 0 && edge_first && cascade_decide(q, i, &conf) == HFLOW_TIER_CLOUD) {
            r->edge_result = text;
            r->edge_rec = r->rec;
            enqueue(q, i, HFLOW_TIER_CLOUD);
        } else if (rc == 0) {
            free(r->edge_result);
            r->edge_result = NULL;
            r->result = text;
            r->state = HFLOW_STEP_DONE;
            q->n_finished++;
            flow_emit(q, HFLOW_EV_STEP_FINISHED, i, w->tier, r->state);
        } else if (r->edge_result) {
            keep_edge_answer(q, i, e.message);
        } else {
            step_failed(q, i, w->tier, rc, e.message);
        }
        dispatch_ready(q);
        check_all_done(q);
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void stop_workers(flow_query *q) {
    pthread_mutex_lock(&q->mu);
    q->finished = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int k = 0; k < q->n_threads; k++) pthread_join(q->threads[k], NULL);
    q->n_threads = 0;
}

int flow_sched_start(flow_query *q, hflow_error *err) {
    const hflow_flow_config *c = q->cfg;
    int n[2] = {q->backend[0] ? c->edge_concurrency : 0, q->backend[1] ? c->cloud_concurrency : 0};
    q->threads = calloc((size_t)(n[0] + n[1]) + 1, sizeof *q->threads);
    q->workers = calloc((size_t)(n[0] + n[1]) + 1, sizeof *q->workers);
    if (!q->threads || !q->workers) return hflow_error_set(err, HFLOW_ENOMEM, "flow: out of memory");
    for (int tier = 0; tier < 2; tier++)
        for (int s = 0; s < n[tier]; s++) {
            flow_worker *w = &q->workers[q->n_threads];
            w->q = q;
            w->tier = tier;
            w->slot = s;
            if (pthread_create(&q->threads[q->n_threads], NULL, worker_main, w)) {
                stop_workers(q);
                return hflow_error_set(err, HFLOW_ENOMEM, "flow: cannot start worker threads");
            }
            q->n_threads++;
        }
    return 0;
}

/* Stops whatever has not started (caller holds q->mu). */
static void skip_pending(flow_query *q) {
    q->cancel_calls = 1;
    q->qlen[0] = q->qlen[1] = 0;
    for (int i = 0; i < q->dag.n; i++) {
        int st = q->runs[i].state;
        if (st == HFLOW_STEP_READY && q->runs[i].edge_result) {
            keep_edge_answer(q, i, q->user_cancelled ? "cancelled" : "deadline passed");
        } else if (st == HFLOW_STEP_PENDING || st == HFLOW_STEP_READY) {
            q->runs[i].state = HFLOW_STEP_SKIPPED;
            flow_note(&q->runs[i].rec, "%s", q->user_cancelled ? "cancelled" : "skipped: deadline passed");
            q->n_finished++;
            flow_emit(q, HFLOW_EV_STEP_FINISHED, i, -1, HFLOW_STEP_SKIPPED);
        }
    }
}

void flow_sched_wait(flow_query *q) {
    int cut = 0; /* pending work was skipped (deadline or cancel) */
    pthread_mutex_lock(&q->mu);
    while (!q->finished) {
        double now = hflow_now_s();
        double until = fmin(now + 0.05, q->step_deadline);
        if (until < now) until = now;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = until - now;
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        if (q->finished) break;
        if (q->opts.cancel && *q->opts.cancel && !q->user_cancelled) {
            q->user_cancelled = 1;
            skip_pending(q);
            cut = 1;
        } else if (hflow_now_s() >= q->step_deadline && !cut) {
            q->deadline_hit = 1;
            skip_pending(q);
            cut = 1;
        }
        if (cut && q->running_total == 0) {
            q->finished = 1;
            pthread_cond_broadcast(&q->cv);
        }
        check_all_done(q);
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int k = 0; k < q->n_threads; k++) pthread_join(q->threads[k], NULL);
    q->n_threads = 0;
}
