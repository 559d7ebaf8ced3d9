/* test_eval_report.c - metrics (Wilson interval, quantiles, result JSONL round
 * trip and resume-safe loading, summaries), Pareto front, Markdown reports,
 * gnuplot plots, the Gantt chart and the `eval replay` CLI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "hybridflow/eval.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void assert_near(double a, double b, double tol) {
    if (fabs(a - b) > tol) fail_msg("%.9f != %.9f", a, b);
}

static int is_png(const char *path) {
    size_t n = 0;
    char *d = tu_read_file(path, &n);
    int ok = d && n > 1000 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8);
    free(d);
    return ok;
}

static int has_gnuplot(void) { return system("gnuplot --version >/dev/null 2>&1") == 0; }

static void test_wilson_and_quantile(void **state) {
    (void)state;
    double lo, hi;
    /* 8/10 at z = 1.96: centre (0.8 + 0.19208)/1.38416, half 1.96*sqrt(0.016 + 0.0009604)/1.38416 */
    hflow_wilson_interval(8, 10, 1.96, &lo, &hi);
    assert_near(lo, 0.490162, 1e-5);
    assert_near(hi, 0.943318, 1e-5);
    hflow_wilson_interval(0, 0, 1.96, &lo, &hi);
    assert_near(lo, 0, 0);
    assert_near(hi, 1, 0);
    hflow_wilson_interval(0, 5, 1.96, &lo, &hi);
    assert_near(lo, 0, 1e-12);
    assert_true(hi > 0.4 && hi < 0.45);
    double v[] = {5, 1, 4, 2, 3};
    assert_near(hflow_quantile(v, 5, 0.5), 3, 1e-12);
    assert_near(hflow_quantile(v, 5, 0.95), 4.8, 1e-12);
    assert_near(hflow_quantile(v, 5, 0), 1, 1e-12);
}

static hflow_eval_result make_result(const char *id, double score, double lat, int cloud_calls, double usd) {
    hflow_eval_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.method, sizeof r.method, "m");
    r.score = score;
    r.correct = score >= 1;
    r.latency_s = lat;
    r.ttft_s = lat / 10;
    r.prompt_tokens[0] = 100;
    r.completion_tokens[0] = 50;
    r.calls[0] = 1;
    r.calls[1] = cloud_calls;
    r.prompt_tokens[1] = 100 * cloud_calls;
    r.completion_tokens[1] = 50 * cloud_calls;
    r.usd = usd;
    r.n_steps = 4;
    r.depth = 2;
    return r;
}

