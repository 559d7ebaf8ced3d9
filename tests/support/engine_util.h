/* engine_util.h - engine chores the test programs share: loading a model on
 * one thread, tokenizing a prompt (BOS added), and the target-alone greedy
 * continuation that speculative and served outputs are compared with. */
#ifndef HFLOW_TEST_ENGINE_UTIL_H
#define HFLOW_TEST_ENGINE_UTIL_H
#include <stdint.h>

#include "hybridflow/engine.h"

/* One-thread model, or NULL (the caller decides whether that is a skip). */
hflow_model *tu_model_load(const char *path);
/* Token ids of `text` with BOS; fails the test on error. Caller frees. */
int32_t *tu_tokenize(const hflow_model *m, const char *text, int *n);
/* Greedy continuation of `prompt` by `m` alone: up to max tokens (an
 * end-of-generation token ends it early); returns the count written to out. */
int32_t tu_greedy_reference(hflow_model *m, const int32_t *prompt, int n_prompt, int32_t max, int32_t *out);

#endif
