/* grammar.c - token-level masking for any byte-level language (grammar.h).
 *
 * The expensive part of constrained decoding is asking, for each of tens of
 * thousands of tokens, whether its bytes keep the text in the language. The
 * token bytes are laid out once per vocabulary in one blob; a mask first
 * builds the 256-entry table of bytes allowed next (most tokens fail there)
 * and runs only the survivors through the machine on a scratch copy of the
 * state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/grammar.h"

struct hflow_token_texts {
    int32_t n;
    char *blob;        /* all token bytes back to back */
    uint32_t *off;     /* [n + 1] offsets into blob */
    uint8_t *eog;      /* [n] end-of-generation tokens */
};

int hflow_token_texts_create(const hflow_vocab *v, hflow_token_texts **out, hflow_error *err) {
    *out = NULL;
    if (!v) return hflow_error_set(err, HFLOW_EINVAL, "token texts: no vocabulary");
    hflow_token_texts *t = calloc(1, sizeof *t);
    int32_t n = hflow_vocab_size(v);
    size_t cap = (size_t)n * 8 + 64, used = 0;
    if (t) {
        t->n = n;
        t->blob = malloc(cap);
        t->off = malloc(((size_t)n + 1) * sizeof *t->off);
        t->eog = calloc((size_t)n + 1, 1);
    }
    if (!t || !t->blob || !t->off || !t->eog) goto oom;
    char piece[1024];
    for (int32_t id = 0; id < n; id++) {
        int len = hflow_token_to_piece(v, id, 0, piece, (int)sizeof piece);
        if (len < 0 || len > (int)sizeof piece) len = 0; /* unusable tokens are never allowed */
        if (used + (size_t)len > cap) {
            cap = (cap + (size_t)len) * 2;
            char *nb = realloc(t->blob, cap);
            if (!nb) goto oom;
            t->blob = nb;
        }
        memcpy(t->blob + used, piece, (size_t)len);
        t->off[id] = (uint32_t)used;
        used += (size_t)len;
        t->eog[id] = (uint8_t)(hflow_vocab_is_eog(v, id) != 0);
    }
    t->off[n] = (uint32_t)used;
    *out = t;
    return 0;
oom:
    hflow_token_texts_free(t);
    return hflow_error_set(err, HFLOW_ENOMEM, "token texts: out of memory");
}

void hflow_token_texts_free(hflow_token_texts *t) {
    if (!t) return;
    free(t->blob);
    free(t->off);
    free(t->eog);
    free(t);
}

int32_t hflow_token_texts_count(const hflow_token_texts *t) { return t ? t->n : 0; }

const char *hflow_token_texts_get(const hflow_token_texts *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n) return NULL;
    if (len) *len = t->off[id + 1] - t->off[id];
    return t->blob + t->off[id];
}

struct hflow_grammar {
    const hflow_byte_machine *m;
    const hflow_token_texts *texts;
    void *config;
    unsigned char *state, *scratch; /* state_size bytes each */
    uint8_t next[256];              /* bytes allowed after `state` (valid when next_ok) */
    int next_ok;
};

int hflow_grammar_create(const hflow_byte_machine *m, const void *config, const hflow_token_texts *texts,
                         hflow_grammar **out, hflow_error *err) {
    *out = NULL;
    if (!m || !texts || !m->init || !m->step || !m->accepting || !m->state_size)
        return hflow_error_set(err, HFLOW_EINVAL, "grammar: incomplete machine or no token texts");
    hflow_grammar *g = calloc(1, sizeof *g);
    if (!g) return hflow_error_set(err, HFLOW_ENOMEM, "grammar: out of memory");
    g->m = m;
    g->texts = texts;
    g->config = m->config_size ? malloc(m->config_size) : NULL;
    g->state = malloc(m->state_size);
    g->scratch = malloc(m->state_size);
    if ((m->config_size && !g->config) || !g->state || !g->scratch) {
        hflow_grammar_free(g);
        return hflow_error_set(err, HFLOW_ENOMEM, "grammar: out of memory");
    }
    if (m->config_size) memcpy(g->config, config, m->config_size);
    hflow_grammar_reset(g);
    *out = g;
    return 0;
}

void hflow_grammar_free(hflow_grammar *g) {
    if (!g) return;
    free(g->config);
    free(g->state);
    free(g->scratch);
    free(g);
}

void hflow_grammar_reset(hflow_grammar *g) {
    g->m->init(g->config, g->state);
    g->next_ok = 0;
}

