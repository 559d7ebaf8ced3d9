/* hybridflow/router.h - the learned benefit-cost utility router.
 *
 * A router predicts the utility of sending one step (or a whole query) to the
 * cloud instead of the edge, s ~ dU, from features of the step, and decides
 * against a threshold that moves with the live budget:
 *
 *   delta_t = clip(delta0 + alpha_B * r_B + alpha_L * r_L, delta_lo, delta_hi)
 *   deterministic: cloud iff s > delta_t
 *   sampled:       cloud with p = sigmoid((s - delta_t) / tau)
 *
 * r_B is budget.tokens_ratio (or usd_ratio when larger), r_L latency_ratio.
 * alpha_B, alpha_L >= 0, so the more of a budget is used, the higher the bar.
 * [delta_lo, delta_hi] defaults to [0, 1]; calibration widens it to contain
 * the calibrated delta0 so the clip can never undo a calibration.
 *
 * Pieces (one file each in src/route/): features.c (the ONE featurizer used
 * by training and serving; question_shape.c computes its question-structure
 * block), mlp.c (the network), train.c (AdamW training with
 * the budget-penalised loss), utility_policy.c (decisions, calibration and the
 * route.h policy), router_io.c (GGUF save/load), router_data.c (training
 * data; profile JSONL), router_replay.c (query-level samples from eval.h's
 * replay sets). See docs/ROUTER.md.
 *
 * Ownership: every create, load and train call returns an object the caller frees
 * with the matching *_free. Strings passed in are copied unless stated. */
#ifndef HYBRIDFLOW_ROUTER_H
#define HYBRIDFLOW_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/error.h"
#include "hybridflow/route.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFLOW_ROUTER_MAX_HIDDEN 4   /* hidden layers */
#define HFLOW_ROUTER_MAX_TYPES 32   /* task-type vocabulary for the one-hot */
#define HFLOW_ROUTER_TYPE_LEN 32

/* ---------------------------------------------------------------- features */

typedef struct hflow_router_feature_config {
    uint32_t hash_dim;     /* hashed word/word-pair buckets (>= 1) */
    uint32_t hash_seed;    /* salts the hash */
    int bigrams;           /* 1: hash adjacent word pairs too */
    int shape_tokens;      /* 1: also hash a token per word holding a digit and per formula symbol
                            * (= + * / ^ < > % $ \ _ { } |); default 1, 0 for files that predate it */
    int question_shape;    /* 1: 11 dense question-structure features of the rendered prompt (options,
                            * numeric options, option lengths, stem digits/symbols/numbers;
                            * src/route/question_shape.c) after the metadata; default 1, stored as
                            * router.feature.question_shape (files without it load with 0) */
    int n_types;           /* task-type vocabulary; unknown types fall into slot n_types */
    char types[HFLOW_ROUTER_MAX_TYPES][HFLOW_ROUTER_TYPE_LEN];
    uint32_t embed_dim;    /* caller-supplied dense embedding length, 0 = none */
    int edge_confidence;   /* 1: trained on samples with a known edge confidence (a profile made in
                            * cascade mode), so serving must run in cascade mode too: the learned
                            * policy then carries HFLOW_POLICY_NEEDS_CONFIDENCE and refuses a step
                            * without a confidence. Set by training (any training sample with one);
                            * stored as router.feature.edge_confidence (absent = 0) */
    int edge_answer;       /* 1: two dense features of the edge's answer when it answered first
                            * (log(1 + completion tokens) and a known flag): a cascade router. Set by
                            * training (any training sample with edge_answer_tokens > 0: a replay
                            * read with hflow_router_dataset_add_replay_cascade, or a profile made in
                            * cascade mode); the learned policy then carries
                            * HFLOW_POLICY_NEEDS_EDGE_ANSWER and refuses a step without the answer.
                            * Stored as router.feature.edge_answer (absent = 0) */
} hflow_router_feature_config;

void hflow_router_feature_config_default(hflow_router_feature_config *c);

