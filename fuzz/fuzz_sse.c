/* fuzz_sse.c - libFuzzer target for the Server-Sent-Events parser.
 * Input: byte 0 seeds the chunk splits, the rest is the stream. The stream is
 * parsed whole, byte by byte, and in random chunks: the events (type and
 * data), the [DONE] flag, the feed result and hflow_sse_finish's verdict must
 * be the same every time (the parser's contract: splits never change the result). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *user, const char *event, const char *d, size_t n) {
    hflow_strbuf *log = user;
    if (!event || !d || d[n] != '\0')
        __builtin_trap();
    hflow_strbuf_puts(log, event);
    hflow_strbuf_putc(log, '\x01');
    hflow_strbuf_append(log, d, n);
    hflow_strbuf_putc(log, '\x02');
    return 0;
}

/* step 0: whole; step 1: one byte at a time; else pseudo-random 1..31 bytes. */
static char *run(const char *s, size_t len, unsigned step, size_t *out_len) {
    hflow_strbuf log;
    hflow_strbuf_init(&log);
    hflow_sse_parser p;
    hflow_sse_init(&p, on_event, &log);
    int rc = 0;
    uint32_t x = step;
    for (size_t pos = 0; pos < len && rc == 0;) {
        size_t n = len - pos;
        if (step == 1) {
            n = 1;
        } else if (step > 1) {
            x = x * 1664525u + 1013904223u;
            size_t c = 1 + (x >> 24) % 31;
            if (c < n)
                n = c;
        }
        rc = hflow_sse_feed(&p, s + pos, n);
        pos += n;
    }
    int clean = hflow_sse_finish(&p);
    hflow_strbuf_printf(&log, "|rc=%d done=%d clean=%d n=%d", rc, p.done, clean, p.n_events);
    hflow_sse_free(&p);
    if (log.oom)
        __builtin_trap();
    *out_len = log.len;
    return hflow_strbuf_take(&log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1, l0, l1, l2;
    char *a = run(s, len, 0, &l0);
    char *b = run(s, len, 1, &l1);
    char *c = run(s, len, 2u + data[0], &l2);
    if (l0 != l1 || l0 != l2 || memcmp(a, b, l0) != 0 || memcmp(a, c, l0) != 0)
        __builtin_trap();
    free(a);
    free(b);
    free(c);
    return 0;
}
