/* engine_bench.c - prefill/decode speed against measured memory bandwidth
 * (hybridflow/bench.h). The STREAM kernels run on the model's own pool so the
 * bandwidth figure uses exactly the threads decode uses. */
#define _POSIX_C_SOURCE 200809L
#include "hybridflow/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "engine/membw.h"
#include "engine/model.h"
#include "hybridflow/engine.h"
#include "hybridflow/sample.h"

#define MAX_REPS 64

typedef struct rep_figures {
    double prefill_tok_s, decode_tok_s, triad_gbs, read_gbs, cpu_util;
    double prefill_cpu_util, prefill_tok_cpu_s, decode_tok_cpu_s;
} rep_figures;

static double cpu_time_s(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Current resident set in MB: /proc/self/statm where it exists, else the
 * lifetime peak from getrusage (an over-estimate once STREAM arrays ran). */
static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size = 0, resident = 0;
        int n = fscanf(f, "%ld %ld", &size, &resident);
        fclose(f);
        if (n == 2) return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e6;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1e3; /* KiB on Linux */
}

static double loadavg1(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Deterministic prompt ids spread over the vocabulary (an LCG), avoiding id 0. */
static void make_prompt(int32_t *ids, int32_t n, int32_t n_vocab) {
    uint32_t s = 12345u;
    for (int32_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = 1 + (int32_t)((s >> 8) % (uint32_t)(n_vocab > 1 ? n_vocab - 1 : 1));
    }
}

/* One repetition on a fresh (truncated) session: prefill, then greedy decode. */
static int run_rep(hflow_model *m, hflow_session *s, const int32_t *prompt, const hflow_bench_params *p,
                   rep_figures *f, double *rss_peak, hflow_error *err) {
    int32_t n_vocab = hflow_model_get_info(m)->n_vocab;
    int rc = hflow_session_truncate(s, 0, err);
    if (rc) return rc;
    double c0 = cpu_time_s(), t0 = hflow_now_s();
    rc = hflow_session_decode(s, prompt, p->n_prompt, HFLOW_LOGITS_LAST, err);
    if (rc) return rc;
    double t1 = hflow_now_s(), c1 = cpu_time_s();
    f->prefill_tok_s = p->n_prompt / (t1 - t0);
    f->prefill_tok_cpu_s = p->n_prompt / (c1 - c0);
    f->prefill_cpu_util = (c1 - c0) / ((t1 - t0) * hflow_pool_size(m->pool));
    double r = rss_mb();
    if (r > *rss_peak) *rss_peak = r;
    c0 = cpu_time_s();
    t0 = hflow_now_s();
    for (int32_t i = 0; i < p->n_gen; i++) {
        int32_t tok = hflow_argmax(hflow_session_logits(s, 0), n_vocab);
        if ((rc = hflow_session_decode(s, &tok, 1, HFLOW_LOGITS_LAST, err))) return rc;
    }
    t1 = hflow_now_s();
    f->decode_tok_s = p->n_gen / (t1 - t0);
    c1 = cpu_time_s();
    f->cpu_util = (c1 - c0) / ((t1 - t0) * hflow_pool_size(m->pool));
    f->decode_tok_cpu_s = p->n_gen / (c1 - c0);
    r = rss_mb();
    if (r > *rss_peak) *rss_peak = r;
    return 0;
}

static void summarise(const rep_figures *f, int n, hflow_bench_result *out) {
    double a[MAX_REPS] = {0}, b[MAX_REPS] = {0};
#define MED(field, dst)                                      \
    do {                                                     \
        for (int i = 0; i < n; i++) a[i] = f[i].field;       \
        out->dst = median(a, n);                             \
    } while (0)
    MED(prefill_tok_s, prefill_tok_s);
    out->prefill_tok_s_min = a[0];
    out->prefill_tok_s_max = a[n - 1];
    MED(decode_tok_s, decode_tok_s);
    out->decode_tok_s_min = a[0];
    out->decode_tok_s_max = a[n - 1];
    MED(triad_gbs, triad_gbs);
    MED(read_gbs, read_gbs);
    MED(cpu_util, cpu_util);
    MED(prefill_cpu_util, prefill_cpu_util);
    MED(prefill_tok_cpu_s, prefill_tok_cpu_s);
    MED(decode_tok_cpu_s, decode_tok_cpu_s);
#undef MED
    double gb = (double)out->weight_bytes / 1e9;
    out->decode_gbs = gb * out->decode_tok_s;
    for (int i = 0; i < n; i++) {
        a[i] = gb * f[i].decode_tok_s / f[i].triad_gbs;
        b[i] = gb * f[i].decode_tok_s / f[i].read_gbs;
    }
    out->ratio_triad = median(a, n);
    out->ratio_read = median(b, n);
    for (int i = 0; i < n; i++) a[i] = f[i].prefill_tok_s / f[i].decode_tok_s;
    out->prefill_over_decode = median(a, n);
    for (int i = 0; i < n; i++) a[i] = f[i].prefill_tok_cpu_s / f[i].decode_tok_cpu_s;
    out->prefill_over_decode_cpu = median(a, n);
}

static int check_params(const hflow_bench_params *in, hflow_bench_params *p, hflow_error *err) {
    if (!in || !in->model_path) return hflow_error_set(err, HFLOW_EINVAL, "bench: no model path");
    *p = *in;
    if (p->n_prompt == 0) p->n_prompt = 256;
    if (p->n_gen == 0) p->n_gen = 64;
    if (p->reps == 0) p->reps = 3;
    if (p->membw_bytes == 0) p->membw_bytes = (size_t)256 << 20;
    if (p->n_prompt < 1 || p->n_gen < 1 || p->reps < 1 || p->reps > MAX_REPS || p->n_threads < 0)
        return hflow_error_set(err, HFLOW_EINVAL,
                               "bench: need prompt >= 1, gen >= 1, 1 <= reps <= %d, threads >= 0 (got %d, %d, %d, %d)",
                               MAX_REPS, p->n_prompt, p->n_gen, p->reps, p->n_threads);
    return 0;
}

int hflow_bench_run(const hflow_bench_params *in, hflow_bench_result *out, hflow_error *err) {
    hflow_bench_params p = {0};
    int rc = check_params(in, &p, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->loadavg1 = loadavg1();
    hflow_model *m = NULL;
    hflow_session *s = NULL;
    int32_t *prompt = NULL;
    rep_figures f[MAX_REPS];
    double t0 = hflow_now_s();
    hflow_model_params mp = {p.n_threads};
    if ((rc = hflow_model_load(p.model_path, &mp, &m, err))) return rc;
    out->load_s = hflow_now_s() - t0;
    const hflow_model_info *info = hflow_model_get_info(m);
    hflow_session_params sp = {.n_ctx = p.n_prompt + p.n_gen}; /* default KV type, as generate uses */
    if ((rc = hflow_session_create(m, &sp, &s, err))) goto done;
    if (!(prompt = malloc((size_t)p.n_prompt * sizeof *prompt))) {
        rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        goto done;
    }
    make_prompt(prompt, p.n_prompt, info->n_vocab);
    for (int r = 0; r < p.reps; r++) {
        hflow_membw bw;
        if ((rc = hflow_membw_measure(m->pool, p.membw_bytes, 3, &bw))) {
            hflow_error_set(err, rc, "bench: out of memory for the bandwidth arrays");
            goto done;
        }
        f[r].triad_gbs = bw.triad_gbs;
        f[r].read_gbs = bw.read_gbs < 0 ? -bw.read_gbs : bw.read_gbs;
        if ((rc = run_rep(m, s, prompt, &p, &f[r], &out->peak_rss_mb, err))) goto done;
    }
    out->threads = hflow_pool_size(m->pool);
    out->reps = p.reps;
    out->n_prompt = p.n_prompt;
    out->n_gen = p.n_gen;
    out->weight_bytes = info->weight_bytes;
    summarise(f, p.reps, out);
done:
    free(prompt);
    hflow_session_free(s);
    hflow_model_free(m);
    return rc;
}
