/* tokenize_bpe.c - byte-level BPE (GPT-2 family). The text is cut into words
 * by the vocab's pre-tokenizer; each word starts as one symbol per byte (the
 * token of that byte's GPT-2 unicode stand-in) and adjacent symbols merge by
 * merge rank, lowest first. Symbols carry token ids, so a merge is one hash
 * lookup of the packed id pair, with no string building. */
#include <stdlib.h>
#include <string.h>

#include "engine/bigram_heap.h"
#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"

typedef struct bpe_symbol {
    int32_t prev, next;
    int32_t id; /* -1: byte without a token; merged-away symbols have alive == 0 */
    int32_t alive;
} bpe_symbol;

static int try_pair(const hflow_vocab *v, bpe_symbol *sym, int32_t l, int32_t r, hflow_bigram_heap *heap) {
    if (l < 0 || r < 0 || sym[l].id < 0 || sym[r].id < 0)
        return 0;
    char key[8];
    memcpy(key, &sym[l].id, 4);
    memcpy(key + 4, &sym[r].id, 4);
    int32_t rank = hflow_strmap_get(&v->by_pair, key, 8);
    if (rank < 0)
        return 0;
    hflow_bigram bg = {-(float)rank, l, r, sym[l].id, sym[r].id};
    return hflow_bigram_push(heap, bg);
}

/* The word re-spelled in GPT-2's byte-as-unicode alphabet (for whole-word lookups). */
static int32_t lookup_encoded_word(const hflow_vocab *v, const unsigned char *w, size_t n) {
    char *enc = malloc(2 * n + 1);
    if (!enc)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)hflow_utf8_encode(hflow_bpe_byte_to_cpt(w[i]), enc + o);
    int32_t id = hflow_strmap_get(&v->by_text, enc, o);
    free(enc);
    return id;
}

static int tokenize_word(const hflow_vocab *v, const unsigned char *w, size_t n, bpe_symbol *sym,
                         hflow_bigram_heap *heap, hflow_tokbuf *out) {
    if (v->ignore_merges) {
        int32_t id = lookup_encoded_word(v, w, n);
        if (id >= 0) {
            hflow_tokbuf_push(out, id);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        sym[i] = (bpe_symbol){(int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1, v->byte_id[w[i]], 1};
    heap->n = 0;
    int rc = 0;
    for (size_t i = 1; !rc && i < n; i++)
        rc = try_pair(v, sym, (int32_t)i - 1, (int32_t)i, heap);
    hflow_bigram bg;
    while (!rc && hflow_bigram_pop(heap, &bg)) {
        bpe_symbol *l = &sym[bg.left], *r = &sym[bg.right];
        /* Ids only grow into longer tokens, so unchanged ids mean an up-to-date pair. */
        if (!l->alive || !r->alive || l->id != bg.a || r->id != bg.b)
            continue;
        char key[8];
        memcpy(key, &l->id, 4);
        memcpy(key + 4, &r->id, 4);
        l->id = v->merge_result[hflow_strmap_get(&v->by_pair, key, 8)];
        r->alive = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = bg.left;
        rc = try_pair(v, sym, l->prev, bg.left, heap);
        if (!rc)
            rc = try_pair(v, sym, bg.left, l->next, heap);
    }
    for (int32_t i = 0; !rc && n > 0 && i != -1; i = sym[i].next) {
        int32_t id = sym[i].id >= 0 ? sym[i].id : v->unk; /* a byte with no token: unk or nothing */
        if (id >= 0)
            hflow_tokbuf_push(out, id);
    }
    return rc;
}

int hflow_bpe_tokenize(const hflow_vocab *v, const char *text, size_t len, hflow_tokbuf *out) {
    size_t *ranges = NULL, n_ranges = 0;
    int rc = hflow_pretokenize(v->pretok, text, len, &ranges, &n_ranges);
    if (rc)
        return rc;
    size_t longest = 1;
    for (size_t i = 0; i < n_ranges; i++)
        if (ranges[2 * i + 1] > longest)
            longest = ranges[2 * i + 1];
    bpe_symbol *sym = malloc(sizeof *sym * longest);
    hflow_bigram_heap heap = {0};
    rc = sym ? 0 : HFLOW_ENOMEM;
    for (size_t i = 0; !rc && i < n_ranges; i++)
        rc = tokenize_word(v, (const unsigned char *)text + ranges[2 * i], ranges[2 * i + 1], sym, &heap, out);
    hflow_bigram_heap_free(&heap);
    free(sym);
    free(ranges);
    return rc ? rc : (out->oom ? HFLOW_ENOMEM : 0);
}
