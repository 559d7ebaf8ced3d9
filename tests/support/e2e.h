/* e2e.h - the two-tier setup the end-to-end tests share: the real
 * `hybridflow serve` on loopback serving an "edge" model (stories260K from
 * ../shared, or a generated stand-in when it is absent) and a "cloud" model
 * (a `gen-model` random llama sharing the edge's vocabulary), plus small
 * helpers to read /metrics and build endpoint strings. */
#ifndef HFLOW_TEST_E2E_H
#define HFLOW_TEST_E2E_H
#include <stddef.h>

#include "server_proc.h"

/* Model files (made once per process under tu_tmpdir()); NULL on failure.
 * e2e_have_stories says whether the edge is the real stories260K. */
const char *e2e_edge_model(void);
const char *e2e_cloud_model(void);
int e2e_have_stories(void);

/* Starts a server with --model edge=... --model cloud=... --ctx N --parallel P
 * --threads 1 and any extra args (NULL-terminated, may be NULL). 0 or -1. */
int e2e_start(tu_server *s, int n_ctx, int n_parallel, const char *const *extra);
/* "http://127.0.0.1:PORT/v1#model" */
const char *e2e_endpoint(const tu_server *s, const char *model, char *buf, size_t n);
/* Sum of every /metrics sample whose name (labels included) starts with
 * `prefix`, e.g. "hflow_requests_total{route=\"/v1/chat/completions\"";
 * -1 when /metrics cannot be read. */
double e2e_metric_sum(const tu_server *s, const char *prefix);

#endif
