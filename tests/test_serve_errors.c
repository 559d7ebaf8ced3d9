/* test_serve_errors.c - the malformed-request suite against the real
 * `hybridflow serve` binary: every bad request gets its documented status and
 * OpenAI error object, and the server keeps serving (health check after each).
 * Also: queue full -> 503, client disconnect mid-stream frees the slot,
 * SIGTERM drains an in-flight stream and exits 0. Uses a tiny random model
 * generated here, so it needs nothing from ../shared. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "http_client.h"
#include "hybridflow/modelgen.h"
#include "server_proc.h"
#include "testutil.h"

#define KEY_HEADER "Authorization: Bearer test-key"
#define MAX_BODY 65536

static char model_path[512];

static int start_server(tu_server *s) {
    const char *args[] = {"--model", NULL, "--parallel", "1", "--max-queue", "0", "--ctx", "4096", "--threads", "1",
                          "--api-key", "test-key", "--max-body", "65536", NULL};
    char spec[600];
    snprintf(spec, sizeof spec, "tiny=%s", model_path);
    args[1] = spec;
    return tu_server_start(s, args);
}

static int setup(void **state) {
    snprintf(model_path, sizeof model_path, "%s/serve-tiny.gguf", tu_tmpdir());
    hflow_gen_params p;
    hflow_error err;
    hflow_gen_params_default(&p);
    if (hflow_gen_params_preset(&p, "tiny", &err) || hflow_gen_model(&p, model_path, &err)) {
        fprintf(stderr, "cannot generate the test model: %s\n", err.message);
        return -1;
    }
    static tu_server s;
    if (start_server(&s)) return -1;
    *state = &s;
    return 0;
}

static int teardown(void **state) {
    tu_server *s = *state;
    int code = tu_server_stop(s);
    unlink(model_path);
    return code == 0 ? 0 : -1; /* SIGTERM must end in a clean exit 0 */
}

static tu_http_reply call(tu_server *s, const char *method, const char *path, const char *body, const char *hdr) {
    char u[128];
    tu_http_reply r;
    tu_http(method, tu_server_url(s, path, u, sizeof u), body, body ? strlen(body) : 0, hdr, 0, &r);
    return r;
}

static void expect_alive(tu_server *s) {
    tu_http_reply r = call(s, "GET", "/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    tu_http_reply_free(&r);
}

/* The reply is an OpenAI error object with this status (and code / param when given). */
static void expect_error(tu_server *s, tu_http_reply *r, long status, const char *code, const char *param) {
    if (r->status != status) fail_msg("expected %ld, got %ld: %s", status, r->status, r->body);
    cJSON *j = cJSON_Parse(r->body);
    assert_non_null(j);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    assert_true(cJSON_IsObject(e));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "type")));
    assert_non_null(cJSON_GetObjectItem(e, "param"));
    assert_non_null(cJSON_GetObjectItem(e, "code"));
    if (code) assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "code")), code);
    if (param) assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "param")), param);
    cJSON_Delete(j);
    tu_http_reply_free(r);
    expect_alive(s);
}

static void post_expect(tu_server *s, const char *path, const char *body, long status, const char *code,
                        const char *param) {
    tu_http_reply r = call(s, "POST", path, body, KEY_HEADER);
    expect_error(s, &r, status, code, param);
}

#define CHAT "/v1/chat/completions"
#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void test_bad_json_and_types(void **state) {
    tu_server *s = *state;
    post_expect(s, CHAT, "{\"model\":\"tiny\",", 400, NULL, NULL);
    post_expect(s, CHAT, "not json at all", 400, NULL, NULL);
    post_expect(s, CHAT, "", 400, NULL, NULL);
    post_expect(s, CHAT, "{\"model\":\"tiny\",\"messages\":\"hi\"}", 400, NULL, "messages");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"max_tokens\":\"5\"}", 400, NULL, "max_tokens");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"stream\":1}", 400, NULL, "stream");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"top_p\":0}", 400, NULL, "top_p");
    post_expect(s, "/v1/completions", "{\"model\":\"tiny\",\"prompt\":true}", 400, NULL, "prompt");
    post_expect(s, "/tokenize", "{\"content\":5}", 400, NULL, "content");
}

static void test_unknown_fields_and_values(void **state) {
    tu_server *s = *state;
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"temprature\":0.5}", 400, NULL, "temprature");
    post_expect(s, CHAT, "{\"model\":\"tiny\",\"messages\":[]}", 400, NULL, "messages");
    post_expect(s, CHAT, "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"x\":1}]}", 400, NULL,
                "messages[0]");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"max_tokens\":-3}", 400, NULL, "max_tokens");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"n\":17}", 400, NULL, "n");
    post_expect(s, "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"a\",\"max_tokens\":-1}", 400, NULL,
                "max_tokens");
}

/* Fields clients send by default are accepted and change nothing; function
 * calling is refused by name, not as an unknown field. */
