/* gguf_write.c - GGUF v3 writer.
 *
 * Metadata values are kept encoded exactly as they will appear in the file
 * (so copying a value from a reader is a byte copy); tensors are referenced,
 * not copied, and streamed at write time. The file is written to a temporary
 * name and renamed, so a failed write never leaves a half file behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "engine/ggml_type.h"
#include "hybridflow/gguf.h"

typedef struct {
    char *key;
    uint32_t type;
    hflow_strbuf value; /* encoded value bytes (after the type field) */
} wkv;

typedef struct {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[HFLOW_GGUF_MAX_DIMS];
    const void *data;
    uint64_t size;
} wtensor;

struct hflow_gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
};

hflow_gguf_writer *hflow_gguf_writer_create(void) { return calloc(1, sizeof(hflow_gguf_writer)); }

void hflow_gguf_writer_free(hflow_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        hflow_strbuf_free(&w->kvs[i].value);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

/* Returns the entry for key (replacing an old value), or NULL on OOM. */
static wkv *kv_slot(hflow_gguf_writer *w, const char *key, uint32_t type) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kvs[i].key, key)) {
            hflow_strbuf_reset(&w->kvs[i].value);
            w->kvs[i].type = type;
            return &w->kvs[i];
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *p = realloc(w->kvs, cap * sizeof *p);
        if (!p) return NULL;
        w->kvs = p;
        w->cap_kv = cap;
    }
    wkv *kv = &w->kvs[w->n_kv];
    memset(kv, 0, sizeof *kv);
    if (!(kv->key = strdup(key))) return NULL;
    kv->type = type;
    w->n_kv++;
    return kv;
}

static int set_raw(hflow_gguf_writer *w, const char *key, uint32_t type, const void *bytes, size_t n) {
    if (!w || !key || !*key) return HFLOW_EINVAL;
    wkv *kv = kv_slot(w, key, type);
    if (!kv) return HFLOW_ENOMEM;
    hflow_strbuf_append(&kv->value, bytes, n);
    return kv->value.oom ? HFLOW_ENOMEM : 0;
}

int hflow_gguf_set_u32(hflow_gguf_writer *w, const char *key, uint32_t v) { return set_raw(w, key, HFLOW_GGUF_UINT32, &v, 4); }
int hflow_gguf_set_i32(hflow_gguf_writer *w, const char *key, int32_t v) { return set_raw(w, key, HFLOW_GGUF_INT32, &v, 4); }
int hflow_gguf_set_u64(hflow_gguf_writer *w, const char *key, uint64_t v) { return set_raw(w, key, HFLOW_GGUF_UINT64, &v, 8); }
int hflow_gguf_set_f32(hflow_gguf_writer *w, const char *key, float v) { return set_raw(w, key, HFLOW_GGUF_FLOAT32, &v, 4); }

int hflow_gguf_set_bool(hflow_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return set_raw(w, key, HFLOW_GGUF_BOOL, &b, 1);
}

static void put_str(hflow_strbuf *b, const char *s, size_t n) {
    uint64_t len = n;
    hflow_strbuf_append(b, &len, 8);
    hflow_strbuf_append(b, s, n);
}

int hflow_gguf_set_str(hflow_gguf_writer *w, const char *key, const char *v) {
    if (!w || !key || !v) return HFLOW_EINVAL;
    wkv *kv = kv_slot(w, key, HFLOW_GGUF_STRING);
    if (!kv) return HFLOW_ENOMEM;
    put_str(&kv->value, v, strlen(v));
    return kv->value.oom ? HFLOW_ENOMEM : 0;
}

int hflow_gguf_set_arr(hflow_gguf_writer *w, const char *key, uint32_t elem_type, const void *data, uint64_t n) {
    size_t es = hflow_gguf_scalar_size(elem_type);
    if (!w || !key || !es || (n && !data)) return HFLOW_EINVAL;
    wkv *kv = kv_slot(w, key, HFLOW_GGUF_ARRAY);
    if (!kv) return HFLOW_ENOMEM;
    hflow_strbuf_append(&kv->value, &elem_type, 4);
    hflow_strbuf_append(&kv->value, &n, 8);
    hflow_strbuf_append(&kv->value, data, (size_t)n * es);
    return kv->value.oom ? HFLOW_ENOMEM : 0;
}

