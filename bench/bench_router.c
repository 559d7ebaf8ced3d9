/* bench_router.c - router decision time (featurize + MLP + threshold) and
 * training time on the MMLU-Pro replay file.
 *   usage: bench_router [REPLAY.jsonl] [EDGE] [CLOUD]
 * (default file: $HYBRIDFLOW_SHARED or ../shared, datasets/mmlu-pro-replay-dev.jsonl)
 * Prints the median of 5 rounds of per-decision time over the held-out
 * queries, and training wall time. No assertions: figures only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"

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
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    for (size_t i = 0; i < all.n; i++) {
        hflow_router_sample x = {0};
        hflow_replay_query_features(&all.q[i], &x.f);
        x.group = all.q[i].id;
        x.quality_edge = all.q[i].correct[0];
        x.quality_cloud = all.q[i].correct[1];
        x.cloud_tokens = all.q[i].tokens[1];
        if (hflow_router_dataset_add(&d, &x, &err)) return 1;
    }
    const uint32_t dims[] = {1024, 4096, 16384};
    for (size_t k = 0; k < 3; k++) {
        hflow_router_train_opts o;
        hflow_router_train_opts_default(&o);
        o.feat.hash_dim = dims[k];
        hflow_router *r = NULL;
        hflow_router_train_report rep;
        if (hflow_router_train(&d, NULL, &o, &r, &rep, &err)) {
            fprintf(stderr, "bench_router: %s\n", err.message);
            return 1;
        }
        double rounds[5];
        size_t clouds = 0;
        for (int round = 0; round < 5; round++) {
            double t0 = hflow_now_s();
            for (size_t i = 0; i < d.n; i++) {
                hflow_route_decision dec;
                hflow_router_decide(r, &d.s[i].f, NULL, 0, 0, &dec, NULL);
                clouds += dec.tier;
            }
            rounds[round] = (hflow_now_s() - t0) / (double)d.n * 1e6;
        }
        qsort(rounds, 5, sizeof rounds[0], cmp_d);
        printf("hash_dim %5u hidden %u: decision %.2f us median (min %.2f) over %zu queries; "
               "training %.2f s (%zu samples, %u epochs, %zu params)\n",
               dims[k], o.hidden[0], rounds[2], rounds[0], d.n, rep.seconds, rep.n_train, rep.epochs,
               hflow_mlp_n_params(hflow_router_mlp(r)));
        (void)clouds;
        hflow_router_free(r);
    }
    hflow_router_dataset_free(&d);
    hflow_replay_set_free(&all);
    return 0;
}
