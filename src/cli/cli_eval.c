/* cli_eval.c - `hybridflow eval replay|gantt ...`: flag parsing and printing;
 * the work is done by the eval library (include/hybridflow/eval.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "hybridflow/flow.h"
#include "hybridflow/eval.h"
#include "hybridflow/route.h"
#include "hybridflow/router.h"

static void usage_eval(FILE *out) {
    fprintf(out,
            "usage: hybridflow eval --dataset NAME|FILE --edge EP --cloud EP [--methods LIST] [--limit N]\n"
            "                       [--concurrency N] [--out DIR] [--planner edge|cloud] [--policy SPEC]\n"
            "                       [--budget-tokens N] [--budget-usd X] [--deadline S] [--prices FILE]\n"
            "                       [--seed S] [--max-tokens N] [--prompts DIR] [--no-plots]\n"
            "                       [--max-steps N] [--planner-tokens N] [--remote-grammar] [--cascade]\n"
            "                       [--judge ENDPOINT]  LLM judge for free-form answers (off by default)\n"
            "       hybridflow eval replay --file F.jsonl --edge MODEL --cloud MODEL [--policy LIST]\n"
            "                              [--test-frac F] [--seed N] [--out DIR] [--no-plots]\n"
            "       hybridflow eval gantt --trace TRACE.jsonl --out BASE [--title T]\n\n"
            "replay: evaluates query-level routing policies on recorded per-question outcomes\n"
            "  (no model calls). --policy is a comma list of scorers: category (per-category\n"
            "  accuracy gap learned on the train split), length, random[:SEED], oracle,\n"
            "  learned:ROUTER.gguf[,options] (the utility router's score).\n"
            "  Random (expected) and oracle are always reported as references.\n"
            "  --test-frac: share of questions (by id hash) in the test split, default 0.5.\n"
            "live: runs every method on the questions (METHODS: edge, edge-cot, cloud, cloud-cot,\n"
            "  route, hybridflow, hybridflow-chain; default edge-cot,cloud-cot,route,hybridflow,\n"
            "  hybridflow-chain), results appended to DIR/METHOD.jsonl (default DIR eval-out); a rerun\n"
            "  skips finished questions. --policy (default difficulty:6) routes route and hybridflow*:\n"
            "  edge, cloud, random:P[:SEED], difficulty:T, learned:ROUTER.gguf[,options]. Budgets are\n"
            "  per query. Ctrl-C stops cleanly; the report covers what is done.\n"
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

typedef struct live_args {
    const char *dataset, *methods, *out, *edge, *cloud, *planner, *policy, *prices, *prompts, *judge;
    long limit, concurrency, max_tokens, max_steps, planner_tokens;
    unsigned long long seed;
    hflow_budget_limits limits;
    int plots;
    int remote_grammar; /* --edge/--cloud URLs are `hybridflow serve`: a planner there is constrained */
    int cascade;        /* hybridflow methods: every step on the edge first, escalated by the policy */
} live_args;

