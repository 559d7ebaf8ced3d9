/* test_http_backend.c - the OpenAI-compatible HTTP backend against a real
 * HTTP server on loopback (tests/support/fake_server) scripted to behave
 * well, slowly, wrongly or rudely. Every case must end in the right text, a
 * clear error or a successful retry; all timeouts are bounded so nothing can
 * hang. No assertion depends on how fast anything ran. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "fake_server.h"
#include "hybridflow/backend.h"
#include "hybridflow/gguf.h"
#include "hybridflow/tokenizer.h"
#include "backend/backend_internal.h"
#include "base/strbuf.h"

static const char *JSON_OK =
    "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"served-model\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello there, friend.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}";

/* ---- helpers ---- */

typedef struct fixture {
    fake_server *srv;
    hflow_backend *b;
    hflow_backend_options o;
    char endpoint[128];
} fixture;

static int fx_setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->srv = fs_start();
    assert_non_null(f->srv);
    hflow_backend_options_default(&f->o);
    /* Short but generous limits: a bug shows up as an error, never a hang. */
    f->o.connect_timeout_s = 2;
    f->o.idle_timeout_s = 5;
    f->o.total_timeout_s = 20;
    f->o.max_retries = 2;
    f->o.backoff_base_s = 0.01;
    fs_endpoint(f->srv, "test-model", f->endpoint, sizeof f->endpoint);
    *state = f;
    return 0;
}

static int fx_teardown(void **state) {
    fixture *f = *state;
    hflow_backend_free(f->b);
    fs_stop(f->srv);
    free(f);
    return 0;
}

static void fx_open(fixture *f) {
    hflow_error err;
    hflow_backend_free(f->b);
    f->b = NULL;
    int rc = hflow_backend_open(f->endpoint, &f->o, &f->b, &err);
    if (rc) fail_msg("open %s: %s", f->endpoint, err.message);
}

static const hflow_chat_message USER_MSG[] = {{"system", "Be brief."}, {"user", "Say hello."}};

static void chat_request(hflow_request *r) {
    hflow_request_init(r);
    r->messages = USER_MSG;
    r->n_messages = 2;
}

/* An SSE body: one chunk per piece, then optionally a finish chunk, a usage
 * chunk (empty choices, as OpenAI sends it) and [DONE]. */
static char *sse_body(const char *const *pieces, int n, const char *finish, int usage, int done) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(pieces[i]);
        char *js = cJSON_PrintUnformatted(s);
        hflow_strbuf_printf(&b,
                            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"served-model\","
                            "\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},\"finish_reason\":null}]}\r\n\r\n",
                            js);
        free(js);
        cJSON_Delete(s);
        if (i == 0) hflow_strbuf_puts(&b, ": keep-alive comment\r\n\r\n");
    }
    if (finish)
        hflow_strbuf_printf(&b,
                            "data: {\"id\":\"c1\",\"model\":\"served-model\",\"choices\":[{\"index\":0,"
                            "\"delta\":{},\"finish_reason\":\"%s\"}]}\r\n\r\n",
                            finish);
    if (usage)
        hflow_strbuf_puts(&b, "data: {\"id\":\"c1\",\"model\":\"served-model\",\"choices\":[],"
                              "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\r\n\r\n");
    if (done) hflow_strbuf_puts(&b, "data: [DONE]\r\n\r\n");
    return hflow_strbuf_take(&b);
}

static const char *const PIECES[] = {"Once", " upon a t", "ime, caf\xC3\xA9 ", "\xE6\x97\xA5\xE6\x9C\xAC", "!"};
static const char *PIECES_TEXT = "Once upon a time, caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC!";

typedef struct collector {
    hflow_strbuf text;
    int calls;
    int stop_after;         /* > 0: return 1 on that call */
    volatile int *cancel;   /* set after the first delta when non-NULL */
} collector;

static int collect(void *user, const char *text, size_t len) {
    collector *c = user;
    hflow_strbuf_append(&c->text, text, len);
    c->calls++;
    if (c->cancel) *c->cancel = 1;
    return c->stop_after && c->calls >= c->stop_after;
}

