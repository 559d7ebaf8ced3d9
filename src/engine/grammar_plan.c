/* grammar_plan.c - the plan format as a byte machine (grammar.h):
 *
 *   <Plan>\n(<Step ID="k" Task="T" Rely="R" Difficulty="d" Token="n"/>\n){1,max}</Plan>
 *
 * A step is a fixed sequence of phases; fixed text (tag names, attribute
 * names, the ID the machine itself numbers) is a literal the model must copy,
 * so only Task, Rely, Difficulty and Token are the model's choice. Each free
 * field only admits bytes after which the field can still be finished, so
 * the machine has no dead ends: a space cannot be the last Task byte, a
 * Rely number prefix must extend to an earlier, larger-than-last ID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/grammar.h"

enum phase {
    P_OPEN,      /* "<Plan>\n" */
    P_LT,        /* "<" before a step or the closing tag */
    P_CHOOSE,    /* 'S' (another step) or '/' (close) */
    P_STEP_HEAD, /* "tep ID=\"" */
    P_ID,        /* the step's number, forced */
    P_TASK_HEAD, /* "\" Task=\"" */
    P_TASK,
    P_RELY_HEAD, /* " Rely=\"" */
    P_RELY,
    P_DIFF_HEAD, /* " Difficulty=\"" */
    P_DIFF,
    P_TOK_HEAD,  /* "\" Token=\"" */
    P_TOK,
    P_TAIL,      /* "/>\n" */
    P_CLOSE,     /* "Plan>" */
    P_DONE
};

/* Literal text of each literal phase, and the phase that follows it. */
static const char *const LIT[] = {
    [P_OPEN] = "<Plan>\n",          [P_LT] = "<",         [P_STEP_HEAD] = "tep ID=\"",
    [P_TASK_HEAD] = "\" Task=\"",   [P_RELY_HEAD] = " Rely=\"", [P_DIFF_HEAD] = " Difficulty=\"",
    [P_TOK_HEAD] = "\" Token=\"",   [P_TAIL] = "/>\n",    [P_CLOSE] = "Plan>",
};
static const uint8_t LIT_NEXT[] = {
    [P_OPEN] = P_LT,       [P_LT] = P_CHOOSE,     [P_STEP_HEAD] = P_ID,  [P_TASK_HEAD] = P_TASK,
    [P_RELY_HEAD] = P_RELY, [P_DIFF_HEAD] = P_DIFF, [P_TOK_HEAD] = P_TOK, [P_TAIL] = P_LT,
    [P_CLOSE] = P_DONE,
};

typedef struct plan_state {
    uint8_t phase;
    uint8_t pos;       /* bytes of the current literal (or ID) written */
    uint8_t step;      /* the current step's ID (steps started) */
    uint8_t n;         /* bytes of Task / digits of Token written */
    uint8_t last_space; /* the last Task byte was a space */
    uint8_t rely_last; /* last complete Rely ID, 0 for none */
    uint8_t rely_cur;  /* Rely number being written, 0 when none */
    uint8_t rely_comma; /* a comma was just written: a number must follow */
} plan_state;

void hflow_plan_grammar_default(hflow_plan_grammar_params *p) {
    p->max_steps = 8;
    p->max_task_bytes = 120;
    p->max_token_digits = 4;
}

static void plan_init(const void *config, void *state) {
    (void)config;
    memset(state, 0, sizeof(plan_state));
}

static int plan_accepting(const void *config, const void *state) {
    (void)config;
    return ((const plan_state *)state)->phase == P_DONE;
}

static int is_literal(int phase) { return phase < P_DONE && LIT[phase] != NULL; }

static void enter(plan_state *s, int phase) {
    s->phase = (uint8_t)phase;
    s->pos = 0;
    s->n = 0;
}

/* Whether some ID in (last, max] starts with the digits of v. */
static int rely_viable(int v, int last, int max) {
    for (long lo = v, span = 1; lo <= max; lo *= 10, span *= 10)
        if (lo + span - 1 > last) return 1;
    return 0;
}

