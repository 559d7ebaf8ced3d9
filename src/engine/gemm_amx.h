/* gemm_amx.h - the AMX-INT8 prefill path: one row block of up to 16 weight
 * rows against every token of a batch (x86-64 with AMX-INT8 only).
 *
 * AMX multiplies int8 tiles: a C tile of 16 weight rows x 16 tokens (int32)
 * accumulates A (16 rows x 32 weight bytes, one 32-element block) times B
 * (the same block of 16 tokens in VNNI order: 8 rows of 16 tokens x 4 bytes).
 * The activations are quantized exactly as for the type's dot kernel (Q8_0
 * for the 32-element types, Q8_K for the K-quants) and then packed once per
 * matmul call into that VNNI order (hflow_amx_pack_token); the weights are
 * unpacked to int8 per row block into a per-thread scratch (Q8_0 too: tile
 * loads of its 34-byte-strided blocks measured no faster than unpacking them
 * to aligned rows once per call). Each block's integer sums are the dot
 * kernel's integers; only the float order differs: one fma per block and (row, token) instead of 8-lane
 * partial sums and a final horizontal sum (about 1e-7 relative; see
 * docs/NUMERICS.md). Hence matmul uses it only for batches of at least
 * HFLOW_AMX_MIN_TOK tokens. Internal to the engine. */
#ifndef HFLOW_ENGINE_GEMM_AMX_H
#define HFLOW_ENGINE_GEMM_AMX_H
#include <stddef.h>
#include <stdint.h>

/* Smallest batch that takes the AMX path. Above every speculative verify
 * batch (HFLOW_SPEC_MAX_K + 1 = 33 tokens), so verification keeps the
 * gemm/gemv kernels that equal one-token decode bit for bit, which ECSpec's
 * exactness relies on. */
#define HFLOW_AMX_MIN_TOK 64

/* y[t * ys + r] = dot(row r of w, token t) for r < nrows (1..16), t < ntok.
 * pack: the activations packed by hflow_amx_pack_token for ntok tokens of n
 * columns; scratch: hflow_amx_scratch_size(type, n) bytes owned by the
 * calling thread. Loads its tile configuration itself and releases the tile
 * state before returning. */
typedef void (*hflow_amx_fn)(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *pack, int64_t ntok,
                             float *y, int64_t ys, void *scratch);

/* The AMX kernel for this weight type when the CPU has AMX-INT8 and the
 * HFLOW_BATCH_INVARIANT environment variable is not set to 1 (read once), or
 * NULL. Callers must not use kernels from hflow_amx_table otherwise. */
hflow_amx_fn hflow_amx_get(uint32_t type);
/* 1 when HFLOW_BATCH_INVARIANT=1 was set at the first call. */
int hflow_amx_opted_out(void);

/* gemm_amx.c (x86-64 only; call only when hflow_cpu_has_amx_int8()): the
 * kernel of a weight type or NULL, and its scalar reference (same block-sum
 * order, for tests). */
hflow_amx_fn hflow_amx_table(uint32_t type);
hflow_amx_fn hflow_amx_ref(uint32_t type);
/* Bytes of packed activations of ntok tokens of n columns in act_type
 * (HFLOW_TYPE_Q8_0 or HFLOW_TYPE_Q8_K), and of per-thread scratch for a weight
 * type. */
size_t hflow_amx_pack_size(uint32_t act_type, int64_t n, int64_t ntok);
size_t hflow_amx_scratch_size(uint32_t type, int64_t n);
/* Packs token t (one row of n columns in act_type) of ntok into pack; the
 * call for the last token also zeroes the padding of its 16-token tile.
 * Tokens may be packed concurrently by different threads. */
void hflow_amx_pack_token(uint32_t act_type, int64_t n, const void *xa, int64_t t, int64_t ntok, void *pack);

#endif
