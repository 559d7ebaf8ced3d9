/* model_vocab.c - the one place the model loader meets the tokenizer:
 * loads the vocabulary and checks it matches the embedding table. */
#include "engine/model.h"

int hflow_model_vocab_load(const hflow_gguf *g, int32_t n_vocab, hflow_vocab **out, hflow_error *err) {
    int rc = hflow_vocab_load(g, out, err);
    if (rc) return rc;
    if (hflow_vocab_size(*out) != n_vocab) {
        rc = hflow_error_set(err, HFLOW_EFORMAT, "vocabulary has %d tokens but token_embd has %d rows",
                             hflow_vocab_size(*out), n_vocab);
        hflow_vocab_free(*out);
        *out = NULL;
    }
    return rc;
}

void hflow_model_vocab_free(hflow_vocab *v) { hflow_vocab_free(v); }
