/* openai_wire.h - the OpenAI-compatible wire format: request bodies for
 * /chat/completions and /completions, and the pieces of responses, stream
 * chunks and error objects the client reads. Pure functions over JSON text
 * (cJSON); no I/O, so they are tested without a server. */
#ifndef HFLOW_BACKEND_OPENAI_WIRE_H
#define HFLOW_BACKEND_OPENAI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/backend.h"

/* Builds the JSON body for `req` (chat when req->messages, else completion).
 * req->want_confidence asks for the chosen tokens' logprobs (chat
 * "logprobs":true, completions "logprobs":0); otherwise none are asked for.
 * An empty `model` omits the field. `stream` adds "stream":true and asks for
 * usage in the last chunk. Returns a malloc'd string, or NULL with err set
 * (e.g. response_format is not valid JSON). */
char *hflow_openai_request_body(const hflow_request *req, const char *model, int stream, hflow_error *err);
/* The same, plus req->grammar as the "grammar" field when send_grammar is
 * non-zero and a grammar is set (only `hybridflow serve` understands our
 * names: the caller decides). */
char *hflow_openai_request_body_ext(const hflow_request *req, const char *model, int stream, int send_grammar,
                                    hflow_error *err);

/* What one response or stream chunk said. Fields not present stay as they
 * were, so a stream's chunks can be folded into one value. */
typedef struct hflow_openai_result {
    char finish_reason[24];
    char model[128];
    int has_usage;
    int32_t prompt_tokens;
    int32_t completion_tokens;
    /* choices[0].logprobs folded over the response or the stream's chunks:
     * chat content[].logprob or completions token_logprobs[] (nulls skipped). */
    double logprob_sum;
    int32_t logprob_n;
} hflow_openai_result;

/* Parses a non-streaming response body; appends the generated text to *text
 * (a malloc'd string grown with realloc; *text may be NULL). */
int hflow_openai_parse_response(const char *body, size_t len, hflow_openai_result *res, char **text,
                                size_t *text_len, hflow_error *err);

/* Parses one stream chunk (the data of one SSE event). On success sets
 * *delta to a malloc'd copy of the chunk's new text (NULL when none; caller
 * frees). A chunk that carries an error object fails with HFLOW_EHTTP. */
int hflow_openai_parse_chunk(const char *data, size_t len, hflow_openai_result *res, char **delta,
                             hflow_error *err);

/* A readable message from an error body: OpenAI's {"error":{"message",
 * "type","code"}}, {"error":"text"} (Ollama), vLLM's older top-level
 * {"object":"error","message"}, FastAPI's {"detail":...}, else the body's
 * first bytes. Always NUL-terminates out. */
void hflow_openai_error_text(const char *body, size_t len, char *out, size_t cap);

/* Maps server-specific finish reasons onto OpenAI's ("eos", "eos_token",
 * "stop_sequence", "end_turn" -> "stop"; "max_tokens" -> "length"). */
void hflow_openai_normalize_finish(char *reason, size_t cap);

/* Body of an /embeddings request for n texts ("encoding_format":"float";
 * empty model omits the field). malloc'd, NULL when out of memory. */
char *hflow_openai_embeddings_body(const char *const *texts, int n, const char *model);
/* Parses an /embeddings response for n inputs into out (data ordered by each
 * item's "index"; float arrays or base64 float32; every vector the same
 * length). HFLOW_EFORMAT when it does not fit. */
int hflow_openai_parse_embeddings(const char *body, size_t len, int n, hflow_embeddings *out, hflow_error *err);

#endif