/* Number of dense (non-hashed) features for a config: metadata, the task-type
 * one-hot, budget ratios, edge confidence (value + known flag), the edge's
 * answer (with edge_answer), embedding. */
uint32_t hflow_router_n_dense(const hflow_router_feature_config *c);

/* A featurizer: config plus per-dense-feature normalisation
 * x' = (x - mean) * scale. Owns its arrays. */
typedef struct hflow_featurizer {
    hflow_router_feature_config cfg;
    uint32_t n_dense;
    float *mean;   /* n_dense */
    float *scale;  /* n_dense; 0 for features that were constant in training */
} hflow_featurizer;

/* One feature vector: hashed part sparse (sorted unique indices in
 * [0, hash_dim)), dense part normalised. Owns its buffers (grown as needed,
 * reusable across calls). Input index of dense[j] is hash_dim + j. */
typedef struct hflow_router_fvec {
    uint32_t n_sparse, cap_sparse;
    uint32_t *idx;
    float *val;
    uint32_t n_dense;
    float *dense;
} hflow_router_fvec;

/* Identity normalisation (mean 0, scale 1). */
int hflow_featurizer_init(hflow_featurizer *fz, const hflow_router_feature_config *c, hflow_error *err);
void hflow_featurizer_free(hflow_featurizer *fz);
void hflow_router_fvec_free(hflow_router_fvec *v);

/* THE featurizer, used identically by training, calibration and serving.
 * `embedding` is NULL or cfg.embed_dim floats (zeros when NULL). It reads
 * nothing but `f` and `embedding`: no label can reach it. */
int hflow_featurize(const hflow_featurizer *fz, const hflow_route_features *f, const float *embedding,
                    hflow_router_fvec *out, hflow_error *err);

/* ---------------------------------------------------------------- embedder */

/* Dense text features: the embedding of a step's text from a backend with
 * embeddings (hflow_backend_embed: an OpenAI-compatible "http://host/v1#model"
 * or a local GGUF run by the engine). Training (hflow_router_dataset_embed)
 * and the learned policy go through the same two functions below, so a router
 * gets at serving time exactly the vectors it was trained on. Vectors are
 * memoised per text; with a cache file (JSONL, a header line naming the
 * endpoint, then {"key","embedding"} lines) across runs too. Thread-safe. */
typedef struct hflow_router_embedder hflow_router_embedder;

/* cache_path may be NULL; a cache made with another endpoint is refused (EINVAL). */
int hflow_router_embedder_open(const char *endpoint, const char *cache_path, hflow_router_embedder **out,
                               hflow_error *err);
void hflow_router_embedder_free(hflow_router_embedder *e);
const char *hflow_router_embedder_endpoint(const hflow_router_embedder *e);
/* Vector length (0 until the first vector was computed or read from the cache). */
uint32_t hflow_router_embedder_dim(const hflow_router_embedder *e);
/* THE text a router embeds for a step: the question (query level) or
 * "question\n\ntask". malloc'd (caller frees); NULL when out of memory. */
char *hflow_router_embed_text(const hflow_route_features *f);
/* The embedding of hflow_router_embed_text(f) into out[dim]; EINVAL when the
 * embedder's vectors do not have dim values. */
int hflow_router_embedder_embed(hflow_router_embedder *e, const hflow_route_features *f, float *out, uint32_t dim,
                                hflow_error *err);

/* ---------------------------------------------------------------- MLP */

enum hflow_mlp_act { HFLOW_ACT_RELU = 0, HFLOW_ACT_GELU = 1 };

/* Fully connected net n_in -> hidden... -> n_out (1 for the utility head;
 * 2 + auxiliary tasks for the tiers head, see hflow_router_train_opts). Weights of layer l are stored
 * input-major, w[l][i * n_out + o], so a sparse input row adds one contiguous
 * weight row per non-zero feature. */
