/* test_gguf.c - GGUF reader/writer: real files, round trip, and a corrupt-file
 * suite (every truncation point, bad fields, hostile counts, overlaps, random
 * mutations). The hand-built files here use their own little encoder, so the
 * reader is not only checked against our writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/ggml_type.h"
#include "hybridflow/gguf.h"

/* ---- a tiny independent GGUF encoder that records field offsets ---- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* Offsets of interesting fields in the sample file. */
typedef struct {
    size_t version, n_tensors, n_kv, str_len, arr_count, arr_type, kv2_type;
    size_t t0_ndims, t0_ne0, t0_type, t0_offset, t1_offset, data;
} layout;

/* Sample: 3 kvs (a string, a u32 array, general.alignment) and two F32 tensors
 * of 8 and 4 elements. */
static bytes make_sample(layout *L) {
    bytes b = {0};
    put(&b, "GGUF", 4);
    L->version = b.n;
    put_u32(&b, 3);
    L->n_tensors = b.n;
    put_u64(&b, 2);
    L->n_kv = b.n;
    put_u64(&b, 3);
    put_str(&b, "general.name");
    put_u32(&b, HFLOW_GGUF_STRING);
    L->str_len = b.n;
    put_str(&b, "tiny");
    put_str(&b, "test.values");
    put_u32(&b, HFLOW_GGUF_ARRAY);
    L->arr_type = b.n;
    put_u32(&b, HFLOW_GGUF_UINT32);
    L->arr_count = b.n;
    put_u64(&b, 3);
    put_u32(&b, 7); put_u32(&b, 8); put_u32(&b, 9);
    put_str(&b, "general.alignment");
    L->kv2_type = b.n;
    put_u32(&b, HFLOW_GGUF_UINT32);
    put_u32(&b, 32);
    put_str(&b, "a.weight");
    L->t0_ndims = b.n;
    put_u32(&b, 2);
    L->t0_ne0 = b.n;
    put_u64(&b, 4);
    put_u64(&b, 2);
    L->t0_type = b.n;
    put_u32(&b, HFLOW_TYPE_F32);
    L->t0_offset = b.n;
    put_u64(&b, 0);
    put_str(&b, "b.weight");
    put_u32(&b, 1);
    put_u64(&b, 4);
    put_u32(&b, HFLOW_TYPE_F32);
    L->t1_offset = b.n;
    put_u64(&b, 32);
    while (b.n % 32) put(&b, "\0", 1);
    L->data = b.n;
    for (int i = 0; i < 8; i++) { float f = (float)i; put(&b, &f, 4); }
    for (int i = 0; i < 4; i++) { float f = 10.0f + (float)i; put(&b, &f, 4); }
    return b;
}

static int open_bytes(const bytes *b, hflow_error *err) {
    hflow_gguf *g = NULL;
    int rc = hflow_gguf_open_memory(b->p, b->n, &g, err);
    if (rc == 0) {
        assert_non_null(g);
        hflow_gguf_close(g);
    } else {
        assert_null(g);
        assert_true(err->message[0] != '\0');
    }
    return rc;
}

static void set_u32_at(bytes *b, size_t off, uint32_t v) { memcpy(b->p + off, &v, 4); }
static void set_u64_at(bytes *b, size_t off, uint64_t v) { memcpy(b->p + off, &v, 8); }