static int parse_live(int argc, char **argv, live_args *a) {
    memset(a, 0, sizeof *a);
    a->methods = "edge-cot,cloud-cot,route,hybridflow,hybridflow-chain";
    a->out = "eval-out";
    a->planner = "edge";
    a->policy = "difficulty:6";
    a->concurrency = 1;
    a->seed = 1;
    a->plots = 1;
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--no-plots")) { a->plots = 0; continue; }
        if (!strcmp(f, "--remote-grammar")) { a->remote_grammar = 1; continue; }
        if (!strcmp(f, "--cascade")) { a->cascade = 1; continue; }
        if (!v) { fprintf(stderr, "eval: %s needs a value\n", f); return 2; }
        if (!strcmp(f, "--dataset")) a->dataset = v;
        else if (!strcmp(f, "--methods")) a->methods = v;
        else if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--edge")) a->edge = v;
        else if (!strcmp(f, "--cloud")) a->cloud = v;
        else if (!strcmp(f, "--planner")) a->planner = v;
        else if (!strcmp(f, "--policy")) a->policy = v;
        else if (!strcmp(f, "--prices")) a->prices = v;
        else if (!strcmp(f, "--prompts")) a->prompts = v;
        else if (!strcmp(f, "--judge")) a->judge = v;
        else if (!strcmp(f, "--limit")) a->limit = atol(v);
        else if (!strcmp(f, "--concurrency")) a->concurrency = atol(v);
        else if (!strcmp(f, "--max-tokens")) a->max_tokens = atol(v);
        else if (!strcmp(f, "--max-steps")) a->max_steps = atol(v);
        else if (!strcmp(f, "--planner-tokens")) a->planner_tokens = atol(v);
        else if (!strcmp(f, "--seed")) a->seed = strtoull(v, NULL, 10);
        else if (!strcmp(f, "--budget-tokens")) a->limits.cloud_tokens = atoll(v);
        else if (!strcmp(f, "--budget-usd")) a->limits.usd = atof(v);
        else if (!strcmp(f, "--deadline")) a->limits.deadline_s = atof(v);
        else { fprintf(stderr, "eval: unknown option %s\n", f); usage_eval(stderr); return 2; }
        i++;
    }
    if (!a->dataset || !a->edge || !a->cloud) { usage_eval(stderr); return 2; }
    if (strcmp(a->planner, "edge") && strcmp(a->planner, "cloud")) { fprintf(stderr, "eval: --planner edge|cloud\n"); return 2; }
    return 0;
}

/* The things a live run holds open; freed in one place. */
typedef struct live_res {
    hflow_eval_dataset ds;
    hflow_backend *edge, *cloud, *judge;
    hflow_policy *policy;
    hflow_price_table *prices;
} live_res;

static void live_free(live_res *r) {
    hflow_eval_dataset_free(&r->ds);
    hflow_backend_free(r->edge);
    hflow_backend_free(r->cloud);
    hflow_backend_free(r->judge);
    hflow_policy_free(r->policy);
    hflow_price_table_free(r->prices);
}

static int live_open(const live_args *a, live_res *r, hflow_error *err) {
    memset(r, 0, sizeof *r);
    if (hflow_eval_dataset_load(a->dataset, cli_shared_dir(), &r->ds, err)) return 1;
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.hybridflow_server = a->remote_grammar;
    if (cli_open_backend_opts("eval", a->edge, &o, &r->edge) || cli_open_backend_opts("eval", a->cloud, &o, &r->cloud))
        return -1;
    if (a->judge && cli_open_backend("eval", a->judge, &r->judge)) return -1;
    if (hflow_policy_create(a->policy, &r->policy, err)) return 1;
    if (a->prices && hflow_price_table_load(a->prices, &r->prices, err)) return 1;
    return 0;
}

