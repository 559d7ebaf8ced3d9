/* controller.c - choosing the draft length k each round.
 *
 * The objective is expected cost per generated token:
 *     (T(k) + lambda * E(k)) / N(k)
 * with N(k) = 1 + sum_{j=1..k} prod_{i<=j} a_i the expected tokens of a round
 * (accepted drafts plus the target's correction/bonus token), T(k) the round's
 * wall time (drafting, upload, RTT, verification, download) and E(k) the
 * device energy (drafting power, radio bytes, idle power while waiting).
 * Per-position acceptance a_i is tracked separately because acceptance falls
 * with distance from the last verified token; an unseen position borrows the
 * nearest seen one. Verification time is fitted as base + per_token * (k+1)
 * by exponentially weighted least squares, since the target's cost grows with
 * the batch it verifies. k = 0 means plain remote generation and is chosen
 * when no draft length beats the target streaming tokens on its own. */
#include <math.h>
#include <string.h>

#include "hybridflow/spec.h"

#define ACCEPT_PRIOR 0.6
#define ACCEPT_PRIOR_N 2.0
#define ACCEPT_ALPHA_SCALE 0.4 /* acceptance is a 0/1 sample: smooth it more than times */
#define FALLBACK_MARGIN 0.9 /* streaming must be estimated >= 10% cheaper than speculating */
#define MIN_EVIDENCE 8 /* acceptance observations before k = 0 is considered */

void hflow_spec_controller_default(hflow_spec_controller_config *c) {
    memset(c, 0, sizeof *c);
    c->k_min = 1;
    c->k_max = 8;
    c->lambda_energy = 0.0;
    c->ewma_alpha = 0.2;
    c->allow_fallback = 1;
    c->bytes_per_draft_token = 4;
    c->bytes_overhead_up = 300;   /* HTTP request line + headers + JSON framing */
    c->bytes_overhead_down = 250;
    c->bytes_per_stream_token = 48; /* an SSE event {"token":ID,"ms":F} plus chunk framing */
    c->stream_chunk = 16;
    c->probe_every = 4;
}

void hflow_spec_estimates_init(hflow_spec_estimates *e, double rtt_s, double up_bps, double down_bps) {
    memset(e, 0, sizeof *e);
    for (int i = 0; i < HFLOW_SPEC_MAX_K; i++) e->accept[i] = ACCEPT_PRIOR;
    e->rtt_s = rtt_s;
    e->up_bps = up_bps;
    e->down_bps = down_bps;
    e->t_draft_s = 0.005;
    e->t_verify_base_s = 0.01;
    e->t_verify_per_tok_s = 0.002;
    e->t_target_gen_s = 0.0; /* unknown until measured: fallback not considered */
}

static double ewma(double old, double sample, double alpha) { return old + alpha * (sample - old); }

static double transfer_s(double bytes, double bps) { return bps > 0 ? bytes / bps : 0.0; }

/* ls = {S1, Sx, Sy, Sxx, Sxy}, each decayed by (1 - alpha) per sample. */
static void fit_verify(hflow_spec_estimates *e, double x, double y, double alpha) {
    double *s = e->ls_verify;
    for (int i = 0; i < 5; i++) s[i] *= 1.0 - alpha;
    s[0] += 1; s[1] += x; s[2] += y; s[3] += x * x; s[4] += x * y;
    double var = s[0] * s[3] - s[1] * s[1];
    if (var > 1e-9 * s[0] * s[0]) {
        double slope = (s[0] * s[4] - s[1] * s[2]) / var;
        double icpt = (s[2] - slope * s[1]) / s[0];
        if (slope >= 0 && icpt >= 0) {
            e->t_verify_per_tok_s = slope;
            e->t_verify_base_s = icpt;
            return;
        }
    }
    /* too little spread in k so far: keep the slope, move the intercept */
    e->t_verify_base_s = fmax(0.0, ewma(e->t_verify_base_s, y - e->t_verify_per_tok_s * x, alpha));
}

