/* test_serve_embeddings.c - POST /v1/embeddings of the real `hybridflow
 * serve` (stories260K, loopback): every input form gives exactly the vector
 * hflow_embed / hflow_embed_tokens computes in-process, base64 decodes to the
 * same floats, usage counts the tokens, and bad requests get 4xx OpenAI
 * errors naming the parameter. Skips (visibly) when ../shared is absent. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "hybridflow/backend.h"
#include "http_client.h"
#include "hybridflow/embed.h"
#include "hybridflow/engine.h"
#include "server_proc.h"
#include "testutil.h"

#define REL "models/stories260K.gguf"
#define CTX 64

static char model_path[1024];
static int have_model;
static hflow_model *model;
static hflow_session *session;
static int dim;
static tu_server server;

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    if (!tu_shared_path(model_path, sizeof model_path, REL)) return 0;
    hflow_model_params mp = {.n_threads = 1};
    if (hflow_model_load(model_path, &mp, &model, NULL)) return -1;
    hflow_session_params sp = {.n_ctx = CTX};
    if (hflow_session_create(model, &sp, &session, NULL)) return -1;
    dim = hflow_model_get_info(model)->n_embd;
    char spec[1100], ctx[16];
    snprintf(spec, sizeof spec, "stories=%s", model_path);
    snprintf(ctx, sizeof ctx, "%d", CTX);
    const char *args[] = {"--model", spec, "--ctx", ctx, "--threads", "1", NULL};
    if (tu_server_start(&server, args)) return -1;
    have_model = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = have_model ? tu_server_stop(&server) : 0;
    hflow_session_free(session);
    hflow_model_free(model);
    curl_global_cleanup();
    return rc;
}

#define REQUIRE_MODEL()                                            \
    do {                                                           \
        const char *shared_model = have_model ? model_path : NULL; \
        TU_REQUIRE_SHARED(shared_model, REL);                      \
    } while (0)

static cJSON *post(const char *body, long want_status) {
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, "/v1/embeddings", u, sizeof u), body, strlen(body), NULL,
                             0, &r), 0);
    if (r.status != want_status) fprintf(stderr, "status %ld: %s\n", r.status, r.body);
    assert_int_equal(r.status, want_status);
    cJSON *o = cJSON_Parse(r.body);
    tu_http_reply_free(&r);
    assert_non_null(o);
    return o;
}

static const float *data_vec(cJSON *o, int i, float *buf) {
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "data"), i);
    assert_non_null(e);
    assert_string_equal(cJSON_GetObjectItem(e, "object")->valuestring, "embedding");
    assert_int_equal(cJSON_GetObjectItem(e, "index")->valueint, i);
    cJSON *v = cJSON_GetObjectItem(e, "embedding");
    if (cJSON_IsString(v)) {
        size_t n = 0;
        unsigned char *b = hflow_base64_decode(v->valuestring, strlen(v->valuestring), &n);
        assert_non_null(b);
        assert_int_equal(n, (size_t)dim * sizeof(float));
        memcpy(buf, b, n);
        free(b);
        return buf;
    }
    assert_int_equal(cJSON_GetArraySize(v), dim);
    for (int k = 0; k < dim; k++) buf[k] = (float)cJSON_GetArrayItem(v, k)->valuedouble;
    return buf;
}

static void assert_same(const float *a, const float *b) {
    for (int k = 0; k < dim; k++) assert_true(fabsf(a[k] - b[k]) <= 1e-6f);
}

static void test_text_inputs_equal_hflow_embed(void **state) {
    (void)state;
    REQUIRE_MODEL();
    const char *texts[] = {"Once upon a time, there was a little cat.", "The dog ran to the park."};
    float ref[2][512], got[512];
    int32_t used[2];
    for (int i = 0; i < 2; i++) assert_int_equal(hflow_embed(session, texts[i], NULL, ref[i], &used[i], NULL), 0);
    char body[512];
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"input\":\"%s\"}", texts[0]);
    cJSON *o = post(body, 200);
    assert_string_equal(cJSON_GetObjectItem(o, "object")->valuestring, "list");
    assert_string_equal(cJSON_GetObjectItem(o, "model")->valuestring, "stories");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "data")), 1);
    assert_same(data_vec(o, 0, got), ref[0]);
    cJSON *u = cJSON_GetObjectItem(o, "usage");
    assert_int_equal(cJSON_GetObjectItem(u, "prompt_tokens")->valueint, used[0]);
    assert_int_equal(cJSON_GetObjectItem(u, "total_tokens")->valueint, used[0]);
    cJSON_Delete(o);
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"input\":[\"%s\",\"%s\"],\"encoding_format\":\"float\"}",
             texts[0], texts[1]);
    o = post(body, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "data")), 2);
    assert_same(data_vec(o, 0, got), ref[0]);
    assert_same(data_vec(o, 1, got), ref[1]);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "prompt_tokens")->valueint, used[0] + used[1]);
    cJSON_Delete(o);
    /* base64: the float32 bytes themselves, so bit-identical. */
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"input\":[\"%s\"],\"encoding_format\":\"base64\"}", texts[1]);
    o = post(body, 200);
    assert_memory_equal(data_vec(o, 0, got), ref[1], (size_t)dim * sizeof(float));
    cJSON_Delete(o);
}

