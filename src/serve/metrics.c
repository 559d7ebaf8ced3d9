/* metrics.c - Prometheus text exposition (version 0.0.4) of the server's counters. */
#include "serve/metrics.h"

#include <inttypes.h>
#include <string.h>

/* Upper bounds in seconds: from a cached 5 ms answer up to a minute-long generation. */
static const double bucket_le[SERVE_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1, 2.5, 5, 10, 30, 60, 120};

void serve_metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void serve_metrics_destroy(serve_metrics *m) { pthread_mutex_destroy(&m->mu); }

static void hist_add(serve_hist *h, double v) {
    int i = 0;
    while (i < SERVE_HIST_BUCKETS && v > bucket_le[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->n++;
}

void serve_metrics_request(serve_metrics *m, const char *route, int code, double seconds) {
    if (!route || !*route) route = "unmatched";
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_req && !(m->req[i].code == code && !strcmp(m->req[i].route, route))) i++;
    if (i == m->n_req && m->n_req < SERVE_MAX_REQ_SERIES) {
        m->req[i].route = route;
        m->req[i].code = code;
        m->req[i].n = 0;
        m->n_req++;
    }
    if (i < m->n_req) m->req[i].n++;
    hist_add(&m->latency, seconds);
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_generation(serve_metrics *m, int n_prompt, int n_reused, int n_generated, double ttft_s) {
    pthread_mutex_lock(&m->mu);
    m->generations++;
    m->prompt_tokens += (uint64_t)(n_prompt > 0 ? n_prompt : 0);
    m->prompt_reused += (uint64_t)(n_reused > 0 ? n_reused : 0);
    m->completion_tokens += (uint64_t)(n_generated > 0 ? n_generated : 0);
    if (n_reused > 0) m->prefix_hits++;
    if (n_generated > 0) hist_add(&m->ttft, ttft_s);
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_gauges_add(serve_metrics *m, int d_busy, int d_total, int d_waiting) {
    pthread_mutex_lock(&m->mu);
    m->slots_busy += d_busy;
    m->slots_total += d_total;
    m->queue_waiting += d_waiting;
    pthread_mutex_unlock(&m->mu);
}

static void render_hist(hflow_strbuf *o, const char *name, const char *help, const serve_hist *h) {
    hflow_strbuf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < SERVE_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        hflow_strbuf_printf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bucket_le[i], cum);
    }
    cum += h->counts[SERVE_HIST_BUCKETS];
    hflow_strbuf_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name, cum,
                        name, h->sum, name, h->n);
}

static void render_counter(hflow_strbuf *o, const char *name, const char *help, uint64_t v) {
    hflow_strbuf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name, v);
}

static void render_gauge(hflow_strbuf *o, const char *name, const char *help, int v) {
    hflow_strbuf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v);
}

void serve_metrics_render(serve_metrics *m, hflow_strbuf *o) {
    pthread_mutex_lock(&m->mu);
    hflow_strbuf_puts(o, "# HELP hflow_requests_total HTTP requests by route and status code.\n"
                         "# TYPE hflow_requests_total counter\n");
    for (int i = 0; i < m->n_req; i++)
        hflow_strbuf_printf(o, "hflow_requests_total{route=\"%s\",code=\"%d\"} %" PRIu64 "\n", m->req[i].route,
                            m->req[i].code, m->req[i].n);
    render_counter(o, "hflow_generations_total", "Completed generations (chat and completion).", m->generations);
    render_counter(o, "hflow_prompt_tokens_total", "Prompt tokens of generations.", m->prompt_tokens);
    render_counter(o, "hflow_prompt_tokens_reused_total", "Prompt tokens served from a slot's KV cache.",
                   m->prompt_reused);
    render_counter(o, "hflow_prefix_cache_hits_total", "Generations that reused at least one cached token.",
                   m->prefix_hits);
    render_counter(o, "hflow_completion_tokens_total", "Generated tokens.", m->completion_tokens);
    render_hist(o, "hflow_request_duration_seconds", "Time from request start to the end of its response.",
                &m->latency);
    render_hist(o, "hflow_time_to_first_token_seconds", "Time from request arrival to the first generated token.", &m->ttft);
    render_gauge(o, "hflow_slots_busy", "Engine sessions generating now.", m->slots_busy);
    render_gauge(o, "hflow_slots_total", "Engine sessions.", m->slots_total);
    render_gauge(o, "hflow_queue_waiting", "Requests waiting for a free slot.", m->queue_waiting);
    pthread_mutex_unlock(&m->mu);
}
