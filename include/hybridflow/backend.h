/* hybridflow/backend.h - one interface for "a model you can ask".
 *
 * A backend is opened from an endpoint string, the same way in every command:
 *   "http://host:port/v1#model"   OpenAI-compatible HTTP (our server, llama.cpp,
 *                                 vLLM, SGLang, Ollama, hosted APIs)
 *   "/path/to/model.gguf"         the engine in-process
 * hflow_backend_complete is blocking and thread-safe: the orchestrator calls
 * it from several threads at once. Backends are freed by their opener after
 * every call on them has returned. */
#ifndef HYBRIDFLOW_BACKEND_H
#define HYBRIDFLOW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/chat.h"
#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_backend hflow_backend;

/* A chat message is the chat template's message type: one definition for both. */
typedef hflow_chat_msg hflow_chat_message;

/* Streaming callback: a piece of generated text. Return non-zero to cancel. */
typedef int (*hflow_delta_cb)(void *user, const char *text, size_t len);

typedef struct hflow_request {
    /* Exactly one of messages (chat) or prompt (completion). */
    const hflow_chat_message *messages;
    int n_messages;
    const char *prompt;
    int32_t max_tokens;          /* <= 0: backend default */
    float temperature;           /* < 0: backend default */
    float top_p;                 /* <= 0: backend default */
    int has_seed;
    uint64_t seed;
    const char *const *stop;
    int n_stop;
    const char *response_format; /* optional JSON text of an OpenAI response_format */
    const char *grammar;         /* optional name of a built-in constraint, e.g. "plan": applied by the
                                    local engine, and sent to HTTP servers that are ours
                                    (hflow_backend_options.hybridflow_server); see
                                    hflow_backend_has_grammar */
    hflow_delta_cb on_delta;     /* optional: called as text arrives */
    void *user;
    volatile int *cancel;        /* optional: set non-zero from any thread to cancel */
    double timeout_s;            /* total deadline for this call; <= 0: backend default */
    int want_confidence;         /* 1: report the answer's mean token logprob in hflow_response
                                    (local: the engine's logprobs; HTTP: sends "logprobs", which
                                    costs the server a little; a server that omits them leaves
                                    confidence_known 0, never an error). Default 0 */
} hflow_request;

typedef struct hflow_response {
    char *text;                 /* owned; free with hflow_response_clear */
    char finish_reason[24];     /* "stop", "length", "cancelled", ... */
    char model[128];            /* the model that answered */
    int32_t prompt_tokens;
    int32_t completion_tokens;
    int usage_estimated;        /* 1 when counted by us because the server omitted usage */
    double ttft_s;              /* time to first token */
    double latency_s;           /* total */
    int retries;                /* retries spent (HTTP) */
    int http_status;            /* last HTTP status, 0 for local */
    /* Answer confidence (only when hflow_request.want_confidence): mean of the
     * generated tokens' logprobs (natural log, <= 0) over logprob_tokens tokens.
     * confidence_known 0: not asked, no token generated, or the server sent none. */
    int confidence_known;
    double mean_logprob;
    int32_t logprob_tokens;
} hflow_response;

typedef struct hflow_backend_options {
    double connect_timeout_s;   /* default 5 */
    double idle_timeout_s;      /* max silence between bytes; default 60 */
    double total_timeout_s;     /* default 600 */
    int max_retries;            /* default 3 */
    double backoff_base_s;      /* default 0.25 (exponential, with jitter) */
    const char *api_key_env;    /* env var holding the key; default OPENAI_API_KEY */
    const char *const *headers; /* extra "Name: value" headers */
    int n_headers;
    int n_threads;              /* local engine threads; 0 = all */
    int n_ctx;                  /* local engine context; 0 = default */
    int n_parallel;             /* local: sessions that may run at once; default 1 */
    uint64_t seed;              /* local: sampling seed of requests that carry none; 0 (default) = a
                                   fresh seed per call from the clock */
    int always_stream;          /* HTTP: stream even without on_delta (gives a real ttft); default 0 */
    const char *tokenizer_gguf; /* HTTP: a GGUF whose vocabulary counts tokens when a server omits
                                   usage (loaded once at open); NULL: words*4/3 estimate */
    int hybridflow_server;      /* HTTP: the server is `hybridflow serve`, so hflow_request.grammar is
                                   sent as its "grammar" extension field. Default 0: other servers
                                   read that field differently (llama.cpp: GBNF text), so our names
                                   are never sent to them */
} hflow_backend_options;

