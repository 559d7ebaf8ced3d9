/* edge.c - the edge's speculative decoding loop.
 *
 * Invariant at the start of every round: the draft session's cache holds every
 * committed token and its last logits predict the next one. A round drafts k
 * tokens (feeding all but the last back into the draft), sends them to the
 * target, commits the accepted prefix plus the target's token, and restores
 * the invariant by truncating the draft cache and feeding at most two tokens.
 * When sampling, each draft token is drawn from the draft's distribution
 * truncated to its top-K, and exactly that distribution is sent, so the
 * target's rejection sampling keeps the output distribution the target's own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "hybridflow/engine.h"
#include "hybridflow/spec.h"

void hflow_spec_run_config_default(hflow_spec_run_config *c) {
    memset(c, 0, sizeof *c);
    hflow_spec_params_default(&c->params);
    hflow_spec_controller_default(&c->ctl);
    hflow_device_profile_default(&c->device);
    c->max_tokens = 128;
}

typedef struct {
    const hflow_spec_run_config *cfg;
    hflow_session *sess;
    hflow_sampler *sampler;
    const hflow_vocab *vocab;
    int32_t n_vocab;
    float *probs;
    uint64_t rng;
    hflow_detok detok;
    hflow_spec_text_cb cb;
    void *user;
    int32_t *out;
    int32_t n_out, cap_out;
    int done;
    hflow_spec_stats *st;
    hflow_spec_controller_config ctl; /* cfg->ctl, fallback off when the transport cannot stream */
    int32_t stream_streak;            /* k = 0 chunks in a row (probe after ctl.probe_every) */
    int32_t shadow_run;               /* greedy shadow acceptance: matches in the current run */
    hflow_spec_estimates *est;
    int rc_cb;                        /* an error inside the stream callback */
    hflow_error *err;
} edge;

static double clock_now(const edge *e) {
    return e->cfg->channel ? hflow_channel_now(e->cfg->channel) : hflow_now_s();
}

/* Draws one draft token; fills q (top-K truncated distribution) when sampling. */
static int32_t draft_pick(edge *e, const float *logits, hflow_spec_draft_dist *q) {
    if (e->cfg->params.temperature <= 0) return hflow_argmax(logits, e->n_vocab);
    hflow_sampler_probs(e->sampler, logits, e->probs);
    int32_t K = e->cfg->params.draft_top_k > 0 ? e->cfg->params.draft_top_k : 8;
    if (K > HFLOW_SPEC_MAX_TOPK) K = HFLOW_SPEC_MAX_TOPK;
    q->n = 0;
    for (int32_t v = 0; v < e->n_vocab; v++) { /* insertion into a small sorted top-K */
        float pv = e->probs[v];
        if (pv <= 0 || (q->n == K && pv <= q->probs[K - 1])) continue;
        int32_t j = q->n < K ? q->n++ : K - 1;
        while (j > 0 && q->probs[j - 1] < pv) {
            q->probs[j] = q->probs[j - 1];
            q->ids[j] = q->ids[j - 1];
            j--;
        }
        q->probs[j] = pv;
        q->ids[j] = v;
    }
    double z = 0;
    for (int32_t j = 0; j < q->n; j++) z += q->probs[j];
    for (int32_t j = 0; j < q->n; j++) q->probs[j] = (float)(q->probs[j] / z);
    return q->ids[hflow_spec_draw(q->probs, q->n, hflow_spec_rand(&e->rng))];
}

/* The draft's own confidence at this position: the top probability of the
 * distribution it draws from (q when sampling, the softmax when greedy). */
static float draft_confidence(const edge *e, const float *logits, const hflow_spec_draft_dist *q) {
    if (e->cfg->params.temperature > 0) return q->n > 0 ? q->probs[0] : 0.0f;
    float mx = logits[hflow_argmax(logits, e->n_vocab)];
    double z = 0;
    for (int32_t v = 0; v < e->n_vocab; v++) z += exp((double)(logits[v] - mx));
    return (float)(1.0 / z);
}

