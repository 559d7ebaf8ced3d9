/* pretokenize.c - BPE pre-tokenizers: hand-written matchers equivalent to the
 * regexes Hugging Face / llama.cpp use for each tokenizer.ggml.pre family.
 *
 * Each matcher answers "how many code points does the regex match at i" for
 * one alternation regex (0 = no match), looking only inside the current piece
 * [.., end). A family is a chain of matchers: like llama.cpp's
 * unicode_regex_split, every matcher splits each piece from the previous one
 * into its matches and the unmatched gaps between them. */
#include <stdlib.h>
#include <string.h>

#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"

typedef size_t (*matcher_fn)(const uint32_t *cp, size_t end, size_t i);

static int is_l(uint32_t c) { return hflow_cpt_is_letter(c); }
static int is_n(uint32_t c) { return hflow_cpt_is_number(c); }
static int is_s(uint32_t c) { return hflow_cpt_is_space(c); }
static int is_other(uint32_t c) { return !is_s(c) && !is_l(c) && !is_n(c); }
static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }
static uint32_t lower_ascii(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static size_t run(const uint32_t *cp, size_t end, size_t j, int (*pred)(uint32_t)) {
    while (j < end && pred(cp[j]))
        j++;
    return j;
}

/* 's 't 're 've 'm 'll 'd, optionally case-insensitive. */
static size_t contraction(const uint32_t *cp, size_t end, size_t i, int icase) {
    if (cp[i] != '\'' || i + 1 >= end)
        return 0;
    uint32_t a = icase ? lower_ascii(cp[i + 1]) : cp[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (i + 2 >= end)
        return 0;
    uint32_t b = icase ? lower_ascii(cp[i + 2]) : cp[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at a whitespace char: a run followed by a non-space gives
 * back its last char (so that char can prefix the next word). */
static size_t space_run(const uint32_t *cp, size_t end, size_t i) {
    size_t j = run(cp, end, i, is_s);
    if (j == end || j - i == 1)
        return j - i;
    return j - i - 1;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t match_gpt2(const uint32_t *cp, size_t end, size_t i) {
    size_t m = contraction(cp, end, i, 0);
    if (m)
        return m;
    size_t s = i + (cp[i] == ' ');
    if (s < end) {
        uint32_t d = cp[s];
        if (is_l(d))
            return run(cp, end, s, is_l) - i;
        if (is_n(d))
            return run(cp, end, s, is_n) - i;
        if (is_other(d))
            return run(cp, end, s, is_other) - i;
    }
    return space_run(cp, end, i);
}

/* Llama-3 / Qwen2:
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
 * | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t match_llama3_like(const uint32_t *cp, size_t end, size_t i, size_t max_digits) {
    size_t m = contraction(cp, end, i, 1);
    if (m)
        return m;
    uint32_t c = cp[i];
    if (!is_crlf(c) && !is_l(c) && !is_n(c) && i + 1 < end && is_l(cp[i + 1]))
        return run(cp, end, i + 1, is_l) - i;
    if (is_l(c))
        return run(cp, end, i, is_l) - i;
    if (is_n(c)) {
        size_t j = i;
        while (j < end && j - i < max_digits && is_n(cp[j]))
            j++;
        return j - i;
    }
    size_t s = i + (c == ' ');
    if (s < end && is_other(cp[s])) {
        size_t j = run(cp, end, s, is_other);
        return run(cp, end, j, is_crlf) - i;
    }
    /* \s*[\r\n]+ backtracks to the last newline of the whitespace run. */
    size_t j = i, last_nl = 0;
    int has_nl = 0;
    for (; j < end && is_s(cp[j]); j++)
        if (is_crlf(cp[j]))
            last_nl = j, has_nl = 1;
    if (has_nl)
        return last_nl + 1 - i;
    return space_run(cp, end, i);
}

static size_t match_llama3(const uint32_t *cp, size_t end, size_t i) { return match_llama3_like(cp, end, i, 3); }
static size_t match_qwen2(const uint32_t *cp, size_t end, size_t i) { return match_llama3_like(cp, end, i, 1); }

/* \p{N} */
static size_t match_digit(const uint32_t *cp, size_t end, size_t i) { return is_n(cp[i]); }
/* \p{N}+ */
static size_t match_digits(const uint32_t *cp, size_t end, size_t i) { return run(cp, end, i, is_n) - i; }
/* [0-9][0-9][0-9] */
static size_t match_ascii3(const uint32_t *cp, size_t end, size_t i) {
    for (size_t k = 0; k < 3; k++)
        if (i + k >= end || cp[i + k] < '0' || cp[i + k] > '9')
            return 0;
    return 3;
}
/* [\p{P}\$\+<=>\^~\|]+ */
static int is_punct_ext(uint32_t c) { return hflow_cpt_is_punct(c) || (c < 128 && c && strchr("$+<=>^~|", (int)c)); }
static size_t match_punct(const uint32_t *cp, size_t end, size_t i) { return run(cp, end, i, is_punct_ext) - i; }

int hflow_pretok_from_name(const char *name) {
    static const struct {
        const char *name;
        int family;
    } names[] = {
        {"default", HFLOW_PRETOK_DEFAULT}, {"gpt-2", HFLOW_PRETOK_GPT2},      {"gpt2", HFLOW_PRETOK_GPT2},
        {"mpt", HFLOW_PRETOK_GPT2},        {"olmo", HFLOW_PRETOK_GPT2},       {"jais", HFLOW_PRETOK_GPT2},
        {"llama3", HFLOW_PRETOK_LLAMA3},   {"llama-v3", HFLOW_PRETOK_LLAMA3}, {"llama-bpe", HFLOW_PRETOK_LLAMA3},
        {"qwen2", HFLOW_PRETOK_QWEN2},     {"qwen2.5", HFLOW_PRETOK_QWEN2},   {"deepseek-r1-qwen", HFLOW_PRETOK_QWEN2},
        {"smollm", HFLOW_PRETOK_SMOLLM},   {"starcoder", HFLOW_PRETOK_SMOLLM}, {"refact", HFLOW_PRETOK_SMOLLM},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].family;
    return -1;
}

static size_t family_chain(int family, matcher_fn chain[4]) {
    switch (family) {
    case HFLOW_PRETOK_GPT2: chain[0] = match_gpt2; return 1;
    case HFLOW_PRETOK_LLAMA3: chain[0] = match_llama3; return 1;
    case HFLOW_PRETOK_QWEN2: chain[0] = match_qwen2; return 1;
    case HFLOW_PRETOK_SMOLLM: chain[0] = match_digit, chain[1] = match_gpt2; return 2;
    default:
        chain[0] = match_punct, chain[1] = match_gpt2, chain[2] = match_digits, chain[3] = match_ascii3;
        return 4;
    }
}

/* Pieces are (start, end) code point indices, kept in a growable array. */
typedef struct pieces {
    size_t *v;
    size_t n, cap;
} pieces;

static int pieces_add(pieces *p, size_t a, size_t b) {
    if (a == b)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        size_t *nv = realloc(p->v, cap * 2 * sizeof *nv);
        if (!nv)
            return HFLOW_ENOMEM;
        p->v = nv;
        p->cap = cap;
    }
    p->v[2 * p->n] = a;
    p->v[2 * p->n + 1] = b;
    p->n++;
    return 0;
}

static int split_all(const uint32_t *cp, matcher_fn fn, const pieces *in, pieces *out) {
    int rc = 0;
    for (size_t k = 0; !rc && k < in->n; k++) {
        size_t gap = in->v[2 * k], end = in->v[2 * k + 1];
        for (size_t i = gap; !rc && i < end;) {
            size_t m = fn(cp, end, i);
            if (m == 0) {
                i++;
                continue;
            }
            rc = pieces_add(out, gap, i);
            if (!rc)
                rc = pieces_add(out, i, i + m);
            i += m;
            gap = i;
        }
        if (!rc)
            rc = pieces_add(out, gap, end);
    }
    return rc;
}

int hflow_pretokenize(int family, const char *text, size_t len, size_t **ranges, size_t *n) {
    uint32_t *cp = malloc(sizeof *cp * (len + 1));
    size_t *off = malloc(sizeof *off * (len + 1));
    pieces cur = {0}, next = {0};
    int rc = (cp && off) ? 0 : HFLOW_ENOMEM;
    size_t n_cp = 0;
    for (size_t pos = 0; !rc && pos < len; n_cp++) {
        size_t adv;
        off[n_cp] = pos;
        cp[n_cp] = hflow_utf8_decode((const unsigned char *)text + pos, len - pos, &adv);
        pos += adv;
    }
    if (!rc)
        off[n_cp] = len;
    matcher_fn chain[4];
    size_t n_chain = family_chain(family, chain);
    if (!rc)
        rc = pieces_add(&cur, 0, n_cp);
    for (size_t c = 0; !rc && c < n_chain; c++) {
        next.n = 0;
        rc = split_all(cp, chain[c], &cur, &next);
        pieces t = cur;
        cur = next;
        next = t;
    }
    /* Code point indices -> byte (start, length). */
    for (size_t k = 0; !rc && k < cur.n; k++) {
        size_t a = off[cur.v[2 * k]], b = off[cur.v[2 * k + 1]];
        cur.v[2 * k] = a;
        cur.v[2 * k + 1] = b - a;
    }
    free(cp);
    free(off);
    free(next.v);
    if (rc) {
        free(cur.v);
        return rc;
    }
    *ranges = cur.v;
    *n = cur.n;
    return 0;
}
