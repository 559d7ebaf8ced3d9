/* test_kv_cache.c - the K/V cache's transposed K copy (kv_cache.h) holds, at
 * (layer, KV head, dimension, position), exactly the half the K row of that
 * layer and position holds, across layers, heads, out-of-order writes and
 * rewrites of a position (a rollback then a new token), and stays zero past
 * n_ctx; it is refused for f32 caches and head sizes that do not divide the
 * row. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/kv_cache.h"
#include "hybridflow/engine.h"
#include "hybridflow/error.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static void fill(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = 4.0f * tu_frand(&rng);
}

static void check_copy(const hflow_kv_cache *c, int32_t n_head_kv) {
    for (int32_t il = 0; il < c->n_layer; il++)
        for (int32_t h = 0; h < n_head_kv; h++) {
            const uint16_t *kt = hflow_kv_kt(c, il, h);
            for (int32_t pos = 0; pos < c->n_ctx; pos++) {
                const uint16_t *row = hflow_kv_k(c, il, pos);
                for (int32_t d = 0; d < c->head_dim; d++)
                    if (kt[hflow_kt_index(c->head_dim, d, pos)] != row[h * c->head_dim + d])
                        fail_msg("layer %d head %d dim %d pos %d: transposed %04x vs row %04x", il, h, d, pos,
                                 kt[hflow_kt_index(c->head_dim, d, pos)], row[h * c->head_dim + d]);
            }
            int32_t n_pad = (c->n_ctx + HFLOW_KT_BLOCK - 1) / HFLOW_KT_BLOCK * HFLOW_KT_BLOCK;
            assert_int_equal(c->kt_head, (size_t)n_pad * (size_t)c->head_dim);
            for (int32_t d = 0; d < c->head_dim; d++)
                for (int32_t pos = c->n_ctx; pos < n_pad; pos++)
                    assert_int_equal(kt[hflow_kt_index(c->head_dim, d, pos)], 0);
        }
}

static void transposed_copy_follows_the_rows(void **state) {
    (void)state;
    const int32_t n_layer = 3, n_ctx = 37, hd = 5, n_kv = 3, kv_dim = hd * n_kv;
    hflow_kv_cache c;
    assert_int_equal(hflow_kv_cache_init(&c, n_layer, n_ctx, kv_dim, HFLOW_KV_F16), 0);
    assert_null(hflow_kv_kt(&c, 0, 0));
    assert_int_equal(hflow_kv_cache_add_kt(&c, hd), 0);
    float k[15], v[15];
    for (int32_t il = n_layer - 1; il >= 0; il--) /* every position, in a scattered order */
        for (int32_t i = 0; i < n_ctx; i++) {
            fill(k, kv_dim), fill(v, kv_dim);
            hflow_kv_store(&c, il, (i * 7) % n_ctx, k, v);
        }
    check_copy(&c, n_kv);
    for (int32_t pos = 10; pos < 14; pos++) { /* rolled back to 10, then new tokens */
        fill(k, kv_dim), fill(v, kv_dim);
        hflow_kv_store(&c, 1, pos, k, v);
    }
    check_copy(&c, n_kv);
    hflow_kv_cache_free(&c);
    assert_null(c.kt);
}

static void transposed_copy_refused_where_it_cannot_exist(void **state) {
    (void)state;
    hflow_kv_cache c;
    assert_int_equal(hflow_kv_cache_init(&c, 2, 8, 12, HFLOW_KV_F32), 0);
    assert_int_equal(hflow_kv_cache_add_kt(&c, 4), HFLOW_EINVAL);
    assert_null(c.kt);
    hflow_kv_cache_free(&c);
    assert_int_equal(hflow_kv_cache_init(&c, 2, 8, 12, HFLOW_KV_F16), 0);
    assert_int_equal(hflow_kv_cache_add_kt(&c, 5), HFLOW_EINVAL);
    assert_int_equal(hflow_kv_cache_add_kt(&c, 0), HFLOW_EINVAL);
    assert_null(c.kt);
    hflow_kv_cache_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transposed_copy_follows_the_rows),
        cmocka_unit_test(transposed_copy_refused_where_it_cannot_exist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
