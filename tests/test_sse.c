/* test_sse.c - the incremental SSE parser: every way of splitting a stream
 * into chunks must give the same events as the spec says for the whole. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/error.h"
#include "backend/sse.h"

/* Events are recorded as "event=data" entries separated by '\x1e'. */
typedef struct {
    hflow_strbuf log;
    int stop_after; /* > 0: return 7 from the callback on that event */
    int n;
} recorder;

static int record(void *user, const char *event, const char *data, size_t len) {
    recorder *r = user;
    assert_int_equal(strlen(data), len); /* NUL-terminated at len */
    hflow_strbuf_printf(&r->log, "%s=", event);
    hflow_strbuf_append(&r->log, data, len);
    hflow_strbuf_putc(&r->log, '\x1e');
    r->n++;
    return r->stop_after && r->n == r->stop_after ? 7 : 0;
}

typedef struct {
    char *log;
    int finish_clean;
    int done;
    int rc;
} outcome;

/* Feeds `s` cut at the given split points (ascending offsets into s). */
static outcome run_split(const char *s, size_t n, const size_t *cuts, int n_cuts) {
    recorder r = {0};
    hflow_strbuf_init(&r.log);
    hflow_sse_parser p;
    hflow_sse_init(&p, record, &r);
    size_t prev = 0;
    outcome o = {0};
    for (int i = 0; i <= n_cuts && !o.rc; i++) {
        size_t end = i < n_cuts ? cuts[i] : n;
        o.rc = hflow_sse_feed(&p, s + prev, end - prev);
        prev = end;
    }
    o.done = p.done;
    o.finish_clean = hflow_sse_finish(&p);
    hflow_sse_free(&p);
    hflow_strbuf_putc(&r.log, '\0');
    o.log = hflow_strbuf_take(&r.log);
    return o;
}

/* Checks the whole stream, every 1- and 2-cut split, and byte-by-byte. */
static void check_all_splits(const char *s, const char *expected, int expect_clean, int expect_done) {
    size_t n = strlen(s);
    outcome whole = run_split(s, n, NULL, 0);
    assert_string_equal(whole.log, expected);
    assert_int_equal(whole.finish_clean, expect_clean);
    assert_int_equal(whole.done, expect_done);
    assert_int_equal(whole.rc, 0);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            size_t cuts[2] = {a, b};
            outcome o = run_split(s, n, cuts, 2);
            if (strcmp(o.log, expected) != 0) fail_msg("split at %zu,%zu gave '%s'", a, b, o.log);
            assert_int_equal(o.finish_clean, expect_clean);
            assert_int_equal(o.done, expect_done);
            free(o.log);
        }
    }
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    for (size_t i = 0; i < n; i++) cuts[i] = i + 1;
    outcome bytes = run_split(s, n, cuts, n ? (int)n - 1 : 0);
    assert_string_equal(bytes.log, expected);
    free(bytes.log);
    free(cuts);
    free(whole.log);
}

static void test_openai_stream_crlf_utf8(void **state) {
    (void)state;
    const char *s = ": keep-alive\r\n\r\n"
                    "data: {\"c\":\"h\xC3\xA9\"}\r\n\r\n"
                    "data: {\"c\":\"\xE6\x97\xA5\xF0\x9F\x98\x80\"}\r\n\r\n"
                    ":\r\n"
                    "data: [DONE]\r\n\r\n";
    check_all_splits(s,
                     "message={\"c\":\"h\xC3\xA9\"}\x1e"
                     "message={\"c\":\"\xE6\x97\xA5\xF0\x9F\x98\x80\"}\x1e",
                     1, 1);
}

static void test_multiline_data_and_event_names(void **state) {
    (void)state;
    const char *s = "event: error\n"
                    "data: line one\n"
                    "data:line two\n"
                    "data:  indented\n"
                    "id: 42\n"
                    "retry: 1000\n"
                    "unknown: field\n"
                    "\n"
                    "data\n"
                    "\n"
                    "event: lonely\n"
                    "\n"
                    "data: after\n\n";
    /* "data" alone is a data field with an empty value; an event with no
     * data is not dispatched and its name does not leak into the next one. */
    check_all_splits(s,
                     "error=line one\nline two\n indented\x1e"
                     "message=\x1e"
                     "message=after\x1e",
                     1, 0);
}

