/* retry.h - when to try an HTTP request again and how long to wait.
 * Pure functions: the caller owns the random state (no hidden globals). */
#ifndef HFLOW_BACKEND_RETRY_H
#define HFLOW_BACKEND_RETRY_H

#include <stdint.h>

/* Exponential backoff with "equal jitter": base * 2^attempt, then a uniform
 * draw in [half, full] of that, so clients that failed together do not retry
 * together, yet every wait is at least half the nominal one. attempt counts
 * from 0. Capped at 30 s. `rng` is xorshift state, any non-zero seed. */
double hflow_backoff_delay(double base_s, int attempt, uint64_t *rng);

/* Seconds to wait from a Retry-After header value: delta-seconds (decimals
 * accepted) or an HTTP-date relative to `now_unix`. Returns -1 when the value
 * is not understood; never negative otherwise. */
double hflow_parse_retry_after(const char *value, double now_unix);

/* HTTP statuses worth retrying: 408, 429 and every 5xx. */
int hflow_http_status_retryable(long status);

#endif
