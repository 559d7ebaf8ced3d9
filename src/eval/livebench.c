/* livebench.c - LiveBench reasoning scorers, following the rules of
 * LiveBench's own process_results (zebra_puzzle for releases from
 * 2024-11-25, spatial, web_of_lies_v2), so our numbers compare with theirs.
 * Python regex semantics are reproduced by hand: '.' does not cross a line
 * break, matches are non-overlapping and scanned left to right. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "eval/eval_util.h"
#include "eval/extract_internal.h"
#include "hybridflow/eval.h"

typedef struct {
    char **s;
    int n, cap;
} strlist;

static void sl_push(strlist *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        char **p = realloc(l->s, (size_t)nc * sizeof *p);
        if (!p) return;
        l->s = p;
        l->cap = nc;
    }
    char *d = malloc(n + 1);
    if (!d) return;
    memcpy(d, s, n);
    d[n] = '\0';
    l->s[l->n++] = d;
}

static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* All non-overlapping `open(.*?)close` matches where the content has no '\n'. */
static void find_tagged(const char *text, const char *open, const char *close, strlist *out) {
    size_t ol = strlen(open), cl = strlen(close);
    const char *p = text;
    while ((p = strstr(p, open)) != NULL) {
        const char *s = p + ol, *c = strstr(s, close), *nl = strchr(s, '\n');
        if (c && (!nl || c < nl)) {
            sl_push(out, s, (size_t)(c - s));
            p = c + cl;
        } else {
            p++;
        }
    }
}

/* Bold spans: `\*\*(.*?)\*\*` when no_star is 0, `\*\*([^\*]+)\*\*` when 1. */
static void find_bold(const char *text, int no_star, strlist *out) {
    const char *p = text;
    while ((p = strstr(p, "**")) != NULL) {
        const char *s = p + 2, *e = NULL;
        if (no_star) {
            const char *q = s;
            while (*q && *q != '*') q++;
            if (q > s && q[0] == '*' && q[1] == '*') e = q;
        } else {
            const char *c = strstr(s, "**"), *nl = strchr(s, '\n');
            if (c && (!nl || c < nl)) e = c;
        }
        if (e) {
            sl_push(out, s, (size_t)(e - s));
            p = e + 2;
        } else {
            p++;
        }
    }
}

/* Splits on ',' keeping empty fields, like Python's str.split(','). */
static void split_commas(const char *s, strlist *out) {
    for (;;) {
        const char *c = strchr(s, ',');
        if (!c) { sl_push(out, s, strlen(s)); return; }
        sl_push(out, s, (size_t)(c - s));
        s = c + 1;
    }
}

/* strip().lower(), '-' -> ' ', and for the model's side "position" removed. */
static char *zebra_norm(const char *s, int drop_position) {
    char *d = ev_lower_n(s, strlen(s));
    if (!d) return NULL;
    ev_trim(d);
    for (char *p = d; *p; p++)
        if (*p == '-') *p = ' ';
    if (drop_position)
        for (char *p; (p = strstr(d, "position")) != NULL;) memmove(p, p + 8, strlen(p + 8) + 1);
    return d;
}

static void remove_all(char *s, const char *what) {
    size_t n = strlen(what);
    for (char *p; (p = strstr(s, what)) != NULL;) memmove(p, p + n, strlen(p + n) + 1);
}

double hflow_livebench_zebra_score(const char *gold, const char *output) {
    if (!gold || !output) return 0;
    strlist gt = {0}, matches = {0}, sol = {0};
    split_commas(gold, &gt);
    find_tagged(output, "<solution>", "</solution>", &matches);
    if (matches.n == 0) find_tagged(output, "</solution>", "</solution>", &matches);
    if (matches.n == 0) {
        const char *bs;
        size_t bn;
        if (ev_last_boxed(output, &bs, &bn) >= 0) {
            char *b = malloc(bn + 1);
            if (b) {
                memcpy(b, bs, bn);
                b[bn] = '\0';
                remove_all(b, "\\text{");
                remove_all(b, "}");
                remove_all(b, "\\");
                sl_push(&matches, b, strlen(b));
                free(b);
            }
        }
    }
    if (matches.n == 0) {
        const char *ls;
        size_t ln;
        if (ev_last_line(output, &ls, &ln)) {
            /* Python: strip() then the last '\n'-separated line; leading spaces stay. */
            int commas = 0;
            for (size_t i = 0; i < ln; i++) commas += ls[i] == ',';
            if (commas == gt.n - 1) sl_push(&matches, ls, ln);
        }
    }
    double score = 0;
    if (matches.n > 0 && gt.n > 0) {
        /* several matches: all their fields, last len(gold) of them */
        for (int i = 0; i < matches.n; i++) split_commas(matches.s[i], &sol);
        int off = matches.n > 1 && sol.n > gt.n ? sol.n - gt.n : 0;
        if (matches.n == 1) off = 0;
        int correct = 0;
        for (int i = 0; i < gt.n && off + i < sol.n; i++) {
            char *g = zebra_norm(gt.s[i], 0), *m = zebra_norm(sol.s[off + i], 1);
            if (g && m && (strstr(m, g) != NULL)) correct++;
            free(g);
            free(m);
        }
        score = ((correct == gt.n ? 1.0 : 0.0) + (double)correct / gt.n) / 2;
    }
    sl_free(&gt);
    sl_free(&matches);
    sl_free(&sol);
    return score;
}

