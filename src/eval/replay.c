/* replay.c - query-level routing policies evaluated on recorded outcomes.
 *
 * Each recorded query says whether the edge and the cloud model answered it
 * correctly. A scorer ranks queries (higher = cloud first); sending the top k
 * to the cloud for k = 0..n traces the accuracy / cloud-share curve without
 * calling any model. Summary numbers follow the RouteLLM conventions: PGR,
 * APGR (area under PGR over cloud share) and CPT(x%). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "eval/eval_util.h"
#include "hybridflow/eval.h"
#include "hybridflow/route.h"

double hflow_tokens_from_words(double words) { return words * 4.0 / 3.0; }

uint64_t hflow_id_hash(const char *id, uint64_t seed) {
    /* FNV-1a over the seed's little-endian bytes then the id: stable across runs and machines.
     * The start state is NOT the standard FNV offset (it lacks the offset's last digit): every
     * published split (e.g. MMLU-Pro replay, split seed 1: 4149 train / 1827 test ids) was made
     * with it, and HFLOW_FNV_OFFSET would move about 300 ids (4091 / 1885). */
    unsigned char sb[8];
    for (int i = 0; i < 8; i++) sb[i] = (unsigned char)(seed >> (8 * i));
    uint64_t h = hflow_fnv1a(HFLOW_FNV_OFFSET_LEGACY, sb, sizeof sb);
    if (id) h = hflow_fnv1a(h, id, strlen(id));
    return hflow_mix64(h); /* nearby ids spread over the whole range */
}

static void query_free(hflow_replay_query *q) {
    free(q->id);
    free(q->category);
    free(q->question);
    for (int i = 0; i < q->n_options; i++) free(q->options[i]);
    free(q->options);
    free(q->prompt);
    free(q->outcomes);
}

void hflow_replay_query_features(const hflow_replay_query *q, hflow_route_features *f) {
    hflow_query_route_features(q->prompt ? q->prompt : q->question, q->category, f);
}

void hflow_query_route_features(const char *prompt, const char *category, hflow_route_features *f) {
    memset(f, 0, sizeof *f);
    f->question = prompt;
    f->task_type = category;
    f->step_index = -1;
    f->n_steps = 1;
    f->is_first = f->is_last = 1;
    f->edge_confidence = -1;
}

void hflow_replay_query_features_cascade(const hflow_replay_query *q, hflow_route_features *f) {
    hflow_replay_query_features(q, f);
    f->edge_answer_tokens = q->tokens[0];
}

/* Options (when the line has an array) and the rendered prompt. */
static int copy_options(const cJSON *o, hflow_replay_query *q) {
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(o, "options"), *x;
    if (cJSON_IsArray(opts) && cJSON_GetArraySize(opts) > 0) {
        q->options = calloc((size_t)cJSON_GetArraySize(opts), sizeof *q->options);
        if (!q->options) return -1;
        cJSON_ArrayForEach(x, opts) {
            if (!(q->options[q->n_options] = ev_strdup(cJSON_IsString(x) ? x->valuestring : ""))) return -1;
            q->n_options++;
        }
    }
    q->prompt = ev_render_question(q->question, cJSON_IsArray(opts) ? opts : NULL);
    return q->prompt ? 0 : -1;
}

void hflow_replay_set_free(hflow_replay_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) query_free(&s->q[i]);
    for (size_t i = 0; i < s->n_models; i++) free(s->models[i]);
    free(s->models);
    free(s->q);
    memset(s, 0, sizeof *s);
}

void hflow_replay_split_free(hflow_replay_set *s) {
    if (!s) return;
    free(s->q);
    memset(s, 0, sizeof *s);
}

/* One model's outcome; 1 found, 0 absent, <0 malformed. */
static int model_outcome(const cJSON *models, const char *name, int *correct, double *tokens) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(models, name);
    if (!m) return 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "correct");
    if (cJSON_IsBool(c)) *correct = cJSON_IsTrue(c);
    else if (cJSON_IsNumber(c)) *correct = c->valuedouble != 0;
    else return -1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "completion_tokens");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(m, "response_words");
    *tokens = cJSON_IsNumber(t) ? t->valuedouble : cJSON_IsNumber(w) ? hflow_tokens_from_words(w->valuedouble) : 0;
    return 1;
}

