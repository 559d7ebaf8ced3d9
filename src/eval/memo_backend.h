/* memo_backend.h - a backend wrapper that answers a repeated request from a
 * cache (internal to the eval module).
 *
 * The profiler runs one plan in several tier assignments; with the cache, a
 * variant recomputes only the calls whose request text changed (the swapped
 * step and what depends on it) and sees the very same plan and step outputs
 * everywhere else, so the label of a swap measures that swap alone, even on
 * a sampling backend. The key is the full request text (roles, contents,
 * prompt) plus max_tokens and the grammar; only successful responses are cached. A hit
 * streams the stored text through on_delta in one piece and returns the
 * stored usage and timings. Thread-safe. Free with hflow_backend_free; the
 * wrapped backend is borrowed. The wrapper reports the wrapped backend's kind
 * (vt->kind), so a local planner behind it still gets the plan grammar. */
#ifndef HFLOW_EVAL_MEMO_BACKEND_H
#define HFLOW_EVAL_MEMO_BACKEND_H

#include <stddef.h>

#include "hybridflow/backend.h"

int ev_memo_backend_create(hflow_backend *inner, hflow_backend **out, hflow_error *err);
/* Calls passed to the wrapped backend so far (cache misses). */
long ev_memo_backend_misses(hflow_backend *b);
/* Drops every cached entry (between questions: nothing is shared across them). */
void ev_memo_backend_reset(hflow_backend *b);

#endif
