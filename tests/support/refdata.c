/* refdata.c - reference decoding reader (cJSON). */
#include "refdata.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *dup_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int parse_step(const cJSON *js, tu_ref_step *st) {
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(js, "token");
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(js, "logprob");
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(js, "top");
    if (!cJSON_IsNumber(tok) || !cJSON_IsNumber(lp) || !cJSON_IsArray(top)) return -1;
    st->token = tok->valueint;
    st->logprob = (float)lp->valuedouble;
    st->n_top = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, top) {
        if (st->n_top == TU_REF_TOP || cJSON_GetArraySize(pair) != 2) return -1;
        st->top_ids[st->n_top] = cJSON_GetArrayItem(pair, 0)->valueint;
        st->top_lp[st->n_top] = (float)cJSON_GetArrayItem(pair, 1)->valuedouble;
        st->n_top++;
    }
    return st->n_top >= 2 ? 0 : -1;
}

static int parse_case(const char *line, tu_ref_case *c) {
    cJSON *o = cJSON_Parse(line);
    if (!o) return -1;
    int rc = -1;
    c->model = dup_str(o, "model");
    c->prompt = dup_str(o, "prompt");
    c->greedy_text = dup_str(o, "greedy_text");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "prompt_tokens_with_bos");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(o, "steps");
    if (!c->prompt || !cJSON_IsArray(ids) || !cJSON_IsArray(steps)) goto done;
    c->n_prompt = cJSON_GetArraySize(ids);
    c->n_steps = cJSON_GetArraySize(steps);
    c->prompt_ids = calloc((size_t)c->n_prompt + 1, sizeof *c->prompt_ids);
    c->steps = calloc((size_t)c->n_steps + 1, sizeof *c->steps);
    if (!c->prompt_ids || !c->steps) goto done;
    for (int i = 0; i < c->n_prompt; i++) c->prompt_ids[i] = cJSON_GetArrayItem(ids, i)->valueint;
    for (int i = 0; i < c->n_steps; i++)
        if (parse_step(cJSON_GetArrayItem(steps, i), &c->steps[i])) goto done;
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

int tu_ref_load(const char *path, tu_ref_case **out) {
    char *text = tu_read_file(path, NULL);
    if (!text) return -1;
    tu_ref_case *cases = NULL;
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        tu_ref_case *p = realloc(cases, (size_t)(n + 1) * sizeof *cases);
        if (!p) break;
        cases = p;
        memset(&cases[n], 0, sizeof cases[n]);
        if (parse_case(line, &cases[n++])) {
            tu_ref_free(cases, n);
            free(text);
            return -1;
        }
    }
    free(text);
    *out = cases;
    return n > 0 ? n : -1;
}

void tu_ref_free(tu_ref_case *cases, int n) {
    for (int i = 0; cases && i < n; i++) {
        free(cases[i].model);
        free(cases[i].prompt);
        free(cases[i].greedy_text);
        free(cases[i].prompt_ids);
        free(cases[i].steps);
    }
    free(cases);
}

float tu_ref_top_gap(const tu_ref_step *st) { return st->top_lp[0] - st->top_lp[1]; }

/* ---- the tokens the reference generated ----
 * llama.cpp's server, which wrote the reference files while streaming, holds a
 * token back while the generated text ends in an incomplete UTF-8 sequence (a
 * lead byte among the last four bytes with fewer bytes after it than its
 * sequence needs), and never reports the probabilities of a held token. Such
 * tokens are missing from "steps": the next reported step predicts after them.
 * Random-weight models pick byte tokens often, so this happens (ref-2L-256-f32
 * "The little dog...": <0xDF> after step 5, then <0x8F> is reported as step 6).
 * The reference decoded greedily, so a missing token is our own argmax at that
 * position; the comparison at the next reported step checks the rebuilt token
 * (a wrong one disagrees by many nats there). */

typedef struct text_tail {
    unsigned char b[4]; /* the last bytes of the generated text */
    int n;
} text_tail;

static void tail_push(text_tail *t, const hflow_vocab *v, int32_t id) {
    char small[64], *buf = small;
    int n = hflow_token_to_piece(v, id, 0, small, sizeof small);
    if (n > (int)sizeof small && (buf = malloc((size_t)n)) != NULL) n = hflow_token_to_piece(v, id, 0, buf, n);
    for (int i = 0; buf && i < n; i++) {
        if (t->n == 4) memmove(t->b, t->b + 1, 3), t->n = 3;
        t->b[t->n++] = (unsigned char)buf[i];
    }
    if (buf != small) free(buf);
}