/* ---- cases ---- */

static void test_json_chat_fills_response_and_sends_request(void **state) {
    fixture *f = *state;
    setenv("HFLOW_TEST_API_KEY", "sk-test-123", 1);
    const char *hdrs[] = {"X-Trace: abc"};
    f->o.api_key_env = "HFLOW_TEST_API_KEY";
    f->o.headers = hdrs;
    f->o.n_headers = 1;
    fx_open(f);
    assert_string_equal(hflow_backend_model(f->b), "test-model");
    assert_string_equal(hflow_backend_name(f->b), f->endpoint);
    fs_script sc = {.body = JSON_OK};
    fs_push(f->srv, &sc);
    hflow_request r;
    chat_request(&r);
    r.max_tokens = 32;
    r.temperature = 0.7f;
    r.has_seed = 1;
    r.seed = 18446744073709551557ull;
    const char *stops[] = {"\n\n", "END"};
    r.stop = stops;
    r.n_stop = 2;
    hflow_response resp;
    hflow_error err;
    int rc = hflow_backend_complete(f->b, &r, &resp, &err);
    if (rc) fail_msg("%s", err.message);
    assert_string_equal(resp.text, "Hello there, friend.");
    assert_string_equal(resp.finish_reason, "stop");
    assert_string_equal(resp.model, "served-model");
    assert_int_equal(resp.prompt_tokens, 11);
    assert_int_equal(resp.completion_tokens, 5);
    assert_int_equal(resp.usage_estimated, 0);
    assert_int_equal(resp.http_status, 200);
    assert_int_equal(resp.retries, 0);
    assert_true(resp.latency_s > 0 && resp.ttft_s <= resp.latency_s);
    hflow_response_clear(&resp);

    assert_int_equal(fs_n_requests(f->srv), 1);
    char *path = fs_request_path(f->srv, 0), *body = fs_request_body(f->srv, 0), *h = fs_request_headers(f->srv, 0);
    assert_string_equal(path, "/v1/chat/completions");
    assert_non_null(strstr(h, "authorization: Bearer sk-test-123\n"));
    assert_non_null(strstr(h, "x-trace: abc\n"));
    assert_non_null(strstr(h, "content-type: application/json"));
    cJSON *j = cJSON_Parse(body);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "test-model");
    cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring, "Say hello.");
    assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, 32);
    assert_true(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.7);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "stop")), 2);
    assert_null(cJSON_GetObjectItem(j, "stream"));
    assert_non_null(strstr(body, "\"seed\":18446744073709551557"));
    cJSON_Delete(j);
    free(path), free(body), free(h);
    unsetenv("HFLOW_TEST_API_KEY");
}

static void test_completion_prompt_uses_completions_path(void **state) {
    fixture *f = *state;
    f->o.api_key_env = "HFLOW_TEST_UNSET_KEY";
    fx_open(f);
    fs_script sc = {.body = "{\"model\":\"m2\",\"choices\":[{\"index\":0,\"text\":\" a little story\","
                            "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}"};
    fs_push(f->srv, &sc);
    hflow_request r;
    hflow_request_init(&r);
    r.prompt = "Once upon a time";
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_string_equal(resp.text, " a little story");
    assert_string_equal(resp.finish_reason, "length");
    assert_string_equal(resp.model, "m2");
    hflow_response_clear(&resp);
    char *path = fs_request_path(f->srv, 0), *body = fs_request_body(f->srv, 0), *h = fs_request_headers(f->srv, 0);
    assert_string_equal(path, "/v1/completions");
    assert_non_null(strstr(body, "\"prompt\":\"Once upon a time\""));
    assert_null(strstr(h, "authorization:")); /* no key in the environment: no header */
    free(path), free(body), free(h);
}

