/* cli_inspect.c - `hybridflow inspect MODEL.gguf`: metadata and tensor table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/ggml_type.h"
#include "hybridflow/gguf.h"

/* Long arrays (vocabularies) are summarised: the first few elements only. */
#define SHOW_ELEMS 8

static void print_scalar(const hflow_gguf *g, const hflow_gguf_value *v) {
    size_t len;
    const char *s;
    switch (v->type) {
    case HFLOW_GGUF_STRING:
        s = hflow_gguf_value_str(v, &len);
        printf("\"%.*s%s\"", len > 200 ? 200 : (int)len, s, len > 200 ? "..." : "");
        break;
    case HFLOW_GGUF_FLOAT32: case HFLOW_GGUF_FLOAT64: printf("%g", hflow_gguf_value_float(v)); break;
    case HFLOW_GGUF_BOOL: printf("%s", hflow_gguf_value_int(v) ? "true" : "false"); break;
    case HFLOW_GGUF_ARRAY: {
        printf("[%s x %" PRIu64 "]", hflow_gguf_vtype_name(v->arr_type), v->arr_n);
        printf(" {");
        for (uint64_t i = 0; i < v->arr_n && i < SHOW_ELEMS; i++) {
            hflow_gguf_value e;
            if (hflow_gguf_arr_value(g, v, i, &e) == 0) {
                printf(i ? ", " : "");
                print_scalar(g, &e);
            }
        }
        printf("%s}", v->arr_n > SHOW_ELEMS ? ", ..." : "");
        break;
    }
    default: printf("%" PRId64, hflow_gguf_value_int(v)); break;
    }
}

int cli_inspect(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: hybridflow inspect MODEL.gguf\n");
        return argc == 2 ? 0 : 2;
    }
    hflow_gguf *g;
    hflow_error err;
    if (hflow_gguf_open(argv[1], &g, &err)) {
        fprintf(stderr, "hybridflow inspect: %s\n", err.message);
        return 1;
    }
    printf("file: %s\nGGUF version %u, alignment %u, %zu bytes, data at %zu\n", argv[1], hflow_gguf_version(g),
           hflow_gguf_alignment(g), hflow_gguf_file_size(g), hflow_gguf_data_offset(g));
    printf("\nmetadata (%" PRId64 "):\n", hflow_gguf_n_kv(g));
    for (int64_t i = 0; i < hflow_gguf_n_kv(g); i++) {
        const hflow_gguf_value *v = hflow_gguf_value_at(g, i);
        printf("  %-40s %-5s ", hflow_gguf_key(g, i), hflow_gguf_vtype_name(v->type));
        print_scalar(g, v);
        printf("\n");
    }
    printf("\ntensors (%" PRId64 "):\n", hflow_gguf_n_tensors(g));
    uint64_t total = 0;
    for (int64_t i = 0; i < hflow_gguf_n_tensors(g); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(g, i);
        char shape[128] = "";
        size_t o = 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%" PRId64, d ? " x " : "", t->ne[d]);
        printf("  %-36s %-6s %-22s %12" PRIu64 " bytes @ %" PRIu64 "\n", t->name, hflow_type_name(t->type), shape,
               t->size, t->offset);
        total += t->size;
    }
    printf("\ntotal tensor bytes: %" PRIu64 "\n", total);
    hflow_gguf_close(g);
    return 0;
}
