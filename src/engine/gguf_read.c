/* gguf_read.c - GGUF v2/v3 reader.
 *
 * The whole file is mapped read-only and validated once at open time: every
 * length, count, offset and dimension is checked against the bytes that are
 * actually there, so later accessors can index without checks. Counts read
 * from the file are never trusted for allocation until they are shown to fit
 * in the remaining bytes (each element occupies at least one byte there),
 * which bounds memory use by the file size. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ggml_type.h"
#include "hybridflow/gguf.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_NESTING 8

struct hflow_gguf {
    const uint8_t *base;
    size_t size;
    int mapped; /* 1: base is our mmap and must be unmapped */
    uint32_t version;
    uint32_t alignment;
    size_t data_offset;

    int64_t n_kv;
    char **keys;
    hflow_gguf_value *vals;
    uint64_t **str_index; /* per kv: offsets of each string of a string array, else NULL */

    int64_t n_tensors;
    hflow_gguf_tensor *tensors;
};

/* ---- bounded cursor ---- */

typedef struct {
    const uint8_t *base;
    size_t size;
    size_t off;
    hflow_error *err;
} cursor;

static size_t remaining(const cursor *c) { return c->size - c->off; }

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c))
        return hflow_error_set(c->err, HFLOW_EFORMAT,
                               "truncated file: %s needs %llu bytes at offset %zu but only %zu remain", what,
                               (unsigned long long)n, c->off, remaining(c));
    return 0;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return HFLOW_EFORMAT;
    memcpy(v, c->base + c->off, 4);
    c->off += 4;
    return 0;
}

static int read_u64(cursor *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return HFLOW_EFORMAT;
    memcpy(v, c->base + c->off, 8);
    c->off += 8;
    return 0;
}

/* A GGUF string: u64 length then bytes. Returns a view into the file. */
static int read_str(cursor *c, const uint8_t **s, uint64_t *len, const char *what) {
    int rc = read_u64(c, len, what);
    if (rc) return rc;
    if (need(c, *len, what)) return HFLOW_EFORMAT;
    *s = c->base + c->off;
    c->off += (size_t)*len;
    return 0;
}

