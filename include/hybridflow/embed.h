/* hybridflow/embed.h - text embeddings from the engine: the final hidden
 * state (after the output norm) pooled over the tokens of a text.
 *
 * One batched forward over the tokens in a session, with no output head
 * (the n_vocab-wide matmul is skipped). The session's cache is replaced: an
 * embedding needs the hidden state of every token, which a reused prefix
 * would not give. Pooling is the mean over the tokens (default) or the last
 * token; the result is L2-normalised unless asked not to be. */
#ifndef HYBRIDFLOW_EMBED_H
#define HYBRIDFLOW_EMBED_H

#include <stdint.h>

#include "hybridflow/engine.h"
#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hflow_pooling { HFLOW_POOL_MEAN = 0, HFLOW_POOL_LAST = 1 };

typedef struct hflow_embed_params {
    int pooling;      /* enum hflow_pooling; 0 = mean */
    int no_normalize; /* 1: return the pooled vector as is (default: unit L2 norm) */
    int no_bos;       /* 1: do not prepend BOS when tokenizing text (default: as the vocabulary says) */
    int truncate;     /* 1: keep the first n_ctx tokens of a longer text; 0: HFLOW_ERANGE */
} hflow_embed_params;

/* Appends n tokens like hflow_session_decode (HFLOW_LOGITS_NONE) and writes
 * their final hidden states, after the output norm, to hidden[n][n_embd]
 * (caller-owned). */
int hflow_session_decode_hidden(hflow_session *s, const int32_t *tokens, int32_t n, float *hidden, hflow_error *err);

/* The embedding of a token sequence into out[n_embd] (caller-owned). p may
 * be NULL (defaults). Clears the session first. n must be >= 1; longer than
 * the context: truncated or HFLOW_ERANGE per p->truncate. *n_used (may be
 * NULL) = tokens actually embedded. */
int hflow_embed_tokens(hflow_session *s, const int32_t *tokens, int32_t n, const hflow_embed_params *p, float *out,
                       int32_t *n_used, hflow_error *err);

/* The same for a text: tokenized with the model's vocabulary (special-token
 * text is not parsed), BOS per the vocabulary unless p->no_bos. An empty text
 * with no BOS is HFLOW_EINVAL. */
int hflow_embed(hflow_session *s, const char *text, const hflow_embed_params *p, float *out, int32_t *n_used,
                hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
