/* bench_router.c - router decision time (featurize + MLP + threshold) and
 * training time on the MMLU-Pro replay file.
 *   usage: bench_router [REPLAY.jsonl] [EDGE] [CLOUD] [tiers]   ("tiers": only the tiers configurations)
 * (default file: $HYBRIDFLOW_SHARED or ../shared, datasets/mmlu-pro-replay-dev.jsonl)
 * Prints the median of 5 rounds of per-decision time over the queries, wall
 * clock and the thread's CPU time (the latter is what a decision costs when
 * the shared machine is loaded and the thread waits for a core), and
 * training wall time. No assertions: figures only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    char def[4096];
    const char *sh = getenv("HYBRIDFLOW_SHARED");
    snprintf(def, sizeof def, "%s/datasets/mmlu-pro-replay-dev.jsonl", sh && *sh ? sh : "../shared");
    const char *path = argc > 1 ? argv[1] : def;
    const char *edge = argc > 2 ? argv[2] : "Meta-Llama-3.1-8B-Instruct";
    const char *cloud = argc > 3 ? argv[3] : "gpt-4o-2024-05-13";
    hflow_error err;
    hflow_replay_set all = {0};
    if (hflow_replay_load(path, edge, cloud, &all, NULL, &err)) {
        fprintf(stderr, "bench_router: %s\n", err.message);
        return 1;
    }
    hflow_router_dataset d, dc; /* pre-answer features; a cascade router's (the edge answer's length too) */
    hflow_router_dataset_init(&d);
    hflow_router_dataset_init(&dc);
    if (hflow_router_dataset_add_replay(&d, &all, edge, cloud, 1, &err) ||
        hflow_router_dataset_add_replay_cascade(&dc, &all, edge, cloud, 1, &err)) {
        fprintf(stderr, "bench_router: %s\n", err.message);
        return 1;
    }
    /* The utility head at three hash sizes, then the query-level configuration
     * (tiers + auxiliary targets, 5 networks merged) without the question-
     * structure features, with them, with them and the retrieval part (k 40
     * over every stored question), and as a cascade router (docs/ROUTER.md). */
    struct { uint32_t dim, hidden, ensemble; int tiers, knn, qshape, cascade; } cfgs[] = {
        {1024, 32, 1, 0, 0, 1, 0}, {4096, 32, 1, 0, 0, 1, 0}, {16384, 32, 1, 0, 0, 1, 0},
        {4096, 32, 5, 1, 0, 0, 0}, {4096, 32, 5, 1, 0, 1, 0}, {4096, 32, 5, 1, 1, 1, 0}, {4096, 32, 5, 1, 1, 1, 1}};
    int only_tiers = argc > 4 && !strcmp(argv[4], "tiers");
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        if (only_tiers && !cfgs[k].tiers) continue;
        hflow_router_train_opts o;
        hflow_router_train_opts_default(&o);
        o.feat.hash_dim = cfgs[k].dim;
        o.hidden[0] = cfgs[k].hidden;
        o.ensemble = cfgs[k].ensemble;
        o.feat.question_shape = cfgs[k].qshape;
        if (cfgs[k].tiers) {
            o.objective = HFLOW_ROUTER_OBJ_TIERS;
            o.aux_weight = 4;
        }
        const hflow_router_dataset *ds = cfgs[k].cascade ? &dc : &d;
        if (cfgs[k].knn) {
            o.knn.k = 40;
            o.knn.weight = cfgs[k].cascade ? 0.5f : 0.65f;
            o.knn.power = 0.5f;
            o.knn.denoise = 0.5f;
        }
        hflow_router *r = NULL;
        hflow_router_train_report rep;
        if (hflow_router_train(ds, NULL, &o, &r, &rep, &err)) {
            fprintf(stderr, "bench_router: %s\n", err.message);
            return 1;
        }
        double rounds[5], cpu[5];
        size_t clouds = 0;
        for (int round = 0; round < 5; round++) {
            double t0 = hflow_now_s(), c0 = thread_cpu_s();
            for (size_t i = 0; i < ds->n; i++) {
                hflow_route_decision dec;
                hflow_router_decide(r, &ds->s[i].f, NULL, 0, 0, &dec, NULL);
                clouds += dec.tier;
            }
            rounds[round] = (hflow_now_s() - t0) / (double)ds->n * 1e6;
            cpu[round] = (thread_cpu_s() - c0) / (double)ds->n * 1e6;
        }
        qsort(rounds, 5, sizeof rounds[0], cmp_d);
        qsort(cpu, 5, sizeof cpu[0], cmp_d);
        printf("%-7s%s%s%s hash_dim %5u hidden %u x%u: decision %.2f us median (min %.2f), CPU %.2f us, over %zu queries; "
               "training %.2f s (%zu samples, %u epochs, %zu params)\n",
               cfgs[k].tiers ? "tiers" : "utility", cfgs[k].qshape ? "" : " (no question shape)",
               cfgs[k].knn ? " + knn 40" : "", cfgs[k].cascade ? " cascade" : "", cfgs[k].dim, cfgs[k].hidden, cfgs[k].ensemble, rounds[2],
               rounds[0], cpu[2], d.n, rep.seconds, rep.n_train, rep.epochs, hflow_mlp_n_params(hflow_router_mlp(r)));
        (void)clouds;
        hflow_router_free(r);
    }
    hflow_router_dataset_free(&d);
    hflow_router_dataset_free(&dc);
    hflow_replay_set_free(&all);
    return 0;
}
