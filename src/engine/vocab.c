/* vocab.c - building, validating and querying an hflow_vocab. Both the GGUF
 * loader (vocab_load.c) and synthetic vocabs in tests go through
 * hflow_vocab_build, so validation lives in one place. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"

void hflow_vocab_spec_init(hflow_vocab_spec *s) {
    memset(s, 0, sizeof *s);
    s->bos = s->eos = s->eot = s->eom = s->unk = s->pad = HFLOW_VOCAB_ID_DEFAULT;
    s->add_bos = s->add_eos = s->add_space_prefix = HFLOW_VOCAB_FLAG_DEFAULT;
}

void hflow_vocab_free(hflow_vocab *v) {
    if (!v)
        return;
    free(v->pool);
    free(v->off);
    free(v->len);
    free(v->scores);
    free(v->types);
    hflow_strmap_free(&v->by_text);
    free(v->merge_pairs);
    free(v->merge_result);
    hflow_strmap_free(&v->by_pair);
    free(v->special);
    free(v->eog);
    free(v);
}

/* ---- GPT-2 byte <-> unicode ----
 * Printable bytes (33..126, 161..172, 174..255) stand for themselves; the 68
 * others are shifted to U+0100.. in byte order so every byte is visible. */
uint32_t hflow_bpe_byte_to_cpt(unsigned char b) {
    if (b <= 32)
        return 256u + b;
    if (b >= 127 && b <= 160)
        return 289u + (b - 127u);
    if (b == 173)
        return 323u;
    return b;
}

int hflow_bpe_cpt_to_byte(uint32_t cp) {
    if (cp < 256)
        return (cp <= 32 || (cp >= 127 && cp <= 160) || cp == 173) ? -1 : (int)cp;
    if (cp <= 288)
        return (int)(cp - 256);
    if (cp <= 322)
        return (int)(cp - 289 + 127);
    return cp == 323 ? 173 : -1;
}

/* ---- building ---- */

static size_t spec_token_len(const hflow_vocab_spec *s, int32_t i) {
    return s->token_lens ? s->token_lens[i] : strlen(s->tokens[i]);
}

static int copy_tokens(hflow_vocab *v, const hflow_vocab_spec *s, hflow_error *err) {
    size_t total = 0;
    for (int32_t i = 0; i < s->n_tokens; i++) {
        if (!s->tokens[i])
            return hflow_error_set(err, HFLOW_EFORMAT, "vocab: token %d has no text", (int)i);
        total += spec_token_len(s, i) + 1;
        if (total > UINT32_MAX)
            return hflow_error_set(err, HFLOW_EFORMAT, "vocab: token texts exceed 4 GiB");
    }
    v->pool = malloc(total ? total : 1);
    v->off = malloc(sizeof *v->off * (size_t)s->n_tokens);
    v->len = malloc(sizeof *v->len * (size_t)s->n_tokens);
    v->scores = calloc((size_t)s->n_tokens, sizeof *v->scores);
    v->types = malloc((size_t)s->n_tokens);
    if (!v->pool || !v->off || !v->len || !v->scores || !v->types ||
        hflow_strmap_init(&v->by_text, (size_t)s->n_tokens) != 0)
        return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
    size_t pos = 0;
    for (int32_t i = 0; i < s->n_tokens; i++) {
        size_t l = spec_token_len(s, i);
        memcpy(v->pool + pos, s->tokens[i], l);
        v->pool[pos + l] = '\0';
        v->off[i] = (uint32_t)pos;
        v->len[i] = (uint32_t)l;
        pos += l + 1;
        int32_t t = s->types ? s->types[i] : HFLOW_TOKEN_NORMAL;
        if (t < HFLOW_TOKEN_UNDEFINED || t > HFLOW_TOKEN_BYTE)
            return hflow_error_set(err, HFLOW_EFORMAT, "vocab: token %d has invalid type %d", (int)i, (int)t);
        v->types[i] = (uint8_t)t;
        if (s->scores) {
            if (isnan(s->scores[i]))
                return hflow_error_set(err, HFLOW_EFORMAT, "vocab: token %d has a NaN score", (int)i);
            v->scores[i] = s->scores[i];
        }
    }
    /* Inserted after all copies so keys point into the final pool. */
    for (int32_t i = 0; i < s->n_tokens; i++)
        hflow_strmap_put(&v->by_text, v->pool + v->off[i], v->len[i], i);
    return 0;
}

