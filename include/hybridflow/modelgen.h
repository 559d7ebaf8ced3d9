/* hybridflow/modelgen.h - random-weight GGUF models for tests and benchmarks.
 *
 * hflow_gen_model writes a llama / qwen2 / qwen3 model of any shape with
 * seeded random weights (std 1/sqrt(fan_in), norms 1) in one tensor type for
 * the 2-D weights (norms and biases stay F32). The tokenizer is copied from
 * another GGUF (every tokenizer.* key), or, without one, a self-contained
 * 259-token SentencePiece byte vocabulary (<unk>, <s>, </s>, <0x00>..<0xFF>) is
 * written, so tests run with no shared files at all. */
#ifndef HYBRIDFLOW_MODELGEN_H
#define HYBRIDFLOW_MODELGEN_H

#include <stdint.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_gen_params {
    const char *arch;        /* "llama" (default), "qwen2", "qwen3" */
    const char *name;        /* general.name; default "hybridflow-random" */
    int32_t n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim; /* head_dim 0 = n_embd / n_head */
    int32_t n_ctx;           /* context_length metadata; default 2048 */
    float rope_theta;        /* default 10000 */
    float norm_eps;          /* default 1e-5 */
    float rope_scale_linear; /* > 0: writes rope.scaling.type "linear" with this factor; 0 = none */
    int tied_output;         /* 1: no output.weight (uses token_embd) */
    uint32_t type;           /* ggml type for 2-D weights; default F32 */
    uint64_t seed;
    const char *vocab_from;  /* GGUF to copy the tokenizer from; NULL = byte vocab */
} hflow_gen_params;

void hflow_gen_params_default(hflow_gen_params *p);
/* Fills p with a named shape: "tiny" (2L, 64d), "smollm2-135m" (30L, 576d,
 * ffn 1536, 9/3 heads, tied), "stories260k" (5L, 64d, 8/4 heads, ffn 172). */
int hflow_gen_params_preset(hflow_gen_params *p, const char *preset, hflow_error *err);
int hflow_gen_model(const hflow_gen_params *p, const char *out_path, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
