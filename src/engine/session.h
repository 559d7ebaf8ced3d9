/* session.h - a session's state as the forward pass sees it (internal).
 *
 * A session owns its KV cache, the token list it mirrors, scratch buffers for
 * one micro-batch, the matmul workspace and the logits of the last decode.
 * The model (weights, pool) is shared and never written. */
#ifndef HFLOW_ENGINE_SESSION_H
#define HFLOW_ENGINE_SESSION_H
#include <stdint.h>

#include "engine/kv_cache.h"
#include "engine/matmul.h"
#include "engine/model.h"

/* Tokens per forward chunk: long prompts run in slices of this many, which
 * bounds scratch memory while keeping batched matmuls efficient. 256 so that
 * a prompt of that length is one chunk and its matmuls take the AMX path
 * (gemm_amx.h: batches of >= HFLOW_AMX_MIN_TOK; per-row-block weight
 * unpacking and packing are amortised over all its tokens); scratch is about
 * 28 KB per token for SmolLM2-135M. */
#define HFLOW_UBATCH 256
/* Query rows per block of F16-cache attention (tokens x the heads of a GQA
 * group; a group wider than this is one token's block). */
#define HFLOW_ATTN_BLOCK_ROWS 12
#define HFLOW_ATTN_MAX_ROWS 64

typedef struct hflow_scratch {
    float *x;      /* [UBATCH][n_embd] residual stream */
    float *xb;     /* [UBATCH][n_embd] normed input of a sub-layer */
    float *q;      /* [UBATCH][n_head*head_dim] */
    float *k, *v;  /* [UBATCH][n_head_kv*head_dim] */
    float *att;    /* [UBATCH][n_head*head_dim] attention output */
    float *gate;   /* [UBATCH][n_ff] */
    float *up;     /* [UBATCH][n_ff] */
    float *out;    /* [UBATCH][n_embd] sub-layer output before the residual add */
    float *rope;   /* [UBATCH][n_rot] cos/sin of each token's position (hflow_rope_table) */
    float *scores; /* [n_threads][score_stride] attention scratch, one row per pool thread */
    size_t score_stride; /* 2 * n_ctx rounded up to 32, + head_dim (ggml-mode attention needs both) */
    float *attn_mem;     /* [n_threads][attn_stride]: hflow_attn_block workspaces (F16 cache), 64-byte aligned */
    size_t attn_stride;
} hflow_scratch;

struct hflow_session {
    hflow_model *model;
    int32_t n_ctx, n_past;
    int32_t *tokens;    /* [n_ctx]; the first n_past are in the cache */
    hflow_kv_cache kv;
    int numerics;       /* enum hflow_numerics, resolved (never DEFAULT) */
    hflow_scratch sc;
    hflow_matmul_ws ws;
    float *logits;      /* [n_logits][n_vocab] of the last decode */
    int32_t n_logits;
    int32_t logits_rows_cap;
};

/* Runs tokens[0..n) at positions s->n_past.. through the model, writing their
 * K/V rows into the cache, and fills s->logits per mode (enum
 * hflow_logits_mode). hidden, when not NULL, receives [n][n_embd] final
 * hidden states (after the output norm). Does not change n_past or the token
 * list; ids and room in the context must already be checked. Returns 0 or an
 * HFLOW_E* code. */
int hflow_forward(hflow_session *s, const int32_t *tokens, int32_t n, int logits_mode, float *hidden,
                  hflow_error *err);

#endif
