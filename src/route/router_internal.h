/* router_internal.h - the hflow_router object, shared by the files of
 * src/route that build, use and store it. */
#ifndef HFLOW_ROUTE_ROUTER_INTERNAL_H
#define HFLOW_ROUTE_ROUTER_INTERNAL_H

#include "hybridflow/router.h"

struct hflow_router {
    hflow_featurizer fz;
    hflow_mlp mlp;
    hflow_router_lambdas lam;
    hflow_router_decision_params p;
};

/* delta_t for decision parameters and a budget state (the formula in
 * router.h); one definition for training, calibration and serving. */
/* The router's score s from the MLP outputs: the utility head (one output)
 * is s itself; the tiers head (outputs: edge logit, cloud logit, auxiliary
 * logits) gives s = lambda_q (sigmoid(cloud) - sigmoid(edge)), the expected
 * quality gain. One definition for training (the budget penalties) and serving. */
float hflow_router_head_score(const hflow_router_lambdas *lam, const float *out, uint32_t n_out);

double hflow_router_threshold_of(const hflow_router_decision_params *p, const hflow_budget_state *b);


#endif
