/* cli_proc.h - running the `hybridflow` CLI from a test and reading the JSONL
 * files it writes (profiles, traces). Shared by the end-to-end router tests. */
#ifndef HFLOW_TEST_CLI_PROC_H
#define HFLOW_TEST_CLI_PROC_H
#include <stddef.h>

#include <cjson/cJSON.h>

#include "hybridflow/eval.h"

/* Runs `hybridflow ARGS...` (NULL-terminated) with stdout+stderr in `log`;
 * prints the log when it fails. Returns the exit status. */
int tu_cli(const char *log, const char *const *args);

/* Lines of a JSONL file, parsed (the test fails on a line that is not JSON);
 * *n of them. Free with tu_jsonl_free. */
cJSON **tu_jsonl_read(const char *path, size_t *n);
void tu_jsonl_free(cJSON **rows, size_t n);

/* The end-to-end router tests' loop on the local tiers (e2e.h's edge and cloud
 * models, docs/ROUTER.md "End to end on the local tiers"): `hybridflow profile`
 * of the first n_q questions of ds_path (with --cascade when cascade != 0) into
 * `profile` (replaced), then `train-router --level subtask` into `router`,
 * calibrated to send half of the profiled steps to the cloud. Fails the test
 * when either command fails; their output goes to <profile>.log and
 * <router>.log. */
void tu_profile_train(const char *ds_path, int n_q, int cascade, const char *profile, const char *router);

/* The end-to-end router tests' data: MMLU-STEM from ../shared into *ds (path in
 * ds_path). Returns 1 when it and e2e.h's edge and cloud models are there with
 * at least n_q questions (the caller frees *ds), 0 when something is missing
 * (nothing to free: the tests skip), -1 when the file is there but unreadable. */
int tu_router_e2e_data(char *ds_path, size_t cap, int n_q, hflow_eval_dataset *ds);

/* One query's trace line (run --trace): the cloud tokens the budget counted
 * equal those of every cloud call (plan, steps, aggregator), and stay within cap. */
void tu_check_trace_cloud_budget(const cJSON *q, long cap);

/* o[k]; the test fails when it is missing, or (num/str) is not a number/string. */
const cJSON *tu_jget(const cJSON *o, const char *k);
double tu_jnum(const cJSON *o, const char *k);
const char *tu_jstr(const cJSON *o, const char *k);

#endif