static void test_sample_parses(void **state) {
    (void)state;
    layout L;
    bytes b = make_sample(&L);
    hflow_gguf *g;
    hflow_error err;
    assert_int_equal(hflow_gguf_open_memory(b.p, b.n, &g, &err), 0);
    assert_int_equal(hflow_gguf_n_kv(g), 3);
    size_t len;
    const char *s;
    assert_int_equal(hflow_gguf_get_str(g, "general.name", &s, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(s, "tiny", 4);
    const hflow_gguf_value *v = hflow_gguf_get(g, "test.values");
    assert_non_null(v);
    assert_int_equal(v->arr_n, 3);
    assert_int_equal(hflow_gguf_arr_int(g, v, 2), 9);
    assert_int_equal(hflow_gguf_arr_int(g, v, 3), 0); /* out of range reads as 0 */
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, "b.weight");
    assert_non_null(t);
    assert_int_equal(t->size, 16);
    float f;
    memcpy(&f, (const uint8_t *)t->data + 4, 4);
    assert_true(f == 11.0f);
    assert_null(hflow_gguf_find_tensor(g, "nope"));
    int64_t iv;
    assert_int_equal(hflow_gguf_get_int(g, "missing", &iv), HFLOW_ENOTFOUND);
    assert_int_equal(hflow_gguf_get_int(g, "general.name", &iv), HFLOW_EFORMAT);
    hflow_gguf_close(g);
    free(b.p);
}

static void test_every_truncation_fails_cleanly(void **state) {
    (void)state;
    layout L;
    bytes b = make_sample(&L);
    size_t full = b.n;
    /* every cut inside the header and the tensor data must be refused */
    for (size_t cut = 0; cut < full; cut++) {
        bytes t = {malloc(cut ? cut : 1), cut, cut};
        memcpy(t.p, b.p, cut);
        hflow_error err;
        int rc = open_bytes(&t, &err);
        if (rc == 0) fail_msg("truncation at %zu of %zu was accepted", cut, full);
        assert_int_equal(rc, HFLOW_EFORMAT);
        free(t.p);
    }
    free(b.p);
}

typedef struct {
    const char *name;
    void (*mutate)(bytes *b, const layout *L);
    const char *expect; /* substring of the error message */
} corruption;

static void m_magic(bytes *b, const layout *L) { (void)L; b->p[0] = 'X'; }
static void m_version1(bytes *b, const layout *L) { set_u32_at(b, L->version, 1); }
static void m_version9(bytes *b, const layout *L) { set_u32_at(b, L->version, 9); }
static void m_nkv_huge(bytes *b, const layout *L) { set_u64_at(b, L->n_kv, UINT64_MAX / 2); }
static void m_ntensors_huge(bytes *b, const layout *L) { set_u64_at(b, L->n_tensors, 1ull << 40); }
static void m_nkv_more(bytes *b, const layout *L) { set_u64_at(b, L->n_kv, 4); }
static void m_strlen_huge(bytes *b, const layout *L) { set_u64_at(b, L->str_len, UINT64_MAX - 3); }
static void m_arr_huge(bytes *b, const layout *L) { set_u64_at(b, L->arr_count, 1ull << 61); }
static void m_arr_type(bytes *b, const layout *L) { set_u32_at(b, L->arr_type, 77); }
static void m_value_type(bytes *b, const layout *L) { set_u32_at(b, L->kv2_type, 13); }
static void m_align_type(bytes *b, const layout *L) { set_u32_at(b, L->kv2_type, HFLOW_GGUF_INT32); }
static void m_align_value(bytes *b, const layout *L) { set_u32_at(b, L->kv2_type + 4, 24); }
static void m_ndims0(bytes *b, const layout *L) { set_u32_at(b, L->t0_ndims, 0); }
static void m_ndims5(bytes *b, const layout *L) { set_u32_at(b, L->t0_ndims, 5); }
static void m_dim_huge(bytes *b, const layout *L) { set_u64_at(b, L->t0_ne0, 1ull << 62); }
static void m_dim_big(bytes *b, const layout *L) { set_u64_at(b, L->t0_ne0, 1ull << 30); }
static void m_type_unknown(bytes *b, const layout *L) { set_u32_at(b, L->t0_type, 4); }
static void m_type_block(bytes *b, const layout *L) { set_u32_at(b, L->t0_type, HFLOW_TYPE_Q8_0); }
static void m_offset_misaligned(bytes *b, const layout *L) { set_u64_at(b, L->t1_offset, 36); }
static void m_offset_past_end(bytes *b, const layout *L) { set_u64_at(b, L->t1_offset, 1u << 20); }
static void m_offset_overflow(bytes *b, const layout *L) { set_u64_at(b, L->t1_offset, UINT64_MAX - 31); }
static void m_overlap(bytes *b, const layout *L) { set_u64_at(b, L->t1_offset, 0); }
static void m_dup_key(bytes *b, const layout *L) {
    (void)L; /* rename "test.values" to "general.name" is longer; reuse: make key 2 equal key 1 by editing bytes */
    uint8_t *p = memmem(b->p, b->n, "general.alignment", 17);
    assert_non_null(p);
    memcpy(p, "general.name\0\0\0\0\0", 17); /* NUL inside key */
}
static void m_dup_tensor(bytes *b, const layout *L) {
    (void)L;
    uint8_t *p = memmem(b->p, b->n, "b.weight", 8);
    assert_non_null(p);
    p[0] = 'a';
}
static void m_bool_value(bytes *b, const layout *L) {
    set_u32_at(b, L->kv2_type, HFLOW_GGUF_BOOL);
    b->p[L->kv2_type + 4] = 7;
}

static void test_corruptions_are_named(void **state) {
    (void)state;
    static const corruption cases[] = {
        {"bad magic", m_magic, "not a GGUF file"},
        {"version 1", m_version1, "unsupported GGUF version 1"},
        {"version 9", m_version9, "unsupported GGUF version 9"},
        {"huge kv count", m_nkv_huge, "metadata count"},
        {"huge tensor count", m_ntensors_huge, "tensor count"},
        {"kv count one too many", m_nkv_more, ""},
        {"huge string length", m_strlen_huge, "truncated"},
        {"huge array count", m_arr_huge, "exceeds the file"},
        {"unknown array type", m_arr_type, "unknown array element type 77"},
        {"unknown value type", m_value_type, "unknown metadata value type 13"},
        {"alignment wrong type", m_align_type, "general.alignment has type"},
        {"alignment not power of two", m_align_value, "not a power of two"},
        {"zero dims", m_ndims0, "0 dimensions"},
        {"five dims", m_ndims5, "5 dimensions"},
        {"dimension overflow", m_dim_huge, "overflow"},
        {"dimension past file", m_dim_big, "extends past the end"},
        {"unknown tensor type", m_type_unknown, "unknown type id 4"},
        {"row not multiple of block", m_type_block, "block size"},
        {"misaligned offset", m_offset_misaligned, "not aligned"},
        {"offset past end", m_offset_past_end, "extends past the end"},
        {"offset overflow", m_offset_overflow, "extends past the end"},
        {"overlapping tensors", m_overlap, "overlap"},
        {"NUL in key", m_dup_key, "NUL"},
        {"duplicate tensor", m_dup_tensor, "duplicate tensor name"},
        {"bool out of range", m_bool_value, "not 0 or 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        layout L;
        bytes b = make_sample(&L);
        cases[i].mutate(&b, &L);
        hflow_error err;
        hflow_error_clear(&err);
        int rc = open_bytes(&b, &err);
        if (rc == 0) fail_msg("corruption '%s' was accepted", cases[i].name);
        if (!strstr(err.message, cases[i].expect))
            fail_msg("corruption '%s': message '%s' lacks '%s'", cases[i].name, err.message, cases[i].expect);
        free(b.p);
    }
}

/* Deterministic random mutations: the reader must never crash or read out of
 * bounds (ASan/UBSan builds check the latter). */
static void test_random_mutations(void **state) {
    (void)state;
    layout L;
    bytes ref = make_sample(&L);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int accepted = 0;
    for (int iter = 0; iter < 4000; iter++) {
        bytes b = {malloc(ref.n), ref.n, ref.n};
        memcpy(b.p, ref.p, ref.n);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            size_t pos = (size_t)(rng % L.data); /* mutate the header */
            b.p[pos] = (uint8_t)(rng >> 32);
        }
        hflow_error err;
        if (open_bytes(&b, &err) == 0) accepted++;
        free(b.p);
    }
    /* some mutations (e.g. inside string contents) stay valid; most must not */
    assert_true(accepted < 4000);
    free(ref.p);
}

static void test_writer_round_trip(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/roundtrip.gguf", tu_tmpdir());
    hflow_gguf_writer *w = hflow_gguf_writer_create();
    assert_non_null(w);
    assert_int_equal(hflow_gguf_set_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(hflow_gguf_set_u32(w, "llama.block_count", 2), 0);
    assert_int_equal(hflow_gguf_set_f32(w, "llama.eps", 1e-5f), 0);
    assert_int_equal(hflow_gguf_set_bool(w, "flag", 1), 0);
    assert_int_equal(hflow_gguf_set_u32(w, "llama.block_count", 3), 0); /* replaces */
    const char *strs[] = {"<unk>", "▁a", ""};
    assert_int_equal(hflow_gguf_set_arr_str(w, "tokens", strs, NULL, 3), 0);
    float scores[] = {0.5f, -1.0f, 2.0f};
    assert_int_equal(hflow_gguf_set_arr(w, "scores", HFLOW_GGUF_FLOAT32, scores, 3), 0);
    float data[64];
    for (int i = 0; i < 64; i++) data[i] = (float)i * 0.5f;
    int64_t ne[2] = {16, 4};
    hflow_error err;
    assert_int_equal(hflow_gguf_add_tensor(w, "w", HFLOW_TYPE_F32, 2, ne, data, sizeof data, &err), 0);
    assert_int_equal(hflow_gguf_add_tensor(w, "v", HFLOW_TYPE_F32, 1, ne, data, 16 * 4, &err), 0);
    assert_int_equal(hflow_gguf_add_tensor(w, "bad", HFLOW_TYPE_F32, 1, ne, data, 12, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_gguf_add_tensor(w, "w", HFLOW_TYPE_F32, 1, ne, data, 64, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_gguf_writer_write(w, path, &err), 0);
    hflow_gguf_writer_free(w);

    hflow_gguf *g;
    assert_int_equal(hflow_gguf_open(path, &g, &err), 0);
    int64_t iv;
    double fv;
    int bv;
    assert_int_equal(hflow_gguf_get_int(g, "llama.block_count", &iv), 0);
    assert_int_equal(iv, 3);
    assert_int_equal(hflow_gguf_get_float(g, "llama.eps", &fv), 0);
    assert_float_equal(fv, 1e-5, 1e-12);
    assert_int_equal(hflow_gguf_get_bool(g, "flag", &bv), 0);
    assert_int_equal(bv, 1);
    const hflow_gguf_value *tv = hflow_gguf_get(g, "tokens");
    size_t len;
    const char *s = hflow_gguf_arr_str(g, tv, 1, &len);
    assert_int_equal(len, strlen("▁a"));
    assert_memory_equal(s, "▁a", len);
    assert_non_null(hflow_gguf_arr_str(g, tv, 2, &len));
    assert_int_equal(len, 0);
    assert_float_equal(hflow_gguf_arr_float(g, hflow_gguf_get(g, "scores"), 2), 2.0, 0);
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, "w");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 16);
    assert_int_equal(t->ne[1], 4);
    assert_memory_equal(t->data, data, sizeof data);
    assert_int_equal((uintptr_t)t->data % 32, 0);

    /* copy_kv reproduces values byte for byte (nested arrays included) */
    hflow_gguf_writer *w2 = hflow_gguf_writer_create();
    assert_int_equal(hflow_gguf_copy_kv(w2, g, "tokens"), 0);
    assert_int_equal(hflow_gguf_copy_kv(w2, g, "nope"), HFLOW_ENOTFOUND);
    char path2[512];
    snprintf(path2, sizeof path2, "%s/copy.gguf", tu_tmpdir());
    assert_int_equal(hflow_gguf_writer_write(w2, path2, &err), 0);
    hflow_gguf_writer_free(w2);
    hflow_gguf *g2;
    assert_int_equal(hflow_gguf_open(path2, &g2, &err), 0);
    s = hflow_gguf_arr_str(g2, hflow_gguf_get(g2, "tokens"), 1, &len);
    assert_memory_equal(s, "▁a", len);
    hflow_gguf_close(g2);
    hflow_gguf_close(g);
    remove(path);
    remove(path2);
}

static void test_nested_arrays(void **state) {
    (void)state;
    bytes b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 2);
    put_u64(&b, 0);
    put_u64(&b, 1);
    put_str(&b, "nested");
    put_u32(&b, HFLOW_GGUF_ARRAY);
    put_u32(&b, HFLOW_GGUF_ARRAY); /* array of 2 arrays */
    put_u64(&b, 2);
    put_u32(&b, HFLOW_GGUF_STRING);
    put_u64(&b, 2);
    put_str(&b, "x");
    put_str(&b, "yz");
    put_u32(&b, HFLOW_GGUF_INT16);
    put_u64(&b, 3);
    int16_t v[3] = {-1, 2, -3};
    put(&b, v, 6);
    hflow_gguf *g;
    hflow_error err;
    assert_int_equal(hflow_gguf_open_memory(b.p, b.n, &g, &err), 0);
    const hflow_gguf_value *outer = hflow_gguf_get(g, "nested");
    hflow_gguf_value inner;
    assert_int_equal(hflow_gguf_arr_value(g, outer, 0, &inner), 0);
    size_t len;
    const char *s = hflow_gguf_arr_str(g, &inner, 1, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "yz", 2);
    assert_int_equal(hflow_gguf_arr_value(g, outer, 1, &inner), 0);
    assert_int_equal(hflow_gguf_arr_int(g, &inner, 2), -3);
    assert_int_equal(hflow_gguf_arr_value(g, outer, 2, &inner), HFLOW_ERANGE);
    hflow_gguf_close(g);
    free(b.p);
}

static void test_real_model_metadata(void **state) {
    (void)state;
    char path[4096];
    const char *p = tu_shared_path(path, sizeof path, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(p, "models/stories260K.gguf");
    hflow_gguf *g;
    hflow_error err;
    assert_int_equal(hflow_gguf_open(p, &g, &err), 0);
    assert_int_equal(hflow_gguf_version(g), 3);
    int64_t n;
    assert_int_equal(hflow_gguf_get_int(g, "llama.block_count", &n), 0);
    assert_int_equal(n, 5);
    const hflow_gguf_value *tok = hflow_gguf_get(g, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_n, 512);
    size_t len;
    const char *s = hflow_gguf_arr_str(g, tok, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "<s>", 3);
    assert_int_equal(hflow_gguf_n_tensors(g), 48);
    const hflow_gguf_tensor *t = hflow_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    /* the data points into the mapping, not a copy: it lies inside the file's span */
    assert_true((uintptr_t)t->data % hflow_gguf_alignment(g) == 0);
    hflow_gguf_close(g);

    /* every quantized reference file opens, with tensor types the table knows */
    const char *types[] = {"f32", "f16", "q8_0", "q4_0", "q4_k_m", "q6_k"};
    for (size_t i = 0; i < 6; i++) {
        char rel[128], buf[4096];
        snprintf(rel, sizeof rel, "testdata/ref-2L-256-%s.gguf", types[i]);
        const char *rp = tu_shared_path(buf, sizeof buf, rel);
        if (!rp) continue;
        assert_int_equal(hflow_gguf_open(rp, &g, &err), 0);
        for (int64_t k = 0; k < hflow_gguf_n_tensors(g); k++)
            assert_non_null(hflow_type_traits_get(hflow_gguf_tensor_at(g, k)->type));
        hflow_gguf_close(g);
    }
}

static void test_open_errors(void **state) {
    (void)state;
    hflow_gguf *g = (hflow_gguf *)1;
    hflow_error err;
    assert_int_equal(hflow_gguf_open("/nonexistent/x.gguf", &g, &err), HFLOW_EIO);
    assert_null(g);
    assert_non_null(strstr(err.message, "/nonexistent/x.gguf"));
    assert_int_equal(hflow_gguf_open("/tmp", &g, &err), HFLOW_EIO);
    char path[512];
    snprintf(path, sizeof path, "%s/empty.gguf", tu_tmpdir());
    FILE *f = fopen(path, "wb");
    fclose(f);
    assert_int_equal(hflow_gguf_open(path, &g, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "empty"));
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_parses),
        cmocka_unit_test(test_every_truncation_fails_cleanly),
        cmocka_unit_test(test_corruptions_are_named),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_nested_arrays),
        cmocka_unit_test(test_real_model_metadata),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