static void pack_pair(char key[8], int32_t a, int32_t b) {
    memcpy(key, &a, 4);
    memcpy(key + 4, &b, 4);
}

/* Parses "left right" merges into id pairs. A merge whose parts or result are
 * not tokens can never fire on id-based symbols (Hugging Face refuses such
 * files); it is dropped but still counted in the fingerprint. */
static int build_merges(hflow_vocab *v, const hflow_vocab_spec *s, hflow_error *err) {
    v->merges_hash = hflow_fnv1a(HFLOW_FNV_OFFSET, &s->n_merges, sizeof s->n_merges);
    if (s->n_merges <= 0)
        return 0;
    if (!s->merges)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: merges missing");
    v->merge_pairs = malloc(sizeof(int32_t) * 2 * (size_t)s->n_merges);
    v->merge_result = malloc(sizeof(int32_t) * (size_t)s->n_merges);
    if (!v->merge_pairs || !v->merge_result || hflow_strmap_init(&v->by_pair, (size_t)s->n_merges) != 0)
        return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
    char *tmp = NULL;
    size_t tmp_cap = 0;
    for (int64_t i = 0; i < s->n_merges; i++) {
        const char *m = s->merges[i];
        size_t ml = m ? (s->merge_lens ? s->merge_lens[i] : strlen(m)) : 0;
        const char *sp = ml > 1 ? memchr(m + 1, ' ', ml - 1) : NULL;
        if (!sp) {
            free(tmp);
            return hflow_error_set(err, HFLOW_EFORMAT, "vocab: merge %lld is not \"left right\"", (long long)i);
        }
        v->merges_hash = hflow_fnv1a(v->merges_hash, &ml, sizeof ml);
        v->merges_hash = hflow_fnv1a(v->merges_hash, m, ml);
        size_t ll = (size_t)(sp - m), rl = ml - ll - 1;
        if (ll + rl > tmp_cap) {
            tmp_cap = (ll + rl) * 2;
            char *nt = realloc(tmp, tmp_cap);
            if (!nt) {
                free(tmp);
                return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
            }
            tmp = nt;
        }
        memcpy(tmp, m, ll);
        memcpy(tmp + ll, sp + 1, rl);
        int32_t a = hflow_strmap_get(&v->by_text, m, ll);
        int32_t b = hflow_strmap_get(&v->by_text, sp + 1, rl);
        int32_t r = hflow_strmap_get(&v->by_text, tmp, ll + rl);
        if (a < 0 || b < 0 || r < 0)
            continue;
        int64_t rank = v->n_merges;
        v->merge_pairs[2 * rank] = a;
        v->merge_pairs[2 * rank + 1] = b;
        v->merge_result[rank] = r;
        char key[8];
        pack_pair(key, a, b);
        /* A repeated pair keeps its first (best) rank. */
        if (hflow_strmap_get(&v->by_pair, key, 8) >= 0)
            continue;
        hflow_strmap_put(&v->by_pair, (const char *)&v->merge_pairs[2 * rank], 8, (int32_t)rank);
        v->n_merges++;
    }
    free(tmp);
    return 0;
}

static int resolve_id(int32_t given, int32_t dflt, int32_t n, const char *what, int32_t *out, hflow_error *err) {
    int32_t id = given == HFLOW_VOCAB_ID_DEFAULT ? dflt : given;
    if (id == -1 || (id == HFLOW_VOCAB_ID_DEFAULT)) {
        *out = -1;
        return 0;
    }
    if (id < 0 || id >= n)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: %s token id %d out of range [0, %d)", what, (int)id,
                               (int)n);
    *out = id;
    return 0;
}

static int32_t find_cstr(const hflow_vocab *v, const char *s) {
    return hflow_strmap_get(&v->by_text, s, strlen(s));
}

/* Default ids follow llama.cpp: SPM vocabs use <unk>=0, <s>=1, </s>=2 when
 * the file names none (only if those ids exist). */
