/* test_spec_transport.c - the edge's HTTP transports against a scripted
 * loopback server: the session API client (create, verify, expiry, dead
 * server) and the greedy-only /v1/completions fallback, plus the session
 * creation messages the server parses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_server.h"
#include "testutil.h"
#include "hybridflow/spec.h"
#include "spec/spec_wire.h"

static void test_create_request_round_trip(void **state) {
    (void)state;
    hflow_spec_params p;
    hflow_spec_params_default(&p);
    p.temperature = 0.7f;
    p.top_k = 40;
    p.seed = 1234567;
    int32_t ids[3] = {1, 400, 29};
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_create_request(&b, "stories", ids, 3, &p, 0xfedcba9876543210ull);
    hflow_spec_create_req r;
    hflow_error err = {0};
    assert_int_equal(hflow_spec_wire_get_create_request(b.data, b.len, &r, &err), 0);
    assert_string_equal(r.model, "stories");
    assert_int_equal(r.n_prompt_ids, 3);
    assert_int_equal(r.prompt_ids[1], 400);
    assert_true(r.params.temperature > 0.69f && r.params.temperature < 0.71f);
    assert_int_equal(r.params.top_k, 40);
    assert_int_equal((int)r.params.seed, 1234567);
    assert_true(r.has_draft_fp);
    assert_true(r.draft_tokenizer_fp == 0xfedcba9876543210ull);
    hflow_spec_create_req_free(&r);
    hflow_strbuf_free(&b);

    const char *bad[] = {"{\"prompt\":\"x\"}",                               /* no model */
                         "{\"model\":\"m\"}",                                /* no prompt */
                         "{\"model\":\"m\",\"prompt\":\"x\",\"prompt_ids\":[1]}", /* both */
                         "{\"model\":\"m\",\"prompt_ids\":[1,-2]}",
                         "{\"model\":\"m\",\"prompt\":\"x\",\"top_p\":2}",
                         "{\"model\":\"m\",\"prompt\":\"x\",\"draft_tokenizer_fp\":\"xyz\"}",
                         "{\"model\":\"m\",\"prompt\":\"x\",\"surprise\":1}",
                         "[1,2]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hflow_error_clear(&err);
        assert_int_equal(hflow_spec_wire_get_create_request(bad[i], strlen(bad[i]), &r, &err), HFLOW_EINVAL);
        assert_true(err.message[0] != '\0');
    }
    hflow_error_clear(&err);
    const char *text = "{\"model\":\"m\",\"prompt\":\"Once upon\"}";
    assert_int_equal(hflow_spec_wire_get_create_request(text, strlen(text), &r, &err), 0);
    assert_string_equal(r.prompt_text, "Once upon");
    assert_null(r.prompt_ids);
    hflow_spec_create_req_free(&r);
}

static void test_http_transport_session(void **state) {
    (void)state;
    fake_server *fs = fs_start();
    assert_non_null(fs);
    char ep[128];
    fs_endpoint(fs, "stories", ep, sizeof ep);
    fs_script create = {.body = "{\"id\":\"s1\",\"model\":\"stories\",\"version\":\"v2\","
                                "\"tokenizer_fp\":\"00000000000000ab\",\"backbone_fp\":\"0000000000000cd0\",\"n_tokens\":3}"};
    fs_script verdict = {.body = "{\"accepted\":2,\"token\":7,\"forward_ms\":12.5,\"n_tokens\":6}"};
    fs_script gone = {.status = 404, .body = "{\"error\":{\"message\":\"no spec session 's1'\",\"type\":\"invalid_request_error\"}}"};
    fs_push(fs, &create);
    fs_push(fs, &verdict);
    fs_push(fs, &gone);
    hflow_spec_transport *tr = NULL;
    hflow_error err = {0};
    assert_int_equal(hflow_spec_transport_http(ep, 0x1234, 5.0, &tr, &err), 0);
    hflow_spec_params p;
    hflow_spec_params_default(&p);
    int32_t prompt[3] = {1, 5, 9};
    hflow_spec_session_info info;
    assert_int_equal(tr->vt->open(tr, prompt, 3, &p, &info, &err), 0);
    assert_string_equal(info.session_id, "s1");
    assert_string_equal(info.version, "v2");
    assert_true(info.tokenizer_fp == 0xab && info.backbone_fp == 0xcd0);
    int32_t draft[3] = {4, 5, 6};
    hflow_spec_verdict v;
    double fwd = 0;
    int32_t up = 0, down = 0;
    assert_int_equal(tr->vt->verify(tr, draft, 3, NULL, &v, &fwd, &up, &down, &err), 0);
    assert_int_equal(v.n_accepted, 2);
    assert_int_equal(v.next_token, 7);
    assert_true(fwd > 0.0124 && fwd < 0.0126);
    char *path = fs_request_path(fs, 1), *body = fs_request_body(fs, 1);
    assert_string_equal(path, "/v1/spec/sessions/s1/verify");
    assert_string_equal(body, "{\"draft\":[4,5,6]}");
    assert_true(up > (int32_t)strlen(body)); /* head + body */
    assert_true(down > 60);
    free(path);
    free(body);
    body = fs_request_body(fs, 0);
    assert_non_null(strstr(body, "\"draft_tokenizer_fp\":\"0000000000001234\""));
    assert_non_null(strstr(body, "\"prompt_ids\":[1,5,9]"));
    free(body);
    /* the session expired on the server: a clean, specific error */
    assert_int_equal(tr->vt->verify(tr, draft, 3, NULL, &v, &fwd, &up, &down, &err), HFLOW_ENOTFOUND);
    assert_non_null(strstr(err.message, "expired"));
    assert_non_null(strstr(err.message, "no spec session"));
    hflow_spec_transport_free(tr);
    fs_stop(fs);

    /* nothing listens: ENET, which lets the edge loop decide to go on alone */
    char dead[128];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/v1#m", fs_closed_port());
    assert_int_equal(hflow_spec_transport_http(dead, 0, 2.0, &tr, &err), 0);
    assert_int_equal(tr->vt->open(tr, prompt, 3, &p, &info, &err), HFLOW_ENET);
    hflow_spec_transport_free(tr);
    assert_int_equal(hflow_spec_transport_http("http://127.0.0.1:1/v1", 0, 2.0, &tr, &err), HFLOW_EINVAL);
    assert_null(tr);
}