typedef struct hflow_mlp {
    uint32_t n_in;
    uint32_t n_hidden;                        /* hidden layers */
    uint32_t size[HFLOW_ROUTER_MAX_HIDDEN + 2]; /* size[0] = n_in ... size[n_hidden+1] = 1 */
    int act;
    float *w[HFLOW_ROUTER_MAX_HIDDEN + 1];
    float *b[HFLOW_ROUTER_MAX_HIDDEN + 1];
} hflow_mlp;

/* Allocates and initialises (He-uniform, from `seed`). */
int hflow_mlp_init(hflow_mlp *m, uint32_t n_in, uint32_t n_hidden, const uint32_t *hidden, int act, uint64_t seed,
                   hflow_error *err);
/* The same with n_out outputs (1 <= n_out <= 1024). */
int hflow_mlp_init_n(hflow_mlp *m, uint32_t n_in, uint32_t n_hidden, const uint32_t *hidden, uint32_t n_out, int act,
                     uint64_t seed, hflow_error *err);
void hflow_mlp_free(hflow_mlp *m);
size_t hflow_mlp_n_params(const hflow_mlp *m);
/* Scalar output for one feature vector (sparse first layer). Thread-safe. */
float hflow_mlp_forward(const hflow_mlp *m, const hflow_router_fvec *x);
/* Every output (size[n_hidden+1] floats) for one feature vector. Thread-safe. */
void hflow_mlp_forward_all(const hflow_mlp *m, const hflow_router_fvec *x, float *out);

/* ---------------------------------------------------------------- router */

typedef struct hflow_router_lambdas {
    float q; /* lambda_q: weight of the quality gain */
    float t; /* lambda_t: per second of extra latency */
    float k; /* lambda_k: per cloud token */
} hflow_router_lambdas;

typedef struct hflow_router_decision_params {
    float delta0, alpha_B, alpha_L, tau;
    float delta_lo, delta_hi;
} hflow_router_decision_params;

typedef struct hflow_router hflow_router;

void hflow_router_free(hflow_router *r);
const hflow_featurizer *hflow_router_featurizer(const hflow_router *r);
const hflow_mlp *hflow_router_mlp(const hflow_router *r);
hflow_router_decision_params hflow_router_params(const hflow_router *r);
void hflow_router_set_params(hflow_router *r, const hflow_router_decision_params *p);
hflow_router_lambdas hflow_router_get_lambdas(const hflow_router *r);

/* The embedder endpoint stored with the router (router.embed.endpoint), NULL
 * when none; set it before saving a router trained with embeddings. */
const char *hflow_router_embed_endpoint(const hflow_router *r);
int hflow_router_set_embed_endpoint(hflow_router *r, const char *endpoint, hflow_error *err);

/* Builds a router from parts; takes ownership of *fz and *m (zeroes them). */
int hflow_router_assemble(hflow_featurizer *fz, hflow_mlp *m, const hflow_router_lambdas *lam,
                          const hflow_router_decision_params *p, hflow_router **out, hflow_error *err);

/* s for one step (featurize + forward). Thread-safe. */
int hflow_router_score(const hflow_router *r, const hflow_route_features *f, const float *embedding, float *s,
                       hflow_error *err);
/* delta_t for a budget state (formula at the top of this file). */
double hflow_router_threshold(const hflow_router *r, const hflow_budget_state *b);
/* p_cloud = sigmoid((s - delta_t) / tau). */
double hflow_router_p_cloud(const hflow_router *r, float s, double delta_t);
/* Decides one step. sampled = 0: s > delta_t; sampled = 1: cloud iff u01 < p_cloud. */
int hflow_router_decide(const hflow_router *r, const hflow_route_features *f, const float *embedding, int sampled,
                        double u01, hflow_route_decision *out, hflow_error *err);

/* ---------------------------------------------------------------- data */

/* One recorded outcome: the step's features exactly as the policy would see
 * them, and what each tier achieved. */