static void test_results_roundtrip_and_summary(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/m.jsonl", tu_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    hflow_error err;
    hflow_eval_result in[4] = {make_result("a", 1, 1.0, 0, 0), make_result("b", 0, 2.0, 1, 0.01),
                               make_result("c", 0.5, 3.0, 1, 0.01), make_result("d", 1, 4.0, 2, 0.02)};
    snprintf(in[1].error, sizeof in[1].error, "timeout");
    snprintf(in[2].extracted, sizeof in[2].extracted, "x \"quoted\"");
    for (int i = 0; i < 4; i++) assert_int_equal(hflow_eval_result_write(f, &in[i], &err), 0);
    fputs("{\"id\": \"e\", \"score\": 1", f); /* a line cut by an interrupted run */
    fclose(f);
    hflow_eval_result *out;
    size_t n;
    assert_int_equal(hflow_eval_results_load(path, &out, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(out[2].extracted, "x \"quoted\"");
    assert_string_equal(out[1].error, "timeout");
    assert_int_equal(out[3].calls[1], 2);
    assert_int_equal(out[3].completion_tokens[1], 100);
    hflow_eval_summary s;
    hflow_eval_summarize(out, n, NULL, &s);
    assert_string_equal(s.method, "m");
    assert_near(s.accuracy, 2.5 / 4, 1e-12);
    assert_int_equal(s.n_errors, 1);
    assert_near(s.lat_mean, 2.5, 1e-12);
    assert_near(s.lat_p50, 2.5, 1e-12);
    assert_near(s.lat_p95, 3.85, 1e-12);
    assert_near(s.cloud_call_share, 4.0 / 8.0, 1e-12);      /* 4 cloud calls of 8 */
    assert_near(s.cloud_token_share, 600.0 / 1200.0, 1e-12); /* 4*150 edge, 4*150 cloud */
    assert_near(s.usd_total, 0.04, 1e-12);
    assert_near(s.depth_per_step, 0.5, 1e-12);
    double lo, hi;
    hflow_wilson_interval(2.5, 4, 1.96, &lo, &hi);
    assert_near(s.acc_lo, lo, 1e-12);
    free(out);
    /* a missing file is an empty result set (a fresh run), a corrupt line an error */
    snprintf(path, sizeof path, "%s/none.jsonl", tu_tmpdir());
    assert_int_equal(hflow_eval_results_load(path, &out, &n, &err), 0);
    assert_int_equal(n, 0);
    snprintf(path, sizeof path, "%s/bad.jsonl", tu_tmpdir());
    write_file(path, "{\"id\": \"a\"}\nnot json\n");
    assert_int_equal(hflow_eval_results_load(path, &out, &n, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "bad.jsonl:2"));
}

static void test_pareto(void **state) {
    (void)state;
    /* cost, accuracy: b dominates c (cheaper and better); a and d trade off */
    double x[] = {0.0, 0.5, 0.6, 2.0}, y[] = {0.3, 0.6, 0.5, 0.8};
    size_t front[4];
    size_t m = hflow_pareto_front(x, y, 4, front);
    assert_int_equal(m, 3);
    assert_int_equal(front[0], 0);
    assert_int_equal(front[1], 1);
    assert_int_equal(front[2], 3);
}

static void test_run_report_and_plots(void **state) {
    (void)state;
    if (!has_gnuplot()) { print_message("skipped: gnuplot not installed\n"); skip(); }
    hflow_eval_result a[3] = {make_result("1", 1, 0.5, 0, 0), make_result("2", 0, 0.7, 0, 0), make_result("3", 0, 0.9, 0, 0)};
    hflow_eval_result b[3] = {make_result("1", 1, 2.0, 1, 0.01), make_result("2", 1, 2.5, 1, 0.01), make_result("3", 0, 4.0, 1, 0.01)};
    hflow_eval_summary s[2];
    hflow_eval_summarize(a, 3, "edge-direct", &s[0]);
    hflow_eval_summarize(b, 3, "cloud-cot", &s[1]);
    const hflow_eval_result *res[2] = {a, b};
    size_t nres[2] = {3, 3};
    char dir[512], p[700];
    snprintf(dir, sizeof dir, "%s/run", tu_tmpdir());
    hflow_report_config cfg = {.out_dir = dir, .title = "test run", .command = "hybridflow eval --dataset x", .config_text = "edge: e", .make_plots = 1};
    hflow_error err;
    assert_int_equal(hflow_report_write_run(&cfg, s, res, nres, 2, &err), 0);
    snprintf(p, sizeof p, "%s/report.md", dir);
    char *md = tu_read_file(p, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "hybridflow eval --dataset x"));
    assert_non_null(strstr(md, "| edge-direct | 3 | 0 | 0.333 |"));
    assert_non_null(strstr(md, "| cloud-cot | 3 | 0 | 0.667 |"));
    free(md);
    static const char *imgs[] = {"acc_vs_usd", "acc_vs_latency", "latency_cdf"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/plots/%s.png", dir, imgs[i]);
        assert_true(is_png(p));
        snprintf(p, sizeof p, "%s/plots/%s.svg", dir, imgs[i]);
        char *svg = tu_read_file(p, NULL);
        assert_non_null(svg);
        assert_non_null(strstr(svg, "<svg"));
        free(svg);
    }
}

static void test_gantt(void **state) {
    (void)state;
    if (!has_gnuplot()) { print_message("skipped: gnuplot not installed\n"); skip(); }
    char trace[512], base[512], p[600];
    snprintf(trace, sizeof trace, "%s/trace.jsonl", tu_tmpdir());
    write_file(trace,
               "{\"event\": \"plan\", \"steps\": 4}\n"
               "{\"step\": 1, \"tier\": \"edge\", \"start_s\": 0.0, \"end_s\": 0.8, \"task\": \"restate the question\"}\n"
               "{\"step\": 2, \"tier\": \"cloud\", \"start_s\": 0.8, \"end_s\": 2.1, \"task\": \"derive the rate\"}\n"
               "{\"step\": 3, \"tier\": \"edge\", \"start_s\": 0.8, \"end_s\": 1.5, \"task\": \"list 'options'\"}\n"
               "{\"step\": \"final\", \"tier\": \"cloud\", \"start\": 2.1, \"end\": 2.9, \"task\": \"synthesise\"}\n");
    snprintf(base, sizeof base, "%s/gantt", tu_tmpdir());
    hflow_error err;
    assert_int_equal(hflow_report_gantt(trace, base, "query 7", &err), 0);
    snprintf(p, sizeof p, "%s.png", base);
    assert_true(is_png(p));
    snprintf(p, sizeof p, "%s.dat", base);
    char *dat = tu_read_file(p, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "0 2.100000 2.900000 1 \"final synthesise\""));
    free(dat);
    write_file(trace, "{\"event\": \"plan\"}\n");
    assert_int_equal(hflow_report_gantt(trace, base, NULL, &err), HFLOW_EFORMAT);
}

