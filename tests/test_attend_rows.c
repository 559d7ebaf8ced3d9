/* test_attend_rows.c - blocked F16-cache attention (attend_rows.h) equals
 * its scalar definition hflow_attend_f16_ref bit for bit, row by row: over
 * head sizes with every remainder mod 16, blocks of 1..13 rows with the
 * lengths of consecutive tokens and arbitrary ones, an odd cache stride, the
 * transposed K copy in the cache's block layout, and workspaces
 * reused across calls as the forward pass does. The AVX-512 kernel is also
 * called directly; without the ISA that part is skipped with a visible line.
 * The dispatcher is also run without the transposed copy (the per-row path). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/cpu.h"
#include "engine/attend_rows.h"
#include "engine/ops.h"
#include "engine/quant.h"

typedef void (*rows_fn)(hflow_attn_block *, const hflow_kv_head *, int, const float *const *, float *const *,
                        const int *, float);

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) { return tu_frand(&rng); }

/* A KV head's rows inside a wider cache row (stride halves apart, the head at offset hd). */
static uint16_t *rand_cache(int n_ctx, size_t stride, float amp) {
    uint16_t *h = malloc((size_t)n_ctx * stride * sizeof *h);
    for (size_t i = 0; i < (size_t)n_ctx * stride; i++) h[i] = hflow_fp32_to_fp16(amp * frand());
    return h;
}

/* K of the head at offset hd transposed in the cache's block layout, as
 * kv_cache.c keeps it (zero past n_ctx). */
static uint16_t *transpose_k(const uint16_t *k, size_t stride, int n_ctx, int hd) {
    int n_pad = (n_ctx + HFLOW_KT_BLOCK - 1) / HFLOW_KT_BLOCK * HFLOW_KT_BLOCK;
    uint16_t *kt = calloc((size_t)hd * (size_t)n_pad, sizeof *kt);
    for (int d = 0; d < hd; d++)
        for (int j = 0; j < n_ctx; j++) kt[hflow_kt_index(hd, d, j)] = k[(size_t)j * stride + (size_t)hd + (size_t)d];
    return kt;
}

/* Runs fn over blocks of rows, like the forward pass: one workspace per KV
 * head, blocks of `per_block` rows with lengths from len(), and compares each
 * row with the reference. */
static void check(rows_fn fn, int hd, int n_ctx, int per_block, int consecutive, int with_kt) {
    size_t stride = (size_t)hd * 3 + 1;
    uint16_t *k = rand_cache(n_ctx, stride, 2.0f), *v = rand_cache(n_ctx, stride, 1.0f);
    uint16_t *kt = with_kt ? transpose_k(k, stride, n_ctx, hd) : NULL;
    hflow_kv_head h = {.k = k + hd, .v = v + hd, .kt = kt, .stride = stride};
    int n_rows = 2 * per_block + 3;
    float *q = malloc((size_t)n_rows * hd * sizeof *q), *got = malloc((size_t)n_rows * hd * sizeof *got);
    float *want = malloc((size_t)hd * sizeof *want), *sc = malloc((size_t)n_ctx * sizeof *sc);
    for (int i = 0; i < n_rows * hd; i++) q[i] = 3.0f * frand();
    int lens[64];
    for (int r = 0; r < n_rows; r++) /* consecutive: growing like a chunk's tokens; else scattered */
        lens[r] = consecutive ? n_ctx - n_rows + 1 + r : 1 + (int)((frand() * 0.5f + 0.5f) * (float)(n_ctx - 1));
    size_t nf = hflow_attn_block_floats(n_ctx, hd, per_block);
    float *mem = aligned_alloc(64, nf * sizeof(float));
    hflow_attn_block b;
    hflow_attn_block_init(&b, mem, n_ctx, hd, per_block);
    float scale = 1.0f / sqrtf((float)hd);
    for (int r0 = 0; r0 < n_rows; r0 += per_block) {
        int nr = n_rows - r0 < per_block ? n_rows - r0 : per_block;
        const float *qp[64];
        float *op[64];
        for (int r = 0; r < nr; r++) qp[r] = q + (size_t)(r0 + r) * hd, op[r] = got + (size_t)(r0 + r) * hd;
        fn(&b, &h, nr, qp, op, lens + r0, scale);
    }
    for (int r = 0; r < n_rows; r++) {
        hflow_attend_f16_ref(want, q + (size_t)r * hd, k + hd, v + hd, stride, lens[r], hd, scale, sc);
        for (int d = 0; d < hd; d++)
            if (memcmp(&got[(size_t)r * hd + d], &want[d], sizeof(float)) != 0)
                fail_msg("head_dim %d rows/block %d row %d (n_kv %d) out[%d]: %.9g vs reference %.9g", hd, per_block,
                         r, lens[r], d, got[(size_t)r * hd + d], want[d]);
    }
    free(k), free(v), free(kt), free(q), free(got), free(want), free(sc), free(mem);
}

static void run_all(rows_fn fn, int with_kt) {
    const int dims[] = {1, 5, 16, 17, 40, 64, 72, 80, 100, 128};
    const int ctxs[] = {1, 9, 40, 130};
    const int blocks[] = {1, 3, 6, 7, 12, 13};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t c = 0; c < sizeof ctxs / sizeof ctxs[0]; c++)
            for (size_t bl = 0; bl < sizeof blocks / sizeof blocks[0]; bl++) {
                int n_rows = 2 * blocks[bl] + 3;
                if (ctxs[c] >= n_rows) check(fn, dims[d], ctxs[c], blocks[bl], 1, with_kt);
                check(fn, dims[d], ctxs[c], blocks[bl], 0, with_kt);
            }
}

static void dispatched_rows_equal_reference(void **state) {
    (void)state;
    run_all(hflow_attend_f16_rows, 1);
    run_all(hflow_attend_f16_rows, 0);
}

static void avx512_rows_equal_reference(void **state) {
    (void)state;
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx512()) {
        run_all(hflow_attend_f16_rows_avx512, 1);
        return;
    }
#endif
    print_message("skipped: no AVX-512 on this CPU\n");
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispatched_rows_equal_reference),
        cmocka_unit_test(avx512_rows_equal_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
