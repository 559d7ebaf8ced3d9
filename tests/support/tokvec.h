/* tokvec.h - llama.cpp tokenizer test vectors (.inp/.out beside a vocab GGUF)
 * and a helper to load a vocab from a shared GGUF file. */
#ifndef HFLOW_TOKVEC_H
#define HFLOW_TOKVEC_H
#include <stddef.h>
#include <stdint.h>

#include "hybridflow/tokenizer.h"

typedef struct tu_tokvec_case {
    const char *text; /* points into the .inp buffer; not NUL-terminated */
    size_t len;
    int32_t *ids;     /* expected ids (no BOS) */
    int n_ids;
} tu_tokvec_case;

typedef struct tu_tokvec {
    char *inp, *out; /* file contents */
    tu_tokvec_case *cases;
    int n;
} tu_tokvec;

/* Reads <gguf_path>.inp/.out: texts separated by "\n__ggml_vocab_test__\n" (the
 * file ends with one), ids space-separated, one line per text. 0 on success. */
int tu_tokvec_load(const char *gguf_path, tu_tokvec *tv);
void tu_tokvec_free(tu_tokvec *tv);

/* Opens a GGUF and loads its vocab (the GGUF is closed again). NULL on failure. */
hflow_vocab *tu_load_vocab(const char *gguf_path);

#endif
