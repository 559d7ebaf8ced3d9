/* detok.c - token ids back to text: one piece (hflow_token_to_piece), a whole
 * sequence (hflow_detokenize) and a streaming decoder that never splits a
 * UTF-8 character across outputs (SentencePiece byte-fallback tokens and
 * byte-level BPE tokens routinely carry half a character). */
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"

static int copy_out(const char *s, int n, char *buf, int cap) {
    if (n <= cap && n > 0)
        memcpy(buf, s, (size_t)n);
    return n;
}

/* "▁" -> ' ' (SentencePiece's escaped space). */
static int spm_unescape(const char *t, int n, char *buf, int cap) {
    int o = 0;
    for (int i = 0; i < n;) {
        if (i + 2 < n && (unsigned char)t[i] == 0xE2 && (unsigned char)t[i + 1] == 0x96 &&
            (unsigned char)t[i + 2] == 0x81) {
            if (o < cap)
                buf[o] = ' ';
            o++, i += 3;
        } else {
            if (o < cap)
                buf[o] = t[i];
            o++, i++;
        }
    }
    return o;
}

/* GPT-2 unicode stand-ins -> raw bytes; other code points pass through. */
static int bpe_unmap(const char *t, int n, char *buf, int cap) {
    int o = 0;
    for (size_t i = 0; i < (size_t)n;) {
        size_t adv;
        uint32_t cp = hflow_utf8_decode((const unsigned char *)t + i, (size_t)n - i, &adv);
        int b = hflow_bpe_cpt_to_byte(cp);
        if (b >= 0) {
            if (o < cap)
                buf[o] = (char)b;
            o++;
        } else {
            for (size_t k = 0; k < adv; k++, o++)
                if (o < cap)
                    buf[o] = t[i + k];
        }
        i += adv;
    }
    return o;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int hflow_token_to_piece(const hflow_vocab *v, int32_t id, int render_special, char *buf, int n) {
    if (!v || id < 0 || id >= v->n)
        return HFLOW_ERANGE;
    if (n < 0 || (n > 0 && !buf))
        return HFLOW_EINVAL;
    const char *t = v->pool + v->off[id];
    int tl = (int)v->len[id];
    switch (v->types[id]) {
    case HFLOW_TOKEN_CONTROL:
    case HFLOW_TOKEN_UNKNOWN:
        return render_special ? copy_out(t, tl, buf, n) : 0;
    case HFLOW_TOKEN_USER_DEFINED:
        return copy_out(t, tl, buf, n);
    case HFLOW_TOKEN_BYTE:
        if (tl == 6 && memcmp(t, "<0x", 3) == 0 && t[5] == '>' && hex_digit(t[3]) >= 0 && hex_digit(t[4]) >= 0) {
            char b = (char)(hex_digit(t[3]) * 16 + hex_digit(t[4]));
            return copy_out(&b, 1, buf, n);
        }
        return copy_out(t, tl, buf, n);
    case HFLOW_TOKEN_NORMAL:
        return v->kind == HFLOW_VOCAB_SPM ? spm_unescape(t, tl, buf, n) : bpe_unmap(t, tl, buf, n);
    default: /* UNUSED / UNDEFINED render as nothing */
        return 0;
    }
}

/* Whether the tokenizer's own prefix space (SPM) follows a leading BOS. */
static int drops_space_after(const hflow_vocab *v, int32_t first) {
    return v->kind == HFLOW_VOCAB_SPM && v->add_space_prefix && v->bos >= 0 && first == v->bos;
}

/* Appends one piece to b, growing as needed. */
static int append_piece(hflow_strbuf *b, const hflow_vocab *v, int32_t id, int render_special, int drop_space) {
    char small[256];
    int n = hflow_token_to_piece(v, id, render_special, small, (int)sizeof small);
    if (n < 0)
        return n;
    const char *p = small;
    char *big = NULL;
    if (n > (int)sizeof small) {
        big = malloc((size_t)n);
        if (!big)
            return HFLOW_ENOMEM;
        hflow_token_to_piece(v, id, render_special, big, n);
        p = big;
    }
    if (drop_space && n > 0 && p[0] == ' ')
        p++, n--;
    hflow_strbuf_append(b, p, (size_t)n);
    free(big);
    return 0;
}

char *hflow_detokenize(const hflow_vocab *v, const int32_t *ids, int n, int render_special) {
    if (!v || n < 0 || (n > 0 && !ids))
        return NULL;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_reserve(&b, (size_t)n * 4 + 1);
    int drop = n > 0 && drops_space_after(v, ids[0]);
    for (int i = 0; i < n; i++) {
        if (append_piece(&b, v, ids[i], render_special, drop && i == 1) != 0) {
            hflow_strbuf_free(&b);
            return NULL;
        }
    }
    if (b.oom) {
        hflow_strbuf_free(&b);
        return NULL;
    }
    if (b.len == 0) { /* reserve() leaves a fresh buffer unterminated */
        hflow_strbuf_free(&b);
        return calloc(1, 1);
    }
    return hflow_strbuf_take(&b);
}

void hflow_detok_init(hflow_detok *d, const hflow_vocab *v, int render_special) {
    memset(d, 0, sizeof *d);
    d->vocab = v;
    d->render_special = render_special;
}

int hflow_detok_push(hflow_detok *d, int32_t id, char *out, int out_cap) {
    if (!d || !d->vocab || !out || out_cap < 1)
        return HFLOW_EINVAL;
    const hflow_vocab *v = d->vocab;
    int drop = d->drop_space;
    d->drop_space = d->n_tokens == 0 && drops_space_after(v, id);
    d->n_tokens++;
    int room = out_cap - 1 - d->n_pending;
    if (room < 0)
        return HFLOW_ERANGE;
    int n = hflow_token_to_piece(v, id, d->render_special, out + d->n_pending, room);
    if (n < 0)
        return n;
    if (n > room)
        return HFLOW_ERANGE;
    memcpy(out, d->pending, (size_t)d->n_pending);
    int total = d->n_pending + n;
    if (drop && total > 0 && out[0] == ' ')
        memmove(out, out + 1, (size_t)--total);
    int done = (int)hflow_utf8_complete_prefix((const unsigned char *)out, (size_t)total);
    d->n_pending = total - done;
    memcpy(d->pending, out + done, (size_t)d->n_pending);
    out[done] = '\0';
    return done;
}

int hflow_detok_flush(hflow_detok *d, char *out, int out_cap) {
    if (!d || !out || out_cap < 1)
        return HFLOW_EINVAL;
    int need = d->n_pending ? 3 : 0; /* one U+FFFD for the whole broken tail */
    if (need + 1 > out_cap)
        return HFLOW_ERANGE;
    if (need)
        memcpy(out, "\xEF\xBF\xBD", 3);
    out[need] = '\0';
    d->n_pending = 0;
    return need;
}
