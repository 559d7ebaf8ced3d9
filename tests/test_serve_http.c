/* test_serve_http.c - the serve module's HTTP layer (routing, auth, body cap,
 * SSE streams, disconnect -> cancel, draining stop), request validation and
 * the metrics text, over real loopback HTTP. Needs no model. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "http_client.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/request_parse.h"
#include "testutil.h"

#define MAX_BODY 4096

/* Shared between the test thread and the handlers. */
typedef struct app {
    pthread_mutex_t mu;
    int stream_events;      /* events the finite stream sends */
    int producer_cancelled; /* set when an endless producer saw the cancel flag */
    int producer_done;
    double slow_ms;
} app;

static void h_ping(void *a, hs_request *req) { (void)a; hs_reply_json(req, 200, "{\"ok\":true}"); }

static void h_echo(void *a, hs_request *req) {
    (void)a;
    hs_reply(req, 200, "application/octet-stream", req->body, req->body_len);
}

static void h_slow(void *a, hs_request *req) {
    hflow_sleep_ms(((app *)a)->slow_ms);
    hs_reply_json(req, 200, "{\"slow\":true}");
}

typedef struct producer { app *a; hs_stream *st; int n; } producer;

/* n > 0: n events then [DONE]; n == 0: endless until the client goes away. */
static void produce(void *p) {
    producer *pr = p;
    char ev[64];
    for (int i = 0; pr->n == 0 || i < pr->n; i++) {
        if (*hs_stream_cancel_flag(pr->st)) break;
        snprintf(ev, sizeof ev, "data: {\"i\":%d}\n\n", i);
        if (hs_stream_write(pr->st, ev, strlen(ev))) break;
        if (pr->n == 0) hflow_sleep_ms(5);
    }
    if (pr->n > 0) hs_stream_write(pr->st, "data: [DONE]\n\n", 14);
    hs_stream_finish(pr->st);
    pthread_mutex_lock(&pr->a->mu);
    if (pr->n == 0) pr->a->producer_cancelled = 1;
    pr->a->producer_done++;
    pthread_mutex_unlock(&pr->a->mu);
    hs_stream_unref(pr->st);
    free(pr);
}

static void start_stream(app *a, hs_request *req, int n) {
    producer *pr = calloc(1, sizeof *pr);
    pr->a = a;
    pr->n = n;
    pr->st = hs_stream_new();
    hs_reply_stream(req, pr->st);
    if (hs_spawn(req->server, produce, pr)) {
        hs_stream_finish(pr->st);
        hs_stream_unref(pr->st);
        free(pr);
    }
}

static void h_stream(void *a, hs_request *req) { start_stream(a, req, ((app *)a)->stream_events); }
static void h_endless(void *a, hs_request *req) { start_stream(a, req, 0); }

static const hs_route routes[] = {
    {"GET", "/ping", h_ping, 1},   {"POST", "/echo", h_echo, 0},        {"GET", "/slow", h_slow, 0},
    {"GET", "/stream", h_stream, 0}, {"GET", "/endless", h_endless, 0},
};

static hs_server *start(app *a, const char *key) {
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    hs_config cfg = {.port = 0, .max_body = MAX_BODY, .api_key = key, .routes = routes,
                     .n_routes = (int)(sizeof routes / sizeof routes[0]), .app = a, .conn_timeout_s = 5};
    hs_server *s = NULL;
    hflow_error err;
    assert_int_equal(hs_server_start(&cfg, &s, &err), 0);
    assert_true(hs_server_port(s) > 0);
    return s;
}

static void url(char *buf, size_t n, hs_server *s, const char *path) {
    snprintf(buf, n, "http://127.0.0.1:%d%s", hs_server_port(s), path);
}

/* Asserts an OpenAI error object with the given status and error.code. */
static void expect_error(const tu_http_reply *r, long status, const char *code) {
    assert_int_equal(r->status, status);
    cJSON *j = cJSON_Parse(r->body);
    assert_non_null(j);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    assert_true(cJSON_IsObject(e));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "type")));
    assert_non_null(cJSON_GetObjectItem(e, "param"));
    cJSON *c = cJSON_GetObjectItem(e, "code");
    if (code) assert_string_equal(cJSON_GetStringValue(c), code);
    cJSON_Delete(j);
}

