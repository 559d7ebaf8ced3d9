/* router_replay.c - query-level training samples from a replay set (eval's
 * loader): one sample per recorded question, its features built by eval's
 * hflow_replay_query_features (the same function that serves replay
 * scoring), and optionally the other models' outcomes as auxiliary targets.
 * Used by train-router and the router benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/eval.h"
#include "hybridflow/router.h"

/* Indices (into s->models) of the auxiliary models: all but edge and cloud. */
static size_t aux_models(const hflow_replay_set *s, const char *edge, const char *cloud, size_t *idx) {
    size_t n = 0;
    for (size_t m = 0; m < s->n_models; m++)
        if (strcmp(s->models[m], edge) && strcmp(s->models[m], cloud)) idx[n++] = m;
    return n;
}

static int add_replay(hflow_router_dataset *d, const hflow_replay_set *s, const char *edge, const char *cloud,
                      int with_aux, int cascade, hflow_error *err) {
    if (!d || !s || !edge || !cloud) return hflow_error_set(err, HFLOW_EINVAL, "router replay data: NULL argument");
    size_t *idx = malloc((s->n_models + 1) * sizeof *idx);
    float *aux = malloc((s->n_models + 1) * sizeof *aux);
    int rc = idx && aux ? 0 : hflow_error_set(err, HFLOW_ENOMEM, "router replay data: out of memory");
    size_t n_aux = rc ? 0 : aux_models(s, edge, cloud, idx);
    int use_aux = with_aux && n_aux > 0;
    if (!rc && d->n > 0 && d->aux_dim != (use_aux ? n_aux : 0))
        rc = hflow_error_set(err, HFLOW_EINVAL, "router replay data: aux length %zu differs from the dataset's %u",
                             use_aux ? n_aux : 0, d->aux_dim);
    if (!rc) d->aux_dim = use_aux ? (uint32_t)n_aux : 0;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        const hflow_replay_query *q = &s->q[i];
        hflow_router_sample x = {0};
        if (cascade) hflow_replay_query_features_cascade(q, &x.f);
        else hflow_replay_query_features(q, &x.f);
        x.group = q->id;
        x.quality_edge = q->correct[0];
        x.quality_cloud = q->correct[1];
        x.cloud_tokens = q->tokens[1];
        for (size_t k = 0; use_aux && k < n_aux; k++)
            aux[k] = idx[k] < q->n_outcomes && q->outcomes[idx[k]] >= 0 ? (float)q->outcomes[idx[k]] : -1.0f;
        x.aux = use_aux ? aux : NULL;
        rc = hflow_router_dataset_add(d, &x, err);
    }
    free(idx);
    free(aux);
    return rc;
}

int hflow_router_dataset_add_replay(hflow_router_dataset *d, const hflow_replay_set *s, const char *edge,
                                    const char *cloud, int with_aux, hflow_error *err) {
    return add_replay(d, s, edge, cloud, with_aux, 0, err);
}

int hflow_router_dataset_add_replay_cascade(hflow_router_dataset *d, const hflow_replay_set *s, const char *edge,
                                            const char *cloud, int with_aux, hflow_error *err) {
    return add_replay(d, s, edge, cloud, with_aux, 1, err);
}
