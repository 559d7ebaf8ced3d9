/* spec_wire.h - the JSON messages of the speculative session protocol, shared
 * by the HTTP client transport, the server routes and the in-process
 * transport's byte accounting (so emulated traffic has the real sizes).
 *
 *   verify request:  {"draft":[ids...], "q":[{"ids":[...],"p":[...]}, ...]}   (q only when sampling)
 *   verify response: {"accepted":N, "token":ID, "forward_ms":F, "n_tokens":T}
 */
#ifndef HFLOW_SPEC_WIRE_H
#define HFLOW_SPEC_WIRE_H
#include "base/strbuf.h"
#include "hybridflow/spec.h"

void hflow_spec_wire_put_verify_request(hflow_strbuf *b, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q);
/* Parses a verify request; draft needs HFLOW_SPEC_MAX_K slots, q too (filled when
 * *has_q). Returns 0 or HFLOW_EINVAL with a message naming the bad field. */
int hflow_spec_wire_get_verify_request(const char *json, size_t len, int32_t *draft, int32_t *k,
                                       hflow_spec_draft_dist *q, int *has_q, hflow_error *err);
void hflow_spec_wire_put_verify_response(hflow_strbuf *b, const hflow_spec_verdict *v, double forward_s, int32_t n_tokens);
int hflow_spec_wire_get_verify_response(const char *json, size_t len, hflow_spec_verdict *v, double *forward_s,
                                        hflow_error *err);
#endif

/* Session creation.
 *   request:  {"model":M, "prompt_ids":[...] | "prompt":"text", "temperature":T, "top_k":K, "top_p":P,
 *              "seed":S, "draft_top_k":K, "draft_tokenizer_fp":"16 hex digits"}
 *   response: {"id":ID, "model":M, "version":V, "tokenizer_fp":"hex", "backbone_fp":"hex", "n_tokens":N}
 * Fingerprints travel as hex strings: JSON numbers lose u64 precision. */
typedef struct hflow_spec_create_req {
    char model[128];
    int32_t *prompt_ids;  /* malloc'd (NULL when a text prompt was given) */
    int32_t n_prompt_ids;
    char *prompt_text;    /* malloc'd (NULL when ids were given) */
    hflow_spec_params params;
    uint64_t draft_tokenizer_fp;
    int has_draft_fp;
} hflow_spec_create_req;

void hflow_spec_wire_put_create_request(hflow_strbuf *b, const char *model, const int32_t *ids, int32_t n,
                                        const hflow_spec_params *p, uint64_t draft_tokenizer_fp);
/* Strict: unknown fields, bad types and out-of-range values are EINVAL with a
 * message naming the field. Free the result with hflow_spec_create_req_free. */
int hflow_spec_wire_get_create_request(const char *json, size_t len, hflow_spec_create_req *out, hflow_error *err);
void hflow_spec_create_req_free(hflow_spec_create_req *r);
void hflow_spec_wire_put_create_response(hflow_strbuf *b, const hflow_spec_session_info *info, int32_t n_tokens);
int hflow_spec_wire_get_create_response(const char *json, size_t len, hflow_spec_session_info *info, hflow_error *err);
