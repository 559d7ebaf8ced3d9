/* extract.c - rule-based final-answer extraction for multiple choice and integers.
 *
 * Only the final answer is judged: explicit markers ("Answer: X", "the answer
 * is X", \boxed{X}) win by position (the last one in the text), and without a
 * marker only the last few lines are read. Reasoning that names options
 * earlier in the text therefore never decides the result. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "eval/extract_internal.h"
#include "hybridflow/eval.h"

const char *ev_memcasestr(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m == 0) return s;
    for (size_t i = 0; i + m <= n; i++)
        if (!strncasecmp(s + i, needle, m)) return s + i;
    return NULL;
}

int ev_count(const char *s, const char *needle) {
    int c = 0;
    size_t m = strlen(needle);
    if (!m) return 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + m, needle)) c++;
    return c;
}

static const char *rfind(const char *s, const char *needle) {
    const char *last = NULL;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) last = p;
    return last;
}

long ev_last_boxed(const char *text, const char **start, size_t *len) {
    static const char *cmds[] = {"\\boxed", "\\fbox", "\\framebox"};
    const char *at = NULL, *cmd = NULL;
    for (int i = 0; i < 3 && !at; i++) {
        at = rfind(text, cmds[i]);
        cmd = cmds[i];
    }
    if (!at) return -1;
    const char *p = at + strlen(cmd);
    if (*p == ' ') { /* "\boxed 5$" form */
        const char *s = p + 1, *e = s;
        while (*e && *e != '$' && *e != '\n') e++;
        *start = s;
        *len = (size_t)(e - s);
        return at - text;
    }
    if (*p != '{') return -1;
    int depth = 0;
    for (const char *q = p; *q; q++) {
        if (*q == '{') depth++;
        else if (*q == '}' && --depth == 0) {
            *start = p + 1;
            *len = (size_t)(q - p - 1);
            return at - text;
        }
    }
    return -1;
}

int ev_last_line(const char *text, const char **start, size_t *len) {
    const char *e = text + strlen(text);
    while (e > text && isspace((unsigned char)e[-1])) e--;
    if (e == text) return 0;
    const char *s = e;
    while (s > text && s[-1] != '\n') s--;
    *start = s;
    *len = (size_t)(e - s);
    return 1;
}

/* ---------------------------------------------------------- multiple choice */

static int is_word_char(int c) { return isalnum(c) || c == '_'; }

/* A letter token at p: in range, not followed by a word character (so "An"
 * or "Bob" never count); "I think" is the pronoun, not option I. */
static int letter_at(const char *p, char maxl) {
    char c = *p;
    if (c < 'A' || c > maxl) return 0;
    if (is_word_char((unsigned char)p[1]) || p[1] == '\'') return 0;
    if (c == 'I' && p[1] == ' ' && islower((unsigned char)p[2])) return 0;
    return c;
}

/* After an "answer" keyword: skips ":", "is", "would be", "option", "**", "(",
 * "\boxed{", "\text{" and similar until a letter; 0 when something else comes. */
static int letter_after_marker(const char *p, char maxl) {
    static const char *fillers[] = {"is", "would be", "should be", "must be", "will be", "then", "option", "choice",
                                    "letter", "\\boxed{", "\\text{", "\\textbf{", "\\mathrm{", "correct"};
    for (int guard = 0; guard < 12; guard++) {
        while (*p == ' ' || *p == ':' || *p == '*' || *p == '(' || *p == '[' || *p == '$' || *p == '{' ||
               *p == '\t' || *p == '=' || *p == '-' || *p == '#')
            p++;
        int skipped = 0;
        for (size_t i = 0; i < sizeof fillers / sizeof fillers[0]; i++) {
            size_t n = strlen(fillers[i]);
            if (!strncasecmp(p, fillers[i], n) && (fillers[i][n - 1] == '{' || !is_word_char((unsigned char)p[n]))) {
                p += n;
                skipped = 1;
                break;
            }
        }
        if (!skipped) break;
    }
    return letter_at(p, maxl);
}

