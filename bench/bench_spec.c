/* bench_spec.c - ECSpec over a grid of emulated channels, in virtual time.
 *
 * For every cell RTT x rate: tokens/s, bytes per token and device energy per
 * token of speculative decoding with fixed k in {1,2,4,8} and adaptive k,
 * against remote autoregressive generation streamed over the same channel.
 * Real models decide every token (target = stories260K evolved to version v2,
 * draft = a q4_0 copy of v1: a static draft on a newer target of its family);
 * the clock is virtual: the channel, the target's forward time and the
 * draft's per-token time are EMULATED at the speeds printed in the header.
 * Without ../shared a random-weight pair from gen-model stands in.
 *
 *   bench_spec [--tokens N] [--prompts P] [--draft-ms X] [--target base_ms,per_token_ms] [--budget J]
 *              [--rtt MS] [--rate MBIT]   (only the cells with this RTT / rate)
 *              [--conf-stop 1]            (adaptive: the draft-confidence stop rule)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/quantize_model.h"
#include "hybridflow/engine.h"
#include "hybridflow/family.h"
#include "hybridflow/modelgen.h"
#include "hybridflow/spec.h"

#define STREAM_BYTES_PER_TOKEN 150 /* one OpenAI SSE chunk: data: {...choices:[{text}]}\n\n */
#define STREAM_REQUEST_BYTES 400   /* request head + JSON body of a streamed completion */

static const double RTTS_MS[] = {5, 20, 50, 100, 200};
static const double RATES_MBIT[] = {1, 10, 100};
static const int FIXED_K[] = {1, 2, 4, 8};
#define N_RTT 5
#define N_RATE 3
#define N_FIXED 4

static const char *PROMPTS[] = {"Once upon a time", "The little dog", "Lily and Ben went to the park.",
                                "One day, a big red ball", "Tom was sad because", "The sun was"};

typedef struct {
    double tps, bytes, energy;
} result;

static int die(const hflow_error *err) {
    fprintf(stderr, "bench_spec: %s\n", err->message);
    return 1;
}

static int conf_stop; /* --conf-stop */

static int run_cell(hflow_model *draft, hflow_model *target, int32_t **prompts, const int *n_prompts, int n_p,
                    const hflow_channel_config *cc, int k, double budget, const hflow_spec_target_emulation *emu,
                    double draft_s, int n_tokens, result *out, hflow_error *err) {
    double tok = 0, time = 0, bytes = 0, energy = 0;
    for (int p = 0; p < n_p; p++) {
        hflow_channel ch;
        hflow_channel_init(&ch, cc, 1);
        hflow_spec_transport *tr = NULL;
        int rc = hflow_spec_transport_inproc(target, &ch, emu, &tr, err);
        if (rc) return rc;
        hflow_spec_run_config cfg;
        hflow_spec_run_config_default(&cfg);
        cfg.ctl.fixed_k = k;
        cfg.ctl.energy_budget_j = budget;
        cfg.ctl.confidence_stop = conf_stop;
        cfg.max_tokens = n_tokens;
        cfg.channel = &ch;
        cfg.draft_emulated_s_per_token = draft_s;
        hflow_spec_stats st;
        rc = hflow_spec_generate(draft, tr, prompts[p], n_prompts[p], &cfg, NULL, NULL, NULL, &st, err);
        hflow_spec_transport_free(tr);
        if (rc) return rc;
        tok += st.n_generated;
        time += st.t_total_s;
        bytes += st.bytes_up + st.bytes_down;
        energy += st.energy_j;
    }
    out->tps = tok / time;
    out->bytes = bytes / tok;
    out->energy = energy / tok;
    return 0;
}

/* Remote autoregressive generation, streamed: one request, then the target
 * generates alone and each token travels as one SSE chunk. Tokens pipeline
 * behind each other, so the stream runs at the slower of generation and the
 * downlink; the first token pays the round trip. The device idles all along. */
