/* hybridflow/engine.h - the CPU inference engine for GGUF llama-family models.
 *
 * hflow_model: loaded weights (memory-mapped, never copied), hyper-parameters,
 *   vocabulary and the engine's worker pool. Immutable after load; any number
 *   of sessions on any threads may share it. Free it after its sessions.
 * hflow_session: one sequence's KV cache plus scratch buffers. Used by one
 *   thread at a time.
 *
 * Decoding model: a session holds n_past tokens. hflow_session_decode appends
 * n tokens at positions n_past..n_past+n-1 in one batched forward and computes
 * logits for the last token or for all n (speculative verification).
 * hflow_session_truncate rolls the cache back to any shorter length. */
#ifndef HYBRIDFLOW_ENGINE_H
#define HYBRIDFLOW_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/error.h"
#include "hybridflow/gguf.h"
#include "hybridflow/sample.h"
#include "hybridflow/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_model hflow_model;
typedef struct hflow_session hflow_session;

typedef struct hflow_model_params {
    int n_threads; /* worker threads for this model's kernels; 0 = all CPUs */
} hflow_model_params;

typedef struct hflow_model_info {
    const char *arch;   /* "llama", "qwen2", "qwen3" (owned by the model) */
    const char *name;   /* general.name or the file name */
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim, n_ctx_train;
    float rope_theta, norm_eps;
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes of tensor data read per decoded token */
} hflow_model_info;

int hflow_model_load(const char *path, const hflow_model_params *params, hflow_model **out, hflow_error *err);
void hflow_model_free(hflow_model *m);
const hflow_model_info *hflow_model_get_info(const hflow_model *m);
const hflow_vocab *hflow_model_vocab(const hflow_model *m);
const hflow_gguf *hflow_model_gguf(const hflow_model *m);
const char *hflow_model_path(const hflow_model *m);

/* How a session stores its KV cache. F16 (the default, as in llama.cpp) takes
 * half the memory; attention then runs as ggml's does with an F16 cache (q
 * and the softmax weights rounded to F16 for the two products), so logits
 * match llama.cpp's to ~1e-4. F32 keeps every product in f32. */
enum hflow_kv_type { HFLOW_KV_F16 = 0, HFLOW_KV_F32 = 1 };

/* How the forward pass rounds (docs/NUMERICS.md). GGML reproduces llama.cpp's
 * CPU backend to the bit for F32/F16 weights and an F16 cache (summation
 * orders, F16-rounded activations, its vectorized exp), so logits match the
 * reference decodings; FAST uses this engine's own SIMD kernels. */
enum hflow_numerics { HFLOW_NUMERICS_DEFAULT = 0, HFLOW_NUMERICS_GGML = 1, HFLOW_NUMERICS_FAST = 2 };

typedef struct hflow_session_params {
    int32_t n_ctx; /* 0 = min(n_ctx_train, 4096) */
    int kv_type;   /* enum hflow_kv_type; 0 = F16 */
    int numerics;  /* enum hflow_numerics; 0 = the default (HFLOW_NUMERICS_FAST) */
} hflow_session_params;

enum hflow_logits_mode { HFLOW_LOGITS_LAST = 0, HFLOW_LOGITS_ALL = 1, HFLOW_LOGITS_NONE = 2 };

int hflow_session_create(hflow_model *m, const hflow_session_params *p, hflow_session **out, hflow_error *err);
void hflow_session_free(hflow_session *s);
hflow_model *hflow_session_model(const hflow_session *s);
int32_t hflow_session_n_ctx(const hflow_session *s);
int32_t hflow_session_n_past(const hflow_session *s);
/* The tokens currently in the cache (n_past of them), owned by the session. */
const int32_t *hflow_session_tokens(const hflow_session *s);

/* Appends n tokens and runs the forward pass. Fails with HFLOW_ERANGE when a
 * token id is invalid or the context would overflow (session unchanged). */
int hflow_session_decode(hflow_session *s, const int32_t *tokens, int32_t n, int logits_mode, hflow_error *err);
/* Logits row i of the last decode: i in [0, n) for ALL, i == 0 for LAST.
 * Valid until the next decode/truncate. NULL when out of range. */
const float *hflow_session_logits(const hflow_session *s, int32_t i);
/* Rolls back to n_keep tokens (0 <= n_keep <= n_past). */
int hflow_session_truncate(hflow_session *s, int32_t n_keep, hflow_error *err);
/* Longest common prefix of the cache and `tokens`. */
int32_t hflow_session_common_prefix(const hflow_session *s, const int32_t *tokens, int32_t n);

/* ---- generation loop (shared by the CLI, the local backend and the server) ---- */

/* Called once per generated token with the text that became safe to emit
 * (possibly empty while a UTF-8 character is incomplete or text could still
 * start a stop string), and once more with token -1 for held-back text at the
 * end. lp is NULL unless want_logprobs. Return non-zero to stop. */
typedef int (*hflow_token_cb)(void *user, int32_t token, const char *text, size_t len,
                              const hflow_token_logprobs *lp);

/* A logits hook constrains generation (grammar.h builds one from a grammar):
 * mask() sees a private copy of each step's logits before sampling and sets
 * the logits of forbidden tokens to -INFINITY; accept() is told the chosen
 * token and returns 0 to go on, 1 when the constraint is complete (the token
 * is emitted, then generation ends with finish_reason "stop"), or a negative
 * HFLOW_E* code (generation fails with that code). Logprobs reported to the
 * callback are those of the masked distribution. */
typedef struct hflow_logits_hook {
    int (*mask)(void *user, float *logits, int32_t n_vocab, hflow_error *err);
    int (*accept)(void *user, int32_t token, hflow_error *err);
    void *user;
} hflow_logits_hook;

typedef struct hflow_generate_params {
    int32_t max_tokens;          /* <= 0: until EOG or context full */
    const char *const *stop;     /* stop strings (not included in output) */
    int n_stop;
    int ignore_eos;
    int want_logprobs;           /* pass logprobs to the callback */
    volatile int *cancel;        /* polled between tokens when non-NULL */
    const hflow_logits_hook *hook; /* optional constraint (borrowed for the call) */
} hflow_generate_params;

typedef struct hflow_generate_stats {
    int32_t n_prompt;            /* prompt tokens */
    int32_t n_prompt_reused;     /* of those, served from the cache (prefix reuse) */
    int32_t n_generated;
    double t_prompt_s, t_generate_s, t_first_token_s;
    char finish_reason[16];      /* "stop", "length", "cancelled" */
} hflow_generate_stats;

/* Feeds `prompt` (reusing the session's common prefix), then samples until
 * EOG, a stop string, max_tokens or context end. */
int hflow_generate(hflow_session *s, hflow_sampler *sampler, const int32_t *prompt, int32_t n_prompt,
                   const hflow_generate_params *gp, hflow_token_cb cb, void *user,
                   hflow_generate_stats *stats, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
