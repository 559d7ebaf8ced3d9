/* prompt_logprobs.h - logprobs of the prompt's own tokens, for a completion
 * asked with echo + logprobs (OpenAI's legacy format: the prompt's tokens
 * come first in logprobs.tokens, with token_logprobs[0] and top_logprobs[0]
 * null because nothing predicts the first token).
 *
 * Entry i (i >= 1) is log p(prompt[i] | prompt[0..i)) from the model's raw
 * log-softmax, which needs the logits of every prompt position: the new
 * positions are evaluated in one batched forward with all-position logits
 * (split into chunks only when rows x vocabulary would exceed ~64 MB).
 *
 * Prefix reuse: a slot keeps the entries it computed together with the
 * tokens they were computed for, so a prompt that extends an earlier one on
 * the same slot (ECSpec's /v1/completions fallback sends context + draft each
 * round) evaluates only its new suffix, just as generation reuses the KV
 * cache. Entries are valid exactly as far as their token copy matches the
 * prompt, whatever other requests did to the session meanwhile. */
#ifndef HFLOW_SERVE_PROMPT_LOGPROBS_H
#define HFLOW_SERVE_PROMPT_LOGPROBS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "hybridflow/engine.h"

/* Per-slot cache of prompt-token logprobs; owned by the slot, freed with it. */
typedef struct serve_prompt_lp_cache serve_prompt_lp_cache;
void serve_prompt_lp_cache_free(serve_prompt_lp_cache *c);

/* Evaluates the prompt on the session (afterwards it holds exactly the
 * prompt; generation then re-evaluates only the last token) and appends one
 * entry per prompt token to `lps` (a completion logprobs object from
 * serve_logprobs_new). n_top: top alternatives per token (0..20); ids_as_tokens:
 * render tokens as "token_id:N" (vLLM's return_tokens_as_token_ids).
 * *cache is created on first use. *n_reused receives the prompt tokens whose
 * entries (and KV) came from the cache. Returns 0 or a negative HFLOW_E*. */
int serve_prompt_logprobs(hflow_session *s, serve_prompt_lp_cache **cache, const int32_t *prompt, int32_t n,
                          int n_top, int ids_as_tokens, cJSON *lps, int32_t *n_reused, hflow_error *err);

#endif
