/* membw.c - STREAM-style triad and read bandwidth over the thread pool.
 * Each thread touches its own contiguous slice (first-touch placement too),
 * and the best repetition is reported, as STREAM does, because other load
 * on a shared machine can only slow a run down. */
#include "engine/membw.h"

#include <stdlib.h>

#include "hybridflow/error.h"
#include "base/clock.h"

typedef struct {
    double *a, *b, *c;
    size_t n;
    double partial[256]; /* per-thread sums of the read kernel */
} bw_job;

static void slice(size_t n, int ith, int nth, size_t *lo, size_t *hi) {
    size_t per = (n + (size_t)nth - 1) / (size_t)nth;
    *lo = per * (size_t)ith < n ? per * (size_t)ith : n;
    *hi = *lo + per < n ? *lo + per : n;
}

static void init_task(void *p, int ith, int nth) {
    bw_job *j = p;
    size_t lo, hi;
    slice(j->n, ith, nth, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        j->a[i] = 0.0;
        j->b[i] = 1.0;
        j->c[i] = 2.0;
    }
}

static void triad_task(void *p, int ith, int nth) {
    bw_job *j = p;
    size_t lo, hi;
    slice(j->n, ith, nth, &lo, &hi);
    double *restrict a = j->a;
    const double *restrict b = j->b, *restrict c = j->c;
    for (size_t i = lo; i < hi; i++) a[i] = b[i] + 3.0 * c[i];
}

static void read_task(void *p, int ith, int nth) {
    bw_job *j = p;
    size_t lo, hi;
    slice(j->n, ith, nth, &lo, &hi);
    /* four independent sums so the loop is limited by loads, not add latency */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = lo;
    for (; i + 4 <= hi; i += 4) {
        s0 += j->b[i];
        s1 += j->b[i + 1];
        s2 += j->b[i + 2];
        s3 += j->b[i + 3];
    }
    for (; i < hi; i++) s0 += j->b[i];
    j->partial[ith] = s0 + s1 + s2 + s3;
}

static double best_gbs(hflow_pool *pool, hflow_pool_fn fn, bw_job *j, int reps, double bytes) {
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = hflow_now_s();
        hflow_pool_run(pool, fn, j);
        double dt = hflow_now_s() - t0;
        if (dt > 0 && bytes / dt / 1e9 > best) best = bytes / dt / 1e9;
    }
    return best;
}

int hflow_membw_measure(hflow_pool *pool, size_t array_bytes, int reps, hflow_membw *out) {
    if (array_bytes == 0) array_bytes = (size_t)256 << 20;
    if (reps <= 0) reps = 5;
    bw_job j = {0};
    j.n = array_bytes / sizeof(double);
    j.a = malloc(j.n * sizeof(double));
    j.b = malloc(j.n * sizeof(double));
    j.c = malloc(j.n * sizeof(double));
    if (!j.a || !j.b || !j.c || hflow_pool_size(pool) > 256) {
        free(j.a);
        free(j.b);
        free(j.c);
        return HFLOW_ENOMEM;
    }
    hflow_pool_run(pool, init_task, &j);
    out->triad_gbs = best_gbs(pool, triad_task, &j, reps, 3.0 * (double)j.n * sizeof(double));
    out->read_gbs = best_gbs(pool, read_task, &j, reps, (double)j.n * sizeof(double));
    out->array_bytes = j.n * sizeof(double);
    out->threads = hflow_pool_size(pool);
    /* keep the read kernel's result observable so it is not optimised away */
    double chk = 0;
    for (int i = 0; i < out->threads; i++) chk += j.partial[i];
    if (chk != (double)j.n) out->read_gbs = -out->read_gbs;
    free(j.a);
    free(j.b);
    free(j.c);
    return 0;
}
