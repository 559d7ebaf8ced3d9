/* cli_train_router.c - `hybridflow train-router`: trains the utility router
 * from a replay file (query level) or a profile JSONL (subtask level), holds
 * out a split by question id, reports held-out quality, saves GGUF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli/cli.h"
#include "hybridflow/eval.h"
#include "hybridflow/router.h"

typedef struct tr_args {
    const char *data, *level, *edge, *cloud, *out;
    const char *embed, *embed_cache;  /* dense question embeddings: endpoint and cache file */
    hflow_router_embedder *embedder;  /* opened from embed */
    double target_share, test_frac, select_frac;
    int cascade;                      /* query level: a cascade router (sees the edge's answer length) */
    uint64_t split_seed;
    hflow_router_train_opts o;
} tr_args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow train-router --data FILE --out ROUTER.gguf [--level query|subtask]\n"
            "         [--edge NAME --cloud NAME]   (query level: models in the replay file)\n"
            "         [--target-cloud-share X] [--seed S] [--test-frac F (0.3)] [--split-seed S (1)]\n"
            "         [--select-on-val F]  (model selection: hold out F of the TRAIN ids and report on them;\n"
            "                               the test split is not touched)\n"
            "         [--hash-dim N (4096)] [--hidden W[,W..] (32)] [--act relu|gelu] [--epochs N] [--lr X]\n"
            "         [--batch N] [--weight-decay X] [--lambda-q X] [--lambda-t X] [--lambda-k X]\n"
            "         [--lambda-B X --B-max X] [--lambda-L X --L-max X] [--no-bigrams] [--no-shape-tokens]\n"
            "         [--no-question-shape] (drops the 11 question-structure features) [--verbose]\n"
            "         [--cascade]  (query level: a cascade router, deciding after the edge answered; it\n"
            "          also sees that answer's length, from the edge's recorded response; serve it with\n"
            "          run/eval --cascade, score it with eval replay)\n"
            "         [--objective utility|tiers] [--aux-weight W]  (tiers: P(edge ok), P(cloud ok) by\n"
            "          cross-entropy; W > 0 adds the other models' outcomes on training questions as targets)\n"
            "         [--ensemble K] (K networks averaged into one) [--val-frac F (0.15)] [--patience N (5)]\n"
            "         [--embed ENDPOINT [--embed-cache FILE]]  (dense features: the embedding of each question\n"
            "          from an OpenAI-compatible http://host/v1#model or a local GGUF; stored in the router,\n"
            "          which then embeds at serving time with the same endpoint)\n"
            "         [--knn K [--knn-weight W (0.5)] [--knn-dim N] [--knn-max-df F] [--knn-smooth A]\n"
            "          [--knn-power P (1)] [--knn-denoise B]]  (neighbours weigh cosine^P; B: stored labels move B of the way to a ridge fit on the other\n"
            "          models' outcomes on those training questions; needs the tiers objective with aux)\n"
            "          (retrieval part: the K nearest training questions' labels, TF-IDF cosine, blended into\n"
            "          the score with weight W; with --select-on-val also a validation sweep over K and W)\n");
}

static int parse_hidden(const char *s, hflow_router_train_opts *o) {
    o->n_hidden = 0;
    while (*s) {
        char *end;
        unsigned long w = strtoul(s, &end, 10);
        if (end == s || w < 1 || w > 1024 || o->n_hidden == HFLOW_ROUTER_MAX_HIDDEN) return -1;
        o->hidden[o->n_hidden++] = (uint32_t)w;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return o->n_hidden ? 0 : -1;
}

/* Float flags by name, to keep parse_args short. */
static float *float_flag(tr_args *a, const char *name) {
    hflow_router_train_opts *o = &a->o;
    static const char *names[] = {"--lr", "--weight-decay", "--lambda-q", "--lambda-t", "--lambda-k",
                                  "--lambda-B", "--B-max", "--lambda-L", "--L-max", "--aux-weight",
                                  "--knn-weight", "--knn-max-df", "--knn-smooth", "--knn-denoise", "--knn-power"};
    float *ptr[] = {&o->lr, &o->weight_decay, &o->lam.q, &o->lam.t, &o->lam.k, &o->lambda_B, &o->B_max,
                    &o->lambda_L, &o->L_max, &o->aux_weight, &o->knn.weight, &o->knn.max_df, &o->knn.smooth, &o->knn.denoise, &o->knn.power};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) return ptr[i];
    return NULL;
}

