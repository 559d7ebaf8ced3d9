/* base64.h - standard base64 (RFC 4648, with padding) for wire formats that
 * carry binary data in JSON strings (OpenAI's encoding_format "base64"). */
#ifndef HFLOW_BASE_BASE64_H
#define HFLOW_BASE_BASE64_H
#include <stddef.h>

/* A malloc'd NUL-terminated encoding of n bytes (caller frees); NULL when out of memory. */
char *hflow_base64_encode(const void *data, size_t n);
/* Decodes a padded encoding of len characters into a malloc'd buffer
 * (caller frees) and *n_out bytes; NULL on bad input or out of memory. */
unsigned char *hflow_base64_decode(const char *text, size_t len, size_t *n_out);

#endif
