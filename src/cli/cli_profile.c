/* cli_profile.c - `hybridflow profile`: per-step edge/cloud outcomes with
 * quality labels for `train-router --level subtask` (the work is
 * hflow_profile_run in the eval library). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "hybridflow/eval.h"
#include "hybridflow/flow.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow profile --dataset NAME|FILE --edge EP --cloud EP --out profile.jsonl\n"
            "         [--limit N] [--labeler swap|judge] [--judge EP] [--planner edge|cloud]\n"
            "         [--aggregate edge|cloud] [--max-steps N] [--prompts DIR]\n"
            "         [--max-step-tokens N] [--answer-tokens N] [--planner-tokens N] [--plan-first]\n"
            "         [--cascade]\n\n"
            "Plans each question once and runs the plan all-edge, once per step with only that\n"
            "step on the cloud, and all-cloud (step outputs cached by prompt, so a variant redoes\n"
            "only the swapped step and its dependents). One row per step: both tiers' outputs,\n"
            "tokens and latency, and quality labels:\n"
            "  swap  (default): edge = score of the all-edge final answer, cloud = score of the\n"
            "        final answer with this step alone on the cloud;\n"
            "  judge: a judge model (--judge, default the cloud) rates each tier's step output 0-10.\n"
            "Questions already in --out are skipped (rerun to resume). --plan-first starts steps\n"
            "only once the plan is complete, so each row's n_steps/is_last are final (pair it with\n"
            "`run --plan-first`). --cascade runs every step on the edge first and records the\n"
            "confidence of its answer (edge_confidence); a router trained on such a profile is\n"
            "served with `run --cascade`.\n");
}

static int tier_arg(const char *v, int *out) {
    if (!strcmp(v, "edge")) *out = HFLOW_TIER_EDGE;
    else if (!strcmp(v, "cloud")) *out = HFLOW_TIER_CLOUD;
    else return -1;
    return 0;
}

/* A token cap > 0 (the flow's own defaults otherwise). */
static int cap_arg(const char *v, int *out) {
    int n = atoi(v);
    if (n <= 0) return -1;
    *out = n;
    return 0;
}

int cli_profile(int argc, char **argv) {
    const char *dataset = NULL, *edge_ep = NULL, *cloud_ep = NULL, *judge_ep = NULL, *out = NULL, *prompts = NULL;
    hflow_profile_config cfg;
    hflow_profile_config_default(&cfg);
    hflow_flow_config fc;
    hflow_flow_config_default(&fc);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) { usage(stdout); return 0; }
        if (!strcmp(f, "--plan-first")) { fc.dispatch_while_planning = 0; continue; }
        if (!strcmp(f, "--cascade")) { fc.cascade = 1; continue; }
        if (!v) { fprintf(stderr, "profile: %s needs a value\n", f); return 2; }
        int bad = 0;
        if (!strcmp(f, "--dataset")) dataset = v;
        else if (!strcmp(f, "--edge")) edge_ep = v;
        else if (!strcmp(f, "--cloud")) cloud_ep = v;
        else if (!strcmp(f, "--judge")) judge_ep = v;
        else if (!strcmp(f, "--out")) out = v;
        else if (!strcmp(f, "--prompts")) prompts = v;
        else if (!strcmp(f, "--limit")) cfg.limit = (size_t)atol(v);
        else if (!strcmp(f, "--max-steps")) fc.max_steps = atoi(v);
        else if (!strcmp(f, "--max-step-tokens")) bad = cap_arg(v, &fc.max_step_tokens);
        else if (!strcmp(f, "--answer-tokens")) bad = cap_arg(v, &fc.aggregator_max_tokens);
        else if (!strcmp(f, "--planner-tokens")) bad = cap_arg(v, &fc.planner_max_tokens);
        else if (!strcmp(f, "--labeler")) {
            if (!strcmp(v, "swap")) cfg.labeler = HFLOW_LABEL_SWAP;
            else if (!strcmp(v, "judge")) cfg.labeler = HFLOW_LABEL_JUDGE;
            else bad = 1;
        } else if (!strcmp(f, "--planner")) bad = tier_arg(v, &cfg.planner_tier);
        else if (!strcmp(f, "--aggregate")) bad = tier_arg(v, &cfg.aggregate_tier);
        else { fprintf(stderr, "profile: unknown option %s\n", f); usage(stderr); return 2; }
        if (bad) { fprintf(stderr, "profile: bad value for %s: %s\n", f, v); return 2; }
        i++;
    }
    if (!dataset || !edge_ep || !cloud_ep || !out) { usage(stderr); return 2; }
    /* Short step caps: keep the floor and the no-estimate default within them (as eval --max-tokens does). */
    if (fc.default_step_tokens > fc.max_step_tokens) fc.default_step_tokens = fc.max_step_tokens;
    if (fc.min_step_tokens > fc.max_step_tokens) fc.min_step_tokens = fc.max_step_tokens;
    hflow_error err;
    hflow_error_clear(&err);
    hflow_eval_dataset ds;
    if (hflow_eval_dataset_load(dataset, cli_shared_dir(), &ds, &err)) { fprintf(stderr, "profile: %s\n", err.message); return 1; }
    hflow_backend *edge = NULL, *cloud = NULL, *judge = NULL;
    int rc = cli_open_backend("profile", edge_ep, &edge) || cli_open_backend("profile", cloud_ep, &cloud) ||
             (judge_ep && cli_open_backend("profile", judge_ep, &judge));
    hflow_profile_stats st;
    memset(&st, 0, sizeof st);
    if (!rc) {
        cli_progress prog;
        cli_progress_init(&prog, "profile");
        cfg.dataset = &ds;
        cfg.edge = edge;
        cfg.cloud = cloud;
        cfg.judge = judge;
        cfg.flow = &fc;
        cfg.prompts_dir = prompts;
        cfg.out_path = out;
        cfg.progress = cli_progress_cb;
        cfg.progress_user = &prog;
        cfg.cancel = cli_cancel_flag_install();
        rc = hflow_profile_run(&cfg, &st, &err);
        cli_progress_end(&prog);
        if (rc) fprintf(stderr, "profile: %s\n", err.message);
        printf("profile %s: %zu questions (%zu already in %s, %zu failed), %zu rows (labeler %s)\n", ds.name,
               st.questions, st.resumed, out, st.errors, st.rows, cfg.labeler == HFLOW_LABEL_JUDGE ? "judge" : "swap");
        printf("backend calls: edge %zu, cloud %zu; final-answer score all-edge %.3f, all-cloud %.3f\n",
               st.backend_calls[0], st.backend_calls[1], st.acc_all_edge, st.acc_all_cloud);
    }
    hflow_backend_free(edge);
    hflow_backend_free(cloud);
    hflow_backend_free(judge);
    hflow_eval_dataset_free(&ds);
    return rc ? 1 : 0;
}
