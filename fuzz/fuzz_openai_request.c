/* fuzz_openai_request.c - libFuzzer target for the OpenAI wire format on both
 * sides: the server's strict request parsing (serve/request_parse.c) and the
 * HTTP backend's response / stream-chunk / error-body parsing
 * (backend/openai_response.c). Byte 0 picks the parser; the rest is the body.
 * Checks beyond "no crash / no leak": accepted values are inside the ranges
 * the parsers promise, messages are NUL-terminated, results are in bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/openai_wire.h"
#include "serve/request_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pe(const serve_parse_error *pe) {
    if (!memchr(pe->param, 0, sizeof pe->param) || !memchr(pe->message, 0, sizeof pe->message) || !pe->message[0])
        __builtin_trap();
}

static void gen_request(const char *s, size_t n, int chat) {
    serve_gen_request r;
    serve_parse_error pe;
    memset(&pe, 0, sizeof pe);
    int rc = chat ? serve_parse_chat(s, n, &r, &pe) : serve_parse_completion(s, n, &r, &pe);
    if (rc != 0) {
        check_pe(&pe);
    } else {
        if (r.n_stop < 0 || r.n_stop > SERVE_MAX_STOP || r.top_logprobs < 0 || r.top_logprobs > 20 ||
            r.max_tokens < -1 || !(r.temperature >= 0) || !(r.top_p >= 0 && r.top_p <= 1))
            __builtin_trap();
        for (int i = 0; i < r.n_stop; i++)
            if (!r.stop[i])
                __builtin_trap();
        if (chat && (r.n_messages < 1 || !r.messages))
            __builtin_trap();
        for (int i = 0; chat && i < r.n_messages; i++)
            if (!r.messages[i].role || !r.messages[i].content)
                __builtin_trap();
        if (!chat && !r.prompt == !r.prompt_ids && r.n_prompt_ids == 0 && !r.prompt)
            __builtin_trap();
    }
    serve_gen_request_free(&r);
}

static void tokenize_request(const char *s, size_t n) {
    serve_tokenize_request r;
    serve_parse_error pe;
    memset(&pe, 0, sizeof pe);
    if (serve_parse_tokenize(s, n, &r, &pe) != 0)
        check_pe(&pe);
    else if (!r.content)
        __builtin_trap();
    serve_tokenize_request_free(&r);
}

static void detokenize_request(const char *s, size_t n) {
    serve_detokenize_request r;
    serve_parse_error pe;
    memset(&pe, 0, sizeof pe);
    if (serve_parse_detokenize(s, n, &r, &pe) != 0) {
        check_pe(&pe);
    } else {
        if (r.n_tokens < 0 || (r.n_tokens > 0 && !r.tokens))
            __builtin_trap();
        for (int i = 0; i < r.n_tokens; i++)
            if (r.tokens[i] < 0)
                __builtin_trap();
    }
    serve_detokenize_request_free(&r);
}

static void check_result(const hflow_openai_result *res) {
    if (!memchr(res->finish_reason, 0, sizeof res->finish_reason) || !memchr(res->model, 0, sizeof res->model))
        __builtin_trap();
}

static void response(const char *s, size_t n) {
    hflow_openai_result res;
    memset(&res, 0, sizeof res);
    char *text = NULL;
    size_t text_len = 0;
    hflow_error err;
    if (hflow_openai_parse_response(s, n, &res, &text, &text_len, &err) == 0) {
        check_result(&res);
        if (text && strlen(text) != text_len)
            __builtin_trap();
    }
    free(text);
}

static void chunk(const char *s, size_t n) {
    hflow_openai_result res;
    memset(&res, 0, sizeof res);
    char *delta = NULL;
    hflow_error err;
    if (hflow_openai_parse_chunk(s, n, &res, &delta, &err) == 0)
        check_result(&res);
    free(delta);
}

static void error_text(const char *s, size_t n) {
    char out[96];
    memset(out, 'x', sizeof out);
    hflow_openai_error_text(s, n, out, sizeof out);
    if (!memchr(out, 0, sizeof out))
        __builtin_trap();
    char tiny[1];
    hflow_openai_error_text(s, n, tiny, sizeof tiny);
    if (tiny[0] != '\0')
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 7) {
    case 0: gen_request(s, n, 1); break;
    case 1: gen_request(s, n, 0); break;
    case 2: tokenize_request(s, n); break;
    case 3: detokenize_request(s, n); break;
    case 4: response(s, n); break;
    case 5: chunk(s, n); break;
    default: error_text(s, n); break;
    }
    return 0;
}