static void test_completions_transport(void **state) {
    (void)state;
    fake_server *fs = fs_start();
    assert_non_null(fs);
    char ep[128];
    fs_endpoint(fs, "m", ep, sizeof ep);
    /* context [1,5], draft [4,5,6]; target top-1: pos2 = 4 (accept), pos3 = 8 (reject) */
    fs_script r1 = {.body = "{\"choices\":[{\"text\":\"\",\"logprobs\":{"
                            "\"tokens\":[\"token_id:1\",\"token_id:5\",\"token_id:4\",\"token_id:5\",\"token_id:6\",\"token_id:9\"],"
                            "\"top_logprobs\":[null,{\"token_id:5\":-0.1},{\"token_id:4\":-0.2,\"token_id:3\":-2},"
                            "{\"token_id:8\":-0.3,\"token_id:5\":-0.9},{\"token_id:6\":-0.1},{\"token_id:9\":-0.1}]}}]}"};
    /* context [1,5,4,8], draft [2]: accepted, bonus 3 */
    fs_script r2 = {.body = "{\"choices\":[{\"logprobs\":{"
                            "\"tokens\":[\"token_id:1\",\"token_id:5\",\"token_id:4\",\"token_id:8\",\"token_id:2\",\"token_id:3\"],"
                            "\"top_logprobs\":[null,{},{},{},{\"token_id:2\":-0.5},{\"token_id:3\":-0.1}]}}]}"};
    fs_script r3 = {.body = "{\"choices\":[{\"text\":\"x\"}]}"}; /* no echo support */
    fs_push(fs, &r1);
    fs_push(fs, &r2);
    fs_push(fs, &r3);
    hflow_spec_transport *tr = NULL;
    hflow_error err = {0};
    assert_int_equal(hflow_spec_transport_completions(ep, NULL, 5.0, &tr, &err), 0);
    hflow_spec_params p;
    hflow_spec_params_default(&p);
    p.temperature = 0.8f;
    int32_t prompt[2] = {1, 5};
    assert_int_equal(tr->vt->open(tr, prompt, 2, &p, NULL, &err), HFLOW_EUNSUPPORTED); /* greedy only */
    p.temperature = 0;
    assert_int_equal(tr->vt->open(tr, prompt, 2, &p, NULL, &err), 0);
    int32_t d1[3] = {4, 5, 6}, d2[1] = {2};
    hflow_spec_verdict v;
    assert_int_equal(tr->vt->verify(tr, d1, 3, NULL, &v, NULL, NULL, NULL, &err), 0);
    assert_int_equal(v.n_accepted, 1);
    assert_int_equal(v.next_token, 8);
    assert_int_equal(tr->vt->verify(tr, d2, 1, NULL, &v, NULL, NULL, NULL, &err), 0);
    assert_int_equal(v.n_accepted, 1);
    assert_int_equal(v.next_token, 3);
    char *b0 = fs_request_body(fs, 0), *b1 = fs_request_body(fs, 1), *path = fs_request_path(fs, 1);
    assert_non_null(strstr(b0, "\"prompt\":[1,5,4,5,6]"));
    assert_non_null(strstr(b0, "\"echo\":true"));
    assert_non_null(strstr(b1, "\"prompt\":[1,5,4,8,2]")); /* the context grew by the verdict */
    assert_string_equal(path, "/v1/completions");
    free(b0);
    free(b1);
    free(path);
    assert_int_equal(tr->vt->verify(tr, d2, 1, NULL, &v, NULL, NULL, NULL, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "echo"));
    hflow_spec_transport_free(tr);
    fs_stop(fs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_request_round_trip),
        cmocka_unit_test(test_http_transport_session),
        cmocka_unit_test(test_completions_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
