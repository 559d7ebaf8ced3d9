/* metrics.h - server counters, gauges and histograms in Prometheus text format.
 *
 * One serve_metrics per server, updated from every connection thread under
 * its own mutex (updates are a handful per request, so contention is nil).
 * Names (all prefixed hflow_):
 *   requests_total{route,code}          counter
 *   prompt_tokens_total                 counter  tokens fed to the engine by requests
 *   prompt_tokens_reused_total          counter  of those, served from a slot's KV cache
 *   completion_tokens_total             counter
 *   prefix_cache_hits_total             counter  generations that reused >= 1 cached token
 *   generations_total                   counter
 *   request_duration_seconds            histogram (every request)
 *   time_to_first_token_seconds         histogram (generations)
 *   slots_busy, slots_total, queue_waiting   gauges */
#ifndef HFLOW_SERVE_METRICS_H
#define HFLOW_SERVE_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "base/strbuf.h"

#define SERVE_HIST_BUCKETS 14
#define SERVE_MAX_REQ_SERIES 64

typedef struct serve_hist {
    uint64_t counts[SERVE_HIST_BUCKETS + 1]; /* last = +Inf */
    double sum;
    uint64_t n;
} serve_hist;

typedef struct serve_metrics {
    pthread_mutex_t mu;
    struct { const char *route; int code; uint64_t n; } req[SERVE_MAX_REQ_SERIES];
    int n_req;
    uint64_t prompt_tokens, prompt_reused, completion_tokens, prefix_hits, generations;
    serve_hist latency, ttft;
    int slots_busy, slots_total, queue_waiting;
} serve_metrics;

void serve_metrics_init(serve_metrics *m);
void serve_metrics_destroy(serve_metrics *m);
/* route must be a string that outlives m (a route table entry or literal). */
void serve_metrics_request(serve_metrics *m, const char *route, int code, double seconds);
void serve_metrics_generation(serve_metrics *m, int n_prompt, int n_reused, int n_generated, double ttft_s);
void serve_metrics_gauges_add(serve_metrics *m, int d_busy, int d_total, int d_waiting);
/* Appends the exposition text. */
void serve_metrics_render(serve_metrics *m, hflow_strbuf *out);

#endif