void hflow_spec_observe(const hflow_spec_controller_config *c, hflow_spec_estimates *e, const hflow_spec_round_obs *o) {
    double a = e->rounds == 0 ? 1.0 : c->ewma_alpha; /* first sample replaces the prior */
    int32_t k = o->k < HFLOW_SPEC_MAX_K ? o->k : HFLOW_SPEC_MAX_K;
    for (int32_t i = 0; i < k && i <= o->n_accepted; i++) {
        double sample = i < o->n_accepted ? 1.0 : 0.0;
        /* a running mean over the prior (worth ACCEPT_PRIOR_N samples) and the samples so far,
         * which becomes an EWMA once enough are in: one early rejection must not zero it */
        double ai = fmax(ACCEPT_ALPHA_SCALE * c->ewma_alpha, 1.0 / (e->accept_seen[i] + 1 + ACCEPT_PRIOR_N));
        e->accept[i] = ewma(e->accept[i], sample, ai);
        e->accept_seen[i]++;
    }
    if (o->k > 0 && o->t_draft_s > 0) e->t_draft_s = ewma(e->t_draft_s, o->t_draft_s / o->k, a);
    if (o->k == 0 && o->n_streamed > 0) { /* a stream: per-token generation time and the RTT */
        double per_tok = o->t_verify_s / o->n_streamed;
        /* the draft decoded every streamed token: that is its per-token time too */
        if (o->t_draft_s > 0) e->t_draft_s = ewma(e->t_draft_s, o->t_draft_s / o->n_streamed, a);
        if (per_tok > 0) e->t_target_gen_s = ewma(e->t_target_gen_s > 0 ? e->t_target_gen_s : per_tok, per_tok, a);
        if (o->t_round_s > 0) {
            double busy = fmax(o->t_verify_s, transfer_s(o->bytes_down, e->down_bps));
            double net = o->t_round_s - busy - transfer_s(o->bytes_up, e->up_bps);
            e->rtt_s = fmax(0.0, ewma(e->rtt_s, fmax(0.0, net), a));
        }
        e->rounds++;
        return;
    }
    if (o->t_verify_s > 0) {
        if (o->k == 0) e->t_target_gen_s = ewma(e->t_target_gen_s > 0 ? e->t_target_gen_s : o->t_verify_s, o->t_verify_s, a);
        else fit_verify(e, (double)(o->k + 1), o->t_verify_s, c->ewma_alpha);
    }
    if (o->k > 0 && o->t_round_s > 0) { /* realised cost per token of speculative rounds */
        double keep = e->spec_tokens_sum > 0 ? 1.0 - c->ewma_alpha : 0.0;
        e->spec_time_sum = keep * e->spec_time_sum + o->t_draft_s + o->t_round_s;
        e->spec_tokens_sum = keep * e->spec_tokens_sum + o->n_accepted + 1;
    }
    if (o->t_round_s > 0) {
        double net = o->t_round_s - o->t_verify_s - transfer_s(o->bytes_up, e->up_bps) -
                     transfer_s(o->bytes_down, e->down_bps);
        e->rtt_s = fmax(0.0, ewma(e->rtt_s, fmax(0.0, net), a));
    }
    e->rounds++;
}

/* Acceptance at position i. An unseen position borrows the nearest observed
 * one, but optimistically (never below the prior): conditional acceptance
 * tends to rise with depth (easy stretches run long), and a pessimistic guess
 * would keep k from ever growing enough to measure those positions. */
static double accept_at(const hflow_spec_estimates *e, int32_t i) {
    if (i >= HFLOW_SPEC_MAX_K) i = HFLOW_SPEC_MAX_K - 1;
    if (e->accept_seen[i]) return e->accept[i];
    for (int32_t j = i - 1; j >= 0; j--)
        if (e->accept_seen[j]) return e->accept[j] > ACCEPT_PRIOR ? e->accept[j] : ACCEPT_PRIOR;
    return e->accept[i];
}

double hflow_spec_expected_tokens(const hflow_spec_estimates *e, int32_t k) {
    double n = 1.0, run = 1.0;
    for (int32_t j = 0; j < k; j++) {
        run *= accept_at(e, j);
        n += run;
    }
    return n;
}