/* Index of a model name in the set's list, appending it when new; -1 on OOM. */
static long model_index(hflow_replay_set *set, const char *name) {
    for (size_t i = 0; i < set->n_models; i++)
        if (!strcmp(set->models[i], name)) return (long)i;
    char **nm = realloc(set->models, (set->n_models + 1) * sizeof *nm);
    if (!nm) return -1;
    set->models = nm;
    if (!(nm[set->n_models] = ev_strdup(name))) return -1;
    return (long)set->n_models++;
}

/* Every model's correctness on this line, in the set's model order. */
static int all_outcomes(const cJSON *models, hflow_replay_set *set, hflow_replay_query *q) {
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        int correct;
        double tok;
        if (!m->string || model_outcome(models, m->string, &correct, &tok) != 1) continue;
        long k = model_index(set, m->string);
        if (k < 0) return -1;
        if ((size_t)k >= q->n_outcomes) {
            signed char *no = realloc(q->outcomes, (size_t)k + 1);
            if (!no) return -1;
            memset(no + q->n_outcomes, -1, (size_t)k + 1 - q->n_outcomes);
            q->outcomes = no;
            q->n_outcomes = (size_t)k + 1;
        }
        q->outcomes[k] = (signed char)correct;
    }
    return 0;
}

static char *scalar_dup(const cJSON *v) {
    char buf[64];
    if (cJSON_IsString(v)) return ev_strdup(v->valuestring);
    if (cJSON_IsNumber(v)) { snprintf(buf, sizeof buf, "%.17g", v->valuedouble); return ev_strdup(buf); }
    return NULL;
}

static int parse_line(const char *path, int line, const char *s, const char *const names[2], hflow_replay_set *set,
                      hflow_replay_query *q, hflow_error *err) {
    memset(q, 0, sizeof *q);
    cJSON *o = cJSON_Parse(s);
    if (!o) return hflow_error_set(err, HFLOW_EFORMAT, "%s:%d: invalid JSON", path, line);
    int rc = 0;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(o, "models");
    if (!(q->id = scalar_dup(id))) rc = hflow_error_set(err, HFLOW_EFORMAT, "%s:%d: missing 'id'", path, line);
    else if (!cJSON_IsObject(models)) rc = hflow_error_set(err, HFLOW_EFORMAT, "%s:%d: missing object 'models'", path, line);
    for (int t = 0; t < 2 && rc == 0; t++) {
        int r = model_outcome(models, names[t], &q->correct[t], &q->tokens[t]);
        if (r < 0) rc = hflow_error_set(err, HFLOW_EFORMAT, "%s:%d: model '%s' lacks boolean 'correct'", path, line, names[t]);
        else if (r == 0) rc = 1; /* skipped */
    }
    if (rc == 0) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "category");
        const cJSON *qq = cJSON_GetObjectItemCaseSensitive(o, "question");
        q->category = ev_strdup(cJSON_IsString(c) ? c->valuestring : "");
        q->question = ev_strdup(cJSON_IsString(qq) ? qq->valuestring : "");
        if (!q->category || !q->question || copy_options(o, q) != 0 || all_outcomes(models, set, q) != 0)
            rc = hflow_error_set(err, HFLOW_ENOMEM, "%s:%d: out of memory", path, line);
    }
    cJSON_Delete(o);
    if (rc) query_free(q);
    return rc;
}

