/* base64.c - RFC 4648 base64 with padding. */
#include "base/base64.h"

#include <stdlib.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *hflow_base64_encode(const void *data, size_t n) {
    const unsigned char *p = data;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = ALPHABET[v >> 18 & 63];
        *o++ = ALPHABET[v >> 12 & 63];
        *o++ = i + 1 < n ? ALPHABET[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? ALPHABET[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

unsigned char *hflow_base64_decode(const char *text, size_t len, size_t *n_out) {
    if (len % 4) return NULL;
    size_t pad = len && text[len - 1] == '=' ? (len > 1 && text[len - 2] == '=' ? 2 : 1) : 0;
    size_t n = len / 4 * 3 - pad;
    unsigned char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i += 4) {
        unsigned v = 0;
        for (int j = 0; j < 4; j++) {
            int s = i + j >= len - pad ? 0 : sextet(text[i + j]);
            if (s < 0) {
                free(out);
                return NULL;
            }
            v = v << 6 | (unsigned)s;
        }
        for (int j = 0; j < 3 && k < n; j++) out[k++] = (unsigned char)(v >> (16 - 8 * j));
    }
    *n_out = n;
    return out;
}