static int parse_args(int argc, char **argv, tr_args *a) {
    memset(a, 0, sizeof *a);
    a->level = "query";
    a->target_share = -1;
    a->test_frac = 0.3;
    a->split_seed = 1;
    hflow_router_train_opts_default(&a->o);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        float *fp;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return 1;
        if (!strcmp(f, "--verbose")) { a->o.verbose = 1; continue; }
        if (!strcmp(f, "--no-bigrams")) { a->o.feat.bigrams = 0; continue; }
        if (!strcmp(f, "--no-shape-tokens")) { a->o.feat.shape_tokens = 0; continue; }
        if (!strcmp(f, "--no-question-shape")) { a->o.feat.question_shape = 0; continue; }
        if (!strcmp(f, "--cascade")) { a->cascade = 1; continue; }
        if (!v) { fprintf(stderr, "train-router: %s needs a value\n", f); return -1; }
        i++;
        if (!strcmp(f, "--data")) a->data = v;
        else if (!strcmp(f, "--level")) a->level = v;
        else if (!strcmp(f, "--edge")) a->edge = v;
        else if (!strcmp(f, "--cloud")) a->cloud = v;
        else if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--embed")) a->embed = v;
        else if (!strcmp(f, "--embed-cache")) a->embed_cache = v;
        else if (!strcmp(f, "--target-cloud-share")) a->target_share = atof(v);
        else if (!strcmp(f, "--test-frac")) a->test_frac = atof(v);
        else if (!strcmp(f, "--seed")) a->o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(f, "--split-seed")) a->split_seed = strtoull(v, NULL, 10);
        else if (!strcmp(f, "--select-on-val")) a->select_frac = atof(v);
        else if (!strcmp(f, "--hash-dim")) a->o.feat.hash_dim = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--epochs")) a->o.max_epochs = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--batch")) a->o.batch = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--knn")) a->o.knn.k = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--knn-dim")) a->o.knn.dim = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--ensemble")) a->o.ensemble = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--val-frac")) a->o.val_frac = (float)atof(v);
        else if (!strcmp(f, "--patience")) a->o.patience = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(f, "--act")) a->o.act = !strcmp(v, "gelu") ? HFLOW_ACT_GELU : HFLOW_ACT_RELU;
        else if (!strcmp(f, "--objective")) {
            if (!strcmp(v, "utility")) a->o.objective = HFLOW_ROUTER_OBJ_UTILITY;
            else if (!strcmp(v, "tiers")) a->o.objective = HFLOW_ROUTER_OBJ_TIERS;
            else { fprintf(stderr, "train-router: --objective utility|tiers\n"); return -1; }
        }
        else if (!strcmp(f, "--hidden")) {
            if (parse_hidden(v, &a->o)) { fprintf(stderr, "train-router: bad --hidden '%s'\n", v); return -1; }
        } else if ((fp = float_flag(a, f))) *fp = (float)atof(v);
        else { fprintf(stderr, "train-router: unknown option %s\n", f); return -1; }
    }
    if (!a->data || !a->out) { fprintf(stderr, "train-router: --data and --out are required\n"); return -1; }
    if (strcmp(a->level, "query") && strcmp(a->level, "subtask")) {
        fprintf(stderr, "train-router: --level must be query or subtask\n");
        return -1;
    }
    if (a->cascade && strcmp(a->level, "query")) {
        fprintf(stderr, "train-router: --cascade is for query level (a profile made with profile --cascade "
                        "already carries the edge's answer)\n");
        return -1;
    }
    if (!strcmp(a->level, "query") && (!a->edge || !a->cloud)) {
        fprintf(stderr, "train-router: query level needs --edge and --cloud\n");
        return -1;
    }
    if (a->embed_cache && !a->embed) { fprintf(stderr, "train-router: --embed-cache needs --embed\n"); return -1; }
    if (!(a->test_frac > 0 && a->test_frac < 1)) { fprintf(stderr, "train-router: --test-frac in (0,1)\n"); return -1; }
    if (!(a->select_frac >= 0 && a->select_frac < 1)) { fprintf(stderr, "train-router: --select-on-val in [0,1)\n"); return -1; }
    return 0;
}

/* Every sample's embedding through the router's one embedding path. */
static int embed_dataset(const tr_args *a, hflow_router_dataset *d, hflow_error *err) {
    if (!a->embedder) return 0;
    double t0 = hflow_now_s();
    int rc = hflow_router_dataset_embed(d, a->embedder, err);
    if (!rc)
        printf("embeddings: %zu texts, %u values each, from %s in %.1f s%s\n", d->n, d->embed_dim, a->embed,
               hflow_now_s() - t0, a->embed_cache ? " (cached ones read from the cache file)" : "");
    return rc;
}