static void test_cli_replay(void **state) {
    (void)state;
    char file[512], out[512], cmd[2048];
    snprintf(file, sizeof file, "%s/cli-replay.jsonl", tu_tmpdir());
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    /* 40 questions: the cloud is right on all "hard" ones, the edge on all "easy" ones and no hard one
     * (distinct texts: copies of one text would all fall on one side of the split) */
    for (int i = 0; i < 40; i++)
        fprintf(f, "{\"id\": \"%d\", \"category\": \"%s\", \"question\": \"q%d\", \"models\": {\"e\": {\"correct\": %s}, \"c\": {\"correct\": true}}}\n",
                i, i % 2 ? "hard" : "easy", i, i % 2 ? "false" : "true");
    fclose(f);
    snprintf(out, sizeof out, "%s/cli-out", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s eval replay --file %s --edge e --cloud c --policy category --out %s --no-plots", tu_cli_path(), file, out);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    /* category learns hard > easy on the train split: on the test split it routes exactly the hard ones first */
    char *line = strstr(buf, "\ncategory");
    assert_non_null(line);
    double apgr, cpt50, cpt80;
    assert_int_equal(sscanf(line, "\ncategory %lf %lf %lf", &apgr, &cpt50, &cpt80), 3);
    char *o = strstr(buf, "\noracle");
    double oapgr;
    assert_int_equal(sscanf(o, "\noracle %lf", &oapgr), 1);
    assert_near(apgr, oapgr, 1e-4);
    assert_true(apgr > 0.5); /* oracle here: 1 - (hard share)/2, random 0.5 */
    snprintf(cmd, sizeof cmd, "%s/replay.md", out);
    assert_int_equal(access(cmd, R_OK), 0);
    snprintf(cmd, sizeof cmd, "%s eval replay --file %s --edge e --cloud nope 2>/dev/null", tu_cli_path(), file);
    assert_int_not_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_and_quantile), cmocka_unit_test(test_results_roundtrip_and_summary),
        cmocka_unit_test(test_pareto),              cmocka_unit_test(test_run_report_and_plots),
        cmocka_unit_test(test_gantt),               cmocka_unit_test(test_cli_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
