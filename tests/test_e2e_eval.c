/* test_e2e_eval.c - `hybridflow eval` (the CLI binary) against the real
 * `hybridflow serve` on loopback with two small local models.
 *
 * - AIME, 10 questions (3 under ASan), every method: each method's JSONL has 10 error-free
 *   lines, the report table names every method, the plots exist as PNG files.
 *   The run is interrupted with SIGINT after a few questions and rerun: the
 *   rerun sends exactly the requests its own new result lines account for
 *   (server /metrics), so no finished question is redone.
 * - Every other shared dataset, every method, 10 questions each (not under
 *   ASan unless HYBRIDFLOW_E2E_EVAL_LIMIT is set, which sets every count).
 * Skips datasets that are absent. Answers are tiny (--max-tokens) to stay fast. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "testutil.h"

#define METHODS "edge,edge-cot,cloud,cloud-cot,route,hybridflow,hybridflow-chain"
#define N_METHODS 7
#define GENERATIONS "hflow_generations_total"
/* Questions per dataset: HYBRIDFLOW_E2E_EVAL_LIMIT, else DEFAULT_LIMIT: the
 * issue's 10 of every dataset in the regular build (about 17 s on 2 busy
 * cores); under the sanitizers every call is several times slower (10 x 5
 * took 5.5 min), so AIME runs 3 and the long-prompt datasets only when the
 * variable asks for them. scripts/e2e_eval.sh runs the full 10 x 5 with the
 * planner constrained by the server's plan grammar. */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_LIMIT 3
#define UNDER_ASAN 1
#else
#define DEFAULT_LIMIT 10
#define UNDER_ASAN 0
#endif

static int eval_limit(void) {
    const char *env = getenv("HYBRIDFLOW_E2E_EVAL_LIMIT");
    return env && atoi(env) > 0 ? atoi(env) : DEFAULT_LIMIT;
}

static const char *const methods[N_METHODS] = {"edge", "edge-cot", "cloud", "cloud-cot", "route", "hybridflow",
                                               "hybridflow-chain"};
static tu_server server;
static int up;

static int setup(void **state) {
    (void)state;
    if (e2e_start(&server, 4096, 2, NULL)) return -1;
    up = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return up ? tu_server_stop(&server) : 0;
}

/* Starts `hybridflow eval` on the dataset; returns the child's pid. */
static pid_t start_eval(const char *dataset, int limit, const char *out) {
    char edge[128], cloud[128], lim[16];
    e2e_endpoint(&server, "edge", edge, sizeof edge);
    e2e_endpoint(&server, "cloud", cloud, sizeof cloud);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *argv[] = {tu_cli_path(), "eval", "--dataset", dataset, "--limit", lim, "--methods", METHODS,
                          "--edge", edge, "--cloud", cloud, "--planner", "cloud", "--policy", "difficulty:5",
                          "--max-tokens", "8", "--concurrency", "2", "--out", out, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, STDOUT_FILENO); /* the summary table; stderr stays for failures */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of DIR/METHOD.jsonl, and how many of them carry an error. */
static int count_lines(const char *dir, const char *method, int *errors, int *calls) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s.jsonl", dir, method);
    char *text = tu_read_file(p, NULL);
    int n = 0;
    if (errors) *errors = 0;
    if (calls) *calls = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        if (j) {
            n++;
            cJSON *e = cJSON_GetObjectItem(j, "error");
            if (errors && cJSON_IsString(e) && e->valuestring[0]) (*errors)++;
            if (calls)
                *calls += (int)(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "edge"), "calls")->valuedouble +
                                cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cloud"), "calls")->valuedouble);
            cJSON_Delete(j);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return n;
}

static int total_lines(const char *dir) {
    int n = 0;
    for (int m = 0; m < N_METHODS; m++) n += count_lines(dir, methods[m], NULL, NULL);
    return n;
}

