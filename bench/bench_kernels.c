/* bench_kernels.c - per-kernel speed in CPU time (this thread's), on weights
 * that stay in cache, so neither DRAM nor other processes on a shared machine
 * enter the figure: prefill as GFLOP/s of a 1536x576 weight (576x1536, the
 * ffn_down shape, for K-quants, whose rows must be whole 256-blocks) times 32
 * tokens (one matmul row block x token block, as matmul.c runs them) for the
 * dot kernel and the tiled gemm kernel, decode as GB/s of weight rows consumed
 * by one token for the dot kernel and the gemv kernel (one call over the whole
 * weight, as one decode thread runs it). "avx2" forces the AVX2 tables where
 * the CPU would pick AVX-512 or AVX-VNNI ones. Best of 5 repetitions.
 * Usage: bench_kernels [avx2] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cpu.h"
#include "bench_util.h"
#include "engine/gemv.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

#define NROWS 1536
#define NCOLS 576
#define NTOK 32
#define ROW_BLOCK 16


static void bench_type(uint32_t type, int force_avx2) {
    const int kq = hflow_type_traits_get(type)->block_size == 256;
    const int ROWS = kq ? NCOLS : NROWS, COLS = kq ? NROWS : NCOLS;
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type);
    hflow_gemm_fn gemm = hflow_gemm_get(type);
    hflow_gemv_fn gemv = hflow_gemv_get(type);
#if defined(__x86_64__)
    if (force_avx2) gemm = hflow_gemm_avx2(type), gemv = hflow_gemv_avx2(type);
#endif
    size_t rs = hflow_row_size(type, COLS), xs = hflow_row_size(k->act_type, COLS);
    char *w = malloc(rs * ROWS), *x = malloc(xs * NTOK);
    float *f = malloc(COLS * sizeof(float)), *y = malloc(sizeof(float) * ROWS * NTOK), out[NTOK];
    bench_random_operands(type, k, ROWS, COLS, NTOK, w, rs, x, xs, f);
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int rep = 0; rep < 5; rep++) {
        double t[5];
        t[0] = bench_thread_cpu_s();
        for (int it = 0; it < 5; it++)
            for (int r = 0; r < ROWS; r++) {
                k->dot(COLS, w + (size_t)r * rs, x, xs, NTOK, out);
                for (int j = 0; j < NTOK; j++) y[j * ROWS + r] = out[j];
            }
        t[1] = bench_thread_cpu_s();
        for (int it = 0; gemm && it < 5; it++)
            for (int r = 0; r < ROWS; r += ROW_BLOCK) gemm(COLS, w + (size_t)r * rs, rs, ROW_BLOCK, x, xs, NTOK, y + r, ROWS);
        t[2] = bench_thread_cpu_s();
        for (int it = 0; it < 200; it++)
            for (int r = 0; r < ROWS; r++) k->dot(COLS, w + (size_t)r * rs, x, xs, 1, y + r);
        t[3] = bench_thread_cpu_s();
        for (int it = 0; gemv && it < 200; it++)
            gemv(COLS, w, rs, ROWS, x, y);
        t[4] = bench_thread_cpu_s();
        for (int i = 0; i < 4; i++)
            if (t[i + 1] - t[i] < best[i]) best[i] = t[i + 1] - t[i];
    }
    double gflop = 2.0 * ROWS * COLS * NTOK * 5 * 1e-9, gb = (double)rs * ROWS * 200 * 1e-9;
    printf("%-5s %4dx%-4d prefill GFLOP/s: dot %6.1f  gemm %6.1f | decode GB/s: dot %6.1f  gemv %6.1f\n", hflow_type_name(type), ROWS, COLS,
           gflop / best[0], gemm ? gflop / best[1] : 0.0, gb / best[2], gemv ? gb / best[3] : 0.0);
    free(w), free(x), free(f), free(y);
}

int main(int argc, char **argv) {
    int force_avx2 = argc > 1 && strcmp(argv[1], "avx2") == 0;
    printf("in-cache kernel speed per CPU-second, %d tokens; tables: %s (0 = no such kernel)\n", NTOK,
           force_avx2 ? "avx2" : (hflow_cpu_has_avx512() ? "avx-512 (gemv), avx-vnni (gemm)"
                                  : hflow_cpu_has_avx_vnni() ? "avx-vnni" : "best available"));
    const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) bench_type(types[i], force_avx2);
    return 0;
}