/* ---- query level: replay file through eval's loader, split and metrics ---- */

/* Training samples from the TRAIN split only. With the tiers objective and
 * an aux weight, the other models' outcomes on these training questions
 * become extra targets (labels of training ids; never features). */
static int add_queries(const tr_args *a, const hflow_replay_set *s, hflow_router_dataset *d, hflow_error *err) {
    int with_aux = a->o.objective == HFLOW_ROUTER_OBJ_TIERS && a->o.aux_weight > 0;
    int rc = a->cascade ? hflow_router_dataset_add_replay_cascade(d, s, a->edge, a->cloud, with_aux, err)
                        : hflow_router_dataset_add_replay(d, s, a->edge, a->cloud, with_aux, err);
    if (!rc && d->aux_dim > 0)
        printf("auxiliary targets: %u other models' outcomes on the training questions\n", d->aux_dim);
    if (!rc) rc = embed_dataset(a, d, err);
    return rc;
}

typedef struct scored_router {
    hflow_router *r;
    hflow_router_embedder *emb; /* NULL without embedding features */
    float *vec;                 /* embed_dim scratch */
} scored_router;

/* A replay query's features as the router's policy will see them: after the
 * edge's answer for a cascade router (what eval replay does too). */
static void router_query_features(const hflow_router *r, const hflow_replay_query *q, hflow_route_features *f) {
    if (hflow_router_featurizer(r)->cfg.edge_answer) hflow_replay_query_features_cascade(q, f);
    else hflow_replay_query_features(q, f);
}

/* A query's score as the learned policy computes it: features, the
 * embedder's vector when the router has embedding features, the MLP. */
static int query_score(scored_router *sr, const hflow_route_features *f, float *v, hflow_error *err) {
    const float *e = NULL;
    if (sr->emb) {
        int rc = hflow_router_embedder_embed(sr->emb, f, sr->vec, hflow_router_featurizer(sr->r)->cfg.embed_dim, err);
        if (rc) return rc;
        e = sr->vec;
    }
    return hflow_router_score(sr->r, f, e, v, err);
}

/* The router as an eval replay scorer: its utility score ranks queries. */
static double router_score(hflow_replay_scorer *s, const hflow_replay_query *q) {
    hflow_route_features f;
    router_query_features(((scored_router *)s->impl)->r, q, &f);
    float v = 0;
    if (query_score(s->impl, &f, &v, NULL) != 0) return 0;
    return v;
}

static void print_curve(const hflow_replay_curve *c) {
    printf("  %-10s APGR %.4f  CPT(50%%) %.3f   CPT(80%%) %.3f\n", c->name, c->apgr, c->cpt50, c->cpt80);
}

/* With a retrieval part: the same curve for its two components alone (the
 * MLP = blend weight 0, the retrieval part = weight 1), for the record only:
 * the weight itself is chosen in selection mode. */
static int component_report(hflow_router *r, const hflow_replay_set *test, hflow_replay_scorer *rs, hflow_error *err) {
    hflow_router_knn_opts keep = hflow_router_knn_get(r);
    const float ws[2] = {0, 1};
    const char *names[2] = {"mlp only", "knn only"};
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        hflow_replay_curve c = {0};
        rc = hflow_router_knn_set(r, keep.k, ws[i], err);
        if (!rc) rc = hflow_replay_curve_compute(test, rs, &c, err);
        if (!rc) {
            snprintf(c.name, sizeof c.name, "%s", names[i]);
            print_curve(&c);
        }
        hflow_replay_curve_free(&c);
    }
    int rc2 = hflow_router_knn_set(r, keep.k, keep.weight, err);
    return rc ? rc : rc2;
}