int hflow_gguf_set_arr_str(hflow_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                           uint64_t n) {
    if (!w || !key || (n && !strs)) return HFLOW_EINVAL;
    wkv *kv = kv_slot(w, key, HFLOW_GGUF_ARRAY);
    if (!kv) return HFLOW_ENOMEM;
    uint32_t et = HFLOW_GGUF_STRING;
    hflow_strbuf_append(&kv->value, &et, 4);
    hflow_strbuf_append(&kv->value, &n, 8);
    for (uint64_t i = 0; i < n; i++) put_str(&kv->value, strs[i], lens ? lens[i] : strlen(strs[i]));
    return kv->value.oom ? HFLOW_ENOMEM : 0;
}

int hflow_gguf_copy_kv(hflow_gguf_writer *w, const hflow_gguf *src, const char *key) {
    const hflow_gguf_value *v = hflow_gguf_get(src, key);
    if (!v) return HFLOW_ENOTFOUND;
    return set_raw(w, key, v->type, v->raw, (size_t)v->raw_size);
}

int hflow_gguf_add_tensor(hflow_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne,
                          const void *data, uint64_t size, hflow_error *err) {
    if (!w || !name || !*name || !ne || n_dims < 1 || n_dims > HFLOW_GGUF_MAX_DIMS)
        return hflow_error_set(err, HFLOW_EINVAL, "gguf writer: bad tensor arguments");
    uint64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++) rows *= (uint64_t)ne[d];
    size_t row = hflow_row_size(type, ne[0]);
    if (!row && ne[0]) return hflow_error_set(err, HFLOW_EINVAL, "gguf writer: tensor '%s': bad type or row length", name);
    if (row * rows != size)
        return hflow_error_set(err, HFLOW_EINVAL, "gguf writer: tensor '%s' has %llu bytes, its shape needs %llu", name,
                               (unsigned long long)size, (unsigned long long)(row * rows));
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return hflow_error_set(err, HFLOW_EINVAL, "gguf writer: duplicate tensor '%s'", name);
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *p = realloc(w->tensors, cap * sizeof *p);
        if (!p) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        w->tensors = p;
        w->cap_tensors = cap;
    }
    wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < HFLOW_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->size = size;
    w->n_tensors++;
    return 0;
}

static uint32_t writer_alignment(const hflow_gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kvs[i].key, "general.alignment") && w->kvs[i].type == HFLOW_GGUF_UINT32) {
            uint32_t a;
            memcpy(&a, w->kvs[i].value.data, 4);
            if (a && !(a & (a - 1))) return a;
        }
    return HFLOW_GGUF_DEFAULT_ALIGNMENT;
}

static uint64_t align_up(uint64_t x, uint32_t a) { return (x + a - 1) / a * a; }

int hflow_gguf_writer_write(hflow_gguf_writer *w, const char *path, hflow_error *err) {
    uint32_t align = writer_alignment(w);
    hflow_strbuf h;
    hflow_strbuf_init(&h);
    uint32_t version = 3;
    uint64_t nt = w->n_tensors, nkv = w->n_kv;
    hflow_strbuf_append(&h, "GGUF", 4);
    hflow_strbuf_append(&h, &version, 4);
    hflow_strbuf_append(&h, &nt, 8);
    hflow_strbuf_append(&h, &nkv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(&h, w->kvs[i].key, strlen(w->kvs[i].key));
        hflow_strbuf_append(&h, &w->kvs[i].type, 4);
        hflow_strbuf_append(&h, w->kvs[i].value.data, w->kvs[i].value.len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        put_str(&h, t->name, strlen(t->name));
        hflow_strbuf_append(&h, &t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) hflow_strbuf_append(&h, &t->ne[d], 8);
        hflow_strbuf_append(&h, &t->type, 4);
        hflow_strbuf_append(&h, &off, 8);
        off = align_up(off + t->size, align);
    }
    static const uint8_t zeros[64] = {0};
    while (h.len % align) hflow_strbuf_append(&h, zeros, 1);
    if (h.oom) {
        hflow_strbuf_free(&h);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory building GGUF header");
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        hflow_strbuf_free(&h);
        return hflow_error_set(err, HFLOW_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    }
    int ok = fwrite(h.data, 1, h.len, f) == h.len;
    hflow_strbuf_free(&h);
    for (size_t i = 0; ok && i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        ok = fwrite(t->data, 1, (size_t)t->size, f) == t->size;
        uint64_t pad = align_up(t->size, align) - t->size;
        while (ok && pad) {
            size_t k = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
            ok = fwrite(zeros, 1, k, f) == k;
            pad -= k;
        }
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return hflow_error_set(err, HFLOW_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    return 0;
}