size_t hflow_gguf_scalar_size(uint32_t t) {
    switch (t) {
    case HFLOW_GGUF_UINT8: case HFLOW_GGUF_INT8: case HFLOW_GGUF_BOOL: return 1;
    case HFLOW_GGUF_UINT16: case HFLOW_GGUF_INT16: return 2;
    case HFLOW_GGUF_UINT32: case HFLOW_GGUF_INT32: case HFLOW_GGUF_FLOAT32: return 4;
    case HFLOW_GGUF_UINT64: case HFLOW_GGUF_INT64: case HFLOW_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *hflow_gguf_vtype_name(uint32_t t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "str", "arr", "u64", "i64", "f64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Skips over one value of type t, validating it; fills v when non-NULL. */
static int parse_value(cursor *c, uint32_t t, int depth, hflow_gguf_value *v) {
    size_t start = c->off;
    uint32_t arr_type = 0;
    uint64_t arr_n = 0;
    size_t sz = hflow_gguf_scalar_size(t);
    if (sz) {
        if (need(c, sz, "metadata value")) return HFLOW_EFORMAT;
        if (t == HFLOW_GGUF_BOOL && c->base[c->off] > 1)
            return hflow_error_set(c->err, HFLOW_EFORMAT, "bool value %u at offset %zu is not 0 or 1",
                                   c->base[c->off], c->off);
        c->off += sz;
    } else if (t == HFLOW_GGUF_STRING) {
        const uint8_t *s;
        uint64_t len;
        if (read_str(c, &s, &len, "string value")) return HFLOW_EFORMAT;
    } else if (t == HFLOW_GGUF_ARRAY) {
        if (depth >= GGUF_MAX_NESTING)
            return hflow_error_set(c->err, HFLOW_EFORMAT, "arrays nested deeper than %d at offset %zu",
                                   GGUF_MAX_NESTING, c->off);
        if (read_u32(c, &arr_type, "array element type") || read_u64(c, &arr_n, "array length"))
            return HFLOW_EFORMAT;
        size_t esz = hflow_gguf_scalar_size(arr_type);
        if (esz) {
            if (arr_n > remaining(c) / esz)
                return hflow_error_set(c->err, HFLOW_EFORMAT,
                                       "array of %llu %s elements at offset %zu exceeds the file",
                                       (unsigned long long)arr_n, hflow_gguf_vtype_name(arr_type), c->off);
            if (arr_type == HFLOW_GGUF_BOOL)
                for (uint64_t i = 0; i < arr_n; i++)
                    if (c->base[c->off + i] > 1)
                        return hflow_error_set(c->err, HFLOW_EFORMAT, "bool array element is not 0 or 1");
            c->off += (size_t)(arr_n * esz);
        } else if (arr_type == HFLOW_GGUF_STRING || arr_type == HFLOW_GGUF_ARRAY) {
            /* each element takes at least 8 (string) or 12 (array) bytes */
            uint64_t min_elem = arr_type == HFLOW_GGUF_STRING ? 8 : 12;
            if (arr_n > remaining(c) / min_elem)
                return hflow_error_set(c->err, HFLOW_EFORMAT,
                                       "array of %llu %s elements at offset %zu exceeds the file",
                                       (unsigned long long)arr_n, hflow_gguf_vtype_name(arr_type), c->off);
            for (uint64_t i = 0; i < arr_n; i++) {
                int rc = parse_value(c, arr_type, depth + 1, NULL);
                if (rc) return rc;
            }
        } else {
            return hflow_error_set(c->err, HFLOW_EFORMAT, "unknown array element type %u at offset %zu", arr_type,
                                   c->off - 12);
        }
    } else {
        return hflow_error_set(c->err, HFLOW_EFORMAT, "unknown metadata value type %u at offset %zu", t,
                               c->off - 4);
    }
    if (v) {
        v->type = t;
        v->raw = c->base + start;
        v->raw_size = c->off - start;
        v->arr_type = arr_type;
        v->arr_n = arr_n;
    }
    return 0;
}

/* ---- value readers ---- */

static int64_t read_int_at(const uint8_t *p, uint32_t t) {
    switch (t) {
    case HFLOW_GGUF_UINT8: return p[0];
    case HFLOW_GGUF_INT8: return (int8_t)p[0];
    case HFLOW_GGUF_BOOL: return p[0] != 0;
    case HFLOW_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case HFLOW_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case HFLOW_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case HFLOW_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
    case HFLOW_GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); return v > INT64_MAX ? INT64_MAX : (int64_t)v; }
    case HFLOW_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); return v; }
    default: return 0;
    }
}

static double read_float_at(const uint8_t *p, uint32_t t) {
    if (t == HFLOW_GGUF_FLOAT32) { float v; memcpy(&v, p, 4); return v; }
    if (t == HFLOW_GGUF_FLOAT64) { double v; memcpy(&v, p, 8); return v; }
    return (double)read_int_at(p, t);
}

static int is_int_type(uint32_t t) {
    return hflow_gguf_scalar_size(t) && t != HFLOW_GGUF_FLOAT32 && t != HFLOW_GGUF_FLOAT64;
}

int64_t hflow_gguf_value_int(const hflow_gguf_value *v) { return v && is_int_type(v->type) ? read_int_at(v->raw, v->type) : 0; }

double hflow_gguf_value_float(const hflow_gguf_value *v) {
    return v && hflow_gguf_scalar_size(v->type) ? read_float_at(v->raw, v->type) : 0.0;
}

const char *hflow_gguf_value_str(const hflow_gguf_value *v, size_t *len) {
    if (!v || v->type != HFLOW_GGUF_STRING) return NULL;
    uint64_t n;
    memcpy(&n, v->raw, 8);
    if (len) *len = (size_t)n;
    return (const char *)v->raw + 8;
}

/* Offset of the first array element within v->raw. */
static const uint8_t *arr_data(const hflow_gguf_value *arr) { return arr->raw + 12; }

int64_t hflow_gguf_arr_int(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i) {
    (void)g;
    if (!arr || arr->type != HFLOW_GGUF_ARRAY || i >= arr->arr_n || !is_int_type(arr->arr_type)) return 0;
    return read_int_at(arr_data(arr) + i * hflow_gguf_scalar_size(arr->arr_type), arr->arr_type);
}

