/* vocab_load.c - hflow_vocab_load: reads tokenizer.ggml.* from a GGUF file
 * into an hflow_vocab_spec, checking every type and length, then builds it.
 * Token strings are handed to the builder as (pointer, length) views into
 * the mapping; the builder copies them, so the vocab outlives the file. */
#include <stdlib.h>
#include <string.h>

#include "engine/vocab_internal.h"

#define KEY(name) "tokenizer.ggml." name

static int str_array(const hflow_gguf *g, const char *key, int required, const hflow_gguf_value **out,
                     hflow_error *err) {
    const hflow_gguf_value *a = hflow_gguf_get(g, key);
    *out = NULL;
    if (!a)
        return required ? hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s missing", key) : 0;
    if (a->type != HFLOW_GGUF_ARRAY || a->arr_type != HFLOW_GGUF_STRING)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s is not an array of strings", key);
    *out = a;
    return 0;
}

/* An optional numeric array that must have exactly n elements. */
static int num_array(const hflow_gguf *g, const char *key, int64_t n, int want_int, const hflow_gguf_value **out,
                     hflow_error *err) {
    const hflow_gguf_value *a = hflow_gguf_get(g, key);
    *out = NULL;
    if (!a)
        return 0;
    int ok = a->type == HFLOW_GGUF_ARRAY &&
             (want_int ? a->arr_type <= HFLOW_GGUF_INT32 || a->arr_type == HFLOW_GGUF_UINT64 ||
                             a->arr_type == HFLOW_GGUF_INT64
                       : a->arr_type == HFLOW_GGUF_FLOAT32 || a->arr_type == HFLOW_GGUF_FLOAT64);
    if (!ok)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s has the wrong element type", key);
    if ((int64_t)a->arr_n != n)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s has %llu entries but there are %lld tokens", key,
                               (unsigned long long)a->arr_n, (long long)n);
    *out = a;
    return 0;
}

/* Special id keys: absent -> default; -1 / 0xFFFFFFFF -> none; else range-checked by the builder. */
static int special_id(const hflow_gguf *g, const char *key, int32_t n, int32_t *out, hflow_error *err) {
    int64_t v;
    *out = HFLOW_VOCAB_ID_DEFAULT;
    if (hflow_gguf_get_int(g, key, &v) != 0)
        return hflow_gguf_find_key(g, key) >= 0
                   ? hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s is not an integer", key)
                   : 0;
    if (v == -1 || v == 0xFFFFFFFFll) {
        *out = -1;
        return 0;
    }
    if (v < 0 || v >= n)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s = %lld is out of range [0, %d)", key, (long long)v,
                               (int)n);
    *out = (int32_t)v;
    return 0;
}

static int flag(const hflow_gguf *g, const char *key) {
    int b;
    return hflow_gguf_get_bool(g, key, &b) == 0 ? !!b : HFLOW_VOCAB_FLAG_DEFAULT;
}

typedef struct load_bufs {
    const char **tokens;
    size_t *token_lens;
    float *scores;
    int32_t *types;
    const char **merges;
    size_t *merge_lens;
    char *pre;
} load_bufs;

static void free_bufs(load_bufs *b) {
    free(b->tokens);
    free(b->token_lens);
    free(b->scores);
    free(b->types);
    free(b->merges);
    free(b->merge_lens);
    free(b->pre);
}

static int read_kind(const hflow_gguf *g, hflow_vocab_spec *s, load_bufs *b, hflow_error *err) {
    const char *model, *pre;
    size_t ml, pl;
    if (hflow_gguf_get_str(g, KEY("model"), &model, &ml) != 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: " KEY("model") " missing (no tokenizer in this file)");
    if (ml == 5 && memcmp(model, "llama", 5) == 0)
        s->kind = HFLOW_VOCAB_SPM;
    else if (ml == 4 && memcmp(model, "gpt2", 4) == 0)
        s->kind = HFLOW_VOCAB_BPE;
    else
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "vocab: unsupported tokenizer model \"%.*s\"",
                               (int)(ml > 64 ? 64 : ml), model);
    if (hflow_gguf_get_str(g, KEY("pre"), &pre, &pl) == 0) {
        b->pre = malloc(pl + 1);
        if (!b->pre)
            return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
        memcpy(b->pre, pre, pl);
        b->pre[pl] = '\0';
        s->pre = b->pre;
    }
    return 0;
}