void hflow_spec_round_cost(const hflow_spec_controller_config *c, const hflow_spec_estimates *e,
                           const hflow_device_profile *dev, int32_t k, double *time_s, double *energy_j) {
    double up = c->bytes_overhead_up + (double)k * c->bytes_per_draft_token;
    double down = c->bytes_overhead_down;
    double t_draft = k * e->t_draft_s;
    double t_wait = transfer_s(up, e->up_bps) + e->rtt_s + e->t_verify_base_s + e->t_verify_per_tok_s * (k + 1) +
                    transfer_s(down, e->down_bps);
    *time_s = t_draft + t_wait;
    *energy_j = t_draft * dev->p_draft_w + up * dev->e_tx_j_per_byte + down * dev->e_rx_j_per_byte +
                t_wait * dev->p_idle_w;
}

/* Tokens per k = 0 request: at least stream_chunk, and enough that the round
 * trip paid per chunk stays under ~5% of its generation time (long RTTs get
 * long chunks), at most 8 x stream_chunk so the choice is revisited. */
int32_t hflow_spec_stream_chunk(const hflow_spec_controller_config *c, const hflow_spec_estimates *e) {
    int32_t base = c->stream_chunk > 0 ? c->stream_chunk : 16;
    double t_gen = e->t_target_gen_s > 0 ? e->t_target_gen_s : e->t_verify_base_s + e->t_verify_per_tok_s;
    double want = t_gen > 0 ? ceil(e->rtt_s / (0.05 * t_gen)) : base;
    if (want < base) want = base;
    if (want > 8.0 * base) want = 8.0 * base;
    return (int32_t)want;
}

void hflow_spec_choose_k(const hflow_spec_controller_config *c, const hflow_spec_estimates *e,
                         const hflow_device_profile *dev, hflow_spec_choice *out) {
    int32_t lo = c->fixed_k > 0 ? c->fixed_k : (c->k_min > 0 ? c->k_min : 1);
    int32_t hi = c->fixed_k > 0 ? c->fixed_k : c->k_max;
    if (hi > HFLOW_SPEC_MAX_K) hi = HFLOW_SPEC_MAX_K;
    if (lo > hi) lo = hi;
    hflow_spec_choice best = {0}, cheapest = {0};
    double best_obj = INFINITY, min_energy = INFINITY;
    int have_best = 0;
    /* the target's solo speed: measured from streams, else a one-token forward of the verify fit */
    double t_gen = e->t_target_gen_s > 0 ? e->t_target_gen_s
                   : e->rounds > 0      ? e->t_verify_base_s + e->t_verify_per_tok_s
                                        : 0.0;
    /* fall back only on measured acceptance, not on the prior (a wrong switch costs a whole chunk),
     * unless an energy budget is set: a budget is a hard constraint, and when no draft length meets
     * it under the current estimates, streaming (which also measures acceptance, as shadow) must be
     * allowed from the first round */
    int consider_fallback = c->fixed_k <= 0 && c->allow_fallback && t_gen > 0 &&
                            (e->accept_seen[0] >= MIN_EVIDENCE || c->energy_budget_j > 0);
    for (int32_t k = consider_fallback ? 0 : lo; k <= hi; k++) {
        if (k > 0 && k < lo) continue;
        hflow_spec_choice ch = {k, 1.0, 0, 0};
        if (k == 0) { /* plain remote generation, streamed in chunks: one RTT per chunk */
            double chunk = hflow_spec_stream_chunk(c, e);
            double per_tok = fmax(t_gen, transfer_s(c->bytes_per_stream_token, e->down_bps));
            double head = e->rtt_s + transfer_s(c->bytes_overhead_up, e->up_bps) +
                          transfer_s(c->bytes_overhead_down, e->down_bps);
            ch.exp_time_per_token_s = per_tok + head / chunk;
            /* the draft keeps up with the stream (decodes each token) so it can resume speculating */
            double t_catch = fmin(e->t_draft_s, ch.exp_time_per_token_s);
            ch.exp_energy_per_token_j = (c->bytes_per_stream_token + c->bytes_overhead_down / chunk) * dev->e_rx_j_per_byte +
                                        c->bytes_overhead_up / chunk * dev->e_tx_j_per_byte + t_catch * dev->p_draft_w +
                                        (ch.exp_time_per_token_s - t_catch) * dev->p_idle_w;
        } else {
            double t, en;
            hflow_spec_round_cost(c, e, dev, k, &t, &en);
            ch.exp_tokens = hflow_spec_expected_tokens(e, k);
            ch.exp_time_per_token_s = t / ch.exp_tokens;
            ch.exp_energy_per_token_j = en / ch.exp_tokens;
        }
        if (ch.exp_energy_per_token_j < min_energy) { min_energy = ch.exp_energy_per_token_j; cheapest = ch; }
        if (c->energy_budget_j > 0 && ch.exp_energy_per_token_j > c->energy_budget_j) continue;
        double obj = ch.exp_time_per_token_s + c->lambda_energy * ch.exp_energy_per_token_j;
        /* hysteresis: a switch to streaming commits a whole chunk on estimates that are noisy,
         * so it has to promise a clear gain (unless the budget leaves no other choice) */
        if (k == 0) obj /= FALLBACK_MARGIN;
        if (obj < best_obj) { best_obj = obj; best = ch; have_best = 1; }
    }
    *out = have_best ? best : cheapest;
}

