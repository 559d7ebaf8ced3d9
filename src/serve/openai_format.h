/* openai_format.h - OpenAI response bodies and SSE chunks for chat and
 * text completions, and their logprobs objects.
 *
 * Chat logprobs:       {"content":[{"token","logprob","bytes","top_logprobs":[...]}]}
 * Completion logprobs: {"tokens":[],"token_logprobs":[],"top_logprobs":[{piece:lp}],"text_offset":[]}
 * Functions returning char * give malloc'd JSON (caller frees), NULL when out of memory. */
#ifndef HFLOW_SERVE_OPENAI_FORMAT_H
#define HFLOW_SERVE_OPENAI_FORMAT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "hybridflow/sample.h"
#include "hybridflow/tokenizer.h"

typedef struct serve_reply_head {
    int kind;            /* SERVE_CHAT or SERVE_COMPLETION */
    const char *id;
    long created;
    const char *model;
    int index;           /* the choice being formatted (n > 1: 0..n-1) */
} serve_reply_head;

typedef struct serve_usage {
    int32_t prompt_tokens, completion_tokens, cached_tokens;
} serve_usage;

/* A JSON string of bytes that may not be valid UTF-8 (byte tokens, cut text):
 * invalid bytes become U+FFFD so the JSON stays valid. */
cJSON *serve_json_utf8_string(const char *p, size_t n);

/* A new, empty logprobs object of the head's kind. */
cJSON *serve_logprobs_new(int kind);
/* Appends one token's entry; text_offset and ids_as_tokens (tokens rendered
 * "token_id:N", vLLM's return_tokens_as_token_ids) are used by completions only. */
void serve_logprobs_add(cJSON *lps, int kind, const hflow_vocab *v, const hflow_token_logprobs *lp, int n_top,
                        size_t text_offset, int ids_as_tokens);
/* Completions: an entry with null token_logprobs/top_logprobs (an echoed
 * prompt's first token, which nothing predicts). */
void serve_logprobs_add_unscored(cJSON *lps, const hflow_vocab *v, int32_t id, size_t text_offset, int ids_as_tokens);

/* Whole non-streamed response. logprobs may be NULL (rendered null); it is consumed. */
char *serve_format_response(const serve_reply_head *h, const char *text, size_t len, cJSON *logprobs,
                            const char *finish_reason, const serve_usage *u);
/* The same in two parts, for n > 1: one choice object (index h->index;
 * logprobs consumed), then the response around an array of them (consumed). */
cJSON *serve_format_choice(const serve_reply_head *h, const char *text, size_t len, cJSON *logprobs,
                           const char *finish_reason);
char *serve_format_response_choices(const serve_reply_head *h, cJSON *choices, const serve_usage *u);
/* One stream chunk: text (may be empty), logprobs (may be NULL; consumed),
 * finish_reason (NULL while running). first adds the chat role delta. */
char *serve_format_chunk(const serve_reply_head *h, const char *text, size_t len, cJSON *logprobs,
                         const char *finish_reason, int first);
/* The final usage chunk of stream_options.include_usage (empty choices). */
char *serve_format_usage_chunk(const serve_reply_head *h, const serve_usage *u);

#endif
