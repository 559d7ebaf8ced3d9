/* test_eval_runner.c - the live evaluation runner over scripted tiers: every
 * method on a few questions of each shared dataset (scored by the real rules),
 * the report and plots, and an interrupted run that resumes without redoing
 * finished questions (counted on the backends). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "fake_server.h"
#include "backend/scripted_backend.h"
#include "hybridflow/eval.h"
#include "hybridflow/flow.h"
#include "hybridflow/route.h"

#define ALL_METHODS "edge,edge-cot,cloud,cloud-cot,route,hybridflow,hybridflow-chain"
#define N_Q 3

/* 1 -> {2, 3} -> 4: four steps, critical path of three. */
static const char *const PLAN =
    "<Plan>\n<Step ID=\"1\" Task=\"S1 restate the problem\" Rely=\"\" Difficulty=\"2\" Token=\"40\"/>\n"
    "<Step ID=\"2\" Task=\"S2 work on one part\" Rely=\"1\" Difficulty=\"7\" Token=\"60\"/>\n"
    "<Step ID=\"3\" Task=\"S3 work on the other part\" Rely=\"1\" Difficulty=\"4\" Token=\"60\"/>\n"
    "<Step ID=\"4\" Task=\"S4 combine\" Rely=\"2,3\" Difficulty=\"3\" Token=\"40\"/>\n</Plan>";

/* The cloud knows each question's gold answer (matched on the question's last
 * characters, which the planner, step, aggregator and single-call prompts all
 * contain); the edge always answers something wrong. Replies are what models
 * write: reasoning, then the answer line the prompt asks for. */
typedef struct tiers {
    hflow_backend *edge, *cloud;
    char match[N_Q][64];
    char reply[N_Q][512];
} tiers;

static void make_tiers(tiers *t, const hflow_eval_item *items, size_t n) {
    hflow_script_rule rules[3 + N_Q];
    memset(rules, 0, sizeof rules);
    int k = 0;
    rules[k++] = (hflow_script_rule){"You are a planner", PLAN, 2, 0, 0, 0};
    rules[k++] = (hflow_script_rule){"Your step:", "Worked on this step: the relevant facts are noted.", 3, 0, 0, 0};
    int base = k;
    for (size_t i = 0; i < n; i++) {
        /* a 48-character window of this question that no other one contains */
        const char *q = items[i].question;
        size_t len = strlen(q), take = len < 48 ? len : 48;
        int found = 0;
        for (size_t off = 0; off + take <= len && !found; off += 8) {
            snprintf(t->match[i], sizeof t->match[i], "%.*s", (int)take, q + off);
            found = 1;
            for (size_t j = 0; j < n; j++)
                if (j != i && strstr(items[j].question, t->match[i])) found = 0;
        }
        assert_true(found);
        snprintf(t->reply[i], sizeof t->reply[i], "Let me reason about it step by step. Putting it together,\nAnswer: %s",
                 items[i].gold);
        rules[k++] = (hflow_script_rule){t->match[i], t->reply[i], 4, 0, 0, 0};
    }
    hflow_scripted_config cc = {"cloud-model", rules, k, 0, 0, 0};
    assert_int_equal(hflow_scripted_backend_create(&cc, &t->cloud, NULL), 0);
    rules[base] = (hflow_script_rule){NULL, "I am not sure about this one.\nAnswer: none of these", 1, 0, 0, 0};
    hflow_scripted_config ec = {"edge-model", rules, base + 1, 0, 0, 0};
    assert_int_equal(hflow_scripted_backend_create(&ec, &t->edge, NULL), 0);
}

static void free_tiers(tiers *t) {
    t->edge->vt->destroy(t->edge);
    t->cloud->vt->destroy(t->cloud);
}

static size_t count_lines(const char *path) {
    char *text = tu_read_file(path, NULL);
    if (!text) return 0;
    size_t n = 0;
    for (char *p = text; *p; p++) n += *p == '\n';
    free(text);
    return n;
}

static int file_nonempty(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static const hflow_eval_summary *find_sum(const hflow_eval_summary *s, size_t n, const char *m) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].method, m)) return &s[i];
    fail_msg("no summary for %s", m);
    return NULL;
}

