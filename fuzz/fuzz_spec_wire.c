/* fuzz_spec_wire.c - libFuzzer target for the speculative-session wire
 * messages (spec_wire.c). Byte 0 picks the parser; the rest is the JSON.
 * Beyond "no crash / no leak": what a parser accepts is in range, and writing
 * it back with the matching put_* function and parsing again gives the same
 * value (the two sides of the protocol agree). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void verify_request(const char *s, size_t n) {
    static int32_t draft[HFLOW_SPEC_MAX_K], draft2[HFLOW_SPEC_MAX_K];
    static hflow_spec_draft_dist q[HFLOW_SPEC_MAX_K], q2[HFLOW_SPEC_MAX_K];
    int32_t k = -1, k2 = -1;
    int has_q = 0, has_q2 = 0;
    hflow_error err;
    if (hflow_spec_wire_get_verify_request(s, n, draft, &k, q, &has_q, &err) != 0)
        return;
    if (k < 0 || k > HFLOW_SPEC_MAX_K)
        __builtin_trap();
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_verify_request(&b, draft, k, has_q ? q : NULL);
    if (b.oom || hflow_spec_wire_get_verify_request(b.data, b.len, draft2, &k2, q2, &has_q2, &err) != 0)
        __builtin_trap();
    if (k2 != k || has_q2 != has_q || memcmp(draft, draft2, (size_t)k * sizeof *draft) != 0)
        __builtin_trap();
    for (int32_t i = 0; has_q && i < k; i++)
        if (q[i].n < 1 || q[i].n > HFLOW_SPEC_MAX_TOPK || q2[i].n != q[i].n ||
            memcmp(q[i].ids, q2[i].ids, (size_t)q[i].n * sizeof(int32_t)) != 0 ||
            memcmp(q[i].probs, q2[i].probs, (size_t)q[i].n * sizeof(float)) != 0)
            __builtin_trap();
    hflow_strbuf_free(&b);
}

static void verify_response(const char *s, size_t n) {
    hflow_spec_verdict v, v2;
    double f = 0, f2 = 0;
    hflow_error err;
    if (hflow_spec_wire_get_verify_response(s, n, &v, &f, &err) != 0)
        return;
    if (v.n_accepted < 0 || v.next_token < 0)
        __builtin_trap();
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_verify_response(&b, &v, 0.001, 7);
    if (b.oom || hflow_spec_wire_get_verify_response(b.data, b.len, &v2, &f2, &err) != 0 ||
        v2.n_accepted != v.n_accepted || v2.next_token != v.next_token)
        __builtin_trap();
    hflow_strbuf_free(&b);
}

static void create_request(const char *s, size_t n) {
    hflow_spec_create_req r, r2;
    hflow_error err;
    if (hflow_spec_wire_get_create_request(s, n, &r, &err) != 0) {
        if (r.prompt_ids || r.prompt_text)
            __builtin_trap(); /* freed on failure */
        return;
    }
    if (!r.model[0] || !r.prompt_ids == !r.prompt_text || (r.prompt_ids && r.n_prompt_ids < 1))
        __builtin_trap();
    if (r.prompt_ids) { /* the text form has no put_* counterpart */
        hflow_strbuf b;
        hflow_strbuf_init(&b);
        hflow_spec_wire_put_create_request(&b, r.model, r.prompt_ids, r.n_prompt_ids, &r.params,
                                           r.has_draft_fp ? r.draft_tokenizer_fp : 0);
        if (b.oom || hflow_spec_wire_get_create_request(b.data, b.len, &r2, &err) != 0)
            __builtin_trap();
        if (strcmp(r.model, r2.model) != 0 || r2.n_prompt_ids != r.n_prompt_ids ||
            memcmp(r.prompt_ids, r2.prompt_ids, (size_t)r.n_prompt_ids * sizeof(int32_t)) != 0 ||
            r2.params.top_k != r.params.top_k || r2.params.draft_top_k != r.params.draft_top_k)
            __builtin_trap();
        hflow_spec_create_req_free(&r2);
        hflow_strbuf_free(&b);
    }
    hflow_spec_create_req_free(&r);
}

static void create_response(const char *s, size_t n) {
    hflow_spec_session_info info, info2;
    hflow_error err;
    if (hflow_spec_wire_get_create_response(s, n, &info, &err) != 0)
        return;
    if (!info.session_id[0] || strchr(info.session_id, '/'))
        __builtin_trap();
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_create_response(&b, &info, 3);
    if (b.oom || hflow_spec_wire_get_create_response(b.data, b.len, &info2, &err) != 0 ||
        memcmp(&info, &info2, sizeof info) != 0)
        __builtin_trap();
    hflow_strbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: verify_request(s, n); break;
    case 1: verify_response(s, n); break;
    case 2: create_request(s, n); break;
    default: create_response(s, n); break;
    }
    return 0;
}