static int task_byte(const hflow_plan_grammar_params *p, plan_state *s, unsigned char c) {
    if (c == '"') {
        if (s->n == 0 || s->last_space) return 0;
        enter(s, P_RELY_HEAD);
        return 1;
    }
    if (c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&') return 0;
    /* a space needs room for a non-space after it */
    if (c == ' ' && s->n + 2 > p->max_task_bytes) return 0;
    /* a task starts with a letter or digit (not with punctuation left over from the prompt) */
    if (s->n == 0 && !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return 0;
    if (s->n >= p->max_task_bytes) return 0;
    s->n++;
    s->last_space = c == ' ';
    return 1;
}

static int rely_byte(plan_state *s, unsigned char c) {
    int max = s->step - 1;
    if (c >= '0' && c <= '9') {
        if (s->rely_cur == 0 && c == '0') return 0; /* no leading zeros */
        int v = s->rely_cur * 10 + (c - '0');
        if (v > 255 || !rely_viable(v, s->rely_last, max)) return 0;
        s->rely_cur = (uint8_t)v;
        s->rely_comma = 0;
        return 1;
    }
    int complete = s->rely_cur > s->rely_last && s->rely_cur <= max;
    if (c == ',' && complete && s->rely_cur < max) { /* a larger earlier ID must remain */
        s->rely_last = s->rely_cur;
        s->rely_cur = 0;
        s->rely_comma = 1;
        return 1;
    }
    if (c == '"' && (complete || (s->rely_cur == 0 && !s->rely_comma))) {
        enter(s, P_DIFF_HEAD);
        return 1;
    }
    return 0;
}

static int tok_byte(const hflow_plan_grammar_params *p, plan_state *s, unsigned char c) {
    if (c == '"' && s->n > 0) {
        enter(s, P_TAIL);
        return 1;
    }
    if (c < '0' || c > '9' || (c == '0' && s->n == 0) || s->n >= p->max_token_digits) return 0;
    s->n++;
    return 1;
}

static int plan_step(const void *config, void *state, unsigned char c) {
    const hflow_plan_grammar_params *p = config;
    plan_state *s = state;
    int ph = s->phase;
    if (is_literal(ph)) {
        if ((unsigned char)LIT[ph][s->pos] != c) return 0;
        if (LIT[ph][++s->pos] == '\0') enter(s, LIT_NEXT[ph]);
        return 1;
    }
    switch (ph) {
    case P_CHOOSE:
        if (c == 'S' && s->step < p->max_steps) {
            s->step++;
            s->rely_last = s->rely_cur = s->rely_comma = 0;
            s->last_space = 0;
            enter(s, P_STEP_HEAD);
            return 1;
        }
        if (c == '/' && s->step >= 1) {
            enter(s, P_CLOSE);
            return 1;
        }
        return 0;
    case P_ID: {
        char id[8];
        int len = snprintf(id, sizeof id, "%d", s->step);
        if ((unsigned char)id[s->pos] != c) return 0;
        if (++s->pos == len) enter(s, P_TASK_HEAD);
        return 1;
    }
    case P_TASK: return task_byte(p, s, c);
    case P_RELY: return rely_byte(s, c);
    case P_DIFF:
        if (c < '1' || c > '9') return 0;
        enter(s, P_TOK_HEAD);
        return 1;
    case P_TOK: return tok_byte(p, s, c);
    default: return 0; /* P_DONE: nothing may follow */
    }
}

static const hflow_byte_machine PLAN_MACHINE = {
    "plan", sizeof(plan_state), sizeof(hflow_plan_grammar_params), plan_init, plan_step, plan_accepting,
};

const hflow_byte_machine *hflow_plan_machine(void) { return &PLAN_MACHINE; }

int hflow_grammar_create_plan(const hflow_plan_grammar_params *p, const hflow_token_texts *texts,
                              hflow_grammar **out, hflow_error *err) {
    hflow_plan_grammar_params d;
    hflow_plan_grammar_default(&d);
    if (!p) p = &d;
    if (p->max_steps < 1 || p->max_steps > 99 || p->max_task_bytes < 2 || p->max_task_bytes > 250 ||
        p->max_token_digits < 1 || p->max_token_digits > 6) {
        *out = NULL;
        return hflow_error_set(err, HFLOW_EINVAL, "plan grammar: parameters out of range");
    }
    return hflow_grammar_create(&PLAN_MACHINE, p, texts, out, err);
}
