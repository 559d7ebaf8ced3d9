/* sse.h - incremental Server-Sent-Events parser (WHATWG "event stream" rules).
 *
 * Bytes are fed in chunks of any size, split anywhere (inside a line, between
 * '\r' and '\n', inside a UTF-8 character); the parser works on bytes and
 * only looks at complete lines, so splits never change the result.
 *
 * Per the spec: lines end in "\r\n", "\n" or "\r"; a line starting with ':'
 * is a comment (keep-alive); "data:" lines accumulate, joined by '\n'; an
 * empty line dispatches the event (if it has data); "event:" names it; one
 * space after the colon is dropped; a line without a colon is a field with an
 * empty value; unknown fields are ignored; a leading UTF-8 BOM is skipped.
 * An event whose data is exactly "[DONE]" (the OpenAI end marker) is not
 * passed on: it sets `done` and every later byte is ignored. At end of input
 * an event missing its terminating blank line is discarded (the spec's rule),
 * so a truncated stream never yields half an event.
 *
 * The parser owns its buffers; hflow_sse_free releases them. */
#ifndef HFLOW_BACKEND_SSE_H
#define HFLOW_BACKEND_SSE_H

#include <stddef.h>

#include "base/strbuf.h"

/* One dispatched event. `event` is "message" when no event: field was given.
 * Both strings are NUL-terminated and valid only during the call. Return 0 to
 * continue, non-zero to stop: hflow_sse_feed then returns that value. */
typedef int (*hflow_sse_event_cb)(void *user, const char *event, const char *data, size_t data_len);

/* Longest line accepted; a longer one is a malformed (or hostile) stream. */
#define HFLOW_SSE_MAX_LINE (16u << 20)

typedef struct hflow_sse_parser {
    hflow_sse_event_cb cb;
    void *user;
    hflow_strbuf line;  /* the current, incomplete line */
    hflow_strbuf data;  /* data of the event being built, lines joined by '\n' */
    hflow_strbuf event; /* event type of the event being built */
    hflow_strbuf last_id;
    int has_data;       /* at least one data: line seen for this event */
    int after_cr;       /* the previous byte ended a line with '\r' */
    int bom_checked;    /* the first bytes were checked for a BOM */
    int done;           /* "[DONE]" seen */
    int n_events;       /* events dispatched (not counting [DONE]) */
    int n_comments;     /* comment lines seen (keep-alives) */
} hflow_sse_parser;

void hflow_sse_init(hflow_sse_parser *p, hflow_sse_event_cb cb, void *user);
void hflow_sse_free(hflow_sse_parser *p);
/* Feeds n bytes. Returns 0, the callback's non-zero value, HFLOW_ENOMEM, or
 * HFLOW_EFORMAT when a line exceeds HFLOW_SSE_MAX_LINE. */
int hflow_sse_feed(hflow_sse_parser *p, const char *buf, size_t n);
/* End of input: 1 when the stream ended cleanly ([DONE] seen, or no partial
 * event pending), 0 when an incomplete event or line was discarded. */
int hflow_sse_finish(hflow_sse_parser *p);

#endif