static void test_stream_split_at_odd_places(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    /* 3-byte pieces cut through "\r\n", JSON and the UTF-8 characters. */
    fs_script sc = {.content_type = "text/event-stream", .body = body, .chunk = 3, .chunk_delay_ms = 1};
    fs_push(f->srv, &sc);
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    int rc = hflow_backend_complete(f->b, &r, &resp, &err);
    if (rc) fail_msg("%s", err.message);
    assert_string_equal(resp.text, PIECES_TEXT);
    assert_string_equal(col.text.data, PIECES_TEXT);
    assert_int_equal(col.calls, 5);
    assert_string_equal(resp.finish_reason, "stop");
    assert_int_equal(resp.prompt_tokens, 9);
    assert_int_equal(resp.completion_tokens, 4);
    assert_int_equal(resp.usage_estimated, 0);
    assert_true(resp.ttft_s > 0 && resp.ttft_s <= resp.latency_s);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
    char *req = fs_request_body(f->srv, 0);
    assert_non_null(strstr(req, "\"stream\":true"));
    assert_non_null(strstr(req, "\"include_usage\":true"));
    free(req);
}

/* Asked for confidence, a server that sends no logprobs (this one) leaves it
 * unknown and the call succeeds, whole and streamed; "logprobs" is sent only
 * when asked. */
static void test_confidence_unknown_when_server_omits_logprobs(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *sse = sse_body(PIECES, 5, "stop", 1, 1);
    fs_script whole = {.body = JSON_OK}, streamed = {.content_type = "text/event-stream", .body = sse},
              plain = {.body = JSON_OK};
    fs_push(f->srv, &whole);
    fs_push(f->srv, &streamed);
    fs_push(f->srv, &plain);
    free(sse);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    for (int k = 0; k < 3; k++) {
        hflow_request r;
        chat_request(&r);
        r.want_confidence = k < 2;
        if (k == 1) r.on_delta = collect, r.user = &col;
        hflow_response resp;
        hflow_error err;
        if (hflow_backend_complete(f->b, &r, &resp, &err)) fail_msg("%s", err.message);
        assert_int_equal(resp.confidence_known, 0);
        assert_int_equal(resp.logprob_tokens, 0);
        assert_true(strlen(resp.text) > 0);
        hflow_response_clear(&resp);
        char *body = fs_request_body(f->srv, k);
        cJSON *j = cJSON_Parse(body);
        assert_non_null(j);
        const cJSON *lp = cJSON_GetObjectItem(j, "logprobs");
        if (k < 2) assert_true(cJSON_IsTrue(lp));
        else assert_null(lp);
        cJSON_Delete(j);
        free(body);
    }
    hflow_strbuf_free(&col.text);
}

/* Logprobs a server sends are averaged: chat content[] whole, completions
 * token_logprobs[] streamed over chunks (a null entry is skipped). */
static void test_confidence_from_server_logprobs(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script chat = {.body = "{\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                              "\"content\":\"Hi there\"},\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.5},"
                              "{\"token\":\" there\",\"logprob\":-1.5}]},\"finish_reason\":\"stop\"}]}"};
    fs_script comp = {.content_type = "text/event-stream",
                      .body = "data: {\"choices\":[{\"index\":0,\"text\":\"a\",\"logprobs\":{\"tokens\":[\"a\"],"
                              "\"token_logprobs\":[-0.25]}}]}\n\n"
                              "data: {\"choices\":[{\"index\":0,\"text\":\"bc\",\"logprobs\":{\"tokens\":[\"b\",\"c\"],"
                              "\"token_logprobs\":[null,-2.0]},\"finish_reason\":\"stop\"}]}\n\n"
                              "data: [DONE]\n\n"};
    fs_push(f->srv, &chat);
    fs_push(f->srv, &comp);
    hflow_request r;
    chat_request(&r);
    r.want_confidence = 1;
    hflow_response resp;
    hflow_error err;
    if (hflow_backend_complete(f->b, &r, &resp, &err)) fail_msg("%s", err.message);
    assert_int_equal(resp.confidence_known, 1);
    assert_int_equal(resp.logprob_tokens, 2);
    assert_true(resp.mean_logprob == -1.0);
    hflow_response_clear(&resp);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request_init(&r);
    r.prompt = "x";
    r.want_confidence = 1;
    r.on_delta = collect;
    r.user = &col;
    if (hflow_backend_complete(f->b, &r, &resp, &err)) fail_msg("%s", err.message);
    assert_string_equal(resp.text, "abc");
    assert_int_equal(resp.confidence_known, 1);
    assert_int_equal(resp.logprob_tokens, 2);
    assert_true(resp.mean_logprob == -1.125);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
    char *body = fs_request_body(f->srv, 1);
    assert_non_null(strstr(body, "\"logprobs\":0"));
    free(body);
}

