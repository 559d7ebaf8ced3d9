/* tokenize.c - hflow_tokenize: splits out special tokens, then hands each raw
 * fragment to the SentencePiece or byte-level BPE tokenizer, adding BOS/EOS
 * as the vocab says. Mirrors llama.cpp's llama_tokenize so token ids match. */
#include <stdlib.h>
#include <string.h>

#include "engine/vocab_internal.h"

void hflow_tokbuf_push(hflow_tokbuf *b, int32_t id) {
    if (b->oom)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *p = realloc(b->ids, cap * sizeof *p);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->ids = p;
        b->cap = cap;
    }
    b->ids[b->n++] = id;
}

typedef struct frag_list {
    hflow_fragment *v;
    size_t n, cap;
} frag_list;

static int frag_add(frag_list *l, int32_t token, size_t start, size_t len) {
    if (token < 0 && len == 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        hflow_fragment *p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return HFLOW_ENOMEM;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = (hflow_fragment){token, start, len};
    return 0;
}

/* Splits every raw fragment of *cur at each occurrence of token id. */
static int split_on(const hflow_vocab *v, const char *text, int32_t id, frag_list *cur, frag_list *tmp) {
    const char *tok = v->pool + v->off[id];
    size_t tl = v->len[id];
    tmp->n = 0;
    int rc = 0;
    for (size_t k = 0; !rc && k < cur->n; k++) {
        hflow_fragment f = cur->v[k];
        if (f.token >= 0) {
            rc = frag_add(tmp, f.token, 0, 0);
            continue;
        }
        size_t pos = f.start, end = f.start + f.len;
        const char *hit;
        while (!rc && end - pos >= tl && (hit = memmem(text + pos, end - pos, tok, tl))) {
            size_t at = (size_t)(hit - text);
            rc = frag_add(tmp, -1, pos, at - pos);
            if (!rc)
                rc = frag_add(tmp, id, 0, 0);
            pos = at + tl;
        }
        if (!rc)
            rc = frag_add(tmp, -1, pos, end - pos);
    }
    frag_list t = *cur;
    *cur = *tmp;
    *tmp = t;
    return rc;
}

static int contains_raw(const char *text, const frag_list *l, const char *tok, size_t tl) {
    for (size_t k = 0; k < l->n; k++)
        if (l->v[k].token < 0 && l->v[k].len >= tl && memmem(text + l->v[k].start, l->v[k].len, tok, tl))
            return 1;
    return 0;
}

int hflow_vocab_partition(const hflow_vocab *v, const char *text, size_t len, int parse_special,
                          hflow_fragment **out, size_t *n_out) {
    frag_list cur = {0}, tmp = {0};
    int rc = frag_add(&cur, -1, 0, len);
    for (int32_t s = 0; !rc && s < v->n_special; s++) {
        int32_t id = v->special[s];
        uint8_t t = v->types[id];
        if (!parse_special && (t == HFLOW_TOKEN_CONTROL || t == HFLOW_TOKEN_UNKNOWN))
            continue;
        if (contains_raw(text, &cur, v->pool + v->off[id], v->len[id]))
            rc = split_on(v, text, id, &cur, &tmp);
    }
    free(tmp.v);
    if (rc) {
        free(cur.v);
        return rc;
    }
    *out = cur.v;
    *n_out = cur.n;
    return 0;
}

int hflow_tokenize(const hflow_vocab *v, const char *text, size_t len, int add_special, int parse_special,
                   int32_t **out, int *n_out, hflow_error *err) {
    if (!v || !out || !n_out || (!text && len))
        return hflow_error_set(err, HFLOW_EINVAL, "tokenize: NULL argument");
    if (len > (size_t)1 << 30)
        return hflow_error_set(err, HFLOW_ERANGE, "tokenize: text of %zu bytes is too long", len);
    hflow_fragment *frags = NULL;
    size_t n_frags = 0;
    hflow_tokbuf buf = {0};
    int rc = hflow_vocab_partition(v, text ? text : "", len, parse_special, &frags, &n_frags);
    if (!rc && add_special && v->add_bos)
        hflow_tokbuf_push(&buf, v->bos);
    int prev_special = 1; /* SentencePiece prefixes a space at the start and after a special token */
    for (size_t k = 0; !rc && k < n_frags; k++) {
        const hflow_fragment *f = &frags[k];
        if (f->token >= 0) {
            hflow_tokbuf_push(&buf, f->token);
            prev_special = 1;
        } else if (v->kind == HFLOW_VOCAB_SPM) {
            rc = hflow_spm_tokenize(v, text + f->start, f->len, v->add_space_prefix && prev_special, &buf);
            prev_special = 0;
        } else {
            rc = hflow_bpe_tokenize(v, text + f->start, f->len, &buf);
        }
    }
    if (!rc && add_special && v->add_eos)
        hflow_tokbuf_push(&buf, v->eos);
    free(frags);
    if (!rc && (buf.oom || buf.n > INT32_MAX))
        rc = HFLOW_ENOMEM;
    if (rc) {
        free(buf.ids);
        return hflow_error_set(err, rc, "tokenize: %s", rc == HFLOW_ENOMEM ? "out of memory" : "failed");
    }
    *out = buf.ids ? buf.ids : malloc(sizeof(int32_t));
    if (!*out)
        return hflow_error_set(err, HFLOW_ENOMEM, "tokenize: out of memory");
    *n_out = (int)buf.n;
    return 0;
}
