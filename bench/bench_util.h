/* bench_util.h - what the kernel benchmarks share: this thread's CPU time
 * (load-independent figures on a shared machine) and reproducible random
 * inputs. Header-only: every bench source is its own executable. */
#ifndef HFLOW_BENCH_UTIL_H
#define HFLOW_BENCH_UTIL_H
#include <time.h>

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

#endif