static void test_cr_only_and_mixed_line_ends(void **state) {
    (void)state;
    /* "\r\n" is one line end: the two data lines belong to one event. */
    check_all_splits("event: e\r\ndata: a\r\ndata: b\r\n\r\n", "e=a\nb\x1e", 1, 0);
    const char *s = "data: a\r\rdata: b\n\ndata: c\r\n\r\n:x\rdata: d\r\n\n";
    check_all_splits(s, "message=a\x1emessage=b\x1emessage=c\x1emessage=d\x1e", 1, 0);
}

static void test_truncated_event_is_discarded(void **state) {
    (void)state;
    check_all_splits("data: one\n\ndata: two\n", "message=one\x1e", 0, 0);
    check_all_splits("data: one\n\ndata: tw", "message=one\x1e", 0, 0);
    check_all_splits("data: one\n\n", "message=one\x1e", 1, 0);
}

static void test_bytes_after_done_are_ignored(void **state) {
    (void)state;
    check_all_splits("data: x\n\ndata: [DONE]\n\ndata: y\n\n", "message=x\x1e", 1, 1);
    /* "[DONE]" only counts as the whole data, not as part of it. */
    check_all_splits("data: [DONE] \n\ndata: [DONE]\ndata: more\n\n",
                     "message=[DONE] \x1emessage=[DONE]\nmore\x1e", 1, 0);
}

static void test_bom_is_skipped(void **state) {
    (void)state;
    check_all_splits("\xEF\xBB\xBF" "data: z\n\n", "message=z\x1e", 1, 0);
    /* A BOM later in the stream is data, not skipped. */
    check_all_splits("data: a\n\ndata: \xEF\xBB\xBF\n\n", "message=a\x1emessage=\xEF\xBB\xBF\x1e", 1, 0);
}

static void test_callback_stop_is_returned(void **state) {
    (void)state;
    recorder r = {0};
    hflow_strbuf_init(&r.log);
    r.stop_after = 2;
    hflow_sse_parser p;
    hflow_sse_init(&p, record, &r);
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(hflow_sse_feed(&p, s, strlen(s)), 7);
    assert_int_equal(r.n, 2);
    hflow_sse_free(&p);
    hflow_strbuf_free(&r.log);
}

static void test_overlong_line_is_rejected(void **state) {
    (void)state;
    hflow_sse_parser p;
    hflow_sse_init(&p, NULL, NULL);
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    memset(buf, 'a', chunk);
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++) rc = hflow_sse_feed(&p, buf, chunk);
    assert_int_equal(rc, HFLOW_EFORMAT);
    hflow_sse_free(&p);
    free(buf);
}

static void test_counts_comments_and_events(void **state) {
    (void)state;
    hflow_sse_parser p;
    hflow_sse_init(&p, NULL, NULL);
    const char *s = ": ping\n\n: ping\n\ndata: x\n\n";
    assert_int_equal(hflow_sse_feed(&p, s, strlen(s)), 0);
    assert_int_equal(p.n_comments, 2);
    assert_int_equal(p.n_events, 1);
    assert_int_equal(hflow_sse_finish(&p), 1);
    hflow_sse_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_stream_crlf_utf8),
        cmocka_unit_test(test_multiline_data_and_event_names),
        cmocka_unit_test(test_cr_only_and_mixed_line_ends),
        cmocka_unit_test(test_truncated_event_is_discarded),
        cmocka_unit_test(test_bytes_after_done_are_ignored),
        cmocka_unit_test(test_bom_is_skipped),
        cmocka_unit_test(test_callback_stop_is_returned),
        cmocka_unit_test(test_overlong_line_is_rejected),
        cmocka_unit_test(test_counts_comments_and_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
