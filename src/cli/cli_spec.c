/* cli_spec.c - `hybridflow spec`: edge-cloud speculative decoding from the
 * command line. The draft runs here; the target is a GGUF file (in-process,
 * behind the emulated channel) or a server (session API, or the greedy-only
 * /v1/completions fallback). Text streams to stdout, the summary to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hybridflow/engine.h"
#include "hybridflow/spec.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow spec --draft DRAFT.gguf --target ENDPOINT -p PROMPT [-n N]\n"
            "  ENDPOINT: TARGET.gguf (in-process, through --channel) or http://host:port/v1#model\n"
            "  --verify-via session|completions   server API (completions: greedy only, re-sends the context)\n"
            "  --k auto|N  --k-max N  --lambda X (s/J)  --energy-budget J/token  --device-profile FILE\n"
            "  --channel rtt=50ms,up=10mbit,down=10mbit,jitter=5ms,loss=0.01,outage=2s-3s\n"
            "  --virtual-time        emulated channel/target advance a clock instead of sleeping\n"
            "  --emulate-target base=S,per_token=S   stand-in speed for a larger target (in-process)\n"
            "  --temp T --top-k K --top-p P --seed S --draft-top-k K\n"
            "  --on-link-down stop|edge|wait[:S]   edge: continue with the draft alone (flagged as not\n"
            "                             lossless); wait: reconnect for up to S s (default 30), lossless\n"
            "  --timeout S   per-request timeout for a server target (default 30)\n");
}

typedef struct {
    const char *draft, *target, *prompt, *channel, *emulate, *profile, *via, *on_down;
    hflow_spec_run_config cfg;
    int virtual_time;
    double timeout_s;
} spec_opts;

static int parse_emulation(const char *s, hflow_spec_target_emulation *e) {
    e->base_s = e->per_token_s = 0;
    return sscanf(s, "base=%lf,per_token=%lf", &e->base_s, &e->per_token_s) == 2 && e->base_s >= 0 &&
                   e->per_token_s >= 0
               ? 0
               : -1;
}

static int parse_args(int argc, char **argv, spec_opts *o) {
    hflow_spec_run_config_default(&o->cfg);
    o->timeout_s = 30;
    o->via = "session";
    o->on_down = "stop";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--virtual-time")) { o->virtual_time = 1; continue; }
        if (!v) { fprintf(stderr, "hybridflow spec: %s needs a value\n", a); return -1; }
        i++;
        if (!strcmp(a, "--draft")) o->draft = v;
        else if (!strcmp(a, "--target")) o->target = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "-n")) o->cfg.max_tokens = atoi(v);
        else if (!strcmp(a, "--k")) o->cfg.ctl.fixed_k = strcmp(v, "auto") ? atoi(v) : 0;
        else if (!strcmp(a, "--k-max")) o->cfg.ctl.k_max = atoi(v);
        else if (!strcmp(a, "--lambda")) o->cfg.ctl.lambda_energy = atof(v);
        else if (!strcmp(a, "--energy-budget")) o->cfg.ctl.energy_budget_j = atof(v);
        else if (!strcmp(a, "--device-profile")) o->profile = v;
        else if (!strcmp(a, "--channel")) o->channel = v;
        else if (!strcmp(a, "--emulate-target")) o->emulate = v;
        else if (!strcmp(a, "--temp")) o->cfg.params.temperature = (float)atof(v);
        else if (!strcmp(a, "--top-k")) o->cfg.params.top_k = atoi(v);
        else if (!strcmp(a, "--top-p")) o->cfg.params.top_p = (float)atof(v);
        else if (!strcmp(a, "--seed")) o->cfg.params.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--draft-top-k")) o->cfg.params.draft_top_k = atoi(v);
        else if (!strcmp(a, "--verify-via")) o->via = v;
        else if (!strcmp(a, "--on-link-down")) o->on_down = v;
        else if (!strcmp(a, "--timeout")) o->timeout_s = atof(v);
        else { fprintf(stderr, "hybridflow spec: unknown option '%s'\n", a); return -1; }
    }
    if (!o->draft || !o->target || !o->prompt) {
        fprintf(stderr, "hybridflow spec: --draft, --target and -p are required\n");
        return -1;
    }
    if (o->cfg.ctl.fixed_k < 0 || o->cfg.ctl.fixed_k > HFLOW_SPEC_MAX_K || o->cfg.ctl.k_max < 1 ||
        o->cfg.ctl.k_max > HFLOW_SPEC_MAX_K || o->cfg.max_tokens < 1) {
        fprintf(stderr, "hybridflow spec: k must be auto or 1..%d, -n at least 1\n", HFLOW_SPEC_MAX_K);
        return -1;
    }
    if (!strncmp(o->on_down, "wait", 4) && (o->on_down[4] == '\0' || o->on_down[4] == ':')) {
        o->cfg.link_wait_s = o->on_down[4] == ':' ? atof(o->on_down + 5) : 30.0;
        if (o->cfg.link_wait_s <= 0) {
            fprintf(stderr, "hybridflow spec: --on-link-down wait:SECONDS needs a positive number\n");
            return -1;
        }
    } else if (strcmp(o->on_down, "stop") && strcmp(o->on_down, "edge")) {
        fprintf(stderr, "hybridflow spec: --on-link-down is stop, edge or wait[:SECONDS]\n");
        return -1;
    }
    o->cfg.on_link_down_edge_only = !strcmp(o->on_down, "edge");
    return 0;
}

static int print_text(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static void summary(const spec_opts *o, const hflow_spec_stats *st, int emulated_channel, int emulated_target) {
    double n = st->n_generated > 0 ? st->n_generated : 1;
    fprintf(stderr,
            "\n--- spec: %d tokens in %.3f s = %.1f tokens/s%s; stop: %s%s\n"
            "    rounds %d, mean k %.2f, acceptance %.1f%% (%d/%d drafted)\n"
            "    bytes per token: up %.1f, down %.1f%s\n"
            "    estimated device energy: %.4f J/token (profile '%s')%s\n",
            st->n_generated, st->t_total_s, st->t_total_s > 0 ? st->n_generated / st->t_total_s : 0,
            emulated_target ? " (emulated target speed)" : "", st->stop_reason[0] ? st->stop_reason : "-",
            st->not_lossless ? " - NOT LOSSLESS: some tokens are the draft's own" : "", st->rounds, st->mean_k,
            st->drafted ? 100.0 * st->accepted / st->drafted : 0.0, st->accepted, st->drafted, st->bytes_up / n,
            st->bytes_down / n, emulated_channel ? " (emulated channel)" : "", st->energy_j / n, o->cfg.device.name,
            o->virtual_time ? "\n    times are virtual (emulated channel and target clock)" : "");
}

static int is_url(const char *s) { return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8); }

int cli_spec(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    spec_opts o = {0};
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    hflow_error err = {0};
    hflow_model *draft = NULL, *target = NULL;
    hflow_spec_transport *tr = NULL;
    hflow_channel ch;
    hflow_channel_config cc;
    hflow_spec_target_emulation emu;
    int32_t *prompt = NULL, n_prompt = 0;
    int rc = o.profile ? hflow_device_profile_load(o.profile, &o.cfg.device, &err) : 0;
    if (!rc && o.channel) rc = hflow_channel_parse(o.channel, &cc, &err);
    if (!rc && o.emulate && parse_emulation(o.emulate, &emu))
        rc = hflow_error_set(&err, HFLOW_EINVAL, "--emulate-target wants base=SECONDS,per_token=SECONDS");
    if (!rc) rc = hflow_model_load(o.draft, NULL, &draft, &err);
    if (!rc) rc = hflow_tokenize(hflow_model_vocab(draft), o.prompt, strlen(o.prompt), 1, 0, &prompt, &n_prompt, &err);
    if (!rc && o.channel) {
        hflow_channel_init(&ch, &cc, o.virtual_time);
        o.cfg.channel = &ch;
    }
    if (!rc && !is_url(o.target)) {
        rc = hflow_model_load(o.target, NULL, &target, &err);
        if (!rc) rc = hflow_spec_transport_inproc(target, o.channel ? &ch : NULL, o.emulate ? &emu : NULL, &tr, &err);
    } else if (!rc) {
        if (o.channel || o.emulate) fprintf(stderr, "hybridflow spec: --channel/--emulate-target apply to in-process targets only; "
                                                    "use scripts/netem.sh for a real path\n");
        o.cfg.channel = NULL;
        uint64_t fp = hflow_vocab_fingerprint(hflow_model_vocab(draft));
        rc = !strcmp(o.via, "completions")
                 ? hflow_spec_transport_completions(o.target, hflow_model_vocab(draft), o.timeout_s, &tr, &err)
                 : hflow_spec_transport_http(o.target, fp, o.timeout_s, &tr, &err);
        o.channel = NULL;
        o.emulate = NULL;
    }
    hflow_spec_stats st;
    memset(&st, 0, sizeof st);
    if (!rc) rc = hflow_spec_generate(draft, tr, prompt, n_prompt, &o.cfg, print_text, NULL, NULL, &st, &err);
    if (!rc) summary(&o, &st, o.channel != NULL, o.emulate != NULL);
    else fprintf(stderr, "\nhybridflow spec: %s\n", err.message);
    hflow_spec_transport_free(tr);
    hflow_model_free(target);
    hflow_model_free(draft);
    free(prompt);
    return rc ? 1 : 0;
}