static void test_token_inputs(void **state) {
    (void)state;
    REQUIRE_MODEL();
    int32_t a[] = {1, 400, 35, 260, 7}, b[] = {1, 99, 98};
    float ra[512], rb[512], got[512];
    assert_int_equal(hflow_embed_tokens(session, a, 5, NULL, ra, NULL, NULL), 0);
    assert_int_equal(hflow_embed_tokens(session, b, 3, NULL, rb, NULL, NULL), 0);
    cJSON *o = post("{\"model\":\"stories\",\"input\":[1,400,35,260,7]}", 200);
    assert_same(data_vec(o, 0, got), ra);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "prompt_tokens")->valueint, 5);
    cJSON_Delete(o);
    o = post("{\"model\":\"stories\",\"input\":[[1,400,35,260,7],[1,99,98]],\"dimensions\":64,\"user\":\"u\"}", 200);
    assert_same(data_vec(o, 0, got), ra);
    assert_same(data_vec(o, 1, got), rb);
    cJSON_Delete(o);
}

static void expect_error(const char *body, long status, const char *param) {
    cJSON *o = post(body, status);
    cJSON *e = cJSON_GetObjectItem(o, "error");
    assert_non_null(e);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
    cJSON *p = cJSON_GetObjectItem(e, "param");
    if (param) assert_string_equal(p->valuestring, param);
    cJSON_Delete(o);
}

static void test_errors(void **state) {
    (void)state;
    REQUIRE_MODEL();
    expect_error("{\"model\":\"stories\"}", 400, "input");
    expect_error("{\"input\":\"x\"}", 400, "model");
    expect_error("{\"model\":\"stories\",\"input\":\"\"}", 400, "input");
    expect_error("{\"model\":\"stories\",\"input\":[]}", 400, "input");
    expect_error("{\"model\":\"stories\",\"input\":[\"a\",[1,2]]}", 400, "input");
    expect_error("{\"model\":\"stories\",\"input\":[1,-2]}", 400, "input");
    expect_error("{\"model\":\"stories\",\"input\":[1.5]}", 400, "input");
    expect_error("{\"model\":\"stories\",\"input\":{\"a\":1}}", 400, "input");
    expect_error("{\"model\":\"stories\",\"input\":\"x\",\"encoding_format\":\"int8\"}", 400, "encoding_format");
    expect_error("{\"model\":\"stories\",\"input\":\"x\",\"dimensions\":32}", 400, "dimensions");
    expect_error("{\"model\":\"stories\",\"input\":\"x\",\"temperature\":1}", 400, "temperature");
    expect_error("{\"model\":\"stories\",\"input\":[1,100000]}", 400, "input");
    expect_error("{\"model\":\"nope\",\"input\":\"x\"}", 404, "model");
    expect_error("{\"model\":\"stories\",\"input\":\"x\"", 400, NULL);
    /* Longer than the context: refused, not truncated. */
    char body[2048] = "{\"model\":\"stories\",\"input\":[";
    for (int i = 0; i < CTX + 1; i++) strcat(body, i ? ",5" : "1");
    strcat(body, "]}");
    cJSON *o = post(body, 400);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "error"), "code")->valuestring,
                        "context_length_exceeded");
    cJSON_Delete(o);
    /* The server still answers afterwards. */
    cJSON_Delete(post("{\"model\":\"stories\",\"input\":\"ok\"}", 200));
}

/* The client side: the HTTP backend against this server and the in-process
 * local backend both give hflow_embed's vectors. */
static void test_backends_equal_hflow_embed(void **state) {
    (void)state;
    REQUIRE_MODEL();
    const char *texts[] = {"A girl named Lily saw a bird.", "He was sad."};
    float ref[2][512];
    int32_t used[2];
    for (int i = 0; i < 2; i++) assert_int_equal(hflow_embed(session, texts[i], NULL, ref[i], &used[i], NULL), 0);
    char ep[128];
    snprintf(ep, sizeof ep, "%s/v1#stories", server.base);
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.n_threads = 1;
    for (int k = 0; k < 2; k++) {
        hflow_backend *b;
        hflow_error err;
        assert_int_equal(hflow_backend_open(k ? model_path : ep, &o, &b, &err), 0);
        hflow_embeddings e;
        assert_int_equal(hflow_backend_embed(b, texts, 2, &e, &err), 0);
        assert_int_equal(e.n, 2);
        assert_int_equal(e.dim, dim);
        assert_int_equal(e.prompt_tokens, used[0] + used[1]);
        assert_same(e.data, ref[0]);
        assert_same(e.data + dim, ref[1]);
        hflow_embeddings_clear(&e);
        hflow_backend_free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_inputs_equal_hflow_embed),
        cmocka_unit_test(test_token_inputs),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_backends_equal_hflow_embed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
