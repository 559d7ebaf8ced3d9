/* model_vocab.c - the one place the model loader meets the tokenizer.
 *
 * Until the tokenizer module is in the tree, a model loads with no
 * vocabulary (hflow_model_vocab returns NULL) and runs on token ids; the
 * forward pass never needs the vocabulary. */
#include <stddef.h>

#include "engine/model.h"

int hflow_model_vocab_load(const hflow_gguf *g, int32_t n_vocab, hflow_vocab **out, hflow_error *err) {
    (void)g;
    (void)n_vocab;
    (void)err;
    *out = NULL;
    return 0;
}

void hflow_model_vocab_free(hflow_vocab *v) { (void)v; }
