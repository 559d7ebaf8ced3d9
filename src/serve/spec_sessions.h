/* spec_sessions.h - the server's speculative sessions (ECSpec target side).
 *
 * A session is a hflow_spec_target (its own engine session and KV cache) on
 * the model version it was created on, which it pins: a hot swap does not
 * disturb it, and the old version is freed when its last session closes.
 * The table is bounded (a full table refuses new sessions: the route answers
 * 429) and idle sessions expire after idle_timeout_s; an expired id is
 * remembered for a while so its client gets "expired" rather than "unknown".
 * Expiry is lazy (checked on every lookup and create), so no timer thread.
 *
 * Concurrency: the table's mutex guards membership, reference counts and each
 * session's busy flag: spec_table_get claims the session for the one request
 * that may work on it at a time (a second concurrent request is refused, never
 * queued) and spec_table_put gives it back, from whichever thread finished.
 * A session in use is never expired; one removed while in use is freed by its
 * last user.
 *
 * Also keeps the acceptance counters per (draft tokenizer fingerprint, model,
 * target version) that /metrics reports. */
#ifndef HFLOW_SERVE_SPEC_SESSIONS_H
#define HFLOW_SERVE_SPEC_SESSIONS_H

#include <pthread.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "hybridflow/spec.h"
#include "serve/model_registry.h"

typedef struct spec_session {
    char id[40];
    serve_model *ver;        /* pinned version (released when the session is freed) */
    hflow_spec_target *target;
    uint64_t draft_fp;       /* 0 when the client sent none */
    int busy;                /* claimed by a request; under the table mutex */
    double last_used;        /* monotonic seconds */
    int refs;                /* the table's (while listed) + one per request; under the table mutex */
} spec_session;

typedef struct spec_table spec_table;

int spec_table_create(serve_registry *reg, int max_sessions, double idle_timeout_s, spec_table **out,
                      hflow_error *err);
/* Frees every session (call once no request is running). NULL is allowed. */
void spec_table_free(spec_table *t);
int spec_table_max(const spec_table *t);
double spec_table_idle_timeout(const spec_table *t);

/* Adds a session (taking over `target` and the pin on `ver`) and returns it
 * claimed, with a reference for the caller. HFLOW_EBUDGET when the table is full (the
 * target and pin are then left to the caller). */
int spec_table_add(spec_table *t, serve_model *ver, hflow_spec_target *target, uint64_t draft_fp, const char *id,
                   spec_session **out, hflow_error *err);
/* Finds by id and claims it, with a reference for the caller. HFLOW_ENOTFOUND
 * with a message saying "expired" (and after how long) or "unknown";
 * HFLOW_ESTATE when another request is working on it. */
int spec_table_get(spec_table *t, const char *id, spec_session **out, hflow_error *err);
/* Releases the claim and the caller's reference (and marks the session used now). */
void spec_table_put(spec_table *t, spec_session *s);
/* Removes from the table (freed when the last user puts it). HFLOW_ENOTFOUND when absent. */
int spec_table_remove(spec_table *t, const char *id, hflow_error *err);
int spec_table_count(spec_table *t);

/* Acceptance of one verify round, for /metrics. */
void spec_table_count_round(spec_table *t, const spec_session *s, int drafted, int accepted);
void spec_table_render_metrics(spec_table *t, hflow_strbuf *out);

#endif