typedef struct hflow_router_sample {
    hflow_route_features f;  /* strings point into the dataset's storage */
    const char *group;       /* question id: splits never cut a group */
    const float *embedding;  /* NULL or embed_dim floats, owned by the dataset */
    double quality_edge, quality_cloud;   /* in [0, 1] */
    double latency_edge, latency_cloud;   /* seconds (0 when unknown) */
    double cloud_tokens;                  /* tokens billed by the cloud */
    /* NULL or aux_dim training-only targets in [0, 1] (-1 = missing): e.g.
     * other models' correctness on this question. Labels, never features:
     * only the tiers objective reads them, as extra outputs to predict. */
    const float *aux;
} hflow_router_sample;

typedef struct hflow_router_dataset {
    hflow_router_sample *s;
    size_t n, cap;
    uint32_t embed_dim;
    uint32_t aux_dim;        /* length of every sample's aux (0 = none); set before adding */
    char **strings; size_t n_strings, cap_strings; /* owned copies */
    float **vecs; size_t n_vecs, cap_vecs;
} hflow_router_dataset;

void hflow_router_dataset_init(hflow_router_dataset *d);
void hflow_router_dataset_free(hflow_router_dataset *d);
/* Appends a copy of `s` (strings, embedding and aux copied). */
int hflow_router_dataset_add(hflow_router_dataset *d, const hflow_router_sample *s, hflow_error *err);

/* Query-level samples from a replay set (include/hybridflow/eval.h; pass
 * only the TRAINING split): features from hflow_replay_query_features, the
 * edge/cloud outcomes as qualities, cloud tokens. with_aux != 0 also stores
 * every other recorded model's correctness on the question as aux targets
 * (sets d->aux_dim; -1 where a model is absent). Errors when d already holds
 * samples with another aux length. */
struct hflow_replay_set;
int hflow_router_dataset_add_replay(hflow_router_dataset *d, const struct hflow_replay_set *s, const char *edge,
                                    const char *cloud, int with_aux, hflow_error *err);
/* The same for a cascade router: features from
 * hflow_replay_query_features_cascade (the edge's recorded answer length
 * included), so training marks the router edge_answer. */
int hflow_router_dataset_add_replay_cascade(hflow_router_dataset *d, const struct hflow_replay_set *s,
                                            const char *edge, const char *cloud, int with_aux, hflow_error *err);

/* Sets every sample's embedding from e (hflow_router_embedder_embed's
 * vectors, batched) and d->embed_dim. EINVAL when d already has embeddings. */
int hflow_router_dataset_embed(hflow_router_dataset *d, hflow_router_embedder *e, hflow_error *err);

/* Subtask-level samples from a profile JSONL (format in docs/ROUTER.md). */
int hflow_router_load_profile(const char *path, hflow_router_dataset *d, hflow_error *err);

/* dU = lambda_q (q_cloud - q_edge) - lambda_t (lat_cloud - lat_edge) - lambda_k tokens. */
double hflow_router_label(const hflow_router_lambdas *l, const hflow_router_sample *s);

/* Deterministic split by group hash: in_test[i] = 1 for about `frac` of the
 * groups. Same groups -> same split for any data order. */
void hflow_router_split_by_group(const hflow_router_dataset *d, double frac, uint64_t seed, unsigned char *in_test);

/* ---------------------------------------------------------------- training */

/* Settings of the optional retrieval part (see "retrieval" below). */
typedef struct hflow_router_knn_opts {
    uint32_t k;      /* neighbours; 0 = no retrieval part */
    uint32_t dim;    /* hashed term buckets (default 1 << 18) */
    float max_df;    /* terms in more than this fraction of stored texts are dropped (default 0.1) */
    float smooth;    /* pseudo-weight of the mean label (default 1) */
    float weight;    /* blend weight in [0, 1] (default 0.5) */
    float power;     /* neighbour weight sim^power (default 1; 0 = unweighted mean) */
    float denoise;   /* beta in [0, 1]: stored labels move this far towards a ridge fit of each tier's
                      * outcome on the sample's aux targets (other models' outcomes on that training
                      * question; src/route/knn_labels.c); 0 (default) or no aux = raw labels */
} hflow_router_knn_opts;


