/* slots.h - N engine sessions of one model, a bounded FIFO queue, and
 * prefix-aware slot choice.
 *
 * A request acquires a slot (blocking in FIFO order while all are busy),
 * generates on its session, and releases it. Among idle slots it gets the one
 * whose cached tokens share the longest prefix with its prompt, so repeated
 * system prompts and questions hit the KV cache; ties go to the slot holding
 * the fewest tokens, to keep other caches intact (a one-token match, usually
 * just BOS, counts as no match). When max_queue requests are
 * already waiting, acquire fails at once (the route answers 503). */
#ifndef HFLOW_SERVE_SLOTS_H
#define HFLOW_SERVE_SLOTS_H

#include <stdint.h>

#include "hybridflow/engine.h"
#include "serve/metrics.h"

typedef struct serve_slots serve_slots;

typedef struct serve_slot {
    hflow_session *session; /* owned by the slot pool */
    struct serve_prompt_lp_cache *prompt_lp; /* echo logprobs of the cached prompt (prompt_logprobs.h); owned */
    int id;
    int busy;
} serve_slot;

/* metrics may be NULL; otherwise it must outlive the pool. */
int serve_slots_create(hflow_model *m, int n_slots, int32_t n_ctx, int max_queue, serve_metrics *metrics,
                       serve_slots **out, hflow_error *err);
void serve_slots_free(serve_slots *s);
int serve_slots_count(const serve_slots *s);
int32_t serve_slots_n_ctx(const serve_slots *s);

/* Asked every few ms while a request waits: non-zero gives its place up
 * (e.g. the client disconnected). */
typedef int (*serve_gone_fn)(void *ctx);

/* Blocks until a slot is free. Returns 0 and *out; HFLOW_EBUDGET when the
 * queue is full; HFLOW_ECANCELLED when gone (may be NULL) said so while waiting. */
int serve_slots_acquire(serve_slots *s, const int32_t *prompt, int32_t n_prompt, serve_gone_fn gone, void *gone_ctx,
                        serve_slot **out);
void serve_slots_release(serve_slots *s, serve_slot *slot);

#endif