static int held_out_report(hflow_router *r, hflow_router_embedder *emb, const hflow_replay_set *train,
                           const hflow_replay_set *test, const char *what, hflow_error *err) {
    uint32_t dim = hflow_router_featurizer(r)->cfg.embed_dim;
    scored_router sr = {r, dim ? emb : NULL, malloc((dim ? dim : 1) * sizeof(float))};
    if (!sr.vec) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    hflow_replay_scorer rs = {.score = router_score, .impl = &sr};
    snprintf(rs.name, sizeof rs.name, "router");
    hflow_replay_scorer *cat = NULL;
    hflow_replay_curve cr = {0}, cc = {0}, cd = {0};
    int rc = hflow_replay_curve_compute(test, &rs, &cr, err);
    if (!rc) rc = hflow_replay_scorer_create("category", &cat, err);
    if (!rc && cat->fit) rc = cat->fit(cat, train, err);
    if (!rc) rc = hflow_replay_curve_compute(test, cat, &cc, err);
    if (!rc) rc = hflow_replay_curve_random(test, &cd, err);
    if (!rc) {
        printf("%s: %zu queries, edge acc %.3f, cloud acc %.3f\n", what, test->n, cr.acc_edge, cr.acc_cloud);
        print_curve(&cr);
        print_curve(&cc);
        print_curve(&cd);
        size_t clouds = 0;
        for (size_t i = 0; i < test->n; i++) {
            hflow_route_features f;
            router_query_features(r, &test->q[i], &f);
            hflow_route_decision dec;
            if (sr.emb && (rc = hflow_router_embedder_embed(sr.emb, &f, sr.vec, dim, err)) != 0) break;
            if ((rc = hflow_router_decide(r, &f, sr.emb ? sr.vec : NULL, 0, 0, &dec, err)) != 0) break;
            clouds += dec.tier == HFLOW_TIER_CLOUD;
        }
        if (!rc) printf("  decisions at delta0 %.4f: %.3f of held-out queries to the cloud\n",
                        (double)hflow_router_params(r).delta0, (double)clouds / (double)test->n);
        if (!rc && hflow_router_knn_get(r).k > 0 && !sr.emb) rc = component_report(r, test, &rs, err);
    }
    hflow_replay_curve_free(&cr);
    hflow_replay_curve_free(&cc);
    hflow_replay_curve_free(&cd);
    hflow_replay_scorer_free(cat);
    free(sr.vec);
    return rc;
}

/* Selection mode with a retrieval part: validation APGR over a grid of k
 * and blend weights (w 0 = the MLP alone, 1 = retrieval alone), then the
 * router's own settings back. Only ever run on the validation carve. */
static int knn_sweep(hflow_router *r, const hflow_replay_set *val, hflow_error *err) {
    static const uint32_t ks[] = {10, 20, 40, 80};
    static const float ws[] = {0, 0.2f, 0.35f, 0.5f, 0.65f, 0.8f, 1};
    hflow_router_knn_opts keep = hflow_router_knn_get(r);
    scored_router sr = {r, NULL, NULL};
    hflow_replay_scorer rs = {.score = router_score, .impl = &sr};
    int rc = 0;
    printf("knn sweep (validation APGR; rows k, columns weight):\n        ");
    for (size_t j = 0; j < sizeof ws / sizeof ws[0]; j++) printf("  w=%.2f", (double)ws[j]);
    for (size_t i = 0; i < sizeof ks / sizeof ks[0] && !rc; i++) {
        printf("\n  k=%-4u", ks[i]);
        for (size_t j = 0; j < sizeof ws / sizeof ws[0] && !rc; j++) {
            hflow_replay_curve c = {0};
            rc = hflow_router_knn_set(r, ks[i], ws[j], err);
            if (!rc) rc = hflow_replay_curve_compute(val, &rs, &c, err);
            if (!rc) printf("  %.4f", c.apgr);
            hflow_replay_curve_free(&c);
        }
    }
    printf("\n");
    int rc2 = hflow_router_knn_set(r, keep.k, keep.weight, err);
    return rc ? rc : rc2;
}

/* Model selection: replaces (train, test) by (train minus V, V) with V a
 * split of the TRAIN ids (own salt), so choosing settings on V never sees a
 * test id. The test split's array is dropped (its queries stay in `all`). */
#define SELECT_SALT 0x73656c656374ull
static int carve_selection(const tr_args *a, hflow_replay_set *train, hflow_replay_set *test, hflow_error *err) {
    hflow_replay_set fit = {0}, val = {0};
    int rc = hflow_replay_split(train, a->select_frac, a->o.seed ^ SELECT_SALT, &fit, &val, err);
    if (rc) return rc;
    printf("selection mode: fit %zu, validation %zu (from train ids; %zu test ids unused)\n", fit.n, val.n, test->n);
    hflow_replay_split_free(train);
    hflow_replay_split_free(test);
    *train = fit;
    *test = val;
    return 0;
}

