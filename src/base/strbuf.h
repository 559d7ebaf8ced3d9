/* strbuf.h - growable byte/string buffer. Owns its memory; free with hflow_strbuf_free.
 * On allocation failure the buffer latches `oom` and further appends are no-ops,
 * so callers can append freely and check once. */
#ifndef HFLOW_BASE_STRBUF_H
#define HFLOW_BASE_STRBUF_H
#include <stddef.h>

typedef struct hflow_strbuf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    int oom;
} hflow_strbuf;

void hflow_strbuf_init(hflow_strbuf *b);
void hflow_strbuf_free(hflow_strbuf *b);
void hflow_strbuf_reset(hflow_strbuf *b); /* len = 0, keeps capacity */
int hflow_strbuf_reserve(hflow_strbuf *b, size_t extra);
void hflow_strbuf_append(hflow_strbuf *b, const void *data, size_t n);
void hflow_strbuf_puts(hflow_strbuf *b, const char *s);
void hflow_strbuf_putc(hflow_strbuf *b, char c);
void hflow_strbuf_printf(hflow_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Detaches and returns the data (caller frees with free()); the buffer is reset. */
char *hflow_strbuf_take(hflow_strbuf *b);

#endif
