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

int tu_ref_teacher_force(hflow_model *m, const tu_ref_case *c, float min_gap, float rel_tol, tu_tf_result *r) {
    memset(r, 0, sizeof *r);
    r->gross_step = -1;
    int n = c->n_prompt + c->n_steps - 1;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    int32_t n_vocab = hflow_model_get_info(m)->n_vocab;
    float *lsm = malloc((size_t)n_vocab * sizeof *lsm);
    hflow_session *s = NULL;
    hflow_session_params sp = {.n_ctx = n};
    hflow_error err;
    int rc = ids && lsm ? hflow_session_create(m, &sp, &s, &err) : HFLOW_ENOMEM;
    if (rc) goto done;
    memcpy(ids, c->prompt_ids, (size_t)c->n_prompt * sizeof *ids);
    for (int i = 0; i + 1 < c->n_steps; i++) ids[c->n_prompt + i] = c->steps[i].token;
    if ((rc = hflow_session_decode(s, ids, n, HFLOW_LOGITS_ALL, &err))) {
        print_message("decode failed: %s\n", err.message);
        goto done;
    }
    for (int i = 0; i < c->n_steps; i++) {
        const float *logits = hflow_session_logits(s, c->n_prompt - 1 + i);
        const tu_ref_step *st = &c->steps[i];
        hflow_log_softmax(logits, n_vocab, lsm);
        float step_max = 0.0f;
        for (int j = 0; j < st->n_top; j++) {
            float d = fabsf(lsm[st->top_ids[j]] - st->top_lp[j]);
            if (d > step_max) step_max = d;
        }
        if (step_max > 1.0f) {
            r->gross_step = i;
            break;
        }
        r->n_steps++;
        for (int j = 0; j < st->n_top; j++) {
            float e = fabsf(lsm[st->top_ids[j]] - st->top_lp[j]) - rel_tol * fabsf(st->top_lp[j]);
            if (e > r->max_err) {
                r->max_err = e;
                r->worst_step = i;
            }
        }
        if (tu_ref_top_gap(st) >= min_gap) {
            r->argmax_checked++;
            if (hflow_argmax(logits, n_vocab) != st->top_ids[0]) r->argmax_bad++;
        }
    }
done:
    hflow_session_free(s);
    free(lsm);
    free(ids);
    return rc;
}
