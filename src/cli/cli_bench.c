/* cli_bench.c - `hybridflow bench`: prefill/decode speed of a GGUF model and
 * decode's weight-read rate against the machine's measured bandwidth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hybridflow/bench.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow bench -m MODEL.gguf [options]\n"
            "  -t, --threads N   worker threads (default: all cores)\n"
            "  -p N              prompt (prefill) length (default 256)\n"
            "  -n N              decoded tokens (default 64)\n"
            "  --reps R          repetitions; medians are reported (default 3)\n"
            "  --bw-mib M        MiB per STREAM array (default 256)\n"
            "Bandwidth is measured inside every repetition, beside the model work: on a shared\n"
            "machine compare the ratio, not the absolute figures. 'cpu N%%' is the share of the\n"
            "asked-for cores the process got; the 'per CPU-second' line divides tokens by the\n"
            "process's CPU time instead of wall time (worker spin included), so it does not\n"
            "depend on other processes' load.\n");
}

static void print_result(const char *model, const hflow_bench_result *r) {
    printf("model %s: %.1f MB of weights read per token, %d threads, %d reps (load avg %.2f at start)\n", model,
           (double)r->weight_bytes / 1e6, r->threads, r->reps, r->loadavg1);
    printf("prefill  %4d tok: %8.1f tok/s (min %.1f, max %.1f); cpu %.0f%% of %d threads\n", r->n_prompt,
           r->prefill_tok_s, r->prefill_tok_s_min, r->prefill_tok_s_max, 100 * r->prefill_cpu_util, r->threads);
    printf("decode   %4d tok: %8.1f tok/s (min %.1f, max %.1f); cpu %.0f%% of %d threads\n", r->n_gen,
           r->decode_tok_s, r->decode_tok_s_min, r->decode_tok_s_max, 100 * r->cpu_util, r->threads);
    printf("decode weight reads %.2f GB/s; measured triad %.2f GB/s, read %.2f GB/s\n", r->decode_gbs, r->triad_gbs,
           r->read_gbs);
    printf("ratio: %.0f%% of triad, %.0f%% of read; prefill/decode per token %.1fx\n", 100 * r->ratio_triad,
           100 * r->ratio_read, r->prefill_over_decode);
    printf("per CPU-second (load-independent): prefill %.1f tok, decode %.1f tok; prefill/decode per token %.1fx\n",
           r->prefill_tok_cpu_s, r->decode_tok_cpu_s, r->prefill_over_decode_cpu);
    printf("peak RSS %.1f MB; load %.2f s\n", r->peak_rss_mb, r->load_s);
}

int cli_bench(int argc, char **argv) {
    hflow_bench_params p = {0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return 0; }
        if (!v) { fprintf(stderr, "hybridflow bench: %s needs a value\n", o); return 2; }
        i++;
        if (!strcmp(o, "-m") || !strcmp(o, "--model")) p.model_path = v;
        else if (!strcmp(o, "-t") || !strcmp(o, "--threads")) p.n_threads = atoi(v);
        else if (!strcmp(o, "-p")) p.n_prompt = atoi(v);
        else if (!strcmp(o, "-n")) p.n_gen = atoi(v);
        else if (!strcmp(o, "--reps")) p.reps = atoi(v);
        else if (!strcmp(o, "--bw-mib")) p.membw_bytes = (size_t)strtoul(v, NULL, 10) << 20;
        else { fprintf(stderr, "hybridflow bench: unknown option '%s'\n", o); usage(stderr); return 2; }
    }
    if (!p.model_path) { usage(stderr); return 2; }
    hflow_bench_result r;
    hflow_error err;
    if (hflow_bench_run(&p, &r, &err) != 0) {
        fprintf(stderr, "hybridflow bench: %s\n", err.message);
        return 1;
    }
    print_result(p.model_path, &r);
    return 0;
}