static void test_missing_usage_is_estimated(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 0, 1);
    fs_script sc = {.content_type = "text/event-stream", .body = body};
    fs_push(f->srv, &sc);
    free(body);
    fs_script js = {.body = "{\"choices\":[{\"message\":{\"content\":\"one two three\"},\"finish_reason\":\"stop\"}]}"};
    fs_push(f->srv, &js);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_int_equal(resp.usage_estimated, 1);
    assert_int_equal(resp.completion_tokens, hflow_estimate_tokens(PIECES_TEXT, strlen(PIECES_TEXT)));
    assert_int_equal(resp.prompt_tokens, hflow_estimate_tokens("Be brief.", 9) + hflow_estimate_tokens("Say hello.", 10));
    assert_string_equal(resp.model, "served-model");
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
    r.on_delta = NULL;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_string_equal(resp.text, "one two three");
    assert_int_equal(resp.usage_estimated, 1);
    assert_int_equal(resp.completion_tokens, 4); /* 3 words * 4/3 */
    assert_string_equal(resp.model, "test-model"); /* server named none: ours */
    hflow_response_clear(&resp);
}

/* Tokens of text by the vocabulary in the GGUF at path (no BOS). */
static int vocab_count(const char *path, const char *text) {
    hflow_gguf *g = NULL;
    hflow_vocab *v = NULL;
    assert_int_equal(hflow_gguf_open(path, &g, NULL), 0);
    assert_int_equal(hflow_vocab_load(g, &v, NULL), 0);
    int32_t *ids = NULL;
    int n = -1;
    assert_int_equal(hflow_tokenize(v, text, strlen(text), 0, 0, &ids, &n, NULL), 0);
    free(ids);
    hflow_vocab_free(v);
    hflow_gguf_close(g);
    return n;
}

static void test_missing_usage_counted_with_tokenizer(void **state) {
    fixture *f = *state;
    char path[1024];
    const char *model = tu_shared_path(path, sizeof path, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    f->o.tokenizer_gguf = model;
    fx_open(f);
    const char *answer = "Once upon a time, there was a little girl named Lily.";
    char body[512];
    snprintf(body, sizeof body, "{\"choices\":[{\"message\":{\"content\":\"%s\"},\"finish_reason\":\"stop\"}]}", answer);
    fs_script sc = {.body = body};
    fs_push(f->srv, &sc);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_int_equal(resp.usage_estimated, 1);
    int n = vocab_count(model, answer);
    assert_true(n > 0);
    assert_int_equal(resp.completion_tokens, n);
    assert_int_equal(resp.prompt_tokens, vocab_count(model, "Be brief.") + vocab_count(model, "Say hello."));
    hflow_response_clear(&resp);

    hflow_backend *b = NULL;
    f->o.tokenizer_gguf = "/nonexistent/tokenizer.gguf";
    assert_int_not_equal(hflow_backend_open(f->endpoint, &f->o, &b, &err), 0);
    assert_null(b);
    assert_non_null(strstr(err.message, "tokenizer_gguf"));
}

static void test_estimate_tokens_rule(void **state) {
    (void)state;
    assert_int_equal(hflow_estimate_tokens("", 0), 0);
    assert_int_equal(hflow_estimate_tokens("  \n\t ", 5), 0);
    assert_int_equal(hflow_estimate_tokens("word", 4), 2); /* ceil(4/3) */
    assert_int_equal(hflow_estimate_tokens(" one  two\nthree\t", 16), 4);
    assert_int_equal(hflow_estimate_tokens("a b c d", 7), 6);
    assert_int_equal(hflow_estimate_tokens("a b c d e f", 11), 8);
}

static void test_delay_before_first_byte_within_idle(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script sc = {.body = JSON_OK, .first_byte_delay_ms = 300};
    fs_push(f->srv, &sc);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_string_equal(resp.text, "Hello there, friend.");
    hflow_response_clear(&resp);
}

static void test_idle_timeout_before_first_byte(void **state) {
    fixture *f = *state;
    f->o.idle_timeout_s = 0.3;
    fx_open(f);
    fs_script sc = {.body = JSON_OK, .first_byte_delay_ms = 10000};
    fs_push(f->srv, &sc);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ETIMEOUT);
    assert_non_null(strstr(err.message, "idle timeout"));
    assert_int_equal(resp.retries, 0);
    assert_string_equal(resp.finish_reason, "error");
    hflow_response_clear(&resp);
}

