/* test_backend_embed.c - hflow_backend_embed over HTTP against the scripted
 * fake server: the request it sends, items reordered by index, base64
 * vectors, retry after a 503 through the completions' retry machinery, and
 * malformed answers refused; a backend without embeddings says so. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "fake_server.h"
#include "hybridflow/backend.h"
#include "testutil.h"

static fake_server *fs;

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    fs = fs_start();
    return fs ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fs_stop(fs);
    curl_global_cleanup();
    return 0;
}

static hflow_backend *open_backend(void) {
    char ep[128];
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.backoff_base_s = 0.01;
    hflow_backend *b;
    assert_int_equal(hflow_backend_open(fs_endpoint(fs, "emb-m", ep, sizeof ep), &o, &b, NULL), 0);
    return b;
}

static void test_request_and_order(void **state) {
    (void)state;
    int before = fs_n_requests(fs);
    /* 1.5f, -2.0f as little-endian float32 = AADAPwAAAMA= */
    fs_push(fs, &(fs_script){.body = "{\"object\":\"list\",\"data\":["
                                     "{\"object\":\"embedding\",\"index\":1,\"embedding\":\"AADAPwAAAMA=\"},"
                                     "{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.25,0.5]}],"
                                     "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}"});
    hflow_backend *b = open_backend();
    const char *texts[] = {"first text", "second"};
    hflow_embeddings e;
    assert_int_equal(hflow_backend_embed(b, texts, 2, &e, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.dim, 2);
    assert_int_equal(e.prompt_tokens, 7);
    float want[4] = {0.25f, 0.5f, 1.5f, -2.0f};
    assert_memory_equal(e.data, want, sizeof want);
    hflow_embeddings_clear(&e);
    char *path = fs_request_path(fs, before), *body = fs_request_body(fs, before);
    assert_string_equal(path, "/v1/embeddings");
    cJSON *o = cJSON_Parse(body);
    assert_string_equal(cJSON_GetObjectItem(o, "model")->valuestring, "emb-m");
    assert_string_equal(cJSON_GetObjectItem(o, "encoding_format")->valuestring, "float");
    cJSON *in = cJSON_GetObjectItem(o, "input");
    assert_int_equal(cJSON_GetArraySize(in), 2);
    assert_string_equal(cJSON_GetArrayItem(in, 1)->valuestring, "second");
    cJSON_Delete(o);
    free(path), free(body);
    hflow_backend_free(b);
}

static void test_retry_after_503(void **state) {
    (void)state;
    fs_push(fs, &(fs_script){.status = 503, .body = "{\"error\":{\"message\":\"busy\"}}", .retry_after = "0"});
    fs_push(fs, &(fs_script){.body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3]}]}"});
    hflow_backend *b = open_backend();
    const char *t = "x";
    hflow_embeddings e;
    assert_int_equal(hflow_backend_embed(b, &t, 1, &e, NULL), 0);
    assert_int_equal(e.retries, 1);
    assert_int_equal(e.dim, 3);
    assert_true(e.data[2] == 3.0f);
    hflow_embeddings_clear(&e);
    /* A 400 is not retried and its message reaches the caller. */
    fs_push(fs, &(fs_script){.status = 400, .body = "{\"error\":{\"message\":\"no such thing\"}}"});
    hflow_error err;
    assert_int_equal(hflow_backend_embed(b, &t, 1, &e, &err), HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "no such thing"));
    assert_null(e.data);
    hflow_backend_free(b);
}

static void test_bad_answers(void **state) {
    (void)state;
    const char *bad[] = {
        "{\"data\":[]}",                                                       /* too few */
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}", /* repeated index */
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[2,3]}]}", /* ragged */
        "{\"data\":[{\"index\":0,\"embedding\":[\"a\"]},{\"index\":1,\"embedding\":[2]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":\"@@@\"},{\"index\":1,\"embedding\":[2]}]}",
        "not json",
    };
    hflow_backend *b = open_backend();
    const char *texts[] = {"a", "b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fs_push(fs, &(fs_script){.body = bad[i]});
        hflow_embeddings e;
        hflow_error err;
        assert_int_equal(hflow_backend_embed(b, texts, 2, &e, &err), HFLOW_EFORMAT);
        assert_null(e.data);
    }
    hflow_embeddings e;
    assert_int_equal(hflow_backend_embed(b, texts, 0, &e, NULL), HFLOW_EINVAL);
    hflow_backend_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_order),
        cmocka_unit_test(test_retry_after_503),
        cmocka_unit_test(test_bad_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