static void expect_alive(hs_server *s) {
    char u[128];
    url(u, sizeof u, s, "/ping");
    tu_http_reply r;
    assert_int_equal(tu_http("GET", u, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true}");
    tu_http_reply_free(&r);
}

static void test_routing(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, NULL);
    char u[128];
    tu_http_reply r;
    url(u, sizeof u, s, "/nope");
    tu_http("GET", u, NULL, 0, NULL, 0, &r);
    expect_error(&r, 404, "not_found");
    tu_http_reply_free(&r);
    url(u, sizeof u, s, "/ping");
    tu_http("POST", u, "{}", 2, NULL, 0, &r);
    expect_error(&r, 405, "method_not_allowed");
    tu_http_reply_free(&r);
    url(u, sizeof u, s, "/echo");
    tu_http("POST", u, "hello body", 10, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello body");
    tu_http_reply_free(&r);
    expect_alive(s);
    hs_server_stop(s, 5);
}

static void test_auth(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, "sekret");
    char u[128];
    tu_http_reply r;
    url(u, sizeof u, s, "/echo");
    tu_http("POST", u, "x", 1, NULL, 0, &r);
    expect_error(&r, 401, "invalid_api_key");
    tu_http_reply_free(&r);
    tu_http("POST", u, "x", 1, "Authorization: Bearer sekreT", 0, &r);
    expect_error(&r, 401, "invalid_api_key");
    tu_http_reply_free(&r);
    tu_http("POST", u, "x", 1, "Authorization: Bearer sekret", 0, &r);
    assert_int_equal(r.status, 200);
    tu_http_reply_free(&r);
    expect_alive(s); /* /ping is public */
    hs_server_stop(s, 5);
}

static void test_body_cap(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, NULL);
    char u[128];
    url(u, sizeof u, s, "/echo");
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    tu_http_reply r;
    tu_http("POST", u, big, n, NULL, 0, &r); /* with Content-Length */
    expect_error(&r, 413, "request_too_large");
    tu_http_reply_free(&r);
    expect_alive(s);
    big[MAX_BODY + 100] = '\0';
    tu_http("POST", u, big, strlen(big), NULL, 1, &r); /* chunked: no length up front */
    expect_error(&r, 413, "request_too_large");
    tu_http_reply_free(&r);
    expect_alive(s);
    big[MAX_BODY] = '\0'; /* exactly at the cap is fine */
    tu_http("POST", u, big, MAX_BODY, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, MAX_BODY);
    tu_http_reply_free(&r);
    free(big);
    hs_server_stop(s, 5);
}

static void test_truncated_http(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, NULL);
    /* Headers cut off, then a body shorter than its Content-Length: the peer
     * closes; the server must shrug both off. */
    const char *cut = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le";
    free(tu_tcp_exchange(hs_server_port(s), cut, strlen(cut), 0.2));
    const char *short_body = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
    free(tu_tcp_exchange(hs_server_port(s), short_body, strlen(short_body), 0.2));
    char *garbage = tu_tcp_exchange(hs_server_port(s), "\x01\x02 garbage\r\n\r\n", 14, 2);
    assert_non_null(garbage);
    free(garbage);
    expect_alive(s);
    hs_server_stop(s, 5);
}

static void test_stream(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, NULL);
    a.stream_events = 200;
    char u[128];
    url(u, sizeof u, s, "/stream");
    tu_http_reply r;
    assert_int_equal(tu_http("GET", u, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/event-stream"));
    hflow_strbuf want;
    hflow_strbuf_init(&want);
    for (int i = 0; i < 200; i++) hflow_strbuf_printf(&want, "data: {\"i\":%d}\n\n", i);
    hflow_strbuf_puts(&want, "data: [DONE]\n\n");
    assert_string_equal(r.body, want.data);
    hflow_strbuf_free(&want);
    tu_http_reply_free(&r);
    hs_server_stop(s, 5);
}

static void test_disconnect_cancels(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, NULL);
    int fd = tu_tcp_connect(hs_server_port(s));
    assert_true(fd >= 0);
    const char *req = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char buf[256];
    assert_true(read(fd, buf, sizeof buf) > 0); /* the stream is running */
    close(fd);
    /* The producer must notice; bound the wait so a bug fails instead of hanging. */
    int done = 0;
    for (int i = 0; i < 1000 && !done; i++) {
        pthread_mutex_lock(&a.mu);
        done = a.producer_cancelled;
        pthread_mutex_unlock(&a.mu);
        if (!done) hflow_sleep_ms(10);
    }
    assert_true(done);
    expect_alive(s);
    hs_server_stop(s, 5);
}

typedef struct slow_call { char url[128]; long status; } slow_call;