static int resolve_specials(hflow_vocab *v, const hflow_vocab_spec *s, hflow_error *err) {
    int spm = v->kind == HFLOW_VOCAB_SPM;
    int32_t n = v->n;
    int rc = 0;
    if ((rc = resolve_id(s->bos, spm && n > 1 ? 1 : -1, n, "BOS", &v->bos, err)) ||
        (rc = resolve_id(s->eos, spm && n > 2 ? 2 : -1, n, "EOS", &v->eos, err)) ||
        (rc = resolve_id(s->eot, -1, n, "EOT", &v->eot, err)) ||
        (rc = resolve_id(s->eom, -1, n, "EOM", &v->eom, err)) ||
        (rc = resolve_id(s->unk, spm ? 0 : -1, n, "unknown", &v->unk, err)) ||
        (rc = resolve_id(s->pad, -1, n, "padding", &v->pad, err)))
        return rc;
    /* Chat models often name their end-of-turn token only by its text. */
    static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<EOT>", NULL};
    for (int i = 0; v->eot < 0 && eot_names[i]; i++) {
        int32_t id = find_cstr(v, eot_names[i]);
        if (id >= 0 && (v->types[id] == HFLOW_TOKEN_CONTROL || v->types[id] == HFLOW_TOKEN_USER_DEFINED))
            v->eot = id;
    }
    v->add_bos = s->add_bos != HFLOW_VOCAB_FLAG_DEFAULT ? !!s->add_bos
                 : spm ? 1
                       : v->pretok == HFLOW_PRETOK_LLAMA3;
    v->add_eos = s->add_eos != HFLOW_VOCAB_FLAG_DEFAULT ? !!s->add_eos : 0;
    v->add_space_prefix = s->add_space_prefix != HFLOW_VOCAB_FLAG_DEFAULT ? !!s->add_space_prefix : spm;
    v->ignore_merges = v->pretok == HFLOW_PRETOK_LLAMA3;
    /* Defaults give way when the token is missing; an explicit flag must be honoured. */
    if (s->add_bos == HFLOW_VOCAB_FLAG_DEFAULT && v->bos < 0)
        v->add_bos = 0;
    if (v->add_bos && v->bos < 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: add_bos_token is set but there is no BOS token");
    if (v->add_eos && v->eos < 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: add_eos_token is set but there is no EOS token");
    return 0;
}

static int add_eog(hflow_vocab *v, int32_t id) {
    if (id < 0)
        return 0;
    for (int32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id)
            return 0;
    v->eog[v->n_eog++] = id;
    return 0;
}

static int build_eog(hflow_vocab *v) {
    static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                        "<|end_of_text|>", "<|eom_id|>", "<EOT>", NULL};
    v->eog = malloc(sizeof *v->eog * 16);
    if (!v->eog)
        return HFLOW_ENOMEM;
    add_eog(v, v->eos);
    add_eog(v, v->eot);
    add_eog(v, v->eom);
    for (int i = 0; names[i]; i++) {
        int32_t id = find_cstr(v, names[i]);
        if (id >= 0 && (v->types[id] == HFLOW_TOKEN_CONTROL || v->types[id] == HFLOW_TOKEN_USER_DEFINED))
            add_eog(v, id);
    }
    return 0;
}

typedef struct special_key {
    uint32_t len;
    int32_t id;
} special_key;

/* Longest first, ties by id, so the order is deterministic. */
static int cmp_special(const void *pa, const void *pb) {
    const special_key *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int is_special_type(uint8_t t) {
    return t == HFLOW_TOKEN_CONTROL || t == HFLOW_TOKEN_USER_DEFINED || t == HFLOW_TOKEN_UNKNOWN;
}

static int build_special(hflow_vocab *v) {
    special_key *keys = malloc(sizeof *keys * (size_t)v->n);
    v->special = malloc(sizeof *v->special * (size_t)v->n);
    if (!keys || !v->special) {
        free(keys);
        return HFLOW_ENOMEM;
    }
    for (int32_t i = 0; i < v->n; i++)
        if (is_special_type(v->types[i]) && v->len[i] > 0)
            keys[v->n_special++] = (special_key){v->len[i], i};
    qsort(keys, (size_t)v->n_special, sizeof *keys, cmp_special);
    for (int32_t i = 0; i < v->n_special; i++)
        v->special[i] = keys[i].id;
    free(keys);
    return 0;
}

static void build_byte_ids(hflow_vocab *v) {
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int n;
        if (v->kind == HFLOW_VOCAB_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            memcpy(buf, "<0x", 3);
            buf[3] = hex[b >> 4];
            buf[4] = hex[b & 15];
            buf[5] = '>';
            n = 6;
        } else {
            n = hflow_utf8_encode(hflow_bpe_byte_to_cpt((unsigned char)b), buf);
        }
        v->byte_id[b] = hflow_strmap_get(&v->by_text, buf, (size_t)n);
    }
}

static uint64_t compute_fingerprint(const hflow_vocab *v) {
    uint64_t h = hflow_fnv1a(HFLOW_FNV_OFFSET, &v->kind, sizeof v->kind);
    h = hflow_fnv1a(h, &v->n, sizeof v->n);
    for (int32_t i = 0; i < v->n; i++) {
        uint32_t score_bits;
        memcpy(&score_bits, &v->scores[i], 4);
        h = hflow_fnv1a(h, &v->len[i], sizeof v->len[i]);
        h = hflow_fnv1a(h, v->pool + v->off[i], v->len[i]);
        h = hflow_fnv1a(h, &score_bits, 4);
        h = hflow_fnv1a(h, &v->types[i], 1);
    }
    h = hflow_fnv1a(h, &v->merges_hash, sizeof v->merges_hash);
    int32_t ids[6] = {v->bos, v->eos, v->eot, v->eom, v->unk, v->pad};
    return hflow_fnv1a(h, ids, sizeof ids);
}

int hflow_vocab_build(const hflow_vocab_spec *s, hflow_vocab **out, hflow_error *err) {
    if (!s || !out)
        return hflow_error_set(err, HFLOW_EINVAL, "vocab: NULL argument");
    if (s->kind != HFLOW_VOCAB_SPM && s->kind != HFLOW_VOCAB_BPE)
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "vocab: unsupported tokenizer kind %d", s->kind);
    if (s->n_tokens <= 0 || !s->tokens)
        return hflow_error_set(err, HFLOW_EFORMAT, "vocab: no tokens");
    hflow_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
    v->kind = s->kind;
    v->n = s->n_tokens;
    v->pretok = HFLOW_PRETOK_DEFAULT;
    if (s->kind == HFLOW_VOCAB_BPE && s->pre && *s->pre) {
        v->pretok = hflow_pretok_from_name(s->pre);
        if (v->pretok < 0) {
            hflow_vocab_free(v);
            return hflow_error_set(err, HFLOW_EUNSUPPORTED, "vocab: unsupported pre-tokenizer \"%s\"", s->pre);
        }
    }
    int rc = copy_tokens(v, s, err);
    if (!rc && s->kind == HFLOW_VOCAB_BPE)
        rc = build_merges(v, s, err);
    if (!rc)
        rc = resolve_specials(v, s, err);
    if (!rc && (build_eog(v) || build_special(v)))
        rc = hflow_error_set(err, HFLOW_ENOMEM, "vocab: out of memory");
    if (rc) {
        hflow_vocab_free(v);
        return rc;
    }
    build_byte_ids(v);
    v->fingerprint = compute_fingerprint(v);
    *out = v;
    return 0;
}

