/* tokenize_spm.c - SentencePiece (BPE-by-score) tokenization compatible with
 * llama.cpp: spaces become U+2581, the text is split into UTF-8 characters,
 * and adjacent pairs whose concatenation is a token are merged, highest
 * score first. Pieces left without a token fall back to <0xXX> byte tokens,
 * then to the unknown token. Symbols are always contiguous byte ranges of the
 * escaped text, so a pair's text is just a longer range: no string building. */
#include <stdlib.h>
#include <string.h>

#include "engine/bigram_heap.h"
#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"

typedef struct spm_symbol {
    int32_t prev, next;
    uint32_t start, n; /* n == 0: merged away */
} spm_symbol;

/* Escaped text: optional leading space, every ' ' replaced by U+2581. */
static char *escape_spaces(const char *text, size_t len, int prefix_space, size_t *out_len) {
    size_t spaces = (size_t)(prefix_space != 0);
    for (size_t i = 0; i < len; i++)
        spaces += text[i] == ' ';
    char *buf = malloc(len + 2 * spaces + 1);
    if (!buf)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len + (prefix_space != 0); i++) {
        char c = prefix_space ? (i == 0 ? ' ' : text[i - 1]) : text[i];
        if (c == ' ') {
            memcpy(buf + o, "\xE2\x96\x81", 3);
            o += 3;
        } else {
            buf[o++] = c;
        }
    }
    *out_len = o;
    return buf;
}

static int try_pair(const hflow_vocab *v, const char *s, spm_symbol *sym, int32_t l, int32_t r,
                    hflow_bigram_heap *heap) {
    if (l < 0 || r < 0)
        return 0;
    uint32_t size = sym[l].n + sym[r].n;
    int32_t id = hflow_strmap_get(&v->by_text, s + sym[l].start, size);
    if (id < 0)
        return 0;
    hflow_bigram bg = {v->scores[id], l, r, (int32_t)size, 0};
    return hflow_bigram_push(heap, bg);
}

static void emit_piece(const hflow_vocab *v, const char *s, const spm_symbol *sym, hflow_tokbuf *out) {
    int32_t id = hflow_strmap_get(&v->by_text, s + sym->start, sym->n);
    if (id >= 0) {
        hflow_tokbuf_push(out, id);
        return;
    }
    for (uint32_t i = 0; i < sym->n; i++) {
        unsigned char c = (unsigned char)s[sym->start + i];
        int32_t b = v->byte_id[c];
        if (b < 0) {
            char one = (char)c;
            b = hflow_strmap_get(&v->by_text, &one, 1);
        }
        if (b < 0)
            b = v->unk;
        if (b >= 0)
            hflow_tokbuf_push(out, b);
    }
}

int hflow_spm_tokenize(const hflow_vocab *v, const char *text, size_t len, int prefix_space, hflow_tokbuf *out) {
    size_t n_s = 0;
    char *s = escape_spaces(text, len, prefix_space, &n_s);
    spm_symbol *sym = malloc(sizeof *sym * (n_s ? n_s : 1));
    hflow_bigram_heap heap = {0};
    int rc = (s && sym) ? 0 : HFLOW_ENOMEM;
    int32_t n_sym = 0;
    for (size_t off = 0; !rc && off < n_s; n_sym++) {
        size_t cl = hflow_utf8_len((unsigned char)s[off]);
        if (cl > n_s - off)
            cl = n_s - off;
        sym[n_sym] = (spm_symbol){n_sym - 1, off + cl < n_s ? n_sym + 1 : -1, (uint32_t)off, (uint32_t)cl};
        off += cl;
    }
    for (int32_t i = 1; !rc && i < n_sym; i++)
        rc = try_pair(v, s, sym, i - 1, i, &heap);
    hflow_bigram bg;
    while (!rc && hflow_bigram_pop(&heap, &bg)) {
        spm_symbol *l = &sym[bg.left], *r = &sym[bg.right];
        /* Stale when either side changed since the pair was queued. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != (uint32_t)bg.a)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = bg.left;
        rc = try_pair(v, s, sym, l->prev, bg.left, &heap);
        if (!rc)
            rc = try_pair(v, s, sym, bg.left, l->next, &heap);
    }
    for (int32_t i = 0; !rc && n_sym > 0 && i != -1; i = sym[i].next)
        emit_piece(v, s, &sym[i], out);
    hflow_bigram_heap_free(&heap);
    free(sym);
    free(s);
    return rc ? rc : (out->oom ? HFLOW_ENOMEM : 0);
}