/* Training objectives. UTILITY: one output regressed on dU with the Huber
 * loss. TIERS: outputs are logits of P(edge correct), P(cloud correct) and,
 * when aux_weight > 0, of every aux target; loss = binary cross-entropy on
 * q_edge, q_cloud (+ aux_weight x mean BCE of the known aux targets); the
 * score is lambda_q (P(cloud) - P(edge)) (latency/token lambdas must be 0). */
enum hflow_router_objective { HFLOW_ROUTER_OBJ_UTILITY = 0, HFLOW_ROUTER_OBJ_TIERS = 1 };

typedef struct hflow_router_train_opts {
    hflow_router_feature_config feat;
    int objective;              /* enum hflow_router_objective */
    float aux_weight;           /* TIERS: weight of the auxiliary targets (0 = none) */
    uint32_t ensemble;          /* > 1: train this many networks (seeds seed + 7919 k, each with its own
                                 * validation split) and merge them into one network whose outputs are
                                 * their average (needs <= 1 hidden layer); 0/1 = one network */
    uint32_t n_hidden;
    uint32_t hidden[HFLOW_ROUTER_MAX_HIDDEN];
    int act;                    /* enum hflow_mlp_act */
    float lr, weight_decay, beta1, beta2, eps;
    uint32_t batch, max_epochs, patience;
    float val_frac;             /* held out by group for early stopping */
    uint64_t seed;
    float huber_delta;
    hflow_router_lambdas lam;
    /* Budget penalties (see loss in train.c / docs/ROUTER.md). 0 = off. */
    float lambda_B, B_max;      /* expected cloud tokens per call */
    float lambda_L, L_max;      /* expected latency per call, seconds */
    hflow_router_decision_params decision; /* delta0 and tau also used by the loss */
    hflow_router_knn_opts knn;  /* retrieval part built after the MLP on the same samples; knn.k 0 = none */
    int verbose;                /* per-epoch lines on stderr */
} hflow_router_train_opts;

void hflow_router_train_opts_default(hflow_router_train_opts *o);

typedef struct hflow_router_train_report {
    uint32_t epochs, best_epoch;
    double train_loss, val_loss;
    size_t n_train, n_val;
    double seconds;
} hflow_router_train_report;

/* Trains on the samples with use[i] != 0 (NULL = all). Fits the dense
 * normalisation on those samples, then trains with AdamW. The early-stopping
 * validation set is hflow_router_split_by_group(d, val_frac,
 * seed ^ HFLOW_ROUTER_VAL_SALT) among the used samples; rep->val_loss is the
 * loss on it at the best epoch (so callers can check it from outside). */
#define HFLOW_ROUTER_VAL_SALT 0x76616c6964ull
int hflow_router_train(const hflow_router_dataset *d, const unsigned char *use, const hflow_router_train_opts *o,
                       hflow_router **out, hflow_router_train_report *rep, hflow_error *err);

/* The loss and its gradient w.r.t. every parameter, for a batch of feature
 * vectors with labels and costs; exposed for the numerical gradient test.
 * grads has the same layout as the MLP (hflow_mlp with the same shape);
 * it is overwritten. Returns the loss. */
typedef struct hflow_router_batch {
    size_t n;
    const hflow_router_fvec *x;
    const float *y;          /* dU labels */
    const float *tokens;     /* cloud tokens */
    const float *lat_edge, *lat_cloud;
    const float *delta_t;    /* per-sample threshold in p_cloud; NULL = o->decision.delta0 */
    /* TIERS objective only: */
    const float *q_edge, *q_cloud;   /* quality labels in [0, 1] */
    const float *const *aux;         /* NULL or per-sample NULL / n_aux targets (-1 = missing) */
    uint32_t n_aux;                  /* = outputs - 2 */
} hflow_router_batch;
double hflow_router_loss_grad(const hflow_mlp *m, const hflow_router_batch *b, const hflow_router_train_opts *o,
                              hflow_mlp *grads);

/* ---------------------------------------------------------------- calibration */