static void run_dataset(const char *name, int plots) {
    char shared_path[1024];
    const char *shared = tu_shared_dir();
    if (!shared) {
        print_message("skipped: ../shared not found (dataset %s)\n", name);
        skip();
    }
    (void)shared_path;
    hflow_eval_dataset ds;
    hflow_error err;
    hflow_error_clear(&err);
    if (hflow_eval_dataset_load(name, shared, &ds, &err) != 0) {
        print_message("skipped: dataset %s not loadable under ../shared: %s\n", name, err.message);
        skip();
    }
    assert_true(ds.n >= N_Q);
    tiers t;
    make_tiers(&t, ds.items, N_Q);
    hflow_policy *pol;
    assert_int_equal(hflow_policy_create("cloud", &pol, NULL), 0);
    char out[512];
    snprintf(out, sizeof out, "%s/run-%s", tu_tmpdir(), name);
    hflow_eval_run_config cfg;
    hflow_eval_run_config_default(&cfg);
    cfg.dataset = &ds;
    cfg.limit = N_Q;
    cfg.methods = ALL_METHODS;
    cfg.edge = t.edge;
    cfg.cloud = t.cloud;
    cfg.policy = pol;
    cfg.concurrency = 2;
    cfg.out_dir = out;
    hflow_price_table *prices;
    assert_int_equal(hflow_price_table_create(&prices, NULL), 0);
    assert_int_equal(hflow_price_table_set(prices, "cloud-model", 2.5, 10.0, NULL), 0);
    cfg.prices = prices;
    hflow_eval_run_stats st;
    int rc = hflow_eval_run(&cfg, &st, &err);
    if (rc) fail_msg("eval run: %s", err.message);
    assert_int_equal(st.ran, 7 * N_Q);
    assert_int_equal(st.errors, 0);
    hflow_eval_summary *sums;
    size_t n;
    rc = hflow_eval_write_report(out, ALL_METHODS, "hybridflow eval (test)", "scripted tiers", plots, &sums, &n, &err);
    if (rc) fail_msg("report: %s", err.message);
    assert_int_equal(n, 7);
    /* The cloud knows the answers and the edge does not; routing everything to
     * the cloud, and HybridFlow's cloud aggregator, inherit the cloud's answers. */
    const char *right[] = {"cloud", "cloud-cot", "route", "hybridflow", "hybridflow-chain"};
    for (size_t i = 0; i < 5; i++) assert_float_equal(find_sum(sums, n, right[i])->accuracy, 1.0, 1e-9);
    assert_float_equal(find_sum(sums, n, "edge")->accuracy, 0.0, 1e-9);
    assert_float_equal(find_sum(sums, n, "edge-cot")->accuracy, 0.0, 1e-9);
    const hflow_eval_summary *hf = find_sum(sums, n, "hybridflow");
    assert_float_equal(hf->steps_mean, 4.0, 1e-9);
    assert_float_equal(hf->depth_mean, 3.0, 1e-9);
    assert_float_equal(find_sum(sums, n, "cloud")->cloud_call_share, 1.0, 1e-9);
    assert_float_equal(find_sum(sums, n, "edge")->cloud_call_share, 0.0, 1e-9);
    assert_true(hf->cloud_call_share > 0 && hf->cloud_call_share < 1); /* the planner ran on the edge */
    assert_true(find_sum(sums, n, "cloud-cot")->usd_mean > 0);
    assert_float_equal(find_sum(sums, n, "edge-cot")->usd_mean, 0.0, 1e-12);
    free(sums);
    char path[1024];
    snprintf(path, sizeof path, "%s/hybridflow.jsonl", out);
    assert_int_equal(count_lines(path), N_Q);
    snprintf(path, sizeof path, "%s/traces/hybridflow-chain.jsonl", out);
    assert_int_equal(count_lines(path), N_Q);
    snprintf(path, sizeof path, "%s/report.md", out);
    char *md = tu_read_file(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "| hybridflow-chain |"));
    assert_non_null(strstr(md, "| cloud-cot |"));
    if (plots) {
        const char *pngs[] = {"acc_vs_usd.png", "acc_vs_latency.png", "latency_cdf.png", "gantt_hybridflow.png",
                              "gantt_hybridflow-chain.png", "gantt_hybridflow.svg"};
        for (size_t i = 0; i < 6; i++) {
            snprintf(path, sizeof path, "%s/plots/%s", out, pngs[i]);
            if (!file_nonempty(path)) fail_msg("missing plot %s", path);
        }
        assert_non_null(strstr(md, "plots/gantt_hybridflow.png"));
    }
    free(md);
    hflow_policy_free(pol);
    hflow_price_table_free(prices);
    free_tiers(&t);
    hflow_eval_dataset_free(&ds);
}

