/* vocab_internal.h - the hflow_vocab layout shared by the vocab, tokenizer
 * and detokenizer files, and the in-memory builder that hflow_vocab_load
 * (GGUF) and the tests/fuzzer (synthetic vocabs) both go through, so every
 * vocabulary is validated by the same code. */
#ifndef HFLOW_ENGINE_VOCAB_INTERNAL_H
#define HFLOW_ENGINE_VOCAB_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "engine/strmap.h"
#include "hybridflow/tokenizer.h"

/* Pre-tokenizer families (tokenizer.ggml.pre), BPE only. */
enum hflow_pretok {
    HFLOW_PRETOK_DEFAULT = 0, /* llama.cpp's "default": punctuation, GPT-2 regex, digit runs, 3-digit groups */
    HFLOW_PRETOK_GPT2,        /* "gpt-2", "gpt2" and others using the plain GPT-2 regex */
    HFLOW_PRETOK_LLAMA3,      /* "llama3", "llama-bpe" */
    HFLOW_PRETOK_QWEN2,       /* "qwen2", "qwen2.5", "deepseek-r1-qwen" */
    HFLOW_PRETOK_SMOLLM       /* "smollm", "starcoder", "refact": single digits, then GPT-2 regex */
};

/* Sentinel for "key absent: use the kind's default". */
#define HFLOW_VOCAB_ID_DEFAULT (-2)
#define HFLOW_VOCAB_FLAG_DEFAULT (-1)

/* Everything a vocabulary is built from. Nothing is retained: the builder copies. */
typedef struct hflow_vocab_spec {
    int kind;                 /* HFLOW_VOCAB_SPM or HFLOW_VOCAB_BPE */
    const char *pre;          /* tokenizer.ggml.pre, NUL-terminated; NULL = none */
    int32_t n_tokens;
    const char *const *tokens; /* n_tokens texts ... */
    const size_t *token_lens;  /* ... and their lengths (NULL: strlen) */
    const float *scores;       /* n_tokens or NULL (all 0) */
    const int32_t *types;      /* n_tokens or NULL (all NORMAL) */
    int64_t n_merges;
    const char *const *merges; /* "left right" strings (BPE) */
    const size_t *merge_lens;  /* NULL: strlen */
    /* Special ids: -1 none, HFLOW_VOCAB_ID_DEFAULT = the kind's default. */
    int32_t bos, eos, eot, eom, unk, pad;
    /* Flags: 0/1 or HFLOW_VOCAB_FLAG_DEFAULT. */
    int add_bos, add_eos, add_space_prefix;
} hflow_vocab_spec;

/* A spec with every id/flag set to "default" and nothing else. */
void hflow_vocab_spec_init(hflow_vocab_spec *s);
/* Validates and builds. On error *out is untouched and err says what is wrong. */
int hflow_vocab_build(const hflow_vocab_spec *s, hflow_vocab **out, hflow_error *err);

struct hflow_vocab {
    int kind;
    int pretok;
    int32_t n;
    char *pool;        /* all token texts, each NUL-terminated */
    uint32_t *off;     /* token i text = pool + off[i] */
    uint32_t *len;
    float *scores;
    uint8_t *types;
    hflow_strmap by_text;

    /* BPE merges keyed by the packed (left id, right id) pair. */
    int64_t n_merges;       /* usable merges (all three tokens exist) */
    int32_t *merge_pairs;   /* 2 per merge: left id, right id (keys of by_pair) */
    int32_t *merge_result;  /* rank -> id of left+right */
    hflow_strmap by_pair;   /* 8-byte key -> rank */
    uint64_t merges_hash;   /* hash of the merge list as given (for the fingerprint) */

    int32_t bos, eos, eot, eom, unk, pad;
    int add_bos, add_eos, add_space_prefix, ignore_merges;

    int32_t *special; /* CONTROL / USER_DEFINED / UNKNOWN ids, longest text first */
    int32_t n_special;
    int32_t *eog;
    int32_t n_eog;
    /* SPM: id of "<0xXX>" (or -1). BPE: id of the byte's GPT-2 unicode char (or -1). */
    int32_t byte_id[256];
    uint64_t fingerprint;
};

/* GPT-2 byte-level mapping: the code point a byte is shown as, and back
 * (returns -1 for code points that are not the image of a byte). */
uint32_t hflow_bpe_byte_to_cpt(unsigned char b);
int hflow_bpe_cpt_to_byte(uint32_t cp);

/* Raw text pieces after special-token splitting. */
typedef struct hflow_fragment {
    int32_t token; /* >= 0: a special token; -1: raw text [start, start+len) */
    size_t start, len;
} hflow_fragment;

/* Splits text into raw/special fragments the way llama.cpp does: special
 * tokens longest first; CONTROL and UNKNOWN only when parse_special, USER_DEFINED
 * always. *out is malloc'd. */
int hflow_vocab_partition(const hflow_vocab *v, const char *text, size_t len, int parse_special,
                          hflow_fragment **out, size_t *n_out);

/* A growable token array. */
typedef struct hflow_tokbuf {
    int32_t *ids;
    size_t n, cap;
    int oom;
} hflow_tokbuf;
void hflow_tokbuf_push(hflow_tokbuf *b, int32_t id);

/* Tokenizes one raw fragment, appending to out. */
int hflow_spm_tokenize(const hflow_vocab *v, const char *text, size_t len, int prefix_space, hflow_tokbuf *out);
int hflow_bpe_tokenize(const hflow_vocab *v, const char *text, size_t len, hflow_tokbuf *out);

/* Pre-tokenizer: splits text into byte ranges (pairs start,len) that cover it.
 * *ranges is malloc'd (2 * *n entries). */
int hflow_pretokenize(int pretok, const char *text, size_t len, size_t **ranges, size_t *n);
/* Maps a tokenizer.ggml.pre name to a family; -1 when unknown. */
int hflow_pretok_from_name(const char *name);

#endif