/* Sets delta0 so that deterministic decisions on `use`d samples of `cal`
 * (NULL = all) send `target_share` of them to the cloud (up to ties), and
 * widens [delta_lo, delta_hi] to contain it. */
int hflow_router_calibrate(hflow_router *r, const hflow_router_dataset *cal, const unsigned char *use,
                           double target_share, hflow_error *err);

/* ---------------------------------------------------------------- retrieval */

/* Optional non-parametric part (src/route/knn.c): the router stores its
 * training questions as TF-IDF vectors (hashed words and word pairs of
 * hflow_router_embed_text(f), sublinear tf, L2-normalised) with each one's
 * label dU, and scores a step by the similarity-weighted mean label of its
 * k nearest (cosine) stored questions (labels optionally denoised, see
 * hflow_router_knn_opts.denoise), shrunk towards the training mean:
 *     g = (sum_i v_i dU_i + smooth * mean dU) / (sum_i v_i + smooth),  v_i = sim_i^power
 * The router's score becomes s = (1 - weight) s_mlp + weight g. A stored
 * question whose vector equals the query's (cosine > 0.9999) is skipped, so
 * a training question is scored leave-one-out and calibration on the
 * training set sees the scores serving sees. Reads only the text of f.
 * Settings: hflow_router_knn_opts (above). */
void hflow_router_knn_opts_default(hflow_router_knn_opts *o);
/* Builds the retrieval part from the used samples of d (NULL = all) with
 * labels hflow_router_label(router lambdas) and attaches it to r (replacing
 * any). o->k must be >= 1. */
int hflow_router_knn_build(hflow_router *r, const hflow_router_dataset *d, const unsigned char *use,
                           const hflow_router_knn_opts *o, hflow_error *err);
/* The router's retrieval settings (k = 0 when it has none). */
hflow_router_knn_opts hflow_router_knn_get(const hflow_router *r);
/* Changes k (>= 1) and weight of an attached retrieval part (model selection). */
int hflow_router_knn_set(hflow_router *r, uint32_t k, float weight, hflow_error *err);
/* The k nearest stored questions of f: indices (in the order of the used
 * samples at build time) and cosines, best first (ties: lower index);
 * *n_found <= k (only questions sharing a term count). */
int hflow_router_knn_neighbours(const hflow_router *r, const hflow_route_features *f, uint32_t k, uint32_t *idx,
                                float *sim, uint32_t *n_found, hflow_error *err);
/* g for f (the retrieval estimate alone, before blending). */
int hflow_router_knn_score(const hflow_router *r, const hflow_route_features *f, float *g, hflow_error *err);

/* ---------------------------------------------------------------- files */

int hflow_router_save(const hflow_router *r, const char *path, hflow_error *err);
int hflow_router_load(const char *path, hflow_router **out, hflow_error *err);

/* ---------------------------------------------------------------- policy */

typedef struct hflow_learned_opts {
    int sampled;        /* 0: deterministic */
    uint64_t seed;      /* for sampled decisions */
    int force_first;    /* -1: no rule; else the tier for is_first steps */
    int force_last;     /* -1: no rule; else the tier for is_last steps */
    const char *embed_endpoint; /* routers with embeddings: the embedder to use; NULL = the one named
                                 * in the router file (copied at creation) */
} hflow_learned_opts;

/* The route.h policy "learned". `arg` is what follows "learned:" in a spec:
 * "ROUTER.gguf[,sample][,seed=N][,first=edge|cloud][,last=edge|cloud][,embed=ENDPOINT]"
 * (embed= must come last: an endpoint may contain commas). A router trained
 * with embeddings embeds each step with its embedder (the file's
 * router.embed.endpoint unless embed= overrides it); EUNSUPPORTED when it has none.
 * hflow_policy_create should call this for the "learned:" prefix. */
int hflow_policy_create_learned(const char *arg, hflow_policy **out, hflow_error *err);
/* The same from an already built router (ownership of r passes to the policy). */
int hflow_policy_from_router(hflow_router *r, const hflow_learned_opts *o, hflow_policy **out, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
