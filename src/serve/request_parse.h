/* request_parse.h - strict validation of OpenAI request bodies into plain structs.
 *
 * Strict means: wrong JSON types, out-of-range values and unknown top-level
 * fields are 400 errors naming the offending parameter, as OpenAI's own API
 * does. JSON null counts as "not given". Accepted extensions (as llama.cpp's
 * server has them): top_k, min_p, repeat_penalty, ignore_eos; and ours: grammar
 * (the name of a built-in constraint, grammar.h: "plan", "plan:N"; an unknown
 * name is a 400 naming it). presence_penalty,
 * frequency_penalty and logit_bias are accepted only at their neutral values.
 * Nothing here needs a model: token ids are range-checked against the vocabulary later. */
#ifndef HFLOW_SERVE_REQUEST_PARSE_H
#define HFLOW_SERVE_REQUEST_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/sample.h"

#define SERVE_MAX_STOP 16
#define SERVE_MAX_N 16    /* choices per request */

enum serve_kind { SERVE_CHAT = 1, SERVE_COMPLETION = 2 };

typedef struct serve_message {
    char *role;
    char *content;
} serve_message;

/* Everything a chat or completion request asks for. Owns its strings and
 * arrays; free with serve_gen_request_free. */
typedef struct serve_gen_request {
    int kind;
    char *model;
    serve_message *messages; /* chat */
    int n_messages;
    char *prompt;            /* completion, text prompt; or: */
    int32_t *prompt_ids;     /* completion, token-id prompt */
    int n_prompt_ids;
    int32_t max_tokens;      /* -1 = not given */
    float temperature;       /* default 1 (OpenAI's) */
    int has_temperature;     /* 1 when the request gave one */
    float top_p;             /* default 1 */
    int top_k;               /* default 0 (off) */
    float min_p;             /* default 0 */
    float repeat_penalty;    /* default 1 */
    float presence_penalty;  /* -2..2, default 0 */
    float frequency_penalty; /* -2..2, default 0 */
    hflow_logit_bias *logit_bias; /* from {"token id": bias}; ids not yet checked against a vocabulary */
    int n_logit_bias;
    int json_object;         /* chat: response_format {"type":"json_object"}; then grammar = "json" */
    int has_seed;
    uint64_t seed;
    char *stop[SERVE_MAX_STOP];
    int n_stop;
    int logprobs;            /* chat: bool; completion: the integer (top count), -1 = off */
    int top_logprobs;        /* 0..20 */
    int stream;
    int include_usage;       /* stream_options.include_usage */
    int echo;                /* completion */
    int n;                   /* choices, 1..SERVE_MAX_N (default 1); generated one after another in one slot */
    int best_of;             /* completions: 0 = not given; else must equal n */
    int ids_as_tokens;       /* completion, extension (vLLM's return_tokens_as_token_ids): logprobs
                                name tokens "token_id:N" */
    int ignore_eos;          /* extension: generate past end-of-generation tokens */
    char *grammar;           /* extension: a built-in constraint's name (validated), NULL = none */
} serve_gen_request;

typedef struct serve_tokenize_request {
    char *model;     /* NULL when not given */
    char *content;
    int add_special; /* default 1 */
    int with_pieces; /* default 0 */
} serve_tokenize_request;

typedef struct serve_detokenize_request {
    char *model;
    int32_t *tokens;
    int n_tokens;
} serve_detokenize_request;

/* One input of an embeddings request: a text or token ids (exactly one). */
typedef struct serve_embed_input {
    char *text;
    int32_t *ids;
    int n_ids;
} serve_embed_input;

#define SERVE_MAX_EMBED_INPUTS 2048 /* OpenAI's limit per request */

/* POST /v1/embeddings: input is a string, an array of strings, an array of
 * token ids, or an array of token-id arrays; encoding_format "float"
 * (default) or "base64"; dimensions (optional, must equal the model's width,
 * checked by the route); user (accepted, unused). */
typedef struct serve_embeddings_request {
    char *model;
    serve_embed_input *inputs;
    int n_inputs;
    int base64;
    long long dimensions; /* 0 = not given */
} serve_embeddings_request;

/* Why a request was refused: the parameter (may be "") and a message. */
typedef struct serve_parse_error {
    char param[64];
    char message[320];
} serve_parse_error;

/* Each returns 0, or -1 with pe filled (always a 400). out is zeroed first and
 * must be freed with its _free function even on failure. */
int serve_parse_chat(const char *body, size_t len, serve_gen_request *out, serve_parse_error *pe);
int serve_parse_completion(const char *body, size_t len, serve_gen_request *out, serve_parse_error *pe);
void serve_gen_request_free(serve_gen_request *r);

int serve_parse_tokenize(const char *body, size_t len, serve_tokenize_request *out, serve_parse_error *pe);
void serve_tokenize_request_free(serve_tokenize_request *r);
int serve_parse_detokenize(const char *body, size_t len, serve_detokenize_request *out, serve_parse_error *pe);
void serve_detokenize_request_free(serve_detokenize_request *r);

int serve_parse_embeddings(const char *body, size_t len, serve_embeddings_request *out, serve_parse_error *pe);
void serve_embeddings_request_free(serve_embeddings_request *r);

#endif
