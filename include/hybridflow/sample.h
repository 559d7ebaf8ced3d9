/* hybridflow/sample.h - token sampling and logprobs.
 *
 * A sampler applies, in order: logit bias, repetition penalty, presence and
 * frequency penalties, top-k, temperature, top-p, min-p, then draws from the result with its own seeded RNG (temperature 0 =
 * greedy). Logprobs are reported from the model's raw distribution
 * (log-softmax of the unmodified logits), as OpenAI's API does. A sampler is
 * owned by one thread at a time. */
#ifndef HYBRIDFLOW_SAMPLE_H
#define HYBRIDFLOW_SAMPLE_H

#include <stdint.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFLOW_MAX_TOP_LOGPROBS 20

/* A constant added to one token's logit before anything else (OpenAI's
 * logit_bias: -100 bans a token in practice, +100 all but forces it). */
typedef struct hflow_logit_bias {
    int32_t id;
    float bias;
} hflow_logit_bias;

typedef struct hflow_sampler_params {
    float temperature;    /* 0 = greedy */
    int top_k;            /* 0 = off */
    float top_p;          /* 1 = off */
    float min_p;          /* 0 = off */
    float repeat_penalty; /* 1 = off */
    int repeat_last_n;    /* history window of all three penalties; 0 = off, < 0 = the whole history */
    /* OpenAI's penalties over the same window: a token's logit loses
     * frequency_penalty * (times it occurs) + presence_penalty (if it occurs). 0 = off. */
    float presence_penalty, frequency_penalty;
    const hflow_logit_bias *logit_bias; /* n_logit_bias entries; copied by hflow_sampler_create
                                           (ids outside the vocabulary are ignored) */
    int n_logit_bias;
    uint64_t seed;
    int n_top_logprobs;   /* 0..HFLOW_MAX_TOP_LOGPROBS */
} hflow_sampler_params;

typedef struct hflow_token_logprobs {
    int32_t id;
    float logprob;
    int n_top;
    int32_t top_ids[HFLOW_MAX_TOP_LOGPROBS];
    float top_logprobs[HFLOW_MAX_TOP_LOGPROBS];
} hflow_token_logprobs;

typedef struct hflow_sampler hflow_sampler;

hflow_sampler_params hflow_sampler_default_params(void); /* greedy, everything off */
hflow_sampler *hflow_sampler_create(const hflow_sampler_params *p, int32_t n_vocab);
void hflow_sampler_free(hflow_sampler *s);
void hflow_sampler_reseed(hflow_sampler *s, uint64_t seed);

/* Picks a token. history (may be NULL) feeds the repetition penalty.
 * lp (may be NULL) receives the chosen token's logprob and the top-n. */
int32_t hflow_sampler_sample(hflow_sampler *s, const float *logits, const int32_t *history, int n_history,
                             hflow_token_logprobs *lp);

/* The exact distribution hflow_sampler_sample draws from for these logits,
 * without the repetition penalty: top-k, temperature, top-p and min-p applied,
 * zeros outside the kept set, one-hot on the argmax at temperature 0.
 * probs has n_vocab entries. Speculative sampling relies on this matching the
 * sampler exactly. */
void hflow_sampler_probs(hflow_sampler *s, const float *logits, float *probs);

/* The logprob of `token` and the top n_top (0..HFLOW_MAX_TOP_LOGPROBS)
 * alternatives under the raw log-softmax of logits, as the sampler reports
 * them; lsm is caller scratch of n_vocab floats. Used for tokens the model did
 * not sample (a prompt's own tokens, teacher forcing). */
void hflow_token_logprobs_fill(const float *logits, int32_t n_vocab, int32_t token, int n_top, float *lsm,
                               hflow_token_logprobs *lp);

/* log-softmax of logits into out (n values). */
void hflow_log_softmax(const float *logits, int n, float *out);
/* Index of the largest logit (first on ties). */
int32_t hflow_argmax(const float *logits, int n);

#ifdef __cplusplus
}
#endif
#endif
