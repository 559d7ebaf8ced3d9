/* hybridflow/route.h - routing a subtask (or a whole query) to the edge or the cloud.
 *
 * The orchestrator fills an hflow_route_features for each step and the live
 * budget state, asks a policy, and gets a tier with a score. Policies are
 * objects behind a small vtable so the learned utility router, the simple
 * baselines and test policies plug in the same way (run, serve, eval).
 * A policy is created and freed by its owner; decide() must be thread-safe. */
#ifndef HYBRIDFLOW_ROUTE_H
#define HYBRIDFLOW_ROUTE_H

#include <stdint.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hflow_tier { HFLOW_TIER_EDGE = 0, HFLOW_TIER_CLOUD = 1 };

/* Live budget utilisation: used / cap in [0, +inf), 0 when no cap is set. */
typedef struct hflow_budget_state {
    double tokens_ratio;   /* cloud tokens used / cloud token cap */
    double usd_ratio;      /* dollars spent / dollar cap */
    double latency_ratio;  /* wall time elapsed / deadline */
} hflow_budget_state;

/* What a policy may look at for one step. Strings are borrowed for the call. */
typedef struct hflow_route_features {
    const char *question;       /* the whole user query */
    const char *task;           /* this step's task text; NULL for query-level routing */
    const char *task_type;      /* dataset/task kind when known ("mc", "integer", ...), may be NULL */
    int step_index;             /* 0-based position in the plan; -1 for query level */
    int n_steps;                /* steps in the plan */
    int n_deps;                 /* direct dependencies */
    int depth;                  /* longest dependency chain to this step */
    int difficulty;             /* planner difficulty 1-9, 0 when unknown */
    int token_estimate;         /* planner token estimate, 0 when unknown */
    int is_first, is_last;      /* first (restating) and final (synthesis) step */
    double edge_confidence;     /* edge's confidence when it answered first, < 0 when unknown */
    double edge_answer_tokens;  /* completion tokens of the edge's answer when it answered first (cascade);
                                   0 when unknown (zero-initialised features), so an empty answer counts
                                   as none */
    hflow_budget_state budget;
} hflow_route_features;

typedef struct hflow_route_decision {
    int tier;            /* enum hflow_tier */
    double score;        /* the policy's utility / probability for the cloud */
    double threshold;    /* the threshold it compared against (NaN when none) */
    const char *reason;  /* static string: "policy", "forced-first", ... */
} hflow_route_decision;

typedef struct hflow_policy hflow_policy;
typedef struct hflow_policy_vtable {
    const char *kind;
    int (*decide)(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err);
    void (*destroy)(hflow_policy *p);
} hflow_policy_vtable;

/* hflow_policy.flags */
#define HFLOW_POLICY_NEEDS_CONFIDENCE 1u /* decides on f.edge_confidence: only usable where the edge
                                            answers first (hflow_flow_config.cascade) */
#define HFLOW_POLICY_NEEDS_EDGE_ANSWER 2u /* decides on f.edge_answer_tokens: likewise cascade only
                                             (replay scoring reads the edge's recorded answer) */

struct hflow_policy {
    const hflow_policy_vtable *vt;
    char name[64];
    void *impl;
    unsigned flags;  /* HFLOW_POLICY_* (0 for a zeroed struct) */
};

/* Parses a policy spec: "edge", "cloud", "random:P[:SEED]", "difficulty:T",
 * "confidence:T" (cascade baseline: cloud when the edge answer's mean token
 * logprob is below T <= 0, i.e. edge_confidence < exp(T); edge while the
 * confidence is unknown) and (when built) "learned:ROUTER.gguf". */
int hflow_policy_create(const char *spec, hflow_policy **out, hflow_error *err);
int hflow_policy_decide(hflow_policy *p, const hflow_route_features *f, hflow_route_decision *out, hflow_error *err);
void hflow_policy_free(hflow_policy *p);

#ifdef __cplusplus
}
#endif
#endif
