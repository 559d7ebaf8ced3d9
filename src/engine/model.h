/* model.h - the loaded model as the forward pass sees it (internal).
 *
 * Every weight points into the GGUF mapping: nothing is copied at load time.
 * A weight matrix follows ggml's convention: ne[0] (cols) is the contiguous
 * input dimension, ne[1] (rows) the output dimension, so y = W x has `rows`
 * outputs. Norm vectors and biases must be F32 (they always are in files
 * produced by llama.cpp) and are used as float arrays directly.
 *
 * Architecture variations are data, not code paths: the arch table in
 * model_load.c sets the RoPE style and which optional tensors (q/k/v biases,
 * per-head q/k norms) a family has; forward.c applies whatever is non-NULL. */
#ifndef HFLOW_ENGINE_MODEL_H
#define HFLOW_ENGINE_MODEL_H
#include <stdint.h>

#include "base/threadpool.h"
#include "hybridflow/engine.h"

/* How RoPE pairs the dimensions of a head: NORM rotates adjacent pairs
 * (x[2i], x[2i+1]) as llama does (its GGUF q/k weights are permuted for
 * that); NEOX rotates (x[i], x[i + n_rot/2]) as qwen2/qwen3 do. */
enum hflow_rope_style { HFLOW_ROPE_NORM = 0, HFLOW_ROPE_NEOX = 2 };

typedef struct hflow_hparams {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int32_t head_dim;    /* attention.key_length, else n_embd / n_head */
    int32_t n_rot;       /* rope.dimension_count (<= head_dim, even) */
    int32_t n_ctx_train;
    float norm_eps, rope_theta;
    float rope_freq_scale; /* 1 / rope.scaling.factor for linear scaling, else 1 */
    int rope_style;      /* enum hflow_rope_style */
} hflow_hparams;

typedef struct hflow_weight {
    const void *data; /* into the mapping */
    uint32_t type;    /* ggml type id */
    int64_t rows, cols;
} hflow_weight;

typedef struct hflow_layer {
    const float *attn_norm, *ffn_norm; /* [n_embd] */
    hflow_weight wq, wk, wv, wo;       /* q: n_head*head_dim rows; k, v: n_head_kv*head_dim rows */
    hflow_weight w_gate, w_up, w_down;
    /* Family hooks, NULL when the family has none. */
    const float *bq, *bk, *bv;         /* qwen2: biases of q/k/v projections */
    const float *q_norm, *k_norm;      /* qwen3: RMSNorm of each head, [head_dim] */
} hflow_layer;

struct hflow_model {
    char *path;
    char *name;
    char arch[32];
    hflow_gguf *gguf;
    hflow_vocab *vocab;
    hflow_pool *pool;
    hflow_hparams hp;
    hflow_model_info info;
    hflow_weight tok_embd;    /* rows = n_vocab, cols = n_embd */
    hflow_weight output;      /* token_embd when the head is tied */
    const float *output_norm;
    hflow_layer *layers;      /* [n_layer] */
};

/* Loads the vocabulary of `g` into *out and checks it has n_vocab tokens
 * (model_vocab.c). Kept behind one function so the engine builds and runs on
 * token ids alone. */
int hflow_model_vocab_load(const hflow_gguf *g, int32_t n_vocab, hflow_vocab **out, hflow_error *err);
void hflow_model_vocab_free(hflow_vocab *v);

#endif
