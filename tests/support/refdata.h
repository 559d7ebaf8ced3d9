/* refdata.h - reads the reference decodings in ../shared/testdata (the
 * .reference.jsonl files: llama.cpp greedy runs with prompt ids, then per step
 * the chosen token, its logprob and the top-5 (id, logprob)). */
#ifndef HFLOW_TEST_REFDATA_H
#define HFLOW_TEST_REFDATA_H
#include <stdint.h>

#define TU_REF_TOP 5

typedef struct tu_ref_step {
    int32_t token;
    float logprob;
    int n_top;
    int32_t top_ids[TU_REF_TOP];
    float top_lp[TU_REF_TOP];
} tu_ref_step;

typedef struct tu_ref_case {
    char *model;       /* "ref-2L-256-f32.gguf", or NULL when the file has no "model" field */
    char *prompt;
    char *greedy_text; /* NULL when absent */
    int32_t *prompt_ids; /* BOS first */
    int n_prompt;
    tu_ref_step *steps;
    int n_steps;
} tu_ref_case;

/* Parses every line of `path`; returns the number of cases (>= 1) or -1 on
 * error. *out is freed with tu_ref_free. */
int tu_ref_load(const char *path, tu_ref_case **out);
void tu_ref_free(tu_ref_case *cases, int n);
/* Gap between the reference's top-1 and top-2 logprobs (for argmax checks). */
float tu_ref_top_gap(const tu_ref_step *st);

#ifndef HFLOW_TEST_REFDATA_TF
#define HFLOW_TEST_REFDATA_TF
#include "hybridflow/engine.h"

typedef struct tu_tf_result {
    float max_err;      /* largest |our logprob - reference| - rel_tol*|reference| over the compared steps' top-5 */
    int worst_step;     /* where it occurred */
    int n_steps;        /* steps compared */
    int gross_step;     /* first step where the two disagree by > 1 nat, or -1 */
    int n_held;         /* generated tokens the reference did not report, rebuilt (see refdata.c) */
    int argmax_checked; /* steps whose reference top-1/top-2 gap >= min_gap */
    int argmax_bad;     /* of those, steps where our argmax differs */
} tu_tf_result;

/* Teacher forcing: rebuilds the tokens the reference generated (the reported
 * ones plus those its server held back mid UTF-8 character, which it never
 * reports: see refdata.c), decodes them as llama.cpp's server did (prompt in
 * one batch, then token by token; session with the given enum hflow_numerics
 * and an F16 KV cache as llama.cpp) and compares, at every step, our log-softmax at the reference's top-5 ids with
 * its logprobs. The error of a logprob is measured beyond rel_tol *
 * |reference logprob|. Every step is compared; gross_step reports the first
 * one off by more than 1 nat. Returns 0, or the HFLOW_E* code of a failed
 * session call. */
int tu_ref_teacher_force(hflow_model *m, const tu_ref_case *c, int numerics, float min_gap, float rel_tol,
                         tu_tf_result *r);
#endif

#endif
