/* sse.c - incremental Server-Sent-Events parser; see sse.h for the rules.
 * Bytes are scanned for line ends; only complete lines are interpreted, so
 * the parser's output cannot depend on how the input was chunked. */
#include "backend/sse.h"

#include <string.h>

#include "hybridflow/error.h"

void hflow_sse_init(hflow_sse_parser *p, hflow_sse_event_cb cb, void *user) {
    memset(p, 0, sizeof *p);
    p->cb = cb;
    p->user = user;
    hflow_strbuf_init(&p->line);
    hflow_strbuf_init(&p->data);
    hflow_strbuf_init(&p->event);
    hflow_strbuf_init(&p->last_id);
}

void hflow_sse_free(hflow_sse_parser *p) {
    hflow_strbuf_free(&p->line);
    hflow_strbuf_free(&p->data);
    hflow_strbuf_free(&p->event);
    hflow_strbuf_free(&p->last_id);
}

static void reset_event(hflow_sse_parser *p) {
    hflow_strbuf_reset(&p->data);
    hflow_strbuf_reset(&p->event);
    p->has_data = 0;
}

/* A blank line: hand the event over, or recognise the [DONE] marker. */
static int dispatch(hflow_sse_parser *p) {
    if (!p->has_data) {
        reset_event(p);
        return 0;
    }
    if (p->data.oom || p->event.oom) return HFLOW_ENOMEM;
    const char *data = p->data.data ? p->data.data : "";
    size_t len = p->data.len;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        p->done = 1;
        reset_event(p);
        return 0;
    }
    const char *ev = p->event.len ? p->event.data : "message";
    p->n_events++;
    int rc = p->cb ? p->cb(p->user, ev, data, len) : 0;
    reset_event(p);
    return rc;
}

/* One complete line (without its terminator). */
static int process_line(hflow_sse_parser *p, const char *s, size_t n) {
    if (!p->bom_checked) {
        p->bom_checked = 1;
        if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            n -= 3;
        }
    }
    if (n == 0) return dispatch(p);
    if (s[0] == ':') {
        p->n_comments++;
        return 0;
    }
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *val = colon ? colon + 1 : s + n;
    size_t val_len = (size_t)(s + n - val);
    if (val_len && val[0] == ' ') {
        val++;
        val_len--;
    }
    if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data) hflow_strbuf_putc(&p->data, '\n');
        hflow_strbuf_append(&p->data, val, val_len);
        p->has_data = 1;
        return p->data.oom ? HFLOW_ENOMEM : 0;
    }
    if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        hflow_strbuf_reset(&p->event);
        hflow_strbuf_append(&p->event, val, val_len);
        return p->event.oom ? HFLOW_ENOMEM : 0;
    }
    if (name_len == 2 && memcmp(s, "id", 2) == 0 && !memchr(val, '\0', val_len)) {
        hflow_strbuf_reset(&p->last_id);
        hflow_strbuf_append(&p->last_id, val, val_len);
        return 0;
    }
    return 0; /* "retry" and unknown fields: nothing for a client to do */
}

/* Completes the buffered partial line with buf[0..n) and processes it. */
static int finish_line(hflow_sse_parser *p, const char *buf, size_t n) {
    if (p->line.len == 0) return process_line(p, buf, n);
    if (p->line.len + n > HFLOW_SSE_MAX_LINE) return HFLOW_EFORMAT;
    hflow_strbuf_append(&p->line, buf, n);
    if (p->line.oom) return HFLOW_ENOMEM;
    int rc = process_line(p, p->line.data, p->line.len);
    hflow_strbuf_reset(&p->line);
    return rc;
}

int hflow_sse_feed(hflow_sse_parser *p, const char *buf, size_t n) {
    size_t i = 0;
    while (i < n && !p->done) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (buf[i] == '\n') { /* second half of a "\r\n" split across calls */
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && buf[j] != '\n' && buf[j] != '\r') j++;
        if (j == n) { /* no line end in this chunk: keep the piece */
            if (p->line.len + (n - i) > HFLOW_SSE_MAX_LINE) return HFLOW_EFORMAT;
            hflow_strbuf_append(&p->line, buf + i, n - i);
            return p->line.oom ? HFLOW_ENOMEM : 0;
        }
        int rc = finish_line(p, buf + i, j - i);
        if (rc) return rc;
        if (buf[j] == '\r') p->after_cr = 1;
        i = j + 1;
    }
    return 0;
}

int hflow_sse_finish(hflow_sse_parser *p) {
    if (p->done) return 1;
    int clean = p->line.len == 0 && !p->has_data;
    hflow_strbuf_reset(&p->line);
    reset_event(p);
    return clean;
}
