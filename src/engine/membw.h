/* membw.h - STREAM-style memory bandwidth measurement, the yardstick for
 * decode speed ("what fraction of the machine's bandwidth turns into weight
 * reads"). Used by bench/stream.c and `hybridflow bench`. */
#ifndef HFLOW_ENGINE_MEMBW_H
#define HFLOW_ENGINE_MEMBW_H
#include <stddef.h>

#include "base/threadpool.h"

typedef struct hflow_membw {
    double triad_gbs; /* a[i] = b[i] + s * c[i], counted as 3 x 8 bytes per element */
    double read_gbs;  /* sum of one array (read-only, like weight streaming) */
    size_t array_bytes;
    int threads;
} hflow_membw;

/* Runs both kernels over the pool's threads on arrays of `array_bytes` each
 * (0 picks 256 MiB, far beyond typical caches), best of `reps` (0 picks 5).
 * Allocates and frees its arrays. Returns 0 or HFLOW_ENOMEM. */
int hflow_membw_measure(hflow_pool *pool, size_t array_bytes, int reps, hflow_membw *out);

#endif