static void compute_next(hflow_grammar *g) {
    if (g->next_ok) return;
    for (int b = 0; b < 256; b++) {
        memcpy(g->scratch, g->state, g->m->state_size);
        g->next[b] = (uint8_t)g->m->step(g->config, g->scratch, (unsigned char)b);
    }
    g->next_ok = 1;
}

int hflow_grammar_accepting(const hflow_grammar *g) { return g->m->accepting(g->config, g->state); }

int hflow_grammar_complete(const hflow_grammar *g) {
    if (!hflow_grammar_accepting(g)) return 0;
    compute_next((hflow_grammar *)g);
    for (int b = 0; b < 256; b++)
        if (g->next[b]) return 0;
    return 1;
}

/* Whether the token's bytes all pass, starting from g->state (on scratch). */
static int token_fits(hflow_grammar *g, const unsigned char *p, size_t len) {
    if (!g->next[p[0]]) return 0;
    if (len == 1) return 1;
    memcpy(g->scratch, g->state, g->m->state_size);
    for (size_t i = 0; i < len; i++)
        if (!g->m->step(g->config, g->scratch, p[i])) return 0;
    return 1;
}

static int token_allowed(hflow_grammar *g, int32_t id, int accepting) {
    const hflow_token_texts *t = g->texts;
    size_t len = t->off[id + 1] - t->off[id];
    if (len == 0) return accepting && t->eog[id];
    return token_fits(g, (const unsigned char *)t->blob + t->off[id], len);
}

int32_t hflow_grammar_allowed(hflow_grammar *g, uint8_t *allowed) {
    compute_next(g);
    int accepting = hflow_grammar_accepting(g);
    int32_t count = 0;
    for (int32_t id = 0; id < g->texts->n; id++) {
        allowed[id] = (uint8_t)token_allowed(g, id, accepting);
        count += allowed[id];
    }
    return count;
}

int hflow_grammar_mask(hflow_grammar *g, float *logits, int32_t n_vocab, hflow_error *err) {
    compute_next(g);
    int accepting = hflow_grammar_accepting(g);
    int32_t n = n_vocab < g->texts->n ? n_vocab : g->texts->n, count = 0;
    for (int32_t id = 0; id < n; id++) {
        if (token_allowed(g, id, accepting)) count++;
        else logits[id] = -INFINITY;
    }
    for (int32_t id = n; id < n_vocab; id++) logits[id] = -INFINITY; /* rows with no vocab entry */
    if (!count)
        return hflow_error_set(err, HFLOW_ESTATE, "grammar %s: no token of the vocabulary can continue", g->m->name);
    return count;
}

int hflow_grammar_accept(hflow_grammar *g, int32_t token, hflow_error *err) {
    if (token < 0 || token >= g->texts->n)
        return hflow_error_set(err, HFLOW_EINVAL, "grammar %s: token %d out of range", g->m->name, token);
    compute_next(g);
    if (!token_allowed(g, token, hflow_grammar_accepting(g)))
        return hflow_error_set(err, HFLOW_EINVAL, "grammar %s: token %d leaves the language", g->m->name, token);
    size_t len = g->texts->off[token + 1] - g->texts->off[token];
    if (len == 0) return 1; /* end of generation while accepting */
    /* token_fits left the advanced state in scratch, unless it decided on the first byte */
    if (len == 1) {
        memcpy(g->scratch, g->state, g->m->state_size);
        g->m->step(g->config, g->scratch, (unsigned char)g->texts->blob[g->texts->off[token]]);
    }
    unsigned char *tmp = g->state;
    g->state = g->scratch;
    g->scratch = tmp;
    g->next_ok = 0;
    return hflow_grammar_complete(g);
}

int hflow_grammar_accept_bytes(hflow_grammar *g, const char *s, size_t n, hflow_error *err) {
    memcpy(g->scratch, g->state, g->m->state_size);
    for (size_t i = 0; i < n; i++)
        if (!g->m->step(g->config, g->scratch, (unsigned char)s[i]))
            return hflow_error_set(err, HFLOW_EINVAL, "grammar %s: byte %zu (0x%02x) leaves the language", g->m->name,
                                   i, (unsigned char)s[i]);
    unsigned char *tmp = g->state;
    g->state = g->scratch;
    g->scratch = tmp;
    g->next_ok = 0;
    return 0;
}

static int hook_mask(void *user, float *logits, int32_t n_vocab, hflow_error *err) {
    return hflow_grammar_mask(user, logits, n_vocab, err);
}

static int hook_accept(void *user, int32_t token, hflow_error *err) { return hflow_grammar_accept(user, token, err); }

hflow_logits_hook hflow_grammar_hook(hflow_grammar *g) {
    hflow_logits_hook h = {hook_mask, hook_accept, g};
    return h;
}