static void test_idle_timeout_mid_stream_keeps_partial_text(void **state) {
    fixture *f = *state;
    f->o.idle_timeout_s = 0.3;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    size_t first = strstr(body, "\r\n\r\n") - body + 4;
    fs_script sc = {.content_type = "text/event-stream", .body = body, .stall_after = first, .stall_ms = 10000};
    fs_push(f->srv, &sc);
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ETIMEOUT);
    assert_string_equal(resp.text, "Once");
    assert_string_equal(col.text.data, "Once");
    assert_int_equal(fs_n_requests(f->srv), 1); /* text was delivered: never retried */
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_total_deadline(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script sc = {.body = JSON_OK, .first_byte_delay_ms = 10000};
    fs_push(f->srv, &sc);
    hflow_request r;
    chat_request(&r);
    r.timeout_s = 0.4;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ETIMEOUT);
    assert_non_null(strstr(err.message, "deadline"));
    hflow_response_clear(&resp);
}

static void test_429_retry_after_then_success(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script busy = {.status = 429, .retry_after = "0",
                      .body = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit_error\"}}"};
    fs_push(f->srv, &busy);
    fs_script ok = {.body = JSON_OK};
    fs_push(f->srv, &ok);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    int rc = hflow_backend_complete(f->b, &r, &resp, &err);
    if (rc) fail_msg("%s", err.message);
    assert_string_equal(resp.text, "Hello there, friend.");
    assert_int_equal(resp.retries, 1);
    assert_int_equal(fs_n_requests(f->srv), 2);
    hflow_response_clear(&resp);
}

static void test_retry_after_beyond_deadline_gives_up(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script busy = {.status = 429, .retry_after = "120",
                      .body = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit_error\"}}"};
    fs_push(f->srv, &busy);
    hflow_request r;
    chat_request(&r);
    r.timeout_s = 10;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "HTTP 429"));
    assert_non_null(strstr(err.message, "Rate limit reached (rate_limit_error)"));
    assert_non_null(strstr(err.message, "deadline"));
    assert_int_equal(resp.http_status, 429);
    assert_int_equal(resp.retries, 0);
    assert_int_equal(fs_n_requests(f->srv), 1);
    hflow_response_clear(&resp);
}

static void test_500_then_success(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script bad = {.status = 500, .body = "{\"error\":{\"message\":\"overloaded\"}}"};
    fs_push(f->srv, &bad);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    fs_script ok = {.content_type = "text/event-stream", .body = body};
    fs_push(f->srv, &ok);
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_string_equal(resp.text, PIECES_TEXT);
    assert_string_equal(col.text.data, PIECES_TEXT);
    assert_int_equal(resp.retries, 1);
    assert_int_equal(resp.http_status, 200);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_persistent_5xx_exhausts_retries(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script bad = {.status = 503, .body = "{\"error\":{\"message\":\"model is loading\",\"type\":\"unavailable\"}}"};
    fs_push_n(f->srv, &bad, 3);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "HTTP 503"));
    assert_non_null(strstr(err.message, "model is loading (unavailable)"));
    assert_non_null(strstr(err.message, "after 2 retries"));
    assert_int_equal(resp.retries, 2);
    assert_int_equal(fs_n_requests(f->srv), 3);
    hflow_response_clear(&resp);
}

