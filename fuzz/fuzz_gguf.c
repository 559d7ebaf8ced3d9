/* fuzz_gguf.c - libFuzzer target for the GGUF reader: parse, then touch every
 * accessor so out-of-bounds reads in them are found too. */
#include <stddef.h>
#include <stdint.h>

#include "hybridflow/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hflow_gguf *g;
    hflow_error err;
    if (hflow_gguf_open_memory(data, size, &g, &err) != 0) return 0;
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < hflow_gguf_n_kv(g); i++) {
        const hflow_gguf_value *v = hflow_gguf_value_at(g, i);
        sink += (uint64_t)hflow_gguf_value_int(v);
        size_t len = 0;
        const char *s = hflow_gguf_value_str(v, &len);
        if (s && len) sink += (uint8_t)s[len - 1];
        if (v->type == HFLOW_GGUF_ARRAY) {
            for (uint64_t k = 0; k < v->arr_n && k < 64; k++) {
                hflow_gguf_value e;
                if (hflow_gguf_arr_value(g, v, k, &e) == 0) sink += e.raw_size;
                s = hflow_gguf_arr_str(g, v, k, &len);
                if (s && len) sink += (uint8_t)s[0];
                sink += (uint64_t)hflow_gguf_arr_int(g, v, k);
            }
        }
    }
    for (int64_t i = 0; i < hflow_gguf_n_tensors(g); i++) {
        const hflow_gguf_tensor *t = hflow_gguf_tensor_at(g, i);
        if (t->size) sink += ((const uint8_t *)t->data)[t->size - 1];
    }
    (void)sink;
    hflow_gguf_close(g);
    return 0;
}
