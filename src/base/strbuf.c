/* strbuf.c - geometric growth, latched OOM. */
#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hflow_strbuf_init(hflow_strbuf *b) { memset(b, 0, sizeof *b); }

void hflow_strbuf_free(hflow_strbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void hflow_strbuf_reset(hflow_strbuf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

int hflow_strbuf_reserve(hflow_strbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra > (size_t)-1 / 2 - b->len) { b->oom = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) { b->oom = 1; return -1; }
    p[b->len] = '\0'; /* a fresh buffer is a valid empty string too */
    b->data = p;
    b->cap = cap;
    return 0;
}

void hflow_strbuf_append(hflow_strbuf *b, const void *data, size_t n) {
    if (hflow_strbuf_reserve(b, n) != 0) return;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hflow_strbuf_puts(hflow_strbuf *b, const char *s) { hflow_strbuf_append(b, s, strlen(s)); }

void hflow_strbuf_putc(hflow_strbuf *b, char c) { hflow_strbuf_append(b, &c, 1); }

void hflow_strbuf_printf(hflow_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || hflow_strbuf_reserve(b, (size_t)n) != 0) { va_end(ap2); return; }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

char *hflow_strbuf_take(hflow_strbuf *b) {
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    memset(b, 0, sizeof *b);
    return p;
}