static void test_400_error_object_not_retried(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script bad = {.status = 400,
                     .body = "{\"error\":{\"message\":\"The model `nope` does not exist\","
                             "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}"};
    fs_push(f->srv, &bad);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "HTTP 400"));
    assert_non_null(strstr(err.message, "The model `nope` does not exist (invalid_request_error)"));
    assert_int_equal(resp.retries, 0);
    assert_int_equal(resp.http_status, 400);
    assert_int_equal(fs_n_requests(f->srv), 1);
    hflow_response_clear(&resp);
}

static void test_close_mid_stream_after_text_is_error(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    size_t cut = strstr(body, "upon") - body + 10; /* inside the second chunk's JSON */
    fs_script sc = {.content_type = "text/event-stream", .body = body, .close_mid = 1, .close_after = cut};
    fs_push(f->srv, &sc);
    fs_push(f->srv, &sc); /* would be used by a (wrong) retry */
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    int rc = hflow_backend_complete(f->b, &r, &resp, &err);
    assert_int_equal(rc, HFLOW_ENET);
    assert_non_null(strstr(err.message, "broke"));
    assert_string_equal(resp.text, "Once");
    assert_string_equal(col.text.data, "Once");
    assert_int_equal(resp.retries, 0);
    assert_int_equal(fs_n_requests(f->srv), 1);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_close_before_text_is_retried(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    fs_script broken = {.content_type = "text/event-stream", .body = body, .close_mid = 1, .close_after = 20};
    fs_push(f->srv, &broken);
    fs_script ok = {.content_type = "text/event-stream", .body = body};
    fs_push(f->srv, &ok);
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    int rc = hflow_backend_complete(f->b, &r, &resp, &err);
    if (rc) fail_msg("%s", err.message);
    assert_string_equal(resp.text, PIECES_TEXT);
    assert_string_equal(col.text.data, PIECES_TEXT); /* nothing delivered twice */
    assert_int_equal(resp.retries, 1);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_truncated_stream_without_done(void **state) {
    fixture *f = *state;
    fx_open(f);
    /* A finish reason but no [DONE]: the answer is complete. */
    char *body = sse_body(PIECES, 5, "length", 1, 0);
    fs_script sc = {.content_type = "text/event-stream", .body = body, .chunk = 17};
    fs_push(f->srv, &sc);
    free(body);
    /* Neither finish reason nor [DONE], ending inside an event: incomplete. */
    hflow_strbuf cut_body;
    hflow_strbuf_init(&cut_body);
    body = sse_body(PIECES, 3, NULL, 0, 0);
    hflow_strbuf_puts(&cut_body, body);
    free(body);
    hflow_strbuf_puts(&cut_body, "data: {\"choices\":[{\"delta\":{\"content\":\"lost");
    body = hflow_strbuf_take(&cut_body);
    fs_script cut = {.content_type = "text/event-stream", .body = body};
    fs_push(f->srv, &cut);
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_string_equal(resp.text, PIECES_TEXT);
    assert_string_equal(resp.finish_reason, "length");
    hflow_response_clear(&resp);
    hflow_strbuf_reset(&col.text);
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ENET);
    assert_non_null(strstr(err.message, "ended early"));
    assert_string_equal(resp.text, "Once upon a time, caf\xC3\xA9 ");
    assert_int_equal(fs_n_requests(f->srv), 2);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_error_event_in_stream(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script sc = {.content_type = "text/event-stream",
                    .body = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                            "data: {\"error\":{\"message\":\"context overflow\",\"type\":\"server_error\"}}\n\n"};
    fs_push(f->srv, &sc);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "context overflow (server_error)"));
    assert_string_equal(resp.text, "Hi");
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_server_ignoring_stream_flag(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script sc = {.body = JSON_OK}; /* JSON although we asked for a stream */
    fs_push(f->srv, &sc);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
    assert_string_equal(resp.text, "Hello there, friend.");
    assert_int_equal(resp.completion_tokens, 5);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

static void test_connection_refused(void **state) {
    fixture *f = *state;
    int port = fs_closed_port();
    assert_true(port > 0);
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d/v1#m", port);
    fx_open(f);
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ENET);
    assert_non_null(strstr(err.message, "after 2 retries"));
    assert_int_equal(resp.retries, 2);
    assert_int_equal(resp.http_status, 0);
    hflow_response_clear(&resp);
}

static void test_cancel_flag_mid_stream(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    fs_script sc = {.content_type = "text/event-stream", .body = body, .chunk = 40, .chunk_delay_ms = 300};
    fs_push(f->srv, &sc);
    free(body);
    volatile int cancel = 0;
    collector col = {0};
    hflow_strbuf_init(&col.text);
    col.cancel = &cancel; /* the flag is raised as soon as text arrives */
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    r.cancel = &cancel;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ECANCELLED);
    assert_string_equal(resp.finish_reason, "cancelled");
    assert_true(strlen(resp.text) < strlen(PIECES_TEXT));
    assert_int_equal(fs_n_requests(f->srv), 1);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

typedef struct canceller {
    volatile int *flag;
    fake_server *srv;
} canceller;

static void *cancel_when_requested(void *p) {
    canceller *c = p;
    while (fs_n_requests(c->srv) == 0) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    *c->flag = 1;
    return NULL;
}

static void test_cancel_from_other_thread_while_waiting(void **state) {
    fixture *f = *state;
    fx_open(f);
    fs_script sc = {.body = JSON_OK, .first_byte_delay_ms = 10000};
    fs_push(f->srv, &sc);
    volatile int cancel = 0;
    canceller c = {&cancel, f->srv};
    pthread_t th;
    pthread_create(&th, NULL, cancel_when_requested, &c);
    hflow_request r;
    chat_request(&r);
    r.cancel = &cancel;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ECANCELLED);
    assert_string_equal(resp.finish_reason, "cancelled");
    pthread_join(th, NULL);
    hflow_response_clear(&resp);
}