static void test_gpqa_with_plots(void **s) { (void)s; run_dataset("gpqa", 1); }
static void test_mmlu_stem(void **s) { (void)s; run_dataset("mmlu-stem", 0); }
static void test_aime(void **s) { (void)s; run_dataset("aime", 0); }
static void test_livebench(void **s) { (void)s; run_dataset("livebench", 0); }
static void test_mmlu_pro(void **s) { (void)s; run_dataset("mmlu-pro", 0); }

/* ---- interrupted run, resumed ---- */

static const char *write_generic(int n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/generic.jsonl", tu_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"id\": \"g%d\", \"question\": \"Which option is right in case number %d?\", "
                   "\"options\": [\"red\", \"green\", \"blue\", \"cyan\"], \"answer\": \"C\", \"type\": \"letter\"}\n",
                i, i);
    fclose(f);
    return path;
}

typedef struct stopper {
    volatile int cancel;
    size_t after;
    size_t seen;
} stopper;

static void stop_after(void *user, const hflow_eval_progress *p) {
    stopper *s = user;
    s->seen = p->done;
    assert_non_null(p->last);
    if (p->done >= s->after) s->cancel = 1;
}

static void test_interrupted_run_resumes(void **state) {
    (void)state;
    hflow_eval_dataset ds;
    assert_int_equal(hflow_eval_dataset_load(write_generic(6), NULL, &ds, NULL), 0);
    hflow_script_rule cr[] = {{"You are a planner", PLAN, 1, 0, 0, 0}, {"Your step:", "noted", 1, 0, 0, 0},
                              {NULL, "So the answer is blue.\nAnswer: C", 1, 0, 0, 0}};
    hflow_scripted_config cc = {"cloud-model", cr, 3, 0, 0, 0};
    hflow_backend *edge, *cloud;
    assert_int_equal(hflow_scripted_backend_create(&cc, &cloud, NULL), 0);
    cc.model = "edge-model";
    assert_int_equal(hflow_scripted_backend_create(&cc, &edge, NULL), 0);
    hflow_policy *pol;
    assert_int_equal(hflow_policy_create("cloud", &pol, NULL), 0);
    char out[512];
    snprintf(out, sizeof out, "%s/resume", tu_tmpdir());
    stopper stop = {0, 3, 0};
    hflow_eval_run_config cfg;
    hflow_eval_run_config_default(&cfg);
    cfg.dataset = &ds;
    cfg.methods = "cloud-cot,hybridflow";
    cfg.edge = edge;
    cfg.cloud = cloud;
    cfg.policy = pol;
    cfg.out_dir = out;
    cfg.progress = stop_after;
    cfg.progress_user = &stop;
    cfg.cancel = &stop.cancel;
    hflow_eval_run_stats st;
    hflow_error err;
    /* Question-major order: g0 cot, g0 flow, g1 cot -- then the stop. */
    assert_int_equal(hflow_eval_run(&cfg, &st, &err), HFLOW_ECANCELLED);
    assert_int_equal(st.ran, 3);
    assert_true(st.cancelled);
    /* cloud calls: cot 1 per question; the flow 4 steps + aggregator (planner on the edge) */
    int cloud_first = hflow_scripted_backend_calls(cloud, NULL, 0);
    assert_int_equal(cloud_first, 1 + 5 + 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/cloud-cot.jsonl", out);
    assert_int_equal(count_lines(path), 2);

    stop.cancel = 0;
    stop.after = (size_t)-1;
    assert_int_equal(hflow_eval_run(&cfg, &st, &err), 0);
    assert_int_equal(st.resumed, 3);
    assert_int_equal(st.ran, 9);
    /* Nothing finished was redone: the two runs together made one full run's calls. */
    assert_int_equal(hflow_scripted_backend_calls(cloud, NULL, 0), 6 * (1 + 5));
    assert_int_equal(hflow_scripted_backend_calls(edge, NULL, 0), 6 * 1); /* one plan per flow question */
    assert_int_equal(count_lines(path), 6);
    snprintf(path, sizeof path, "%s/hybridflow.jsonl", out);
    assert_int_equal(count_lines(path), 6);

    /* A third run finds everything done and calls nothing. */
    assert_int_equal(hflow_eval_run(&cfg, &st, &err), 0);
    assert_int_equal(st.ran, 0);
    assert_int_equal(st.resumed, 12);
    assert_int_equal(hflow_scripted_backend_calls(cloud, NULL, 0), 36);
    hflow_eval_summary *sums;
    size_t n;
    assert_int_equal(hflow_eval_write_report(out, cfg.methods, "cmd", NULL, 0, &sums, &n, &err), 0);
    assert_int_equal(sums[0].n, 6);
    assert_int_equal(sums[1].n, 6);
    assert_float_equal(sums[0].accuracy, 1.0, 1e-9);
    free(sums);
    hflow_policy_free(pol);
    edge->vt->destroy(edge);
    cloud->vt->destroy(cloud);
    hflow_eval_dataset_free(&ds);
}

/* Failed questions are retried by the next run; bad method names are refused. */
static void test_errors_retried_and_bad_methods(void **state) {
    (void)state;
    hflow_eval_dataset ds;
    assert_int_equal(hflow_eval_dataset_load(write_generic(2), NULL, &ds, NULL), 0);
    hflow_script_rule bad = {NULL, NULL, 1, 0, HFLOW_ENET, 0};
    hflow_scripted_config bc = {"down", &bad, 1, 0, 0, 0};
    hflow_backend *down;
    assert_int_equal(hflow_scripted_backend_create(&bc, &down, NULL), 0);
    char out[512];
    snprintf(out, sizeof out, "%s/errors", tu_tmpdir());
    hflow_eval_run_config cfg;
    hflow_eval_run_config_default(&cfg);
    cfg.dataset = &ds;
    cfg.methods = "edge";
    cfg.edge = cfg.cloud = down;
    cfg.out_dir = out;
    hflow_eval_run_stats st;
    hflow_error err;
    assert_int_equal(hflow_eval_run(&cfg, &st, &err), 0);
    assert_int_equal(st.errors, 2);
    assert_int_equal(hflow_eval_run(&cfg, &st, &err), 0);
    assert_int_equal(st.resumed, 0);
    assert_int_equal(st.ran, 2);
    cfg.methods = "edge,telepathy";
    assert_int_equal(hflow_eval_run(&cfg, &st, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "telepathy"));
    down->vt->destroy(down);
    hflow_eval_dataset_free(&ds);
}


/* ---- the CLI over real HTTP on loopback ---- */

static int run_cli(const char *args, char *out, size_t cap) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 </dev/null", tu_cli_path(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void push_answers(fake_server *s, const char *content, int n) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":"
             "{\"role\":\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],"
             "\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":12,\"total_tokens\":52}}",
             content);
    fs_script sc = {0};
    sc.body = body;
    fs_push_n(s, &sc, n);
}

