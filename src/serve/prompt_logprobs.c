/* prompt_logprobs.c - echoed prompt tokens with their logprobs (see the header). */
#include "serve/prompt_logprobs.h"

#include <stdlib.h>
#include <string.h>

#include "hybridflow/sample.h"
#include "hybridflow/tokenizer.h"
#include "serve/openai_format.h"
#include "serve/request_parse.h"

/* rows x vocabulary floats of all-position logits per forward, at most */
#define MAX_LOGIT_FLOATS (16 * 1024 * 1024)

struct serve_prompt_lp_cache {
    int32_t *tokens;          /* the tokens entries were computed for */
    hflow_token_logprobs *lp; /* lp[i], i in [1, n): prompt token i given tokens < i */
    int32_t n, cap;
    int n_top;                /* alternatives kept per entry */
};

void serve_prompt_lp_cache_free(serve_prompt_lp_cache *c) {
    if (!c) return;
    free(c->tokens);
    free(c->lp);
    free(c);
}

static int cache_reserve(serve_prompt_lp_cache *c, int32_t n) {
    if (n <= c->cap) return 0;
    int32_t *t = realloc(c->tokens, (size_t)n * sizeof *t);
    if (!t) return HFLOW_ENOMEM;
    c->tokens = t;
    hflow_token_logprobs *lp = realloc(c->lp, (size_t)n * sizeof *lp);
    if (!lp) return HFLOW_ENOMEM;
    c->lp = lp;
    c->cap = n;
    return 0;
}

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    int32_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

/* Evaluates prompt[from..n) on the session (which holds prompt[0..from)) with
 * all-position logits, filling the entries the rows predict: row r (position
 * from + r) predicts prompt token from + r + 1. */
static int evaluate(hflow_session *s, serve_prompt_lp_cache *c, const int32_t *prompt, int32_t from, int32_t n,
                    hflow_error *err) {
    int32_t V = hflow_model_get_info(hflow_session_model(s))->n_vocab;
    float *lsm = malloc((size_t)V * sizeof *lsm);
    if (!lsm) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int32_t chunk = MAX_LOGIT_FLOATS / V > 0 ? MAX_LOGIT_FLOATS / V : 1;
    int rc = 0;
    for (int32_t at = from; !rc && at < n; at += chunk) {
        int32_t m = n - at < chunk ? n - at : chunk;
        rc = hflow_session_decode(s, prompt + at, m, HFLOW_LOGITS_ALL, err);
        for (int32_t r = 0; !rc && r < m && at + r + 1 < n; r++) {
            int32_t i = at + r + 1;
            hflow_token_logprobs_fill(hflow_session_logits(s, r), V, prompt[i], c->n_top, lsm, &c->lp[i]);
        }
    }
    free(lsm);
    return rc;
}

/* Appends the JSON entries; text offsets follow the echoed text (the same
 * streaming detokenizer that renders it). */
static void render(const hflow_vocab *v, const serve_prompt_lp_cache *c, const int32_t *prompt, int32_t n, int n_top,
                   int ids_as_tokens, cJSON *lps) {
    hflow_detok d;
    hflow_detok_init(&d, v, 0);
    size_t off = 0;
    char text[512];
    for (int32_t i = 0; i < n; i++) {
        if (i == 0) serve_logprobs_add_unscored(lps, v, prompt[0], off, ids_as_tokens);
        else serve_logprobs_add(lps, SERVE_COMPLETION, v, &c->lp[i], n_top, off, ids_as_tokens);
        int w = hflow_detok_push(&d, prompt[i], text, sizeof text);
        if (w > 0) off += (size_t)w;
    }
}

int serve_prompt_logprobs(hflow_session *s, serve_prompt_lp_cache **cache, const int32_t *prompt, int32_t n,
                          int n_top, int ids_as_tokens, cJSON *lps, int32_t *n_reused, hflow_error *err) {
    *n_reused = 0;
    if (n < 1) return hflow_error_set(err, HFLOW_EINVAL, "empty prompt");
    if (!*cache && !(*cache = calloc(1, sizeof **cache))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    serve_prompt_lp_cache *c = *cache;
    if (cache_reserve(c, n)) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    /* entries [1, valid) are reusable; the forward restarts at the first
     * position whose logits are missing: valid - 1 (its row predicts `valid`) */
    int32_t valid = n_top <= c->n_top ? common_prefix(c->tokens, c->n, prompt, n) : 0;
    int32_t from = valid > 0 ? valid - 1 : 0;
    int32_t kv = hflow_session_common_prefix(s, prompt, n);
    if (from > kv) from = kv;
    if (valid == 0) c->n_top = n_top;
    int rc = hflow_session_truncate(s, from, err);
    /* the cached copy shrinks to what stays valid before anything can fail */
    c->n = from + 1 < valid ? from + 1 : valid;
    if (!rc) rc = evaluate(s, c, prompt, from, n, err);
    if (rc) return rc;
    memcpy(c->tokens, prompt, (size_t)n * sizeof *prompt);
    c->n = n;
    *n_reused = from;
    render(hflow_model_vocab(hflow_session_model(s)), c, prompt, n, n_top, ids_as_tokens, lps);
    return 0;
}
