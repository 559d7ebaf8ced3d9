/* quant.h - tensor element formats: conversion, (de)quantization, dot products.
 *
 * Every format has a scalar reference implementation here; SIMD versions
 * (quant_avx2.c, quant_neon.c) must match them and are selected at run time.
 * Block layouts are bit-compatible with GGUF/ggml. Internal to the engine. */
#ifndef HFLOW_ENGINE_QUANT_H
#define HFLOW_ENGINE_QUANT_H
#include <stddef.h>
#include <stdint.h>

#include "engine/ggml_type.h"

float hflow_fp16_to_fp32(uint16_t h);
uint16_t hflow_fp32_to_fp16(float f);
/* dst[i] = hflow_fp32_to_fp16(src[i]) for i < n, with F16C when the CPU has
 * it (quant_float_avx2.c; equal bit for bit, NaNs included). */
void hflow_fp32_to_fp16_row(const float *src, uint16_t *dst, int64_t n);
void hflow_fp32_to_fp16_row_avx2(const float *src, uint16_t *dst, int64_t n);
float hflow_bf16_to_fp32(uint16_t h);
uint16_t hflow_fp32_to_bf16(float f);

/* 1 when the engine can dequantize / compute with tensors of this type. */
int hflow_type_supported(uint32_t type);

/* Converts n elements (n a multiple of the block size) of `type` to f32.
 * Returns 0, or HFLOW_EUNSUPPORTED for a type the engine cannot read. */
int hflow_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
/* Quantizes n f32 values into `type` blocks (reference quantizer).
 * HFLOW_EUNSUPPORTED for decode-only types (Q2_K, Q3_K) and unknown ones;
 * both functions return HFLOW_EINVAL when n is not a whole number of blocks. */
int hflow_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
