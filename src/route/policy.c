/* policy.c - hflow_policy_create and the baseline policies: always-edge,
 * always-cloud, random(p), a planner-difficulty threshold and the cascade
 * baseline confidence:T.
 * "learned:" specs go to the utility router (router.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/route.h"
#include "hybridflow/router.h"

typedef struct fixed_impl {
    int tier;
} fixed_impl;

typedef struct random_impl {
    double p;
    uint64_t state; /* splitmix64: deterministic for a given seed */
    pthread_mutex_t mu;
} random_impl;

typedef struct threshold_impl {
    int threshold;
} threshold_impl;

typedef struct confidence_impl {
    double threshold; /* mean token logprob */
} confidence_impl;

static void set_decision(hflow_route_decision *out, int tier, double score, double thr) {
    out->tier = tier;
    out->score = score;
    out->threshold = thr;
    out->reason = "policy";
}

static int fixed_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    (void)f;
    (void)err;
    const fixed_impl *im = p->impl;
    set_decision(out, im->tier, im->tier == HFLOW_TIER_CLOUD ? 1.0 : 0.0, NAN);
    return 0;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int random_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    (void)f;
    (void)err;
    random_impl *im = p->impl;
    pthread_mutex_lock(&im->mu);
    double u = (double)(splitmix64(&im->state) >> 11) * 0x1.0p-53;
    pthread_mutex_unlock(&im->mu);
    set_decision(out, u < im->p ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE, u, im->p);
    return 0;
}

static int threshold_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out,
                            hflow_error *err) {
    (void)err;
    const threshold_impl *im = p->impl;
    /* Unknown difficulty (0) counts as the middle of the scale. */
    int d = f->difficulty > 0 ? f->difficulty : 5;
    set_decision(out, d >= im->threshold ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE, d, im->threshold);
    return 0;
}

/* confidence:T, the cascade baseline: keep the edge's answer unless its mean
 * token logprob is below T (T <= 0), i.e. escalate when edge_confidence =
 * exp(mean logprob) < exp(T). Only cascade mode asks after the edge answered
 * (HFLOW_POLICY_NEEDS_CONFIDENCE); an unknown confidence (a server that sent
 * no logprobs) keeps the edge answer. */
static int confidence_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out,
                             hflow_error *err) {
    (void)err;
    const confidence_impl *im = p->impl;
    if (!(f->edge_confidence > 0 && f->edge_confidence <= 1)) {
        set_decision(out, HFLOW_TIER_EDGE, NAN, im->threshold);
        out->reason = "confidence-unknown";
        return 0;
    }
    double mean_logprob = log(f->edge_confidence);
    set_decision(out, mean_logprob < im->threshold ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE, mean_logprob, im->threshold);
    out->reason = "confidence";
    return 0;
}

static void plain_destroy(hflow_policy *p) {
    free(p->impl);
    free(p);
}

static void random_destroy(hflow_policy *p) {
    random_impl *im = p->impl;
    pthread_mutex_destroy(&im->mu);
    plain_destroy(p);
}

static const hflow_policy_vtable fixed_vt = {"fixed", fixed_decide, plain_destroy};
static const hflow_policy_vtable random_vt = {"random", random_decide, random_destroy};
static const hflow_policy_vtable threshold_vt = {"difficulty", threshold_decide, plain_destroy};
static const hflow_policy_vtable confidence_vt = {"confidence", confidence_decide, plain_destroy};

static int make_policy(const hflow_policy_vtable *vt, void *impl, const char *spec, hflow_policy **out,
                       hflow_error *err) {
    hflow_policy *p = calloc(1, sizeof *p);
    if (!p || !impl) {
        free(p);
        free(impl);
        return hflow_error_set(err, HFLOW_ENOMEM, "policy: out of memory");
    }
    p->vt = vt;
    p->impl = impl;
    snprintf(p->name, sizeof p->name, "%s", spec);
    *out = p;
    return 0;
}

/* Parses a whole-string number; 0 on success. */
static int parse_double(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end == s || (*end && *end != ':') ? -1 : 0;
}

int hflow_policy_create(const char *spec, hflow_policy **out, hflow_error *err) {
    *out = NULL;
    if (!spec) return hflow_error_set(err, HFLOW_EINVAL, "policy: no spec");
    if (!strcmp(spec, "edge") || !strcmp(spec, "cloud")) {
        fixed_impl *im = calloc(1, sizeof *im);
        if (im) im->tier = !strcmp(spec, "cloud") ? HFLOW_TIER_CLOUD : HFLOW_TIER_EDGE;
        return make_policy(&fixed_vt, im, spec, out, err);
    }
    if (!strncmp(spec, "random:", 7)) {
        double p, seed = 0;
        const char *colon = strchr(spec + 7, ':');
        if (parse_double(spec + 7, &p) || !(p >= 0 && p <= 1) ||
            (colon && (parse_double(colon + 1, &seed) || strchr(colon + 1, ':') || seed < 0)))
            return hflow_error_set(err, HFLOW_EINVAL, "policy '%s': expected random:P[:SEED] with P in [0,1]", spec);
        random_impl *im = calloc(1, sizeof *im);
        if (im) {
            im->p = p;
            im->state = (uint64_t)seed;
            pthread_mutex_init(&im->mu, NULL);
        }
        return make_policy(&random_vt, im, spec, out, err);
    }
    if (!strncmp(spec, "difficulty:", 11)) {
        double t;
        if (parse_double(spec + 11, &t) || strchr(spec + 11, ':') || t != floor(t) || t < 1 || t > 10)
            return hflow_error_set(err, HFLOW_EINVAL, "policy '%s': expected difficulty:T with T in 1..10", spec);
        threshold_impl *im = calloc(1, sizeof *im);
        if (im) im->threshold = (int)t;
        return make_policy(&threshold_vt, im, spec, out, err);
    }
    if (!strncmp(spec, "learned:", 8)) return hflow_policy_create_learned(spec + 8, out, err);
    if (!strncmp(spec, "confidence:", 11)) {
        double t;
        if (parse_double(spec + 11, &t) || strchr(spec + 11, ':') || !(t <= 0) || !isfinite(t))
            return hflow_error_set(err, HFLOW_EINVAL, "policy '%s': expected confidence:T with T <= 0 (a mean token logprob)",
                                   spec);
        confidence_impl *im = calloc(1, sizeof *im);
        if (im) im->threshold = t;
        int rc = make_policy(&confidence_vt, im, spec, out, err);
        if (!rc) (*out)->flags = HFLOW_POLICY_NEEDS_CONFIDENCE;
        return rc;
    }
    return hflow_error_set(err, HFLOW_EINVAL,
                           "unknown policy '%s' (expected edge, cloud, random:P[:SEED], difficulty:T, confidence:T)",
                           spec);
}

int hflow_policy_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err) {
    if (!p || !f || !out) return hflow_error_set(err, HFLOW_EINVAL, "policy: NULL argument");
    memset(out, 0, sizeof *out);
    out->threshold = NAN;
    return p->vt->decide(p, f, out, err);
}

void hflow_policy_free(hflow_policy *p) {
    if (p && p->vt && p->vt->destroy) p->vt->destroy(p);
}