int hflow_replay_load(const char *path, const char *edge_model, const char *cloud_model, hflow_replay_set *out,
                      size_t *n_skipped, hflow_error *err) {
    memset(out, 0, sizeof *out);
    if (n_skipped) *n_skipped = 0;
    if (!edge_model || !cloud_model) return hflow_error_set(err, HFLOW_EINVAL, "replay needs an edge and a cloud model name");
    char *text;
    int rc = ev_read_file(path, &text, NULL, err);
    if (rc) return rc;
    const char *names[2] = {edge_model, cloud_model};
    size_t cap = 0, skipped = 0;
    int line = 0;
    for (char *p = text; *p && rc == 0;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        char *s = p;
        while (isspace((unsigned char)*s)) s++;
        if (*s) {
            hflow_replay_query q;
            int r = parse_line(path, line, s, names, out, &q, err);
            if (r < 0) rc = r;
            else if (r > 0) skipped++;
            else {
                if (out->n == cap) {
                    cap = cap ? cap * 2 : 256;
                    hflow_replay_query *nq = realloc(out->q, cap * sizeof *nq);
                    if (!nq) { query_free(&q); rc = hflow_error_set(err, HFLOW_ENOMEM, "%s: out of memory", path); break; }
                    out->q = nq;
                }
                out->q[out->n++] = q;
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
    free(text);
    if (rc == 0 && out->n == 0)
        rc = hflow_error_set(err, HFLOW_ENOTFOUND, "%s: no query has both models '%s' and '%s'", path, edge_model, cloud_model);
    if (rc) hflow_replay_set_free(out);
    if (n_skipped) *n_skipped = skipped;
    return rc;
}

/* FNV-1a of a question's normalised text: lower-cased alphanumeric words
 * joined by one space (case, punctuation and spacing do not separate copies). */
uint64_t hflow_question_text_key(const char *text) {
    uint64_t h = HFLOW_FNV_OFFSET;
    int gap = 0, any = 0;
    for (const unsigned char *p = (const unsigned char *)text; p && *p; p++) {
        if (!isalnum(*p)) { gap = any; continue; }
        if (gap) { h = hflow_fnv1a(h, " ", 1); gap = 0; }
        unsigned char c = (unsigned char)tolower(*p);
        h = hflow_fnv1a(h, &c, 1);
        any = 1;
    }
    return h;
}

/* For every query, the index of the first query in `all` with the same
 * normalised stem (open addressing on the text key; n small). rep[i] = i for
 * a question without an earlier copy. */
static int first_copies(const hflow_replay_set *all, size_t *rep) {
    size_t cap = 16;
    while (cap < 2 * all->n) cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot); /* query index + 1, 0 = empty */
    uint64_t *key = malloc((all->n ? all->n : 1) * sizeof *key);
    if (!slot || !key) { free(slot); free(key); return -1; }
    memset(slot, 0, cap * sizeof *slot);
    for (size_t i = 0; i < all->n; i++) {
        key[i] = hflow_question_text_key(all->q[i].question);
        size_t j = (size_t)(key[i] & (cap - 1));
        while (slot[j] && key[slot[j] - 1] != key[i]) j = (j + 1) & (cap - 1);
        if (!slot[j]) slot[j] = i + 1;
        rep[i] = slot[j] - 1;
    }
    free(slot);
    free(key);
    return 0;
}

int hflow_replay_split(const hflow_replay_set *all, double test_fraction, uint64_t seed, hflow_replay_set *train,
                       hflow_replay_set *test, hflow_error *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (test_fraction < 0 || test_fraction > 1) return hflow_error_set(err, HFLOW_EINVAL, "test fraction %g not in [0,1]", test_fraction);
    train->q = malloc((all->n ? all->n : 1) * sizeof *train->q);
    test->q = malloc((all->n ? all->n : 1) * sizeof *test->q);
    size_t *rep = malloc((all->n ? all->n : 1) * sizeof *rep);
    if (!train->q || !test->q || !rep || first_copies(all, rep) != 0) {
        hflow_replay_split_free(train);
        hflow_replay_split_free(test);
        free(rep);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    train->models = test->models = all->models; /* borrowed */
    train->n_models = test->n_models = all->n_models;
    for (size_t i = 0; i < all->n; i++) {
        /* copies of a question follow their first occurrence's id, so a held-out
         * question never has its own text among the training questions */
        const char *id = all->q[rep[i]].id;
        double u = (double)(hflow_id_hash(id, seed) >> 11) / 9007199254740992.0; /* [0,1) */
        hflow_replay_set *dst = u < test_fraction ? test : train;
        dst->q[dst->n++] = all->q[i]; /* borrowed: strings stay owned by `all` */
    }
    free(rep);
    return 0;
}

/* ------------------------------------------------------------------ curves */

void hflow_replay_curve_free(hflow_replay_curve *c) {
    if (!c) return;
    free(c->cloud_share);
    free(c->accuracy);
    free(c->pgr);
    free(c->cloud_token_share);
    memset(c, 0, sizeof *c);
}

static int curve_alloc(hflow_replay_curve *c, size_t n_points, hflow_error *err) {
    c->n_points = n_points;
    c->cloud_share = calloc(n_points, sizeof(double));
    c->accuracy = calloc(n_points, sizeof(double));
    c->pgr = calloc(n_points, sizeof(double));
    c->cloud_token_share = calloc(n_points, sizeof(double));
    if (!c->cloud_share || !c->accuracy || !c->pgr || !c->cloud_token_share) {
        hflow_replay_curve_free(c);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    return 0;
}

/* PGR from accuracies, then APGR (trapezoids) and CPT(50/80%). */
static int curve_finish(hflow_replay_curve *c, hflow_error *err) {
    double gap = c->acc_cloud - c->acc_edge;
    if (fabs(gap) < 1e-12) {
        hflow_replay_curve_free(c);
        return hflow_error_set(err, HFLOW_ERANGE, "edge and cloud have the same accuracy (%.4f): no gap to recover",
                               c->acc_edge);
    }
    c->apgr = 0;
    c->cpt50 = c->cpt80 = 1;
    int got50 = 0, got80 = 0;
    for (size_t k = 0; k < c->n_points; k++) {
        c->pgr[k] = (c->accuracy[k] - c->acc_edge) / gap;
        if (k > 0) c->apgr += (c->pgr[k - 1] + c->pgr[k]) / 2 * (c->cloud_share[k] - c->cloud_share[k - 1]);
        if (!got50 && c->pgr[k] >= 0.5 - 1e-12) { c->cpt50 = c->cloud_share[k]; got50 = 1; }
        if (!got80 && c->pgr[k] >= 0.8 - 1e-12) { c->cpt80 = c->cloud_share[k]; got80 = 1; }
    }
    return 0;
}

typedef struct {
    double score;
    uint64_t tie;
    size_t idx;
} ranked;

static int by_score_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->tie < y->tie ? -1 : x->tie > y->tie;
}

static void set_totals(const hflow_replay_set *set, double *acc_edge, double *acc_cloud, double tok[2]) {
    double ce = 0, cc = 0;
    tok[0] = tok[1] = 0;
    for (size_t i = 0; i < set->n; i++) {
        ce += set->q[i].correct[0];
        cc += set->q[i].correct[1];
        tok[0] += set->q[i].tokens[0];
        tok[1] += set->q[i].tokens[1];
    }
    *acc_edge = ce / (double)set->n;
    *acc_cloud = cc / (double)set->n;
}

int hflow_replay_curve_compute(const hflow_replay_set *set, hflow_replay_scorer *scorer, hflow_replay_curve *out,
                               hflow_error *err) {
    memset(out, 0, sizeof *out);
    if (!set || set->n == 0) return hflow_error_set(err, HFLOW_EINVAL, "empty replay set");
    snprintf(out->name, sizeof out->name, "%s", scorer->name);
    ranked *r = malloc(set->n * sizeof *r);
    if (!r) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; i < set->n; i++) {
        r[i].score = scorer->score(scorer, &set->q[i]);
        if (isnan(r[i].score)) r[i].score = -INFINITY;
        r[i].tie = hflow_id_hash(set->q[i].id, 0x7469657301ULL);
        r[i].idx = i;
    }
    qsort(r, set->n, sizeof *r, by_score_desc);
    int rc = curve_alloc(out, set->n + 1, err);
    if (rc) { free(r); return rc; }
    double tok[2];
    set_totals(set, &out->acc_edge, &out->acc_cloud, tok);
    double correct = out->acc_edge * (double)set->n, cloud_tok = 0, edge_tok = tok[0];
    for (size_t k = 0; k <= set->n; k++) {
        if (k > 0) {
            const hflow_replay_query *q = &set->q[r[k - 1].idx];
            correct += q->correct[1] - q->correct[0];
            cloud_tok += q->tokens[1];
            edge_tok -= q->tokens[0];
        }
        out->cloud_share[k] = (double)k / (double)set->n;
        out->accuracy[k] = correct / (double)set->n;
        out->cloud_token_share[k] = cloud_tok + edge_tok > 0 ? cloud_tok / (cloud_tok + edge_tok) : 0;
    }
    free(r);
    return curve_finish(out, err);
}

int hflow_replay_curve_random(const hflow_replay_set *set, hflow_replay_curve *out, hflow_error *err) {
    memset(out, 0, sizeof *out);
    if (!set || set->n == 0) return hflow_error_set(err, HFLOW_EINVAL, "empty replay set");
    snprintf(out->name, sizeof out->name, "random");
    int rc = curve_alloc(out, set->n + 1, err);
    if (rc) return rc;
    double tok[2];
    set_totals(set, &out->acc_edge, &out->acc_cloud, tok);
    for (size_t k = 0; k <= set->n; k++) {
        double c = (double)k / (double)set->n; /* expectation over random subsets of size k */
        out->cloud_share[k] = c;
        out->accuracy[k] = out->acc_edge + c * (out->acc_cloud - out->acc_edge);
        double ct = c * tok[1], et = (1 - c) * tok[0];
        out->cloud_token_share[k] = ct + et > 0 ? ct / (ct + et) : 0;
    }
    return curve_finish(out, err);
}
