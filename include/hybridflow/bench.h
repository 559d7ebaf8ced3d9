/* hybridflow/bench.h - engine speed measurement (`hybridflow bench`).
 *
 * One run loads a model once and then, `reps` times: measures the machine's
 * memory bandwidth (STREAM triad and read), prefills a prompt of n_prompt
 * token ids in one batched decode, and decodes n_gen tokens one at a time
 * (greedy). Bandwidth is measured inside every repetition, right beside the
 * model work, because on a shared machine both drift together: the ratio of
 * decode's weight-read rate to the bandwidth of the same repetition is the
 * figure that means something, and the result reports the median of each.
 * Timings are wall-clock; cpu_util says how much of the asked-for cores the
 * process actually got while decoding (1.0 = all of them), i.e. how busy the
 * machine was. */
#ifndef HYBRIDFLOW_BENCH_H
#define HYBRIDFLOW_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_bench_params {
    const char *model_path;
    int n_threads;       /* 0 = all CPUs */
    int32_t n_prompt;    /* prefill length (default 256 when 0) */
    int32_t n_gen;       /* decoded tokens (default 64 when 0) */
    int reps;            /* repetitions (default 3 when 0) */
    size_t membw_bytes;  /* bytes per STREAM array (default 256 MiB when 0: beyond the caches) */
} hflow_bench_params;

typedef struct hflow_bench_result {
    int threads, reps;
    int32_t n_prompt, n_gen;
    uint64_t weight_bytes;      /* weights read per decoded token */
    /* medians over the repetitions */
    double prefill_tok_s, decode_tok_s;
    double decode_gbs;          /* weight_bytes * decode_tok_s / 1e9 */
    double triad_gbs, read_gbs; /* machine bandwidth, same repetitions */
    double ratio_triad;         /* median of per-rep decode_gbs / triad_gbs */
    double ratio_read;          /* median of per-rep decode_gbs / read_gbs */
    double prefill_over_decode; /* median of per-rep prefill tok/s / decode tok/s */
    /* spread: slowest and fastest repetition */
    double decode_tok_s_min, decode_tok_s_max, prefill_tok_s_min, prefill_tok_s_max;
    double cpu_util;            /* process CPU time / (wall * threads) while decoding, median */
    double prefill_cpu_util;    /* the same while prefilling */
    /* Tokens per second of process CPU time (all threads, including workers
     * spinning between jobs), medians: what the code costs, nearly
     * independent of how much of the machine other processes take. */
    double prefill_tok_cpu_s, decode_tok_cpu_s;
    double prefill_over_decode_cpu; /* median of per-rep prefill_tok_cpu_s / decode_tok_cpu_s */
    double peak_rss_mb;         /* largest resident set seen after prefill/decode (excludes the STREAM arrays) */
    double load_s;              /* model load time */
    double loadavg1;            /* 1-minute load average at the start (-1 when unknown) */
} hflow_bench_result;

/* Runs the benchmark described above. Returns 0 or a negative HFLOW_E* code
 * (bad path or model, out of memory) with `err` filled. */
int hflow_bench_run(const hflow_bench_params *p, hflow_bench_result *out, hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
