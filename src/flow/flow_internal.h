/* flow_internal.h - per-query state shared by flow.c (planner, aggregator,
 * result), scheduler.c (dispatch and workers) and call.c (one backend call). */
#ifndef HFLOW_FLOW_INTERNAL_H
#define HFLOW_FLOW_INTERNAL_H

#include <pthread.h>

#include "flow/budget.h"
#include "flow/dag.h"
#include "flow/plan_parse.h"
#include "hybridflow/flow.h"

struct hflow_flow {
    hflow_flow_config cfg;
    char *planner_tmpl;
};

typedef struct flow_step_run {
    int state;        /* enum hflow_step_state */
    int tier;         /* tier it is queued on / running on */
    int tried;        /* bitmask of tiers already tried (for fallback) */
    char *prompt;     /* user message, built when the step becomes ready */
    char *result;
    double added_s, ready_s;
    hflow_call_record rec;
    /* Cascade: the edge answer while the step is escalated to the cloud, and
     * the record of that attempt, both kept in case the escalation fails. */
    char *edge_result;
    hflow_call_record edge_rec;
} flow_step_run;

struct flow_query;
typedef struct flow_worker {
    struct flow_query *q;
    int tier, slot;
} flow_worker;

typedef struct flow_query {
    const hflow_flow *f;
    const hflow_flow_config *cfg;
    const char *question;
    hflow_query_options opts;
    double t0;                /* monotonic start */
    double step_deadline;     /* monotonic time steps must end by (HUGE_VAL: none) */
    double call_deadline;     /* what flow_call honours: step_deadline, then deadline for the aggregator */
    double deadline;          /* monotonic query deadline (HUGE_VAL: none) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    flow_dag dag;
    flow_step_run *runs;      /* cap = max_steps + 1 */
    int *queue[2];
    int qhead[2], qlen[2];
    int running[2], running_total, n_finished;
    int plan_done, finished, deadline_hit;
    volatile int cancel_calls; /* read by backends: set at deadline or user cancel */
    hflow_backend *backend[2];
    hflow_budget *qbudget;
    hflow_budget *budgets[2]; /* query, run (may be NULL) */
    hflow_tier_usage usage[2];
    pthread_t *threads;
    struct flow_worker *workers;
    int n_threads;
    int user_cancelled;
    int oom;
} flow_query;

/* ---- call.c ---- */
/* One call on `tier` with up to 1 + retries attempts. Cloud attempts reserve
 * budget first (max_tokens may be shortened, noted in rec->note) and return
 * HFLOW_EBUDGET without calling when nothing fits. Fills rec and *text (owned
 * by the caller) and adds usage to q->usage under q->mu. `b` NULL means the
 * tier's backend (the planner may be a third one that bills as `tier`).
 * Calls end by q->call_deadline. */
int flow_call(flow_query *q, int tier, hflow_backend *b, const char *system, const char *user, int32_t want_tokens,
              hflow_delta_cb on_delta, void *delta_user, int retries, hflow_call_record *rec, char **text,
              hflow_error *err);
/* flow_call with a built-in constraint for the request (hflow_request.grammar);
 * NULL = none. */
int flow_call_grammar(flow_query *q, int tier, hflow_backend *b, const char *system, const char *user,
                      int32_t want_tokens, hflow_delta_cb on_delta, void *delta_user, int retries, const char *grammar,
                      hflow_call_record *rec, char **text, hflow_error *err);
/* What a call said about its answer's confidence (hflow_response fields). */
typedef struct flow_confidence {
    int known;
    double mean_logprob;
    int32_t n_tokens;
} flow_confidence;
/* flow_call_grammar that also asks for the answer's confidence when `conf`
 * is non-NULL (hflow_request.want_confidence) and fills it. */
int flow_call_conf(flow_query *q, int tier, hflow_backend *b, const char *system, const char *user,
                   int32_t want_tokens, hflow_delta_cb on_delta, void *delta_user, int retries, const char *grammar,
                   flow_confidence *conf, hflow_call_record *rec, char **text, hflow_error *err);
void flow_note(hflow_call_record *rec, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
double flow_rel(const flow_query *q); /* seconds since the query started */
void flow_mark_deadline(flow_query *q); /* takes q->mu */

/* ---- scheduler.c ---- */
int flow_query_init(flow_query *q, const hflow_flow *f, const char *question, const hflow_query_options *opts,
                    hflow_error *err);
void flow_query_destroy(flow_query *q);
int flow_sched_start(flow_query *q, hflow_error *err);
/* Parser callback: adds a step (takes q->mu itself unless `locked`). */
int flow_sched_add_step_locked(flow_query *q, const flow_raw_step *raw);
/* Marks the plan complete (applying R9) and dispatches. Takes q->mu. */
void flow_sched_plan_done(flow_query *q);
/* Waits until every step finished, the deadline passed or the user cancelled;
 * then stops and joins the workers. */
void flow_sched_wait(flow_query *q);
void flow_emit(flow_query *q, int kind, int step, int tier, int state);

#endif
