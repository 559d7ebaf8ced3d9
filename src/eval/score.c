/* score.c - one entry point that scores an output with its item's rule:
 * option letter, integer, LiveBench task, or a normalised text / list match. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "eval/extract_internal.h"
#include "hybridflow/eval.h"

/* The final answer span of free text: \boxed{}, else after the last
 * "answer:"/"answer is" to the line end, else the last **bold**, else the last line. */
static char *final_text_answer(const char *out) {
    const char *bs, *s = NULL;
    size_t bn, n = strlen(out), sn = 0;
    if (ev_last_boxed(out, &bs, &bn) >= 0) { s = bs; sn = bn; }
    if (!s) {
        const char *last = NULL;
        for (const char *p = ev_memcasestr(out, n, "answer"); p; p = ev_memcasestr(p + 1, n - (size_t)(p + 1 - out), "answer")) {
            const char *q = p + 6;
            while (*q == ' ' || *q == '*') q++;
            if (*q == ':') q++;
            else if (!strncasecmp(q, "is", 2) && !isalpha((unsigned char)q[2])) q += 2;
            else continue;
            last = q;
        }
        if (last) { s = last; sn = strcspn(last, "\n"); }
    }
    if (!s) {
        const char *b = NULL, *p = out;
        while ((p = strstr(p, "**")) != NULL) {
            const char *e = strstr(p + 2, "**");
            if (!e) break;
            if (e > p + 2) { b = p + 2; sn = (size_t)(e - p - 2); }
            p = e + 2;
        }
        s = b;
    }
    if (!s && !ev_last_line(out, &s, &sn)) return NULL;
    return ev_lower_n(s, sn);
}

/* Lower-case, drop markup ($ * \text{ } { }) and edge punctuation, squeeze spaces. */
static void normalize(char *s) {
    static const char *drop[] = {"\\text{", "\\mathrm{", "\\textbf{", "$", "*", "{", "}", "`"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        size_t n = strlen(drop[i]);
        for (char *p; (p = strstr(s, drop[i])) != NULL;) memmove(p, p + n, strlen(p + n) + 1);
    }
    for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
    ev_trim(s);
    size_t n = strlen(s);
    while (n && strchr(".,;:!?\"'", s[n - 1])) s[--n] = '\0';
    while (*s && strchr(".,;:!?\"'", *s)) memmove(s, s + 1, strlen(s));
    ev_trim(s);
    char *w = s;
    for (char *r = s; *r; r++)
        if (!(isspace((unsigned char)*r) && (w == s || w[-1] == ' '))) *w++ = isspace((unsigned char)*r) ? ' ' : *r;
    *w = '\0';
    ev_trim(s);
}

static int lists_equal(const char *a, const char *b) {
    char *x = ev_strdup(a), *y = ev_strdup(b);
    int eq = x && y;
    char *sx = x, *sy = y;
    while (eq) {
        char *cx = strchr(sx, ','), *cy = strchr(sy, ',');
        if (cx) *cx = '\0';
        if (cy) *cy = '\0';
        normalize(sx);
        normalize(sy);
        if (strcmp(sx, sy) != 0 || (!cx) != (!cy)) eq = 0;
        if (!cx || !cy) break;
        sx = cx + 1;
        sy = cy + 1;
    }
    free(x);
    free(y);
    return eq;
}

static void score_text(const hflow_eval_item *it, const char *output, hflow_eval_score *out) {
    char *ans = final_text_answer(output);
    if (!ans) return;
    snprintf(out->extracted, sizeof out->extracted, "%s", ans);
    ev_trim(out->extracted);
    if (it->answer_type == HFLOW_ANSWER_LIST) {
        out->score = lists_equal(ans, it->gold) ? 1 : 0;
    } else {
        char *g = ev_strdup(it->gold);
        if (g) {
            normalize(g);
            normalize(ans);
            out->score = !strcmp(g, ans);
        }
        free(g);
    }
    free(ans);
}

void hflow_eval_score_output(const hflow_eval_item *it, const char *output, hflow_eval_score *out) {
    memset(out, 0, sizeof *out);
    if (!it || !output) return;
    if (it->task && !strcmp(it->task, "zebra_puzzle")) {
        out->score = hflow_livebench_zebra_score(it->gold, output);
    } else if (it->task && !strcmp(it->task, "spatial")) {
        out->score = hflow_livebench_spatial_score(it->gold, output);
    } else if (it->task && !strcmp(it->task, "web_of_lies_v2")) {
        out->score = hflow_livebench_web_of_lies_score(it->gold, output);
    } else if (it->answer_type == HFLOW_ANSWER_LETTER) {
        char c = hflow_extract_choice(output, (const char *const *)it->options, it->n_options);
        if (c) out->extracted[0] = c;
        out->score = c && it->gold && c == it->gold[0] && it->gold[1] == '\0';
    } else if (it->answer_type == HFLOW_ANSWER_INTEGER) {
        long v, g;
        if (hflow_extract_integer(output, &v)) {
            snprintf(out->extracted, sizeof out->extracted, "%ld", v);
            out->score = hflow_extract_integer(it->gold, &g) && g == v;
        }
    } else {
        score_text(it, output, out);
    }
    if (it->task && !out->extracted[0]) {
        /* for the record only: LiveBench rules above decided the score */
        char *ans = final_text_answer(output);
        if (ans) snprintf(out->extracted, sizeof out->extracted, "%s", ev_trim(ans));
        free(ans);
    }
    out->correct = out->score >= 1.0;
}
