/* hybridflow/spec.h - ECSpec: edge-cloud speculative decoding.
 *
 * Three pieces that know nothing of HTTP:
 *  - acceptance rules the target applies to a draft (greedy, and rejection
 *    sampling that keeps the output distribution exactly the target's);
 *  - the draft-length controller the edge runs each round, from online
 *    estimates of acceptance, drafting/verification times, the channel and a
 *    device energy model;
 *  - a channel emulator (delay, jitter, rate, loss, outages) for tests and
 *    benchmarks, always labelled as emulation in reports.
 * All structs are plain values owned by the caller; nothing here allocates
 * except hflow_spec_accept_sampled's scratch, which is the caller's buffer. */
#ifndef HYBRIDFLOW_SPEC_H
#define HYBRIDFLOW_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFLOW_SPEC_MAX_K 32
#define HFLOW_SPEC_MAX_TOPK 64

/* ---------------- acceptance (target side) ---------------- */

typedef struct hflow_spec_verdict {
    int32_t n_accepted; /* draft tokens accepted, 0..k */
    int32_t next_token; /* correction (on rejection) or bonus (all accepted) token */
} hflow_spec_verdict;

/* Greedy: accept while the target's argmax equals the draft token.
 * target_logits holds k+1 rows of n_vocab: row i is the target's prediction
 * for draft position i (row k predicts the bonus token). */
void hflow_spec_accept_greedy(const int32_t *draft, int32_t k, const float *target_logits, int32_t n_vocab,
                              hflow_spec_verdict *out);

/* The draft's distribution at one position, truncated to its top-K tokens:
 * exactly the distribution the draft sampled from. */
typedef struct hflow_spec_draft_dist {
    int32_t n;                          /* K */
    int32_t ids[HFLOW_SPEC_MAX_TOPK];
    float probs[HFLOW_SPEC_MAX_TOPK];   /* sum to 1 */
} hflow_spec_draft_dist;

/* Sampling: target_probs holds k+1 rows of the target's (already tempered /
 * truncated) probabilities. Accept draft[i] with probability min(1, p/q); on
 * rejection draw from normalise(max(0, p - q)); if all are accepted draw the
 * bonus from row k. `rng` is the session's xorshift state, advanced in place.
 * `scratch` needs n_vocab floats. Returns 0 or HFLOW_EINVAL on inconsistent input. */
int hflow_spec_accept_sampled(const int32_t *draft, const hflow_spec_draft_dist *q, int32_t k,
                              const float *target_probs, int32_t n_vocab, uint64_t *rng, float *scratch,
                              hflow_spec_verdict *out, hflow_error *err);

/* Uniform [0,1) from a xorshift64* state (never 0 state: seeds are mixed). */
double hflow_spec_rand(uint64_t *state);
uint64_t hflow_spec_seed(uint64_t seed);

/* Draws from a probability vector with the given uniform u in [0,1). */
int32_t hflow_spec_draw(const float *probs, int32_t n, double u);

/* ---------------- draft-length controller (edge side) ---------------- */

/* Device energy model, from a profile file or defaults for a phone-class SoC. */
typedef struct hflow_device_profile {
    char name[64];
    double p_draft_w;    /* power while drafting (W) */
    double p_idle_w;     /* power while waiting for the network/target (W) */
    double e_tx_j_per_byte;
    double e_rx_j_per_byte;
} hflow_device_profile;

void hflow_device_profile_default(hflow_device_profile *p);
/* Loads {"name","p_draft_w","p_idle_w","e_tx_j_per_byte","e_rx_j_per_byte"} JSON. */
int hflow_device_profile_load(const char *path, hflow_device_profile *p, hflow_error *err);