/* ---- queries ---- */
int hflow_vocab_kind(const hflow_vocab *v) { return v->kind; }
int32_t hflow_vocab_size(const hflow_vocab *v) { return v->n; }
int32_t hflow_vocab_bos(const hflow_vocab *v) { return v->bos; }
int32_t hflow_vocab_eos(const hflow_vocab *v) { return v->eos; }
int32_t hflow_vocab_eot(const hflow_vocab *v) { return v->eot; }
int32_t hflow_vocab_unk(const hflow_vocab *v) { return v->unk; }
int hflow_vocab_add_bos(const hflow_vocab *v) { return v->add_bos; }
int hflow_vocab_add_eos(const hflow_vocab *v) { return v->add_eos; }
uint64_t hflow_vocab_fingerprint(const hflow_vocab *v) { return v->fingerprint; }

int hflow_vocab_is_eog(const hflow_vocab *v, int32_t id) {
    for (int32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id)
            return 1;
    return 0;
}

int hflow_vocab_is_control(const hflow_vocab *v, int32_t id) {
    return id >= 0 && id < v->n && v->types[id] == HFLOW_TOKEN_CONTROL;
}

const char *hflow_vocab_text(const hflow_vocab *v, int32_t id) {
    return id >= 0 && id < v->n ? v->pool + v->off[id] : NULL;
}

int32_t hflow_vocab_find(const hflow_vocab *v, const char *text) {
    return text ? find_cstr(v, text) : -1;
}