static result remote_ar(const hflow_channel_config *cc, const hflow_spec_target_emulation *emu,
                        const hflow_device_profile *dev, int n_tokens) {
    double t_gen = emu->base_s + emu->per_token_s; /* one token per forward */
    double per_tok = fmax(t_gen, STREAM_BYTES_PER_TOKEN / cc->down_bps);
    double t = cc->rtt_s + STREAM_REQUEST_BYTES / cc->up_bps + t_gen + (n_tokens - 1) * per_tok +
               STREAM_BYTES_PER_TOKEN / cc->down_bps;
    double bytes = STREAM_REQUEST_BYTES + (double)n_tokens * STREAM_BYTES_PER_TOKEN;
    double e = t * dev->p_idle_w + STREAM_REQUEST_BYTES * dev->e_tx_j_per_byte +
               n_tokens * STREAM_BYTES_PER_TOKEN * dev->e_rx_j_per_byte;
    return (result){n_tokens / t, bytes / n_tokens, e / n_tokens};
}

static int make_models(char *dir, hflow_model **draft, hflow_model **target, const char **what, hflow_error *err) {
    char v1[600], v2[600], dq[600];
    snprintf(v1, sizeof v1, "%s/v1.gguf", dir);
    snprintf(v2, sizeof v2, "%s/v2.gguf", dir);
    snprintf(dq, sizeof dq, "%s/draft-q4_0.gguf", dir);
    const char *shared = getenv("HYBRIDFLOW_SHARED");
    char src[600];
    snprintf(src, sizeof src, "%s/models/stories260K.gguf", shared ? shared : HFLOW_SOURCE_DIR "/../shared");
    int rc;
    if (access(src, R_OK) == 0) {
        *what = "target stories260K v2 (upper 2 of 5 layers evolved), draft q4_0 copy of v1";
        rc = hflow_family_stamp(src, v1, "stories", "v1", 3, err);
    } else {
        *what = "random-weight llama 4L/64d (no ../shared), draft q4_0 copy of v1";
        hflow_gen_params gp;
        hflow_gen_params_default(&gp);
        rc = hflow_gen_params_preset(&gp, "tiny", err);
        gp.n_layer = 4;
        char raw[600];
        snprintf(raw, sizeof raw, "%s/raw.gguf", dir);
        if (!rc) rc = hflow_gen_model(&gp, raw, err);
        if (!rc) rc = hflow_family_stamp(raw, v1, "random", "v1", 2, err);
    }
    if (!rc) rc = hflow_family_evolve(v1, v2, 3, 0.05f, 11, "v2", err);
    if (!rc) rc = hflow_quantize_model(v1, dq, "q4_0", 1, NULL, err);
    hflow_model_params mp = {1}; /* tiny models: one thread beats waking a pool */
    if (!rc) rc = hflow_model_load(v2, &mp, target, err);
    if (!rc) rc = hflow_model_load(dq, &mp, draft, err);
    return rc;
}

