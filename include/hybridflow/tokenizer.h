/* hybridflow/tokenizer.h - vocabularies and tokenizers read from GGUF metadata
 * (tokenizer.ggml.*): SentencePiece ("llama") and byte-level BPE ("gpt2").
 *
 * An hflow_vocab is immutable after loading and safe to share between
 * threads. It owns copies of everything it needs, so it outlives the
 * hflow_gguf it was loaded from. */
#ifndef HYBRIDFLOW_TOKENIZER_H
#define HYBRIDFLOW_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/error.h"
#include "hybridflow/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hflow_vocab hflow_vocab;

enum hflow_vocab_kind { HFLOW_VOCAB_SPM = 1, HFLOW_VOCAB_BPE = 2 };

/* Token types as stored in tokenizer.ggml.token_type. */
enum hflow_token_type {
    HFLOW_TOKEN_UNDEFINED = 0, HFLOW_TOKEN_NORMAL = 1, HFLOW_TOKEN_UNKNOWN = 2,
    HFLOW_TOKEN_CONTROL = 3, HFLOW_TOKEN_USER_DEFINED = 4, HFLOW_TOKEN_UNUSED = 5,
    HFLOW_TOKEN_BYTE = 6
};

int hflow_vocab_load(const hflow_gguf *g, hflow_vocab **out, hflow_error *err);
void hflow_vocab_free(hflow_vocab *v);

int hflow_vocab_kind(const hflow_vocab *v);
int32_t hflow_vocab_size(const hflow_vocab *v);
int32_t hflow_vocab_bos(const hflow_vocab *v); /* -1 when none */
int32_t hflow_vocab_eos(const hflow_vocab *v);
int32_t hflow_vocab_eot(const hflow_vocab *v);
int32_t hflow_vocab_unk(const hflow_vocab *v);
int hflow_vocab_add_bos(const hflow_vocab *v); /* whether prompts start with BOS by default */
int hflow_vocab_add_eos(const hflow_vocab *v);
/* End of generation: EOS, EOT or another end token (e.g. <|im_end|>). */
int hflow_vocab_is_eog(const hflow_vocab *v, int32_t id);
int hflow_vocab_is_control(const hflow_vocab *v, int32_t id);
/* Raw token text as stored in the vocabulary (NUL-terminated; owned by v). */
const char *hflow_vocab_text(const hflow_vocab *v, int32_t id);
int32_t hflow_vocab_find(const hflow_vocab *v, const char *text); /* exact match; -1 when absent */
/* Stable hash over tokens, scores, types, merges and special ids (for family fingerprints). */
uint64_t hflow_vocab_fingerprint(const hflow_vocab *v);

/* Tokenizes `text` (len bytes, need not be NUL-terminated). add_special adds
 * BOS/EOS as the vocab's add_bos/add_eos flags say; parse_special lets the
 * text contain special/control tokens by their text (e.g. "<|im_start|>").
 * On success *out is a malloc'd array the caller frees and *n_out its length. */
int hflow_tokenize(const hflow_vocab *v, const char *text, size_t len, int add_special,
                   int parse_special, int32_t **out, int *n_out, hflow_error *err);

/* The bytes one token stands for (byte tokens -> their byte, "▁" -> space,
 * byte-level BPE unmapped). Control and unknown tokens render as their text
 * only when render_special (else as nothing); user-defined tokens always as
 * their text; unused tokens as nothing. Returns the byte count (may exceed n: then nothing useful was
 * written and the caller retries with a larger buffer), or negative on a bad id. */
int hflow_token_to_piece(const hflow_vocab *v, int32_t id, int render_special, char *buf, int n);

/* Detokenizes a whole sequence into a malloc'd NUL-terminated string (NULL on
 * a bad id or out of memory). When the sequence starts with BOS and the vocab
 * is SentencePiece with a prefix space, the one space the tokenizer added in
 * front of the first word is dropped, so detokenize(tokenize(text, add_special=1))
 * gives text back. A sequence that does not start with BOS (a continuation)
 * keeps its leading space. */
char *hflow_detokenize(const hflow_vocab *v, const int32_t *ids, int n, int render_special);

/* Streaming detokenizer: buffers bytes until they form complete UTF-8
 * characters, so a character split across tokens is emitted whole. The
 * concatenated output equals hflow_detokenize of the same ids (same leading
 * space rule), except that an incomplete tail is flushed as U+FFFD. Invalid
 * bytes that can never complete a character are passed through. */
typedef struct hflow_detok {
    const hflow_vocab *vocab;
    int render_special;
    int n_tokens;       /* tokens pushed so far (to drop SPM's leading space) */
    char pending[8];    /* incomplete UTF-8 sequence carried over */
    int n_pending;
    int drop_space;     /* the next piece loses one leading space (it follows a leading BOS) */
} hflow_detok;

void hflow_detok_init(hflow_detok *d, const hflow_vocab *v, int render_special);
/* Appends the text completed by token `id` to out (out_cap bytes, NUL-terminated);
 * returns bytes written (excluding NUL), or negative on error. out_cap >= 256 suffices
 * for any single token. */
int hflow_detok_push(hflow_detok *d, int32_t id, char *out, int out_cap);
/* Flushes any incomplete trailing bytes (as U+FFFD). */
int hflow_detok_flush(hflow_detok *d, char *out, int out_cap);

#ifdef __cplusplus
}
#endif
#endif
