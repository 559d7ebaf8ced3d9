/* backend_internal.h - what backend.c's dispatcher needs from each backend
 * implementation, plus helpers the implementations share. */
#ifndef HFLOW_BACKEND_INTERNAL_H
#define HFLOW_BACKEND_INTERNAL_H

#include <stddef.h>

#include "hybridflow/backend.h"

/* Opens "http(s)://host:port/base#model". `opts` is already defaulted. */
int hflow_http_backend_open(const char *endpoint, const hflow_backend_options *opts, hflow_backend **out,
                            hflow_error *err);
/* Opens a local GGUF file with the in-process engine. */
int hflow_local_backend_open(const char *path, const hflow_backend_options *opts, hflow_backend **out,
                             hflow_error *err);

/* Token estimate used when a server omits usage and no tokenizer is given:
 * ceil(words * 4 / 3), where a word is a maximal run of non-space bytes.
 * English text averages about 0.75 words per BPE token, hence 4/3. */
int hflow_estimate_tokens(const char *text, size_t len);

/* Copies src into a fixed-size field, truncating, always NUL-terminating. */
void hflow_copy_field(char *dst, size_t cap, const char *src);

#endif
