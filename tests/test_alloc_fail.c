/* test_alloc_fail.c - fault injection: the k-th allocation fails, for every k
 * until the operation runs without a failure, on a few core paths (GGUF open,
 * tokenizer load, model load of a small generated model, plan parse + DAG).
 * Each failing run must return a clean error (negative code and a message, or
 * for the plan parser its documented -1/-2), never crash, and leak nothing
 * (LeakSanitizer checks at exit in the ASan build).
 *
 * The hook is test-only: tests/CMakeLists.txt links this program with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup, which sends
 * every call in libhybridflow's objects through the __wrap_ functions below.
 * Library code is unchanged; system libraries (cJSON, libc internals) are not
 * wrapped, so their allocations never fail here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "flow/dag.h"
#include "flow/plan_parse.h"
#include "hybridflow/engine.h"
#include "hybridflow/gguf.h"
#include "hybridflow/modelgen.h"
#include "hybridflow/tokenizer.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

/* Test-only state of the hook (this program is single-threaded while armed). */
static long g_fail_at; /* 0 = never fail */
static long g_count;

static int should_fail(void) { return g_fail_at > 0 && ++g_count == g_fail_at; }
void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return should_fail() ? NULL : __real_strdup(s); }

typedef int (*op_fn)(const void *arg); /* 0 on success (and frees what it made) */

/* Runs op with the k-th allocation failing for k = 1, 2, ... until a run
 * makes no failing allocation; every run must fail cleanly or succeed. */
static void for_every_failure(const char *what, op_fn op, const void *arg) {
    long k;
    for (k = 1;; k++) {
        g_count = 0;
        g_fail_at = k;
        int rc = op(arg);
        long made = g_count;
        g_fail_at = 0;
        if (made < k) { /* nothing failed: the operation must have worked */
            assert_int_equal(rc, 0);
            break;
        }
        (void)rc; /* an allocation failed: an error, or a tolerated failure; both fine */
        assert_true(k < 1000000);
    }
    print_message("%s: %ld allocations, each failed once cleanly\n", what, k - 1);
    assert_true(k > 1); /* the path allocates: the test exercised something */
}

static char g_model[512];

/* A clean error: a negative code and a message (ENOMEM or whatever the
 * failure turned into on its way up). */
static int check_err(int rc, const hflow_error *err) {
    if (rc != 0) {
        assert_true(rc < 0);
        assert_true(err->message[0] != '\0');
    }
    return rc;
}

static int op_gguf_open(const void *arg) {
    hflow_gguf *g = NULL;
    hflow_error err;
    hflow_error_clear(&err);
    int rc = check_err(hflow_gguf_open((const char *)arg, &g, &err), &err);
    if (rc == 0) hflow_gguf_close(g);
    else assert_null(g);
    return rc;
}

/* The GGUF is opened without injection; only the vocab load is under test. */
static int op_vocab_load(const void *arg) {
    const hflow_gguf *g = arg;
    hflow_vocab *v = NULL;
    hflow_error err;
    hflow_error_clear(&err);
    int rc = check_err(hflow_vocab_load(g, &v, &err), &err);
    if (rc == 0) {
        assert_true(hflow_vocab_size(v) > 0);
        hflow_vocab_free(v);
    }
    return rc;
}

static int op_model_load(const void *arg) {
    hflow_model *m = NULL;
    hflow_model_params mp = {.n_threads = 1};
    hflow_error err;
    hflow_error_clear(&err);
    int rc = check_err(hflow_model_load((const char *)arg, &mp, &m, &err), &err);
    if (rc == 0) {
        assert_int_equal(hflow_model_get_info(m)->n_layer, 2);
        hflow_model_free(m);
    } else {
        assert_null(m);
    }
    return rc;
}

typedef struct plan_run {
    flow_dag dag;
    int oom;
} plan_run;

static int on_step(void *user, const flow_raw_step *s) {
    plan_run *r = user;
    if (flow_dag_add(&r->dag, s) == -2) r->oom = 1;
    return r->oom;
}

static int op_plan_parse(const void *arg) {
    const char *text = arg;
    plan_run r = {.oom = 0};
    flow_dag_init(&r.dag, 16);
    flow_plan_parser *p = flow_plan_parser_create(on_step, &r);
    int rc = p ? 0 : -1;
    /* fed in small chunks, so partial tags are buffered too */
    for (size_t i = 0, n = strlen(text); p && !rc && i < n; i += 7)
        rc = flow_plan_parser_feed(p, text + i, n - i < 7 ? n - i : 7);
    if (p && !rc) flow_plan_parser_finish(p);
    if (!rc && !r.oom && flow_dag_finish(&r.dag) < 0) r.oom = 1;
    if (!rc && !r.oom) {
        assert_int_equal(r.dag.n, 3);
        assert_int_equal(r.dag.steps[2]->n_deps, 2);
    }
    flow_plan_parser_free(p);
    flow_dag_free(&r.dag);
    return rc || r.oom ? -1 : 0;
}

static int setup_model(void **state) {
    (void)state;
    snprintf(g_model, sizeof g_model, "%s/alloc-fail-tiny.gguf", tu_tmpdir());
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    hflow_error err;
    if (hflow_gen_params_preset(&gp, "tiny", &err) != 0 || hflow_gen_model(&gp, g_model, &err) != 0) {
        print_message("gen-model failed: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void test_gguf_open(void **state) {
    (void)state;
    for_every_failure("gguf open (generated tiny model)", op_gguf_open, g_model);
}

static void vocab_load_from(const char *what, const char *path) {
    hflow_gguf *g = NULL;
    hflow_error err;
    assert_int_equal(hflow_gguf_open(path, &g, &err), 0);
    for_every_failure(what, op_vocab_load, g);
    hflow_gguf_close(g);
}

static void test_vocab_load_spm_bytes(void **state) {
    (void)state;
    vocab_load_from("vocab load (259-token byte SPM)", g_model);
}

static void test_vocab_load_stories(void **state) {
    (void)state;
    char buf[512];
    const char *path = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(path, "models/stories260K.gguf");
    vocab_load_from("vocab load (stories260K SPM)", path);
}

static void test_model_load(void **state) {
    (void)state;
    for_every_failure("model load (generated tiny model)", op_model_load, g_model);
}

static void test_plan_parse(void **state) {
    (void)state;
    const char *plan = "<think>maybe <Step ID=\"9\" Task=\"no\"/></think>"
                       "<Plan><Step ID=\"1\" Task=\"Find &amp; list the facts\" Rely=\"\" Difficulty=\"3\" Token=\"90\"/>\n"
                       "<Step ID=\"2\" Rely=\"[1]\">Check them &#x41;gain</Step>\n"
                       "<Step ID=\"3\" Task='Combine' Rely=\"1, 2\" Difficulty=\"7\"/></Plan>";
    for_every_failure("plan parse + DAG", op_plan_parse, plan);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_open),
        cmocka_unit_test(test_vocab_load_spm_bytes),
        cmocka_unit_test(test_vocab_load_stories),
        cmocka_unit_test(test_model_load),
        cmocka_unit_test(test_plan_parse),
    };
    return cmocka_run_group_tests(tests, setup_model, NULL);
}
