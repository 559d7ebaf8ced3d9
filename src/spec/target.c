/* target.c - the cloud side of a speculative session.
 *
 * The context lives in an engine session, except for one "pending" token: the
 * last token the target decided (a correction or bonus) or the prompt's last
 * token. Each verify feeds [pending, d_1..d_k] in one batched forward with
 * logits for all k+1 positions - row i predicts d_{i+1}, row k the bonus - so a
 * round costs only its new tokens, then truncates the cache to drop the
 * rejected drafts. Sampling uses the same distribution the engine's sampler
 * draws from (hflow_sampler_probs), which is what makes the speculative output
 * distribution exactly the target's. */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "hybridflow/engine.h"
#include "hybridflow/spec.h"

struct hflow_spec_target {
    hflow_session *sess;
    hflow_sampler *sampler;
    hflow_spec_params p;
    const hflow_vocab *vocab;
    int32_t n_vocab;
    int32_t pending;
    uint64_t rng;
    float *probs;   /* [(MAX_K+1) * n_vocab] */
    float *scratch; /* [n_vocab] */
};

void hflow_spec_target_free(hflow_spec_target *t) {
    if (!t) return;
    hflow_session_free(t->sess);
    hflow_sampler_free(t->sampler);
    free(t->probs);
    free(t->scratch);
    free(t);
}

int hflow_spec_target_create(hflow_model *m, const int32_t *prompt, int32_t n_prompt, const hflow_spec_params *p,
                             hflow_spec_target **out, hflow_error *err) {
    *out = NULL;
    if (!m || !prompt || n_prompt < 1) return hflow_error_set(err, HFLOW_EINVAL, "spec session: empty prompt");
    hflow_spec_target *t = calloc(1, sizeof *t);
    if (!t) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    hflow_spec_params_default(&t->p);
    if (p) t->p = *p;
    t->n_vocab = hflow_model_get_info(m)->n_vocab;
    t->vocab = hflow_model_vocab(m);
    for (int32_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= t->n_vocab) {
            hflow_spec_target_free(t);
            return hflow_error_set(err, HFLOW_ERANGE, "prompt token %d at %d is outside the vocabulary", prompt[i], i);
        }
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = t->p.temperature;
    sp.top_k = t->p.top_k;
    sp.top_p = t->p.top_p;
    sp.seed = t->p.seed;
    t->sampler = hflow_sampler_create(&sp, t->n_vocab);
    t->probs = malloc((size_t)(HFLOW_SPEC_MAX_K + 1) * (size_t)t->n_vocab * sizeof(float));
    t->scratch = malloc((size_t)t->n_vocab * sizeof(float));
    t->rng = hflow_spec_seed(t->p.seed);
    int rc = (!t->sampler || !t->probs || !t->scratch) ? hflow_error_set(err, HFLOW_ENOMEM, "out of memory") : 0;
    if (!rc) rc = hflow_session_create(m, NULL, &t->sess, err);
    if (!rc && n_prompt > 1) rc = hflow_session_decode(t->sess, prompt, n_prompt - 1, HFLOW_LOGITS_NONE, err);
    if (rc) {
        hflow_spec_target_free(t);
        return rc;
    }
    t->pending = prompt[n_prompt - 1];
    *out = t;
    return 0;
}

int32_t hflow_spec_target_n_tokens(const hflow_spec_target *t) { return hflow_session_n_past(t->sess) + 1; }

int hflow_spec_target_verify(hflow_spec_target *t, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q,
                             hflow_spec_verdict *out, double *t_forward_s, hflow_error *err) {
    if (k < 0 || k > HFLOW_SPEC_MAX_K)
        return hflow_error_set(err, HFLOW_EINVAL, "draft length %d outside 0..%d", k, HFLOW_SPEC_MAX_K);
    if (k > 0 && !draft) return hflow_error_set(err, HFLOW_EINVAL, "draft tokens missing");
    if (t->p.temperature > 0 && k > 0 && !q)
        return hflow_error_set(err, HFLOW_EINVAL, "sampling session: the draft's probabilities are required");
    int32_t toks[HFLOW_SPEC_MAX_K + 1];
    toks[0] = t->pending;
    if (k) memcpy(toks + 1, draft, (size_t)k * sizeof *draft);
    int32_t n_before = hflow_session_n_past(t->sess);
    double t0 = hflow_now_s();
    int rc = hflow_session_decode(t->sess, toks, k + 1, HFLOW_LOGITS_ALL, err);
    if (rc) return rc;
    if (t_forward_s) *t_forward_s = hflow_now_s() - t0;
    size_t V = (size_t)t->n_vocab;
    if (t->p.temperature <= 0) {
        for (int32_t r = 0; r <= k; r++) memcpy(t->probs + r * V, hflow_session_logits(t->sess, r), V * sizeof(float));
        hflow_spec_accept_greedy(draft, k, t->probs, t->n_vocab, out);
    } else {
        for (int32_t r = 0; r <= k; r++) hflow_sampler_probs(t->sampler, hflow_session_logits(t->sess, r), t->probs + r * V);
        rc = hflow_spec_accept_sampled(draft, q, k, t->probs, t->n_vocab, &t->rng, t->scratch, out, err);
        if (rc) {
            hflow_session_truncate(t->sess, n_before, NULL);
            return rc;
        }
    }
    rc = hflow_session_truncate(t->sess, n_before + 1 + out->n_accepted, err);
    if (rc) return rc;
    t->pending = out->next_token;
    return 0;
}

/* Plain generation (the k = 0 fallback): the same choice the target makes for
 * a bonus token - argmax, or a draw from hflow_sampler_probs with the session's
 * generator - one token at a time, each becoming the new pending token. */
int hflow_spec_target_generate(hflow_spec_target *t, int32_t n, hflow_spec_token_cb cb, void *user, int32_t *n_out,
                               double *t_forward_s, hflow_error *err) {
    if (n_out) *n_out = 0;
    if (t_forward_s) *t_forward_s = 0;
    if (n < 1) return hflow_error_set(err, HFLOW_EINVAL, "generate: n must be >= 1 (got %d)", n);
    for (int32_t i = 0; i < n; i++) {
        double t0 = hflow_now_s();
        int rc = hflow_session_decode(t->sess, &t->pending, 1, HFLOW_LOGITS_LAST, err);
        if (rc) return rc;
        const float *logits = hflow_session_logits(t->sess, 0);
        int32_t tok;
        if (t->p.temperature <= 0) {
            tok = hflow_argmax(logits, t->n_vocab);
        } else {
            hflow_sampler_probs(t->sampler, logits, t->probs);
            tok = hflow_spec_draw(t->probs, t->n_vocab, hflow_spec_rand(&t->rng));
        }
        t->pending = tok;
        double dt = hflow_now_s() - t0;
        if (t_forward_s) *t_forward_s += dt;
        if (n_out) (*n_out)++;
        if (cb && cb(user, tok, dt)) return 0;
        if (hflow_vocab_is_eog(t->vocab, tok)) return 0;
    }
    return 0;
}