static void test_delta_callback_stop(void **state) {
    fixture *f = *state;
    fx_open(f);
    char *body = sse_body(PIECES, 5, "stop", 1, 1);
    fs_script sc = {.content_type = "text/event-stream", .body = body};
    fs_push(f->srv, &sc);
    free(body);
    collector col = {0};
    hflow_strbuf_init(&col.text);
    col.stop_after = 2;
    hflow_request r;
    chat_request(&r);
    r.on_delta = collect;
    r.user = &col;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_ECANCELLED);
    assert_int_equal(col.calls, 2);
    assert_string_equal(resp.text, "Once upon a t");
    assert_string_equal(resp.finish_reason, "cancelled");
    hflow_response_clear(&resp);
    hflow_strbuf_free(&col.text);
}

typedef struct worker {
    hflow_backend *b;
    int rc;
    char text[64];
} worker;

static void *run_worker(void *p) {
    worker *w = p;
    hflow_request r;
    chat_request(&r);
    hflow_response resp;
    hflow_error err;
    w->rc = hflow_backend_complete(w->b, &r, &resp, &err);
    snprintf(w->text, sizeof w->text, "%s", resp.text ? resp.text : "");
    hflow_response_clear(&resp);
    return NULL;
}

static void test_many_threads_share_a_backend(void **state) {
    fixture *f = *state;
    fx_open(f);
    enum { N = 8 };
    fs_script sc = {.body = JSON_OK, .chunk = 16, .chunk_delay_ms = 2};
    fs_push_n(f->srv, &sc, N);
    worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i].b = f->b;
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, 0);
        assert_string_equal(w[i].text, "Hello there, friend.");
    }
    assert_int_equal(fs_n_requests(f->srv), N);
}

