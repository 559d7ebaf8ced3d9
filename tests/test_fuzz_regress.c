/* test_fuzz_regress.c - one regression test per defect the fuzzers found in
 * the parsers of untrusted input (fuzz/fuzz_*.c; docs/TESTING.md). Each input
 * is the minimised reproducer or its readable equivalent; under ASan+UBSan
 * (CI's second build) the old code failed each of these with an overflow,
 * a leak or undefined behaviour, and the plain build checks the results. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "backend/openai_wire.h"
#include "base/strbuf.h"
#include "hybridflow/eval.h"
#include "serve/request_parse.h"
#include "spec/spec_wire.h"

/* A stream chunk is (data, len), not a C string: the error message must not
 * read past len (it printed "%.80s" of unterminated data). */
static void test_chunk_error_reads_only_len(void **state) {
    (void)state;
    char *data = malloc(2);
    memcpy(data, "D\n", 2); /* no NUL anywhere */
    hflow_openai_result res;
    memset(&res, 0, sizeof res);
    char *delta = NULL;
    hflow_error err;
    assert_int_equal(hflow_openai_parse_chunk(data, 2, &res, &delta, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "not a JSON object: D\n"));
    assert_null(delta);
    free(data);
}

/* Token counts out of int32 range or negative are ignored, not cast (UB). */
static void test_usage_out_of_range_ignored(void **state) {
    (void)state;
    const char *body = "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                       "\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":-5}}";
    hflow_openai_result res;
    memset(&res, 0, sizeof res);
    char *text = NULL;
    size_t n = 0;
    hflow_error err;
    assert_int_equal(hflow_openai_parse_response(body, strlen(body), &res, &text, &n, &err), 0);
    assert_int_equal(res.has_usage, 0);
    assert_string_equal(text, "x");
    free(text);
    const char *ok = "{\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3e99}}";
    char *delta = NULL;
    assert_int_equal(hflow_openai_parse_chunk(ok, strlen(ok), &res, &delta, &err), 0);
    assert_int_equal(res.has_usage, 1);
    assert_int_equal(res.prompt_tokens, 7);
    assert_int_equal(res.completion_tokens, 0);
}

/* "accepted" / "token" beyond int32 were cast to int (UB); now refused. */
static void test_verify_response_huge_numbers(void **state) {
    (void)state;
    hflow_spec_verdict v;
    double f = 0;
    hflow_error err;
    const char *big = "{\"accepted\":0,\"token\":4888888888888888888888888888829}";
    assert_int_equal(hflow_spec_wire_get_verify_response(big, strlen(big), &v, &f, &err), HFLOW_EINVAL);
    const char *big2 = "{\"accepted\":1e40,\"token\":1}";
    assert_int_equal(hflow_spec_wire_get_verify_response(big2, strlen(big2), &v, &f, &err), HFLOW_EINVAL);
    const char *ok = "{\"accepted\":2,\"token\":2147483647,\"forward_ms\":4}";
    assert_int_equal(hflow_spec_wire_get_verify_response(ok, strlen(ok), &v, &f, &err), 0);
    assert_int_equal(v.n_accepted, 2);
    assert_int_equal(v.next_token, 2147483647);
}

/* A repeated prompt key leaked the first copy; now it is refused. */
static void test_create_request_prompt_twice(void **state) {
    (void)state;
    hflow_spec_create_req r;
    hflow_error err;
    const char *ids = "{\"model\":\"m\",\"prompt_ids\":[1,2],\"prompt_ids\":[3]}";
    assert_int_equal(hflow_spec_wire_get_create_request(ids, strlen(ids), &r, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "twice"));
    assert_null(r.prompt_ids);
    const char *txt = "{\"model\":\"m\",\"prompt\":\"a\",\"prompt\":\"b\"}";
    assert_int_equal(hflow_spec_wire_get_create_request(txt, strlen(txt), &r, &err), HFLOW_EINVAL);
    assert_null(r.prompt_text);
}

