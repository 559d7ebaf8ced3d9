/* runner_internal.h - what runner.c (worker pool, resume, files) shares with
 * methods.c (one question under one method). Internal to the eval module. */
#ifndef HFLOW_EVAL_RUNNER_INTERNAL_H
#define HFLOW_EVAL_RUNNER_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "hybridflow/eval.h"
#include "hybridflow/flow.h"

typedef struct ev_run_ctx {
    const hflow_eval_run_config *cfg;
    hflow_eval_method *methods;
    int n_methods;
    hflow_flow *flow[2];     /* [0] completion-driven, [1] sequential; NULL when unused */
    char *tmpl_direct, *tmpl_cot;
    char *tmpl_judge;        /* judge_answer.txt when cfg->judge is set */
    FILE **trace;            /* per method, NULL for single-call methods */
    pthread_mutex_t io_mu;   /* result files, traces, progress */
} ev_run_ctx;

/* Parses a comma list of method names into a malloc'd array. */
int ev_parse_methods(const char *list, hflow_eval_method **out, int *n, hflow_error *err);

/* The task type a question shows the router (the same in run, eval and profile). */
const char *ev_task_type(const hflow_eval_item *item);

/* Builds the flow config every flow method (and the profiler) starts from. */
void ev_flow_config(const struct hflow_flow_config *base, hflow_backend *edge, hflow_backend *cloud, int planner_tier,
                    hflow_policy *policy, const hflow_price_table *prices, hflow_flow_config *out);

/* Runs one question under one method and fills r. Returns 0 (r->error set
 * when the method failed on this question) or HFLOW_ECANCELLED when the run
 * is being cancelled (r must then be dropped). */
int ev_run_one(ev_run_ctx *c, int method, const hflow_eval_item *item, hflow_eval_result *r);

#endif
