/* cli_proc.c - see cli_proc.h. */
#include "cli_proc.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "e2e.h"
#include "hybridflow/error.h"
#include "testutil.h"

extern char **environ;

/* Runs `hybridflow ARGS...` (NULL-terminated) with stdout+stderr in `log`;
 * prints the log when it fails. Returns the exit status. */
int tu_cli(const char *log, const char *const *args) {
    const char *argv[64];
    int n = 0;
    argv[n++] = tu_cli_path();
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code) {
        char *text = tu_read_file(log, NULL);
        print_message("hybridflow %s exited %d:\n%s\n", args[0], code, text ? text : "(no output)");
        free(text);
    }
    return code;
}

/* Lines of a JSONL file, parsed; *n of them. Caller frees with free_lines. */
cJSON **tu_jsonl_read(const char *path, size_t *n) {
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    size_t cap = 16;
    cJSON **rows = malloc(cap * sizeof *rows);
    assert_non_null(rows);
    *n = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        if ((nl = strchr(p, '\n'))) *nl = '\0';
        if (!*p) continue;
        if (*n == cap) assert_non_null(rows = realloc(rows, (cap *= 2) * sizeof *rows));
        assert_non_null(rows[*n] = cJSON_Parse(p));
        (*n)++;
    }
    free(text);
    return rows;
}

void tu_jsonl_free(cJSON **rows, size_t n) {
    for (size_t i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(rows);
}

const cJSON *tu_jget(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!x) fail_msg("missing \"%s\"", k);
    return x;
}

double tu_jnum(const cJSON *o, const char *k) {
    const cJSON *x = tu_jget(o, k);
    if (!cJSON_IsNumber(x)) fail_msg("\"%s\" is not a number", k);
    return x->valuedouble;
}

const char *tu_jstr(const cJSON *o, const char *k) {
    const char *s = cJSON_GetStringValue(tu_jget(o, k));
    if (!s) fail_msg("\"%s\" is not a string", k);
    return s;
}

void tu_profile_train(const char *ds_path, int n_q, int cascade, const char *profile, const char *router) {
    char log[1024], nq[16];
    remove(profile);
    snprintf(nq, sizeof nq, "%d", n_q);
    const char *prof[] = {"profile", "--dataset", ds_path, "--edge", e2e_edge_model(), "--cloud", e2e_cloud_model(),
                          "--out", profile, "--limit", nq, "--max-steps", "3", "--max-step-tokens", "16",
                          "--answer-tokens", "16", "--plan-first", cascade ? "--cascade" : NULL, NULL};
    snprintf(log, sizeof log, "%s.log", profile);
    assert_int_equal(tu_cli(log, prof), 0);
    /* lambda_k: the quality labels of two tiny models are all 0, the cloud tokens are not.
     * --test-frac 0.01: every profiled question trains and calibrates. */
    const char *train[] = {"train-router", "--data", profile, "--level", "subtask", "--out", router,
                           "--hash-dim", "256", "--hidden", "8", "--epochs", "100", "--lambda-t", "0",
                           "--lambda-k", "0.001", "--target-cloud-share", "0.5", "--test-frac", "0.01",
                           "--seed", "1", NULL};
    snprintf(log, sizeof log, "%s.log", router);
    assert_int_equal(tu_cli(log, train), 0);
}

int tu_router_e2e_data(char *ds_path, size_t cap, int n_q, hflow_eval_dataset *ds) {
    if (!tu_shared_path(ds_path, cap, "datasets/MMLU-STEM.json")) return 0;
    hflow_error err;
    if (hflow_eval_dataset_load(ds_path, NULL, ds, &err)) {
        fprintf(stderr, "dataset: %s\n", err.message);
        return -1;
    }
    if (n_q >= 0 && ds->n >= (size_t)n_q && e2e_edge_model() && e2e_cloud_model()) return 1;
    hflow_eval_dataset_free(ds);
    return 0;
}

static long cloud_tokens_of(const cJSON *call) {
    if (strcmp(tu_jstr(call, "tier"), "cloud")) return 0;
    return (long)(tu_jnum(call, "prompt_tokens") + tu_jnum(call, "completion_tokens"));
}

void tu_check_trace_cloud_budget(const cJSON *q, long cap) {
    long used = (long)tu_jnum(tu_jget(tu_jget(q, "totals"), "budget_used"), "cloud_tokens");
    long sum = cloud_tokens_of(tu_jget(tu_jget(q, "plan"), "call")) + cloud_tokens_of(tu_jget(q, "aggregator"));
    const cJSON *s;
    cJSON_ArrayForEach(s, tu_jget(q, "steps")) sum += cloud_tokens_of(tu_jget(s, "call"));
    assert_int_equal(used, sum);
    assert_true(used <= cap);
}