/* A repeated key leaked or overflowed: two 16-entry "stop" arrays overflowed
 * stop[SERVE_MAX_STOP], repeated prompt ids / role / tokens leaked the first
 * copy (found by fuzz_openai_request). Repeated keys are now refused. */
static void refused_as_duplicate(int (*parse)(const char *, size_t, serve_gen_request *, serve_parse_error *),
                                 const char *body) {
    serve_gen_request r;
    serve_parse_error pe;
    assert_int_equal(parse(body, strlen(body), &r, &pe), -1);
    assert_non_null(strstr(pe.message, "more than once"));
    serve_gen_request_free(&r);
}

static void test_serve_repeated_keys(void **state) {
    (void)state;
    char body[1024] = "{\"model\":\"m\",\"prompt\":\"p\"";
    for (int k = 0; k < 2; k++) {
        strcat(body, ",\"stop\":[");
        for (int i = 0; i < SERVE_MAX_STOP; i++) strcat(body, i ? ",\"s\"" : "\"s\"");
        strcat(body, "]");
    }
    strcat(body, "}");
    refused_as_duplicate(serve_parse_completion, body);
    refused_as_duplicate(serve_parse_completion, "{\"model\":\"m\",\"prompt\":\"p\",\"stop\":\"1e309\",\"stop\":\"x\"}");
    refused_as_duplicate(serve_parse_completion, "{\"model\":\"m\",\"prompt\":[1,2],\"prompt\":[3]}");
    refused_as_duplicate(serve_parse_chat,
                         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"role\":\"system\",\"content\":\"c\"}]}");
    serve_detokenize_request d;
    serve_parse_error pe;
    const char *t2 = "{\"tokens\":[1,2],\"tokens\":[5]}";
    assert_int_equal(serve_parse_detokenize(t2, strlen(t2), &d, &pe), -1);
    serve_detokenize_request_free(&d);
}

/* The duplicate-key check compared every pair of keys: a body of 300k
 * distinct keys (2 MB, under the 8 MB cap) took minutes of CPU. Objects with
 * more fields than any request has are refused before the pairwise check. */
static void test_serve_many_keys_refused(void **state) {
    (void)state;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_puts(&b, "{\"model\":\"m\",\"prompt\":\"p\"");
    for (int i = 0; i < 300000; i++) hflow_strbuf_printf(&b, ",\"k%d\":0", i);
    hflow_strbuf_putc(&b, '}');
    assert_false(b.oom);
    serve_gen_request r;
    serve_parse_error pe;
    assert_int_equal(serve_parse_completion(b.data, b.len, &r, &pe), -1);
    assert_non_null(strstr(pe.message, "fields"));
    serve_gen_request_free(&r);
    hflow_strbuf_free(&b);
    /* a normal request with many (known) fields still parses */
    const char *ok = "{\"model\":\"m\",\"prompt\":\"p\",\"max_tokens\":3,\"temperature\":0,\"top_p\":1,"
                     "\"top_k\":2,\"min_p\":0,\"seed\":1,\"stop\":[\"x\"],\"stream\":false,\"echo\":false}";
    assert_int_equal(serve_parse_completion(ok, strlen(ok), &r, &pe), 0);
    serve_gen_request_free(&r);
}

/* With more than 10 options, naming the 11th option's text returned 'K',
 * beyond the A-J the explicit markers are limited to. */
static void test_extract_choice_eleven_options(void **state) {
    (void)state;
    const char *opts[11] = {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "none"};
    assert_int_equal(hflow_extract_choice("none", opts, 11), 0);
    assert_int_equal(hflow_extract_choice("a10", opts, 11), 'J');
    assert_int_equal(hflow_extract_choice("a10", opts, 10), 'J');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_error_reads_only_len),
        cmocka_unit_test(test_usage_out_of_range_ignored),
        cmocka_unit_test(test_verify_response_huge_numbers),
        cmocka_unit_test(test_create_request_prompt_twice),
        cmocka_unit_test(test_serve_repeated_keys),
        cmocka_unit_test(test_serve_many_keys_refused),
        cmocka_unit_test(test_extract_choice_eleven_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
