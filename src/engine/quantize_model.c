/* quantize_model.c - `hybridflow quantize`: choose a type per tensor
 * (llama.cpp's conventions, see quantize_model.h), dequantize the source to
 * f32 and re-quantize with the reference quantizers, rows spread over a
 * thread pool, and write a new GGUF with the same metadata. */
#include "engine/quantize_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/threadpool.h"
#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "hybridflow/gguf.h"

typedef struct {
    const char *name;
    uint32_t base;
    int mix;             /* 1 for the _M mixes */
    int head_q6;         /* output head becomes Q6_K */
    uint32_t llama_ftype; /* general.file_type value llama.cpp writes */
} target_info;

static const target_info targets[] = {
    {"f32", HFLOW_TYPE_F32, 0, 0, 0},     {"f16", HFLOW_TYPE_F16, 0, 0, 1},     {"bf16", HFLOW_TYPE_BF16, 0, 0, 32},
    {"q8_0", HFLOW_TYPE_Q8_0, 0, 0, 7},   {"q4_0", HFLOW_TYPE_Q4_0, 0, 1, 2},   {"q4_1", HFLOW_TYPE_Q4_1, 0, 1, 3},
    {"q5_0", HFLOW_TYPE_Q5_0, 0, 1, 8},   {"q5_1", HFLOW_TYPE_Q5_1, 0, 1, 9},   {"q4_k", HFLOW_TYPE_Q4_K, 0, 1, 14},
    {"q5_k", HFLOW_TYPE_Q5_K, 0, 1, 16},  {"q6_k", HFLOW_TYPE_Q6_K, 0, 0, 18},  {"q4_k_m", HFLOW_TYPE_Q4_K, 1, 1, 15},
    {"q5_k_m", HFLOW_TYPE_Q5_K, 1, 1, 17},
};

static const target_info *find_target(const char *name) {
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcasecmp(targets[i].name, name)) return &targets[i];
    return NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers, and
 * every third layer in between, get the larger type. */
static int use_more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

static uint32_t fallback(uint32_t type, int64_t ne0) {
    if (hflow_row_size(type, ne0)) return type;
    switch (type) {
    case HFLOW_TYPE_Q4_K: type = HFLOW_TYPE_Q5_0; break;
    case HFLOW_TYPE_Q5_K: type = HFLOW_TYPE_Q5_1; break;
    case HFLOW_TYPE_Q6_K: type = HFLOW_TYPE_Q8_0; break;
    default: break;
    }
    return hflow_row_size(type, ne0) ? type : HFLOW_TYPE_F16;
}

int hflow_quantize_tensor_type(const char *target, const char *name, int n_dims, int64_t ne0, int layer, int n_layer,
                               int tied) {
    const target_info *t = find_target(target);
    if (!t) return -1;
    if (n_dims < 2 || !ends_with(name, ".weight")) return HFLOW_TYPE_F32;
    uint32_t type = t->base;
    int is_head = !strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight"));
    if (is_head && t->head_q6) type = HFLOW_TYPE_Q6_K;
    if (t->mix && layer >= 0 && (ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
        use_more_bits(layer, n_layer))
        type = HFLOW_TYPE_Q6_K;
    return (int)fallback(type, ne0);
}

static int layer_of(const char *name) {
    int layer;
    return sscanf(name, "blk.%d.", &layer) == 1 ? layer : -1;
}

typedef struct {
    const hflow_gguf_tensor *src;
    uint32_t type;
    char *dst;
    size_t dst_row;
    int64_t rows;
    int failed;
} requant_job;

static void requant_task(void *p, int ith, int nth) {
    requant_job *j = p;
    int64_t ne0 = j->src->ne[0], per = (j->rows + nth - 1) / nth;
    int64_t r0 = per * ith, r1 = r0 + per < j->rows ? r0 + per : j->rows;
    size_t src_row = hflow_row_size(j->src->type, ne0);
    float *tmp = malloc((size_t)ne0 * sizeof(float));
    if (!tmp) { j->failed = 1; return; }
    for (int64_t r = r0; r < r1; r++) {
        const char *s = (const char *)j->src->data + (size_t)r * src_row;
        if (hflow_dequantize_row(j->src->type, s, tmp, ne0) || hflow_quantize_row(j->type, tmp, j->dst + (size_t)r * j->dst_row, ne0))
            j->failed = 1;
    }
    free(tmp);
}

/* Copies metadata, updating the file type. */
static int copy_metadata(hflow_gguf_writer *w, const hflow_gguf *g, const target_info *t, hflow_error *err) {
    for (int64_t i = 0; i < hflow_gguf_n_kv(g); i++) {
        const char *key = hflow_gguf_key(g, i);
        if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version")) continue;
        if (hflow_gguf_copy_kv(w, g, key)) return hflow_error_set(err, HFLOW_ENOMEM, "copying key %s", key);
    }
    if (hflow_gguf_set_u32(w, "general.file_type", t->llama_ftype) ||
        hflow_gguf_set_u32(w, "general.quantization_version", 2))
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    return 0;
}

static int n_layers_of(const hflow_gguf *g) {
    int n = 0;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(g); i++) {
        int l = layer_of(hflow_gguf_tensor_at(g, i)->name);
        if (l + 1 > n) n = l + 1;
    }
    return n;
}