typedef struct hflow_spec_controller_config {
    int32_t k_min, k_max;      /* candidate draft lengths (k_min >= 1) */
    int32_t fixed_k;           /* > 0: always this k (no adaptation) */
    double lambda_energy;      /* seconds per joule: weight of energy in the objective */
    double energy_budget_j;    /* per generated token; <= 0: none */
    double ewma_alpha;         /* smoothing of the online estimates (0..1] */
    int allow_fallback;        /* permit k = 0 (plain remote generation) */
    int bytes_per_draft_token; /* uplink bytes per draft token (ids, plus probs when sampling) */
    int bytes_overhead_up, bytes_overhead_down; /* per round: headers, framing */
    int bytes_per_stream_token; /* downlink bytes per token of plain remote streaming (k = 0) */
    int32_t stream_chunk;       /* tokens per k = 0 request at least (one RTT per chunk); default 16 */
    int32_t probe_every;        /* after this many k = 0 chunks in a row, one speculative round (default 4) */
    int confidence_stop;        /* adaptive k: stop drafting early on the draft's own confidence
                                   (hflow_spec_keep_drafting); default off, see docs/BENCHMARKS.md */
} hflow_spec_controller_config;

#define HFLOW_SPEC_CONF_BINS 10

/* Online estimates, updated after every round. */
typedef struct hflow_spec_estimates {
    double accept[HFLOW_SPEC_MAX_K]; /* P(accept position i | positions < i accepted) */
    int32_t accept_seen[HFLOW_SPEC_MAX_K];
    double t_draft_s;           /* per draft token */
    double t_verify_base_s;     /* target verify time = base + per_token * (k + 1) */
    double t_verify_per_tok_s;
    double t_target_gen_s;      /* target's per-token time when generating alone */
    double rtt_s;
    double up_bps, down_bps;    /* bytes per second */
    int32_t rounds;
    double ls_verify[5];        /* weighted sums for the verify-time fit (see controller.c) */
    /* acceptance as a function of the draft's own confidence (its top
     * probability), in HFLOW_SPEC_CONF_BINS equal bins: decayed counts of
     * verified draft tokens and of accepted ones (see hflow_spec_keep_drafting) */
    double conf_n[HFLOW_SPEC_CONF_BINS], conf_acc[HFLOW_SPEC_CONF_BINS];
    double conf_total;
    /* realised speculative rounds: decayed sums of wall time (drafting + waiting) and tokens decided */
    double spec_time_sum, spec_tokens_sum;
} hflow_spec_estimates;

typedef struct hflow_spec_round_obs {
    int32_t k;                  /* drafted */
    int32_t n_accepted;
    double t_draft_s;           /* total drafting time this round */
    double t_verify_s;          /* target's reported forward time */
    double t_round_s;           /* wall time from send to reply */
    int32_t bytes_up, bytes_down;
    int32_t n_streamed;         /* k = 0 (plain remote generation): tokens streamed; t_verify_s is then
                                   their total generation time on the target */
} hflow_spec_round_obs;

typedef struct hflow_spec_choice {
    int32_t k;                  /* 0 = fall back to plain remote generation */
    double exp_tokens;          /* expected tokens this round */
    double exp_time_per_token_s;
    double exp_energy_per_token_j;
} hflow_spec_choice;

void hflow_spec_controller_default(hflow_spec_controller_config *c);
void hflow_spec_estimates_init(hflow_spec_estimates *e, double rtt_s, double up_bps, double down_bps);
void hflow_spec_observe(const hflow_spec_controller_config *c, hflow_spec_estimates *e, const hflow_spec_round_obs *o);
/* Expected tokens from a round of length k: 1 + sum_j prod_{i<=j} a_i
 * (= (1 - a^(k+1)) / (1 - a) for a constant a). */
double hflow_spec_expected_tokens(const hflow_spec_estimates *e, int32_t k);
/* Expected cost of one round of length k (time and device energy). */
void hflow_spec_round_cost(const hflow_spec_controller_config *c, const hflow_spec_estimates *e,
                           const hflow_device_profile *dev, int32_t k, double *time_s, double *energy_j);
