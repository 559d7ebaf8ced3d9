/* confidence_policy.c - "confidence:T", the cascade baseline: keep the edge's
 * answer unless its mean token logprob is below T (T <= 0), i.e. escalate
 * when edge_confidence = exp(mean logprob) < exp(T). It needs the edge to
 * have answered first (hflow_flow_config.cascade), so it carries
 * HFLOW_POLICY_NEEDS_CONFIDENCE; with the confidence unknown (a server that
 * sent no logprobs) it keeps the edge answer, reason "confidence-unknown". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hybridflow/route.h"

typedef struct confidence_impl {
    double threshold; /* mean logprob */
} confidence_impl;

static int confidence_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out,
                             hflow_error *err) {
    (void)err;
    const confidence_impl *im = p->impl;
    out->threshold = im->threshold;
    if (!(f->edge_confidence > 0 && f->edge_confidence <= 1)) {
        out->tier = HFLOW_TIER_EDGE;
        out->score = NAN;
        out->reason = "confidence-unknown";
        return 0;
    }
    out->score = log(f->edge_confidence); /* the mean logprob back */
    out->tier = out->score < im->threshold ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
    out->reason = "confidence";
    return 0;
}

static void confidence_destroy(hflow_policy *p) {
    free(p->impl);
    free(p);
}

static const hflow_policy_vtable confidence_vt = {"confidence", confidence_decide, confidence_destroy};

int hflow_policy_create_confidence(const char *arg, hflow_policy **out, hflow_error *err) {
    *out = NULL;
    char *end;
    double t = strtod(arg, &end);
    if (end == arg || *end || !(t <= 0) || !isfinite(t))
        return hflow_error_set(err, HFLOW_EINVAL, "policy 'confidence:%s': expected confidence:T with T <= 0 "
                               "(a mean token logprob)", arg);
    hflow_policy *p = calloc(1, sizeof *p);
    confidence_impl *im = calloc(1, sizeof *im);
    if (!p || !im) {
        free(p);
        free(im);
        return hflow_error_set(err, HFLOW_ENOMEM, "policy: out of memory");
    }
    im->threshold = t;
    p->vt = &confidence_vt;
    p->impl = im;
    p->flags = HFLOW_POLICY_NEEDS_CONFIDENCE;
    snprintf(p->name, sizeof p->name, "confidence:%s", arg);
    *out = p;
    return 0;
}
