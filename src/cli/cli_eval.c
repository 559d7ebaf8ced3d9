/* cli_eval.c - `hybridflow eval replay|gantt ...`: flag parsing and printing;
 * the work is done by the eval library (include/hybridflow/eval.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "cli/cli.h"
#include "hybridflow/eval.h"
#include "hybridflow/route.h"
#include "hybridflow/router.h"

static void usage_eval(FILE *out) {
    fprintf(out,
            "usage: hybridflow eval replay --file F.jsonl --edge MODEL --cloud MODEL [--policy LIST]\n"
            "                              [--test-frac F] [--seed N] [--out DIR] [--no-plots]\n"
            "       hybridflow eval gantt --trace TRACE.jsonl --out BASE [--title T]\n\n"
            "replay: evaluates query-level routing policies on recorded per-question outcomes\n"
            "  (no model calls). --policy is a comma list of scorers: category (per-category\n"
            "  accuracy gap learned on the train split), length, random[:SEED], oracle,\n"
            "  learned:ROUTER.gguf[,options] (the utility router's score).\n"
            "  Random (expected) and oracle are always reported as references.\n"
            "  --test-frac: share of questions (by id hash) in the test split, default 0.5.\n"
            "gantt: plots one query's DAG execution per tier from a trace JSONL\n"
            "  (lines with step, tier, start_s, end_s, task) as BASE.png and BASE.svg.\n");
}

static char *join_args(int argc, char **argv) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_puts(&b, "hybridflow");
    for (int i = 0; i < argc; i++) hflow_strbuf_printf(&b, " %s", argv[i]);
    return hflow_strbuf_take(&b);
}

static int add_curve(hflow_replay_curve *curves, size_t *n, const char *spec, const hflow_replay_set *train,
                     const hflow_replay_set *test, hflow_error *err) {
    hflow_replay_scorer *s;
    hflow_policy *pol = NULL;
    int rc;
    if (!strncmp(spec, "learned:", 8)) { /* the utility router, as a query-level score */
        rc = hflow_policy_create_learned(spec + 8, &pol, err);
        if (!rc) rc = hflow_replay_scorer_from_policy(pol, &s, err);
        if (rc && pol) pol->vt->destroy(pol);
    } else {
        rc = hflow_replay_scorer_create(spec, &s, err);
    }
    if (rc) return rc;
    if (s->fit) rc = s->fit(s, train, err);
    if (!rc) rc = hflow_replay_curve_compute(test, s, &curves[*n], err);
    if (!rc) (*n)++;
    hflow_replay_scorer_free(s);
    if (pol) pol->vt->destroy(pol); /* destroy frees the policy itself */
    return rc;
}

static int eval_replay(int argc, char **argv) {
    const char *file = NULL, *edge = NULL, *cloud = NULL, *policy = "category", *out = NULL;
    double test_frac = 0.5;
    unsigned long long seed = 1;
    int plots = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage_eval(stdout); return 0; }
        if (!strcmp(a, "--no-plots")) { plots = 0; continue; }
        if (!v) { fprintf(stderr, "eval replay: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "--edge")) edge = v;
        else if (!strcmp(a, "--cloud")) cloud = v;
        else if (!strcmp(a, "--policy")) policy = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--test-frac")) test_frac = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else { fprintf(stderr, "eval replay: unknown option %s\n", a); usage_eval(stderr); return 2; }
        i++;
    }
    if (!file || !edge || !cloud) { usage_eval(stderr); return 2; }
    hflow_error err;
    hflow_error_clear(&err);
    hflow_replay_set all, train, test;
    size_t skipped = 0;
    if (hflow_replay_load(file, edge, cloud, &all, &skipped, &err)) { fprintf(stderr, "eval replay: %s\n", err.message); return 1; }
    if (hflow_replay_split(&all, test_frac, seed, &train, &test, &err) || test.n == 0) {
        fprintf(stderr, "eval replay: %s\n", test.n == 0 ? "empty test split" : err.message);
        hflow_replay_set_free(&all);
        return 1;
    }
    /* policies from the list, then the references */
    char *list = strdup(policy);
    size_t cap = 2;
    for (const char *p = policy; *p; p++) cap += *p == ',';
    cap += 1;
    hflow_replay_curve *curves = calloc(cap, sizeof *curves);
    size_t n = 0;
    int rc = !list || !curves;
    for (char *tok = list ? strtok(list, ",") : NULL; tok && !rc; tok = strtok(NULL, ",")) rc = add_curve(curves, &n, tok, &train, &test, &err);
    if (!rc) rc = add_curve(curves, &n, "oracle", &train, &test, &err);
    if (!rc && (rc = hflow_replay_curve_random(&test, &curves[n], &err)) == 0) n++;
    if (rc) fprintf(stderr, "eval replay: %s\n", err.message[0] ? err.message : "out of memory");
    if (!rc) {
        printf("replay %s: edge %s, cloud %s; %zu questions (%zu skipped), train %zu / test %zu\n", file, edge, cloud,
               all.n, skipped, train.n, test.n);
        printf("test accuracy: edge-only %.4f, cloud-only %.4f\n\n", curves[0].acc_edge, curves[0].acc_cloud);
        printf("%-16s %8s %8s %8s\n", "policy", "APGR", "CPT50", "CPT80");
        for (size_t i = 0; i < n; i++)
            printf("%-16s %8.4f %8.4f %8.4f\n", curves[i].name, curves[i].apgr, curves[i].cpt50, curves[i].cpt80);
    }
    if (!rc && out) {
        char *cmd = join_args(argc + 1, argv - 1);
        char cfgtext[1024];
        snprintf(cfgtext, sizeof cfgtext, "file: %s\nedge: %s\ncloud: %s\npolicies: %s\ntest fraction: %g (seed %llu)\ntrain: %zu  test: %zu  skipped: %zu",
                 file, edge, cloud, policy, test_frac, seed, train.n, test.n, skipped);
        hflow_report_config cfg = {.out_dir = out, .title = "Replay of recorded outcomes", .command = cmd, .config_text = cfgtext, .make_plots = plots};
        rc = hflow_report_write_replay(&cfg, curves, n, &err);
        if (rc) fprintf(stderr, "eval replay: %s\n", err.message);
        else printf("\nreport: %s/replay.md%s\n", out, plots ? " (plots in plots/)" : "");
        free(cmd);
    }
    for (size_t i = 0; i < n; i++) hflow_replay_curve_free(&curves[i]);
    free(curves);
    free(list);
    hflow_replay_split_free(&train);
    hflow_replay_split_free(&test);
    hflow_replay_set_free(&all);
    return rc ? 1 : 0;
}

static int eval_gantt(int argc, char **argv) {
    const char *trace = NULL, *out = NULL, *title = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--trace")) trace = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--title")) title = argv[i + 1];
        else { fprintf(stderr, "eval gantt: unknown option %s\n", argv[i]); return 2; }
    }
    if (!trace || !out) { usage_eval(stderr); return 2; }
    hflow_error err;
    hflow_error_clear(&err);
    if (hflow_report_gantt(trace, out, title, &err)) { fprintf(stderr, "eval gantt: %s\n", err.message); return 1; }
    printf("wrote %s.png and %s.svg\n", out, out);
    return 0;
}

int cli_eval(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage_eval(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "replay")) return eval_replay(argc - 1, argv + 1);
    if (!strcmp(argv[1], "gantt")) return eval_gantt(argc - 1, argv + 1);
    fprintf(stderr, "eval: unknown subcommand '%s' (the live runner over methods needs the orchestrator)\n", argv[1]);
    usage_eval(stderr);
    return 2;
}
