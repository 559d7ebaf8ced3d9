/* fuzz_request_parse.c - libFuzzer target for the server's request validation:
 * any bytes given to the chat, completion, tokenize and detokenize parsers
 * must give either a request or a 400 reason (with a NUL-terminated message),
 * never a crash or a leak; an accepted request's fields stay within the
 * documented ranges. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "serve/request_parse.h"

/* Checked in every build type (RelWithDebInfo defines NDEBUG). */
#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_gen(const serve_gen_request *r) {
    CHECK(r->model);
    CHECK(r->n_stop >= 0 && r->n_stop <= SERVE_MAX_STOP);
    CHECK(r->temperature >= 0 && r->temperature <= 2);
    CHECK(r->top_p > 0 && r->top_p <= 1);
    CHECK(r->top_logprobs >= 0 && r->top_logprobs <= 20);
    if (r->kind == SERVE_CHAT) CHECK(r->n_messages > 0 && r->messages[0].role && r->messages[0].content);
    else CHECK(r->prompt || (r->prompt_ids && r->n_prompt_ids > 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    serve_parse_error pe;
    serve_gen_request g;
    if (serve_parse_chat(body, size, &g, &pe) == 0) check_gen(&g);
    else CHECK(memchr(pe.message, '\0', sizeof pe.message));
    serve_gen_request_free(&g);
    if (serve_parse_completion(body, size, &g, &pe) == 0) check_gen(&g);
    serve_gen_request_free(&g);
    serve_tokenize_request t;
    if (serve_parse_tokenize(body, size, &t, &pe) == 0) CHECK(t.content);
    serve_tokenize_request_free(&t);
    serve_detokenize_request d;
    if (serve_parse_detokenize(body, size, &d, &pe) == 0) CHECK(d.n_tokens >= 0);
    serve_detokenize_request_free(&d);
    return 0;
}
