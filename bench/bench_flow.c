/* bench_flow.c - orchestration overhead per step, and makespan of
 * completion-driven vs wave vs sequential execution on the same DAGs, over
 * scripted backends (injected latencies, no models).
 * usage: bench_flow [reps]   (default 20 overhead queries) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/scripted_backend.h"
#include "hybridflow/flow.h"

typedef struct dag_case {
    const char *name;
    int n;
    const char *rely[8];
    double ms[8];
} dag_case;

static const dag_case CASES[] = {
    {"diamond-uneven", 6, {"", "1", "1", "3", "2", "4,5"}, {100, 200, 60, 150, 50, 80}},
    {"fan-out-8", 8, {"", "1", "1", "1", "1", "1", "1", "2,3,4,5,6,7"}, {40, 120, 30, 90, 60, 150, 20, 40}},
    {"two-chains", 7, {"", "1", "2", "1", "4", "5", "3,6"}, {30, 40, 160, 120, 30, 60, 40}},
    {"chain-5", 5, {"", "1", "2", "3", "4"}, {50, 60, 70, 80, 90}},
};

static char *plan_of(const dag_case *c) {
    char *s = malloc(4096);
    size_t o = (size_t)sprintf(s, "<Plan>");
    for (int i = 0; i < c->n; i++)
        o += (size_t)sprintf(s + o, "<Step ID=\"%d\" Task=\"K%d\" Rely=\"%s\" Token=\"50\"/>", i + 1, i + 1, c->rely[i]);
    sprintf(s + o, "</Plan>");
    return s;
}

static hflow_backend *tier_of(const dag_case *c, int zero_latency) {
    hflow_script_rule r[9];
    char match[8][24];
    memset(r, 0, sizeof r);
    for (int i = 0; i < c->n; i++) {
        snprintf(match[i], sizeof match[i], "Your step: K%d\n", i + 1);
        r[i].match = match[i];
        r[i].reply = "result";
        r[i].latency_ms = zero_latency ? 0 : c->ms[i];
    }
    r[c->n].reply = "Answer: A";
    hflow_scripted_config sc = {"cloud", r, c->n + 1, 0, 0, 0};
    hflow_backend *b = NULL;
    hflow_scripted_backend_create(&sc, &b, NULL);
    return b;
}

static double run(const dag_case *c, int mode, int zero_latency, int reps, double *wall_per_query) {
    char *plan = plan_of(c);
    hflow_script_rule pr = {NULL, plan, 0, 0, 0, 0};
    hflow_scripted_config pc = {"planner", &pr, 1, 4096, 0, 0};
    hflow_backend *planner = NULL, *cloud = tier_of(c, zero_latency);
    hflow_scripted_backend_create(&pc, &planner, NULL);
    hflow_policy *policy = NULL;
    hflow_policy_create("cloud", &policy, NULL);
    hflow_flow_config cfg;
    hflow_flow_config_default(&cfg);
    cfg.planner = planner;
    cfg.cloud = cloud;
    cfg.policy = policy;
    cfg.cloud_concurrency = 8;
    cfg.mode = mode;
    hflow_flow *f = NULL;
    hflow_error err;
    if (hflow_flow_create(&cfg, &f, &err)) {
        fprintf(stderr, "bench_flow: %s\n", err.message);
        exit(1);
    }
    double makespan = 0, wall = 0;
    for (int k = 0; k < reps; k++) {
        hflow_flow_result res;
        if (hflow_flow_run(f, "benchmark question", NULL, &res, &err)) {
            fprintf(stderr, "bench_flow: %s\n", err.message);
            exit(1);
        }
        double first = 1e9, last = 0;
        for (int i = 0; i < res.n_steps; i++) {
            if (res.steps[i].call.start_s < first) first = res.steps[i].call.start_s;
            if (res.steps[i].call.end_s > last) last = res.steps[i].call.end_s;
        }
        makespan += last - first;
        wall += res.wall_s;
        hflow_flow_result_clear(&res);
    }
    hflow_flow_free(f);
    hflow_policy_free(policy);
    planner->vt->destroy(planner);
    cloud->vt->destroy(cloud);
    free(plan);
    *wall_per_query = wall / reps;
    return makespan / reps;
}

static double critical_path_ms(const dag_case *c) {
    double fin[8] = {0}, best = 0;
    for (int i = 0; i < c->n; i++) {
        double start = 0;
        for (const char *p = c->rely[i]; *p;) {
            int d = (int)strtol(p, (char **)&p, 10) - 1;
            if (fin[d] > start) start = fin[d];
            while (*p == ',') p++;
        }
        fin[i] = start + c->ms[i];
        if (fin[i] > best) best = fin[i];
    }
    return best;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    if (reps < 1) reps = 1;
    printf("orchestration overhead (zero-latency scripted backends, %d queries each)\n", reps);
    printf("%-16s %6s %12s %16s\n", "dag", "steps", "wall/query", "overhead/call");
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        double wall;
        run(&CASES[k], HFLOW_SCHED_COMPLETION, 1, reps, &wall);
        int calls = CASES[k].n + 2; /* planner + steps + aggregator */
        printf("%-16s %6d %10.3fms %14.3fms\n", CASES[k].name, CASES[k].n, wall * 1e3, wall * 1e3 / calls);
    }
    printf("\nmakespan of the steps (ms; injected latencies, cloud concurrency 8)\n");
    printf("%-16s %10s %11s %8s %11s %14s\n", "dag", "critical", "completion", "waves", "sequential", "waves/compl.");
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        double w, m[3];
        for (int mode = 0; mode < 3; mode++) m[mode] = run(&CASES[k], mode, 0, 1, &w) * 1e3;
        printf("%-16s %10.1f %11.1f %8.1f %11.1f %14.2f\n", CASES[k].name, critical_path_ms(&CASES[k]), m[0], m[1], m[2],
               m[1] / m[0]);
    }
    return 0;
}
