/* bench_matmul.c - matrix-vector GB/s of weight reads at SmolLM2-135M shapes
 * per type, 1 and 2 threads, plus prefill GFLOP/s for 256 tokens and the
 * thread pool's dispatch overhead. Prefill is timed at 576x1536 (ffn_down),
 * the one SmolLM2 shape whose rows are whole K-quant blocks.
 * Usage: bench_matmul [TYPE...] (default: f32 f16 q8_0 q4_0 q4_k q6_k). */
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/threadpool.h"
#include "engine/matmul.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

static const int64_t shapes[][2] = {{576, 576}, {1536, 576}, {576, 1536}, {49152, 576}}; /* rows x cols */

static void *make_weights(uint32_t type, int64_t rows, int64_t cols) {
    size_t rs = hflow_row_size(type, cols);
    char *w = malloc(rs * (size_t)rows);
    float *f = malloc((size_t)cols * sizeof(float));
    if (!w || !f) exit(1);
    for (int64_t c = 0; c < cols; c++) f[c] = (float)((c * 7919) % 1000) / 500.0f - 1.0f;
    for (int64_t r = 0; r < rows; r++) hflow_quantize_row(type, f, w + (size_t)r * rs, cols);
    free(f);
    return w;
}

/* Runs matmul repeatedly for about `budget` seconds; returns seconds per call. */
static double time_matmul(hflow_pool *pool, hflow_matmul_ws *ws, uint32_t type, const void *w, int64_t rows,
                          int64_t cols, const float *x, int64_t n_tok, float *y, double budget) {
    hflow_matmul(pool, ws, type, w, rows, cols, x, n_tok, y); /* warm up */
    int iters = 0;
    double t0 = hflow_now_s(), t;
    do {
        hflow_matmul(pool, ws, type, w, rows, cols, x, n_tok, y);
        iters++;
    } while ((t = hflow_now_s() - t0) < budget);
    return t / iters;
}

static void noop(void *ctx, int ith, int nth) { (void)ctx; (void)ith; (void)nth; }

int main(int argc, char **argv) {
    const char *defaults[] = {"f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k"};
    int n_types = argc > 1 ? argc - 1 : 6;
    const char **names = argc > 1 ? (const char **)argv + 1 : defaults;
    const int64_t n_pre = 256;
    float *x = malloc(sizeof(float) * 1536 * n_pre), *y = malloc(sizeof(float) * 49152 * n_pre);
    if (!x || !y) return 1;
    for (int64_t i = 0; i < 1536 * n_pre; i++) x[i] = (float)((i * 31) % 997) / 498.0f - 1.0f;
    for (int nth = 1; nth <= 2; nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        hflow_matmul_ws ws = {0};
        int reps = 200000;
        double t0 = hflow_now_s();
        for (int i = 0; i < reps; i++) hflow_pool_run(pool, noop, NULL);
        printf("threads %d: pool dispatch %.2f us per hflow_pool_run\n", nth, (hflow_now_s() - t0) / reps * 1e6);
        for (int k = 0; k < n_types; k++) {
            int type = hflow_type_from_name(names[k]);
            const hflow_dot_kernel *kern = type < 0 ? NULL : hflow_dot_kernel_get((uint32_t)type);
            if (!kern) { fprintf(stderr, "unknown or unsupported type %s\n", names[k]); continue; }
            printf("  %-5s (%s)", hflow_type_name((uint32_t)type), kern->impl);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                int64_t rows = shapes[s][0], cols = shapes[s][1];
                if (!hflow_row_size((uint32_t)type, cols)) { /* K-quants need rows of 256 */
                    printf("  %lldx%lld    n/a    ", (long long)rows, (long long)cols);
                    continue;
                }
                void *w = make_weights((uint32_t)type, rows, cols);
                double sec = time_matmul(pool, &ws, (uint32_t)type, w, rows, cols, x, 1, y, 0.15);
                printf("  %lldx%lld %6.2f GB/s", (long long)rows, (long long)cols,
                       (double)hflow_row_size((uint32_t)type, cols) * rows / sec / 1e9);
                free(w);
            }
            /* prefill at the ffn_down shape (rows of 1536 suit every type) */
            void *w = make_weights((uint32_t)type, 576, 1536);
            double sec = time_matmul(pool, &ws, (uint32_t)type, w, 576, 1536, x, n_pre, y, 0.3);
            double sec1 = time_matmul(pool, &ws, (uint32_t)type, w, 576, 1536, x, 1, y, 0.1);
            printf("  | prefill 256x 576x1536 %6.1f GFLOP/s, %.1fx decode per token\n",
                   2.0 * 576 * 1536 * n_pre / sec / 1e9, sec1 * n_pre / sec);
            free(w);
        }
        hflow_matmul_ws_free(&ws);
        hflow_pool_free(pool);
    }
    free(x);
    free(y);
    return 0;
}