static void check_complete(const char *dir, int want) {
    for (int m = 0; m < N_METHODS; m++) {
        int errors;
        int n = count_lines(dir, methods[m], &errors, NULL);
        if (n != want || errors) fail_msg("%s/%s.jsonl: %d lines (%d errors), want %d", dir, methods[m], n, errors, want);
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/report.md", dir);
    char *rep = tu_read_file(p, NULL);
    assert_non_null(rep);
    for (int m = 0; m < N_METHODS; m++) {
        char cell[64];
        snprintf(cell, sizeof cell, "| %s ", methods[m]);
        if (!strstr(rep, cell)) fail_msg("report.md has no row for %s", methods[m]);
    }
    free(rep);
}

static int have_dataset(const char *file) {
    char p[1024];
    return tu_shared_path(p, sizeof p, file) != NULL;
}

static void check_png(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/plots/%s", dir, name);
    size_t len = 0;
    char *d = tu_read_file(p, &len);
    if (!d) fail_msg("missing plot %s", p);
    assert_true(len > 1000);
    assert_memory_equal(d, "\x89PNG", 4);
    free(d);
}

static void test_aime_all_methods_interrupted_and_resumed(void **state) {
    (void)state;
    if (!have_dataset("datasets/AIME24_25.json")) skip();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/eval-aime", tu_tmpdir());
    int want = eval_limit();
    pid_t pid = start_eval("aime", want, dir);
    /* Interrupt once a few questions are written. */
    for (int i = 0; i < 6000 && total_lines(dir) < 5; i++) usleep(20000);
    kill(pid, SIGINT);
    int rc = wait_exit(pid);
    int done_first = total_lines(dir);
    assert_true(done_first >= 5);
    print_message("interrupted after %d of %d results (exit %d)\n", done_first, want * N_METHODS, rc);
    /* Generations the interrupted run had in flight end (and are counted) on
     * the server after the client left: wait for idle slots before counting. */
    for (int i = 0; i < 3000 && e2e_metric_sum(&server, "hflow_slots_busy") != 0; i++) usleep(10000);
    int before_calls[N_METHODS], before_lines[N_METHODS];
    for (int m = 0; m < N_METHODS; m++) before_lines[m] = count_lines(dir, methods[m], NULL, &before_calls[m]);
    double gen0 = e2e_metric_sum(&server, GENERATIONS);
    assert_int_equal(wait_exit(start_eval("aime", want, dir)), 0);
    double gen1 = e2e_metric_sum(&server, GENERATIONS);
    check_complete(dir, want);
    /* The rerun's requests are exactly the calls of the lines it added. */
    int new_calls = 0, new_lines = 0;
    for (int m = 0; m < N_METHODS; m++) {
        int calls;
        int n = count_lines(dir, methods[m], NULL, &calls);
        new_lines += n - before_lines[m];
        new_calls += calls - before_calls[m];
    }
    assert_int_equal(new_lines, want * N_METHODS - done_first);
    assert_int_equal((int)(gen1 - gen0), new_calls);
    check_png(dir, "acc_vs_usd.png");
    check_png(dir, "acc_vs_latency.png");
    check_png(dir, "gantt_hybridflow.png");
    check_png(dir, "latency_cdf.png");
}

static void test_other_datasets_all_methods(void **state) {
    (void)state;
    static const char *sets[][2] = {{"gpqa", "datasets/gpqa.json"},
                                    {"mmlu-stem", "datasets/MMLU-STEM.json"},
                                    {"livebench", "datasets/livebench-reasoning.json"},
                                    {"mmlu-pro", "datasets/mmlu-pro-replay-dev.jsonl"}};
    if (UNDER_ASAN && !getenv("HYBRIDFLOW_E2E_EVAL_LIMIT")) {
        /* GPQA/LiveBench prompts run to thousands of tokens: minutes under the sanitizers. */
        print_message("skipped under ASan: long prompts; the regular build runs this test\n");
        skip();
    }
    int limit = eval_limit();
    int ran = 0;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (!have_dataset(sets[i][1])) continue;
        char dir[512];
        snprintf(dir, sizeof dir, "%s/eval-%s", tu_tmpdir(), sets[i][0]);
        assert_int_equal(wait_exit(start_eval(sets[i][0], limit, dir)), 0);
        check_complete(dir, limit);
        ran++;
    }
    if (!ran) skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aime_all_methods_interrupted_and_resumed),
        cmocka_unit_test(test_other_datasets_all_methods),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