double hflow_gguf_arr_float(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i) {
    (void)g;
    if (!arr || arr->type != HFLOW_GGUF_ARRAY || i >= arr->arr_n || !hflow_gguf_scalar_size(arr->arr_type)) return 0.0;
    return read_float_at(arr_data(arr) + i * hflow_gguf_scalar_size(arr->arr_type), arr->arr_type);
}

/* Walks a validated array to element i (strings or nested arrays). */
static const uint8_t *arr_walk(const hflow_gguf_value *arr, uint64_t i) {
    const uint8_t *p = arr_data(arr);
    for (uint64_t k = 0; k < i; k++) {
        cursor c = {p, SIZE_MAX - (size_t)(uintptr_t)p, 0, NULL};
        parse_value(&c, arr->arr_type, 1, NULL); /* already validated at open */
        p += c.off;
    }
    return p;
}

const char *hflow_gguf_arr_str(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i, size_t *len) {
    if (!arr || arr->type != HFLOW_GGUF_ARRAY || arr->arr_type != HFLOW_GGUF_STRING || i >= arr->arr_n) return NULL;
    const uint8_t *p = NULL;
    if (g && arr >= g->vals && arr < g->vals + g->n_kv && g->str_index[arr - g->vals])
        p = g->base + g->str_index[arr - g->vals][i];
    else
        p = arr_walk(arr, i);
    uint64_t n;
    memcpy(&n, p, 8);
    if (len) *len = (size_t)n;
    return (const char *)p + 8;
}

int hflow_gguf_arr_value(const hflow_gguf *g, const hflow_gguf_value *arr, uint64_t i, hflow_gguf_value *out) {
    (void)g;
    if (!arr || arr->type != HFLOW_GGUF_ARRAY || i >= arr->arr_n || !out) return HFLOW_ERANGE;
    const uint8_t *p;
    size_t esz = hflow_gguf_scalar_size(arr->arr_type);
    p = esz ? arr_data(arr) + i * esz : arr_walk(arr, i);
    cursor c = {p, SIZE_MAX - (size_t)(uintptr_t)p, 0, NULL};
    return parse_value(&c, arr->arr_type, 1, out) ? HFLOW_EFORMAT : 0;
}

/* ---- open ---- */

static int build_str_index(hflow_gguf *g, int64_t k) {
    hflow_gguf_value *v = &g->vals[k];
    if (v->type != HFLOW_GGUF_ARRAY || v->arr_type != HFLOW_GGUF_STRING || v->arr_n == 0) return 0;
    uint64_t *idx = malloc(v->arr_n * sizeof *idx);
    if (!idx) return HFLOW_ENOMEM;
    const uint8_t *p = arr_data(v);
    for (uint64_t i = 0; i < v->arr_n; i++) {
        idx[i] = (uint64_t)(p - g->base);
        uint64_t n;
        memcpy(&n, p, 8);
        p += 8 + n;
    }
    g->str_index[k] = idx;
    return 0;
}

static char *dup_bytes(const uint8_t *s, uint64_t n) {
    char *d = malloc((size_t)n + 1);
    if (!d) return NULL;
    memcpy(d, s, (size_t)n);
    d[n] = '\0';
    return d;
}