static void *slow_client(void *p) {
    slow_call *c = p;
    tu_http_reply r;
    tu_http("GET", c->url, NULL, 0, NULL, 0, &r);
    c->status = r.status;
    tu_http_reply_free(&r);
    return NULL;
}

static void test_stop_drains(void **state) {
    (void)state;
    app a;
    hs_server *s = start(&a, NULL);
    a.slow_ms = 300;
    slow_call c = {.status = 0};
    url(c.url, sizeof c.url, s, "/slow");
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &c);
    while (hs_server_active(s) == 0) hflow_sleep_ms(1); /* request in flight */
    hs_server_stop(s, 0);
    pthread_join(t, NULL);
    assert_int_equal(c.status, 200);
}

/* ---- request validation ---- */

static void expect_parse(int chat, const char *body, int ok, const char *param) {
    serve_gen_request r;
    serve_parse_error pe = {{0}, {0}};
    int rc = chat ? serve_parse_chat(body, strlen(body), &r, &pe) : serve_parse_completion(body, strlen(body), &r, &pe);
    if (ok && rc) fail_msg("expected %s to parse, got: %s (%s)", body, pe.message, pe.param);
    if (!ok && !rc) fail_msg("expected %s to be refused", body);
    if (!ok && param) assert_string_equal(pe.param, param);
    serve_gen_request_free(&r);
}

static void test_parse_chat(void **state) {
    (void)state;
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 1, NULL);
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}],"
                    "\"max_tokens\":5,\"temperature\":0,\"top_p\":0.9,\"seed\":7,\"stop\":[\"x\",\"y\"],\"n\":1,"
                    "\"logprobs\":true,\"top_logprobs\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                    "\"user\":\"u\",\"presence_penalty\":0,\"max_completion_tokens\":4,\"frequency_penalty\":null}",
                 1, NULL);
    expect_parse(1, "{\"model\":\"m\"", 0, "");                                   /* bad JSON */
    expect_parse(1, "[1,2]", 0, "");                                              /* not an object */
    expect_parse(1, "", 0, "");                                                   /* empty body */
    expect_parse(1, "{\"model\":\"m\",\"messages\":[]}", 0, "messages");          /* empty messages */
    expect_parse(1, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, "model");
    expect_parse(1, "{\"model\":\"m\"}", 0, "messages");
    expect_parse(1, "{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, "model");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}", 0, "messages[0]");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", 0, "messages[0]");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":-1}", 0,
                 "max_tokens");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":1.5}", 0,
                 "max_tokens");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"temperature\":\"hot\"}", 0,
                 "temperature");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"temperature\":3}", 0,
                 "temperature");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"n\":2}", 1, NULL);
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"n\":17}", 0, "n");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"n\":0}", 0, "n");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":\"a\",\"n\":3,\"best_of\":3}", 1, NULL);
    expect_parse(0, "{\"model\":\"m\",\"prompt\":\"a\",\"n\":2,\"best_of\":4}", 0, "best_of");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"bogus\":1}", 0, "bogus");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stop\":[1]}", 0, "stop");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"top_logprobs\":2}", 0,
                 "top_logprobs");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"presence_penalty\":2.5}", 0,
                 "presence_penalty");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"frequency_penalty\":-3}", 0,
                 "frequency_penalty");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"presence_penalty\":1,"
                    "\"frequency_penalty\":-0.5,\"logit_bias\":{\"5\":-100,\"12\":3.5}}", 1, NULL);
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"logit_bias\":{\"x\":1}}", 0,
                 "logit_bias");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"logit_bias\":{\"-1\":1}}", 0,
                 "logit_bias");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"logit_bias\":{\"5\":101}}", 0,
                 "logit_bias");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"logit_bias\":[1]}", 0,
                 "logit_bias");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
                    "\"stream_options\":{\"include_usage\":true}}", 0, "stream_options");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]} trailing", 0, "");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":18446744073709551615}",
                 1, NULL); /* UINT64_MAX (a double reads it as 2^64) */
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":1e20}", 0, "seed");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":9223372036854775807}",
                 1, NULL);
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":-5}", 1, NULL);
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":1.5}", 0, "seed");
    /* Found by fuzz_request_parse (leaked the first value): duplicate keys are refused. */
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stop\":[\"a\"],\"stop\":\"b\"}",
                 0, "stop");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":[1],\"prompt\":[2]}", 0, "prompt");
    expect_parse(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"role\":\"user\",\"content\":\"a\"}]}", 0,
                 "role");
}

