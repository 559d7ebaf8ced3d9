/* hybridflow/grammar.h - constrained decoding: generation held to a language.
 *
 * Three pieces:
 *   hflow_byte_machine  a language as a byte-level state machine with a
 *                       fixed-size, memcpy-able state (the plan format is one;
 *                       others plug in the same way).
 *   hflow_token_texts   the bytes every token of a vocabulary stands for,
 *                       computed once per vocabulary. Immutable after create:
 *                       share one between any number of grammars and threads.
 *   hflow_grammar       one generation's constraint: a machine state plus the
 *                       token texts. Before each sampling step it masks the
 *                       logits of every token whose bytes would leave the
 *                       language; after it, it advances by the chosen token.
 *                       Used by one thread at a time.
 *
 * Token bytes are what hflow_generate emits for a continuation token
 * (hflow_token_to_piece without special rendering: SentencePiece "▁" is a
 * space, byte tokens are their byte). Tokens with no bytes (control tokens)
 * are never allowed, except end-of-generation tokens, which are allowed
 * exactly when the machine is in an accepting state. When the machine is
 * accepting and no byte can follow, the grammar is complete and the hook
 * ends generation (finish_reason "stop").
 *
 * Cost of one mask: the first byte of every token is checked against a
 * 256-entry table of the bytes the state allows; only tokens that pass are
 * run through the machine byte by byte. */
#ifndef HYBRIDFLOW_GRAMMAR_H
#define HYBRIDFLOW_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "hybridflow/engine.h"
#include "hybridflow/error.h"
#include "hybridflow/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- languages ---- */

typedef struct hflow_byte_machine {
    const char *name;
    size_t state_size;  /* bytes of one state; states are copied with memcpy */
    size_t config_size; /* bytes of the config the grammar copies at create */
    /* Sets the start state. */
    void (*init)(const void *config, void *state);
    /* Advances by one byte: 1 when the byte is allowed (state updated), 0
     * when it is not (state then undefined: callers step a copy). */
    int (*step)(const void *config, void *state, unsigned char byte);
    /* 1 when the text so far is a complete sentence of the language. */
    int (*accepting)(const void *config, const void *state);
} hflow_byte_machine;

/* ---- per-vocabulary token bytes ---- */

typedef struct hflow_token_texts hflow_token_texts;

int hflow_token_texts_create(const hflow_vocab *v, hflow_token_texts **out, hflow_error *err);
void hflow_token_texts_free(hflow_token_texts *t);
int32_t hflow_token_texts_count(const hflow_token_texts *t);
/* The bytes of token id (not NUL-terminated; owned by t); NULL when id is out of range. */
const char *hflow_token_texts_get(const hflow_token_texts *t, int32_t id, size_t *len);

/* ---- one generation's constraint ---- */

typedef struct hflow_grammar hflow_grammar;

/* `config` (config_size bytes) is copied; `texts` is borrowed and must
 * outlive the grammar. */
int hflow_grammar_create(const hflow_byte_machine *m, const void *config, const hflow_token_texts *texts,
                         hflow_grammar **out, hflow_error *err);
void hflow_grammar_free(hflow_grammar *g);
/* Back to the start state. */
void hflow_grammar_reset(hflow_grammar *g);
/* allowed[i] = 1 for every token that keeps the text in the language (n_vocab
 * entries); returns how many are allowed. */
int32_t hflow_grammar_allowed(hflow_grammar *g, uint8_t *allowed);
/* Sets logits of forbidden tokens to -INFINITY. Returns the number allowed,
 * or HFLOW_ESTATE (nothing can follow: the grammar is complete) after filling err. */
int hflow_grammar_mask(hflow_grammar *g, float *logits, int32_t n_vocab, hflow_error *err);
/* Advances by a token: 0, 1 when the grammar is now complete, or
 * HFLOW_EINVAL when the token is not allowed (state unchanged). */
int hflow_grammar_accept(hflow_grammar *g, int32_t token, hflow_error *err);
/* Advances by raw bytes (to prefill a constraint): 0, or HFLOW_EINVAL at the
 * first byte the language rejects (state unchanged). */
int hflow_grammar_accept_bytes(hflow_grammar *g, const char *s, size_t n, hflow_error *err);
/* 1 when the machine accepts here (end-of-generation tokens are allowed). */
int hflow_grammar_accepting(const hflow_grammar *g);
/* 1 when accepting and no byte can follow. */
int hflow_grammar_complete(const hflow_grammar *g);
/* A hook for hflow_generate_params.hook that drives this grammar (borrowed). */
hflow_logits_hook hflow_grammar_hook(hflow_grammar *g);

/* ---- the plan language (the orchestrator's planner output) ----
 *
 *   <Plan>\n
 *   <Step ID="1" Task="..." Rely="" Difficulty="3" Token="120"/>\n
 *   <Step ID="2" Task="..." Rely="1" Difficulty="5" Token="200"/>\n
 *   </Plan>
 *
 * exactly so (the parser is more tolerant than this; the grammar makes the
 * model write the one canonical form). Rules the machine holds:
 *   - 1..max_steps steps; IDs are 1, 2, 3, ... in order (the machine writes them);
 *   - Task: 1..max_task_bytes printable ASCII bytes other than " < > &,
 *     starting with a letter or digit, not ending with a space (no escapes
 *     needed, none possible);
 *   - Rely: empty, or strictly increasing IDs of earlier steps, comma separated
 *     without spaces (so no self, later or duplicate references);
 *   - Difficulty: one digit 1-9; Token: 1..max_token_digits digits, no leading zero.
 * Every allowed prefix can still be completed (no dead ends). */
typedef struct hflow_plan_grammar_params {
    int max_steps;        /* 1..99; default 8 */
    int max_task_bytes;   /* 2..250; default 120 */
    int max_token_digits; /* 1..6; default 4 */
} hflow_plan_grammar_params;

void hflow_plan_grammar_default(hflow_plan_grammar_params *p);
const hflow_byte_machine *hflow_plan_machine(void);
int hflow_grammar_create_plan(const hflow_plan_grammar_params *p, const hflow_token_texts *texts,
                              hflow_grammar **out, hflow_error *err);
/* ---- the json language: one JSON object (RFC 8259) ----
 *
 * What OpenAI's response_format {"type":"json_object"} promises: the text is
 * a single JSON object and ends when it closes. Nesting is limited to 32
 * levels and whitespace runs to 16 bytes (so a model cannot stall in
 * either); strings must be valid UTF-8 with valid escapes. No schema. */
const hflow_byte_machine *hflow_json_machine(void);
int hflow_grammar_create_json(const hflow_token_texts *texts, hflow_grammar **out, hflow_error *err);

/* Checks a built-in constraint's name without building anything (servers
 * validate requests with it): 0 and, when p is non-NULL, the plan parameters
 * it stands for (defaults for "json"); HFLOW_EINVAL with a message naming it
 * otherwise. */
int hflow_grammar_parse_name(const char *name, hflow_plan_grammar_params *p, hflow_error *err);
/* A built-in constraint by name (hflow_request.grammar): "plan" (default
 * params), "plan:N" (at most N steps) or "json" (one JSON object).
 * HFLOW_EINVAL for unknown names. */
int hflow_grammar_create_named(const char *name, const hflow_token_texts *texts, hflow_grammar **out,
                               hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