static int parse_kvs(hflow_gguf *g, cursor *c, hflow_error *err) {
    for (int64_t k = 0; k < g->n_kv; k++) {
        const uint8_t *key;
        uint64_t klen;
        uint32_t t;
        if (read_str(c, &key, &klen, "metadata key"))
            return hflow_error_wrap(err, "metadata entry %lld of %lld", (long long)k, (long long)g->n_kv);
        if (klen == 0 || memchr(key, 0, (size_t)klen))
            return hflow_error_set(err, HFLOW_EFORMAT, "metadata entry %lld has an empty or NUL-containing key",
                                   (long long)k);
        if (!(g->keys[k] = dup_bytes(key, klen))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        for (int64_t j = 0; j < k; j++)
            if (!strcmp(g->keys[j], g->keys[k]))
                return hflow_error_set(err, HFLOW_EFORMAT, "duplicate metadata key '%s'", g->keys[k]);
        if (read_u32(c, &t, "metadata value type") || parse_value(c, t, 0, &g->vals[k]))
            return hflow_error_wrap(err, "metadata key '%s'", g->keys[k]);
        if (build_str_index(g, k)) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    return 0;
}

static int parse_alignment(hflow_gguf *g, hflow_error *err) {
    g->alignment = HFLOW_GGUF_DEFAULT_ALIGNMENT;
    const hflow_gguf_value *v = hflow_gguf_get(g, "general.alignment");
    if (!v) return 0;
    if (v->type != HFLOW_GGUF_UINT32)
        return hflow_error_set(err, HFLOW_EFORMAT, "general.alignment has type %s, expected u32",
                               hflow_gguf_vtype_name(v->type));
    int64_t a = hflow_gguf_value_int(v);
    if (a <= 0 || (a & (a - 1)) || a > (1 << 24))
        return hflow_error_set(err, HFLOW_EFORMAT, "general.alignment %lld is not a power of two in [1, 2^24]",
                               (long long)a);
    g->alignment = (uint32_t)a;
    return 0;
}

static int parse_tensor_info(hflow_gguf *g, cursor *c, int64_t i, hflow_error *err) {
    hflow_gguf_tensor *t = &g->tensors[i];
    const uint8_t *name;
    uint64_t nlen;
    if (read_str(c, &name, &nlen, "tensor name"))
        return hflow_error_wrap(err, "tensor %lld of %lld", (long long)i, (long long)g->n_tensors);
    if (nlen == 0 || memchr(name, 0, (size_t)nlen))
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor %lld has an empty or NUL-containing name", (long long)i);
    char *nm = dup_bytes(name, nlen);
    if (!nm) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    t->name = nm;
    if (read_u32(c, &t->n_dims, "tensor dimension count")) return hflow_error_wrap(err, "tensor '%s'", nm);
    if (t->n_dims == 0 || t->n_dims > HFLOW_GGUF_MAX_DIMS)
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor '%s' has %u dimensions (1..%d allowed)", nm, t->n_dims,
                               HFLOW_GGUF_MAX_DIMS);
    uint64_t n_elem = 1;
    for (uint32_t d = 0; d < HFLOW_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (read_u64(c, &ne, "tensor dimension")) return hflow_error_wrap(err, "tensor '%s'", nm);
        if (ne > (uint64_t)INT64_MAX / 2 || (ne && n_elem > (uint64_t)INT64_MAX / 2 / ne))
            return hflow_error_set(err, HFLOW_EFORMAT, "tensor '%s' dimension %u = %llu overflows the element count",
                                   nm, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        n_elem *= ne;
    }
    uint64_t offset;
    if (read_u32(c, &t->type, "tensor type") || read_u64(c, &offset, "tensor offset"))
        return hflow_error_wrap(err, "tensor '%s'", nm);
    const hflow_type_traits *tr = hflow_type_traits_get(t->type);
    if (!tr) return hflow_error_set(err, HFLOW_EFORMAT, "tensor '%s' has unknown type id %u", nm, t->type);
    if (t->ne[0] % tr->block_size)
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor '%s' row length %lld is not a multiple of %s's block size %d",
                               nm, (long long)t->ne[0], tr->name, tr->block_size);
    uint64_t row = hflow_row_size(t->type, t->ne[0]);
    uint64_t rows = t->ne[0] ? n_elem / (uint64_t)t->ne[0] : 0;
    if (rows && row > UINT64_MAX / rows)
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor '%s' byte size overflows", nm);
    t->size = row * rows;
    t->offset = offset;
    if (offset % g->alignment)
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor '%s' offset %llu is not aligned to %u", nm,
                               (unsigned long long)offset, g->alignment);
    for (int64_t j = 0; j < i; j++)
        if (!strcmp(g->tensors[j].name, nm))
            return hflow_error_set(err, HFLOW_EFORMAT, "duplicate tensor name '%s'", nm);
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const hflow_gguf_tensor *x = *(const hflow_gguf_tensor *const *)a, *y = *(const hflow_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Every tensor must lie inside the data section and no two may overlap. */
static int check_tensor_extents(hflow_gguf *g, hflow_error *err) {
    size_t data_size = g->size - g->data_offset;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        hflow_gguf_tensor *t = &g->tensors[i];
        if (t->offset > data_size || t->size > data_size - t->offset)
            return hflow_error_set(err, HFLOW_EFORMAT,
                                   "tensor '%s' (%llu bytes at data offset %llu) extends past the end of the file "
                                   "(data section is %zu bytes)",
                                   t->name, (unsigned long long)t->size, (unsigned long long)t->offset, data_size);
        t->data = g->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return 0;
    const hflow_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset);
    int rc = 0;
    for (int64_t i = 1; i < g->n_tensors && !rc; i++)
        if (order[i - 1]->offset + order[i - 1]->size > order[i]->offset)
            rc = hflow_error_set(err, HFLOW_EFORMAT, "tensors '%s' and '%s' overlap", order[i - 1]->name,
                                 order[i]->name);
    free(order);
    return rc;
}

static int parse(hflow_gguf *g, hflow_error *err) {
    cursor c = {g->base, g->size, 0, err};
    uint64_t n_tensors, n_kv;
    if (need(&c, 4, "magic")) return HFLOW_EFORMAT;
    if (memcmp(g->base, GGUF_MAGIC, 4))
        return hflow_error_set(err, HFLOW_EFORMAT, "not a GGUF file (magic %02x %02x %02x %02x, expected 'GGUF')",
                               g->base[0], g->base[1], g->base[2], g->base[3]);
    c.off = 4;
    if (read_u32(&c, &g->version, "version")) return HFLOW_EFORMAT;
    if (g->version != 2 && g->version != 3)
        return hflow_error_set(err, HFLOW_EFORMAT, "unsupported GGUF version %u (2 and 3 are supported)", g->version);
    if (read_u64(&c, &n_tensors, "tensor count") || read_u64(&c, &n_kv, "metadata count")) return HFLOW_EFORMAT;
    /* a metadata entry takes >= 8+1+4+1 bytes, a tensor info >= 8+1+4+8+4+8 */
    if (n_kv > remaining(&c) / 14)
        return hflow_error_set(err, HFLOW_EFORMAT, "metadata count %llu cannot fit in a %zu-byte file",
                               (unsigned long long)n_kv, g->size);
    if (n_tensors > remaining(&c) / 33)
        return hflow_error_set(err, HFLOW_EFORMAT, "tensor count %llu cannot fit in a %zu-byte file",
                               (unsigned long long)n_tensors, g->size);
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->keys = calloc(n_kv ? n_kv : 1, sizeof *g->keys);
    g->vals = calloc(n_kv ? n_kv : 1, sizeof *g->vals);
    g->str_index = calloc(n_kv ? n_kv : 1, sizeof *g->str_index);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    if (!g->keys || !g->vals || !g->str_index || !g->tensors)
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int rc = parse_kvs(g, &c, err);
    if (!rc) rc = parse_alignment(g, err);
    for (int64_t i = 0; !rc && i < g->n_tensors; i++) rc = parse_tensor_info(g, &c, i, err);
    if (rc) return rc;
    size_t header_end = c.off;
    size_t pad = (g->alignment - header_end % g->alignment) % g->alignment;
    if (g->n_tensors > 0 && pad > g->size - header_end)
        return hflow_error_set(err, HFLOW_EFORMAT, "truncated file: data section would start past the end");
    g->data_offset = header_end + (pad > g->size - header_end ? g->size - header_end : pad);
    return check_tensor_extents(g, err);
}

static int open_common(hflow_gguf *g, hflow_gguf **out, hflow_error *err) {
    int rc = parse(g, err);
    if (rc) {
        hflow_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int hflow_gguf_open_memory(const void *data, size_t size, hflow_gguf **out, hflow_error *err) {
    if (!out || (!data && size)) return hflow_error_set(err, HFLOW_EINVAL, "hflow_gguf_open_memory: bad arguments");
    *out = NULL;
    hflow_gguf *g = calloc(1, sizeof *g);
    if (!g) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    g->base = data;
    g->size = size;
    return open_common(g, out, err);
}

int hflow_gguf_open(const char *path, hflow_gguf **out, hflow_error *err) {
    if (!path || !out) return hflow_error_set(err, HFLOW_EINVAL, "hflow_gguf_open: bad arguments");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hflow_error_set(err, HFLOW_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hflow_error_set(err, HFLOW_EIO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return hflow_error_set(err, HFLOW_EFORMAT, "'%s' is empty", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return hflow_error_set(err, HFLOW_EIO, "cannot map '%s': %s", path, strerror(errno));
    hflow_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        munmap(p, (size_t)st.st_size);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    g->base = p;
    g->size = (size_t)st.st_size;
    g->mapped = 1;
    int rc = open_common(g, out, err);
    if (rc) hflow_error_wrap(err, "%s", path);
    return rc;
}

void hflow_gguf_close(hflow_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; g->keys && i < g->n_kv; i++) free(g->keys[i]);
    for (int64_t i = 0; g->str_index && i < g->n_kv; i++) free(g->str_index[i]);
    for (int64_t i = 0; g->tensors && i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->keys);
    free(g->vals);
    free(g->str_index);
    free(g->tensors);
    if (g->mapped) munmap((void *)g->base, g->size);
    free(g);
}

/* ---- accessors ---- */

uint32_t hflow_gguf_version(const hflow_gguf *g) { return g->version; }
uint32_t hflow_gguf_alignment(const hflow_gguf *g) { return g->alignment; }
size_t hflow_gguf_file_size(const hflow_gguf *g) { return g->size; }
size_t hflow_gguf_data_offset(const hflow_gguf *g) { return g->data_offset; }
int64_t hflow_gguf_n_kv(const hflow_gguf *g) { return g->n_kv; }
int64_t hflow_gguf_n_tensors(const hflow_gguf *g) { return g->n_tensors; }

const char *hflow_gguf_key(const hflow_gguf *g, int64_t i) { return i >= 0 && i < g->n_kv ? g->keys[i] : NULL; }

const hflow_gguf_value *hflow_gguf_value_at(const hflow_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->vals[i] : NULL;
}

int64_t hflow_gguf_find_key(const hflow_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->keys[i] && !strcmp(g->keys[i], key)) return i;
    return -1;
}

const hflow_gguf_value *hflow_gguf_get(const hflow_gguf *g, const char *key) {
    return hflow_gguf_value_at(g, hflow_gguf_find_key(g, key));
}

int hflow_gguf_get_int(const hflow_gguf *g, const char *key, int64_t *out) {
    const hflow_gguf_value *v = hflow_gguf_get(g, key);
    if (!v) return HFLOW_ENOTFOUND;
    if (!is_int_type(v->type)) return HFLOW_EFORMAT;
    *out = hflow_gguf_value_int(v);
    return 0;
}

int hflow_gguf_get_float(const hflow_gguf *g, const char *key, double *out) {
    const hflow_gguf_value *v = hflow_gguf_get(g, key);
    if (!v) return HFLOW_ENOTFOUND;
    if (v->type != HFLOW_GGUF_FLOAT32 && v->type != HFLOW_GGUF_FLOAT64) return HFLOW_EFORMAT;
    *out = hflow_gguf_value_float(v);
    return 0;
}

int hflow_gguf_get_bool(const hflow_gguf *g, const char *key, int *out) {
    const hflow_gguf_value *v = hflow_gguf_get(g, key);
    if (!v) return HFLOW_ENOTFOUND;
    if (v->type != HFLOW_GGUF_BOOL) return HFLOW_EFORMAT;
    *out = v->raw[0] != 0;
    return 0;
}

int hflow_gguf_get_str(const hflow_gguf *g, const char *key, const char **s, size_t *len) {
    const hflow_gguf_value *v = hflow_gguf_get(g, key);
    if (!v) return HFLOW_ENOTFOUND;
    if (v->type != HFLOW_GGUF_STRING) return HFLOW_EFORMAT;
    *s = hflow_gguf_value_str(v, len);
    return 0;
}

const hflow_gguf_tensor *hflow_gguf_tensor_at(const hflow_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const hflow_gguf_tensor *hflow_gguf_find_tensor(const hflow_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}