int main(int argc, char **argv) {
    int n_tokens = 96, n_p = 4;
    double draft_ms = 12, budget = 0, only_rtt = 0, only_rate = 0;
    hflow_spec_target_emulation emu = {0.030, 0.0015};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--tokens")) n_tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompts")) n_p = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--draft-ms")) draft_ms = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--budget")) budget = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rtt")) only_rtt = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate")) only_rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--conf-stop")) conf_stop = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--target") && sscanf(argv[i + 1], "%lf,%lf", &emu.base_s, &emu.per_token_s) == 2) {
            emu.base_s /= 1000;
            emu.per_token_s /= 1000;
        } else {
            fprintf(stderr, "usage: bench_spec [--tokens N] [--prompts P] [--draft-ms X] "
                            "[--target base_ms,per_token_ms] [--budget J/token] [--rtt MS] [--rate MBIT] [--conf-stop 0|1]\n");
            return 2;
        }
    }
    if (n_p > (int)(sizeof PROMPTS / sizeof *PROMPTS)) n_p = (int)(sizeof PROMPTS / sizeof *PROMPTS);
    char dir[] = "/tmp/bench_spec.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    hflow_error err = {0};
    hflow_model *draft = NULL, *target = NULL;
    const char *what;
    if (make_models(dir, &draft, &target, &what, &err)) return die(&err);
    int32_t *prompts[8];
    int n_prompts[8];
    for (int p = 0; p < n_p; p++)
        if (hflow_tokenize(hflow_model_vocab(target), PROMPTS[p], strlen(PROMPTS[p]), 1, 0, &prompts[p], &n_prompts[p], &err))
            return die(&err);
    hflow_device_profile dev;
    hflow_device_profile_default(&dev);
    printf("ECSpec benchmark, virtual time. Models: %s.\n", what);
    printf("EMULATED: target forward = %.1f ms + %.2f ms x tokens; draft %.1f ms/token; channel per cell "
           "(symmetric rate, no loss); %d prompts x %d tokens; device '%s'%s.\n",
           emu.base_s * 1e3, emu.per_token_s * 1e3, draft_ms, n_p, n_tokens, dev.name,
           budget > 0 ? "; adaptive with an energy budget" : "");
    if (conf_stop) printf("Adaptive with the draft-confidence stop rule.\n");
    printf("\n| RTT ms | Mbit/s | remote AR | k=1 | k=2 | k=4 | k=8 | adaptive | adaptive/best fixed | B/token AR | B/token adaptive | J/token adaptive |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    double sum_fixed[N_FIXED] = {0}, sum_adapt = 0, worst_ratio = 1e9, max_energy = 0;
    int cells_within = 0, cells = 0;
    for (int r = 0; r < N_RTT; r++)
        for (int q = 0; q < N_RATE; q++) {
            if ((only_rtt > 0 && RTTS_MS[r] != only_rtt) || (only_rate > 0 && RATES_MBIT[q] != only_rate)) continue;
            hflow_channel_config cc;
            char spec[128];
            snprintf(spec, sizeof spec, "rtt=%gms,rate=%gmbit", RTTS_MS[r], RATES_MBIT[q]);
            if (hflow_channel_parse(spec, &cc, &err)) return die(&err);
            result fx[N_FIXED], ad, ar = remote_ar(&cc, &emu, &dev, n_tokens);
            double best = 0;
            for (int f = 0; f < N_FIXED; f++) {
                if (run_cell(draft, target, prompts, n_prompts, n_p, &cc, FIXED_K[f], 0, &emu, draft_ms / 1e3, n_tokens,
                             &fx[f], &err))
                    return die(&err);
                best = fmax(best, fx[f].tps);
                sum_fixed[f] += fx[f].tps;
            }
            if (run_cell(draft, target, prompts, n_prompts, n_p, &cc, 0, budget, &emu, draft_ms / 1e3, n_tokens, &ad, &err))
                return die(&err);
            sum_adapt += ad.tps;
            double ratio = ad.tps / best;
            worst_ratio = fmin(worst_ratio, ratio);
            max_energy = fmax(max_energy, ad.energy);
            cells++;
            cells_within += ratio >= 0.95;
            printf("| %g | %g | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.3f%s | %.0f | %.0f | %.4f |\n", RTTS_MS[r],
                   RATES_MBIT[q], ar.tps, fx[0].tps, fx[1].tps, fx[2].tps, fx[3].tps, ad.tps, ratio,
                   ratio < 0.95 ? " (miss)" : "", ar.bytes, ad.bytes, ad.energy);
            fflush(stdout);
        }
    printf("\nTokens/s summed over the grid: k=1 %.1f, k=2 %.1f, k=4 %.1f, k=8 %.1f, adaptive %.1f.\n", sum_fixed[0],
           sum_fixed[1], sum_fixed[2], sum_fixed[3], sum_adapt);
    printf("Adaptive within 5%% of the best fixed k in %d of %d cells (worst ratio %.3f).\n", cells_within, cells,
           worst_ratio);
    if (budget > 0)
        printf("Energy budget %.4f J/token: adaptive's worst cell %.4f J/token (%s).\n", budget, max_energy,
               max_energy <= budget ? "within" : "OVER");
    for (int p = 0; p < n_p; p++) free(prompts[p]);
    hflow_model_free(draft);
    hflow_model_free(target);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
