/* replay_scorers.c - built-in query-level scorers for replay: random,
 * oracle, per-category prior and question length. Any other policy (the
 * learned router) plugs in by filling an hflow_replay_scorer itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "hybridflow/eval.h"
#include "hybridflow/route.h"

typedef struct {
    uint64_t seed;
} random_impl;

static double random_score(hflow_replay_scorer *s, const hflow_replay_query *q) {
    const random_impl *r = s->impl;
    return (double)(hflow_id_hash(q->id, r->seed) >> 11) / 9007199254740992.0;
}

/* Cloud-only-correct first, then queries where both tiers agree, then edge-only-correct. */
static double oracle_score(hflow_replay_scorer *s, const hflow_replay_query *q) {
    (void)s;
    return (double)(q->correct[1] - q->correct[0]);
}

static double length_score(hflow_replay_scorer *s, const hflow_replay_query *q) {
    (void)s;
    return q->question ? (double)strlen(q->question) : 0;
}

/* Per-category prior: cloud accuracy minus edge accuracy in the category on
 * the train split, each smoothed as (k+1)/(n+2) so tiny categories stay near 0. */
typedef struct {
    char **names;
    double *gap;
    size_t n;
    double global_gap;
} category_impl;

static double category_score(hflow_replay_scorer *s, const hflow_replay_query *q) {
    const category_impl *c = s->impl;
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->names[i], q->category ? q->category : "")) return c->gap[i];
    return c->global_gap;
}

static void category_clear(category_impl *c) {
    for (size_t i = 0; i < c->n; i++) free(c->names[i]);
    free(c->names);
    free(c->gap);
    c->names = NULL;
    c->gap = NULL;
    c->n = 0;
}

static int category_fit(hflow_replay_scorer *s, const hflow_replay_set *train, hflow_error *err) {
    category_impl *c = s->impl;
    category_clear(c);
    size_t cap = train->n ? train->n : 1;
    double *cnt = calloc(cap * 3, sizeof *cnt); /* n, edge correct, cloud correct per category */
    c->names = calloc(cap, sizeof *c->names);
    c->gap = calloc(cap, sizeof *c->gap);
    if (!cnt || !c->names || !c->gap) {
        free(cnt);
        category_clear(c);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    double ge = 0, gc = 0;
    for (size_t i = 0; i < train->n; i++) {
        const hflow_replay_query *q = &train->q[i];
        const char *name = q->category ? q->category : "";
        size_t j = 0;
        while (j < c->n && strcmp(c->names[j], name)) j++;
        if (j == c->n) {
            if (!(c->names[j] = ev_strdup(name))) { free(cnt); category_clear(c); return hflow_error_set(err, HFLOW_ENOMEM, "out of memory"); }
            c->n++;
        }
        cnt[3 * j] += 1;
        cnt[3 * j + 1] += q->correct[0];
        cnt[3 * j + 2] += q->correct[1];
        ge += q->correct[0];
        gc += q->correct[1];
    }
    for (size_t j = 0; j < c->n; j++)
        c->gap[j] = (cnt[3 * j + 2] + 1) / (cnt[3 * j] + 2) - (cnt[3 * j + 1] + 1) / (cnt[3 * j] + 2);
    c->global_gap = (gc + 1) / ((double)train->n + 2) - (ge + 1) / ((double)train->n + 2);
    free(cnt);
    return 0;
}

static void category_destroy(hflow_replay_scorer *s) {
    category_clear(s->impl);
    free(s->impl);
}

static void plain_destroy(hflow_replay_scorer *s) { free(s->impl); }

int hflow_replay_scorer_create(const char *spec, hflow_replay_scorer **out, hflow_error *err) {
    *out = NULL;
    if (!spec) return hflow_error_set(err, HFLOW_EINVAL, "no scorer given");
    hflow_replay_scorer *s = calloc(1, sizeof *s);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    snprintf(s->name, sizeof s->name, "%s", spec);
    if (!strncmp(spec, "random", 6) && (spec[6] == '\0' || spec[6] == ':')) {
        random_impl *r = calloc(1, sizeof *r);
        if (!r) { free(s); return hflow_error_set(err, HFLOW_ENOMEM, "out of memory"); }
        r->seed = spec[6] ? strtoull(spec + 7, NULL, 10) : 1;
        s->impl = r;
        s->score = random_score;
        s->destroy = plain_destroy;
    } else if (!strcmp(spec, "oracle")) {
        s->score = oracle_score;
    } else if (!strcmp(spec, "length")) {
        s->score = length_score;
    } else if (!strcmp(spec, "category")) {
        s->impl = calloc(1, sizeof(category_impl));
        if (!s->impl) { free(s); return hflow_error_set(err, HFLOW_ENOMEM, "out of memory"); }
        s->fit = category_fit;
        s->score = category_score;
        s->destroy = category_destroy;
    } else {
        free(s);
        return hflow_error_set(err, HFLOW_EINVAL, "unknown replay scorer '%s' (random[:SEED], oracle, category, length)", spec);
    }
    *out = s;
    return 0;
}

void hflow_replay_scorer_free(hflow_replay_scorer *s) {
    if (!s) return;
    if (s->destroy) s->destroy(s);
    free(s);
}

static double policy_score(hflow_replay_scorer *s, const hflow_replay_query *q) {
    hflow_policy *p = s->impl;
    hflow_route_features f;
    /* a cascade router decides after the edge answered: the replay has that answer's length */
    if (p->flags & HFLOW_POLICY_NEEDS_EDGE_ANSWER) hflow_replay_query_features_cascade(q, &f);
    else hflow_replay_query_features(q, &f);
    hflow_route_decision d;
    memset(&d, 0, sizeof d);
    if (p->vt->decide(p, &f, &d, NULL) != 0) return NAN;
    return d.score;
}

int hflow_replay_scorer_from_policy(hflow_policy *policy, hflow_replay_scorer **out, hflow_error *err) {
    *out = NULL;
    if (!policy || !policy->vt || !policy->vt->decide) return hflow_error_set(err, HFLOW_EINVAL, "no policy given");
    hflow_replay_scorer *s = calloc(1, sizeof *s);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    snprintf(s->name, sizeof s->name, "%s", policy->name[0] ? policy->name : policy->vt->kind);
    s->impl = policy; /* borrowed */
    s->score = policy_score;
    *out = s;
    return 0;
}