/* Letter in a boxed content: "C", "\text{C}", "(C)", "C. option text". */
static int letter_in_boxed(const char *s, size_t n, char maxl) {
    char buf[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof buf; i++) buf[k++] = s[i];
    buf[k] = '\0';
    return letter_after_marker(buf, maxl);
}

/* Option whose text appears (word-bounded, case-insensitive) in the span, when
 * exactly one option does; options contained in a longer matching one are ignored. */
static int letter_by_option_text(const char *s, size_t n, const char *const *options, int n_options) {
    int found = -1;
    size_t found_len = 0;
    for (int i = 0; i < n_options; i++) {
        const char *o = options[i];
        size_t m = o ? strlen(o) : 0;
        if (m == 0) continue;
        int hit = 0;
        for (const char *p = ev_memcasestr(s, n, o); p; p = ev_memcasestr(p + 1, n - (size_t)(p + 1 - s), o)) {
            int lb = p == s || !is_word_char((unsigned char)p[-1]) || !is_word_char((unsigned char)o[0]);
            int rb = (size_t)(p + m - s) >= n || !is_word_char((unsigned char)p[m]) ||
                     !is_word_char((unsigned char)o[m - 1]);
            if (lb && rb) { hit = 1; break; }
        }
        if (!hit) continue;
        if (found >= 0 && ev_memcasestr(options[found], found_len, o)) continue; /* o inside the longer one */
        if (found >= 0 && !ev_memcasestr(o, m, options[found])) return 0;        /* two different options */
        found = i;
        found_len = m;
    }
    return found >= 0 ? 'A' + found : 0;
}

/* A line that is only an answer: "C", "(C)", "**C**", "C.", "C) text",
 * "Option C", "[C]", or a sentence ending in a lone letter ("... is C."). */
static int letter_in_line(const char *s, size_t n, char maxl) {
    char buf[512];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof buf; i++)
        if (s[i] != '*' && s[i] != '#' && s[i] != '>' && s[i] != '`') buf[k++] = s[i];
    buf[k] = '\0';
    char *p = buf;
    while (*p == ' ' || *p == '\t' || *p == '-') p++;
    int c = letter_after_marker(p, maxl);
    if (c && (p[0] == '(' || p[0] == '[' || !strncasecmp(p, "option", 6) || !strncasecmp(p, "choice", 6) ||
              (p[0] == c && (p[1] == '\0' || p[1] == '.' || p[1] == ')' || p[1] == ':' || p[1] == ' '))))
        return c;
    /* a trailing lone letter: "So I pick B." */
    char *e = buf + k;
    while (e > buf && (e[-1] == '.' || e[-1] == ' ' || e[-1] == ')' || e[-1] == '!' || e[-1] == ']')) e--;
    if (e > buf && (e - 1 == buf || !is_word_char((unsigned char)e[-2])) && e[-1] != 'I' && e[-1] != 'A') {
        if (e[-1] >= 'A' && e[-1] <= maxl) return e[-1];
    }
    /* a lone "(X)" in the line */
    int only = 0;
    for (char *q = buf; (q = strchr(q, '(')) != NULL; q++)
        if (q[1] >= 'A' && q[1] <= maxl && q[2] == ')') {
            if (only && only != q[1]) return 0;
            only = q[1];
        }
    return only;
}

char hflow_extract_choice(const char *output, const char *const *options, int n_options) {
    if (!output) return 0;
    char maxl = (char)('A' + (n_options > 0 && n_options <= 10 ? n_options : 10) - 1);
    if (n_options > 10) n_options = 10; /* option text may name only a letter we answer with */
    long best_pos = -1;
    int best = 0;
    const char *bs;
    size_t bn;
    long bpos = ev_last_boxed(output, &bs, &bn);
    if (bpos >= 0) {
        int c = letter_in_boxed(bs, bn, maxl);
        if (!c && options) c = letter_by_option_text(bs, bn, options, n_options);
        if (c) { best = c; best_pos = bpos; }
    }
    size_t n = strlen(output);
    for (const char *p = ev_memcasestr(output, n, "answer"); p; p = ev_memcasestr(p + 1, n - (size_t)(p + 1 - output), "answer")) {
        const char *q = p + 6;
        if (*q == 's') q++;
        int c = letter_after_marker(q, maxl);
        if (c && p - output > best_pos) { best = c; best_pos = p - output; }
    }
    if (best) return (char)best;
    /* No marker: read the last lines, newest first. */
    const char *end = output + n;
    for (int lines = 0; lines < 3; lines++) {
        while (end > output && isspace((unsigned char)end[-1])) end--;
        if (end == output) break;
        const char *s = end;
        while (s > output && s[-1] != '\n') s--;
        int c = letter_in_line(s, (size_t)(end - s), maxl);
        if (!c && options) c = letter_by_option_text(s, (size_t)(end - s), options, n_options);
        if (c) return (char)c;
        end = s;
    }
    return 0;
}