static int requantize_all(hflow_gguf *g, hflow_gguf_writer *w, const target_info *t, hflow_pool *pool, char **bufs,
                          hflow_quantize_stats *st, hflow_error *err) {
    int n_layer = n_layers_of(g), tied = hflow_gguf_find_tensor(g, "output.weight") == NULL;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(g); i++) {
        const hflow_gguf_tensor *src = hflow_gguf_tensor_at(g, i);
        if (!hflow_type_supported(src->type))
            return hflow_error_set(err, HFLOW_EUNSUPPORTED, "tensor %s: cannot read type %s", src->name,
                                   hflow_type_name(src->type));
        uint32_t type = (uint32_t)hflow_quantize_tensor_type(t->name, src->name, (int)src->n_dims, src->ne[0],
                                                             layer_of(src->name), n_layer, tied);
        requant_job j = {src, type, NULL, hflow_row_size(type, src->ne[0]), 1, 0};
        for (uint32_t d = 1; d < src->n_dims; d++) j.rows *= src->ne[d];
        size_t size = j.dst_row * (size_t)j.rows;
        if (!(bufs[i] = j.dst = malloc(size ? size : 1))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        hflow_pool_run(pool, requant_task, &j);
        if (j.failed) return hflow_error_set(err, HFLOW_EFORMAT, "tensor %s: conversion failed", src->name);
        int rc = hflow_gguf_add_tensor(w, src->name, type, src->n_dims, src->ne, j.dst, size, err);
        if (rc) return rc;
        st->n_tensors++;
        st->n_by_type[type]++;
        st->bytes_in += src->size;
        st->bytes_out += size;
    }
    return 0;
}

int hflow_quantize_model(const char *in_path, const char *out_path, const char *target, int n_threads,
                         hflow_quantize_stats *stats, hflow_error *err) {
    const target_info *t = find_target(target);
    if (!t) return hflow_error_set(err, HFLOW_EINVAL, "unknown quantization type '%s'", target);
    hflow_gguf *g = NULL;
    int rc = hflow_gguf_open(in_path, &g, err);
    if (rc) return rc;
    hflow_quantize_stats local = {0};
    hflow_gguf_writer *w = hflow_gguf_writer_create();
    hflow_pool *pool = hflow_pool_create(n_threads);
    char **bufs = calloc((size_t)hflow_gguf_n_tensors(g) + 1, sizeof(char *));
    if (!w || !pool || !bufs) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if (!rc) rc = copy_metadata(w, g, t, err);
    if (!rc) rc = requantize_all(g, w, t, pool, bufs, &local, err);
    if (!rc) rc = hflow_gguf_writer_write(w, out_path, err);
    for (int64_t i = 0; bufs && i < hflow_gguf_n_tensors(g); i++) free(bufs[i]);
    free(bufs);
    hflow_pool_free(pool);
    hflow_gguf_writer_free(w);
    hflow_gguf_close(g);
    if (stats) *stats = local;
    return rc;
}