static void test_open_rejects_bad_endpoints(void **state) {
    (void)state;
    hflow_backend *b = NULL;
    hflow_error err;
    assert_int_equal(hflow_backend_open("http://", NULL, &b, &err), HFLOW_EINVAL);
    assert_null(b);
    assert_int_equal(hflow_backend_open("ftp://x/y#m", NULL, &b, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_backend_open("", NULL, &b, &err), HFLOW_EINVAL);
    const char *bad_hdr[] = {"NoColonHere"};
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.headers = bad_hdr;
    o.n_headers = 1;
    assert_int_equal(hflow_backend_open("http://127.0.0.1:9/v1#m", &o, &b, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "header"));
    assert_int_equal(hflow_backend_open("https://api.example.com/v1/#gpt-x", NULL, &b, &err), 0);
    assert_string_equal(hflow_backend_model(b), "gpt-x");
    hflow_backend_free(b);
}

static void test_request_validation(void **state) {
    fixture *f = *state;
    fx_open(f);
    hflow_request r;
    hflow_request_init(&r);
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EINVAL); /* neither */
    chat_request(&r);
    r.prompt = "x";
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EINVAL); /* both */
    chat_request(&r);
    r.response_format = "{not json";
    assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "response_format"));
    hflow_response_clear(&resp);
    assert_int_equal(fs_n_requests(f->srv), 0);
}

/* Our grammar names mean something else to other servers (llama.cpp: GBNF
 * text), so they go out only when the backend is told the server is ours. */
static void test_grammar_sent_only_to_our_server(void **state) {
    fixture *f = *state;
    fs_script sc = {.body = "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}"};
    fs_push_n(f->srv, &sc, 2);
    hflow_request r;
    hflow_error err;
    hflow_response resp;
    for (int ours = 0; ours <= 1; ours++) {
        f->o.hybridflow_server = ours;
        fx_open(f);
        assert_int_equal(hflow_backend_has_grammar(f->b), ours);
        chat_request(&r);
        r.grammar = "plan:3";
        assert_int_equal(hflow_backend_complete(f->b, &r, &resp, &err), 0);
        assert_string_equal(resp.text, "ok");
        hflow_response_clear(&resp);
        char *body = fs_request_body(f->srv, ours);
        cJSON *j = cJSON_Parse(body);
        assert_non_null(j);
        cJSON *g = cJSON_GetObjectItem(j, "grammar");
        if (ours) assert_string_equal(g->valuestring, "plan:3");
        else assert_null(g);
        cJSON_Delete(j);
        free(body);
    }
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_json_chat_fills_response_and_sends_request),
        T(test_completion_prompt_uses_completions_path),
        T(test_stream_split_at_odd_places),
        T(test_confidence_unknown_when_server_omits_logprobs),
        T(test_confidence_from_server_logprobs),
        T(test_missing_usage_is_estimated),
        T(test_missing_usage_counted_with_tokenizer),
        cmocka_unit_test(test_estimate_tokens_rule),
        T(test_delay_before_first_byte_within_idle),
        T(test_idle_timeout_before_first_byte),
        T(test_idle_timeout_mid_stream_keeps_partial_text),
        T(test_total_deadline),
        T(test_429_retry_after_then_success),
        T(test_retry_after_beyond_deadline_gives_up),
        T(test_500_then_success),
        T(test_persistent_5xx_exhausts_retries),
        T(test_400_error_object_not_retried),
        T(test_close_mid_stream_after_text_is_error),
        T(test_close_before_text_is_retried),
        T(test_truncated_stream_without_done),
        T(test_error_event_in_stream),
        T(test_server_ignoring_stream_flag),
        T(test_connection_refused),
        T(test_cancel_flag_mid_stream),
        T(test_cancel_from_other_thread_while_waiting),
        T(test_delta_callback_stop),
        T(test_many_threads_share_a_backend),
        cmocka_unit_test(test_open_rejects_bad_endpoints),
        T(test_request_validation),
        T(test_grammar_sent_only_to_our_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