static int tail_incomplete(const text_tail *t) {
    for (int i = 1; i <= t->n; i++) {
        unsigned char c = t->b[t->n - i];
        int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (need && i < need) return 1;
    }
    return 0;
}

static int held_back(const text_tail *t, const hflow_vocab *v, int32_t id) {
    text_tail u = *t;
    tail_push(&u, v, id);
    return tail_incomplete(&u);
}

/* Fills ids[0..*n_ids) with the prompt and every token the reference
 * generated, held ones rebuilt, and step_pos[i] with the position whose logits
 * predict step i. ids has room for n_prompt + 4 * n_steps. */
static void compare_step(const float *logits, float *lsm, int32_t n_vocab, const tu_ref_step *st, int i, float min_gap,
                         float rel_tol, tu_tf_result *r) {
    hflow_log_softmax(logits, n_vocab, lsm);
    float step_max = 0.0f;
    for (int j = 0; j < st->n_top; j++) {
        float d = fabsf(lsm[st->top_ids[j]] - st->top_lp[j]);
        if (d > step_max) step_max = d;
        float e = d - rel_tol * fabsf(st->top_lp[j]);
        if (e > r->max_err) {
            r->max_err = e;
            r->worst_step = i;
        }
    }
    if (step_max > 1.0f && r->gross_step < 0) r->gross_step = i;
    if (getenv("HFLOW_REF_VERBOSE")) { /* per-step detail when investigating a disagreement */
        print_message("  step %2d token %3d max |dlogprob| %.2e:", i, st->token, step_max);
        for (int j = 0; j < st->n_top; j++) print_message(" %d %.4f/%.4f", st->top_ids[j], st->top_lp[j], lsm[st->top_ids[j]]);
        print_message("\n");
    }
    r->n_steps++;
    if (tu_ref_top_gap(st) >= min_gap) {
        r->argmax_checked++;
        if (hflow_argmax(logits, n_vocab) != st->top_ids[0]) r->argmax_bad++;
    }
}

/* Decodes as llama.cpp's server did: the prompt in one batch, then one token
 * at a time (its CPU backend sums in a different order for a batch than for
 * one token), comparing each step's logits as soon as they exist. Held-back
 * tokens are rebuilt from our greedy choice (the reference is greedy): the
 * next step's comparison verifies each. */
int tu_ref_teacher_force(hflow_model *m, const tu_ref_case *c, int numerics, float min_gap, float rel_tol,
                         tu_tf_result *r) {
    memset(r, 0, sizeof *r);
    r->gross_step = -1;
    const hflow_vocab *v = hflow_model_vocab(m);
    int32_t n_vocab = hflow_model_get_info(m)->n_vocab;
    float *lsm = malloc((size_t)n_vocab * sizeof *lsm);
    hflow_session_params sp = {.n_ctx = c->n_prompt + 4 * c->n_steps, .numerics = numerics};
    hflow_session *s = NULL;
    hflow_error err;
    int rc = lsm ? hflow_session_create(m, &sp, &s, &err) : HFLOW_ENOMEM;
    text_tail tail = {{0}, 0};
    if (!rc) rc = hflow_session_decode(s, c->prompt_ids, c->n_prompt, HFLOW_LOGITS_LAST, &err);
    for (int i = 0; !rc && i < c->n_steps; i++) {
        for (int held = 0; !rc && held < 3; held++) { /* a UTF-8 sequence holds back at most 3 tokens */
            int32_t g = hflow_argmax(hflow_session_logits(s, 0), n_vocab);
            if (g == c->steps[i].token || !held_back(&tail, v, g)) break;
            tail_push(&tail, v, g);
            if (getenv("HFLOW_REF_VERBOSE")) print_message("  before step %d: rebuilt held-back token %d\n", i, g);
            r->n_held++;
            rc = hflow_session_decode(s, &g, 1, HFLOW_LOGITS_LAST, &err);
        }
        if (rc) break;
        compare_step(hflow_session_logits(s, 0), lsm, n_vocab, &c->steps[i], i, min_gap, rel_tol, r);
        tail_push(&tail, v, c->steps[i].token);
        if (i + 1 < c->n_steps) rc = hflow_session_decode(s, &c->steps[i].token, 1, HFLOW_LOGITS_LAST, &err);
    }
    if (rc && s) print_message("decode failed: %s\n", err.message);
    hflow_session_free(s);
    free(lsm);
    return rc;
}