static void test_client_default_fields(void **state) {
    tu_server *s = *state;
    tu_http_reply r = call(s, "POST", CHAT,
                           "{\"model\":\"tiny\"," MSGS ",\"max_tokens\":2,\"store\":false,\"metadata\":{\"k\":\"v\"},"
                           "\"service_tier\":\"auto\",\"tools\":[],\"tool_choice\":\"none\",\"parallel_tool_calls\":true}",
                           KEY_HEADER);
    if (r.status != 200) fail_msg("expected 200, got %ld: %s", r.status, r.body);
    tu_http_reply_free(&r);
    r = call(s, "POST", CHAT,
             "{\"model\":\"tiny\"," MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
             KEY_HEADER);
    assert_non_null(strstr(r.body, "(function calling) is not supported"));
    expect_error(s, &r, 400, NULL, "tools");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"tool_choice\":\"required\"}", 400, NULL, "tool_choice");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"store\":\"yes\"}", 400, NULL, "store");
    post_expect(s, CHAT, "{\"model\":\"tiny\"," MSGS ",\"metadata\":{\"k\":1}}", 400, NULL, "metadata");
    post_expect(s, "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"a\",\"tools\":[]}", 400, NULL, "tools");
}

static void test_invalid_token_ids(void **state) {
    tu_server *s = *state;
    post_expect(s, "/v1/completions", "{\"model\":\"tiny\",\"prompt\":[1,999999]}", 400, "invalid_token_id", "prompt");
    post_expect(s, "/v1/completions", "{\"model\":\"tiny\",\"prompt\":[1,-5]}", 400, NULL, "prompt");
    post_expect(s, "/detokenize", "{\"tokens\":[3,100000]}", 400, "invalid_token_id", "tokens");
    /* 5000 tokens do not fit a 4096-token context. */
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_puts(&b, "{\"model\":\"tiny\",\"prompt\":[1");
    for (int i = 0; i < 5000; i++) hflow_strbuf_puts(&b, ",70");
    hflow_strbuf_puts(&b, "]}");
    post_expect(s, "/v1/completions", b.data, 400, "context_length_exceeded", "prompt");
    hflow_strbuf_free(&b);
}

static void test_huge_body(void **state) {
    tu_server *s = *state;
    size_t n = 4u << 20;
    char *big = malloc(n + 64);
    strcpy(big, "{\"model\":\"tiny\",\"prompt\":\"");
    size_t off = strlen(big);
    memset(big + off, 'a', n - off - 2);
    strcpy(big + n - 2, "\"}");
    char u[128];
    tu_http_reply r;
    tu_http("POST", tu_server_url(s, "/v1/completions", u, sizeof u), big, strlen(big), KEY_HEADER, 0, &r);
    expect_error(s, &r, 413, "request_too_large", NULL);
    big[MAX_BODY + 10] = '\0'; /* just over the cap, sent chunked (no Content-Length) */
    tu_http("POST", u, big, strlen(big), KEY_HEADER, 1, &r);
    expect_error(s, &r, 413, "request_too_large", NULL);
    free(big);
}

static void test_auth_and_routes(void **state) {
    tu_server *s = *state;
    tu_http_reply r = call(s, "GET", "/v1/models", NULL, NULL);
    expect_error(s, &r, 401, "invalid_api_key", NULL);
    r = call(s, "GET", "/v1/models", NULL, "Authorization: Bearer wrong-key");
    expect_error(s, &r, 401, "invalid_api_key", NULL);
    r = call(s, "POST", CHAT, "{\"model\":\"tiny\"," MSGS "}", "Authorization: Bearer test-ke");
    expect_error(s, &r, 401, "invalid_api_key", NULL);
    r = call(s, "GET", "/v1/models", NULL, KEY_HEADER);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"tiny\""));
    tu_http_reply_free(&r);
    post_expect(s, CHAT, "{\"model\":\"gpt-9\"," MSGS "}", 404, "model_not_found", "model");
    r = call(s, "GET", "/v2/nothing", NULL, KEY_HEADER);
    expect_error(s, &r, 404, "not_found", NULL);
    r = call(s, "GET", CHAT, NULL, KEY_HEADER);
    expect_error(s, &r, 405, "method_not_allowed", NULL);
    r = call(s, "DELETE", "/health", NULL, NULL);
    expect_error(s, &r, 405, "method_not_allowed", NULL);
}

static void test_truncated_http(void **state) {
    tu_server *s = *state;
    const char *cut = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le";
    free(tu_tcp_exchange(s->port, cut, strlen(cut), 0.2));
    const char *partial = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key\r\n"
                          "Content-Length: 500\r\n\r\n{\"model\":\"tiny\",";
    free(tu_tcp_exchange(s->port, partial, strlen(partial), 0.2));
    char *reply = tu_tcp_exchange(s->port, "GARBAGE\r\n\r\n", 11, 5);
    assert_non_null(reply);
    assert_null(strstr(reply, " 200 ")); /* MHD drops a garbage request line */
    free(reply);
    expect_alive(s);
}