/* Picks k minimising time/token + lambda * energy/token, subject to the energy
 * budget when one is set (if no k meets it, the lowest-energy k). k = 0 (plain
 * remote generation, streamed in chunks of stream_chunk) is a candidate when
 * allow_fallback is set, no fixed k is, and the target's solo speed is known
 * (measured from streams, or estimated from a one-token verify once a round
 * has been observed). */
void hflow_spec_choose_k(const hflow_spec_controller_config *c, const hflow_spec_estimates *e,
                         const hflow_device_profile *dev, hflow_spec_choice *out);

/* ---- the draft's confidence (adaptive k only) ----
 * Within a round the edge may stop drafting early: before drafting position j
 * (0-based, j >= 1) with the draft's top probability `conf` there, it asks
 * whether one more token pays. The acceptance of that token is estimated from
 * the draft's confidence, calibrated online (per confidence bin: accepted /
 * verified, with a prior of `conf` itself worth two observations); p_run is the
 * estimated probability that every token drafted so far is accepted. One more
 * token adds p_run x a(conf) expected tokens at a marginal cost (drafting,
 * upload, the verify's per-token time, and lambda x their energy); it is
 * drafted when that gain, priced at the cost per token that speculative rounds
 * actually achieved so far (before any: `round`'s estimate, from
 * hflow_spec_choose_k), covers the marginal cost, and, with an energy budget,
 * when its marginal energy per expected token fits the budget. Pricing at the
 * realised rate makes the rule converge on the best achievable one: a rule that
 * stops too early lowers the rate, which raises the price of a token, which
 * makes it draft further (and the other way round). */
double hflow_spec_conf_accept(const hflow_spec_estimates *e, double conf);
/* After a verify: conf[0..k) of the drafted tokens; positions <= n_accepted
 * were verified (the one at n_accepted rejected, when n_accepted < k). */
void hflow_spec_observe_confidence(const hflow_spec_controller_config *c, hflow_spec_estimates *e, const float *conf,
                                   int32_t k, int32_t n_accepted);
int hflow_spec_keep_drafting(const hflow_spec_controller_config *c, const hflow_spec_estimates *e,
                             const hflow_device_profile *dev, const hflow_spec_choice *round, int32_t j, double p_run,
                             double conf);

/* Tokens per k = 0 request: >= stream_chunk, longer on long round trips so the
 * RTT paid per chunk stays small, <= 8 x stream_chunk. */
int32_t hflow_spec_stream_chunk(const hflow_spec_controller_config *c, const hflow_spec_estimates *e);

/* ---------------- channel emulator ---------------- */

typedef struct hflow_channel_outage {
    double start_s, end_s;      /* relative to the emulator's creation */
} hflow_channel_outage;

typedef struct hflow_channel_config {
    double rtt_s;               /* base round-trip time */
    double jitter_s;            /* uniform +- jitter added to each one-way delay */
    double up_bps, down_bps;    /* bytes per second; <= 0 = unlimited */
    double loss;                /* probability a message is lost (costs a retransmission timeout) */
    double rto_s;               /* retransmission timeout for a lost message */
    hflow_channel_outage outages[8];
    int n_outages;
    uint64_t seed;
} hflow_channel_config;

typedef struct hflow_channel {
    hflow_channel_config cfg;
    uint64_t rng;
    double t0;                  /* creation time (monotonic seconds) */
    double clock_s;             /* virtual time when in virtual mode */
    int virtual_time;           /* 1: advance clock_s instead of sleeping */
} hflow_channel;

/* Parses "rtt=50ms,up=10mbit,down=10mbit,jitter=5ms,loss=0.01,outage=2s-3s,seed=7". */
int hflow_channel_parse(const char *spec, hflow_channel_config *cfg, hflow_error *err);
void hflow_channel_init(hflow_channel *ch, const hflow_channel_config *cfg, int virtual_time);
/* Delay for sending `bytes` one way (up = 1 for edge->cloud). Sleeps (or, in
 * virtual mode, advances the clock). Returns HFLOW_ENET when the link is in an
 * outage at the time of sending. */