/* ---- the draft's confidence ---- */

#define CONF_DECAY 0.995  /* per verified token: the calibration follows a drifting text */
#define CONF_PRIOR_N 2.0  /* the prior a(conf) = conf counts as this many observations */

static int conf_bin(double conf) {
    int b = (int)(conf * HFLOW_SPEC_CONF_BINS);
    return b < 0 ? 0 : b >= HFLOW_SPEC_CONF_BINS ? HFLOW_SPEC_CONF_BINS - 1 : b;
}

double hflow_spec_conf_accept(const hflow_spec_estimates *e, double conf) {
    /* a sparse bin shrinks toward the pooled acceptance over all bins (itself
     * shrunk toward the draft's own confidence before there is any data):
     * drafts are often under-confident, and a bin's few tokens are noisy */
    double n = 0, acc = 0;
    for (int i = 0; i < HFLOW_SPEC_CONF_BINS; i++) {
        n += e->conf_n[i];
        acc += e->conf_acc[i];
    }
    double pooled = (acc + CONF_PRIOR_N * conf) / (n + CONF_PRIOR_N);
    int b = conf_bin(conf);
    return (e->conf_acc[b] + CONF_PRIOR_N * pooled) / (e->conf_n[b] + CONF_PRIOR_N);
}

void hflow_spec_observe_confidence(const hflow_spec_controller_config *c, hflow_spec_estimates *e, const float *conf,
                                   int32_t k, int32_t n_accepted) {
    (void)c;
    for (int32_t i = 0; i < k && i <= n_accepted; i++) {
        for (int b = 0; b < HFLOW_SPEC_CONF_BINS; b++) {
            e->conf_n[b] *= CONF_DECAY;
            e->conf_acc[b] *= CONF_DECAY;
        }
        int b = conf_bin(conf[i]);
        e->conf_n[b] += 1;
        e->conf_acc[b] += i < n_accepted;
        e->conf_total += 1;
    }
}

int hflow_spec_keep_drafting(const hflow_spec_controller_config *c, const hflow_spec_estimates *e,
                             const hflow_device_profile *dev, const hflow_spec_choice *round, int32_t j, double p_run,
                             double conf) {
    if (j >= c->k_max || j >= HFLOW_SPEC_MAX_K) return 0;
    double gain = p_run * hflow_spec_conf_accept(e, conf);
    if (gain <= 0) return 0;
    /* one more draft token: drafting it, its bytes up, the verify's per-token time (waiting) */
    double bytes = c->bytes_per_draft_token;
    double t_wait = transfer_s(bytes, e->up_bps) + e->t_verify_per_tok_s;
    double d_time = e->t_draft_s + t_wait;
    double d_energy = e->t_draft_s * dev->p_draft_w + bytes * dev->e_tx_j_per_byte + t_wait * dev->p_idle_w;
    double t_tok = e->spec_tokens_sum > 0 ? e->spec_time_sum / e->spec_tokens_sum : round->exp_time_per_token_s;
    double per_token = t_tok + c->lambda_energy * round->exp_energy_per_token_j;
    if (c->energy_budget_j > 0 && d_energy > gain * c->energy_budget_j) return 0;
    return gain * per_token >= d_time + c->lambda_energy * d_energy;
}