/* Commits one token: output, callback; marks done on EOG or max_tokens. */
static int commit(edge *e, int32_t tok) {
    if (e->done) return 0;
    if (hflow_vocab_is_eog(e->vocab, tok)) {
        e->done = 1;
        snprintf(e->st->stop_reason, sizeof e->st->stop_reason, "eos");
        return 0;
    }
    if (e->n_out == e->cap_out) {
        int32_t cap = e->cap_out ? e->cap_out * 2 : 64;
        int32_t *p = realloc(e->out, (size_t)cap * sizeof *p);
        if (!p) return HFLOW_ENOMEM;
        e->out = p;
        e->cap_out = cap;
    }
    e->out[e->n_out++] = tok;
    e->st->n_generated++;
    char text[512];
    int n = hflow_detok_push(&e->detok, tok, text, sizeof text);
    if (n > 0 && e->cb && e->cb(e->user, text, (size_t)n)) {
        e->done = 1;
        snprintf(e->st->stop_reason, sizeof e->st->stop_reason, "cancelled");
    }
    if (!e->done && e->n_out >= e->cfg->max_tokens) {
        e->done = 1;
        snprintf(e->st->stop_reason, sizeof e->st->stop_reason, "length");
    }
    return 0;
}

/* The link is gone: continue with the draft alone (flagged as not lossless). */
static int edge_only(edge *e, hflow_error *err) {
    e->st->not_lossless = 1;
    while (!e->done) {
        hflow_spec_draft_dist q;
        int32_t tok = draft_pick(e, hflow_session_logits(e->sess, 0), &q);
        int rc = commit(e, tok);
        if (!rc && !e->done) rc = hflow_session_decode(e->sess, &tok, 1, HFLOW_LOGITS_LAST, err);
        if (rc) return rc;
        e->st->fallback_tokens++;
    }
    snprintf(e->st->stop_reason, sizeof e->st->stop_reason, "link-down-edge-only");
    return 0;
}

/* A round failed after drafting: drop the drafted tokens from the draft cache
 * and recompute the logits that predict the next committed token. */
static int restore_draft(edge *e, int32_t base, hflow_error *err) {
    if (hflow_session_n_past(e->sess) == base) return 0; /* nothing was fed (k <= 1) */
    int32_t last = hflow_session_tokens(e->sess)[base - 1];
    int rc = hflow_session_truncate(e->sess, base - 1, err);
    return rc ? rc : hflow_session_decode(e->sess, &last, 1, HFLOW_LOGITS_LAST, err);
}

/* Greedy shadow acceptance while streaming: the draft's argmax at each
 * streamed position says whether a draft there would have been accepted, so
 * runs of matches are free acceptance observations (no network), and the
 * controller notices when speculation would pay again. */
static void shadow_observe(edge *e, int32_t tok) {
    if (e->cfg->params.temperature > 0) return; /* needs the target's p: probes measure it instead */
    int match = hflow_argmax(hflow_session_logits(e->sess, 0), e->n_vocab) == tok;
    int32_t kmax = e->ctl.k_max < HFLOW_SPEC_MAX_K ? e->ctl.k_max : HFLOW_SPEC_MAX_K;
    if (match && ++e->shadow_run < kmax) return;
    hflow_spec_round_obs o = {0};
    o.k = match ? kmax : e->shadow_run + 1;
    o.n_accepted = e->shadow_run;
    hflow_spec_observe(&e->ctl, e->est, &o); /* times 0: acceptance only */
    e->shadow_run = 0;
}

/* Each streamed token: shadow acceptance, commit, and the draft keeps up. */
static int on_streamed(void *user, int32_t tok, double t_fwd) {
    (void)t_fwd;
    edge *e = user;
    if (tok < 0 || tok >= e->n_vocab) {
        e->rc_cb = hflow_error_set(e->err, HFLOW_EFORMAT, "target streamed an impossible token %d", tok);
        return 1;
    }
    shadow_observe(e, tok);
    e->st->fallback_tokens++;
    int rc = commit(e, tok);
    if (!rc && !e->done) rc = hflow_session_decode(e->sess, &tok, 1, HFLOW_LOGITS_LAST, e->err);
    if (rc) e->rc_cb = rc;
    return rc || e->done;
}

