/* test_serve_slots.c - the server's slot pool on real engine sessions of a
 * tiny generated model: prefix-aware choice (longest common prefix wins, ties
 * go to the emptier slot), FIFO waiting, queue-full refusal, cancellation of
 * a waiter, and the busy/waiting gauges. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "hybridflow/engine.h"
#include "hybridflow/modelgen.h"
#include "serve/metrics.h"
#include "serve/slots.h"
#include "testutil.h"

static hflow_model *model;
static char path[512];

static int setup(void **state) {
    (void)state;
    snprintf(path, sizeof path, "%s/slots-tiny.gguf", tu_tmpdir());
    hflow_gen_params p;
    hflow_error err;
    hflow_gen_params_default(&p);
    if (hflow_gen_params_preset(&p, "tiny", &err) || hflow_gen_model(&p, path, &err)) return -1;
    hflow_model_params mp = {.n_threads = 1};
    return hflow_model_load(path, &mp, &model, &err) ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_model_free(model);
    unlink(path);
    return 0;
}

/* Leaves `toks` in the slot's cache, as a finished request would. */
static void fill(serve_slot *sl, const int32_t *toks, int n) {
    hflow_error err;
    assert_int_equal(hflow_session_truncate(sl->session, 0, &err), 0);
    assert_int_equal(hflow_session_decode(sl->session, toks, n, HFLOW_LOGITS_NONE, &err), 0);
}

static void test_prefix_choice(void **state) {
    (void)state;
    serve_slots *s;
    hflow_error err;
    assert_int_equal(serve_slots_create(model, 3, 64, 4, NULL, &s, &err), 0);
    assert_int_equal(serve_slots_count(s), 3);
    const int32_t a[] = {1, 10, 11, 12, 13, 14}, b[] = {1, 20, 21, 22};
    serve_slot *x, *y, *z;
    assert_int_equal(serve_slots_acquire(s, a, 6, NULL, NULL, &x), 0);
    assert_int_equal(serve_slots_acquire(s, b, 4, NULL, NULL, &y), 0);
    assert_true(x != y);
    fill(x, a, 6);
    fill(y, b, 4);
    serve_slots_release(s, x);
    serve_slots_release(s, y);
    /* Extends a: the slot holding a. */
    const int32_t a2[] = {1, 10, 11, 12, 99};
    assert_int_equal(serve_slots_acquire(s, a2, 5, NULL, NULL, &z), 0);
    assert_ptr_equal(z, x);
    serve_slots_release(s, z);
    /* Shares b's prefix. */
    const int32_t b2[] = {1, 20, 21};
    assert_int_equal(serve_slots_acquire(s, b2, 3, NULL, NULL, &z), 0);
    assert_ptr_equal(z, y);
    serve_slots_release(s, z);
    /* Shares only BOS with both: the empty third slot, keeping both caches. */
    const int32_t c[] = {1, 50, 51};
    assert_int_equal(serve_slots_acquire(s, c, 3, NULL, NULL, &z), 0);
    assert_true(z != x && z != y);
    assert_int_equal(hflow_session_n_past(z->session), 0);
    serve_slots_release(s, z);
    serve_slots_free(s);
}

typedef struct waiter_arg {
    serve_slots *s;
    volatile int cancel;
    int rc;
    serve_slot *got;
    int done;
    pthread_mutex_t mu;
} waiter_arg;

static int waiter_gone(void *p) { return ((waiter_arg *)p)->cancel; }

static void *waiter_main(void *p) {
    waiter_arg *w = p;
    const int32_t t[] = {1, 2};
    int rc = serve_slots_acquire(w->s, t, 2, waiter_gone, w, &w->got);
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int is_done(waiter_arg *w) {
    pthread_mutex_lock(&w->mu);
    int d = w->done;
    pthread_mutex_unlock(&w->mu);
    return d;
}

static void wait_gauge(serve_metrics *m, int want_waiting) {
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&m->mu);
        int w = m->queue_waiting;
        pthread_mutex_unlock(&m->mu);
        if (w == want_waiting) return;
        hflow_sleep_ms(1);
    }
    fail_msg("queue_waiting never reached %d", want_waiting);
}

static void test_queue_full_cancel_and_handoff(void **state) {
    (void)state;
    serve_metrics m;
    serve_metrics_init(&m);
    serve_slots *s;
    hflow_error err;
    assert_int_equal(serve_slots_create(model, 1, 32, 1, &m, &s, &err), 0);
    assert_int_equal(m.slots_total, 1);
    const int32_t t[] = {1, 2};
    serve_slot *held;
    assert_int_equal(serve_slots_acquire(s, t, 2, NULL, NULL, &held), 0);
    assert_int_equal(m.slots_busy, 1);

    /* One waiter fits the queue ... */
    waiter_arg w1 = {.s = s};
    pthread_mutex_init(&w1.mu, NULL);
    pthread_t th1;
    pthread_create(&th1, NULL, waiter_main, &w1);
    wait_gauge(&m, 1);
    /* ... a second one is refused at once. */
    serve_slot *none;
    assert_int_equal(serve_slots_acquire(s, t, 2, NULL, NULL, &none), HFLOW_EBUDGET);
    assert_null(none);
    /* Cancelling the waiter frees its queue place. */
    w1.cancel = 1;
    pthread_join(th1, NULL);
    assert_int_equal(w1.rc, HFLOW_ECANCELLED);
    assert_int_equal(m.queue_waiting, 0);

    /* A waiter gets the slot when it is released. */
    waiter_arg w2 = {.s = s};
    pthread_mutex_init(&w2.mu, NULL);
    pthread_t th2;
    pthread_create(&th2, NULL, waiter_main, &w2);
    wait_gauge(&m, 1);
    assert_false(is_done(&w2));
    serve_slots_release(s, held);
    pthread_join(th2, NULL);
    assert_int_equal(w2.rc, 0);
    assert_ptr_equal(w2.got, held);
    serve_slots_release(s, w2.got);
    assert_int_equal(m.slots_busy, 0);
    serve_slots_free(s);
    assert_int_equal(m.slots_total, 0);
    pthread_mutex_destroy(&w1.mu);
    pthread_mutex_destroy(&w2.mu);
    serve_metrics_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_choice),
        cmocka_unit_test(test_queue_full_cancel_and_handoff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