static int eval_live(int argc, char **argv, int cmd_argc, char **cmd_argv) {
    live_args a;
    int rc = parse_live(argc, argv, &a);
    if (rc) return rc;
    hflow_error err;
    hflow_error_clear(&err);
    live_res r;
    rc = live_open(&a, &r, &err);
    if (rc) {
        if (rc > 0) fprintf(stderr, "eval: %s\n", err.message);
        live_free(&r);
        return 1;
    }
    hflow_flow_config fc;
    hflow_flow_config_default(&fc);
    fc.query_limits = a.limits;
    fc.prices = r.prices;
    fc.cascade = a.cascade;
    if (a.max_tokens > 0) {
        /* --max-tokens caps every model call, the flow methods' planner, steps and aggregator too. */
        int32_t m = (int32_t)a.max_tokens;
        fc.planner_max_tokens = fc.aggregator_max_tokens = fc.max_step_tokens = m;
        if (fc.default_step_tokens > m) fc.default_step_tokens = m;
        if (fc.min_step_tokens > m) fc.min_step_tokens = m;
    }
    /* A constrained plan of a few steps takes hundreds of tokens: the planner may get more than the calls. */
    if (a.planner_tokens > 0) fc.planner_max_tokens = (int32_t)a.planner_tokens;
    if (a.max_steps > 0) fc.max_steps = (int)a.max_steps;
    cli_progress prog;
    cli_progress_init(&prog, "eval");
    hflow_eval_run_config cfg;
    hflow_eval_run_config_default(&cfg);
    cfg.dataset = &r.ds;
    cfg.limit = a.limit > 0 ? (size_t)a.limit : 0;
    cfg.methods = a.methods;
    cfg.edge = r.edge;
    cfg.cloud = r.cloud;
    cfg.judge = r.judge;
    cfg.planner_tier = !strcmp(a.planner, "cloud") ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    cfg.policy = r.policy;
    cfg.flow = &fc;
    cfg.prices = r.prices;
    cfg.prompts_dir = a.prompts;
    cfg.concurrency = (int)a.concurrency;
    cfg.seed = a.seed;
    if (a.max_tokens > 0) cfg.max_tokens = (int32_t)a.max_tokens;
    cfg.out_dir = a.out;
    cfg.progress = cli_progress_cb;
    cfg.progress_user = &prog;
    cfg.cancel = cli_cancel_flag_install();
    hflow_eval_run_stats st;
    rc = hflow_eval_run(&cfg, &st, &err);
    cli_progress_end(&prog);
    if (rc && rc != HFLOW_ECANCELLED) fprintf(stderr, "eval: %s\n", err.message);
    else fprintf(stderr, "eval: %zu ran (%zu errors), %zu already done%s, %.1f s\n", st.ran, st.errors, st.resumed,
                 rc ? "; cancelled: rerun the same command to resume" : "", st.wall_s);
    char *cmd = join_args(cmd_argc, cmd_argv);
    char cfgtext[2048];
    size_t n_q = cfg.limit && cfg.limit < r.ds.n ? cfg.limit : r.ds.n;
    snprintf(cfgtext, sizeof cfgtext,
             "dataset: %s (%zu of %zu questions)\nedge: %s\ncloud: %s\nplanner: %s\npolicy: %s\nmethods: %s\n"
             "concurrency: %ld\nseed: %llu\nbudget per query: cloud tokens %lld, usd %g, deadline %g s\nprices: %s",
             r.ds.name, n_q, r.ds.n, a.edge, a.cloud, a.planner, a.policy, a.methods, a.concurrency, a.seed,
             (long long)a.limits.cloud_tokens, a.limits.usd, a.limits.deadline_s, a.prices ? a.prices : "(none: $0)");
    hflow_eval_summary *sums = NULL;
    size_t n = 0;
    int rrc = rc && rc != HFLOW_ECANCELLED ? rc : hflow_eval_write_report(a.out, a.methods, cmd, cfgtext, a.plots, &sums, &n, &err);
    if (!rrc) {
        printf("%-18s %5s %8s %17s %9s %9s %10s\n", "method", "n", "accuracy", "95% CI", "lat mean", "lat p95", "cloud tok");
        for (size_t i = 0; i < n; i++)
            printf("%-18s %5zu %8.3f  [%5.3f, %5.3f] %9.2f %9.2f %9.1f%%\n", sums[i].method, sums[i].n, sums[i].accuracy,
                   sums[i].acc_lo, sums[i].acc_hi, sums[i].lat_mean, sums[i].lat_p95, 100 * sums[i].cloud_token_share);
        printf("\nreport: %s/report.md\n", a.out);
    } else if (!rc) {
        fprintf(stderr, "eval: report: %s\n", err.message);
    }
    free(sums);
    free(cmd);
    live_free(&r);
    return rc || rrc ? 1 : 0;
}

int cli_eval(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage_eval(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "replay")) return eval_replay(argc - 1, argv + 1);
    if (!strcmp(argv[1], "gantt")) return eval_gantt(argc - 1, argv + 1);
    if (!strncmp(argv[1], "--", 2)) return eval_live(argc - 1, argv + 1, argc, argv);
    fprintf(stderr, "eval: unknown subcommand '%s' (the live runner over methods needs the orchestrator)\n", argv[1]);
    usage_eval(stderr);
    return 2;
}