/* k = 0: the target generates a chunk itself and streams it. */
static int stream_round(edge *e, hflow_spec_transport *tr, hflow_error *err) {
    const hflow_spec_run_config *cfg = e->cfg;
    int32_t n = hflow_spec_stream_chunk(&e->ctl, e->est);
    if (n > cfg->max_tokens - e->n_out) n = cfg->max_tokens - e->n_out;
    int32_t got = 0, up = 0, down = 0;
    double t_gen = 0, w0 = clock_now(e), r0 = hflow_now_s();
    e->err = err;
    e->rc_cb = 0;
    e->shadow_run = 0;
    int rc = tr->vt->generate(tr, n, on_streamed, e, &got, &t_gen, &up, &down, err);
    if (!rc) rc = e->rc_cb;
    if (rc) return rc;
    /* the draft decoded each token as it arrived, overlapped with the stream;
     * an emulated draft slower than the stream adds its excess */
    double t_catch = cfg->draft_emulated_s_per_token > 0 ? got * cfg->draft_emulated_s_per_token : hflow_now_s() - r0;
    double t_wait = clock_now(e) - w0;
    if (cfg->channel && cfg->channel->virtual_time && t_catch > t_wait) {
        hflow_channel_spend(cfg->channel, t_catch - t_wait);
        t_wait = t_catch;
    }
    hflow_spec_stats *st = e->st;
    st->rounds++;
    st->stream_rounds++;
    st->t_wait_s += t_wait;
    st->t_draft_s += t_catch;
    st->bytes_up += up;
    st->bytes_down += down;
    double t_idle = t_wait > t_catch ? t_wait - t_catch : 0;
    st->energy_j += t_catch * cfg->device.p_draft_w + up * cfg->device.e_tx_j_per_byte +
                    down * cfg->device.e_rx_j_per_byte + t_idle * cfg->device.p_idle_w;
    hflow_spec_round_obs obs = {0, 0, t_catch, t_gen, t_wait, up, down, got};
    hflow_spec_observe(&e->ctl, e->est, &obs);
    return 0;
}

/* The controller's settings for this round. An energy budget is a hard
 * constraint on the run's realised energy per token, not only on each round's
 * estimate: energy spent above the budget so far (early rounds on prior
 * estimates, estimates that were optimistic) is paid back over the next
 * BUDGET_HORIZON tokens by a tighter budget for the choice. */
#define BUDGET_HORIZON 16.0
static hflow_spec_controller_config round_ctl(const edge *e) {
    hflow_spec_controller_config ctl = e->ctl;
    if (ctl.energy_budget_j > 0 && e->st->n_generated > 0) {
        double debt = e->st->energy_j - ctl.energy_budget_j * e->st->n_generated;
        if (debt > 0) ctl.energy_budget_j = fmax(0.5 * ctl.energy_budget_j, ctl.energy_budget_j - debt / BUDGET_HORIZON);
    }
    return ctl;
}

