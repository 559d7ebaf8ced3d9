/* bench_util.h - what the kernel benchmarks share: this thread's CPU time
 * (load-independent figures on a shared machine) and reproducible random
 * inputs. Header-only: every bench source is its own executable. */
#ifndef HFLOW_BENCH_UTIL_H
#define HFLOW_BENCH_UTIL_H
#include <stddef.h>
#include <time.h>

#include "engine/quant.h"
#include "engine/vecdot.h"

static inline double bench_thread_cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Uniform in [-1, 1) from an LCG state. */
static inline float bench_frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 8388608.0f - 1.0f;
}

/* Random weights (rows x cols of `type`, rows rs bytes apart) and activations
 * (ntok rows in the kernel's activation format, xs bytes apart), from one
 * seeded stream; f is scratch of cols floats. */
static inline void bench_random_operands(uint32_t type, const hflow_dot_kernel *k, int rows, int cols, int ntok,
                                         char *w, size_t rs, char *x, size_t xs, float *f) {
    unsigned s = 1;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) f[c] = bench_frand(&s);
        hflow_quantize_row(type, f, w + (size_t)r * rs, cols);
    }
    for (int t = 0; t < ntok; t++) {
        for (int c = 0; c < cols; c++) f[c] = bench_frand(&s);
        k->quantize_act(f, x + (size_t)t * xs, cols);
    }
}

#endif
