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
/* For jobs whose threads take their work from a shared counter, so that any
 * subset of threads finishes the job: fn(ctx, ith, nth) runs on the caller
 * and on each worker that picks the job up before the caller's own call
 * returns; workers arriving later skip it. Returns when every thread that
 * joined is done. On a quiet machine every worker is spinning and joins at
 * once; on a busy one a worker that is not on a core costs nothing, where
 * hflow_pool_run would wait for it to be scheduled (up to a time slice). */
void hflow_pool_run_dynamic(hflow_pool *pool, hflow_pool_fn fn, void *ctx);
/* Number of online CPUs (at least 1). */
int hflow_cpu_count(void);

#endif