static void test_parse_completion(void **state) {
    (void)state;
    serve_gen_request r;
    serve_parse_error pe;
    const char *b = "{\"model\":\"m\",\"prompt\":[1,2,3],\"echo\":true,\"logprobs\":2,\"max_tokens\":0}";
    assert_int_equal(serve_parse_completion(b, strlen(b), &r, &pe), 0);
    assert_int_equal(r.n_prompt_ids, 3);
    assert_int_equal(r.prompt_ids[2], 3);
    assert_int_equal(r.top_logprobs, 2);
    assert_int_equal(r.max_tokens, 0);
    assert_true(r.echo);
    serve_gen_request_free(&r);
    b = "{\"model\":\"m\",\"prompt\":[\"Once\"],\"stop\":\"x\"}";
    assert_int_equal(serve_parse_completion(b, strlen(b), &r, &pe), 0);
    assert_string_equal(r.prompt, "Once");
    assert_int_equal(r.n_stop, 1);
    assert_int_equal(r.logprobs, -1);
    serve_gen_request_free(&r);
    expect_parse(0, "{\"model\":\"m\",\"prompt\":[1,-2]}", 0, "prompt");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":[1,2.5]}", 0, "prompt");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":[]}", 0, "prompt");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", 0, "prompt");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":{}}", 0, "prompt");
    expect_parse(0, "{\"model\":\"m\"}", 0, "prompt");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":true}", 0, "logprobs");
    expect_parse(0, "{\"model\":\"m\",\"prompt\":\"a\",\"messages\":[]}", 0, "messages");

    serve_tokenize_request t;
    b = "{\"content\":\"hello\",\"add_special\":false}";
    assert_int_equal(serve_parse_tokenize(b, strlen(b), &t, &pe), 0);
    assert_string_equal(t.content, "hello");
    assert_false(t.add_special);
    serve_tokenize_request_free(&t);
    b = "{\"text\":\"hello\"}";
    assert_int_equal(serve_parse_tokenize(b, strlen(b), &t, &pe), -1);
    serve_tokenize_request_free(&t);
    serve_detokenize_request d;
    b = "{\"tokens\":[5,6]}";
    assert_int_equal(serve_parse_detokenize(b, strlen(b), &d, &pe), 0);
    assert_int_equal(d.n_tokens, 2);
    serve_detokenize_request_free(&d);
    b = "{\"tokens\":\"5\"}";
    assert_int_equal(serve_parse_detokenize(b, strlen(b), &d, &pe), -1);
    serve_detokenize_request_free(&d);
}

static void test_metrics_text(void **state) {
    (void)state;
    serve_metrics m;
    serve_metrics_init(&m);
    serve_metrics_request(&m, "/v1/completions", 200, 0.02);
    serve_metrics_request(&m, "/v1/completions", 200, 3.0);
    serve_metrics_request(&m, "", 404, 0.001);
    serve_metrics_generation(&m, 10, 4, 7, 0.03);
    serve_metrics_gauges_add(&m, 1, 2, 0);
    hflow_strbuf o;
    hflow_strbuf_init(&o);
    serve_metrics_render(&m, &o);
    const char *want[] = {"hflow_requests_total{route=\"/v1/completions\",code=\"200\"} 2\n",
                          "hflow_requests_total{route=\"unmatched\",code=\"404\"} 1\n",
                          "hflow_prompt_tokens_total 10\n", "hflow_prompt_tokens_reused_total 4\n",
                          "hflow_prefix_cache_hits_total 1\n", "hflow_completion_tokens_total 7\n",
                          "hflow_request_duration_seconds_bucket{le=\"0.025\"} 2\n",
                          "hflow_request_duration_seconds_bucket{le=\"2.5\"} 2\n",
                          "hflow_request_duration_seconds_bucket{le=\"5\"} 3\n",
                          "hflow_request_duration_seconds_count 3\n",
                          "hflow_time_to_first_token_seconds_count 1\n", "hflow_slots_busy 1\n",
                          "hflow_slots_total 2\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(o.data, want[i])) fail_msg("missing '%s' in:\n%s", want[i], o.data);
    hflow_strbuf_free(&o);
    serve_metrics_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),         cmocka_unit_test(test_auth),
        cmocka_unit_test(test_body_cap),        cmocka_unit_test(test_truncated_http),
        cmocka_unit_test(test_stream),          cmocka_unit_test(test_disconnect_cancels),
        cmocka_unit_test(test_stop_drains),     cmocka_unit_test(test_parse_chat),
        cmocka_unit_test(test_parse_completion), cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