static int read_tokens(const hflow_gguf *g, hflow_vocab_spec *s, load_bufs *b, hflow_error *err) {
    const hflow_gguf_value *toks, *scores, *types;
    int rc = str_array(g, KEY("tokens"), 1, &toks, err);
    if (rc)
        return rc;
    if (toks->arr_n == 0 || toks->arr_n > INT32_MAX)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: %llu tokens", (unsigned long long)toks->arr_n);
    int64_t n = (int64_t)toks->arr_n;
    if ((rc = num_array(g, KEY("scores"), n, 0, &scores, err)) || (rc = num_array(g, KEY("token_type"), n, 1, &types, err)))
        return rc;
    b->tokens = malloc(sizeof *b->tokens * (size_t)n);
    b->token_lens = malloc(sizeof *b->token_lens * (size_t)n);
    b->scores = scores ? malloc(sizeof *b->scores * (size_t)n) : NULL;
    b->types = types ? malloc(sizeof *b->types * (size_t)n) : NULL;
    if (!b->tokens || !b->token_lens || (scores && !b->scores) || (types && !b->types))
        return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
    for (int64_t i = 0; i < n; i++) {
        b->tokens[i] = hflow_gguf_arr_str(g, toks, (uint64_t)i, &b->token_lens[i]);
        if (!b->tokens[i])
            return hflow_error_set(err, HFLOW_EFORMAT, "vocab: token %lld unreadable", (long long)i);
        if (scores)
            b->scores[i] = (float)hflow_gguf_arr_float(g, scores, (uint64_t)i);
        if (types) {
            int64_t t = hflow_gguf_arr_int(g, types, (uint64_t)i);
            b->types[i] = t < 0 || t > 1000 ? -1 : (int32_t)t; /* the builder reports bad types */
        }
    }
    s->n_tokens = (int32_t)n;
    s->tokens = b->tokens;
    s->token_lens = b->token_lens;
    s->scores = b->scores;
    s->types = b->types;
    return 0;
}

static int read_merges(const hflow_gguf *g, hflow_vocab_spec *s, load_bufs *b, hflow_error *err) {
    const hflow_gguf_value *m;
    int rc = str_array(g, KEY("merges"), 0, &m, err);
    if (rc || !m)
        return rc;
    if (m->arr_n > INT32_MAX)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: too many merges");
    b->merges = malloc(sizeof *b->merges * (size_t)(m->arr_n + 1));
    b->merge_lens = malloc(sizeof *b->merge_lens * (size_t)(m->arr_n + 1));
    if (!b->merges || !b->merge_lens)
        return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
    for (uint64_t i = 0; i < m->arr_n; i++) {
        b->merges[i] = hflow_gguf_arr_str(g, m, i, &b->merge_lens[i]);
        if (!b->merges[i])
            return hflow_error_set(err, HFLOW_EFORMAT, "vocab: merge %llu unreadable", (unsigned long long)i);
    }
    s->n_merges = (int64_t)m->arr_n;
    s->merges = b->merges;
    s->merge_lens = b->merge_lens;
    return 0;
}

int hflow_vocab_load(const hflow_gguf *g, hflow_vocab **out, hflow_error *err) {
    if (!g || !out)
        return hflow_error_set(err, HFLOW_EINVAL, "vocab: NULL argument");
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    load_bufs b = {0};
    int rc = read_kind(g, &s, &b, err);
    if (!rc)
        rc = read_tokens(g, &s, &b, err);
    if (!rc && s.kind == HFLOW_VOCAB_BPE)
        rc = read_merges(g, &s, &b, err);
    if (!rc && s.kind == HFLOW_VOCAB_BPE && s.n_merges == 0)
        rc = hflow_error_set(err, HFLOW_EFORMAT, "vocab: gpt2 tokenizer without " KEY("merges"));
    int32_t n = s.n_tokens;
    static const char *const id_keys[6] = {KEY("bos_token_id"), KEY("eos_token_id"), KEY("eot_token_id"),
                                           KEY("eom_token_id"), KEY("unknown_token_id"), KEY("padding_token_id")};
    int32_t *id_dst[6] = {&s.bos, &s.eos, &s.eot, &s.eom, &s.unk, &s.pad};
    for (int k = 0; !rc && k < 6; k++)
        rc = special_id(g, id_keys[k], n, id_dst[k], err);
    if (!rc) {
        s.add_bos = flag(g, KEY("add_bos_token"));
        s.add_eos = flag(g, KEY("add_eos_token"));
        s.add_space_prefix = flag(g, KEY("add_space_prefix"));
        rc = hflow_vocab_build(&s, out, err);
    }
    free_bufs(&b);
    return rc;
}
