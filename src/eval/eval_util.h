/* eval_util.h - small helpers shared by the eval module's files (internal). */
#ifndef HFLOW_EVAL_UTIL_H
#define HFLOW_EVAL_UTIL_H
#include <stddef.h>

#include "hybridflow/error.h"

/* strdup that tolerates NULL (returns NULL). */
char *ev_strdup(const char *s);
/* Reads a whole file, NUL-terminated; caller frees. Fails with EIO naming the file. */
int ev_read_file(const char *path, char **out, size_t *len, hflow_error *err);
/* 1-based line number of byte offset `off` in `text`. */
int ev_line_of(const char *text, size_t off);
/* ASCII lower-case copy of n bytes into a fresh string; caller frees. */
char *ev_lower_n(const char *s, size_t n);
/* Trims ASCII whitespace at both ends, in place; returns s. */
char *ev_trim(char *s);

#endif
