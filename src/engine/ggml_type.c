/* ggml_type.c - block geometry per ggml type id (from the GGUF/ggml block layouts). */
#include "engine/ggml_type.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const hflow_type_traits traits[HFLOW_TYPE_COUNT] = {
    [HFLOW_TYPE_F32] = {"F32", 1, 4},
    [HFLOW_TYPE_F16] = {"F16", 1, 2},
    [HFLOW_TYPE_Q4_0] = {"Q4_0", 32, 2 + 16},
    [HFLOW_TYPE_Q4_1] = {"Q4_1", 32, 2 + 2 + 16},
    [HFLOW_TYPE_Q5_0] = {"Q5_0", 32, 2 + 4 + 16},
    [HFLOW_TYPE_Q5_1] = {"Q5_1", 32, 2 + 2 + 4 + 16},
    [HFLOW_TYPE_Q8_0] = {"Q8_0", 32, 2 + 32},
    [HFLOW_TYPE_Q8_1] = {"Q8_1", 32, 4 + 32},
    [HFLOW_TYPE_Q2_K] = {"Q2_K", 256, 16 + 64 + 2 + 2},
    [HFLOW_TYPE_Q3_K] = {"Q3_K", 256, 32 + 64 + 12 + 2},
    [HFLOW_TYPE_Q4_K] = {"Q4_K", 256, 2 + 2 + 12 + 128},
    [HFLOW_TYPE_Q5_K] = {"Q5_K", 256, 2 + 2 + 12 + 32 + 128},
    [HFLOW_TYPE_Q6_K] = {"Q6_K", 256, 128 + 64 + 16 + 2},
    [HFLOW_TYPE_Q8_K] = {"Q8_K", 256, 4 + 256 + 32},
    [HFLOW_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 2 + 64},
    [HFLOW_TYPE_IQ2_XS] = {"IQ2_XS", 256, 2 + 64 + 8},
    [HFLOW_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 2 + 96},
    [HFLOW_TYPE_IQ1_S] = {"IQ1_S", 256, 2 + 32 + 16},
    [HFLOW_TYPE_IQ4_NL] = {"IQ4_NL", 32, 2 + 16},
    [HFLOW_TYPE_IQ3_S] = {"IQ3_S", 256, 2 + 64 + 8 + 32 + 4},
    [HFLOW_TYPE_IQ2_S] = {"IQ2_S", 256, 2 + 64 + 8 + 8},
    [HFLOW_TYPE_IQ4_XS] = {"IQ4_XS", 256, 2 + 2 + 4 + 128},
    [HFLOW_TYPE_I8] = {"I8", 1, 1},
    [HFLOW_TYPE_I16] = {"I16", 1, 2},
    [HFLOW_TYPE_I32] = {"I32", 1, 4},
    [HFLOW_TYPE_I64] = {"I64", 1, 8},
    [HFLOW_TYPE_F64] = {"F64", 1, 8},
    [HFLOW_TYPE_IQ1_M] = {"IQ1_M", 256, 32 + 16 + 8},
    [HFLOW_TYPE_BF16] = {"BF16", 1, 2},
};

const hflow_type_traits *hflow_type_traits_get(uint32_t type) {
    if (type >= HFLOW_TYPE_COUNT || !traits[type].name) return NULL;
    return &traits[type];
}

const char *hflow_type_name(uint32_t type) {
    const hflow_type_traits *t = hflow_type_traits_get(type);
    return t ? t->name : "?";
}

int hflow_type_from_name(const char *name) {
    for (int i = 0; i < HFLOW_TYPE_COUNT; i++)
        if (traits[i].name && !strcasecmp(traits[i].name, name)) return i;
    return -1;
}

size_t hflow_row_size(uint32_t type, int64_t n) {
    const hflow_type_traits *t = hflow_type_traits_get(type);
    if (!t || n < 0 || n % t->block_size) return 0;
    return (size_t)(n / t->block_size) * (size_t)t->type_size;
}
