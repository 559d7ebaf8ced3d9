/* cli_quantize.c - `hybridflow quantize IN.gguf OUT.gguf TYPE [--threads N]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/ggml_type.h"
#include "engine/quantize_model.h"

static int usage(FILE *f) {
    fprintf(f, "usage: hybridflow quantize IN.gguf OUT.gguf TYPE [--threads N]\n"
               "  TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m\n");
    return f == stdout ? 0 : 2;
}

int cli_quantize(int argc, char **argv) {
    const char *pos[3];
    int n_pos = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout);
        if ((!strcmp(argv[i], "--threads") || !strcmp(argv[i], "-t")) && i + 1 < argc) threads = atoi(argv[++i]);
        else if (n_pos < 3) pos[n_pos++] = argv[i];
        else return usage(stderr);
    }
    if (n_pos != 3) return usage(stderr);
    hflow_quantize_stats st;
    hflow_error err;
    if (hflow_quantize_model(pos[0], pos[1], pos[2], threads, &st, &err)) {
        fprintf(stderr, "hybridflow quantize: %s\n", err.message);
        return 1;
    }
    printf("wrote %s: %lld tensors, %.2f MB -> %.2f MB (", pos[1], (long long)st.n_tensors, st.bytes_in / 1e6,
           st.bytes_out / 1e6);
    for (int t = 0, first = 1; t < 32; t++)
        if (st.n_by_type[t]) {
            printf("%s%s x%lld", first ? "" : ", ", hflow_type_name((uint32_t)t), (long long)st.n_by_type[t]);
            first = 0;
        }
    printf(")\n");
    return 0;
}
