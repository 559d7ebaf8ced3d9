/* hybridflow/gguf.h - GGUF (v2, v3) reader and writer.
 *
 * Reader: hflow_gguf_open maps the file read-only (weights are never copied);
 * every offset, count, length and dimension is validated at open time, so the
 * accessors below cannot read out of bounds. All strings and tensor data
 * returned point into the mapping and stay valid until hflow_gguf_close.
 * String values are NOT NUL-terminated in the file: accessors return
 * (pointer, length) pairs; keys and tensor names are copied into
 * NUL-terminated strings owned by the hflow_gguf.
 *
 * Writer: builds a GGUF v3 file in memory-light fashion (metadata kept in
 * memory, tensor data streamed from caller buffers at write time). */
#ifndef HYBRIDFLOW_GGUF_H
#define HYBRIDFLOW_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, numbered as in the GGUF spec. */
enum hflow_gguf_vtype {
    HFLOW_GGUF_UINT8 = 0, HFLOW_GGUF_INT8 = 1, HFLOW_GGUF_UINT16 = 2, HFLOW_GGUF_INT16 = 3,
    HFLOW_GGUF_UINT32 = 4, HFLOW_GGUF_INT32 = 5, HFLOW_GGUF_FLOAT32 = 6, HFLOW_GGUF_BOOL = 7,
    HFLOW_GGUF_STRING = 8, HFLOW_GGUF_ARRAY = 9, HFLOW_GGUF_UINT64 = 10, HFLOW_GGUF_INT64 = 11,
    HFLOW_GGUF_FLOAT64 = 12
};

#define HFLOW_GGUF_MAX_DIMS 4
#define HFLOW_GGUF_DEFAULT_ALIGNMENT 32

typedef struct hflow_gguf hflow_gguf;

typedef struct hflow_gguf_tensor {
    const char *name;              /* NUL-terminated, owned by the hflow_gguf */
    uint32_t n_dims;
    int64_t ne[HFLOW_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint32_t type;                 /* ggml tensor type id (see engine/quant.h) */
    uint64_t offset;               /* relative to the data section */
    uint64_t size;                 /* bytes */
    const void *data;              /* into the mapping; NULL for a writer */
} hflow_gguf_tensor;

/* A view of one metadata value. For arrays, `arr_type`/`arr_n` describe the
 * elements and hflow_gguf_arr_* read them; nested arrays are views too. */
typedef struct hflow_gguf_value {
    uint32_t type;
    const uint8_t *raw;  /* start of the value's bytes in the mapping */
    uint64_t raw_size;   /* its encoded size */
    uint32_t arr_type;   /* element type when type == ARRAY */
    uint64_t arr_n;      /* element count when type == ARRAY */
} hflow_gguf_value;

/* ---- reader ---- */
int hflow_gguf_open(const char *path, hflow_gguf **out, hflow_error *err);
/* Parses a caller-owned buffer (not copied; must outlive the hflow_gguf). */
int hflow_gguf_open_memory(const void *data, size_t size, hflow_gguf **out, hflow_error *err);
void hflow_gguf_close(hflow_gguf *g);

uint32_t hflow_gguf_version(const hflow_gguf *g);
uint32_t hflow_gguf_alignment(const hflow_gguf *g);
size_t hflow_gguf_file_size(const hflow_gguf *g);
size_t hflow_gguf_data_offset(const hflow_gguf *g);

int64_t hflow_gguf_n_kv(const hflow_gguf *g);
const char *hflow_gguf_key(const hflow_gguf *g, int64_t i);
const hflow_gguf_value *hflow_gguf_value_at(const hflow_gguf *g, int64_t i);
int64_t hflow_gguf_find_key(const hflow_gguf *g, const char *key); /* -1 when absent */
const hflow_gguf_value *hflow_gguf_get(const hflow_gguf *g, const char *key); /* NULL when absent */

/* Typed getters: return 0 and set *out when the key exists with a compatible
 * scalar type (any integer type for ints, FLOAT32/FLOAT64 for floats), else
 * leave *out unchanged and return HFLOW_ENOTFOUND / HFLOW_EFORMAT. */
int hflow_gguf_get_int(const hflow_gguf *g, const char *key, int64_t *out);
int hflow_gguf_get_float(const hflow_gguf *g, const char *key, double *out);
int hflow_gguf_get_bool(const hflow_gguf *g, const char *key, int *out);
int hflow_gguf_get_str(const hflow_gguf *g, const char *key, const char **s, size_t *len);

/* Value readers (v must come from this file). */
int64_t hflow_gguf_value_int(const hflow_gguf_value *v);   /* integer/bool types; 0 otherwise */
double hflow_gguf_value_float(const hflow_gguf_value *v);  /* any numeric type */
const char *hflow_gguf_value_str(const hflow_gguf_value *v, size_t *len); /* STRING; NULL otherwise */

/* Array element access, O(1) for fixed-size element types; string arrays are
 * indexed once at open time so hflow_gguf_arr_str is O(1) too. Nested arrays
 * are read with hflow_gguf_arr_value. Out-of-range i returns 0/NULL. */
int64_t hflow_gguf_arr_int(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i);
double hflow_gguf_arr_float(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i);
const char *hflow_gguf_arr_str(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i, size_t *len);
int hflow_gguf_arr_value(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i, hflow_gguf_value *out);

int64_t hflow_gguf_n_tensors(const hflow_gguf *g);
const hflow_gguf_tensor *hflow_gguf_tensor_at(const hflow_gguf *g, int64_t i);
const hflow_gguf_tensor *hflow_gguf_find_tensor(const hflow_gguf *g, const char *name);

const char *hflow_gguf_vtype_name(uint32_t t);
/* Encoded size of a fixed-size value type (1, 2, 4 or 8); 0 for STRING, ARRAY and unknown types. */
size_t hflow_gguf_scalar_size(uint32_t t);

/* ---- writer ---- */
typedef struct hflow_gguf_writer hflow_gguf_writer;
hflow_gguf_writer *hflow_gguf_writer_create(void);
void hflow_gguf_writer_free(hflow_gguf_writer *w);
/* Setters copy key and value. Setting an existing key replaces it. */
int hflow_gguf_set_u32(hflow_gguf_writer *w, const char *key, uint32_t v);
int hflow_gguf_set_i32(hflow_gguf_writer *w, const char *key, int32_t v);
int hflow_gguf_set_u64(hflow_gguf_writer *w, const char *key, uint64_t v);
int hflow_gguf_set_f32(hflow_gguf_writer *w, const char *key, float v);
int hflow_gguf_set_bool(hflow_gguf_writer *w, const char *key, int v);
int hflow_gguf_set_str(hflow_gguf_writer *w, const char *key, const char *v);
/* Array of fixed-size elements (elem_type any numeric/bool type); data copied. */
int hflow_gguf_set_arr(hflow_gguf_writer *w, const char *key, uint32_t elem_type, const void *data, uint64_t n);
int hflow_gguf_set_arr_str(hflow_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens, uint64_t n);
/* Copies key `key` (any type, nested arrays included) verbatim from a reader. */
int hflow_gguf_copy_kv(hflow_gguf_writer *w, const hflow_gguf *src, const char *key);
/* Adds a tensor. `data` (size bytes) is NOT copied: it must stay valid until
 * hflow_gguf_writer_write returns. size must equal the type's row size x rows. */
int hflow_gguf_add_tensor(hflow_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                          const int64_t *ne, const void *data, uint64_t size, hflow_error *err);
int hflow_gguf_writer_write(hflow_gguf_writer *w, const char *path, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