static int train_query(const tr_args *a, hflow_router **r, hflow_error *err) {
    hflow_replay_set all = {0}, train = {0}, test = {0};
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    size_t skipped = 0;
    int rc = hflow_replay_load(a->data, a->edge, a->cloud, &all, &skipped, err);
    if (!rc) rc = hflow_replay_split(&all, a->test_frac, a->split_seed, &train, &test, err);
    if (!rc) {
        printf("replay %s: %zu queries (%zu skipped), train %zu, held out %zu (by id, split seed %llu)\n", a->data,
               all.n, skipped, train.n, test.n, (unsigned long long)a->split_seed);
        if (a->select_frac > 0) rc = carve_selection(a, &train, &test, err);
    }
    if (!rc) rc = add_queries(a, &train, &d, err);
    hflow_router_train_report rep = {0};
    if (!rc) rc = hflow_router_train(&d, NULL, &a->o, r, &rep, err);
    if (!rc) {
        printf("trained: %zu train / %zu val, %u epochs (best %u), val loss %.5f, %.2f s\n", rep.n_train, rep.n_val,
               rep.epochs, rep.best_epoch, rep.val_loss, rep.seconds);
        if (a->target_share >= 0) rc = hflow_router_calibrate(*r, &d, NULL, a->target_share, err);
    }
    if (!rc) rc = held_out_report(*r, a->embedder, &train, &test, a->select_frac > 0 ? "selection (val from train ids)" : "held-out",
                                  err);
    if (!rc && a->select_frac > 0 && a->o.knn.k > 0 && !a->embedder) rc = knn_sweep(*r, &test, err);
    hflow_router_dataset_free(&d);
    hflow_replay_split_free(&train);
    hflow_replay_split_free(&test);
    hflow_replay_set_free(&all);
    return rc;
}

/* ---- subtask level: profile JSONL ---- */

static int train_subtask(const tr_args *a, hflow_router **r, hflow_error *err) {
    hflow_router_dataset d;
    hflow_router_dataset_init(&d);
    unsigned char *test = NULL, *train = NULL;
    int rc = hflow_router_load_profile(a->data, &d, err);
    if (!rc) rc = embed_dataset(a, &d, err);
    if (!rc && (!(test = calloc(d.n, 1)) || !(train = calloc(d.n, 1))))
        rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    hflow_router_train_report rep = {0};
    if (!rc) {
        hflow_router_split_by_group(&d, a->test_frac, a->o.seed, test);
        for (size_t i = 0; i < d.n; i++) train[i] = !test[i];
        rc = hflow_router_train(&d, train, &a->o, r, &rep, err);
    }
    if (!rc && a->target_share >= 0) rc = hflow_router_calibrate(*r, &d, train, a->target_share, err);
    size_t n = 0, right = 0, clouds = 0;
    for (size_t i = 0; !rc && i < d.n; i++) {
        if (!test[i]) continue;
        hflow_route_decision dec;
        rc = hflow_router_decide(*r, &d.s[i].f, d.s[i].embedding, 0, 0, &dec, err);
        hflow_router_lambdas lam = hflow_router_get_lambdas(*r);
        int want = hflow_router_label(&lam, &d.s[i]) > 0;
        right += (dec.tier == HFLOW_TIER_CLOUD) == want;
        clouds += dec.tier == HFLOW_TIER_CLOUD;
        n++;
    }
    if (!rc)
        printf("profile %s: %zu steps, trained on %zu (val %zu, best epoch %u), held out %zu: "
               "%.3f decisions agree with sign(dU), %.3f to the cloud\n",
               a->data, d.n, rep.n_train, rep.n_val, rep.best_epoch, n, n ? (double)right / (double)n : 0.0,
               n ? (double)clouds / (double)n : 0.0);
    free(test);
    free(train);
    hflow_router_dataset_free(&d);
    return rc;
}

int cli_train_router(int argc, char **argv) {
    tr_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        usage(prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    hflow_error err;
    hflow_error_clear(&err);
    hflow_router *r = NULL;
    int rc = a.embed ? hflow_router_embedder_open(a.embed, a.embed_cache, &a.embedder, &err) : 0;
    if (!rc) rc = !strcmp(a.level, "query") ? train_query(&a, &r, &err) : train_subtask(&a, &r, &err);
    if (!rc && a.embed) rc = hflow_router_set_embed_endpoint(r, a.embed, &err);
    if (!rc) rc = hflow_router_save(r, a.out, &err);
    if (!rc) printf("saved %s%s\n", a.out,
                    hflow_router_featurizer(r)->cfg.edge_confidence ? " (trained with the edge's confidence: serve it with run --cascade)"
                    : hflow_router_featurizer(r)->cfg.edge_answer ? " (a cascade router: serve it with run --cascade)"
                                                                  : "");
    hflow_router_free(r);
    hflow_router_embedder_free(a.embedder);
    if (rc) {
        fprintf(stderr, "train-router: %s\n", err.message);
        return 1;
    }
    return 0;
}