static int one_round(edge *e, hflow_spec_transport *tr, hflow_spec_estimates *est, hflow_error *err) {
    const hflow_spec_run_config *cfg = e->cfg;
    hflow_spec_controller_config ctl = round_ctl(e);
    hflow_spec_choice ch;
    hflow_spec_choose_k(&ctl, est, &cfg->device, &ch);
    if (ch.k == 0 && ctl.probe_every > 0 && e->stream_streak >= ctl.probe_every) {
        /* probe: one speculative round keeps the acceptance and verify estimates current */
        hflow_spec_controller_config probe = ctl;
        probe.allow_fallback = 0;
        hflow_spec_choose_k(&probe, est, &cfg->device, &ch);
        e->stream_streak = 0;
    }
    if (ch.k == 0) {
        e->stream_streak++;
        return stream_round(e, tr, err);
    }
    e->stream_streak = 0;
    /* adaptive k with the confidence rule: the draft may go up to 2 past the controller's k and
     * stops where one more token no longer pays (hflow_spec_keep_drafting) */
    int confident_stop = cfg->ctl.fixed_k <= 0 && cfg->ctl.confidence_stop;
    int32_t k = confident_stop ? ch.k + 2 : ch.k;
    if (k > HFLOW_SPEC_MAX_K) k = HFLOW_SPEC_MAX_K;
    int32_t left = cfg->max_tokens - e->n_out;
    if (k > left - 1) k = left - 1 > 0 ? left - 1 : 0;
    int32_t draft[HFLOW_SPEC_MAX_K];
    hflow_spec_draft_dist q[HFLOW_SPEC_MAX_K];
    float conf[HFLOW_SPEC_MAX_K];
    int32_t base = hflow_session_n_past(e->sess);
    double t0 = hflow_now_s(), p_run = 1.0;
    int rc = 0, looked_ahead = 0;
    for (int32_t i = 0; i < k && !rc; i++) {
        const float *logits = hflow_session_logits(e->sess, 0);
        draft[i] = draft_pick(e, logits, &q[i]);
        conf[i] = draft_confidence(e, logits, &q[i]);
        /* the stop decision depends only on the draft's distribution here, never on the
         * token drawn, so the target's acceptance rule keeps the output its own */
        if (confident_stop && i > 0 && !hflow_spec_keep_drafting(&ctl, est, &cfg->device, &ch, i, p_run, conf[i])) {
            k = i;
            looked_ahead = 1; /* the draft computed this position's logits for nothing */
            break;
        }
        p_run *= hflow_spec_conf_accept(est, conf[i]);
        if (hflow_vocab_is_eog(e->vocab, draft[i])) k = i + 1; /* nothing to draft past the end */
        else if (i < k - 1) rc = hflow_session_decode(e->sess, &draft[i], 1, HFLOW_LOGITS_LAST, err);
    }
    if (rc) return rc;
    double measured = hflow_now_s() - t0;
    double t_draft =
        cfg->draft_emulated_s_per_token > 0 ? (k + looked_ahead) * cfg->draft_emulated_s_per_token : measured;
    /* virtual clock: all of the drafting; real clock: only an emulated excess */
    if (cfg->channel) hflow_channel_spend(cfg->channel, cfg->channel->virtual_time ? t_draft : t_draft - measured);
    double w0 = clock_now(e);
    hflow_spec_verdict v;
    double t_verify = 0;
    int32_t up = 0, down = 0;
    rc = tr->vt->verify(tr, draft, k, cfg->params.temperature > 0 ? q : NULL, &v, &t_verify, &up, &down, err);
    if (rc) {
        restore_draft(e, base, NULL); /* the caller may go on edge-only from here */
        return rc;
    }
    double t_wait = clock_now(e) - w0;
    if (v.n_accepted < 0 || v.n_accepted > k || v.next_token < 0 || v.next_token >= e->n_vocab)
        return hflow_error_set(err, HFLOW_EFORMAT, "target returned an impossible verdict (%d of %d, token %d)",
                               v.n_accepted, k, v.next_token);
    hflow_spec_stats *st = e->st;
    st->rounds++;
    st->drafted += k;
    st->accepted += v.n_accepted;
    st->t_draft_s += t_draft;
    st->t_wait_s += t_wait;
    st->bytes_up += up;
    st->bytes_down += down;
    st->energy_j += t_draft * cfg->device.p_draft_w + up * cfg->device.e_tx_j_per_byte +
                    down * cfg->device.e_rx_j_per_byte + t_wait * cfg->device.p_idle_w;
    /* the controller learns the time per draft token: k tokens plus any look-ahead position */
    hflow_spec_round_obs obs = {k, v.n_accepted, t_draft * k / (k + looked_ahead), t_verify, t_wait, up, down, 0};
    hflow_spec_observe(&cfg->ctl, est, &obs);
    hflow_spec_observe_confidence(&cfg->ctl, est, conf, k, v.n_accepted);
    for (int32_t i = 0; i < v.n_accepted && !rc; i++) rc = commit(e, draft[i]);
    if (!rc) rc = commit(e, v.next_token);
    if (rc || e->done) return rc;
    /* restore the invariant: cache = committed tokens, logits predict the next */
    int32_t feed[2], n_feed = 0;
    if (k > 0 && v.n_accepted == k && hflow_session_n_past(e->sess) == base + k) {
        /* the draft already holds every accepted token (it looked one position ahead) */
    } else if (k > 0 && v.n_accepted == k) {
        rc = hflow_session_truncate(e->sess, base + k - 1, err);
        feed[n_feed++] = draft[k - 1];
    } else {
        rc = hflow_session_truncate(e->sess, base + v.n_accepted, err);
    }
    feed[n_feed++] = v.next_token;
    return rc ? rc : hflow_session_decode(e->sess, feed, n_feed, HFLOW_LOGITS_LAST, err);
}

