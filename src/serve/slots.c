/* slots.c - session pool with a FIFO wait list. Waiters are nodes on their own
 * stacks linked into a list, so a cancelled waiter can unlink itself without
 * stalling the ones behind it (a ticket counter could not skip it). */
#include "serve/slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "serve/prompt_logprobs.h"

/* How often a waiter asks whether its client is still there. */
#define CANCEL_POLL_MS 20

typedef struct waiter {
    struct waiter *next;
} waiter;

struct serve_slots {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    serve_slot *slots;
    int n;
    int32_t n_ctx;
    int max_queue;
    int n_waiting;
    waiter *head, *tail;
    serve_metrics *metrics;
};

int serve_slots_create(hflow_model *m, int n_slots, int32_t n_ctx, int max_queue, serve_metrics *metrics,
                       serve_slots **out, hflow_error *err) {
    *out = NULL;
    if (n_slots < 1) return hflow_error_set(err, HFLOW_EINVAL, "need at least one slot");
    serve_slots *s = calloc(1, sizeof *s);
    if (!s || !(s->slots = calloc((size_t)n_slots, sizeof *s->slots))) {
        free(s);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->max_queue = max_queue;
    s->metrics = metrics;
    hflow_session_params sp = {.n_ctx = n_ctx};
    for (int i = 0; i < n_slots; i++) {
        int rc = hflow_session_create(m, &sp, &s->slots[i].session, err);
        if (rc) {
            serve_slots_free(s);
            return rc;
        }
        s->slots[i].id = i;
        s->n++;
    }
    s->n_ctx = hflow_session_n_ctx(s->slots[0].session);
    if (metrics) serve_metrics_gauges_add(metrics, 0, s->n, 0);
    *out = s;
    return 0;
}

void serve_slots_free(serve_slots *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        hflow_session_free(s->slots[i].session);
        serve_prompt_lp_cache_free(s->slots[i].prompt_lp);
    }
    if (s->metrics) serve_metrics_gauges_add(s->metrics, 0, -s->n, 0);
    free(s->slots);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int serve_slots_count(const serve_slots *s) { return s->n; }
int32_t serve_slots_n_ctx(const serve_slots *s) { return s->n_ctx; }

/* The idle slot sharing the longest prefix with the prompt, or NULL. */
static serve_slot *best_idle(serve_slots *s, const int32_t *prompt, int32_t n) {
    serve_slot *best = NULL;
    int32_t best_common = -1, best_past = 0;
    for (int i = 0; i < s->n; i++) {
        serve_slot *sl = &s->slots[i];
        if (sl->busy) continue;
        int32_t common = hflow_session_common_prefix(sl->session, prompt, n);
        /* One shared token (usually just BOS) saves nothing worth evicting another cache for. */
        if (common <= 1) common = 0;
        int32_t past = hflow_session_n_past(sl->session);
        if (common > best_common || (common == best_common && past < best_past)) {
            best = sl;
            best_common = common;
            best_past = past;
        }
    }
    return best;
}

static void unlink_waiter(serve_slots *s, waiter *w) {
    waiter **pp = &s->head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = w->next;
    if (s->tail == w) s->tail = prev;
    s->n_waiting--;
    if (s->metrics) serve_metrics_gauges_add(s->metrics, 0, 0, -1);
}

static void take(serve_slots *s, serve_slot *sl, serve_slot **out) {
    sl->busy = 1;
    *out = sl;
    if (s->metrics) serve_metrics_gauges_add(s->metrics, 1, 0, 0);
}

int serve_slots_acquire(serve_slots *s, const int32_t *prompt, int32_t n_prompt, serve_gone_fn gone, void *gone_ctx,
                        serve_slot **out) {
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    serve_slot *sl = s->head ? NULL : best_idle(s, prompt, n_prompt);
    if (sl) {
        take(s, sl, out);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    if (s->n_waiting >= s->max_queue) {
        pthread_mutex_unlock(&s->mu);
        return HFLOW_EBUDGET;
    }
    waiter w = {NULL};
    if (s->tail) s->tail->next = &w;
    else s->head = &w;
    s->tail = &w;
    s->n_waiting++;
    if (s->metrics) serve_metrics_gauges_add(s->metrics, 0, 0, 1);
    int rc = 0;
    for (;;) {
        if (s->head == &w && (sl = best_idle(s, prompt, n_prompt))) break;
        if (gone && gone(gone_ctx)) {
            rc = HFLOW_ECANCELLED;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CANCEL_POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    unlink_waiter(s, &w);
    if (!rc) take(s, sl, out);
    pthread_cond_broadcast(&s->cv); /* the next waiter may now be at the head */
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void serve_slots_release(serve_slots *s, serve_slot *slot) {
    if (!slot) return;
    pthread_mutex_lock(&s->mu);
    slot->busy = 0;
    if (s->metrics) serve_metrics_gauges_add(s->metrics, -1, 0, 0);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}
