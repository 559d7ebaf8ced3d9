/* ggml_type.h - the tensor types GGUF files use: ids, names, block geometry.
 * Pure data shared by the GGUF reader (to size and validate tensors) and the
 * kernels. Kernel support for a type is a separate question (quant.h). */
#ifndef HFLOW_ENGINE_GGML_TYPE_H
#define HFLOW_ENGINE_GGML_TYPE_H
#include <stddef.h>
#include <stdint.h>

enum hflow_ggml_type {
    HFLOW_TYPE_F32 = 0, HFLOW_TYPE_F16 = 1, HFLOW_TYPE_Q4_0 = 2, HFLOW_TYPE_Q4_1 = 3,
    HFLOW_TYPE_Q5_0 = 6, HFLOW_TYPE_Q5_1 = 7, HFLOW_TYPE_Q8_0 = 8, HFLOW_TYPE_Q8_1 = 9,
    HFLOW_TYPE_Q2_K = 10, HFLOW_TYPE_Q3_K = 11, HFLOW_TYPE_Q4_K = 12, HFLOW_TYPE_Q5_K = 13,
    HFLOW_TYPE_Q6_K = 14, HFLOW_TYPE_Q8_K = 15, HFLOW_TYPE_IQ2_XXS = 16, HFLOW_TYPE_IQ2_XS = 17,
    HFLOW_TYPE_IQ3_XXS = 18, HFLOW_TYPE_IQ1_S = 19, HFLOW_TYPE_IQ4_NL = 20, HFLOW_TYPE_IQ3_S = 21,
    HFLOW_TYPE_IQ2_S = 22, HFLOW_TYPE_IQ4_XS = 23, HFLOW_TYPE_I8 = 24, HFLOW_TYPE_I16 = 25,
    HFLOW_TYPE_I32 = 26, HFLOW_TYPE_I64 = 27, HFLOW_TYPE_F64 = 28, HFLOW_TYPE_IQ1_M = 29,
    HFLOW_TYPE_BF16 = 30,
    HFLOW_TYPE_COUNT = 31
};

typedef struct hflow_type_traits {
    const char *name;   /* NULL for ids that are not valid types */
    int32_t block_size; /* elements per block */
    int32_t type_size;  /* bytes per block */
} hflow_type_traits;

/* NULL when `type` is not a known ggml type id. */
const hflow_type_traits *hflow_type_traits_get(uint32_t type);
const char *hflow_type_name(uint32_t type); /* "?" when unknown */
/* Parses a type name ("q8_0", "Q4_K", "f16"); -1 when unknown. */
int hflow_type_from_name(const char *name);
/* Bytes of one row of n elements; 0 when n is not a multiple of the block size
 * or the type is unknown. */
size_t hflow_row_size(uint32_t type, int64_t n);

#endif
