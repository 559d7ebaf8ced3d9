/* prompt.h - the text sent to the planner, to each step and to the aggregator.
 * All functions return a malloc'd string (caller frees) or NULL on OOM. */
#ifndef HFLOW_FLOW_PROMPT_H
#define HFLOW_FLOW_PROMPT_H

#include "flow/dag.h"

/* Fills {{question}} and {{max_steps}} in a planner template. */
char *flow_prompt_planner(const char *tmpl, const char *question, int max_steps);

/* System message shared by every step call. */
extern const char *const flow_step_system_prompt;
extern const char *const flow_aggregate_system_prompt;

/* The user message of step i: the question, then the results of the steps in
 * `context` (n entries of the DAG, 1 = include), then the step's own task.
 * results[k] may be NULL (failed step). */
char *flow_prompt_step(const char *question, const flow_dag *d, int i, const unsigned char *context,
                       char *const *results);

/* The instruction that asks for an answer in `answer_format` (enum
 * hflow_answer_format); static text. The eval runner uses it too, so every
 * method is asked for its answer the same way. */
const char *flow_prompt_format_instruction(int answer_format);

/* The aggregator's user message: the question, every step's task and result,
 * and the instruction for the answer format (enum hflow_answer_format). */
char *flow_prompt_aggregate(const char *question, const flow_dag *d, char *const *results, int answer_format);

#endif
