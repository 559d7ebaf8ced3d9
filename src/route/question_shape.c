/* question_shape.c - dense question-structure features of a query-level
 * prompt (the rendered "stem\n\nA. option\nB. option\n..." of eval's one
 * renderer): how many options, how many of them are numbers, option length
 * statistics and the stem's digits and formula symbols. On MMLU-Pro the
 * small model loses most to the large one on computational questions, which
 * these describe more directly than a bag of hashed words. Called only by
 * hflow_featurize (features.c), so training and serving compute them alike;
 * one pass over the text, no allocation. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "route/router_internal.h"

/* Start of the option block ("\n\nA. "), NULL when the text has none. */
static const char *options_start(const char *q) {
    const char *best = NULL;
    for (const char *p = strstr(q, "\n\nA. "); p; p = strstr(p + 1, "\n\nA. ")) best = p;
    return best ? best + 2 : NULL;
}

/* One option line from p ("X. text\n"): letters and digits of its text, its
 * length; returns the start of the next line or NULL at the end of the text. */
static const char *option_line(const char *p, size_t *len, size_t *letters, size_t *digits, int *starts_num) {
    const char *s = p + 3, *e = strchr(s, '\n');
    if (!e) e = s + strlen(s);
    *len = (size_t)(e - s);
    const char *t = s;
    while (t < e && strchr(" $-+(.", *t)) t++;
    *starts_num = t < e && isdigit((unsigned char)*t);
    *letters = *digits = 0;
    for (const char *c = s; c < e; c++) {
        *letters += isalpha((unsigned char)*c) != 0;
        *digits += isdigit((unsigned char)*c) != 0;
    }
    return *e ? e + 1 : NULL;
}

static int is_option(const char *p, int i) { return p && p[0] == 'A' + i && p[1] == '.' && p[2] == ' '; }

void hflow_router_question_shape(const char *q, float *out) {
    memset(out, 0, HFLOW_QSHAPE_COUNT * sizeof *out);
    if (!q) return;
    const char *opt = options_start(q), *stem_end = opt ? opt : q + strlen(q);
    /* options */
    double sum = 0, sq = 0;
    int n = 0, numeric = 0, starts = 0;
    size_t max_len = 0;
    for (const char *p = opt; is_option(p, n) && n < 26;) {
        size_t len, letters, digits;
        int sn;
        p = option_line(p, &len, &letters, &digits, &sn);
        starts += sn;
        if (len > max_len) max_len = len;
        sum += (double)len;
        sq += (double)len * (double)len;
        numeric += digits > 0 && digits >= letters;
        n++;
    }
    double mean = n ? sum / n : 0, var = n ? sq / n - mean * mean : 0;
    out[0] = (float)n / 10.0f;
    out[1] = n ? (float)numeric / (float)n : 0.0f;
    out[2] = logf(1.0f + (float)mean);
    out[3] = mean > 0 ? (float)(sqrt(var > 0 ? var : 0) / mean) : 0.0f;
    /* stem */
    size_t digits = 0, symbols = 0, words = 0, num_words = 0;
    int in_word = 0, word_digit = 0;
    for (const char *c = q; c < stem_end; c++) {
        unsigned char ch = (unsigned char)*c;
        int wc = isalnum(ch) || ch >= 0x80;
        if (wc && !in_word) { words++; word_digit = 0; }
        if (isdigit(ch) && !word_digit && wc) { num_words++; word_digit = 1; }
        in_word = wc;
        digits += isdigit(ch) != 0;
        symbols += (size_t)hflow_router_is_formula_symbol(ch);
    }
    out[4] = logf(1.0f + (float)digits);
    out[5] = logf(1.0f + (float)symbols);
    out[6] = logf(1.0f + (float)words);
    out[7] = words ? (float)num_words / (float)words : 0.0f;
    out[8] = n ? (float)starts / (float)n : 0.0f;
    out[9] = logf(1.0f + (float)max_len);
    out[10] = logf(1.0f + (float)num_words);
}
