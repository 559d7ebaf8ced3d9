/* threadpool.h - a persistent worker pool for data-parallel kernels.
 *
 * hflow_pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once on each of the
 * pool's nth threads (the caller is thread 0) and returns when all are done.
 * Kernels split their rows by (ith, nth). Workers spin briefly after a job
 * before sleeping on a condition variable, because a forward pass issues
 * hundreds of small jobs per token and a futex wake per job would dominate.
 * Concurrent hflow_pool_run calls from different threads are serialised, so
 * one pool can be shared by every session of an engine. */
#ifndef HFLOW_BASE_THREADPOOL_H
#define HFLOW_BASE_THREADPOOL_H

typedef struct hflow_pool hflow_pool;
typedef void (*hflow_pool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 picks the number of online CPUs. Returns NULL on failure. */
hflow_pool *hflow_pool_create(int n_threads);
void hflow_pool_free(hflow_pool *pool);
int hflow_pool_size(const hflow_pool *pool);
void hflow_pool_run(hflow_pool *pool, hflow_pool_fn fn, void *ctx);
/* Number of online CPUs (at least 1). */
int hflow_cpu_count(void);

#endif
