/* quantize_model.h - re-encode a GGUF model's weights into another type
 * (`hybridflow quantize`). Internal to the engine; the CLI only parses flags.
 *
 * Targets: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k and
 * the llama.cpp-style mixes q4_k_m / q5_k_m. Rules (as llama.cpp's
 * llama-quantize, so our files look like the ones people download):
 *   - 1-D tensors (norms, biases) are stored F32;
 *   - the output head (output.weight, or token_embd.weight when the
 *     embeddings are tied) becomes Q6_K for 4/5-bit and K targets, and keeps
 *     the target type for f32/f16/bf16/q8_0;
 *   - q4_k_m / q5_k_m: attn_v and ffn_down become Q6_K in the layers where
 *     llama.cpp's use_more_bits() holds (first and last eighth of the layers
 *     and every third one between), Q4_K / Q5_K elsewhere (token_embd too);
 *   - a row length that is not a multiple of the type's block falls back:
 *     Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 if not a multiple
 *     of 32 either. */
#ifndef HFLOW_ENGINE_QUANTIZE_MODEL_H
#define HFLOW_ENGINE_QUANTIZE_MODEL_H
#include <stdint.h>

#include "hybridflow/error.h"

typedef struct hflow_quantize_stats {
    int64_t n_tensors;
    int64_t n_by_type[32]; /* tensors written per ggml type id */
    uint64_t bytes_in, bytes_out;
} hflow_quantize_stats;

/* The ggml type a tensor gets under `target` (a name listed above).
 * layer is the blk.N index (-1 for none), n_layer the block count, tied is 1
 * when the model has no output.weight. Returns a type id, or -1 for an unknown
 * target. */
int hflow_quantize_tensor_type(const char *target, const char *name, int n_dims, int64_t ne0, int layer, int n_layer,
                               int tied);

/* Writes `out_path` with every key of `in_path` (general.file_type updated)
 * and each tensor re-encoded per hflow_quantize_tensor_type, quantizing over
 * n_threads (<= 0: all CPUs). stats may be NULL. */
int hflow_quantize_model(const char *in_path, const char *out_path, const char *target, int n_threads,
                         hflow_quantize_stats *stats, hflow_error *err);

#endif