int hflow_spec_generate(hflow_model *draft, hflow_spec_transport *tr, const int32_t *prompt, int32_t n_prompt,
                        const hflow_spec_run_config *cfg, hflow_spec_text_cb cb, void *user, int32_t **out_tokens,
                        hflow_spec_stats *stats, hflow_error *err) {
    hflow_spec_stats local;
    hflow_spec_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (out_tokens) *out_tokens = NULL;
    edge e = {0};
    e.cfg = cfg;
    e.cb = cb;
    e.user = user;
    e.st = st;
    e.vocab = hflow_model_vocab(draft);
    e.n_vocab = hflow_model_get_info(draft)->n_vocab;
    e.rng = hflow_spec_seed(cfg->params.seed ^ 0x5eed);
    hflow_detok_init(&e.detok, e.vocab, 0);
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = cfg->params.temperature;
    sp.top_k = cfg->params.top_k;
    sp.top_p = cfg->params.top_p;
    e.sampler = hflow_sampler_create(&sp, e.n_vocab);
    e.probs = malloc((size_t)e.n_vocab * sizeof(float));
    e.ctl = cfg->ctl;
    if (!tr->vt->generate) e.ctl.allow_fallback = 0; /* this transport cannot stream: always speculate */
    double t_start = clock_now(&e);
    hflow_spec_session_info info = {0};
    int rc = (!e.sampler || !e.probs) ? hflow_error_set(err, HFLOW_ENOMEM, "out of memory") : 0;
    if (!rc) rc = tr->vt->open(tr, prompt, n_prompt, &cfg->params, &info, err);
    if (!rc && info.tokenizer_fp && info.tokenizer_fp != hflow_vocab_fingerprint(e.vocab))
        rc = hflow_error_set(err, HFLOW_EINVAL,
                             "the draft's tokenizer (fingerprint %016llx) differs from the target '%s' (%016llx): "
                             "speculation needs one tokenizer family",
                             (unsigned long long)hflow_vocab_fingerprint(e.vocab), info.model,
                             (unsigned long long)info.tokenizer_fp);
    if (!rc) rc = hflow_session_create(draft, NULL, &e.sess, err);
    if (!rc) rc = hflow_session_decode(e.sess, prompt, n_prompt, HFLOW_LOGITS_LAST, err);
    hflow_spec_estimates est;
    e.est = &est;
    const hflow_channel_config *cc = cfg->channel ? &cfg->channel->cfg : NULL;
    hflow_spec_estimates_init(&est, cc ? cc->rtt_s : 0.05, cc && cc->up_bps > 0 ? cc->up_bps : 1.25e6,
                              cc && cc->down_bps > 0 ? cc->down_bps : 1.25e6);
    while (!rc && !e.done) {
        if (cfg->cancel && *cfg->cancel) {
            snprintf(st->stop_reason, sizeof st->stop_reason, "cancelled");
            break;
        }
        rc = one_round(&e, tr, &est, err);
        if (rc == HFLOW_ENET && cfg->on_link_down_edge_only) {
            hflow_error_wrap(err, "continuing on the edge alone (output no longer the target's)");
            rc = edge_only(&e, err);
        }
    }
    char tail[16];
    int n = hflow_detok_flush(&e.detok, tail, sizeof tail);
    if (n > 0 && cb && !rc) cb(user, tail, (size_t)n);
    tr->vt->close(tr);
    st->t_total_s = clock_now(&e) - t_start;
    st->mean_k = st->rounds ? (double)st->drafted / st->rounds : 0;
    hflow_session_free(e.sess);
    hflow_sampler_free(e.sampler);
    free(e.probs);
    if (!rc && out_tokens) *out_tokens = e.out;
    else free(e.out);
    return rc;
}