static const char *spelled[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                                "eighteen", "nineteen", "twenty"};

double hflow_livebench_spatial_score(const char *gold, const char *output) {
    if (!gold || !output) return 0;
    strlist bold = {0};
    find_bold(output, 1, &bold);
    char *g = ev_lower_n(gold, strlen(gold));
    double score = 0;
    if (g) ev_trim(g);
    for (int i = 0; g && i < 3 && i < bold.n && score == 0; i++) {
        char *w = ev_lower_n(bold.s[bold.n - 1 - i], strlen(bold.s[bold.n - 1 - i]));
        if (!w) break;
        ev_trim(w);
        if (!strcmp(w, g)) score = 1;
        for (int k = 0; k <= 20 && score == 0; k++) {
            char num[8];
            snprintf(num, sizeof num, "%d", k);
            if (!strcmp(w, spelled[k]) && !strcmp(num, g)) score = 1;
        }
        /* "two tetrahedra" counts for "tetrahedra"; "circle square triangle" does not for "triangle" */
        static const char *shapes[] = {"tetrahedra", "tetrahedron", "triangle", "square"};
        for (int k = 0; k < 4 && score == 0; k++)
            if (!strcmp(g, shapes[k]) && strstr(w, shapes[k]) && strlen(w) < 2 * strlen(shapes[k]) + 5) score = 1;
        free(w);
    }
    free(g);
    sl_free(&bold);
    return score;
}

static int is_yes_no(const char *w) { return !strcmp(w, "yes") || !strcmp(w, "no") || !strcmp(w, "unknown"); }

/* Last three yes/no/unknown words among the bold spans, joined by ", ". */
static char *wol_from_bold(const char *output) {
    strlist bold = {0}, words = {0};
    find_bold(output, 0, &bold);
    for (int i = 0; i < bold.n; i++) {
        const char *p = bold.s[i];
        while (*p) {
            while (*p && isspace((unsigned char)*p)) p++;
            const char *s = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            if (p > s) {
                char *w = ev_lower_n(s, (size_t)(p - s));
                if (!w) continue;
                remove_all(w, ",");
                remove_all(w, ".");
                sl_push(&words, w, strlen(w));
                free(w);
            }
        }
    }
    const char *pick[3];
    int n = 0;
    for (int i = words.n - 1; i >= 0 && n < 3; i--)
        if (is_yes_no(words.s[i])) pick[n++] = words.s[i];
    char *res = NULL;
    if (n > 0) {
        hflow_strbuf b;
        hflow_strbuf_init(&b);
        for (int i = n - 1; i >= 0; i--) hflow_strbuf_printf(&b, "%s%s", pick[i], i ? ", " : "");
        res = hflow_strbuf_take(&b);
    }
    sl_free(&bold);
    sl_free(&words);
    return res;
}

/* The plain-text triple ("yes, no, yes") whose first occurrence is latest. */
static char *wol_from_plain(const char *output) {
    static const char *w[] = {"yes", "no", "unknown"};
    char *low = ev_lower_n(output, strlen(output));
    if (!low) return NULL;
    char best[40] = "";
    long best_idx = -1;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++) {
                char comb[40];
                snprintf(comb, sizeof comb, "%s, %s, %s", w[a], w[b], w[c]);
                const char *p = strstr(low, comb);
                if (p && p - low > best_idx) {
                    best_idx = p - low;
                    snprintf(best, sizeof best, "%s", comb);
                }
            }
    free(low);
    return best_idx >= 0 ? ev_strdup(best) : NULL;
}

double hflow_livebench_web_of_lies_score(const char *gold, const char *output) {
    if (!gold || !output) return 0;
    char *parsed = NULL;
    strlist m = {0};
    find_tagged(output, "<solution>", "</solution>", &m);
    if (m.n == 0) find_tagged(output, "</solution>", "</solution>", &m);
    if (m.n > 0) parsed = ev_strdup(m.s[m.n - 1]);
    sl_free(&m);
    if (!parsed) parsed = wol_from_bold(output);
    int blank = 1;
    for (const char *p = parsed; p && *p; p++) blank &= isspace((unsigned char)*p) != 0;
    if (!parsed || blank) {
        /* \textbf{...} is read as a boxed answer */
        hflow_strbuf b;
        hflow_strbuf_init(&b);
        for (const char *p = output; *p;) {
            if (!strncmp(p, "\\textbf{", 8)) { hflow_strbuf_puts(&b, "\\boxed{"); p += 8; }
            else hflow_strbuf_putc(&b, *p++);
        }
        const char *bs;
        size_t bn;
        if (b.data && ev_last_boxed(b.data, &bs, &bn) >= 0) {
            free(parsed);
            parsed = malloc(bn + 1);
            if (parsed) { memcpy(parsed, bs, bn); parsed[bn] = '\0'; }
        }
        hflow_strbuf_free(&b);
    }
    if (!parsed) parsed = wol_from_plain(output);
    double score = 0;
    char *g = ev_lower_n(gold, strlen(gold));
    if (parsed && g) {
        if (!strcmp(parsed, g)) score = 1;
        if (ev_count(parsed, "yes") + ev_count(parsed, "no") + ev_count(parsed, "unknown") == 3 && strstr(parsed, g))
            score = 1;
    }
    free(g);
    free(parsed);
    return score;
}
