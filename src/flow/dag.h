/* dag.h - the plan as a dependency DAG, built step by step as the parser emits
 * them, with validation and repair.
 *
 * Steps are stored in arrival order; a step's index is its position. Every
 * dependency points to an EARLIER index, so the graph is acyclic by
 * construction: a cycle can never reach the scheduler.
 *
 * Repair rules (each one logged in the repair log, one line per repair):
 *  R1 missing id:     a step without a numeric ID (or ID <= 0) gets max ID so far + 1.
 *  R2 duplicate id:   a step whose ID was already used is KEPT and renumbered to
 *                     max ID so far + 1; later references to that ID resolve to
 *                     the first step that declared it.
 *  R3 unknown ref:    a Rely entry naming an ID not declared by an earlier step
 *                     (unknown, or a later step: a forward reference) is dropped.
 *  R4 self ref:       a step relying on its own ID: the entry is dropped.
 *  R5 duplicate ref:  the same dependency listed twice is kept once.
 *  R6 too many steps: steps beyond max_steps are dropped (their IDs stay unknown,
 *                     so references to them are dropped by R3).
 *  R7 empty task:     a step with an empty Task is dropped (as in R6).
 *  R8 difficulty outside 1-9 is clamped into 1-9 (0 = missing stays 0);
 *     a negative token estimate becomes 0 (unknown).
 *  R9 empty plan:     at finish, a plan with no steps becomes one step
 *                     "Answer the question directly." with no dependencies.
 * Not thread-safe: the scheduler serialises access. Step pointers stay valid
 * until flow_dag_free (steps are allocated one by one). */
#ifndef HFLOW_FLOW_DAG_H
#define HFLOW_FLOW_DAG_H

#include "base/strbuf.h"
#include "flow/plan_parse.h"

#define FLOW_DIRECT_ANSWER_TASK "Answer the question directly."

typedef struct flow_step {
    int index;
    int plan_id;      /* ID as the planner wrote it (0 when missing) */
    int id;           /* ID after R1/R2 */
    char *task;       /* owned */
    int *deps;        /* owned, indices < index, sorted ascending */
    int n_deps;
    int difficulty;   /* 0 or 1-9 */
    int token_estimate;
    int depth;        /* 0 for roots, else 1 + max depth of deps */
} flow_step;

typedef struct flow_dag {
    flow_step **steps;
    int n, cap;
    int max_steps;
    int max_id;
    int n_dropped;    /* steps dropped by R6/R7 */
    int n_repairs;
    hflow_strbuf log; /* repair log, one line per repair */
    int *ids;         /* declared ID of each kept step (id -> index lookup) */
} flow_dag;

void flow_dag_init(flow_dag *d, int max_steps);
void flow_dag_free(flow_dag *d);
/* Validates, repairs and appends one parsed step. Returns the new step's
 * index, -1 when the step was dropped (R6/R7), or -2 on allocation failure. */
int flow_dag_add(flow_dag *d, const flow_raw_step *raw);
/* Applies R9. Returns 1 when the fallback step was added, 0 when not, -2 on OOM. */
int flow_dag_finish(flow_dag *d);
/* Number of steps on the longest dependency chain (0 for an empty DAG). */
int flow_dag_critical_path(const flow_dag *d);
/* Length of the longest chain when step i takes weight[i] (e.g. latency). */
double flow_dag_weighted_critical_path(const flow_dag *d, const double *weight);
/* 1 when some step lists `i` as a direct dependency. */
int flow_dag_has_dependents(const flow_dag *d, int i);
/* Marks in `out` (n entries, zeroed by the caller) every ancestor of step i. */
void flow_dag_ancestors(const flow_dag *d, int i, unsigned char *out);

#endif
