/* test_base.c - error helpers, string buffer, thread pool. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/error.h"
#include "base/base64.h"
#include "base/strbuf.h"
#include "base/cpu.h"
#include "base/threadpool.h"

static void test_error_set_and_wrap(void **state) {
    (void)state;
    hflow_error err;
    hflow_error_clear(&err);
    assert_int_equal(hflow_error_set(&err, HFLOW_EFORMAT, "bad %s at %d", "magic", 4), HFLOW_EFORMAT);
    assert_string_equal(err.message, "bad magic at 4");
    hflow_error_wrap(&err, "loading %s", "x.gguf");
    assert_string_equal(err.message, "loading x.gguf: bad magic at 4");
    assert_string_equal(hflow_status_name(HFLOW_EFORMAT), "EFORMAT");
    assert_int_equal(hflow_error_set(NULL, HFLOW_EIO, "ignored"), HFLOW_EIO);
}

static void test_strbuf_grows(void **state) {
    (void)state;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    for (int i = 0; i < 1000; i++) hflow_strbuf_printf(&b, "%d,", i);
    assert_false(b.oom);
    assert_int_equal(strlen(b.data), b.len);
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = hflow_strbuf_take(&b);
    assert_null(b.data);
    free(s);
}

typedef struct {
    atomic_long sum;
    atomic_int calls;
} pool_ctx;

static void add_share(void *p, int ith, int nth) {
    pool_ctx *c = p;
    long local = 0;
    for (long i = ith; i < 100000; i += nth) local += i;
    atomic_fetch_add(&c->sum, local);
    atomic_fetch_add(&c->calls, 1);
}

static void test_pool_runs_every_thread(void **state) {
    (void)state;
    for (int nth = 1; nth <= 4; nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        assert_non_null(pool);
        for (int rep = 0; rep < 200; rep++) {
            pool_ctx c;
            atomic_init(&c.sum, 0);
            atomic_init(&c.calls, 0);
            hflow_pool_run(pool, add_share, &c);
            assert_int_equal(atomic_load(&c.sum), 100000L * 99999L / 2);
            assert_int_equal(atomic_load(&c.calls), hflow_pool_size(pool));
        }
        hflow_pool_free(pool);
    }
}

/* Dynamic job: chunks of 0..99999 from a shared counter, summed by whichever
 * threads join. */
typedef struct {
    atomic_long next, sum;
    atomic_int calls;
} dyn_ctx;

static void add_chunks(void *p, int ith, int nth) {
    dyn_ctx *c = p;
    (void)ith, (void)nth;
    atomic_fetch_add(&c->calls, 1);
    for (long b; (b = atomic_fetch_add(&c->next, 1000)) < 100000;) {
        long local = 0;
        for (long i = b; i < b + 1000; i++) local += i;
        atomic_fetch_add(&c->sum, local);
    }
}

/* Dynamic jobs interleaved with static ones: every dynamic job is complete
 * when the call returns (whatever subset of threads joined), no thread runs a
 * job twice, and static jobs after a dynamic one still run on every thread
 * (a worker that skipped a dynamic job is not left behind). */
static void test_pool_dynamic_jobs(void **state) {
    (void)state;
    for (int nth = 1; nth <= 4; nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        assert_non_null(pool);
        for (int rep = 0; rep < 300; rep++) {
            dyn_ctx d;
            atomic_init(&d.next, 0);
            atomic_init(&d.sum, 0);
            atomic_init(&d.calls, 0);
            hflow_pool_run_dynamic(pool, add_chunks, &d);
            assert_int_equal(atomic_load(&d.sum), 100000L * 99999L / 2);
            assert_true(atomic_load(&d.calls) >= 1 && atomic_load(&d.calls) <= hflow_pool_size(pool));
            if (rep % 3 == 0) {
                pool_ctx c;
                atomic_init(&c.sum, 0);
                atomic_init(&c.calls, 0);
                hflow_pool_run(pool, add_share, &c);
                assert_int_equal(atomic_load(&c.sum), 100000L * 99999L / 2);
                assert_int_equal(atomic_load(&c.calls), hflow_pool_size(pool));
            }
        }
        hflow_pool_free(pool);
    }
}

/* RFC 4648 section 10 test vectors, both ways, plus rejected inputs. */
static void test_base64_vectors(void **state) {
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = hflow_base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, coded[i]);
        free(e);
        size_t n = 99;
        unsigned char *d = hflow_base64_decode(coded[i], strlen(coded[i]), &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
    size_t n;
    assert_null(hflow_base64_decode("Zm9", 3, &n));
    assert_null(hflow_base64_decode("Zm!v", 4, &n));
}

/* Features are detected as a chain: each level implies the ones below, so a
 * kernel table may test only the level it needs. On an AMX machine this also
 * runs a tile instruction path's precondition: the OS grant. */
static void test_cpu_features_nest(void **state) {
    (void)state;
    if (hflow_cpu_has_avx_vnni()) assert_true(hflow_cpu_has_avx2_fma_f16c());
    if (hflow_cpu_has_avx512()) assert_true(hflow_cpu_has_avx2_fma_f16c());
    if (hflow_cpu_has_amx_int8()) assert_true(hflow_cpu_has_avx512());
    /* detection is cached: asking again gives the same answer */
    assert_int_equal(hflow_cpu_has_amx_int8(), hflow_cpu_has_amx_int8());
    printf("cpu: avx2 %d avx-vnni %d avx512 %d amx-int8 %d\n", hflow_cpu_has_avx2_fma_f16c(), hflow_cpu_has_avx_vnni(),
           hflow_cpu_has_avx512(), hflow_cpu_has_amx_int8());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set_and_wrap),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_strbuf_grows),
        cmocka_unit_test(test_pool_runs_every_thread),
        cmocka_unit_test(test_pool_dynamic_jobs),
        cmocka_unit_test(test_cpu_features_nest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
