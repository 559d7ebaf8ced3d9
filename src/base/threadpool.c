/* threadpool.c - generation-counter pool: spin, then yield, then sleep.
 *
 * On a dedicated machine a short spin catches the next job within a
 * microsecond. On an oversubscribed one (more runnable threads than cores) a
 * spinning thread can hold the core the thread it waits for needs, so both
 * the workers and the waiting caller fall back to sched_yield() after a short
 * spin, and workers sleep on the condition variable after a longer idle.
 *
 * Generations step by 2; the low bit marks a dynamic job (hflow_pool_run_dynamic).
 * A worker joins a dynamic job by incrementing the count in `join`, which
 * also holds that job's generation and a closed bit; the caller sets the bit
 * when its own share is done and waits only for the workers counted, so a
 * late worker sees a closed or newer job and skips it without touching the
 * job's fields (which the caller may already be rewriting). Static jobs are
 * waited for in full, so no worker can be late past one. */
#include "base/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_ITERS 2000  /* pause loops before yielding (~a few tens of us) */
#define YIELD_ITERS 200  /* sched_yield calls before sleeping */
#define WAIT_SPINS 500   /* caller's pause loops before yielding while workers finish */
#define JOIN_CLOSED 0x80000000ull
#define JOIN_COUNT 0x7fffffffull

struct hflow_pool {
    int nth;
    pthread_t *threads;
    pthread_mutex_t run_lock; /* serialises callers of hflow_pool_run */
    pthread_mutex_t lock;     /* guards sleeping workers */
    pthread_cond_t cond;
    atomic_uint generation;   /* seq | dynamic bit, bumped once per job */
    unsigned seq;             /* last generation's even part (callers only, under run_lock) */
    atomic_int pending;       /* workers still running the current static job */
    atomic_ullong join;       /* dynamic job: generation << 32 | JOIN_CLOSED | workers in it */
    atomic_int stop;
    hflow_pool_fn fn;
    void *ctx;
};

typedef struct {
    hflow_pool *pool;
    int ith;
} worker_arg;

int hflow_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* 1 when the worker joined dynamic job `gen` (still open), 0 to skip it. */
static int join_dynamic(hflow_pool *pool, unsigned gen) {
    unsigned long long j = atomic_load_explicit(&pool->join, memory_order_acquire);
    for (;;) {
        if ((unsigned)(j >> 32) != gen || (j & JOIN_CLOSED)) return 0;
        if (atomic_compare_exchange_weak_explicit(&pool->join, &j, j + 1, memory_order_acq_rel, memory_order_acquire))
            return 1;
    }
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    hflow_pool *pool = arg->pool;
    int ith = arg->ith;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               !atomic_load(&pool->stop)) {
            if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
            if (spins < SPIN_ITERS + YIELD_ITERS) { sched_yield(); continue; }
            pthread_mutex_lock(&pool->lock);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cond, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load(&pool->stop)) return NULL;
        seen = gen;
        if (gen & 1u) {
            if (!join_dynamic(pool, gen)) continue;
            pool->fn(pool->ctx, ith, pool->nth);
            atomic_fetch_sub_explicit(&pool->join, 1, memory_order_release);
            continue;
        }
        pool->fn(pool->ctx, ith, pool->nth);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
}

hflow_pool *hflow_pool_create(int n_threads) {
    if (n_threads <= 0) n_threads = hflow_cpu_count();
    if (n_threads > 256) n_threads = 256;
    hflow_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->nth = n_threads;
    pthread_mutex_init(&pool->run_lock, NULL);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!pool->threads) { free(pool); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (!arg || (arg->pool = pool, arg->ith = i, pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0)) {
            free(arg);
            pool->nth = i; /* run with the threads we got */
            break;
        }
    }
    return pool;
}

int hflow_pool_size(const hflow_pool *pool) { return pool ? pool->nth : 1; }

/* Publishes job fn/ctx as the next generation (dynamic or not) and wakes sleepers. */
static void publish(hflow_pool *pool, hflow_pool_fn fn, void *ctx, unsigned dynamic) {
    pool->fn = fn;
    pool->ctx = ctx;
    pool->seq += 2;
    unsigned gen = pool->seq | dynamic;
    if (dynamic) atomic_store_explicit(&pool->join, (unsigned long long)gen << 32, memory_order_relaxed);
    else atomic_store(&pool->pending, pool->nth - 1);
    pthread_mutex_lock(&pool->lock);
    atomic_store_explicit(&pool->generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}

static void wait_zero(atomic_int *pending, atomic_ullong *join) {
    for (int spins = 0;; spins++) {
        if (pending && atomic_load_explicit(pending, memory_order_acquire) <= 0) return;
        if (join && (atomic_load_explicit(join, memory_order_acquire) & JOIN_COUNT) == 0) return;
        if (spins < WAIT_SPINS) CPU_RELAX();
        else sched_yield();
    }
}

void hflow_pool_run(hflow_pool *pool, hflow_pool_fn fn, void *ctx) {
    if (!pool || pool->nth == 1) { fn(ctx, 0, 1); return; }
    pthread_mutex_lock(&pool->run_lock);
    publish(pool, fn, ctx, 0);
    fn(ctx, 0, pool->nth);
    wait_zero(&pool->pending, NULL);
    pthread_mutex_unlock(&pool->run_lock);
}

void hflow_pool_run_dynamic(hflow_pool *pool, hflow_pool_fn fn, void *ctx) {
    if (!pool || pool->nth == 1) { fn(ctx, 0, 1); return; }
    pthread_mutex_lock(&pool->run_lock);
    publish(pool, fn, ctx, 1);
    fn(ctx, 0, pool->nth);
    atomic_fetch_or_explicit(&pool->join, JOIN_CLOSED, memory_order_acq_rel);
    wait_zero(NULL, &pool->join);
    pthread_mutex_unlock(&pool->run_lock);
}

void hflow_pool_free(hflow_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->nth; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->run_lock);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
    free(pool->threads);
    free(pool);
}