static int metric(tu_server *s, const char *name) {
    tu_http_reply r = call(s, "GET", "/metrics", NULL, KEY_HEADER);
    assert_int_equal(r.status, 200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(r.body, key);
    int v = p ? atoi(p + strlen(key)) : -1;
    tu_http_reply_free(&r);
    return v;
}

/* Polls until no slot is busy; bounded so a leak fails instead of hanging. */
static void expect_slots_idle(tu_server *s) {
    for (int i = 0; i < 3000 && metric(s, "hflow_slots_busy") != 0; i++) hflow_sleep_ms(10);
    assert_int_equal(metric(s, "hflow_slots_busy"), 0);
}

/* Opens a streaming completion that runs until the context is full and
 * returns its socket once the first event has arrived. The client then reads
 * no more: 4000 tokens of events (~1 MB) exceed the small receive buffer set
 * here plus the server's 64 KiB stream cap, so backpressure keeps the slot
 * busy until the client disconnects - no timing involved. */
static int open_long_stream(tu_server *s) {
    const char *body = "{\"model\":\"tiny\",\"prompt\":\"a\",\"stream\":true,\"temperature\":0,\"ignore_eos\":true}";
    char req[512];
    snprintf(req, sizeof req,
             "POST /v1/completions HTTP/1.1\r\nHost: x\r\n" KEY_HEADER "\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    int fd = tu_tcp_connect_rcvbuf(s->port, 4096);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "200"));
    return fd;
}

static void test_disconnect_frees_slot_and_queue_full(void **state) {
    tu_server *s = *state;
    expect_slots_idle(s);
    int tokens_before = metric(s, "hflow_completion_tokens_total");
    int fd = open_long_stream(s);
    /* The only slot is busy and --max-queue 0: the next generation gets 503. */
    assert_int_equal(metric(s, "hflow_slots_busy"), 1);
    tu_http_reply busy = call(s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"b\",\"max_tokens\":2}",
                              KEY_HEADER);
    assert_non_null(strstr(busy.headers, "Retry-After: 1"));
    expect_error(s, &busy, 503, "queue_full", NULL);
    close(fd); /* client gone mid-stream */
    expect_slots_idle(s);
    /* Freed by the cancel, not by running to the end of the 4096-token context. */
    assert_true(metric(s, "hflow_completion_tokens_total") - tokens_before < 4000);
    tu_http_reply r = call(s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"b\",\"max_tokens\":2}",
                           KEY_HEADER);
    assert_int_equal(r.status, 200);
    tu_http_reply_free(&r);
}

static void test_disconnect_non_streamed(void **state) {
    tu_server *s = *state;
    expect_slots_idle(s);
    int tokens_before = metric(s, "hflow_completion_tokens_total");
    int gens_before = metric(s, "hflow_generations_total");
    const char *body = "{\"model\":\"tiny\",\"prompt\":\"a\",\"temperature\":0,\"ignore_eos\":true}";
    char req[512];
    snprintf(req, sizeof req,
             "POST /v1/completions HTTP/1.1\r\nHost: x\r\n" KEY_HEADER "\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    int fd = tu_tcp_connect(s->port);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    close(fd); /* gone before the answer: up to 4096 tokens would follow */
    for (int i = 0; i < 3000 && metric(s, "hflow_generations_total") == gens_before; i++) hflow_sleep_ms(2);
    expect_slots_idle(s);
    int generated = metric(s, "hflow_completion_tokens_total") - tokens_before;
    assert_true(generated >= 0 && generated < 4000);
    expect_alive(s);
}

typedef struct stream_call { tu_server *s; tu_http_reply r; } stream_call;

static void *stream_thread(void *p) {
    stream_call *c = p;
    char u[128];
    const char *body = "{\"model\":\"tiny\",\"prompt\":\"a\",\"stream\":true,\"max_tokens\":60,\"temperature\":0,\"ignore_eos\":true}";
    tu_http("POST", tu_server_url(c->s, "/v1/completions", u, sizeof u), body, strlen(body), KEY_HEADER, 0, &c->r);
    return NULL;
}

/* Runs last: SIGTERM while a stream is in flight; it must still complete. */
static void test_sigterm_drains(void **state) {
    tu_server *s = *state;
    stream_call c = {.s = s};
    pthread_t t;
    pthread_create(&t, NULL, stream_thread, &c);
    for (int i = 0; i < 3000 && metric(s, "hflow_slots_busy") == 0; i++) hflow_sleep_ms(2);
    kill(s->pid, SIGTERM);
    pthread_join(t, NULL);
    assert_int_equal(c.r.status, 200);
    assert_non_null(strstr(c.r.body, "data: [DONE]\n\n"));
    assert_non_null(strstr(c.r.body, "\"finish_reason\":\"length\""));
    tu_http_reply_free(&c.r);
    /* teardown reaps it and checks the exit code */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_json_and_types),
        cmocka_unit_test(test_unknown_fields_and_values),
        cmocka_unit_test(test_client_default_fields),
        cmocka_unit_test(test_invalid_token_ids),
        cmocka_unit_test(test_huge_body),
        cmocka_unit_test(test_auth_and_routes),
        cmocka_unit_test(test_truncated_http),
        cmocka_unit_test(test_disconnect_frees_slot_and_queue_full),
        cmocka_unit_test(test_disconnect_non_streamed),
        cmocka_unit_test(test_sigterm_drains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