void hflow_backend_options_default(hflow_backend_options *o);
void hflow_request_init(hflow_request *r);

int hflow_backend_open(const char *endpoint, const hflow_backend_options *opts, hflow_backend **out,
                       hflow_error *err);
void hflow_backend_free(hflow_backend *b);
/* A display name: "local:stories260K" or "http://127.0.0.1:8080/v1#m". */
const char *hflow_backend_name(const hflow_backend *b);
/* The model name requests are sent with / answered by. */
const char *hflow_backend_model(const hflow_backend *b);
/* 1 when the backend applies hflow_request.grammar: the in-process engine,
 * and HTTP backends opened with options.hybridflow_server. Others ignore it. */
int hflow_backend_has_grammar(const hflow_backend *b);

/* The built-in default endpoints for commands given none (`hybridflow run`):
 * the *.gguf files of the models directory, which is $HYBRIDFLOW_MODELS if
 * set, else $HYBRIDFLOW_SHARED/models, else ../shared/models beside the
 * source tree. Edge = the smallest file (cheapest to run), cloud = the
 * largest (the most capable one there is); with a single file both tiers are
 * that file. Equal sizes are ordered by name. Writes the paths into edge and
 * cloud (cap bytes each). HFLOW_ENOTFOUND, naming the directory, when it
 * holds no GGUF file or does not exist. */
int hflow_default_local_models(char *edge, char *cloud, size_t cap, hflow_error *err);

/* Runs one request. `resp` is overwritten (not freed: clear it between
 * calls) and is filled on failure too: text holds whatever arrived (e.g. the
 * part streamed before a connection broke), finish_reason is "error" or
 * "cancelled", and timing/retries/http_status are set. So call
 * hflow_response_clear after every call, whatever it returned.
 * Returns 0, or e.g. HFLOW_ENET (connection), HFLOW_EHTTP (error status, the
 * server's error message in err), HFLOW_ETIMEOUT (idle or total deadline),
 * HFLOW_ECANCELLED (req->cancel set, or on_delta returned non-zero). */
int hflow_backend_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err);
/* Frees r->text and zeroes r. */
void hflow_response_clear(hflow_response *r);

/* ---- embeddings ---- */

/* n vectors of dim floats, row i for input i. Owned; free with hflow_embeddings_clear. */
typedef struct hflow_embeddings {
    float *data;
    int n, dim;
    int32_t prompt_tokens;      /* as the server reported (local: tokens embedded) */
    double latency_s;
    int retries;                /* HTTP retries spent */
} hflow_embeddings;

/* Embeds n >= 1 texts in one call. HTTP: POST {base}/embeddings with the
 * endpoint's model (OpenAI's format, encoding_format float), through the same
 * attempt/retry/deadline machinery as completions. Local: hflow_embed on one
 * of the backend's slots (mean-pooled, L2-normalised final hidden state;
 * texts longer than the context are truncated to its first n_ctx tokens, so
 * a long question still gets a vector). HFLOW_EUNSUPPORTED for a backend that
 * has no embeddings (b->embed NULL). `out` is overwritten; clear it after a
 * successful call (it is empty after a failed one). */
int hflow_backend_embed(hflow_backend *b, const char *const *texts, int n, hflow_embeddings *out, hflow_error *err);
void hflow_embeddings_clear(hflow_embeddings *e);

/* ---- for backend implementations (local, http, test) ---- */
typedef struct hflow_backend_vtable {
    const char *kind;
    int (*complete)(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err);
    void (*destroy)(hflow_backend *b);
} hflow_backend_vtable;

/* hflow_backend.caps bits: what a backend does beyond plain completion. */
#define HFLOW_BACKEND_CAP_GRAMMAR 1u /* applies hflow_request.grammar */

struct hflow_backend {
    const hflow_backend_vtable *vt;
    char name[256];
    char model[128];
    void *impl;
    unsigned caps; /* HFLOW_BACKEND_CAP_* (0 for a zeroed struct: a wrapper claims nothing) */
    /* Optional: embeddings (NULL when the backend has none). Kept out of the
     * vtable so existing backend implementations need no change. */
    int (*embed)(hflow_backend *b, const char *const *texts, int n, hflow_embeddings *out, hflow_error *err);
};

#ifdef __cplusplus
}
#endif
#endif