/* ----------------------------------------------------------------- integers */

/* Parses an integer at p ("1,234", "025"), refusing decimals ("3.4"). Sets *end. */
static int parse_int_token(const char *p, long *v, const char **end) {
    if (!isdigit((unsigned char)*p)) return 0;
    long x = 0;
    const char *q = p;
    while (*q) {
        if (isdigit((unsigned char)*q)) {
            if (x < 100000000000L) x = x * 10 + (*q - '0');
            q++;
        } else if (*q == ',' && isdigit((unsigned char)q[1]) && isdigit((unsigned char)q[2]) &&
                   isdigit((unsigned char)q[3]) && !isdigit((unsigned char)q[4])) {
            q++; /* thousands separator */
        } else if (!strncmp(q, "{,}", 3) && isdigit((unsigned char)q[3])) {
            q += 3; /* LaTeX 1{,}000 */
        } else {
            break;
        }
    }
    *end = q;
    if (*q == '.' && isdigit((unsigned char)q[1])) {
        const char *r = q + 1;
        while (*r == '0') r++;
        if (isdigit((unsigned char)*r)) return 0; /* a real decimal, not an integer */
        while (isdigit((unsigned char)*r)) r++;
        *end = r;
    }
    *v = x;
    return 1;
}

/* First (or last) integer token in [s, s+n) that is not part of a word like "x2". */
static int int_in_span(const char *s, size_t n, int want_last, long *out) {
    char *buf = malloc(n + 1);
    if (!buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int found = 0;
    for (const char *p = buf; *p;) {
        const char *e;
        long v;
        if (isdigit((unsigned char)*p) && (p == buf || !isalpha((unsigned char)p[-1])) &&
            parse_int_token(p, &v, &e)) {
            int neg = p > buf && p[-1] == '-' && (p - 1 == buf || !isalnum((unsigned char)p[-2]));
            *out = neg ? -v : v;
            found = 1;
            if (!want_last) break;
            p = e;
        } else {
            if (isdigit((unsigned char)*p))
                while (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) p++;
            else
                p++;
        }
    }
    free(buf);
    return found;
}

int hflow_extract_integer(const char *output, long *out) {
    if (!output) return 0;
    long best_pos = -1, best = 0;
    const char *bs;
    size_t bn;
    long bpos = ev_last_boxed(output, &bs, &bn);
    if (bpos >= 0 && int_in_span(bs, bn, 1, &best)) best_pos = bpos;
    size_t n = strlen(output);
    for (const char *p = ev_memcasestr(output, n, "answer"); p; p = ev_memcasestr(p + 1, n - (size_t)(p + 1 - output), "answer")) {
        if (p - output <= best_pos) continue;
        const char *q = p + 6;
        while (*q && strchr("s: *$=(", *q)) q++;
        if (!strncasecmp(q, "is", 2) && !isalpha((unsigned char)q[2])) q += 2;
        while (*q && strchr(" :*$=(", *q)) q++;
        if (!strncmp(q, "\\boxed{", 7)) q += 7;
        if (!isdigit((unsigned char)*q) && *q != '-') continue;
        const char *e = q;
        while (*e && *e != '\n') e++;
        long v;
        if (int_in_span(q, (size_t)(e - q), 0, &v)) { best = v; best_pos = p - output; }
    }
    if (best_pos >= 0) { *out = best; return 1; }
    const char *ls;
    size_t ln;
    if (ev_last_line(output, &ls, &ln) && int_in_span(ls, ln, 1, out)) return 1;
    return 0;
}
