/* scripted_backend.h - a deterministic in-process backend for tests and
 * benchmarks: answers, latencies and failures come from a script.
 *
 * A request's text (every message content, and the prompt) is matched against
 * the rules in order; the first rule whose `match` is a substring wins (a NULL
 * match matches everything). The call then waits the rule's latency (honouring
 * the request's cancel flag and timeout_s), streams the reply through on_delta
 * and reports usage as ceil(bytes / bytes_per_token) for prompt and reply; the
 * reply is cut at max_tokens (finish_reason "length"), as a real server does.
 * With chunk_interval_ms > 0 the reply is streamed slowly, one chunk per
 * interval (planner mode: the plan arrives step by step).
 * Thread-safe; every call is logged for assertions. Free with the backend's
 * vtable destroy (hflow_backend_free once the backend core is in). */
#ifndef HFLOW_BACKEND_SCRIPTED_BACKEND_H
#define HFLOW_BACKEND_SCRIPTED_BACKEND_H

#include <stddef.h>

#include "hybridflow/backend.h"

typedef struct hflow_script_rule {
    const char *match;  /* substring; NULL = any request */
    const char *reply;  /* NULL = "ok" */
    double latency_ms;  /* total call time (ignored in chunked streaming mode) */
    double ttft_ms;     /* < 0 or 0: a tenth of the latency */
    int fail_code;      /* non-zero: fail with this HFLOW_E* code after the latency */
    int fail_times;     /* with fail_code: fail only the first N matching calls (0 = always) */
} hflow_script_rule;

typedef struct hflow_scripted_config {
    const char *model;          /* default "scripted" */
    const hflow_script_rule *rules; /* copied (strings too) */
    int n_rules;
    size_t stream_chunk;        /* bytes per delta; default 16 */
    double chunk_interval_ms;   /* > 0: stream one chunk per interval */
    double bytes_per_token;     /* default 4 */
} hflow_scripted_config;

typedef struct hflow_scripted_call {
    int rule;           /* index of the matched rule, -1 when none matched ("ok") */
    double start_s, end_s; /* monotonic clock */
    int32_t max_tokens;
    int status;         /* 0 or the HFLOW_E* returned */
} hflow_scripted_call;

int hflow_scripted_backend_create(const hflow_scripted_config *cfg, hflow_backend **out, hflow_error *err);
/* Copies up to `max` logged calls (in start order) into out; returns the total count. */
int hflow_scripted_backend_calls(hflow_backend *b, hflow_scripted_call *out, int max);

#endif
