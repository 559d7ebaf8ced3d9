/* router_internal.h - the hflow_router object, shared by the files of
 * src/route that build, use and store it. */
#ifndef HFLOW_ROUTE_ROUTER_INTERNAL_H
#define HFLOW_ROUTE_ROUTER_INTERNAL_H

#include "hybridflow/router.h"

typedef struct hflow_knn hflow_knn; /* knn.c: the retrieval part (NULL = none) */

struct hflow_router {
    hflow_featurizer fz;
    hflow_mlp mlp;
    hflow_router_lambdas lam;
    hflow_router_decision_params p;
    hflow_knn *knn;       /* nearest training questions' gains, blended into s */
    char *embed_endpoint; /* the embedder it was trained with (router.embed.endpoint), NULL = none */
};

/* Copies n floats into d's storage (*out NULL for src NULL or n 0); -1 when out of memory. */
int hflow_router_dataset_own_vec(hflow_router_dataset *d, const float *src, uint32_t n, const float **out);

/* delta_t for decision parameters and a budget state (the formula in
 * router.h); one definition for training, calibration and serving. */
/* The router's score s from the MLP outputs: the utility head (one output)
 * is s itself; the tiers head (outputs: edge logit, cloud logit, auxiliary
 * logits) gives s = lambda_q (sigmoid(cloud) - sigmoid(edge)), the expected
 * quality gain. One definition for training (the budget penalties) and serving. */
float hflow_router_head_score(const hflow_router_lambdas *lam, const float *out, uint32_t n_out);

double hflow_router_threshold_of(const hflow_router_decision_params *p, const hflow_budget_state *b);


/* features.c's word reader, shared with knn.c so both read words alike:
 * the next lower-cased word of *p (ASCII letters/digits plus non-ASCII
 * bytes) into buf; its length, 0 at the end. */
size_t hflow_router_next_word(const char **p, char *buf, size_t cap);

/* The hashes of a text's words and adjacent word pairs, shared by the
 * featurizer and the retrieval index (each with its own base): word w hashes
 * as FNV-1a(base, w), the pair (prev, w) as FNV-1a(base ^ 0x5bd1e995,
 * prev + " " + w), both before hflow_mix64. Feed the words in order. */
typedef struct hflow_word_hasher {
    uint64_t base;
    uint64_t pair; /* the next pair's hash so far: previous word + " " */
    int have_prev;
} hflow_word_hasher;
void hflow_word_hasher_init(hflow_word_hasher *s, uint64_t base);
/* *word = w's hash; returns 1 with *pair = (previous word, w)'s hash, 0 for
 * the first word (no pair). */
int hflow_word_hasher_add(hflow_word_hasher *s, const char *w, size_t n, uint64_t *word, uint64_t *pair);

/* 1 for the formula symbols = + * / ^ < > % $ \ _ { } | (the featurizer's
 * shape tokens and question_shape.c's symbol count). */
int hflow_router_is_formula_symbol(unsigned char ch);

/* question_shape.c: HFLOW_QSHAPE_COUNT dense structure features of a
 * rendered query-level prompt into out (number of options / 10, share of
 * numeric options, log(1 + mean option length), option length coefficient of
 * variation, log(1 + stem digits), log(1 + stem formula symbols),
 * log(1 + stem words), share of stem words holding a digit, share of options
 * starting with a number, log(1 + longest option), log(1 + stem words holding
 * a digit)); zeros for NULL. The stem is the text before the last "\n\nA. ".
 * Read only by hflow_featurize. */
#define HFLOW_QSHAPE_COUNT 11
void hflow_router_question_shape(const char *q, float *out);

/* knn.c: the kNN part's blended contribution. *s is the MLP score on entry,
 * the blended score on return; a no-op without a kNN part or with weight 0. */
int hflow_knn_blend(const hflow_knn *kn, const hflow_route_features *f, float *s, hflow_error *err);
void hflow_knn_free(hflow_knn *kn);
/* knn_labels.c: the stored label of every used sample of d, in order, into
 * out (denoised with the aux targets when beta > 0 and d has them). */
int hflow_knn_labels(const hflow_router_dataset *d, const unsigned char *use, const hflow_router_lambdas *lam,
                     float beta, float *out, hflow_error *err);
/* GGUF: metadata and tensors (data stays owned by kn until the write), and load. */
struct hflow_gguf_writer;
struct hflow_gguf;
int hflow_knn_save(const hflow_knn *kn, struct hflow_gguf_writer *w, hflow_error *err);
/* *out NULL when the file has no kNN part. */
int hflow_knn_load(const struct hflow_gguf *g, hflow_knn **out, hflow_error *err);

#endif
