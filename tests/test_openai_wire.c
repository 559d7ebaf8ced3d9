/* test_openai_wire.c - OpenAI wire format pieces and retry policy, without
 * a server: error shapes of different servers, chunk parsing, request
 * bodies, Retry-After and backoff. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "backend/openai_wire.h"
#include "backend/retry.h"

static void error_text_is(const char *body, const char *expected) {
    char out[256];
    hflow_openai_error_text(body, body ? strlen(body) : 0, out, sizeof out);
    assert_string_equal(out, expected);
}

static void test_error_shapes(void **state) {
    (void)state;
    /* OpenAI, llama.cpp server and current vLLM */
    error_text_is("{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
                  "bad key (invalid_request_error)");
    /* Ollama */
    error_text_is("{\"error\":\"model 'x' not found\"}", "model 'x' not found");
    /* older vLLM: a top-level error response */
    error_text_is("{\"object\":\"error\",\"message\":\"too long\",\"type\":\"BadRequestError\",\"code\":400}",
                  "too long (BadRequestError)");
    /* FastAPI validation */
    error_text_is("{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"field required\"}]}",
                  "[{\"loc\":[\"body\"],\"msg\":\"field required\"}]");
    /* a proxy's page */
    error_text_is("<html>\n502 Bad Gateway</html>", "<html> 502 Bad Gateway</html>");
    error_text_is(NULL, "(empty body)");
}

static void test_chunk_parsing(void **state) {
    (void)state;
    hflow_openai_result res;
    memset(&res, 0, sizeof res);
    hflow_error err;
    char *delta;
    const char *c1 = "{\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null}}]}";
    assert_int_equal(hflow_openai_parse_chunk(c1, strlen(c1), &res, &delta, &err), 0);
    assert_null(delta);
    assert_string_equal(res.model, "m");
    const char *c2 = "{\"choices\":[{\"delta\":{\"content\":\"h\\u00e9\"}}]}";
    assert_int_equal(hflow_openai_parse_chunk(c2, strlen(c2), &res, &delta, &err), 0);
    assert_string_equal(delta, "h\xC3\xA9");
    free(delta);
    /* llama.cpp-style: usage and finish reason in the last content chunk */
    const char *c3 = "{\"choices\":[{\"delta\":{},\"finish_reason\":\"eos\"}],"
                     "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
    assert_int_equal(hflow_openai_parse_chunk(c3, strlen(c3), &res, &delta, &err), 0);
    assert_string_equal(res.finish_reason, "stop");
    assert_int_equal(res.has_usage, 1);
    assert_int_equal(res.prompt_tokens, 3);
    /* completions stream */
    const char *c4 = "{\"choices\":[{\"text\":\"abc\",\"finish_reason\":null}]}";
    assert_int_equal(hflow_openai_parse_chunk(c4, strlen(c4), &res, &delta, &err), 0);
    assert_string_equal(delta, "abc");
    free(delta);
    assert_int_equal(hflow_openai_parse_chunk("{oops", 5, &res, &delta, &err), HFLOW_EFORMAT);
    const char *c5 = "{\"error\":{\"message\":\"boom\"}}";
    assert_int_equal(hflow_openai_parse_chunk(c5, strlen(c5), &res, &delta, &err), HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "boom"));
}

static void test_finish_normalization(void **state) {
    (void)state;
    const char *in[] = {"stop", "eos", "eos_token", "stop_sequence", "end_turn", "length", "max_tokens", "tool_calls"};
    const char *out[] = {"stop", "stop", "stop", "stop", "stop", "length", "length", "tool_calls"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char r[24];
        strcpy(r, in[i]);
        hflow_openai_normalize_finish(r, sizeof r);
        assert_string_equal(r, out[i]);
    }
}

static void test_request_body(void **state) {
    (void)state;
    hflow_request r;
    hflow_request_init(&r);
    r.prompt = "Hi \"there\"";
    r.top_p = 0.9f;
    r.response_format = "{\"type\":\"json_object\"}";
    hflow_error err;
    char *body = hflow_openai_request_body(&r, "", 1, &err);
    assert_non_null(body);
    cJSON *j = cJSON_Parse(body);
    assert_non_null(j);
    assert_null(cJSON_GetObjectItem(j, "model")); /* empty model: omitted */
    assert_string_equal(cJSON_GetObjectItem(j, "prompt")->valuestring, "Hi \"there\"");
    assert_null(cJSON_GetObjectItem(j, "temperature")); /* unset: server default */
    assert_null(cJSON_GetObjectItem(j, "max_tokens"));
    assert_non_null(strstr(body, "\"top_p\":0.9"));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "response_format"), "type")->valuestring,
                        "json_object");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
    cJSON_Delete(j);
    free(body);
}

static void test_request_body_grammar(void **state) {
    (void)state;
    hflow_request r;
    hflow_request_init(&r);
    r.prompt = "plan";
    r.grammar = "plan:2";
    hflow_error err;
    char *plain = hflow_openai_request_body(&r, "m", 0, &err);
    char *no = hflow_openai_request_body_ext(&r, "m", 0, 0, &err);
    char *yes = hflow_openai_request_body_ext(&r, "m", 0, 1, &err);
    assert_null(strstr(plain, "grammar"));
    assert_string_equal(no, plain);
    cJSON *j = cJSON_Parse(yes);
    assert_string_equal(cJSON_GetObjectItem(j, "grammar")->valuestring, "plan:2");
    cJSON_Delete(j);
    r.grammar = NULL; /* nothing to send */
    char *none = hflow_openai_request_body_ext(&r, "m", 0, 1, &err);
    assert_null(strstr(none, "grammar"));
    free(plain), free(no), free(yes), free(none);
}

static void test_retry_after_parsing(void **state) {
    (void)state;
    assert_true(hflow_parse_retry_after("3", 0) == 3.0);
    assert_true(hflow_parse_retry_after(" 0.5 ", 0) == 0.5);
    assert_true(hflow_parse_retry_after("abc", 0) == -1);
    assert_true(hflow_parse_retry_after("5s", 0) == -1);
    /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777 in Unix time. */
    assert_true(hflow_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770.0) == 7.0);
    assert_true(hflow_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800.0) == 0.0);
    assert_int_equal(hflow_http_status_retryable(429), 1);
    assert_int_equal(hflow_http_status_retryable(503), 1);
    assert_int_equal(hflow_http_status_retryable(400), 0);
    assert_int_equal(hflow_http_status_retryable(404), 0);
}

static void test_backoff_grows_with_jitter(void **state) {
    (void)state;
    uint64_t rng = 12345;
    double prev_max = 0;
    for (int attempt = 0; attempt < 6; attempt++) {
        double nominal = 0.1 * (double)(1 << attempt), lo = 1e9, hi = 0;
        for (int k = 0; k < 200; k++) {
            double d = hflow_backoff_delay(0.1, attempt, &rng);
            assert_true(d >= nominal * 0.5 - 1e-12 && d <= nominal + 1e-12);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        assert_true(hi > lo);        /* jittered */
        assert_true(hi > prev_max);  /* grows */
        prev_max = hi;
    }
    assert_true(hflow_backoff_delay(10, 20, &rng) <= 30.0);
    assert_true(hflow_backoff_delay(0, 3, &rng) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_shapes),
        cmocka_unit_test(test_chunk_parsing),
        cmocka_unit_test(test_finish_normalization),
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_request_body_grammar),
        cmocka_unit_test(test_retry_after_parsing),
        cmocka_unit_test(test_backoff_grows_with_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
