/* hybridflow/family.h - target-model families for ECSpec.
 *
 * A family is a set of model versions that share a tokenizer and a backbone
 * (the token embedding and the first `backbone_layers` blocks), so one static
 * draft serves every version and the edge never downloads weights again.
 * Family facts live in GGUF metadata:
 *   hybridflow.family.name, .version       strings
 *   hybridflow.family.tokenizer_fp         u64, hflow_vocab_fingerprint
 *   hybridflow.family.backbone_fp          u64, hash of the backbone tensors
 *   hybridflow.family.backbone_layers      u32
 *   hybridflow.family.delta_of             u64 backbone_fp, only in delta files
 *   hybridflow.family.role                 "draft" in a derived draft (its tensors are
 *                                          not the backbone's, so it is not verified)
 * All functions read and write files by path; nothing is kept open. */
#ifndef HYBRIDFLOW_FAMILY_H
#define HYBRIDFLOW_FAMILY_H

#include <stdint.h>

#include "hybridflow/error.h"
#include "hybridflow/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_family_info {
    int stamped;             /* 1 when the file carries family metadata */
    char name[64];
    char version[64];
    uint64_t tokenizer_fp;   /* recomputed from the file's vocabulary */
    uint64_t backbone_fp;    /* as stamped (0 when not stamped) */
    int32_t backbone_layers;
    uint64_t delta_of;       /* non-zero for a delta file */
    int is_draft;            /* derived draft (early exit and/or quantized copy) */
} hflow_family_info;

/* Reads the stamp (if any) and computes the tokenizer fingerprint. */
int hflow_family_read(const hflow_gguf *g, hflow_family_info *out, hflow_error *err);
/* Hash of token_embd.weight and every blk.N.* tensor with N < backbone_layers
 * (names, types, shapes and bytes). */
uint64_t hflow_family_backbone_hash(const hflow_gguf *g, int32_t backbone_layers);

int hflow_family_stamp(const char *in, const char *out, const char *family, const char *version,
                       int32_t backbone_layers, hflow_error *err);
/* Draft by early exit: the first n_layers blocks plus the output norm and head. */
int hflow_family_derive_early_exit(const char *in, const char *out, int32_t n_layers, hflow_error *err);
/* Copies a model marking it as a derived draft of its family (used after
 * quantizing a target into a draft). */
int hflow_family_mark_draft(const char *in, const char *out, hflow_error *err);
/* Emulates a new target version (a fine-tune of the upper layers): every
 * floating-point tensor of block >= from_layer gets relative noise `noise`.
 * For tests and benchmarks only; the stamp's version is set to `version`. */
int hflow_family_evolve(const char *in, const char *out, int32_t from_layer, float noise, uint64_t seed,
                        const char *version, hflow_error *err);
/* Writes only the tensors of `target` that differ from `backbone` (plus all metadata). */
int hflow_family_split(const char *target, const char *backbone, const char *out_delta, hflow_error *err);
/* Rebuilds the full model from a delta and its backbone (checks delta_of). */
int hflow_family_merge(const char *delta, const char *backbone, const char *out_full, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
