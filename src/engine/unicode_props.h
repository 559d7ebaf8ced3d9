/* unicode_props.h - the little Unicode the tokenizers need: UTF-8 decoding
 * that never fails (invalid bytes decode as themselves, one byte each) and
 * the \p{L} / \p{N} / \p{P} / \s classes used by the BPE pre-tokenizer regexes.
 * The class tables are generated (tools/gen_unicode_tables.py). */
#ifndef HFLOW_ENGINE_UNICODE_PROPS_H
#define HFLOW_ENGINE_UNICODE_PROPS_H
#include <stddef.h>
#include <stdint.h>

typedef struct hflow_cpt_range {
    uint32_t first, last; /* inclusive */
} hflow_cpt_range;

extern const hflow_cpt_range hflow_uni_letter[];
extern const size_t hflow_uni_letter_n;
extern const hflow_cpt_range hflow_uni_number[];
extern const size_t hflow_uni_number_n;
extern const hflow_cpt_range hflow_uni_punct[];
extern const size_t hflow_uni_punct_n;
extern const hflow_cpt_range hflow_uni_space[];
extern const size_t hflow_uni_space_n;

/* Marks a code point that came from an invalid UTF-8 byte (0xDC00 + byte lies
 * in the surrogate range, which valid UTF-8 never produces). */
#define HFLOW_CPT_INVALID_BASE 0xDC00u

/* Length in bytes of the UTF-8 sequence a lead byte announces (1 for
 * continuation/invalid bytes), as SentencePiece-style splitters use. */
size_t hflow_utf8_len(unsigned char lead);
/* Decodes one code point at s[0..n), n >= 1. Invalid or truncated sequences
 * decode as HFLOW_CPT_INVALID_BASE + s[0] with *adv = 1. */
uint32_t hflow_utf8_decode(const unsigned char *s, size_t n, size_t *adv);
/* Encodes cp into out (4 bytes room); returns the byte count. */
int hflow_utf8_encode(uint32_t cp, char *out);
/* Number of leading bytes of s[0..n) that form complete UTF-8 characters;
 * an incomplete sequence at the end is left out (invalid bytes count as complete). */
size_t hflow_utf8_complete_prefix(const unsigned char *s, size_t n);

int hflow_cpt_is_letter(uint32_t cp);
int hflow_cpt_is_number(uint32_t cp);
int hflow_cpt_is_space(uint32_t cp);
int hflow_cpt_is_punct(uint32_t cp);

#endif
