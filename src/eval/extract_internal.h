/* extract_internal.h - text scanning helpers shared by extract.c, livebench.c
 * and score.c (internal to the eval module). */
#ifndef HFLOW_EVAL_EXTRACT_INTERNAL_H
#define HFLOW_EVAL_EXTRACT_INTERNAL_H
#include <stddef.h>

/* The last \boxed{...} (else \fbox{...}, \framebox{...}) with balanced braces:
 * sets *start / *len to its content and returns the offset of the command, or
 * -1 when there is none. "\boxed X" (no brace) runs to the next '$' or line end. */
long ev_last_boxed(const char *text, const char **start, size_t *len);
/* Span of the last non-empty line (trailing whitespace removed); 0 when none. */
int ev_last_line(const char *text, const char **start, size_t *len);
/* Case-insensitive search for needle in [s, s+n); NULL when absent. */
const char *ev_memcasestr(const char *s, size_t n, const char *needle);
/* Count of non-overlapping occurrences of needle in s (like Python's str.count). */
int ev_count(const char *s, const char *needle);

#endif