int hflow_channel_transfer(hflow_channel *ch, int up, size_t bytes, hflow_error *err);
/* Current time on the channel's clock (virtual or real), seconds since init. */
double hflow_channel_now(const hflow_channel *ch);
/* Advances the virtual clock (or sleeps) by a local computation's duration. */
void hflow_channel_spend(hflow_channel *ch, double seconds);
int hflow_channel_is_down(const hflow_channel *ch);

/* ---------------- target sessions (cloud side) ---------------- */

struct hflow_model;

typedef struct hflow_spec_params {
    float temperature;  /* 0 = greedy */
    int32_t top_k;      /* 0 = off */
    float top_p;        /* 1 = off */
    uint64_t seed;
    int32_t draft_top_k; /* K of the draft's truncated distribution when sampling (default 8) */
} hflow_spec_params;

void hflow_spec_params_default(hflow_spec_params *p);

/* One target-side speculative session: an engine session holding the context,
 * plus the one token that is decided but not yet in the cache (the last
 * correction/bonus token, or the prompt's last token at the start).
 * Not thread-safe; owned by its creator; frees its engine session. */
typedef struct hflow_spec_target hflow_spec_target;

int hflow_spec_target_create(struct hflow_model *m, const int32_t *prompt, int32_t n_prompt,
                             const hflow_spec_params *p, hflow_spec_target **out, hflow_error *err);
void hflow_spec_target_free(hflow_spec_target *t);
/* Verifies k draft tokens (q: k draft distributions when sampling, NULL for
 * greedy) in one batched forward of k+1 tokens, rolls the cache back past the
 * rejected ones and returns the verdict. t_forward_s receives the forward time. */
int hflow_spec_target_verify(hflow_spec_target *t, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q,
                             hflow_spec_verdict *out, double *t_forward_s, hflow_error *err);
/* Context length so far, the pending token included. */
int32_t hflow_spec_target_n_tokens(const hflow_spec_target *t);

/* Called for each token of a plain generation as it is decided, with the
 * forward time it took; return non-zero to stop after it. */
typedef int (*hflow_spec_token_cb)(void *user, int32_t token, double t_forward_s);
/* Plain remote generation (k = 0): the target generates up to n tokens on its
 * own (argmax when greedy, a draw from its distribution when sampling), stopping
 * after an end-of-generation token. Each token becomes the pending one, so
 * verification can resume right after. n_out receives the count, t_forward_s
 * the summed forward time. */
int hflow_spec_target_generate(hflow_spec_target *t, int32_t n, hflow_spec_token_cb cb, void *user, int32_t *n_out,
                               double *t_forward_s, hflow_error *err);

/* ---------------- transports (how the edge reaches a target) ---------------- */

typedef struct hflow_spec_session_info {
    char session_id[64];
    char model[128];
    char version[64];
    uint64_t tokenizer_fp;
    uint64_t backbone_fp;
} hflow_spec_session_info;

typedef struct hflow_spec_transport hflow_spec_transport;
typedef struct hflow_spec_transport_vtable {
    const char *kind;
    int (*open)(hflow_spec_transport *t, const int32_t *prompt, int32_t n, const hflow_spec_params *p,
                hflow_spec_session_info *info, hflow_error *err);
    /* q is NULL for greedy. Reports the target's forward time and bytes moved. */
    int (*verify)(hflow_spec_transport *t, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q,
                  hflow_spec_verdict *out, double *t_verify_s, int32_t *bytes_up, int32_t *bytes_down,
                  hflow_error *err);
    void (*close)(hflow_spec_transport *t);
    void (*destroy)(hflow_spec_transport *t);
    /* Plain remote generation (k = 0): the target generates up to n tokens
     * itself and streams them; on_token sees each as it arrives (its time
     * argument is the target's forward time for it). Stops after an
     * end-of-generation token. NULL when the transport cannot stream (the
     * edge then never falls back). */
    int (*generate)(hflow_spec_transport *t, int32_t n, hflow_spec_token_cb on_token, void *user, int32_t *n_got,
                    double *t_gen_s, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err);
} hflow_spec_transport_vtable;

