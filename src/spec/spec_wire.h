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