static void test_cli_eval_over_http(void **state) {
    (void)state;
    fake_server *edge = fs_start(), *cloud = fs_start();
    assert_non_null(edge);
    assert_non_null(cloud);
    push_answers(edge, "I think it is red.\\nAnswer: A", 4);
    push_answers(cloud, "Blue fits every clue.\\nAnswer: C", 8);
    char e_ep[128], c_ep[128], out[512], args[2048], text[8192];
    fs_endpoint(edge, "small", e_ep, sizeof e_ep);
    fs_endpoint(cloud, "large", c_ep, sizeof c_ep);
    snprintf(out, sizeof out, "%s/cli-eval", tu_tmpdir());
    snprintf(args, sizeof args,
             "eval --dataset %s --edge '%s' --cloud '%s' --methods edge-cot,cloud-cot,route --policy cloud "
             "--limit 4 --concurrency 2 --out %s --no-plots",
             write_generic(6), e_ep, c_ep, out);
    int rc = run_cli(args, text, sizeof text);
    print_message("%s", text);
    assert_int_equal(rc, 0);
    assert_int_equal(fs_n_requests(edge), 4);
    assert_int_equal(fs_n_requests(cloud), 8);
    assert_non_null(strstr(text, "12 ran (0 errors)"));
    char path[1024];
    snprintf(path, sizeof path, "%s/report.md", out);
    char *md = tu_read_file(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "| cloud-cot | 4 | 0 | 1.000 |"));
    assert_non_null(strstr(md, "| edge-cot | 4 | 0 | 0.000 |"));
    assert_non_null(strstr(md, "--methods edge-cot,cloud-cot,route")); /* the exact command */
    free(md);
    /* The same command again: everything is done, no request is made. */
    rc = run_cli(args, text, sizeof text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "0 ran (0 errors), 12 already done"));
    assert_int_equal(fs_n_requests(edge) + fs_n_requests(cloud), 12);
    fs_stop(edge);
    fs_stop(cloud);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpqa_with_plots),
        cmocka_unit_test(test_mmlu_stem),
        cmocka_unit_test(test_aime),
        cmocka_unit_test(test_livebench),
        cmocka_unit_test(test_mmlu_pro),
        cmocka_unit_test(test_interrupted_run_resumes),
        cmocka_unit_test(test_errors_retried_and_bad_methods),
        cmocka_unit_test(test_cli_eval_over_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
