/* bench_amx.c - the AMX-INT8 prefill kernels (gemm_amx.h) in CPU time on
 * cache-resident weights: GFLOP/s of a 1536x768 weight times 256 tokens,
 * called per 16-row block with all tokens as matmul.c calls them (packing
 * the activations included), beside the type's gemm kernel (or dot kernel)
 * over the same product in 32-token blocks. Best of 5 repetitions.
 * Prints "skipped: no AMX" on CPUs without AMX-INT8.
 * Usage: bench_amx */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/cpu.h"
#include "bench_util.h"
#include "engine/gemm_amx.h"
#include "engine/gemv.h"
#include "engine/quant.h"
#include "engine/vecdot.h"

#define ROWS 1536
#define COLS 768
#define NTOK 256
#define TOK_BLOCK 32


static void old_path(const hflow_dot_kernel *k, hflow_gemm_fn gemm, const char *w, size_t rs, const char *x, size_t xs,
                     float *y) {
    float out[TOK_BLOCK];
    for (int r0 = 0; r0 < ROWS; r0 += 16)
        for (int t0 = 0; t0 < NTOK; t0 += TOK_BLOCK) {
            if (gemm) {
                gemm(COLS, w + (size_t)r0 * rs, rs, 16, x + (size_t)t0 * xs, xs, TOK_BLOCK, y + t0 * ROWS + r0, ROWS);
                continue;
            }
            for (int r = r0; r < r0 + 16; r++) {
                k->dot(COLS, w + (size_t)r * rs, x + (size_t)t0 * xs, xs, TOK_BLOCK, out);
                for (int t = 0; t < TOK_BLOCK; t++) y[(t0 + t) * ROWS + r] = out[t];
            }
        }
}

static void bench_type(uint32_t type) {
    const hflow_dot_kernel *k = hflow_dot_kernel_get(type);
    hflow_amx_fn amx = hflow_amx_table(type);
    hflow_gemm_fn gemm = hflow_gemm_get(type);
    size_t rs = hflow_row_size(type, COLS), xs = hflow_row_size(k->act_type, COLS);
    char *w = malloc(rs * ROWS), *x = malloc(xs * NTOK);
    char *pack = malloc(hflow_amx_pack_size(k->act_type, COLS, NTOK)), *scratch = malloc(hflow_amx_scratch_size(type, COLS));
    float *f = malloc(COLS * sizeof(float)), *y = calloc((size_t)ROWS * NTOK, sizeof(float));
    bench_random_operands(type, k, ROWS, COLS, NTOK, w, rs, x, xs, f);
    double best[2] = {1e9, 1e9};
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_thread_cpu_s();
        for (int t = 0; t < NTOK; t++) hflow_amx_pack_token(k->act_type, COLS, x + (size_t)t * xs, t, NTOK, pack);
        for (int r = 0; r < ROWS; r += 16) amx(COLS, w + (size_t)r * rs, rs, 16, pack, NTOK, y + r, ROWS, scratch);
        double t1 = bench_thread_cpu_s();
        old_path(k, gemm, w, rs, x, xs, y);
        double t2 = bench_thread_cpu_s();
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
    }
    double gflop = 2.0 * ROWS * COLS * NTOK * 1e-9;
    printf("%-5s prefill GFLOP/s: amx %6.1f | %s %6.1f | %.1fx\n", hflow_type_name(type), gflop / best[0],
           gemm ? "gemm" : "dot ", gflop / best[1], best[1] / best[0]);
    free(w), free(x), free(pack), free(scratch), free(f), free(y);
}

int main(void) {
#if defined(__x86_64__)
    int have = hflow_cpu_has_amx_int8();
#else
    int have = 0;
#endif
    if (!have) {
        printf("skipped: no AMX\n");
        return 0;
    }
    printf("in-cache prefill kernels per CPU-second, %dx%d weights, %d tokens\n", ROWS, COLS, NTOK);
    const uint32_t types[] = {HFLOW_TYPE_Q8_0, HFLOW_TYPE_Q5_0, HFLOW_TYPE_Q4_0,
                              HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q5_K, HFLOW_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) bench_type(types[i]);
    return 0;
}