struct hflow_spec_transport {
    const hflow_spec_transport_vtable *vt;
    void *impl;
};

/* Emulated target speed for benchmarks: forward time = base + per_token * tokens. */
typedef struct hflow_spec_target_emulation {
    double base_s, per_token_s;
} hflow_spec_target_emulation;

/* In-process transport to a target model, with an optional emulated channel
 * (NULL = none) and emulated target speed (NULL = real forward time). The
 * model and channel are borrowed and must outlive the transport. */
int hflow_spec_transport_inproc(struct hflow_model *target, hflow_channel *channel,
                                const hflow_spec_target_emulation *emu, hflow_spec_transport **out,
                                hflow_error *err);
void hflow_spec_transport_free(hflow_spec_transport *t);

/* Our server's session API at "http://host:port/v1#model" (libcurl, one
 * keep-alive connection). draft_tokenizer_fp (0 = don't send) lets the server
 * refuse a foreign draft at creation. timeout_s bounds every request (<= 0:
 * 60 s), so a dead server is an error, never a hang. */
int hflow_spec_transport_http(const char *endpoint, uint64_t draft_tokenizer_fp, double timeout_s,
                              hflow_spec_transport **out, hflow_error *err);

/* Greedy-only verification through an OpenAI-compatible /v1/completions that
 * accepts token-id prompts with echo + logprobs (vLLM, SGLang, our server):
 * each round sends the whole context plus the draft with max_tokens 1; the
 * echoed top-1 at each draft position is the target's argmax there and the
 * generated token is the bonus. Cost: the context is uploaded and (without a
 * prefix cache on the server) re-read every round. vocab (borrowed, may be
 * NULL) maps token strings back to ids when the server does not return ids. */
struct hflow_vocab;
int hflow_spec_transport_completions(const char *endpoint, const struct hflow_vocab *vocab, double timeout_s,
                                     hflow_spec_transport **out, hflow_error *err);

/* ---------------- the edge loop ---------------- */

typedef int (*hflow_spec_text_cb)(void *user, const char *text, size_t len);

typedef struct hflow_spec_stats {
    int32_t n_generated, rounds, drafted, accepted;
    int32_t fallback_tokens; /* tokens not from speculation: streamed by the target (k = 0) or edge-only */
    int32_t stream_rounds;   /* k = 0 rounds (plain remote generation chunks) */
    double t_total_s, t_draft_s, t_wait_s;
    double bytes_up, bytes_down;
    double energy_j;     /* estimated from the device profile */
    double mean_k;
    char stop_reason[24]; /* "eos", "length", "cancelled", "link-down-edge-only" */
    int not_lossless;     /* 1 when some tokens came from the draft alone (link down) */
} hflow_spec_stats;

typedef struct hflow_spec_run_config {
    hflow_spec_params params;
    hflow_spec_controller_config ctl;
    hflow_device_profile device;
    int32_t max_tokens;
    hflow_channel *channel;   /* clock for timing/energy accounting when emulated; may be NULL */
    int on_link_down_edge_only; /* 1: continue with the draft alone (not lossless), 0: stop with an error */
    double draft_emulated_s_per_token; /* > 0: account drafting at this speed instead of the measured one
                                          (benchmarks standing in for a phone-class draft; label it) */
    volatile int *cancel;
} hflow_spec_run_config;

void hflow_spec_run_config_default(hflow_spec_run_config *c);

/* Drafts with `draft` and verifies through `tr` until EOS or max_tokens.
 * out_tokens (may be NULL) receives a malloc'd array of the generated ids. */
int hflow_spec_generate(struct hflow_model *draft, hflow_spec_transport *tr, const int32_t *prompt, int32_t n_prompt,
                        const hflow_spec_run_config *cfg, hflow_spec_text_cb cb, void *user, int32_t **out_tokens,
                        hflow_spec_stats *stats, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
